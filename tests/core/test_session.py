"""The curation session without Qt: gestures, undo after reopening, statistics, selection."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from dant_core.cluster_stats import FEW, MARGIN, SIMILARITY, group_units
from dant_core.curation_log import LOG_FILE
from dant_core.selection_plan import SelectionNeeded
from dant_core.session import Session

#          unit: 0  1  2  3  4  5  6  7  8  9
LABELS = np.array([3, 3, 3, 3, 5, 5, 5, -1, 8, 8])
SESSIONS = np.array([1, 2, 3, 4, 1, 2, 3, 4, 1, 5])
DEPTHS = np.array([100.0, 110, 120, 130, 400, 410, 420, 600, 800, 810])
CONSTANT = np.array([0.0, 5.0, 10.0, 15.0, 20.0])  # motion of sessions 1..5 (µm)


class FakeResult:
    """The part of a TrackingResult the session reads: one shank, a fixed similarity."""

    def __init__(self):
        rng = np.random.default_rng(1)
        n = LABELS.size
        sim = rng.random((n, n)) * 5
        self.sim = (sim + sim.T) / 2
        np.fill_diagonal(self.sim, 6.0)
        self.idx_cluster = LABELS.copy()
        self.sessions = SESSIONS
        self.n_units, self.n_sessions = n, 5
        self.locations = np.column_stack([np.zeros(n), DEPTHS])
        self.thresholds = np.array([0.5])
        self.unit_shank_index = np.zeros(n, dtype=np.int64)
        motion = SimpleNamespace(at=lambda s, y: CONSTANT[np.asarray(s) - 1] + 0 * y)
        self.shanks = [SimpleNamespace(units=np.arange(n), motion=motion)]

    def similarity_block(self, rows, cols, feature=None):
        return self.sim[np.ix_(np.asarray(rows), np.asarray(cols))]

    def threshold_of(self, unit):
        return 0.5


@pytest.fixture
def folder(tmp_path):
    np.save(tmp_path / "IdxCluster.npy", LABELS)
    return tmp_path


def _log(folder) -> list[dict]:
    return [json.loads(x) for x in (folder / LOG_FILE).read_text().splitlines()]


def test_rejecting_three_units_is_one_record_and_one_undo_after_reopening(folder):
    result = FakeResult()
    s = Session(result, folder)
    s.select_units([1, 2, 5])  # two of cluster 3, one of cluster 5
    s.perform("reject")
    after = np.array(s.labels)
    assert after[[1, 2, 5]].tolist() == [-1, -1, -1]
    assert after[0] == after[3] > 8 and after[4] == after[6] > 8 and after[0] != after[4]
    log = _log(folder)
    assert [r["action"] for r in log] == ["reject_units"] and log[0]["units"] == [1, 2, 5]
    s.do("label", unit=8, label="good")
    s.close()  # one writer at a time

    again = Session(FakeResult(), folder)
    np.testing.assert_array_equal(again.labels, after)
    again.undo()  # the label
    again.undo()  # the whole rejection, in one step
    np.testing.assert_array_equal(again.labels, LABELS)
    assert [e.done for e in again.history_entries()] == [False, False]
    assert again.history_entries()[0].text.startswith("Rejected 3 units")
    log = _log(folder)
    assert [r["action"] for r in log] == ["reject_units", "label", "undo", "undo"]
    assert log[2]["undoes"] == {"action": "label", "time": log[1]["time"]}
    assert log[3]["undoes"] == {"action": "reject_units", "time": log[0]["time"]}


def test_an_undo_naming_another_action_is_skipped_when_reopening(folder):
    s = Session(FakeResult(), folder)
    s.do("reject_unit", unit=0)
    s.do("label", unit=4, label="good")
    log = _log(folder)
    # A second writer's undo that names the first action, not the last one.
    stale = {"action": "undo", "undoes": {"action": "reject_unit", "time": log[0]["time"]}}
    with open(folder / LOG_FILE, "a") as f:
        f.write(json.dumps(stale) + "\n")
    labels = np.array(s.labels)
    s.close()  # one writer at a time
    again = Session(FakeResult(), folder)
    np.testing.assert_array_equal(again.labels, labels)  # the undo was not applied
    assert len(again.warnings) == 1 and "line 3 was skipped" in again.warnings[0]


def test_statistics_follow_edits_without_recomputing_unchanged_clusters(folder):
    s = Session(FakeResult(), folder)
    ids = s.cluster_ids().tolist()
    assert ids == [3, 5, 8]
    first = s.stats.summaries(ids)
    assert [x.n_units for x in first] == [4, 3, 2]
    assert first[0].depth == pytest.approx(115.0) and first[0].n_sessions == 4
    for k in ids:
        s.stats.value(SIMILARITY, k)
    s.review_queue()
    assert s.stats.computed == {"summary": 3, SIMILARITY: 3, MARGIN: 3}

    s.select_units([0])
    edit = s.perform("reject")
    (new,) = edit.info.added_clusters
    assert edit.info.removed_clusters == (3,)
    ids = s.cluster_ids().tolist()
    assert ids == [5, 8, new]
    rows = s.stats.summaries(ids)
    assert rows[2].n_units == 3 and rows[0] is first[1]  # cluster 5: the very same entry
    for k in ids:
        s.stats.value(SIMILARITY, k)
    s.review_queue()
    # Only the new cluster was computed again, once for each statistic.
    assert s.stats.computed == {"summary": 4, SIMILARITY: 4, MARGIN: 4}
    mean, low = s.stats.value(SIMILARITY, new)
    block = FakeResult().sim[np.ix_([1, 2, 3], [1, 2, 3])]
    off = block[~np.eye(3, dtype=bool)]
    assert (mean, low) == pytest.approx((off.mean(), off.min()))

    s.undo()  # cluster 3 comes back with its id: its statistics are computed again once
    s.stats.summaries(s.cluster_ids())
    assert s.stats.computed["summary"] == 5


def test_selection_after_an_edit(folder):
    s = Session(FakeResult(), folder)
    s.set_navigation_order([8, 5, 3])
    # Units picked in a cluster: after rejecting one, the cluster holding the rest.
    s.select_units([0])
    edit = s.perform("reject")
    (rest,) = edit.info.added_clusters
    assert edit.selection_changed and s.selection.cluster == rest
    assert s.selection.units.tolist() == [1, 2, 3] and not s.selection.chosen
    # A merge of two table rows selects the merged cluster.
    s.select_clusters([8, rest])
    edit = s.perform("merge")
    (merged,) = edit.info.added_clusters
    assert s.selection.cluster == merged and s.selection.clusters == (merged,)
    # A cluster dissolved entirely: the next cluster in the table's order.
    s.set_navigation_order([5, merged])
    s.select_cluster(5)
    s.select_units([4, 5])
    s.perform("reject")  # 6 is left alone: cluster 5 is gone, its units unmatched
    assert s.selection.cluster == merged
    s.select_cluster(merged)
    s.undo()  # the reject of 4 and 5: cluster 5 is back, merged still exists
    assert s.selection.cluster == merged
    s.undo()  # the merge: back to the cluster holding most of its units
    assert s.selection.cluster == rest


def test_gestures_without_a_selection_say_what_to_select(folder):
    s = Session(FakeResult(), folder)
    s.select_cluster(3)  # a whole cluster: no units chosen
    with pytest.raises(SelectionNeeded, match="No units selected"):
        s.perform("reject")
    assert "Merge" not in s.describe("merge") and "Nothing to merge" in s.describe("merge")
    assert not (folder / LOG_FILE).exists()


def test_corrected_depth_is_measured_minus_motion(folder):
    s = Session(FakeResult(), folder)
    expected = DEPTHS - CONSTANT[SESSIONS - 1]
    np.testing.assert_array_equal(s.corrected_depth(), expected)


def test_session_does_not_load_qt():
    code = (
        "import sys, dant_core.session; "
        "print([m for m in sys.modules if m.startswith(('PyQt', 'pyqtgraph', 'dant_gui'))])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr


@pytest.mark.parametrize("n_ids", [1, FEW, FEW + 1, 60])
def test_group_units_gives_each_clusters_units_ascending(n_ids):
    rng = np.random.default_rng(n_ids)
    labels = rng.integers(-1, 80, size=2000)
    ids = rng.choice(np.arange(-1, 85), size=n_ids, replace=False)  # some absent
    groups = group_units(labels, ids)
    assert list(groups) == [int(k) for k in ids]
    for k, units in groups.items():
        assert units.dtype == np.int64
        np.testing.assert_array_equal(units, np.flatnonzero(labels == k))
