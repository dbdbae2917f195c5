"""Adaptive curation (issue 15): amplitude-dependent threshold, constrained re-clustering,
rescue of unmatched units, on small constructed cases."""

from __future__ import annotations

import numpy as np
import pytest

from dant_core.adaptive_curation import (
    Decision,
    adaptive_curate,
    constrained_average_linkage,
    rescue_unmatched,
)
from dant_core.amplitude_threshold import (
    ThresholdCurve,
    fit_threshold_curve,
    lda_boundary_1d,
    pair_log_amplitude,
)
from dant_core.autocuration import auto_curate


@pytest.fixture
def rng():
    return np.random.default_rng(15)


def _blocks(S: np.ndarray):
    return lambda units: S[np.ix_(units, units)]


def _all_pairs(n: int) -> np.ndarray:
    i, j = np.triu_indices(n, 1)
    return np.stack([i, j], axis=1)


def _curate(labels, sessions, log_a, S, curve):
    """adaptive_curate with every pair a candidate."""
    pairs = _all_pairs(labels.size)
    similarity = S[pairs[:, 0], pairs[:, 1]]
    return adaptive_curate(labels, sessions, log_a, _blocks(S), curve, pairs, similarity)


# --- the threshold curve -------------------------------------------------------------------


def _two_amplitude_population(rng, n=600):
    """Candidate pairs at two amplitudes: small neurons' matches are less similar."""
    log_amp = np.where(rng.random(n) < 0.5, np.log(30.0), np.log(200.0))
    matched = rng.random(n) < 0.3
    small = log_amp < np.log(100.0)
    mean = np.where(matched, np.where(small, 1.6, 3.0), np.where(small, -0.2, 0.6))
    return rng.normal(mean, 0.3), matched, log_amp


def test_one_dimensional_lda_boundary_is_the_midpoint_with_equal_priors():
    x = np.array([0.0, 1.0, 3.0, 4.0])
    y = np.array([False, False, True, True])
    assert lda_boundary_1d(x, y, 0.0) == pytest.approx(2.0)
    # A rarer True class moves the boundary up (towards the True class).
    assert lda_boundary_1d(x, y, np.log(0.25 / 0.75)) > 2.0
    assert lda_boundary_1d(x, ~y, 0.0) is None  # True class below: undefined


def test_threshold_curve_falls_with_amplitude_where_matches_are_less_similar(rng):
    s, matched, log_amp = _two_amplitude_population(rng)
    curve = fit_threshold_curve(s, matched, log_amp, global_threshold=1.8, n_strata=2)
    low, high = curve.at([np.log(30.0), np.log(200.0)])
    assert low < 1.0 < 1.7 < high  # each stratum's boundary sits between its own classes
    assert curve.at(np.log(10.0)) == pytest.approx(low)  # constant beyond the knots
    mid = curve.at(np.mean(curve.log_amplitude))
    assert mid == pytest.approx((low + high) / 2)  # linear between them
    again = ThresholdCurve.from_dict(curve.to_dict())
    np.testing.assert_array_equal(again.at(log_amp), curve.at(log_amp))


def test_threshold_curve_is_the_global_threshold_with_few_matches(rng):
    s, matched, log_amp = _two_amplitude_population(rng, n=100)
    curve = fit_threshold_curve(s, matched, log_amp, global_threshold=1.8, min_matched=200)
    assert curve.log_amplitude.size == 0
    assert np.all(curve.at(log_amp) == 1.8)


