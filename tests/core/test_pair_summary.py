"""The cluster detail's summary of a shank's candidate pairs, read chunk by chunk (issue 16:
whole copies of an 80 M-pair graph took GB): the same histograms and the same sample as
the whole-graph computation."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dant_core import pair_summary
from dant_core.pair_summary import HIST_EDGES, MAX_SCATTER_POINTS, GraphSummary


def _whole_graph(result, s: int, labels: np.ndarray) -> dict:
    """The summary computed on whole copies of the shank's candidate pairs."""
    keep = result.candidate & (result.pair_shank == s)
    pairs, scores = result.pairs[keep], result.scores[keep]
    similarity = scores @ result.weights[s]
    la = labels[pairs[:, 0]]
    matched = (la == labels[pairs[:, 1]]) & (la > 0)
    clipped = np.clip(similarity, HIST_EDGES[0], HIST_EDGES[-1])
    shuffle = np.random.default_rng(0).permutation(matched.size)
    m = matched[shuffle]
    sample = np.sort(np.concatenate((shuffle[m], shuffle[~m]))[:MAX_SCATTER_POINTS])
    return {
        "n_pairs": matched.size,
        "matched": matched,
        "hist_matched": np.histogram(clipped[matched], bins=HIST_EDGES)[0],
        "hist_unmatched": np.histogram(clipped[~matched], bins=HIST_EDGES)[0],
        "sample": sample,
        "sample_scores": scores[sample],
        "sample_similarity": similarity[sample],
        "sample_matched": matched[sample],
    }


@pytest.mark.parametrize("n_pairs", [40, 30_000, 90_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_chunked_summary_is_the_whole_graphs(monkeypatch, n_pairs, dtype):
    monkeypatch.setattr(pair_summary, "CHUNK_PAIRS", 7_001)  # many chunks, uneven ends
    rng = np.random.default_rng(n_pairs)
    n_units = max(n_pairs // 20, 10)
    result = SimpleNamespace(
        pairs=rng.integers(0, n_units, (n_pairs, 2)).astype(np.int32),
        scores=rng.normal(2.0, 2.0, (n_pairs, 2)).astype(dtype),
        candidate=rng.random(n_pairs) < 0.7,
        pair_shank=rng.integers(0, 2, n_pairs).astype(np.int16),
        weights=np.array([[0.88, 0.12], [0.6, 0.4]]),
        thresholds=np.array([2.0, 2.2]),
    )
    labels = rng.integers(-1, n_units // 3, n_units)
    labels[labels == 0] = -1
    for s in (0, 1):
        summary = GraphSummary(result, s, labels)
        for name, expected in _whole_graph(result, s, labels).items():
            assert np.array_equal(getattr(summary, name), expected), name
        assert summary.threshold == result.thresholds[s]
    if n_pairs == 90_000:  # more candidate pairs than the scatter shows
        assert summary.sample.size == MAX_SCATTER_POINTS
