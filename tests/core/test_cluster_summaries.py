"""The cheap per-cluster statistics, computed for many clusters at once, are each cluster's
own: units, sessions covered, mean depth and its shank's threshold."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dant_core.cluster_stats import ClusterStatistics


def _one_by_one(result, labels, cluster):
    """The statistics of one cluster, written out plainly."""
    units = [u for u in range(labels.size) if labels[u] == cluster]
    if not units:
        return 0, 0, math.nan, math.nan
    shank = result.unit_shank_index[units[0]]
    return (
        len(units),
        len({int(result.sessions[u]) for u in units}),
        sum(result.locations[u, 1] for u in units) / len(units),
        float(result.thresholds[shank]),
    )


@settings(max_examples=60, deadline=None)
@given(
    n_units=st.integers(1, 80),
    n_clusters=st.integers(1, 30),
    n_sessions=st.integers(1, 9),
    n_shanks=st.integers(1, 3),
    seed=st.integers(0, 2**31 - 1),
)
def test_summaries_of_many_clusters_are_each_clusters_own(
    n_units, n_clusters, n_sessions, n_shanks, seed
):
    rng = np.random.default_rng(seed)
    result = SimpleNamespace(
        sessions=rng.integers(1, n_sessions + 1, n_units),
        locations=rng.normal(1000, 300, (n_units, 2)),
        thresholds=rng.normal(2, 0.5, n_shanks),
        unit_shank_index=rng.integers(0, n_shanks, n_units),
    )
    labels = rng.integers(-1, n_clusters + 1, n_units)  # -1: unmatched; some ids unused
    ids = list(range(1, n_clusters + 3))  # two ids no unit has
    stats = ClusterStatistics(result, lambda: labels)
    for cluster, summary in zip(ids, stats.summaries(ids), strict=True):
        n, sessions, depth, threshold = _one_by_one(result, labels, cluster)
        assert (summary.n_units, summary.n_sessions) == (n, sessions)
        assert math.isclose(summary.depth, depth, rel_tol=1e-9) or (
            math.isnan(summary.depth) and math.isnan(depth)
        )
        assert summary.threshold == threshold or (
            math.isnan(summary.threshold) and math.isnan(threshold)
        )
