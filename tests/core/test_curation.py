"""Manual curation (dant_core.curation): action semantics, undo/redo, the log and recovery."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dant_core.curation import (
    CurationError,
    CurationState,
    export_numbers,
    renumber_by_first_unit,
)
from dant_core.curation_log import INCOMPLETE_SUFFIX, LOG_FILE, Curator, read_log, replay
from dant_core.errors import DantError
from dant_core.review import review_order, reviewed_count, weakest_link

# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


class FakeResult:
    """The part of a TrackingResult curation uses, over a fixed similarity matrix."""

    def __init__(self, labels, sessions, similarity, threshold=0.5):
        self.idx_cluster = np.asarray(labels, dtype=np.int64)
        self.sessions = np.asarray(sessions, dtype=np.int64)
        self.sim = np.asarray(similarity, dtype=np.float64)
        self.n_units = self.idx_cluster.size
        self.threshold = threshold

    def similarity_block(self, rows, cols):
        return self.sim[np.ix_(np.asarray(rows), np.asarray(cols))]

    def threshold_of(self, unit):
        return self.threshold


def provider(sim):
    return lambda units: sim[np.ix_(units, units)]


def random_similarity(n, seed):
    rng = np.random.default_rng(seed)
    m = rng.random((n, n)) * 5
    m = (m + m.T) / 2
    np.fill_diagonal(m, 6.0)
    return m


def state_of(labels, sessions, sim=None):
    n = len(labels)
    sim = random_similarity(n, 0) if sim is None else np.asarray(sim, dtype=float)
    return CurationState(np.array(labels), np.array(sessions), provider(sim))


def no_session_clash(labels, sessions):
    for k in np.unique(labels[labels > 0]):
        s = sessions[labels == k]
        if np.unique(s).size != s.size:
            return False
    return True


def same_state(a: CurationState, b: CurationState) -> None:
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.cluster_labels == b.cluster_labels
    assert a.history == b.history
    assert a.redo_history == b.redo_history
    assert a.next_cluster_id == b.next_cluster_id


# ------------------------------------------------------------------------------------------
# each action
# ------------------------------------------------------------------------------------------

#          unit: 0  1  2  3  4  5  6  7
LABELS = [3, 3, 3, 3, 5, 5, -1, -1]  # ids 3 and 5: clusters 1 and 2 in the files
SESSIONS = [1, 2, 3, 4, 1, 2, 3, 4]


def test_reject_unit_leaves_the_rest_as_a_new_cluster():
    s = state_of(LABELS, SESSIONS)
    info = s.apply({"action": "reject_unit", "unit": 1})
    assert s.labels[1] == -1
    assert s.labels[[0, 2, 3]].tolist() == [6, 6, 6]  # new id: max ever (5) + 1
    assert info.removed_clusters == (3,) and info.added_clusters == (6,)
    assert info.changed_clusters == (3, 6)
    assert set(info.units.tolist()) == {0, 1, 2, 3}
    assert info.description.startswith("Rejected unit 1 from cluster 1")
    assert "now cluster 1" in info.description  # id 6, first unit 0


def test_reject_unit_from_a_pair_leaves_both_unmatched():
    s = state_of(LABELS, SESSIONS)
    s.apply({"action": "reject_unit", "unit": 4})
    assert s.labels[4] == -1 and s.labels[5] == -1
    assert 5 not in s.cluster_ids()


def test_reject_unit_of_an_unmatched_unit_is_refused():
    s = state_of(LABELS, SESSIONS)
    with pytest.raises(CurationError, match="unit 6 is not in a cluster"):
        s.apply({"action": "reject_unit", "unit": 6})
    assert not s.can_undo


def test_unknown_unit_is_refused_with_its_index():
    s = state_of(LABELS, SESSIONS)
    for action in (
        {"action": "reject_unit", "unit": 99999},
        {"action": "merge", "units": [0, 8]},
        {"action": "add_unit", "unit": -1, "to_unit": 0},
        {"action": "split", "units": [0, 99999]},
    ):
        with pytest.raises(
            CurationError,
            match=r"unit (99999|8|-1) does not exist \(units are "
            r"numbered 0\.\.7\)",
        ):
            s.apply(action)
    with pytest.raises(CurationError, match="unknown action 'explode'"):
        s.apply({"action": "explode", "unit": 1})
    with pytest.raises(CurationError, match="must be an integer"):
        s.apply({"action": "reject_unit", "unit": "1"})
    with pytest.raises(CurationError, match="'unit'.*missing"):
        s.apply({"action": "reject_unit"})
    with pytest.raises(CurationError, match="exactly 2 units"):
        s.apply({"action": "merge", "units": [0, 4, 5]})
    np.testing.assert_array_equal(s.labels, LABELS)


def test_reject_pair_splits_by_similarity():
    # cluster 3 = units 0..3; 0 and 3 are rejected as a pair; 1 is closer to 0, 2 to 3.
    sim = np.eye(8) * 6
    sim[1, 0] = sim[0, 1] = 4.0
    sim[1, 3] = sim[3, 1] = 2.0
    sim[2, 0] = sim[0, 2] = 1.0
    sim[2, 3] = sim[3, 2] = 3.0
    s = state_of(LABELS, SESSIONS, sim)
    info = s.apply({"action": "reject_pair", "units": [0, 3]})
    assert s.labels[0] == s.labels[1] == 6
    assert s.labels[2] == s.labels[3] == 7
    assert info.removed_clusters == (3,) and info.added_clusters == (6, 7)


def test_reject_pair_tie_goes_to_the_first_unit_and_single_sides_are_unmatched():
    sim = np.eye(8) * 6  # every off-diagonal similarity 0: all ties
    s = state_of(LABELS, SESSIONS, sim)
    s.apply({"action": "reject_pair", "units": [2, 1]})
    assert s.labels[[0, 2, 3]].tolist() == [6, 6, 6]
    assert s.labels[1] == -1
    s2 = state_of(LABELS, SESSIONS, sim)
    s2.apply({"action": "reject_pair", "units": [4, 5]})
    assert s2.labels[4] == s2.labels[5] == -1


def test_reject_pair_refusals_name_the_units():
    s = state_of(LABELS, SESSIONS)
    with pytest.raises(
        CurationError,
        match=r"units 0 and 4 are not in the same cluster "
        r"\(unit 0: cluster 1, unit 4: cluster 2\)",
    ):
        s.apply({"action": "reject_pair", "units": [0, 4]})
    with pytest.raises(CurationError, match="unit 1 is listed twice"):
        s.apply({"action": "reject_pair", "units": [1, 1]})
    with pytest.raises(CurationError, match="unit 6: unmatched"):
        s.apply({"action": "reject_pair", "units": [6, 7]})


def test_split_makes_a_new_cluster_and_renumbers_the_rest():
    s = state_of(LABELS, SESSIONS)
    info = s.apply({"action": "split", "units": [3, 1]})
    assert s.labels[[1, 3]].tolist() == [6, 6]
    assert s.labels[[0, 2]].tolist() == [7, 7]
    assert info.added_clusters == (6, 7)
    s.apply({"action": "split", "units": [0]})
    assert s.labels[0] == -1 and s.labels[2] == -1


def test_split_refusals():
    s = state_of(LABELS, SESSIONS)
    with pytest.raises(CurationError, match="must all be in one cluster.*unit 4: cluster 2"):
        s.apply({"action": "split", "units": [0, 4]})
    with pytest.raises(CurationError, match="all of cluster 2; nothing to split"):
        s.apply({"action": "split", "units": [4, 5]})
    with pytest.raises(CurationError, match="must all be in one cluster"):
        s.apply({"action": "split", "units": [6]})
    with pytest.raises(CurationError, match="list of unit indices"):
        s.apply({"action": "split", "units": []})


def test_merge_joins_two_clusters():
    s = state_of([1, 1, 2, 2, -1], [1, 2, 3, 4, 1])
    info = s.apply({"action": "merge", "units": [1, 2]})
    assert s.labels[:4].tolist() == [3, 3, 3, 3]
    assert info.removed_clusters == (1, 2) and info.added_clusters == (3,)


def test_merge_with_unmatched_units_makes_a_cluster():
    s = state_of([1, 1, -1, -1, -1], [1, 2, 3, 4, 3])
    s.apply({"action": "merge", "units": [2, 3]})
    assert s.labels[2] == s.labels[3] == 2
    s.apply({"action": "merge", "units": [0, 3]})
    assert s.labels[:4].tolist() == [3, 3, 3, 3]


def test_merge_refusal_names_the_units_and_the_session():
    s = state_of(LABELS, SESSIONS)
    with pytest.raises(CurationError) as exc:
        s.apply({"action": "merge", "units": [1, 5]})
    msg = str(exc.value)
    assert "units 0 and 4 are both from session 1" in msg
    assert "units 1 and 5 are both from session 2" in msg
    assert "cluster 1 (unit 1)" in msg and "cluster 2 (unit 5)" in msg
    with pytest.raises(CurationError, match="already in cluster 1"):
        s.apply({"action": "merge", "units": [0, 2]})
    np.testing.assert_array_equal(s.labels, LABELS)


def test_add_unit_from_unmatched_and_from_another_cluster():
    s = state_of([1, 1, -1, 2, 2, 2], [1, 2, 3, 3, 4, 1])
    s.apply({"action": "add_unit", "unit": 2, "to_unit": 0})
    assert s.labels[:3].tolist() == [3, 3, 3]
    with pytest.raises(
        CurationError,
        match=r"unit 3 cannot join cluster 1 \(unit 1\): units 2 "  # id 3
        r"and 3 are both from session 3",
    ):
        s.apply({"action": "add_unit", "unit": 3, "to_unit": 1})
    s.apply({"action": "add_unit", "unit": 4, "to_unit": 1})
    assert s.labels[:5].tolist() == [4, 4, 4, 5, 4]
    assert s.labels[5] == 5  # the rest of cluster 2 (units 3, 5) is a new cluster
    with pytest.raises(CurationError, match="already in cluster 1"):  # id 4
        s.apply({"action": "add_unit", "unit": 4, "to_unit": 0})


def test_add_unit_to_an_unmatched_unit_pairs_them():
    s = state_of([-1, -1, 1, 1], [1, 2, 1, 2])
    s.apply({"action": "add_unit", "unit": 0, "to_unit": 1})
    assert s.labels[0] == s.labels[1] == 2


def test_labels_follow_phys_rule():
    s = state_of([1, 1, 1, 2, 2, -1], [1, 2, 3, 4, 5, 4])
    s.apply({"action": "label", "unit": 0, "label": "good"})
    assert s.cluster_labels == {1: "good"}
    s.apply({"action": "reject_unit", "unit": 2})  # the rest comes only from cluster 1
    assert s.cluster_labels == {3: "good"}
    s.apply({"action": "merge", "units": [0, 3]})  # good + unlabelled: no label
    assert s.cluster_labels == {}
    s.undo()
    s.apply({"action": "label", "unit": 3, "label": "good"})
    s.apply({"action": "merge", "units": [0, 3]})  # good + good stays good
    assert s.cluster_labels == {5: "good"} and reviewed_count(s) == 1
    s.apply({"action": "label", "unit": 0, "label": ""})
    assert s.cluster_labels == {} and reviewed_count(s) == 0
    with pytest.raises(CurationError, match="unit 5 is not in a cluster"):
        s.apply({"action": "label", "unit": 5, "label": "good"})
    s.undo()
    s.undo()
    s.apply({"action": "label", "unit": 3, "label": "reviewed"})
    s.apply({"action": "merge", "units": [0, 3]})  # good + reviewed: no label
    assert s.cluster_labels == {}


def test_undo_redo_restore_ids_and_new_ids_are_never_reused():
    s = state_of(LABELS, SESSIONS)
    s.apply({"action": "split", "units": [0, 1]})  # -> 6, 7
    after_split = s.labels.copy()
    info = s.undo()
    np.testing.assert_array_equal(s.labels, LABELS)
    assert info.history == "undo" and info.removed_clusters == (6, 7)
    assert info.added_clusters == (3,) and info.description.startswith("Undo: Split")
    s.redo()
    np.testing.assert_array_equal(s.labels, after_split)
    s.undo()
    s.apply({"action": "reject_unit", "unit": 0})  # a new action clears the redo stack
    assert not s.can_redo
    assert s.labels[1] == 8  # not 6: 6 and 7 were used by the undone split
    assert s.redo() is None
    with pytest.raises(CurationError, match="nothing to redo"):
        s.apply({"action": "redo"})


def test_export_labels_numbers_clusters_by_first_unit():
    s = state_of([7, 2, 7, 2, 9, -1, 4], [1, 1, 2, 2, 3, 3, 3])
    np.testing.assert_array_equal(s.export_labels(), [1, 2, 1, 2, -1, -1, -1])
    assert renumber_by_first_unit(np.array([-1, -1])).tolist() == [-1, -1]


def test_weakest_link_is_the_smallest_edge_of_the_maximum_spanning_tree():
    rng = np.random.default_rng(3)
    for _ in range(30):
        k = int(rng.integers(2, 7))
        m = rng.random((k, k))
        m = (m + m.T) / 2
        # brute force: the largest t such that the graph of edges >= t is connected
        best = -np.inf
        for t in np.unique(m):
            reach, frontier = {0}, [0]
            while frontier:
                i = frontier.pop()
                for j in range(k):
                    if j not in reach and m[i, j] >= t:
                        reach.add(j)
                        frontier.append(j)
            if len(reach) == k:
                best = max(best, t)
        assert weakest_link(m) == pytest.approx(best)


def test_review_order_puts_weak_clusters_first_and_reviewed_ones_last():
    labels = [1, 1, 2, 2, 3, 3]
    sim = np.eye(6) * 6
    for (a, b), v in {(0, 1): 3.0, (2, 3): 0.7, (4, 5): 1.5}.items():
        sim[a, b] = sim[b, a] = v
    result = FakeResult(labels, [1, 2, 1, 2, 1, 2], sim, threshold=1.0)
    s = state_of(labels, [1, 2, 1, 2, 1, 2], sim)
    cache = {}
    assert review_order(s, result, cache) == [2, 3, 1]
    assert cache == pytest.approx({1: 2.0, 2: -0.3, 3: 0.5})
    s.apply({"action": "label", "unit": 2, "label": "reviewed"})
    assert review_order(s, result, cache) == [3, 1, 2]
    assert reviewed_count(s) == 1


# ------------------------------------------------------------------------------------------
# random action sequences
# ------------------------------------------------------------------------------------------

KINDS = [
    "reject_unit",
    "reject_pair",
    "split",
    "merge",
    "add_unit",
    "label",
    "undo",
    "redo",
    "bogus",
]


@st.composite
def scenarios(draw):
    n = draw(st.integers(3, 14))
    n_sessions = draw(st.integers(2, 5))
    sessions = np.array(draw(st.lists(st.integers(1, n_sessions), min_size=n, max_size=n)))
    raw = np.array(draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n)))
    raw[raw == 0] = -1
    labels = raw.copy()
    for k in np.unique(raw[raw > 0]):  # the automatic result has one unit per session
        seen = set()
        for u in np.flatnonzero(raw == k):
            if sessions[u] in seen:
                labels[u] = -1
            seen.add(sessions[u])
    # Most operations pick their units from the current state when run ("smart"), so that
    # most are valid; the raw ones name units directly, -1 and n included, often invalid.
    picks = st.lists(st.integers(0, 1000), min_size=3, max_size=5)
    smart = st.tuples(
        st.sampled_from(KINDS + ["merge", "undo", "redo", "redo"]),
        picks,
        st.sampled_from(["good", "reviewed", ""]),
        st.just(True),
    )
    raw_op = st.tuples(
        st.sampled_from(KINDS),
        st.lists(st.integers(-1, n), max_size=3),
        st.just("x"),
        st.just(False),
    )
    ops = draw(st.lists(st.one_of(smart, smart, smart, raw_op), min_size=4, max_size=30))
    seed = draw(st.integers(0, 2**16))
    return labels, sessions, random_similarity(n, seed), ops


def resolve(state: CurationState, op) -> tuple[str, dict]:
    """The action an operation stands for in the current state: (kind, fields)."""
    kind, picks, label, smart = op
    if not smart:
        u = list(picks) + [0, 0]
        fields = {
            "reject_unit": {"unit": u[0]},
            "label": {"unit": u[0], "label": label},
            "add_unit": {"unit": u[0], "to_unit": u[1]},
            "bogus": {"unit": u[0]},
        }
        return kind, fields.get(kind, {"units": list(picks)})
    labels = state.labels
    n = labels.size
    clustered = np.flatnonzero(labels > 0)
    anyone = int(picks[0] % n)
    someone = int(clustered[picks[0] % clustered.size]) if clustered.size else anyone
    members = state.members(state.cluster_of(someone))
    if kind in ("reject_unit", "bogus"):
        return kind, {"unit": someone}
    if kind == "label":
        return kind, {"unit": someone, "label": label}
    # half of the merges and additions pick a partner from other sessions: mostly allowed
    others = np.flatnonzero(~np.isin(state.sessions, state.sessions[members]))
    partner = (
        int(others[picks[1] % others.size]) if others.size and picks[2] % 2 else (int(picks[1] % n))
    )
    if kind == "add_unit":
        return kind, {"unit": partner, "to_unit": someone}
    if kind == "merge":
        return kind, {"units": [someone, partner]}
    if kind == "reject_pair" and members.size >= 2:
        i = picks[1] % members.size
        j = (i + 1 + picks[2] % (members.size - 1)) % members.size
        return kind, {"units": [int(members[i]), int(members[j])]}
    if kind == "split" and members.size >= 2:
        chosen = [int(m) for k, m in enumerate(members) if (picks[1] >> k) & 1]
        return kind, {"units": chosen or [int(members[0])]}
    return kind, {"units": [someone, anyone]}


def joins_two_of_a_session(labels, sessions, kind, fields) -> bool:
    """Whether a merge / add_unit would put two units of one session in a cluster."""
    if kind not in ("merge", "add_unit"):
        return False
    pair = fields["units"] if kind == "merge" else [fields["unit"], fields["to_unit"]]
    if len(pair) != 2:
        return False
    a, b = pair
    n = labels.size
    if not (0 <= a < n and 0 <= b < n) or a == b:
        return False
    group_b = set(np.flatnonzero(labels == labels[b]).tolist()) if labels[b] > 0 else {b}
    if kind == "merge":
        group_a = set(np.flatnonzero(labels == labels[a]).tolist()) if labels[a] > 0 else {a}
    else:
        group_a = {a}
    if group_a & group_b:
        return False
    together = sorted(group_a | group_b)
    return len({int(sessions[u]) for u in together}) < len(together)


def run_op(cur: Curator, kind: str, fields: dict):
    if kind == "undo":
        return cur.undo()
    if kind == "redo":
        return cur.redo()
    return cur.do(kind, **fields)


def log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_random_sequences_keep_every_invariant_and_replay_exactly(scenario):
    check_sequence(*scenario)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_long_random_sequences_keep_every_invariant(seed):
    rng = np.random.default_rng(seed)
    n, n_sessions = 40, 6
    sessions = rng.integers(1, n_sessions + 1, n)
    labels = np.full(n, -1)
    for k in range(1, 9):  # clusters of one unit per session, ids with gaps
        for s in range(1, n_sessions + 1):
            free = np.flatnonzero((sessions == s) & (labels == -1))
            if free.size and rng.random() < 0.7:
                labels[free[0]] = 3 * k
    kinds = KINDS + ["merge", "undo", "redo", "redo"]
    ops = [
        (
            kinds[rng.integers(len(kinds))],
            rng.integers(0, 1000, 3).tolist(),
            ["good", "reviewed", ""][rng.integers(3)],
            bool(rng.random() < 0.85),
        )
        for _ in range(300)
    ]
    check_sequence(labels, sessions, random_similarity(n, seed), ops)


def check_sequence(labels, sessions, sim, ops):
    """Run the operations through a Curator, checking the invariants after each one, then
    check that the log rebuilds the same state and the same export."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log = folder / LOG_FILE
        cur = Curator(folder, FakeResult(labels, sessions, sim))
        members_of = {
            int(k): frozenset(np.flatnonzero(labels == k).tolist())
            for k in np.unique(labels[labels > 0])
        }
        max_id = int(labels.max(initial=0))
        undo_stack, redo_stack = [], []  # model of the history: states to go back/forward to
        for op in ops:
            before = cur.state.labels.copy()
            before_cl = dict(cur.state.cluster_labels)
            size = log_size(log)
            kind, fields = resolve(cur.state, op)
            must_refuse = joins_two_of_a_session(before, sessions, kind, fields)
            try:
                info = run_op(cur, kind, fields)
            except CurationError:
                info = None
            if info is None:  # refused, or nothing to undo/redo: no change, nothing logged
                np.testing.assert_array_equal(cur.state.labels, before)
                assert cur.state.cluster_labels == before_cl
                assert log_size(log) == size
                assert kind != "undo" or not undo_stack
                assert kind != "redo" or not redo_stack
                continue
            assert not must_refuse
            assert log_size(log) > size
            now = cur.state.labels
            numbers = export_numbers(now)  # what messages name clusters by, kept incrementally
            for c, number in numbers.items():
                assert cur.state._file_numbers(f"cluster {c}") == f"cluster {number}"
            snapshot = (before, before_cl)
            if kind == "undo":
                expected = undo_stack.pop()
                redo_stack.append(snapshot)
            elif kind == "redo":
                expected = redo_stack.pop()
                undo_stack.append(snapshot)
            else:
                expected = None
                undo_stack.append(snapshot)
                redo_stack.clear()
            if expected is not None:
                np.testing.assert_array_equal(now, expected[0])
                assert cur.state.cluster_labels == expected[1]
            assert no_session_clash(now, sessions)
            # every cluster id always names the same units: caches keyed by id stay valid
            for k in np.unique(now[now > 0]):
                units = frozenset(np.flatnonzero(now == k).tolist())
                assert members_of.setdefault(int(k), units) == units
            if info.history is None:
                assert all(k > max_id for k in info.added_clusters)
            max_id = max([max_id, *info.added_clusters])
            assert set(cur.state.cluster_labels) <= set(now[now > 0].tolist())
            changed = np.flatnonzero(before != now)
            assert set(changed.tolist()) == set(info.units.tolist())
            gone = set(before[before > 0].tolist()) - set(now[now > 0].tolist())
            assert gone <= set(info.removed_clusters)
            if kind == "reject_pair":
                a, b = fields["units"]
                assert now[a] == -1 or now[a] != now[b]
                for m in np.flatnonzero(before == before[a]):
                    if m in (a, b):
                        continue
                    side = a if sim[m, a] >= sim[m, b] else b
                    assert now[m] == now[side] and now[m] > 0
        # the log alone rebuilds the live state
        actions, warnings = read_log(log)
        assert warnings == []
        assert all("time" in a for a in actions)
        rebuilt = replay(labels, sessions, provider(sim), actions)
        same_state(rebuilt, cur.state)
        exported = cur.state.export_labels()
        cur.close()  # one writer at a time
        reopened = Curator(folder, FakeResult(labels, sessions, sim))
        assert reopened.warnings == []
        same_state(reopened.state, cur.state)
        np.testing.assert_array_equal(reopened.state.export_labels(), exported)
        # the export: 1..K in order of first unit, no one-unit clusters
        pos = exported[exported > 0]
        if pos.size:
            _, first = np.unique(pos, return_index=True)
            assert np.all(np.diff(first) > 0) and pos.max() == np.unique(pos).size
            assert np.bincount(pos)[1:].min() >= 2


