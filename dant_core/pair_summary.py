"""The candidate pairs of one shank, summarised for the cluster detail's histogram and scatter.

Pure numpy on a TrackingResult and the current cluster labels (seconds at 20,000 units:
computed off the UI thread).
"""

from __future__ import annotations

import numpy as np

MAX_SCATTER_POINTS = 20_000
HIST_EDGES = np.linspace(-2.0, 6.0, 81)  # weighted similarity bins (Fisher z units)


class GraphSummary:
    """Candidate pairs of one shank, summarised for the histogram and the scatter.

    similarity: (n_pair,) weighted; matched: (n_pair,) same cluster in `labels`;
    hist_matched / hist_unmatched: counts in HIST_EDGES bins (values outside are clipped
    into the end bins); sample: (m,) indices of at most MAX_SCATTER_POINTS pairs (all
    matched ones first) with sample_scores (m, n_feature), sample_similarity (m,).
    """

    def __init__(self, result, shank_index: int, labels: np.ndarray):
        keep = np.asarray(result.candidate, dtype=bool) & (
            np.asarray(result.pair_shank) == shank_index
        )
        pairs = np.asarray(result.pairs)[keep]
        scores = np.asarray(result.scores)[keep]
        self.shank_index = shank_index
        self.n_pairs = pairs.shape[0]
        self.similarity = scores @ np.asarray(result.weights)[shank_index]
        self.threshold = float(result.thresholds[shank_index])
        la = labels[pairs[:, 0]]
        self.matched = (la == labels[pairs[:, 1]]) & (la > 0)
        clipped = np.clip(self.similarity, HIST_EDGES[0], HIST_EDGES[-1])
        self.hist_matched, _ = np.histogram(clipped[self.matched], bins=HIST_EDGES)
        self.hist_unmatched, _ = np.histogram(clipped[~self.matched], bins=HIST_EDGES)
        shuffle = np.random.default_rng(0).permutation(self.n_pairs)
        m = self.matched[shuffle]
        self.sample = np.sort(np.concatenate((shuffle[m], shuffle[~m]))[:MAX_SCATTER_POINTS])
        self.sample_scores = scores[self.sample]
        self.sample_similarity = self.similarity[self.sample]
        self.sample_matched = self.matched[self.sample]
