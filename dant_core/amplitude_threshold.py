"""The split threshold as a function of the pair's amplitude (issue 15, adaptive curation).

Two recordings of one neuron correlate less when the neuron is small: noise in a mean
waveform attenuates its correlation, so a single global threshold (docs/method.md §4) dissolves
the pure clusters of small neurons. Here the engine's own boundary is refitted within
strata of the pair's amplitude.

The engine's threshold is the two-class LDA boundary (shared variance, class priors from
the label counts) projected on the weighted similarity S. Projected on the LDA direction,
a one-dimensional LDA on S with the same labels and priors puts its boundary exactly where
the multi-feature one is; so refitting that one-dimensional boundary within a stratum of
pairs is the same rule, given only that stratum's class means and spread. The labels are
the clustering's own (a candidate pair is "matched" when HDBSCAN put both units in one
cluster) and the priors are the global ones, so a stratum's boundary moves only because
its two classes sit elsewhere, not because it holds more or fewer matches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Strata of equal numbers of matched pairs; fewer when there are too few matched pairs to
# give each stratum MIN_MATCHED_PER_STRATUM (a boundary from a few pairs is noise).
N_STRATA = 5
MIN_MATCHED_PER_STRATUM = 40


@dataclass(frozen=True)
class ThresholdCurve:
    """Threshold of the weighted similarity against the pair's log amplitude.

    log_amplitude: (n_knot,) ascending knots, ln µV (the median pair amplitude of each
    stratum's matched pairs); threshold: (n_knot,) the boundary fitted in that stratum.
    Between knots the threshold is interpolated linearly, beyond them it is constant.
    No knot: the global threshold everywhere. global_threshold: the engine's (docs/method.md §4).
    """

    log_amplitude: np.ndarray
    threshold: np.ndarray
    global_threshold: float

    def at(self, log_amplitude) -> np.ndarray:
        """Threshold at each pair log amplitude (any shape, same shape out)."""
        x = np.asarray(log_amplitude, dtype=np.float64)
        if self.log_amplitude.size == 0:
            return np.full(x.shape, self.global_threshold)
        return np.interp(x, self.log_amplitude, self.threshold)

    def margin(self, similarity, amplitude_a, amplitude_b) -> np.ndarray:
        """similarity - threshold at the pairs' amplitudes (µV, broadcast together)."""
        return np.asarray(similarity) - self.at(pair_log_amplitude(amplitude_a, amplitude_b))

    def to_dict(self) -> dict:
        return {
            "log_amplitude": [float(v) for v in self.log_amplitude],
            "threshold": [float(v) for v in self.threshold],
            "global_threshold": float(self.global_threshold),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ThresholdCurve:
        return cls(
            np.asarray(d["log_amplitude"], dtype=np.float64),
            np.asarray(d["threshold"], dtype=np.float64),
            float(d["global_threshold"]),
        )

    @classmethod
    def constant(cls, threshold: float) -> ThresholdCurve:
        return cls(np.zeros(0), np.zeros(0), float(threshold))


def pair_log_amplitude(amplitude_a, amplitude_b) -> np.ndarray:
    """Log of the larger of two units' amplitudes (µV), where a pair's threshold is read
    (adaptive_curation.pair_amplitude says why); amplitudes below 1e-3 count as 1e-3."""
    a = np.maximum(np.asarray(amplitude_a, dtype=np.float64), 1e-3)
    b = np.maximum(np.asarray(amplitude_b, dtype=np.float64), 1e-3)
    return np.log(np.maximum(a, b))


def lda_boundary_1d(x: np.ndarray, y: np.ndarray, log_prior_ratio: float) -> float | None:
    """Boundary of a one-dimensional two-class LDA with pooled variance (1/n, as sklearn) and
    log(p1 / p0) = log_prior_ratio: where class True becomes the more likely. None when it
    is undefined (a class empty, no spread, or the True class not above the False one)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=bool)
    if y.all() or not y.any():
        return None
    m1, m0 = x[y].mean(), x[~y].mean()
    var = (((x[y] - m1) ** 2).sum() + ((x[~y] - m0) ** 2).sum()) / x.size
    if not m1 > m0 or not var > 0:
        return None
    return float(0.5 * (m0 + m1) - var * log_prior_ratio / (m1 - m0))


def fit_threshold_curve(
    similarity: np.ndarray,
    matched: np.ndarray,
    log_amplitude: np.ndarray,
    global_threshold: float,
    n_strata: int = N_STRATA,
    min_matched: int = MIN_MATCHED_PER_STRATUM,
) -> ThresholdCurve:
    """Refit the LDA boundary on S within amplitude strata of the candidate pairs.

    similarity, matched, log_amplitude: (n_pair,) for the candidate pairs (the LDA's
    samples). Strata hold equal numbers of matched pairs (edges at the matched pairs'
    amplitude quantiles; unmatched pairs fall into the stratum of their amplitude). A
    stratum whose boundary is undefined takes the global threshold.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    matched = np.asarray(matched, dtype=bool)
    log_amplitude = np.asarray(log_amplitude, dtype=np.float64)
    n_matched = int(matched.sum())
    k = min(n_strata, n_matched // max(min_matched, 1))
    if k < 1 or n_matched == matched.size or not np.isfinite(global_threshold):
        return ThresholdCurve.constant(global_threshold)
    log_prior_ratio = float(np.log(n_matched / (matched.size - n_matched)))
    edges = np.quantile(log_amplitude[matched], np.linspace(0.0, 1.0, k + 1))
    stratum = np.clip(np.searchsorted(edges, log_amplitude, side="right") - 1, 0, k - 1)
    knots, values = [], []
    for s in range(k):
        rows = stratum == s
        t = lda_boundary_1d(similarity[rows], matched[rows], log_prior_ratio)
        knots.append(float(np.median(log_amplitude[rows & matched])))
        values.append(global_threshold if t is None else t)
    knots_arr = np.array(knots)
    order = np.argsort(knots_arr, kind="stable")
    return ThresholdCurve(knots_arr[order], np.array(values)[order], float(global_threshold))