# ------------------------------------------------------------------------------------------
# the log file
# ------------------------------------------------------------------------------------------

AUTO = np.array([1, 1, 1, 2, 2, 2, -1, -1, 3, 3])
AUTO_SESSIONS = np.array([1, 2, 3, 1, 2, 3, 1, 4, 4, 2])


def curator(folder: Path) -> Curator:
    return Curator(folder, FakeResult(AUTO, AUTO_SESSIONS, random_similarity(10, 1)))


def write_some_actions(folder: Path) -> Curator:
    cur = curator(folder)
    cur.do("reject_unit", unit=0)
    cur.do("label", unit=3, label="good")
    cur.do("merge", units=[6, 7])
    cur.undo()
    cur.redo()
    cur.do("reject_pair", units=[3, 5])
    cur.do("add_unit", unit=0, to_unit=8)
    cur.undo()
    cur.do("split", units=[1])
    return cur


def test_log_lines_hold_action_fields_and_iso_time(tmp_path):
    cur = write_some_actions(tmp_path)
    lines = (tmp_path / LOG_FILE).read_text().splitlines()
    assert len(lines) == 9
    records = [json.loads(x) for x in lines]
    assert records[0]["action"] == "reject_unit" and records[0]["unit"] == 0
    assert records[2]["units"] == [6, 7]
    assert records[3]["action"] == "undo" and records[4]["action"] == "redo"
    assert records[6] == {**records[6], "action": "add_unit", "unit": 0, "to_unit": 8}
    for r in records:
        assert datetime.fromisoformat(r["time"]).tzinfo is not None
    # refused and no-op actions are not logged
    with pytest.raises(CurationError):
        cur.do("merge", units=[0, 99999])
    while cur.redo():
        pass
    assert len((tmp_path / LOG_FILE).read_text().splitlines()) == 9


