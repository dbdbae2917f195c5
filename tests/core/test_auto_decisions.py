"""Taking back one automatic decision (AutoCuration.json) as one curation action.

A small constructed result: one decision of every kind, written as the adaptive curation
writes them, and the automatic clusters they left.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dant_core.auto_decisions import AutoDecision, AutoDecisions
from dant_core.curation import CurationError, CurationState
from dant_core.curation_log import LOG_FILE, replay
from dant_core.session import Session, open_session

#              unit: 0  1   2  3  4  5  6  7  8  9 10 11 12  13 14 15 16 17
AUTO = np.array([1, 1, -1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 5, -1, 5, 6, 6, 6])
SESSIONS = np.array([1, 2, 3, 1, 2, 3, 4, 1, 2, 3, 1, 2, 1, 1, 2, 1, 2, 3])
RECORDS = [
    {"decision": "split", "units": [0, 1, 2], "groups": [[0, 1], [2]], "margin": -0.2},
    {
        "decision": "recluster",
        "units": [12, 13, 14],
        "groups": [[12, 14], [13]],
        "sessions": [1],
        "margin": -0.5,
    },
    {"decision": "merge", "units": [3, 4, 5, 6], "groups": [[3, 4], [5, 6]], "margin": 0.45},
    {"decision": "pair", "units": [10, 11], "margin": 0.9},
    {"decision": "pair", "units": [15, 16], "margin": 0.8},
    {"decision": "attach", "units": [9], "to_units": [7, 8], "margin": 0.041},
    {"decision": "attach", "units": [17], "to_units": [15, 16], "margin": 0.3},
]
DECISIONS = [AutoDecision.from_record({"shank": 1, **r}, i) for i, r in enumerate(RECORDS)]
BY_KIND = {d.kind: d for d in reversed(DECISIONS)}  # the first of each kind

# What each decision's undo leaves: its units' clusters (2+ units) and unmatched units.
BEFORE = {
    "split": ([(0, 1, 2)], []),
    "merge": ([(3, 4), (5, 6)], []),
    "attach": ([(7, 8)], [9]),
    "pair": ([], [10, 11]),
}


def _state() -> CurationState:
    return CurationState(AUTO, SESSIONS, lambda units: np.zeros((len(units), len(units))))


def _grouping(state: CurationState, units) -> tuple[list[tuple], list[int]]:
    """The clusters holding `units` (as unit tuples) and which of them are unmatched."""
    labels = state.labels
    clusters = sorted({tuple(state.members(int(labels[u]))) for u in units if labels[u] > 0})
    return clusters, [int(u) for u in units if labels[u] <= 0]


def _undo(state: CurationState, decision: AutoDecision):
    return state.apply({"action": "undo_decision", **decision.action()})


@pytest.mark.parametrize("kind", sorted(BEFORE))
def test_taking_back_a_decision_restores_the_grouping_before_it_in_one_step(kind):
    state = _state()
    decision = BY_KIND[kind]
    info = _undo(state, decision)
    assert _grouping(state, decision.all_units) == BEFORE[kind]
    assert len(state.history) == 1 and state.history[0]["action"] == "undo_decision"
    assert info.description.startswith(f"Took back the automatic {kind}")
    untouched = np.setdiff1d(np.arange(AUTO.size), decision.all_units)
    np.testing.assert_array_equal(state.labels[untouched], AUTO[untouched])
    after = np.array(state.labels)

    state.undo()  # one Ctrl+Z brings the decision back
    np.testing.assert_array_equal(state.labels, AUTO)
    state.redo()  # and redo takes it back again, with the same cluster ids
    np.testing.assert_array_equal(state.labels, after)


def test_a_recluster_is_refused_naming_it_and_the_units_of_one_session():
    state = _state()
    with pytest.raises(CurationError) as caught:
        _undo(state, BY_KIND["recluster"])
    message = str(caught.value)
    assert "the automatic recluster of units 12, 13, 14 (shank 1)" in message
    assert "units 12 and 13 are both from session 1" in message
    assert "merge its groups by hand" in message
    np.testing.assert_array_equal(state.labels, AUTO)
    assert not state.can_undo


def test_refused_when_a_later_edit_changed_what_the_decision_made():
    state = _state()
    state.apply({"action": "reject_unit", "unit": 7})  # out of the cluster unit 9 joined
    with pytest.raises(CurationError, match="attach of unit 9 to units 7, 8 .* was changed since"):
        _undo(state, BY_KIND["attach"])
    state.undo()
    _undo(state, BY_KIND["attach"])
    with pytest.raises(CurationError, match="is taken back already"):
        _undo(state, BY_KIND["attach"])
    # A manual edit that only looks like the decision's undo is not mistaken for its result.
    state = _state()
    state.apply({"action": "add_unit", "unit": 2, "to_unit": 0})
    with pytest.raises(CurationError, match="split of units 0, 1, 2 .* is taken back already"):
        _undo(state, BY_KIND["split"])


def test_the_later_decision_to_take_back_first_is_named():
    state = _state()
    decisions = AutoDecisions(DECISIONS)
    pair = DECISIONS[4]  # units 15, 16; unit 17 was attached to them afterwards
    reason = decisions.refusal(pair, state)
    assert "was changed since: cluster 6 holds units 15, 16, 17, not 15, 16" in reason
    assert reason.endswith(
        "take back the automatic attach of unit 17 to units 15, 16 (shank 1) first"
    )
    assert decisions.refusal(DECISIONS[6], state) is None
    _undo(state, DECISIONS[6])
    assert decisions.refusal(pair, state) is None


def test_replaying_the_log_gives_the_same_clusters():
    state = _state()
    _undo(state, BY_KIND["merge"])
    state.apply({"action": "reject_unit", "unit": 3})
    _undo(state, BY_KIND["pair"])
    state.apply({"action": "undo"})
    state.apply({"action": "undo"})
    state.apply({"action": "redo"})
    log = json.loads(json.dumps(state.history + [{"action": "undo"}, {"action": "redo"}]))
    again = replay(AUTO, SESSIONS, state.similarity, log)
    np.testing.assert_array_equal(again.labels, state.labels)
    assert again.history == state.history


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"decision": "split", "units": [0, 1, 2], "groups": [[0, 1]]}, "two or more lists"),
        ({"decision": "split", "units": [0, 1, 2], "groups": [[0, 1], [5]]}, "divide its"),
        ({"decision": "attach", "units": [9]}, "'units' must be a list"),
        ({"decision": "vanish", "units": [9]}, "must be one of split, recluster"),
        ({"shank": "1", "decision": "pair", "units": [10, 11]}, "'shank' must be"),
    ],
)
def test_a_malformed_record_is_refused_saying_which_field(fields, problem):
    with pytest.raises(CurationError, match=problem):
        _state().apply({"action": "undo_decision", "shank": 1, **fields})


# ----- the session: decisions of a result folder ---------------------------------------------


class FakeResult:
    """The part of a TrackingResult a session reads for curation."""

    def __init__(self):
        self.idx_cluster = AUTO.copy()
        self.sessions = SESSIONS
        self.n_units = AUTO.size

    def similarity_block(self, rows, cols, feature=None):
        return np.zeros((len(rows), len(cols)))


@pytest.fixture
def folder(tmp_path):
    np.save(tmp_path / "IdxCluster.npy", AUTO)
    record = {"format": 1, "decisions": [{"shank": 1, **r} for r in RECORDS]}
    (tmp_path / "AutoCuration.json").write_text(json.dumps(record))
    return tmp_path


def test_the_session_reads_the_decisions_of_each_cluster(folder):
    s = Session(FakeResult(), folder)
    assert [d.kind for d in s.decisions_of(3)] == ["attach"]
    assert [d.kind for d in s.decisions_of(6)] == ["pair", "attach"]
    assert [d.kind for d in s.decisions_of(2)] == ["merge"]
    assert s.decisions_of(5)[0].sessions == (1,)
    text = s.decisions_of(3)[0].describe(SESSIONS)
    assert text == "Unit 9 (session 3) attached to the cluster of units 7, 8, mean margin +0.041"
    assert s.decisions_of(1)[0].describe(SESSIONS) == (
        "HDBSCAN cluster of 3 units cut where its links were weak: units 0, 1; unit 2 left "
        "unmatched; closest groups kept apart: mean margin -0.200"
    )
    many = AutoDecision(
        1, "split", tuple(range(9)), ((0, 1, 2),) + tuple((u,) for u in range(3, 9))
    )
    assert "6 units left unmatched (3, 4, 5, 6, 7); closest" in many.describe(np.ones(9, int))


def test_a_result_without_the_file_has_no_decisions(folder, tmp_path_factory):
    plain = tmp_path_factory.mktemp("plain")
    np.save(plain / "IdxCluster.npy", AUTO)
    s = Session(FakeResult(), plain)
    assert len(s.auto_decisions) == 0 and s.decisions_of(3) == ()
    assert len(Session(FakeResult(), None).auto_decisions) == 0
    (folder / "AutoCuration.json").write_text("{not json")
    damaged = AutoDecisions.load(folder, AUTO.size)
    assert len(damaged) == 0 and "AutoCuration.json: cannot read" in damaged.warning
    opened, notes = open_session(FakeResult(), folder)  # said when the folder opens
    assert any("AutoCuration.json: cannot read the automatic decisions" in n for n in notes)
    np.testing.assert_array_equal(opened.labels, AUTO)
    opened.close()
    records = [{"shank": 1, **r} for r in RECORDS] + [
        {"shank": 1, "decision": "pair", "units": [0, 99]}
    ]
    (folder / "AutoCuration.json").write_text(json.dumps({"decisions": records}))
    partial = AutoDecisions.load(folder, AUTO.size)
    assert len(partial) == len(RECORDS) and "1 of 8 decisions" in partial.warning


def test_undoing_a_decision_is_one_log_line_and_one_undo_after_reopening(folder):
    s = Session(FakeResult(), folder)
    attach = s.decisions_of(3)[0]
    edit = s.undo_decision(attach)
    assert edit.info.removed_clusters == (3,)
    after = np.array(s.labels)
    assert after[9] == -1 and after[7] == after[8] > 6
    (line,) = [json.loads(x) for x in (folder / LOG_FILE).read_text().splitlines()]
    assert {k: line[k] for k in ("action", "shank", "decision", "units", "to_units")} == {
        "action": "undo_decision",
        "shank": 1,
        "decision": "attach",
        "units": [9],
        "to_units": [7, 8],
    }
    with pytest.raises(
        CurationError, match="pair of units 15 and 16 .* take back the automatic attach of unit 17"
    ):
        s.undo_decision(s.decisions_of(6)[0])
    s.close()

    again = Session(FakeResult(), folder)
    np.testing.assert_array_equal(again.labels, after)
    again.undo()
    np.testing.assert_array_equal(again.labels, AUTO)
