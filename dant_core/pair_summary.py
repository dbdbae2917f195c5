"""The candidate pairs of one shank, summarised for the cluster detail's histogram and scatter.

Pure numpy on a TrackingResult and the current cluster labels (seconds at 20,000 units:
computed off the UI thread).
"""

from __future__ import annotations

import numpy as np

MAX_SCATTER_POINTS = 20_000
HIST_EDGES = np.linspace(-2.0, 6.0, 81)  # weighted similarity bins (Fisher z units)


# Graph pairs read per step: the graph may be a map of 80 M pairs, and a step on a chunk holds
# the GIL for a few ms only (whole-graph steps froze the window for seconds at 20,000 units).
CHUNK_PAIRS = 1 << 21


class GraphSummary:
    """Candidate pairs of one shank, summarised for the histogram and the scatter.

    matched: (n_pair,) same cluster in `labels`; hist_matched / hist_unmatched: counts in
    HIST_EDGES bins of the weighted similarity (values outside are clipped into the end
    bins); sample: (m,) indices of at most MAX_SCATTER_POINTS pairs (all matched ones
    first, in a fixed random order) with sample_scores (m, n_feature), sample_similarity
    (m,) and sample_matched (m,). The graph is read CHUNK_PAIRS pairs at a time and no
    per-pair array but `matched` is kept: at 20,000 units (41 M candidate pairs) whole
    copies of the pairs, scores and similarities took several GB.
    """

    def __init__(self, result, shank_index: int, labels: np.ndarray):
        self.shank_index = shank_index
        self.threshold = float(result.thresholds[shank_index])
        weights = np.asarray(result.weights)[shank_index]
        self.hist_matched = np.zeros(HIST_EDGES.size - 1, dtype=np.int64)
        self.hist_unmatched = np.zeros(HIST_EDGES.size - 1, dtype=np.int64)
        matched_parts = []
        for start, keep in _kept_chunks(result, shank_index):
            pairs = np.asarray(result.pairs[start : start + keep.size])[keep]
            similarity = np.asarray(result.scores[start : start + keep.size])[keep] @ weights
            la = labels[pairs[:, 0]]
            matched = (la == labels[pairs[:, 1]]) & (la > 0)
            clipped = np.clip(similarity, HIST_EDGES[0], HIST_EDGES[-1])
            # Histograms of parts add up to the histogram of the whole.
            self.hist_matched += np.histogram(clipped[matched], bins=HIST_EDGES)[0]
            self.hist_unmatched += np.histogram(clipped[~matched], bins=HIST_EDGES)[0]
            matched_parts.append(matched)
        self.matched = np.concatenate(matched_parts) if matched_parts else np.zeros(0, bool)
        self.n_pairs = int(self.matched.size)
        self.sample = _sample(self.matched)
        rows = _graph_rows(result, shank_index, self.sample)
        self.sample_scores = np.asarray(result.scores)[rows]
        self.sample_similarity = self.sample_scores @ weights
        self.sample_matched = self.matched[self.sample]


def _kept_chunks(result, shank_index: int):
    """(first graph row, its chunk's candidate pairs of the shank as a mask) per chunk."""
    n = len(result.candidate)
    for start in range(0, n, CHUNK_PAIRS):
        stop = min(start + CHUNK_PAIRS, n)
        keep = np.asarray(result.candidate[start:stop], dtype=bool) & (
            np.asarray(result.pair_shank[start:stop]) == shank_index
        )
        yield start, keep


def _sample(matched: np.ndarray) -> np.ndarray:
    """Sorted indices of at most MAX_SCATTER_POINTS pairs: in one fixed random order, the
    matched pairs first, then the others."""
    shuffle = np.random.default_rng(0).permutation(matched.size)
    first, others, n_others = [], [], 0
    for start in range(0, shuffle.size, CHUNK_PAIRS):
        part = shuffle[start : start + CHUNK_PAIRS]
        is_matched = matched[part]
        first.append(part[is_matched])
        if n_others < MAX_SCATTER_POINTS:
            others.append(part[~is_matched][: MAX_SCATTER_POINTS - n_others])
            n_others += others[-1].size
    chosen = np.concatenate((*first, *others))[:MAX_SCATTER_POINTS]
    return np.sort(chosen)


def _graph_rows(result, shank_index: int, kept: np.ndarray) -> np.ndarray:
    """Graph rows of the shank's candidate pairs numbered `kept` (ascending) in order."""
    rows, seen = [], 0
    for start, keep in _kept_chunks(result, shank_index):
        n_kept = int(np.count_nonzero(keep))
        here = kept[(kept >= seen) & (kept < seen + n_kept)] - seen
        if here.size:
            rows.append(start + np.flatnonzero(keep)[here])
        seen += n_kept
    return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