def test_a_log_cut_anywhere_recovers_every_complete_line(tmp_path):
    write_some_actions(tmp_path)
    data = (tmp_path / LOG_FILE).read_bytes()
    ends = [i + 1 for i, c in enumerate(data) if c == ord("\n")]
    full, _ = read_log(tmp_path / LOG_FILE)
    cuts = sorted(
        set(
            np.random.default_rng(5).integers(0, len(data), 25).tolist()
            + [0, len(data), ends[3] - 1, ends[3] + 1, ends[-1] - 1]
        )
    )
    for cut in cuts:
        folder = tmp_path / f"cut{cut}"
        folder.mkdir()
        log = folder / LOG_FILE
        log.write_bytes(data[:cut])
        actions, warnings = read_log(log)
        # a line whose JSON is whole counts even without its newline
        n_whole = sum(1 for e in ends if e - 1 <= cut)
        assert actions == full[:n_whole]
        partial = cut > 0 and cut not in ends and cut + 1 not in ends
        assert len(warnings) == (1 if partial else 0)
        if partial:
            assert "incomplete" in warnings[0] and f"line {n_whole + 1}" in warnings[0]
        cur = curator(folder)
        assert cur.warnings == warnings
        same_state(
            cur.state,
            replay(AUTO, AUTO_SESSIONS, provider(random_similarity(10, 1)), full[:n_whole]),
        )
        # appending after the cut starts on a fresh line and loses nothing complete
        cur.do("label", unit=8, label="reviewed")
        actions2, warnings2 = read_log(log)
        assert warnings2 == []
        assert actions2[:-1] == full[:n_whole]
        assert actions2[-1]["action"] == "label"
        assert log.read_bytes().endswith(b"\n")
        if partial:
            assert (folder / (LOG_FILE + INCOMPLETE_SUFFIX)).is_file()
        cur.close()
        same_state(curator(folder).state, cur.state)


