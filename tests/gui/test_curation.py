"""Manual curation in the window, driven from the keyboard as a user would: what the views
show, what curation.jsonl records, what Export writes, and what reopening the folder shows."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from dant_core.curation import renumber_by_first_unit

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
RUN_TIMEOUT_MS = 120_000


# ----- fixtures and helpers -------------------------------------------------------------------


def _activate(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)


def _open(open_folder, qtbot, window, folder, dialog_log):
    assert open_folder(folder, window), [d.text for d in dialog_log]
    assert window.controller.session.curator is not None, "opening results must start curation"
    _activate(qtbot, window)
    return window.controller


def _press(window, key, modifiers=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(window, key, modifiers)


def _log_lines(controller) -> list[dict]:
    path = controller.session.curator.log_path
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _clusters(labels) -> dict[int, np.ndarray]:
    return {int(k): np.flatnonzero(labels == k) for k in np.unique(labels[labels > 0])}


def _same_cluster_pairs(labels) -> set[tuple[int, int]]:
    """The partition as the set of unit pairs sharing a cluster (ids do not matter)."""
    pairs = set()
    for units in _clusters(np.asarray(labels)).values():
        pairs.update(combinations(units.tolist(), 2))
    return pairs


def _table_units(window, cluster) -> int | None:
    """The unit count the cluster table shows for a cluster (None: no such row)."""
    table = window.cluster_table
    row = table.row_of_cluster(cluster)
    if row < 0:
        return None
    return int(table.proxy.index(row, 1).data())


def _cluster_with(labels, min_units) -> int:
    sizes = {k: u.size for k, u in _clusters(labels).items()}
    big = [k for k, n in sizes.items() if n >= min_units]
    assert big, f"the demo has no cluster of {min_units}+ units"
    return big[0]


def _session_sets(controller):
    sessions = controller.session.result.sessions
    return {k: set(sessions[u].tolist()) for k, u in _clusters(controller.session.labels).items()}


# ----- tests ------------------------------------------------------------------------------------


def test_reject_a_unit_and_undo_it_by_keyboard(open_folder, window, qtbot, demo_folder, dialog_log):
    # Curation starts when a run has finished and been saved.
    assert open_folder(demo_folder)
    c = window.controller
    with qtbot.waitSignal(c.run_finished, timeout=RUN_TIMEOUT_MS):
        window.run_button.click()
    assert c.session.curator is not None and c.session.curator.output_folder == c.output_folder
    _activate(qtbot, window)

    before = np.array(c.session.labels)
    cluster = _cluster_with(before, 3)
    members = np.flatnonzero(before == cluster)
    unit = int(members[1])
    window.cluster_table.select_row(window.cluster_table.row_of_cluster(cluster))
    assert c.session.selection.cluster == cluster
    assert _table_units(window, cluster) == members.size
    c.select_units([unit])  # what clicking its row in the cluster detail table does

    _press(window, Qt.Key.Key_R)
    labels = np.array(c.session.labels)
    assert labels[unit] == -1
    rest = members[members != unit]
    new = int(labels[rest[0]])
    assert new > 0 and new != cluster and np.all(labels[rest] == new)
    assert np.array_equal(np.delete(labels, members), np.delete(before, members))
    log = _log_lines(c)
    assert [line["action"] for line in log] == ["reject_unit"] and log[0]["unit"] == unit
    # The views followed: the table lost the old row and shows the rest, still selected.
    assert _table_units(window, cluster) is None
    assert _table_units(window, new) == members.size - 1
    assert c.session.selection.cluster == new
    # the highlighted row is the cluster the keys act on (issue 16)
    assert window.cluster_table.selected_ids() == [new]
    assert window.show_tab("Cluster detail")  # hidden until now: it catches up when shown
    assert window.views["Cluster detail"].units.tolist() == rest.tolist()
    window.curation_tabs.setCurrentWidget(window.history_view)
    assert window.history_view.entry_texts()[-1][1] is True
    assert f"unit {unit}" in window.history_view.entry_texts()[-1][0]
    assert "not exported" in window.curation_status.text() and window.isWindowModified()

    _press(window, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(c.session.labels, before)  # same ids too
    assert [line["action"] for line in _log_lines(c)] == ["reject_unit", "undo"]
    assert _table_units(window, cluster) == members.size and _table_units(window, new) is None
    assert c.session.selection.cluster == cluster
    assert window.cluster_table.selected_ids() == [cluster]
    assert window.history_view.entry_texts()[-1][1] is False  # greyed, struck through
    assert not window.isWindowModified()

    _press(window, Qt.Key.Key_Z, CTRL | SHIFT)  # redo gives back the very same clusters
    np.testing.assert_array_equal(c.session.labels, labels)
    assert not dialog_log

    # Running again asks first, then curates the new result; the old log is kept.
    with qtbot.waitSignal(c.run_finished, timeout=RUN_TIMEOUT_MS):
        window.run_button.click()
    assert [d.kind for d in dialog_log] == ["question"] and "previous_runs" in dialog_log[0].text
    assert (
        c.session.curator is not None and c.session.history_entries() == [] and _log_lines(c) == []
    )
    kept = list((c.output_folder / "previous_runs").glob("*/curation.jsonl"))
    assert len(kept) == 1 and len(kept[0].read_text().splitlines()) == 3


def test_reject_without_chosen_units_only_says_so(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    before = np.array(c.session.labels)
    window.cluster_table.select_row(0)  # a whole cluster, no units picked
    _press(window, Qt.Key.Key_R)
    _press(window, Qt.Key.Key_Delete)
    np.testing.assert_array_equal(c.session.labels, before)
    assert _log_lines(c) == [] and not dialog_log
    assert "No units selected" in window.statusBar().currentMessage()


def test_merge_two_table_rows_and_a_refused_merge(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    table = window.cluster_table
    sets = _session_sets(c)
    disjoint = next((p for p in combinations(sets, 2) if not sets[p[0]] & sets[p[1]]), None)
    clash = next((p for p in combinations(sets, 2) if sets[p[0]] & sets[p[1]]), None)
    assert disjoint and clash, "the demo needs clusters with and without common sessions"

    c1, c2 = disjoint
    units = np.union1d(c.session.units_of(c1), c.session.units_of(c2))
    table.select_rows([table.row_of_cluster(c1), table.row_of_cluster(c2)])
    assert set(c.session.selection.clusters) == {c1, c2}
    _press(window, Qt.Key.Key_G)
    labels = np.array(c.session.labels)
    merged = int(labels[units[0]])
    assert merged not in (c1, c2) and np.flatnonzero(labels == merged).tolist() == units.tolist()
    assert _table_units(window, merged) == units.size
    assert _table_units(window, c1) is None and _table_units(window, c2) is None
    assert c.session.selection.cluster == merged
    assert [line["action"] for line in _log_lines(c)] == ["merge"]

    a, b = clash
    ua, ub = c.session.units_of(a), c.session.units_of(b)
    sessions = c.session.result.sessions
    expected = {
        f"units {min(u, v)} and {max(u, v)} are both from session {sessions[u]}"
        for u in ub.tolist()
        for v in ua.tolist()
        if sessions[u] == sessions[v]
    }
    table.select_rows([table.row_of_cluster(a), table.row_of_cluster(b)])
    _press(window, Qt.Key.Key_G)
    assert len(dialog_log) == 1 and dialog_log[0].kind == "warning"
    assert any(e in dialog_log[0].text for e in expected), dialog_log[0].text
    np.testing.assert_array_equal(c.session.labels, labels)  # nothing changed
    assert [line["action"] for line in _log_lines(c)] == ["merge"]


def test_reject_pair_from_the_similarity_selection(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    cluster = _cluster_with(c.session.labels, 4)
    members = c.session.units_of(cluster)
    block = c.session.result.similarity_block(members, members)
    i, j = np.unravel_index(np.argmin(block + np.eye(members.size) * 1e9), block.shape)
    a, b = int(members[i]), int(members[j])
    c.select_pair(a, b)  # what clicking that cell of the similarity matrix does
    _press(window, Qt.Key.Key_X)
    labels = c.session.labels
    assert labels[a] <= 0 or labels[a] != labels[b]
    assert not np.isin(labels[members], [cluster]).any()
    log = _log_lines(c)
    assert log[-1]["action"] == "reject_pair" and log[-1]["units"] == [a, b]
    assert not dialog_log


def test_split_add_and_multi_unit_reject_by_keyboard(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    before = np.array(c.session.labels)
    cluster = _cluster_with(before, 4)
    members = c.session.units_of(cluster)
    c.select_units(members[:2])  # two rows of the cluster detail table
    _press(window, Qt.Key.Key_K)
    labels = np.array(c.session.labels)
    split, rest = int(labels[members[0]]), int(labels[members[2]])
    assert split > 0 and rest > 0 and split != rest != cluster
    assert labels[members[1]] == split and np.all(labels[members[2:]] == rest)

    # A: the pair's unit outside the selected cluster joins it.
    c.select_pair(int(members[0]), int(members[2]))
    assert c.session.selection.cluster == split
    assert "Add unit" in window.curation_actions["add"].toolTip()
    assert f"unit {members[2]}" in window.curation_actions["add"].toolTip()
    _press(window, Qt.Key.Key_A)
    labels = np.array(c.session.labels)
    assert labels[members[2]] == labels[members[0]] > 0
    assert np.unique(labels[members[:3]]).size == 1
    assert [line["action"] for line in _log_lines(c)] == ["split", "add_unit"]

    # Several units rejected with one key come back with one undo.
    now = c.session.labels[members[0]]
    group = c.session.units_of(now)[:2]
    c.select_units(group)
    _press(window, Qt.Key.Key_Delete)
    assert np.all(c.session.labels[group] == -1)
    _press(window, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(c.session.labels, labels)
    log = _log_lines(c)
    assert [line["action"] for line in log][-2:] == ["reject_units", "undo"]
    assert log[-2]["units"] == sorted(group.tolist())
    assert log[-1]["undoes"] == {"action": "reject_units", "time": log[-2]["time"]}
    assert not dialog_log


def test_export_writes_the_clusters_shown(open_folder, window, qtbot, tracked_folder, dialog_log):
    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    out = c.output_folder
    auto = np.load(out / "IdxCluster.npy")  # the automatic result of the run
    assert "no changes" in window.curation_status.text()

    cluster = _cluster_with(c.session.labels, 3)
    c.select_units([int(c.session.units_of(cluster)[0])])
    _press(window, Qt.Key.Key_R)
    sets = _session_sets(c)
    c1, c2 = next(p for p in combinations(sets, 2) if not sets[p[0]] & sets[p[1]])
    c.select_clusters([c1, c2])
    _press(window, Qt.Key.Key_G)
    assert len(_log_lines(c)) == 2 and "not exported" in window.curation_status.text()

    with qtbot.waitSignal(c.export_finished, timeout=60_000):  # written on a worker
        _press(window, Qt.Key.Key_S, CTRL)
    exported = np.load(out / "IdxCluster.npy")
    shown = np.array(c.session.labels)
    assert _same_cluster_pairs(exported) == _same_cluster_pairs(shown)
    assert set(np.unique(exported[exported > 0]).tolist()) == set(
        range(1, len(_clusters(renumber_by_first_unit(shown))) + 1)
    )
    np.testing.assert_array_equal(np.load(out / "IdxCluster_auto.npy"), auto)
    assert _same_cluster_pairs(auto) != _same_cluster_pairs(exported)
    assert "exported" in window.curation_status.text() and not window.isWindowModified()
    assert "Exported" in window.log_view.toPlainText()
    assert not dialog_log


def test_reopening_the_folder_shows_the_same_curation(
    open_folder, window, qtbot, tracked_folder, dialog_log, qapp
):
    from dant_gui.main_window import MainWindow

    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    cluster = _cluster_with(c.session.labels, 3)
    c.select_units([int(c.session.units_of(cluster)[-1])])
    _press(window, Qt.Key.Key_R)
    _press(window, Qt.Key.Key_L)  # label the selected cluster reviewed, go to the next
    reviewed = [k for k in c.session.cluster_ids() if c.session.cluster_label(k) == "reviewed"]
    sets = _session_sets(c)
    c1, c2 = next(p for p in combinations(sets, 2) if not sets[p[0]] & sets[p[1]])
    c.select_clusters([c1, c2])
    _press(window, Qt.Key.Key_G)
    _press(window, Qt.Key.Key_Z, CTRL)  # the merge is undone: the redo stack is kept too
    assert len(reviewed) == 1
    labels = np.array(c.session.labels)
    history = [(e.text, e.done) for e in c.session.history_entries()]
    assert [done for _, done in history] == [True, True, False]
    window.stop_background_work()
    window.close()  # not exported: the window asks (the fixture answers yes)
    assert [d.title for d in dialog_log] == ["Quit without exporting?"]
    dialog_log.clear()

    again = MainWindow()
    qtbot.addWidget(again)
    again.resize(1600, 1000)
    again.show()
    try:
        reopened = _open(open_folder, qtbot, again, tracked_folder, dialog_log)
        np.testing.assert_array_equal(reopened.session.labels, labels)
        assert [(e.text, e.done) for e in reopened.session.history_entries()] == history
        assert [
            k
            for k in reopened.session.cluster_ids()
            if reopened.session.cluster_label(k) == "reviewed"
        ] == (reviewed)
        assert sorted(again.cluster_table.visible_ids()) == reopened.session.cluster_ids().tolist()
        assert again.review_view.progress_label.text().startswith("Reviewed <b>1</b>")
        again.curation_tabs.setCurrentWidget(again.history_view)
        assert [done for _, done in again.history_view.entry_texts()] == [True, True, False]
        _press(again, Qt.Key.Key_Y, CTRL)  # redo the merge undone in the first window
        both = np.flatnonzero((labels == c1) | (labels == c2))
        merged = np.unique(reopened.session.labels[both])
        assert merged.size == 1 and merged[0] > 0
        assert not dialog_log
    finally:
        again.stop_background_work()


def test_typing_r_in_a_text_field_does_not_reject(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    before = np.array(c.session.labels)
    cluster = _cluster_with(before, 3)
    unit = int(c.session.units_of(cluster)[0])
    c.select_units([unit])
    field = window.cluster_table.text_filter
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    QTest.keyClicks(field, "rgx")
    QTest.keyClick(field, Qt.Key.Key_Delete)
    assert field.text() == "rgx"
    np.testing.assert_array_equal(c.session.labels, before)
    assert _log_lines(c) == []

    # Nor in the settings form, whatever has the focus there (a combo box, a check box).
    window.left_tabs.setCurrentIndex(0)
    for key in ("spikeLocation.location_algorithm", "centering_waveforms"):
        editor = window.settings_form.editors[key]
        editor.setFocus()
        qtbot.waitUntil(editor.hasFocus)
        for letter in (Qt.Key.Key_R, Qt.Key.Key_K, Qt.Key.Key_G):
            QTest.keyClick(editor, letter)
    np.testing.assert_array_equal(c.session.labels, before)
    assert _log_lines(c) == []

    # Elsewhere the same key rejects the selected unit.
    window.cluster_table.table.setFocus()
    c.select_units([unit])
    _press(window, Qt.Key.Key_R)
    assert c.session.labels[unit] == -1 and len(_log_lines(c)) == 1


def test_arrows_follow_the_table_and_review_queue_marks_progress(
    open_folder, window, qtbot, tracked_folder, dialog_log, monkeypatch
):
    from dant_gui.views import review as review_module

    # Order the queue on the pool thread, as for a large result.
    monkeypatch.setattr(review_module, "BACKGROUND_AT_LEAST", 0)
    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    table = window.cluster_table
    table.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # by unit count
    order = table.visible_ids()
    table.select_row(0)
    _press(window, Qt.Key.Key_Down)
    assert c.session.selection.cluster == order[1]
    _press(window, Qt.Key.Key_N)
    _press(window, Qt.Key.Key_PageDown)
    assert c.session.selection.cluster == order[3]
    _press(window, Qt.Key.Key_P)
    assert c.session.selection.cluster == order[2]

    window.curation_tabs.setCurrentWidget(window.review_view)
    review = window.review_view
    qtbot.waitUntil(lambda: not review.computing and bool(review.queue_ids()), timeout=30_000)
    queue = review.queue_ids()
    assert sorted(queue) == sorted(order)
    total = len(queue)
    assert review.progress_label.text() == f"Reviewed <b>0</b> / {total} clusters"
    review.table.selectRow(0)  # clicking the first (least certain) cluster selects it
    assert c.session.selection.cluster == queue[0]
    _press(window, Qt.Key.Key_L)
    assert c.session.cluster_label(queue[0]) == "reviewed"
    assert c.session.selection.cluster == queue[1]
    _press(window, Qt.Key.Key_R, CTRL)
    assert (
        c.session.cluster_label(queue[1]) == "reviewed" and c.session.selection.cluster == queue[2]
    )
    assert review.progress_label.text() == f"Reviewed <b>2</b> / {total} clusters"
    assert review.queue_ids()[-2:] == queue[:2]  # reviewed ones go last
    row = table.row_of_cluster(queue[0])
    assert table.proxy.index(row, 6).data() == "reviewed"
    assert [line["label"] for line in _log_lines(c)] == ["reviewed", "reviewed"]


def test_help_lists_every_curation_key(window, qtbot, dialog_log):
    from dant_gui.keys import CURATION_KEYS, shortcuts_markdown

    _activate(qtbot, window)
    _press(window, Qt.Key.Key_F1)
    assert len(dialog_log) == 1 and dialog_log[0].title == "Keyboard shortcuts"
    text = dialog_log[0].text
    for entry in CURATION_KEYS:
        assert entry.text.replace("&", "") in text and entry.short in text
    for keys in ("Down, N, PgDown", "R, Del", "<b>G</b>", "L, Ctrl+R", "Ctrl+Shift+Z, Ctrl+Y"):
        assert keys in text
    assert "`Ctrl+Z`" in shortcuts_markdown()
    menu = [a.text().replace("&", "") for a in window.curate_menu.actions() if a.text()]
    assert "Reject units" in menu and "Merge" in menu and "Export" in menu


def test_unreadable_log_lines_are_skipped_and_shown_once(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    from dant_core.dataset import load_dataset
    from dant_core.results import load_result

    out = tracked_folder / "DANT_Output"
    labels = load_result(out, load_dataset(tracked_folder)).idx_cluster
    cluster = _cluster_with(labels, 3)
    unit = int(np.flatnonzero(labels == cluster)[0])
    (out / "curation.jsonl").write_text(
        json.dumps({"action": "reject_unit", "unit": unit})
        + "\n"
        + "{not json\n"
        + json.dumps({"action": "reject_unit", "unit": unit})
        + "\n"  # already unmatched
    )
    assert open_folder(tracked_folder)
    c = window.controller
    assert c.session.labels[unit] == -1 and len(c.session.history_entries()) == 1
    warnings = [d for d in dialog_log if d.kind == "warning"]
    assert len(warnings) == 1 and "line 2" in warnings[0].text and "line 3" in warnings[0].text
    assert "curation.jsonl line 2" in window.log_view.toPlainText()
    window.controller.select_cluster(
        int(c.session.cluster_ids()[0])
    )  # no second dialog on later events
    assert len([d for d in dialog_log if d.kind == "warning"]) == 1


def test_a_folder_curated_elsewhere_opens_read_only_with_a_dialog(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    from dant_core.log_lock import lock_folder

    out = tracked_folder / "DANT_Output"
    held = lock_folder(out, "dant export")  # another writer (a window, an export)
    try:
        assert open_folder(tracked_folder)
        c = window.controller
        assert c.session is not None and c.session.curator is None  # the clusters, read-only
        warnings = [d for d in dialog_log if d.kind == "warning"]
        assert len(warnings) == 1 and warnings[0].title == "Curation in use"
        assert f"{out} is being curated by another program (dant export" in warnings[0].text
        assert not window.curation_actions["reject"].isEnabled()
        c.select_cluster(int(c.session.cluster_ids()[0]))  # still usable, no second dialog
        assert len([d for d in dialog_log if d.kind == "warning"]) == 1
    finally:
        held.release()
    dialog_log.clear()
    _open(open_folder, qtbot, window, tracked_folder, dialog_log)  # free again: curation starts
    assert not dialog_log


def test_cluster_numbers_on_screen_are_the_numbers_in_the_exported_files(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    """After a merge and a split (new curation ids, never reused) the table and the detail
    title show each cluster under the number Export then writes to IdxCluster.npy."""
    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    table = window.cluster_table
    sets = _session_sets(c)
    c1, c2 = next(p for p in combinations(sets, 2) if not sets[p[0]] & sets[p[1]])
    c.select_clusters([c1, c2])
    _press(window, Qt.Key.Key_G)
    merged = c.session.selection.cluster
    big = _cluster_with(c.session.labels, 4)
    c.select_units(c.session.units_of(big)[:2])
    _press(window, Qt.Key.Key_K)
    shown = {}
    for row in range(table.proxy.rowCount()):
        shown[table.cluster_at(row)] = table.proxy.index(row, 0).data()
    c.select_cluster(merged)
    assert window.show_tab("Cluster detail")
    title = window.views["Cluster detail"].title_label.text()
    with qtbot.waitSignal(c.export_finished, timeout=60_000):  # written on a worker
        _press(window, Qt.Key.Key_S, CTRL)
    exported = np.load(c.output_folder / "IdxCluster.npy")

    assert title.startswith(f"Cluster {shown[merged]}:"), title
    assert merged > len(_clusters(exported))  # the curation id is not the file's number
    for cluster, text in shown.items():
        numbers = np.unique(exported[c.session.units_of(cluster)])
        assert numbers.tolist() == [int(text)], (cluster, text, numbers)
    review = window.review_view.model
    assert review.rowCount() > 0
    for row in range(review.rowCount()):
        assert review.index(row, 1).data() == shown[review.queue[row]]
    assert not dialog_log


def test_quitting_with_unexported_curation_asks_first(
    open_folder, window, qtbot, tracked_folder, dialog_log, monkeypatch
):
    from dant_gui import dialogs

    c = _open(open_folder, qtbot, window, tracked_folder, dialog_log)
    window.close()  # nothing curated: no question
    assert not dialog_log and not window.isVisible()
    window.show()
    _activate(qtbot, window)
    cluster = _cluster_with(c.session.labels, 3)
    c.select_units([int(c.session.units_of(cluster)[0])])
    _press(window, Qt.Key.Key_R)
    assert not c.session.exported

    answers = []
    monkeypatch.setattr(dialogs, "hook", lambda request: answers.append(request) or False)
    window.close()  # "No": the window stays
    assert window.isVisible() and len(answers) == 1
    assert answers[0].kind == "question" and "not exported" in answers[0].text
    with qtbot.waitSignal(c.export_finished, timeout=60_000):  # then quitting asks nothing
        _press(window, Qt.Key.Key_S, CTRL)
    window.close()
    assert not window.isVisible() and len(answers) == 1
