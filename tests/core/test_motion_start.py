"""The motion start chosen by evidence (issue 15): the criterion on constructed passes."""

from __future__ import annotations

import numpy as np
import pytest

from dant_core.clustering import ClusteringRun
from dant_core.motion import Motion
from dant_core.motion_start import (
    StartEvidence,
    choose,
    choose_motion_start,
    separation,
    start_evidence,
)


def _run(pairs, similarity, labels, threshold=1.0) -> ClusteringRun:
    pairs = np.asarray(pairs)
    return ClusteringRun(
        feature_names=("Waveform",),
        pairs=pairs,
        scores=np.asarray(similarity, dtype=float)[:, None],
        candidate=np.ones(len(pairs), dtype=bool),
        weights=np.ones(1),
        threshold=threshold,
        labels=np.asarray(labels),
        leaf_order=np.arange(len(labels)),
        n_iterations=1,
    )


def test_separation_is_d_prime():
    s = np.array([0.0, 2.0, 4.0, 6.0])
    m = np.array([False, False, True, True])
    assert separation(s, m) == pytest.approx(4.0 / 1.0)
    assert separation(s, np.ones(4, bool)) == 0.0


def test_motion_pairs_are_cross_session_matched_pairs_above_the_threshold():
    sessions = np.array([1, 2, 3, 1])
    # 0-1: counted; 0-3 same session; 1-2 below threshold; 2-3 different clusters.
    run = _run([[0, 1], [0, 3], [1, 2], [2, 3]], [3.0, 3.0, 0.5, 3.0], [1, 1, 1, 2])
    ev = start_evidence("zero", Motion.zero(3), run, sessions)
    assert ev.n_motion_pairs == 1
    assert ev.span_um == 0.0


def test_a_start_wins_only_with_more_motion_pairs_and_at_least_the_separation():
    zero = StartEvidence("zero", 0.0, 100, 2.0)
    more_but_weaker = StartEvidence("registration", 27.0, 140, 1.5)
    assert choose([zero, more_but_weaker], "zero")[0] == 0
    better = StartEvidence("registration", 27.0, 140, 2.5)
    win, reason = choose([zero, better], "zero")
    assert win == 1 and reason.startswith("registration start chosen")
    # With a manual motion, the manual start is the default to beat.
    manual = StartEvidence("manual", 30.0, 150, 2.6)
    assert choose([manual, zero, better], "manual")[0] == 0


def test_the_start_that_explains_the_data_wins():
    """Units of two sessions 27 µm apart: aligned, every neuron's pair looks alike; the
    evaluation (a stand-in for one clustering pass) sees that, whatever start comes first."""
    sessions = np.array([1, 1, 1, 2, 2, 2])
    depth = np.array([100.0, 200.0, 300.0, 127.0, 227.0, 327.0])
    pairs = np.array([[i, j] for i in range(3) for j in range(3, 6)])

    def evaluate(motion: Motion) -> ClusteringRun:
        corrected = depth - motion.at(sessions, depth)
        gap = np.abs(corrected[pairs[:, 0]] - corrected[pairs[:, 1]])
        similarity = 3.0 - gap / 10.0  # alike when aligned
        labels = np.array([1, 2, 3, 1, 2, 3]) if gap.min() < 5 else np.full(6, -1)
        return _run(pairs, similarity, labels)

    registered = Motion(np.zeros(2), np.array([-13.5, 13.5]))
    for order in ([("zero", Motion.zero(2)), ("registration", registered)],
                  [("registration", registered), ("zero", Motion.zero(2))]):  # fmt: skip
        win, evidence, _ = choose_motion_start(order, "zero", evaluate, sessions)
        assert order[win][0] == "registration"
        assert {e.name: e.n_motion_pairs for e in evidence} == {"zero": 0, "registration": 3}
