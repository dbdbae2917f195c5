"""The report's numbers, computed from a TrackingResult and its (possibly curated) labels.

Pair groups, all within the run's candidate graph (units whose motion-corrected depths
differ by at most clustering.max_distance, same shank):
  matched    cross-session pairs in the same track
  unmatched  cross-session candidate pairs in different tracks (or unmatched)
  null       same-session candidate pairs: two units the sorter separated in one recording,
             so KNOWN to be different neurons at comparable depth distance

The false-positive estimate (docs/report.md) treats the null pairs as a sample of what
different neurons at a given depth distance and amplitude look like, and asks how much of
the matched pairs' similarity could come from different neurons (a local false discovery
rate per similarity bin, Efron 2001; the share of different neurons among candidates by
Storey's 2002 estimator), stratified by depth distance and amplitude.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DatasetError

N_SIM_BINS_EACH_SIDE = 12  # similarity bins below and above the threshold
N_BOOTSTRAP = 200
MAX_FEATURE_PAIRS = 20000  # pairs per group scored for held-out features
FEATURES = ("Waveform", "AutoCorr", "ISI", "PETH")


@dataclass
class PairGroups:
    """Candidate pairs (n, 2) int64 with similarity relative to their shank's threshold
    (n,), depth distance (n,) µm and the smaller amplitude of the two units (n,) µV."""

    pairs: np.ndarray
    relative: np.ndarray
    distance: np.ndarray
    amplitude: np.ndarray
    kind: np.ndarray  # (n,) 0 null (same session), 1 unmatched, 2 matched
    unit_depth: np.ndarray  # (n_unit,) motion-corrected depth, µm
    unit_amplitude: np.ndarray  # (n_unit,) µV

    def of(self, kind: int) -> np.ndarray:
        return np.flatnonzero(self.kind == kind)


def corrected_depths(result) -> np.ndarray:
    """Motion-corrected depth of every unit (n_unit,) µm, as the clustering used it."""
    y = np.asarray(result.locations[:, 1], dtype=float)
    out = y.copy()
    sessions = np.asarray(result.sessions)
    for sh in result.shanks:
        u = sh.units
        out[u] = y[u] - sh.motion.at(sessions[u], y[u])
    return out


def pair_groups(result, labels: np.ndarray) -> PairGroups:
    """The candidate pairs of the run, split into null / unmatched / matched (see module)."""
    cand = np.flatnonzero(result.candidate)
    pairs = np.asarray(result.pairs[cand], dtype=np.int64)
    sim = np.asarray(result.similarity[cand], dtype=float)
    shank = np.asarray(result.pair_shank[cand], dtype=np.int64)
    relative = sim - np.asarray(result.thresholds, dtype=float)[shank]
    depth = corrected_depths(result)
    distance = np.abs(depth[pairs[:, 0]] - depth[pairs[:, 1]])
    amp = np.asarray(result.features.amplitude, dtype=float)
    amplitude = np.minimum(amp[pairs[:, 0]], amp[pairs[:, 1]])
    sessions = np.asarray(result.sessions)
    same_session = sessions[pairs[:, 0]] == sessions[pairs[:, 1]]
    labels = np.asarray(labels)
    same_track = (labels[pairs[:, 0]] == labels[pairs[:, 1]]) & (labels[pairs[:, 0]] > 0)
    kind = np.where(same_session, 0, np.where(same_track, 2, 1))
    return PairGroups(pairs, relative, distance, amplitude, kind, depth, amp)


def _strata(groups: PairGroups):
    """stratum(distance, amplitude) -> (n,) int, and the number of strata: 3 depth-distance
    bins (terciles of the cross-session candidates') x 2 amplitude bins (median of the
    smaller amplitude)."""
    cross = groups.kind > 0
    ref_d = groups.distance[cross] if cross.any() else groups.distance
    ref_a = groups.amplitude[cross] if cross.any() else groups.amplitude
    if ref_d.size == 0:
        return (lambda d, a: np.zeros(np.size(d), dtype=np.int64)), 1
    d_edges = np.quantile(ref_d, [1 / 3, 2 / 3])
    a_edge = float(np.median(ref_a))

    def stratum(distance, amplitude) -> np.ndarray:
        d_bin = np.searchsorted(d_edges, distance, side="right")
        return d_bin * 2 + (np.asarray(amplitude) > a_edge).astype(np.int64)

    return stratum, 6


def _sim_edges(relative: np.ndarray) -> np.ndarray:
    """Similarity bin edges (relative to the threshold), 0 always an edge."""
    lo = min(float(np.min(relative, initial=-1.0)), -1e-6)
    hi = max(float(np.max(relative, initial=1.0)), 1e-6)
    k = N_SIM_BINS_EACH_SIDE
    return np.concatenate((np.linspace(lo, 0, k + 1), np.linspace(0, hi, k + 1)[1:]))


def _lfdr(null_counts: np.ndarray, cand_counts: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Local false discovery rate per similarity bin (n_bin,) for one stratum.

    null_counts / cand_counts: histograms of the null and the cross-session candidate pairs;
    above: (n_bin,) bool, bins above the threshold. pi0 (the share of different neurons
    among candidates) by Storey's estimator with lambda = the threshold; a small pseudo-count
    keeps an empty null bin from claiming certainty; made non-increasing in similarity.
    """
    k = null_counts.size
    n0, n = null_counts.sum(), cand_counts.sum()
    if n == 0:
        return np.zeros(k)
    if n0 == 0:
        return np.ones(k)  # no null at this distance and amplitude: no claim either way
    p0 = null_counts / n0
    below0 = p0[~above].sum()
    pi0 = 1.0 if below0 <= 0 else min(1.0, cand_counts[~above].sum() / (n * below0))
    return np.minimum(1.0, pi0 * n * p0 / np.maximum(cand_counts, 1))