def test_a_hand_written_last_line_without_newline_is_kept(tmp_path):
    log = tmp_path / LOG_FILE
    log.write_text('{"action": "reject_unit", "unit": 0}')
    cur = curator(tmp_path)
    assert cur.warnings == [] and cur.state.labels[0] == -1
    cur.do("reject_unit", unit=3)
    actions, warnings = read_log(log)
    assert [a["unit"] for a in actions] == [0, 3] and warnings == []


def test_bad_lines_are_skipped_with_a_warning_when_opening(tmp_path):
    log = tmp_path / LOG_FILE
    log.write_text(
        '{"action": "reject_unit", "unit": 0}\n'
        "this is not json\n"
        "\n"
        '{"action": "reject_unit", "unit": 99999}\n'
        '{"action": "merge", "units": [0, 8]}\n'
        '{"action": "undo"}\n'
        '{"action": "undo"}\n'
        '{"action": "undo"}\n'
        '{"action": "reject_unit", "unit": 4}\n'
    )
    cur = curator(tmp_path)
    assert len(cur.warnings) == 3
    assert "line 2 is not valid JSON" in cur.warnings[0]
    assert "line 4 was skipped" in cur.warnings[1] and "99999" in cur.warnings[1]
    assert "line 8 was skipped: nothing to undo" in cur.warnings[2]
    np.testing.assert_array_equal(cur.state.labels, [1, 1, 1, 6, -1, 6, -1, -1, 3, 3])


