"""Similarity between units, feature by feature, for any list of unit pairs (SPEC §3).

Scores are Fisher z of Pearson correlations, clipped to [-6, 6]; an undefined correlation
counts as 0. Nothing here builds an n x n matrix: callers pass the pairs they need (the
depth-neighbourhood graph during tracking, a block of units for a viewer).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .errors import DatasetError
from .features import nearest_channels, peak_to_trough

MAX_SIMILARITY = 6.0
MAX_CORRELATION = float(np.tanh(MAX_SIMILARITY))
FEATURE_NAMES = ("Waveform", "AutoCorr", "ISI", "PETH")


def fisher_z(r: np.ndarray) -> np.ndarray:
    """Correlation -> similarity score in [-6, 6]; NaN (undefined) -> 0."""
    r = np.nan_to_num(np.asarray(r, dtype=np.float64), nan=0.0)
    return np.arctanh(np.clip(r, -MAX_CORRELATION, MAX_CORRELATION))


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (float64), so a dot product is Pearson r.

    A constant row becomes all zeros: its correlation with anything is then 0.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.sqrt(np.einsum("ij,ij->i", x, x))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = x / norm[:, None]
    out[~(norm > 1e-12 * max(1.0, float(np.abs(x).max(initial=0.0))))] = 0.0
    return out


# Two definitions of one loop on purpose: numba's on-disk cache keys a function by its
# source location, so one Python function compiled twice would share cache entries.
@njit(cache=True, nogil=True, parallel=True)
def _paired_dot_parallel(x: np.ndarray, y: np.ndarray, ia: np.ndarray, ib: np.ndarray):
    out = np.empty(ia.shape[0])
    for k in prange(ia.shape[0]):
        a = ia[k]
        b = ib[k]
        s = 0.0
        for j in range(x.shape[1]):
            s += x[a, j] * y[b, j]
        out[k] = s
    return out


@njit(cache=True, nogil=True)
def _paired_dot_serial(x: np.ndarray, y: np.ndarray, ia: np.ndarray, ib: np.ndarray):
    out = np.empty(ia.shape[0])
    for k in range(ia.shape[0]):
        a = ia[k]
        b = ib[k]
        s = 0.0
        for j in range(x.shape[1]):
            s += x[a, j] * y[b, j]
        out[k] = s
    return out


# Below this much work (pairs x vector length) waking a thread pool costs more than it saves.
PARALLEL_MIN_WORK = 2_000_000


def _paired_dot(x: np.ndarray, y: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """x[ia[k]] . y[ib[k]] for every k (n_pair,)."""
    if ia.shape[0] * x.shape[1] < PARALLEL_MIN_WORK:
        return _paired_dot_serial(x, y, ia, ib)
    return _paired_dot_parallel(x, y, ia, ib)


@njit(cache=True, nogil=True, parallel=True)
def _paired_nan_corr(p: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """Pearson r of rows a, b over the bins valid (not NaN) in both; -2 marks no common bin."""
    out = np.empty(ia.shape[0])
    for k in prange(ia.shape[0]):
        a = ia[k]
        b = ib[k]
        n = 0
        sa = 0.0
        sb = 0.0
        for j in range(p.shape[1]):
            if not (np.isnan(p[a, j]) or np.isnan(p[b, j])):
                n += 1
                sa += p[a, j]
                sb += p[b, j]
        if n == 0:
            out[k] = -2.0
            continue
        ma = sa / n
        mb = sb / n
        saa = 0.0
        sbb = 0.0
        sab = 0.0
        for j in range(p.shape[1]):
            if not (np.isnan(p[a, j]) or np.isnan(p[b, j])):
                da = p[a, j] - ma
                db = p[b, j] - mb
                saa += da * da
                sbb += db * db
                sab += da * db
        if saa <= 0.0 or sbb <= 0.0:
            out[k] = np.nan
        else:
            out[k] = sab / np.sqrt(saa * sbb)
    return out


class ChannelNeighbourhoods:
    """For every channel, the `n_nearest` channels of its shank nearest to it.

    Channels whose neighbourhoods hold the same set share a group, so units are
    compared on identical channel sets group by group.
    """

    def __init__(self, channel_locations: np.ndarray, channel_shanks: np.ndarray, n_nearest: int):
        n_channel = channel_locations.shape[0]
        sets = np.zeros((n_channel, n_nearest), dtype=np.int64)
        for shank in np.unique(channel_shanks):
            members = np.flatnonzero(channel_shanks == shank)
            if members.size < n_nearest:
                raise DatasetError(
                    f"channel_shanks.npy: shank {shank} has {members.size} channels, fewer than "
                    f"waveformCorrection.n_nearest_channels = {n_nearest}"
                )
            local = channel_locations[members]
            for i, ch in enumerate(members):
                sets[ch] = members[nearest_channels(local, i, n_nearest)]
        sets.sort(axis=1)
        self.channel_sets, self.group_of_channel = np.unique(sets, axis=0, return_inverse=True)
        self.group_of_channel = self.group_of_channel.ravel()

    def channels(self, group: int) -> np.ndarray:
        return self.channel_sets[group]


class SimilarityComputer:
    """Per-feature similarity scores for arbitrary unit pairs.

    waveforms: corrected waveforms (n_unit, n_channel, n_sample, n_template) float32;
    auto_corr / isi / peth: (n_unit, n_point) feature vectors or None.
    """

    def __init__(self, waveforms, neighbourhoods, auto_corr=None, isi=None, peth=None):
        if waveforms.ndim == 3:
            waveforms = waveforms[..., None]
        self.waveforms = waveforms
        self.neighbourhoods = neighbourhoods
        self.n_units = waveforms.shape[0]
        n_template = waveforms.shape[3]
        self.peak_groups = np.empty((self.n_units, n_template), dtype=np.int64)
        # Per unit and channel: sum and sum of squares over samples, per template (float64).
        self._sums = [waveforms[..., t].sum(axis=2, dtype=np.float64) for t in range(n_template)]
        self._sumsq = [
            np.einsum("ijk,ijk->ij", waveforms[..., t], waveforms[..., t], dtype=np.float64)
            for t in range(n_template)
        ]
        for t in range(n_template):
            peaks = np.argmax(peak_to_trough(waveforms[..., t]), axis=1)
            self.peak_groups[:, t] = neighbourhoods.group_of_channel[peaks]
        self._vectors = {}
        if auto_corr is not None:
            self._vectors["AutoCorr"] = normalize_rows(auto_corr)
        if isi is not None:
            self._vectors["ISI"] = normalize_rows(isi)
        self.peth = None
        if peth is not None:
            if np.isnan(peth).any():
                self.peth = np.ascontiguousarray(peth, dtype=np.float64)
            else:
                self._vectors["PETH"] = normalize_rows(peth)

    def available(self, name: str) -> bool:
        if name == "Waveform":
            return True
        if name == "PETH":
            return self.peth is not None or "PETH" in self._vectors
        return name in self._vectors

    def scores(self, a: np.ndarray, b: np.ndarray, names) -> np.ndarray:
        """Scores (n_pair, len(names)) float64 for pairs (a[k], b[k]); 6 where a == b."""
        a = np.ascontiguousarray(a, dtype=np.int64)
        b = np.ascontiguousarray(b, dtype=np.int64)
        out = np.zeros((a.size, len(names)))
        for f, name in enumerate(names):
            if name == "Waveform":
                out[:, f] = self.waveform_scores(a, b)
            elif name == "PETH" and self.peth is not None:
                r = _paired_nan_corr(self.peth, a, b)
                bad = np.flatnonzero(r == -2.0)
                if bad.size:
                    raise DatasetError(
                        f"peth.npy: units {a[bad[0]]} and {b[bad[0]]} have no PETH bin that is "
                        "valid (not NaN) in both, so their PETH similarity is undefined"
                    )
                out[:, f] = fisher_z(r)
            elif name in self._vectors:
                v = self._vectors[name]
                out[:, f] = fisher_z(_paired_dot(v, v, a, b))
            else:
                raise DatasetError(f"the feature {name!r} has no data in this data folder")
        out[a == b] = MAX_SIMILARITY
        return out

    def block_scores(self, rows: np.ndarray, cols: np.ndarray, names) -> np.ndarray:
        """Scores of every (row, col) unit pair: (len(rows), len(cols), len(names)).

        The same values as `scores` on the pairs, computed block-wise through BLAS, which is
        much faster when most pairs of the block are wanted (viewers, dense outputs).
        """
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        out = np.zeros((rows.size, cols.size, len(names)))
        for f, name in enumerate(names):
            if name == "Waveform":
                out[:, :, f] = self._waveform_block(rows, cols)
            elif name in self._vectors:
                v = self._vectors[name]
                out[:, :, f] = fisher_z(v[rows] @ v[cols].T)
            else:
                ia, ib = np.meshgrid(rows, cols, indexing="ij")
                out[:, :, f] = self.scores(ia.ravel(), ib.ravel(), (name,)).reshape(
                    rows.size, cols.size
                )
        out[rows[:, None] == cols[None, :]] = MAX_SIMILARITY
        return out

    def _waveform_block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        best = np.full((rows.size, cols.size), -np.inf)
        square = np.array_equal(rows, cols)
        directions = [(rows, cols, False)] if square else [(rows, cols, False), (cols, rows, True)]
        for t in range(self.waveforms.shape[3]):
            # Direction row -> col: correlate on each row unit's own channel neighbourhood.
            for first, second, transpose in directions:
                groups = self.peak_groups[first, t]
                for g in np.unique(groups):
                    sel = np.flatnonzero(groups == g)
                    z = fisher_z(self._correlate_block(self.neighbourhoods.channels(g),
                                                       first[sel], second, t))
                    if transpose:
                        best[:, sel] = np.maximum(best[:, sel], z.T)
                    else:
                        best[sel, :] = np.maximum(best[sel, :], z)
        # A square block holds both directions of every pair: take the larger.
        return np.maximum(best, best.T) if square else best

    def _correlate_block(self, channels, units_r, units_c, t) -> np.ndarray:
        """Pearson r (len(units_r), len(units_c)) on `channels`, template t."""
        n_el = channels.size * self.waveforms.shape[2]
        sums, sumsq = self._sums[t], self._sumsq[t]

        def stats(units):
            total = sums[units][:, channels].sum(axis=1)
            spread = np.sqrt(np.maximum(sumsq[units][:, channels].sum(axis=1) - total**2 / n_el, 0))
            return total, spread

        total_r, spread_r = stats(units_r)
        total_c, spread_c = stats(units_c)
        dots = self._on_channels(units_r, channels, t) @ self._on_channels(units_c, channels, t).T
        denom = spread_r[:, None] * spread_c[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (dots - np.outer(total_r, total_c) / n_el) / denom
        tiny = 1e-9 * np.outer(1.0 + np.abs(total_r) / n_el, 1.0 + np.abs(total_c) / n_el)
        r[~(denom > tiny)] = np.nan
        return r

    def waveform_scores(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """max over templates and both directions of z(r(W_i[C_i], W_j[C_i])) per pair."""
        best = np.full(a.size, -np.inf)
        rows = np.concatenate((a, b))
        cols = np.concatenate((b, a))
        slot = np.concatenate((np.arange(a.size), np.arange(a.size)))
        for t in range(self.waveforms.shape[3]):
            groups = self.peak_groups[rows, t]
            order = np.argsort(groups, kind="stable")
            bounds = np.flatnonzero(np.diff(groups[order])) + 1
            for part in np.split(order, bounds):
                if part.size == 0:
                    continue
                channels = self.neighbourhoods.channels(groups[part[0]])
                r = self._correlate_on(channels, rows[part], cols[part], t)
                np.maximum.at(best, slot[part], fisher_z(r))
        return best

    def _on_channels(self, units, channels, t) -> np.ndarray:
        """Waveforms of `units` on `channels`, flattened: (n, n_channel_subset * n_sample) float64."""
        # One gather: (units, channels) broadcast first, samples after, template fixed.
        block = self.waveforms[units[:, None], channels[None, :], :, t]
        return block.reshape(units.size, -1).astype(np.float64)

    def _correlate_on(self, channels, rows, cols, t) -> np.ndarray:
        """Pearson r between rows[k] and cols[k] on `channels` (all samples), template t.

        Raw dot products come from BLAS; the per-unit sums over the channel set turn them
        into correlations, so no centred copy of the waveforms is ever made.
        """
        units_r, ir = np.unique(rows, return_inverse=True)
        units_c, ic = np.unique(cols, return_inverse=True)
        n_el = channels.size * self.waveforms.shape[2]
        sums, sumsq = self._sums[t], self._sumsq[t]

        def stats(units):
            total = sums[units][:, channels].sum(axis=1)
            spread = np.sqrt(np.maximum(sumsq[units][:, channels].sum(axis=1) - total**2 / n_el, 0))
            return total, spread

        total_r, spread_r = stats(units_r)
        total_c, spread_c = stats(units_c)
        x = self._on_channels(units_r, channels, t)
        y = x if np.array_equal(units_r, units_c) else self._on_channels(units_c, channels, t)
        # A dense block through BLAS is far faster than pair by pair when most of it is used.
        if units_r.size * units_c.size <= 6 * rows.size:
            dots = (x @ y.T)[ir, ic]
        else:
            dots = _paired_dot(x, y, ir.astype(np.int64), ic.astype(np.int64))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (dots - total_r[ir] * total_c[ic] / n_el) / (spread_r[ir] * spread_c[ic])
        # A flat waveform on these channels has no defined correlation: count it as 0.
        tiny = 1e-9 * (1.0 + np.abs(total_r[ir]) / n_el) * (1.0 + np.abs(total_c[ic]) / n_el)
        r[~(spread_r[ir] * spread_c[ic] > tiny)] = np.nan
        return r