@dataclass
class TrackLinks:
    """The links that hold each track together: the maximum spanning tree of its units'
    similarity. edges (n_edge, 2) unit pairs, relative (n_edge,) similarity minus the
    threshold; path (n_pair, n_edge) sparse 0/1: the tree links between the two units of
    every cross-session pair in a track (n_pair rows)."""

    edges: np.ndarray
    relative: np.ndarray
    path: object


def track_links(result, labels: np.ndarray) -> TrackLinks:
    from scipy.sparse import csr_matrix

    labels = np.asarray(labels)
    sessions = np.asarray(result.sessions)
    edges, relative, rows, cols = [], [], [], []
    n_pair = 0
    for t in np.unique(labels[labels > 0]):
        units = np.flatnonzero(labels == t)
        if units.size < 2:
            continue
        sim = np.asarray(result.similarity_block(units, units), dtype=float)
        parent, weight = _max_spanning_tree(sim)
        thr = result.threshold_of(int(units[0]))
        first = len(edges)
        # edge k joins node k+1 (in tree order) to its parent; root paths as edge lists
        root_path: dict[int, list[int]] = {0: []}
        for k, (node, par) in enumerate(parent):
            root_path[node] = root_path[par] + [first + k]
            edges.append((units[node], units[par]))
            relative.append(weight[k] - thr)
        i, j = np.triu_indices(units.size, 1)
        for a, b in zip(i.tolist(), j.tolist(), strict=True):
            if sessions[units[a]] == sessions[units[b]]:
                continue
            on_path = set(root_path[a]) ^ set(root_path[b])
            rows.extend([n_pair] * len(on_path))
            cols.extend(on_path)
            n_pair += 1
    path = csr_matrix(
        (np.ones(len(rows)), (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))),
        shape=(n_pair, len(edges)),
    )
    return TrackLinks(
        np.array(edges, dtype=np.int64).reshape(-1, 2), np.array(relative, dtype=float), path
    )


def _max_spanning_tree(sim: np.ndarray) -> tuple[list[tuple[int, int]], list[float]]:
    """Prim's algorithm on a (k, k) similarity: [(node, parent)] in the order added, with
    the similarity of each link."""
    s = np.nan_to_num((sim + sim.T) / 2, nan=-np.inf)
    k = s.shape[0]
    in_tree = np.zeros(k, dtype=bool)
    in_tree[0] = True
    best, best_from = s[0].copy(), np.zeros(k, dtype=np.int64)
    links, weights = [], []
    for _ in range(k - 1):
        cand = np.where(in_tree, -np.inf, best)
        j = int(np.argmax(cand))
        links.append((j, int(best_from[j])))
        weights.append(float(cand[j]))
        in_tree[j] = True
        better = s[j] > best
        best = np.where(better, s[j], best)
        best_from = np.where(better, j, best_from)
    return links, weights