def test_replay_refuses_invalid_actions_or_reports_them():
    with pytest.raises(CurationError, match="action 2 .*unit 99999 does not exist"):
        replay(
            AUTO,
            AUTO_SESSIONS,
            provider(random_similarity(10, 1)),
            [{"action": "reject_unit", "unit": 0}, {"action": "reject_unit", "unit": 99999}],
        )
    errors = []
    state = replay(
        AUTO,
        AUTO_SESSIONS,
        provider(random_similarity(10, 1)),
        [{"action": "merge", "units": [0, 3]}, {"action": "reject_unit", "unit": 0}],
        on_error=lambda i, a, e: errors.append(i),
    )
    assert errors == [1] and state.labels[0] == -1


def test_curator_write_failure_leaves_the_state_unchanged(tmp_path):
    cur = curator(tmp_path / "missing_folder")
    with pytest.raises(DantError, match="cannot write the curation log"):
        cur.do("reject_unit", unit=0)
    np.testing.assert_array_equal(cur.state.labels, AUTO)
    assert not cur.state.can_undo


def test_curator_starts_from_the_kept_automatic_labels(tmp_path):
    np.save(tmp_path / "IdxCluster_auto.npy", AUTO)
    np.save(tmp_path / "IdxCluster.npy", np.full(10, -1))  # an earlier curated export
    cur = curator(tmp_path)
    np.testing.assert_array_equal(cur.state.labels, AUTO)