def test_a_pure_low_amplitude_cluster_is_kept(rng):
    s, matched, log_amp = _two_amplitude_population(rng)
    curve = fit_threshold_curve(s, matched, log_amp, global_threshold=1.8, n_strata=2)
    # Four recordings of a small neuron (30 µV), similarity 1.5 among them: below the
    # global threshold 1.8, above the threshold at their amplitude.
    S = np.full((4, 4), 1.5)
    np.fill_diagonal(S, 6.0)
    labels = np.ones(4, dtype=np.int64)
    sessions = np.arange(4)
    log_a = np.full(4, np.log(30.0))
    pydant = auto_curate(labels, sessions, _blocks(S), 1.8, auto_split=True)
    assert np.all(pydant.idx_cluster == -1)  # pyDANT's split dissolves it
    ours = _curate(labels, sessions, log_a, S, curve)
    np.testing.assert_array_equal(ours.idx_cluster, [1, 1, 1, 1])
    assert ours.decisions == ()
    # The same similarities between large units (200 µV) are below their threshold.
    ours = _curate(labels, sessions, np.full(4, np.log(200.0)), S, curve)
    assert np.all(ours.idx_cluster == -1)
    assert [d.kind for d in ours.decisions] == ["split"]


# --- re-clustering a cluster with a session conflict ----------------------------------------


def _two_neurons():
    """Neuron A: units 0-3 in sessions 0-3; neuron B: units 4-6 in sessions 1, 4, 5.
    Within a neuron S = 3, between them S = 0.5; threshold 1 everywhere."""
    neuron = np.array([0, 0, 0, 0, 1, 1, 1])
    sessions = np.array([0, 1, 2, 3, 1, 4, 5])
    S = np.where(neuron[:, None] == neuron[None, :], 3.0, 0.5)
    S[4, 1] = S[1, 4] = 2.9  # the conflicting units look alike, which merged the neurons
    np.fill_diagonal(S, 6.0)
    return neuron, sessions, S


def test_average_linkage_merges_only_groups_with_disjoint_sessions():
    neuron, sessions, S = _two_neurons()
    groups = constrained_average_linkage(S - 1.0, sessions)
    assert groups == [[0, 1, 2, 3], [4, 5, 6]]
    # Without the mean-margin rule everything with disjoint sessions would merge: a
    # negative margin everywhere leaves every unit alone.
    assert constrained_average_linkage(np.full((3, 3), -1.0), np.arange(3)) == [[0], [1], [2]]


def test_a_two_neuron_cluster_with_a_session_conflict_is_split_into_its_neurons():
    neuron, sessions, S = _two_neurons()
    labels = np.ones(7, dtype=np.int64)
    curve = ThresholdCurve.constant(1.0)
    log_a = np.zeros(7)
    ours = _curate(labels, sessions, log_a, S, curve)
    np.testing.assert_array_equal(ours.idx_cluster, [1, 1, 1, 1, 2, 2, 2])
    (decision,) = ours.decisions
    assert decision.kind == "recluster" and decision.sessions == (1,)
    assert decision.groups == ((0, 1, 2, 3), (4, 5, 6))
    # The separated pairs keep pyDANT's record: type 1 for the same-session pair.
    types = dict(zip(map(tuple, ours.pairs.tolist()), ours.types.tolist(), strict=True))
    assert types[(1, 4)] == 1 and types[(0, 4)] == 2 and len(types) == 12
    # pyDANT's rule drops unit 4 (lower mean similarity) and then splits off B.
    pydant = auto_curate(labels, sessions, _blocks(S), 1.0, auto_split=True)
    assert pydant.idx_cluster[4] == -1


# --- rescue of unmatched units ---------------------------------------------------------------


def _cluster_and_strays():
    """Cluster 1 = units 0, 1, 2 (sessions 0, 1, 2); unit 3 (session 3) belongs to it;
    unit 4 (session 3 too) fits it less; unit 5 (session 1, taken) fits it well."""
    labels = np.array([1, 1, 1, -1, -1, -1])
    sessions = np.array([0, 1, 2, 3, 3, 1])
    margin = {
        (0, 1): 2.0, (0, 2): 2.0, (1, 2): 2.0,
        (0, 3): 1.0, (1, 3): 0.8, (2, 3): 1.2,
        (0, 4): 0.5, (1, 4): 0.4, (2, 4): 0.3,
        (0, 5): 1.5, (1, 5): 1.5, (2, 5): 1.5,
        (3, 4): -1.0, (3, 5): -1.0, (4, 5): -1.0,
    }  # fmt: skip
    pairs = np.array(list(margin), dtype=np.int64)
    return labels, sessions, pairs, np.array(list(margin.values()))


