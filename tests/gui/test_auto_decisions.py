"""The review queue shows the automatic curation's decisions, and one is taken back from it
as one curation action that Ctrl+Z undoes. On the conftest's tracked demo, whose run with
the default (adaptive) curation wrote AutoCuration.json."""

from __future__ import annotations

import json

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from dant_gui.views.review import AUTO

CTRL = Qt.KeyboardModifier.ControlModifier


def _decisions(folder) -> list[dict]:
    record = json.loads((folder / "DANT_Output" / "AutoCuration.json").read_text())
    return record["decisions"]


def _log(controller) -> list[dict]:
    path = controller.session.curator.log_path
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def _cell(review, cluster, role=Qt.ItemDataRole.DisplayRole):
    model = review.model
    return model.index(model.row_of(cluster), AUTO).data(role)


def test_the_queue_shows_decisions_and_takes_one_back_as_one_undo_step(
    window, open_folder, tracked_folder, qtbot, dialog_log
):
    decisions = _decisions(tracked_folder)
    attaches = [d for d in decisions if d["decision"] == "attach"]
    assert attaches, "the demo run is expected to attach unmatched units"
    assert open_folder(tracked_folder)
    c, review = window.controller, window.review_view
    window.curation_tabs.setCurrentWidget(review)
    qtbot.waitUntil(lambda: not review.computing and bool(review.queue_ids()), timeout=30_000)
    session = c.session

    # The last attach: nothing was built on it, so it can be taken back.
    last = attaches[-1]
    (unit,) = last["units"]
    cluster = session.cluster_of(unit)
    assert "attach" in _cell(review, cluster)
    tip = _cell(review, cluster, Qt.ItemDataRole.ToolTipRole)
    assert f"Unit {unit} (session {session.result.sessions[unit]}) attached" in tip
    assert f"mean margin {last['margin']:+.3f}" in tip
    touched = {u for d in decisions for u in d["units"]}
    plain = [k for k in review.queue_ids() if not touched & set(session.units_of(k).tolist())]
    assert plain and _cell(review, plain[0]) == ""

    # "Auto decisions only" lists exactly the clusters holding a decision's units.
    review.auto_only.setChecked(True)
    expected = [k for k in review.queue_ids() if touched & set(session.units_of(k).tolist())]
    assert review.visible_ids() == expected and cluster in expected

    c.select_cluster(cluster)
    assert window.show_tab("Cluster detail")  # the detail names the cluster's decisions too
    label = window.views["Cluster detail"].decisions_label
    qtbot.waitUntil(lambda: label.text().startswith("Automatic: "), timeout=10_000)
    assert "attach" in label.text() and f"Unit {unit} (session" in label.toolTip()
    review.fill_decision_menu()
    entry = next(a for a in review.decision_menu.actions() if f"attach of unit {unit} " in a.text())
    assert "cannot now" not in entry.text()
    with qtbot.waitSignal(c.clusters_changed) as changed:
        entry.trigger()
    assert cluster in changed.args[0].removed_clusters
    assert session.cluster_of(unit) is None  # unmatched again
    rest = session.cluster_of(last["to_units"][0])
    assert session.units_of(rest).tolist() == sorted(last["to_units"])
    assert review.model.row_of(cluster) == -1 and rest in review.visible_ids()
    assert [line["action"] for line in _log(c)] == ["undo_decision"]
    assert not dialog_log

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    with qtbot.waitSignal(c.clusters_changed):
        QTest.keyClick(window, Qt.Key.Key_Z, CTRL)  # one Ctrl+Z brings the decision back
    assert session.cluster_of(unit) == cluster  # with its old id
    assert "attach" in _cell(review, cluster) and cluster in review.visible_ids()
    assert [line["action"] for line in _log(c)] == ["undo_decision", "undo"]


def test_a_decision_that_later_ones_built_on_is_refused_naming_the_one_to_take_back(
    window, open_folder, tracked_folder, qtbot, dialog_log
):
    decisions = _decisions(tracked_folder)

    def built_on(pair) -> list[dict]:  # attaches to the cluster the pair made
        return [
            d
            for d in decisions
            if d["decision"] == "attach" and set(pair["units"]) <= set(d["to_units"])
        ]

    pair = next((d for d in decisions if d["decision"] == "pair" and built_on(d)), None)
    later = built_on(pair) if pair else []
    assert later, "the demo run is expected to attach units to a pair it made"
    assert open_folder(tracked_folder)
    c, review = window.controller, window.review_view
    window.curation_tabs.setCurrentWidget(review)
    qtbot.waitUntil(lambda: not review.computing and bool(review.queue_ids()), timeout=30_000)
    cluster = c.session.cluster_of(pair["units"][0])
    labels = c.session.labels.copy()

    c.select_cluster(cluster)
    review.fill_decision_menu()
    a, b = pair["units"]
    entry = next(
        x for x in review.decision_menu.actions() if f"pair of units {a} and {b}" in x.text()
    )
    assert (
        entry.text().endswith("(cannot now)")
        and "take back the automatic attach" in entry.toolTip()
    )
    entry.trigger()
    assert len(dialog_log) == 1 and dialog_log[0].title == "Curation action refused"
    assert f"pair of units {a} and {b} (shank 1) was changed since" in dialog_log[0].text
    assert (c.session.labels == labels).all() and _log(c) == []