def test_replaying_5000_actions_on_20000_units_gives_the_live_state():
    # How fast this is lives in benchmarks/, not in a timing assert here.
    n, n_sessions = 20000, 4
    sessions = np.arange(n) % n_sessions + 1
    auto = np.arange(n) // n_sessions + 1

    def sim(units):
        u = units.astype(float)
        return np.cos(np.subtract.outer(u, u) * 0.37) + 2

    rng = np.random.default_rng(0)
    live = CurationState(auto, sessions, sim)
    actions = []
    while len(actions) < 5000:
        k = rng.integers(0, 8)
        u = int(rng.integers(0, n))
        c = live.cluster_of(u)
        members = live.members(c)
        if k == 0:
            a = {"action": "reject_unit", "unit": u}
        elif k == 1 and members.size >= 2:
            a = {"action": "reject_pair", "units": [int(x) for x in members[:2]]}
        elif k == 2:
            a = {"action": "merge", "units": [u, int(rng.integers(0, n))]}
        elif k == 3:
            a = {"action": "add_unit", "unit": u, "to_unit": int(rng.integers(0, n))}
        elif k == 4 and members.size >= 3:
            a = {"action": "split", "units": [int(x) for x in members[1:]]}
        elif k == 5:
            a = {"action": "label", "unit": u, "label": "good"}
        else:
            a = {"action": "undo" if k == 6 else "redo"}
        try:
            live.apply(a)
        except CurationError:
            continue
        actions.append(a)
    rebuilt = replay(auto, sessions, sim, actions)
    same_state(rebuilt, live)