def false_positive_estimate(groups: PairGroups, links: TrackLinks, seed: int = 0) -> dict:
    """Expected fraction of the matched pairs (two units of one track, different sessions)
    that are two different neurons, with a 95% bootstrap interval.

    Each link of a track's spanning tree is wrong with the local false discovery rate of its
    similarity bin in its depth-distance x amplitude stratum (from the null pairs); a pair
    is wrong when any link on the tree path between its two units is wrong (links assumed
    independent). See the module docstring and docs/report.md."""
    stratum_of, n_strata = _strata(groups)
    stratum = stratum_of(groups.distance, groups.amplitude)
    edges = _sim_edges(groups.relative)
    n_bins = edges.size - 1
    above = np.arange(n_bins) >= N_SIM_BINS_EACH_SIDE

    def cells(relative, strat) -> np.ndarray:
        b = np.clip(np.searchsorted(edges, relative, side="right") - 1, 0, n_bins - 1)
        return strat * n_bins + b

    cell = cells(groups.relative, stratum)

    def counts(kinds) -> np.ndarray:
        sel = np.isin(groups.kind, kinds)
        return np.bincount(cell[sel], minlength=n_strata * n_bins).reshape(n_strata, n_bins)

    null, cand = counts([0]), counts([1, 2])
    a, b = links.edges[:, 0], links.edges[:, 1]
    link_stratum = stratum_of(
        np.abs(groups.unit_depth[a] - groups.unit_depth[b]),
        np.minimum(groups.unit_amplitude[a], groups.unit_amplitude[b]),
    )
    link_cell = cells(links.relative, link_stratum)
    n_matched = links.path.shape[0]

    def expected_wrong(null_c, cand_c) -> float:
        lfdr = np.array([_lfdr(null_c[s], cand_c[s], above) for s in range(n_strata)]).ravel()
        p = np.clip(lfdr[link_cell], 0.0, 1.0 - 1e-12)
        return float((1.0 - np.exp(links.path @ np.log1p(-p))).sum())

    wrong = expected_wrong(null, cand)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(N_BOOTSTRAP if n_matched else 0):
        null_b = np.array([_resample(rng, row) for row in null])
        cand_b = np.array([_resample(rng, row) for row in cand])
        boot.append(expected_wrong(null_b, cand_b) / n_matched)
    rate = wrong / n_matched if n_matched else 0.0
    low, high = np.quantile(boot, [0.025, 0.975]) if boot else (rate, rate)
    return {
        "estimated_false_positive_rate": rate,
        "interval_95": [float(min(low, rate)), float(max(high, rate))],
        "expected_wrong_pairs": wrong,
        "matched_pairs": int(n_matched),
        "links": int(links.edges.shape[0]),
        "null_pairs": int(null.sum()),
        "candidate_pairs": int(cand.sum()),
        "strata": n_strata,
    }


def _resample(rng, counts: np.ndarray) -> np.ndarray:
    total = int(counts.sum())
    if total == 0:
        return counts
    return rng.multinomial(total, counts / total)


def survival(labels: np.ndarray, sessions: np.ndarray, n_sessions: int) -> dict:
    """Neurons (tracks, and unmatched units as neurons seen once) seen in >= k sessions."""
    from ..tracks import track_session_counts

    spans = np.array(list(track_session_counts(labels, sessions).values()), dtype=np.int64)
    n_single = int((np.asarray(labels) <= 0).sum())
    all_spans = np.concatenate((spans, np.ones(n_single, dtype=np.int64)))
    k = np.arange(1, n_sessions + 1)
    return {
        "k": k.tolist(),
        "neurons_seen_in_at_least_k": [int((all_spans >= j).sum()) for j in k],
        "tracks": int(spans.size),
        "tracked_over_2": int((spans >= 2).sum()),
        "tracked_over_half": int((spans >= max(2, int(np.ceil(n_sessions / 2)))).sum()),
        "tracked_over_all": int((spans >= n_sessions).sum()) if n_sessions >= 2 else 0,
    }


def mann_whitney_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counted half (ROC AUC)."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    if positive.size == 0 or negative.size == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate((positive, negative)))
    r = ranks[: positive.size].sum() - positive.size * (positive.size + 1) / 2
    return float(r / (positive.size * negative.size))