def test_an_unmatched_unit_rejoins_its_neuron():
    labels, sessions, pairs, margins = _cluster_and_strays()
    out, decisions = rescue_unmatched(labels, sessions, pairs, margins)
    np.testing.assert_array_equal(out, [1, 1, 1, 1, -1, -1])
    (d,) = decisions
    assert d.kind == "attach" and d.units == (3,) and d.groups == ((3,), (0, 1, 2))
    assert d.margin == pytest.approx(1.0)
    record = d.to_record(np.array([10, 11, 12, 13, 14, 15]))
    assert record["undo"] == [{"action": "reject_unit", "unit": 13}]
    assert record["to_units"] == [10, 11, 12] and record["decision"] == "attach"


def test_wrong_attaches_are_refused():
    labels, sessions, pairs, margins = _cluster_and_strays()
    # Unit 3 is not a candidate of unit 1 (beyond max_distance): it may not join.
    far = ~((pairs[:, 0] == 1) & (pairs[:, 1] == 3))
    out, _ = rescue_unmatched(labels, sessions, pairs[far], margins[far])
    assert out[3] == -1
    # Unit 4 then is the best of session 3, but a mean margin <= 0 is refused.
    margins_neg = margins.copy()
    margins_neg[np.isin(pairs[:, 1], [3, 4]) & (pairs[:, 0] < 3)] = -0.1
    out, decisions = rescue_unmatched(labels, sessions, pairs, margins_neg)
    np.testing.assert_array_equal(out, labels)
    assert decisions == []
    # Unit 5's session is taken: never attached however similar (checked above: stays -1).


def test_two_clusters_of_several_units_never_merge():
    labels = np.array([1, 1, 2, 2])
    sessions = np.array([0, 1, 2, 3])
    pairs = _all_pairs(4)
    out, decisions = rescue_unmatched(labels, sessions, pairs, np.full(len(pairs), 5.0))
    np.testing.assert_array_equal(out, labels)
    assert decisions == []


def test_two_unmatched_units_pair_only_when_each_is_the_others_best():
    labels = np.full(3, -1)
    sessions = np.array([0, 1, 2])
    pairs = np.array([[0, 1], [1, 2], [0, 2]])
    # 1's best is 2, 2's best is 1; 0's best is 1 but 1 prefers 2.
    out, decisions = rescue_unmatched(labels, sessions, pairs, np.array([1.0, 2.0, -1.0]))
    assert out[0] == -1 and out[1] == out[2] > 0
    assert [d.kind for d in decisions] == ["pair"]
    assert Decision("pair", (1, 2)).to_record(np.arange(3))["undo"][0]["action"] == "reject_unit"


def test_pair_log_amplitude_is_the_log_geometric_mean():
    assert pair_log_amplitude(20.0, 80.0) == pytest.approx(np.log(40.0))


def test_unmatched_recordings_of_one_neuron_grow_one_cluster_not_several():
    """Six unmatched units of one neuron (sessions 0-5), all alike: mutual-best pairs 0-1,
    2-3 and 4-5 would make three clusters that may never merge; one grows instead."""
    labels = np.full(6, -1)
    sessions = np.arange(6)
    pairs = _all_pairs(6)
    margins = np.full(len(pairs), 0.5)
    for k, (i, j) in enumerate(pairs):
        if (i, j) in ((0, 1), (2, 3), (4, 5)):
            margins[k] = 1.0
    out, decisions = rescue_unmatched(labels, sessions, pairs, margins)
    assert np.all(out == out[0]) and out[0] > 0
    assert [d.kind for d in decisions] == ["pair", "attach", "attach", "attach", "attach"]
