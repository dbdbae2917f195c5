"""Adaptive curation (issue 15): amplitude-dependent threshold, constrained re-clustering,
rescue of unmatched units, on small constructed cases."""

from __future__ import annotations

import numpy as np
import pytest

from dant_core.adaptive_curation import (
    Decision,
    adaptive_curate,
    constrained_average_linkage,
    merge_clusters,
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
    # A positive mean margin does not carry one negative link (the wrong attach of the
    # seed-107 offset set): unit 3 is refused, unit 4 (every link positive) joins instead.
    one_bad = margins.copy()
    one_bad[(pairs[:, 0] == 1) & (pairs[:, 1] == 3)] = -0.1
    assert one_bad[pairs[:, 1] == 3].mean() > 0
    out, decisions = rescue_unmatched(labels, sessions, pairs, one_bad)
    np.testing.assert_array_equal(out, [1, 1, 1, -1, 1, -1])
    assert [d.units for d in decisions] == [(4,)]


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


def test_a_pairs_threshold_is_read_at_the_larger_units_amplitude():
    assert pair_log_amplitude(20.0, 80.0) == pytest.approx(np.log(80.0))
    assert pair_log_amplitude(80.0, 20.0) == pytest.approx(np.log(80.0))


def test_a_large_unit_of_another_neuron_is_not_kept_at_a_small_units_threshold():
    """The wrong pairs the geometric-mean reading kept (a 4-session demo, seed 7): two
    recordings of a small neuron (73, 72 µV) and one of a larger neuron (154 µV) in one
    HDBSCAN cluster, linked to both at S = 1.80, below the global threshold 1.869. At the
    geometric mean (~105 µV) the curve is 1.79 and the links' margins were +0.01; at the
    larger unit's amplitude the threshold is 1.88 and they are cut, as pyDANT cuts them."""
    curve = ThresholdCurve(np.log([87.2, 175.6, 239.2]), np.array([1.75, 1.91, 1.951]), 1.869)
    S = np.array([[6.0, 2.59, 1.80], [2.59, 6.0, 1.80], [1.80, 1.80, 6.0]])
    amplitude = np.array([73.0, 72.0, 154.0])
    log_a = np.log(amplitude)
    geometric = 0.5 * (log_a[0] + log_a[2])
    assert S[0, 2] - curve.at(geometric) > 0  # what kept it before
    labels = np.ones(3, dtype=np.int64)
    sessions = np.array([2, 3, 4])
    ours = _curate(labels, sessions, log_a, S, curve)
    np.testing.assert_array_equal(ours.idx_cluster, [1, 1, -1])
    assert curve.margin(S[0, 2], amplitude[0], amplitude[2]) < 0
    pydant = auto_curate(labels, sessions, _blocks(S), 1.869, auto_split=True)
    np.testing.assert_array_equal(pydant.idx_cluster, ours.idx_cluster)
    # The small neuron's own link (S 2.59, margin > 0.8) stays whatever the reading.
    assert ours.decisions[0].kind == "split" and ours.decisions[0].groups == ((0, 1), (2,))


# --- merging two clusters of one neuron -------------------------------------------------------


def test_one_neuron_cut_in_two_clusters_is_merged():
    """HDBSCAN cut one neuron (sessions 0-3) into clusters 1 and 2; every link between
    them has a positive margin (a 4-session demo, seed 7: margins +0.41 to +0.55)."""
    labels = np.array([1, 1, 2, 2])
    sessions = np.array([0, 2, 1, 3])
    pairs = _all_pairs(4)
    margins = np.array([0.9, 0.41, 0.55, 0.5, 0.42, 0.8])  # (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    out, decisions = merge_clusters(labels, sessions, pairs, margins)
    np.testing.assert_array_equal(out, [1, 1, 1, 1])
    (d,) = decisions
    assert d.kind == "merge" and d.groups == ((0, 1), (2, 3))
    assert d.margin == pytest.approx(np.mean([0.41, 0.55, 0.5, 0.42]))
    record = d.to_record(np.array([10, 11, 12, 13]))
    assert record["undo"] == [{"action": "split", "units": [12, 13]}]


def test_clusters_merge_only_with_every_link_positive_disjoint_sessions_and_mutual_best():
    labels = np.array([1, 1, 2, 2])
    sessions = np.array([0, 2, 1, 3])
    pairs = _all_pairs(4)
    margins = np.array([0.9, 0.41, 0.55, 0.5, 0.42, 0.8])
    one_negative = margins.copy()
    one_negative[4] = -0.05  # (1, 3): a high mean margin does not carry one bad link
    out, decisions = merge_clusters(labels, sessions, pairs, one_negative)
    np.testing.assert_array_equal(out, labels)
    assert decisions == []
    out, _ = merge_clusters(labels, np.array([0, 1, 1, 3]), pairs, margins)  # session 1 twice
    np.testing.assert_array_equal(out, labels)
    far = np.ones(len(pairs), dtype=bool)
    far[2] = False  # (0, 3) beyond max_distance: not every pair is a candidate
    out, _ = merge_clusters(labels, sessions, pairs[far], margins[far])
    np.testing.assert_array_equal(out, labels)
    # Three clusters: 1 fits 2 (mean margin 1.0) and 3 (0.6); 2 and 3 share session 2.
    # 3's best is 1 but 1's best is 2: 1 and 2 merge; then 3 shares a session with the
    # merged cluster and stays apart.
    labels3 = np.array([1, 1, 2, 2, 3, 3])
    sessions3 = np.array([0, 1, 2, 3, 2, 4])
    pairs3 = _all_pairs(6)
    margin_of = {1: {2: 1.0, 3: 0.6}, 2: {3: 0.7}}
    margins3 = np.array(
        [2.0 if labels3[i] == labels3[j] else margin_of[labels3[i]][labels3[j]] for i, j in pairs3]
    )
    out, decisions = merge_clusters(labels3, sessions3, pairs3, margins3)
    np.testing.assert_array_equal(out, [1, 1, 1, 1, 3, 3])
    assert [d.groups for d in decisions] == [((0, 1), (2, 3))]


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