def feature_scores(result, pairs: np.ndarray, feature: str) -> np.ndarray:
    """One feature's score (Fisher z) for unit pairs (n, 2) on the same shank (n,)."""
    out = np.full(pairs.shape[0], np.nan)
    shank_of, local = result.unit_shank_index, result.local_index
    for s, sh in enumerate(result.shanks):
        sel = np.flatnonzero(shank_of[pairs[:, 0]] == s)
        if sel.size == 0 or sh.computer is None:
            continue
        a, b = local[pairs[sel, 0]], local[pairs[sel, 1]]
        try:
            out[sel] = sh.computer.scores(a, b, (feature,))[:, 0]
        except DatasetError:  # the data folder has no such feature (or an undefined one)
            continue
    return out


def held_out_validation(result, groups: PairGroups, seed: int = 0) -> list[dict]:
    """ROC AUC of matched vs unmatched nearby pairs for each feature NOT used for matching
    (and for the used ones, for reference: those are circular)."""
    rng = np.random.default_rng(seed)
    picks = {}
    for kind in (2, 1):
        idx = groups.of(kind)
        if idx.size > MAX_FEATURE_PAIRS:
            idx = np.sort(rng.choice(idx, MAX_FEATURE_PAIRS, replace=False))
        picks[kind] = idx
    out = []
    for feature in FEATURES:
        pos = feature_scores(result, groups.pairs[picks[2]], feature)
        neg = feature_scores(result, groups.pairs[picks[1]], feature)
        pos, neg = pos[np.isfinite(pos)], neg[np.isfinite(neg)]
        if pos.size == 0 and neg.size == 0:
            continue
        out.append(
            {
                "feature": feature,
                "used_for_matching": feature in result.feature_names,
                "auc": mann_whitney_auc(pos, neg),
                "matched_pairs": int(pos.size),
                "unmatched_pairs": int(neg.size),
            }
        )
    return out


def least_certain_tracks(result, labels: np.ndarray, confidence: dict, n: int = 10) -> list:
    """The n tracks with the lowest confidence: id, confidence, units, sessions."""
    sessions = np.asarray(result.sessions)
    finite = [(c, t) for t, c in confidence.items() if np.isfinite(c)]
    out = []
    for c, t in sorted(finite)[:n]:
        units = np.flatnonzero(np.asarray(labels) == t)
        out.append(
            {
                "track": int(t),
                "confidence": float(c),
                "units": units.tolist(),
                "sessions": sorted({int(s) for s in sessions[units]}),
            }
        )
    return out


def drift(result) -> list[dict]:
    """Per shank: the motion of every session at the shank's mean unit depth (µm), with the
    95% interval the motion estimate gives (when it was computed)."""
    out = []
    for sh in result.shanks:
        m = sh.motion
        y = float(np.mean(result.locations[sh.units, 1])) if sh.units.size else 0.0
        entry = {"shank": int(sh.shank_id), "depth_um": y, "motion_um": m.at_depth(y).tolist()}
        if m.ci_low is not None and m.ci_high is not None:
            entry["ci_low_um"] = np.asarray(m.ci_low)[0].tolist()
            entry["ci_high_um"] = np.asarray(m.ci_high)[0].tolist()
        out.append(entry)
    return out


def example_tracks(result, labels: np.ndarray, confidence: dict, n: int = 3) -> list[dict]:
    """The n tracks spanning the most sessions (most confident first among equals): each
    unit's motion-corrected waveform on its peak channel (n_sample,) µV."""
    from ..tracks import track_session_counts

    spans = track_session_counts(labels, result.sessions)
    order = sorted(spans, key=lambda t: (-spans[t], -confidence.get(t, 0.0), t))[:n]
    out = []
    for t in order:
        units = np.flatnonzero(np.asarray(labels) == t)
        waves = []
        for u in units:
            w = result.corrected_waveform(int(u))
            peak = int(np.argmax(np.ptp(w, axis=1)))
            waves.append(np.asarray(w[peak], dtype=float).tolist())
        out.append(
            {
                "track": int(t),
                "sessions": [int(s) for s in np.asarray(result.sessions)[units]],
                "units": units.tolist(),
                "waveforms": waves,
            }
        )
    return out