def test_reject_units_is_one_action_with_the_partition_of_rejecting_one_by_one():
    one = state_of(LABELS, SESSIONS)
    info = one.apply({"action": "reject_units", "units": [5, 1, 2, 6]})  # 6: unmatched
    assert len(one.history) == 1 and one.history[0]["units"] == [1, 2, 5, 6]
    several = state_of(LABELS, SESSIONS)
    for u in (1, 2, 5):
        several.apply({"action": "reject_unit", "unit": u})
    np.testing.assert_array_equal(one.export_labels(), several.export_labels())
    assert info.removed_clusters == (3, 5) and info.added_clusters == (6,)
    assert one.labels[[0, 3]].tolist() == [6, 6] and one.labels[4] == -1
    one.undo()
    np.testing.assert_array_equal(one.labels, LABELS)
    with pytest.raises(CurationError, match="units 6, 7 are not in a cluster"):
        one.apply({"action": "reject_units", "units": [6, 7]})


def test_an_undo_that_names_another_action_is_refused():
    s = state_of(LABELS, SESSIONS)
    s.apply({"action": "reject_unit", "unit": 1, "time": "t1"})
    record = s.history_record("undo")
    assert record == {"action": "undo", "undoes": {"action": "reject_unit", "time": "t1"}}
    with pytest.raises(CurationError, match="undo names 'merge'"):
        s.apply({"action": "undo", "undoes": {"action": "merge", "time": "t1"}})
    s.apply(record)
    np.testing.assert_array_equal(s.labels, LABELS)
    assert s.history_record("undo") is None


def test_descriptions_and_refusals_name_clusters_as_the_files_and_tables_do():
    """Internal ids drift from IdxCluster.npy's 1..K after edits; the window shows the
    files' numbers (export_numbers), so what an action says must use them too."""
    s = state_of([1, 1, 2, 2, 3, 3, -1], [1, 2, 1, 2, 3, 4, 5])
    s.apply({"action": "merge", "units": [6, 4]})  # id 4 = units 4, 5, 6: cluster 3
    info = s.apply({"action": "reject_unit", "unit": 0})  # cluster 1 (id 1) dissolves
    assert info.description.startswith("Rejected unit 0 from cluster 1")
    assert export_numbers(s.labels) == {2: 1, 4: 2}
    joined = s.apply({"action": "add_unit", "unit": 1, "to_unit": 6})
    new_id = joined.added_clusters[0]
    assert new_id == 5 and export_numbers(s.labels) == {5: 1, 2: 2}
    assert "to cluster 2 (unit 6)" in joined.description  # id 4, as shown before the edit
    assert joined.description.endswith("now cluster 1")  # id 5, as shown after it
    with pytest.raises(CurationError, match=r"already in cluster 1\b"):
        s.apply({"action": "add_unit", "unit": 1, "to_unit": 4})
