"""The cluster table and the review queue follow each edit row by row: the rows of the
clusters it removed go, rows for the clusters it added come, nothing else is recomputed,
and the models are never reset (a reset loses the user's scroll and selection state)."""

from __future__ import annotations

from itertools import combinations

import pytest
from PyQt6.QtCore import Qt

from dant_gui import worker
from dant_gui.views.clusters import ID, MIN_SIM, UNITS, ClusterTableModel


def _rows(model: ClusterTableModel) -> list[tuple]:
    """Every row's cheap columns, top to bottom."""
    return [
        (int(k), int(n), int(s), round(float(d), 6))
        for k, n, s, d in zip(
            model.ids, model.n_units, model.n_sessions_covered, model.depth, strict=True
        )
    ]


def _fresh_rows(window) -> list[tuple]:
    fresh = ClusterTableModel(window.controller)
    fresh.sort_column, fresh.sort_order = (
        window.cluster_table.model.sort_column,
        (window.cluster_table.model.sort_order),
    )
    fresh.reload()
    fresh.stop()
    return _rows(fresh)


def _disjoint_pair(session) -> tuple[int, int]:
    sessions = session.result.sessions
    sets = {k: set(sessions[session.units_of(k)].tolist()) for k in session.cluster_ids()}
    pair = next((p for p in combinations(sets, 2) if not sets[p[0]] & sets[p[1]]), None)
    assert pair, "the demo needs two clusters without a common session"
    return pair


@pytest.mark.parametrize(
    "column, order", [(UNITS, Qt.SortOrder.DescendingOrder), (ID, Qt.SortOrder.AscendingOrder)]
)
def test_edits_update_only_their_rows_without_a_reset(
    window, open_folder, tracked_folder, qtbot, monkeypatch, column, order
):
    assert open_folder(tracked_folder)
    c, table = window.controller, window.cluster_table
    session = c.session
    model, review = table.model, window.review_view.model
    qtbot.waitUntil(lambda: not table.model.computing and not window.review_view.computing)
    table.table.sortByColumn(column, order)  # a sort the edits keep: new rows go in place
    table.min_units.setValue(3)  # and a filter
    layouts = []
    model.layoutChanged.connect(lambda: layouts.append("table"))

    resets = []
    model.modelReset.connect(lambda: resets.append("table"))
    review.modelReset.connect(lambda: resets.append("review"))
    asked = []
    summaries = session.stats.summaries

    def recorded(ids):
        asked.extend(int(k) for k in ids)
        return summaries(ids)

    monkeypatch.setattr(session.stats, "summaries", recorded)

    def edit(do) -> None:
        before = {row[0]: row for row in _rows(model)}
        asked.clear()
        # the margins of new clusters arrive from a pool thread (at once when known)
        with qtbot.waitSignal(window.review_view.margins_ready, timeout=30_000):
            info = do()
        after = {row[0]: row for row in _rows(model)}
        assert set(asked) <= set(info.added_clusters), "unchanged clusters were recomputed"
        for k in set(before) - set(info.changed_clusters):
            assert after[k] == before[k]
        assert set(after) == set(session.cluster_ids().tolist())
        assert _rows(model) == _fresh_rows(window)
        shown = [table.cluster_at(r) for r in range(table.proxy.rowCount())]
        assert shown == table.visible_ids() == [k for k, n, *_ in _rows(model) if n >= 3]
        assert review.queue == session.review_queue()
        assert {k: review.sizes[k] for k in review.queue} == {
            k: session.units_of(k).size for k in review.queue
        }

    big = next(k for k in session.cluster_ids() if session.units_of(k).size >= 3)
    c.select_units(session.units_of(big)[:1])
    edit(lambda: c.apply_to_selection("reject"))
    a, b = _disjoint_pair(session)
    c.select_clusters([a, b])
    edit(lambda: c.apply_to_selection("merge"))
    edit(c.undo)
    edit(c.redo)
    c.select_cluster(int(session.cluster_ids()[0]))
    edit(lambda: c.label_selected("reviewed"))  # to the end of the review queue
    assert review.queue[-1] == session.selection.cluster
    assert resets == [] and layouts == []

    # The similarity columns of the new clusters arrive too, the old ones unchanged.
    qtbot.waitUntil(lambda: not model.computing)
    for row in range(model.rowCount()):
        assert model.data(model.index(row, MIN_SIM)) != "…"


def test_the_label_column_is_sized_once_not_from_every_row(window, open_folder, tracked_folder):
    """Sized to its contents, the column read every row's label after each edit and sort
    (0.3 s per edit at 700 clusters): it has a fixed width that fits every label."""
    from PyQt6.QtWidgets import QHeaderView

    from dant_gui.views.clusters import COLUMNS, LABEL, LABEL_COLORS

    assert open_folder(tracked_folder)
    table = window.cluster_table.table
    header = table.horizontalHeader()
    assert header.sectionResizeMode(LABEL) == QHeaderView.ResizeMode.Fixed
    metrics = table.fontMetrics()
    for text in (COLUMNS[LABEL], *LABEL_COLORS):
        assert header.sectionSize(LABEL) > metrics.horizontalAdvance(text)
    window.controller.select_cluster(int(window.controller.session.cluster_ids()[0]))
    window._label_selected("reviewed")
    assert header.sectionSize(LABEL) > metrics.horizontalAdvance("reviewed")


def test_the_margins_of_new_clusters_arrive_behind_the_edit(
    window, open_folder, tracked_folder, qtbot
):
    """The review queue shows "…" for a cluster an edit made until its margin arrives from
    a pool thread, where the edited cluster was; an undo at once, or a newer edit, leaves
    the queue what it is without the stale results."""
    assert open_folder(tracked_folder)
    c, view = window.controller, window.review_view
    review, session = view.model, c.session
    qtbot.waitUntil(lambda: not view.computing and bool(view.queue_ids()), timeout=30_000)
    big = [k for k in review.queue if session.units_of(k).size >= 3][:2]
    before = list(review.queue)

    c.select_units(session.units_of(big[0])[:1])
    info = c.apply_to_selection("reject")  # no event is served until the undo below
    (new,) = info.added_clusters
    assert review.pending() == [new] and view.waiting_for_margins
    row = review.row_of(new)
    assert row == before.index(big[0]) and review.index(row, 3).data() == "…"
    rest = [k for k in review.queue if k != new]
    assert rest == [k for k in before if k != big[0]]  # the other rows keep their order
    stale = view._edit_worker
    with qtbot.waitSignal(view.margins_ready, timeout=1000):  # the old margin is kept
        c.undo()
    assert review.queue == before and not view.waiting_for_margins
    # the superseded computation ends (its result dropped) without changing the queue
    qtbot.waitUntil(lambda: stale not in worker.running(), timeout=30_000)
    assert review.queue == before == session.review_queue()

    # Two edits in a row: the second computes every row still waiting.
    for k in big:
        c.select_units(session.units_of(k)[:1])
        c.apply_to_selection("reject")
    assert len(review.pending()) == 2
    with qtbot.waitSignal(view.margins_ready, timeout=30_000):
        pass
    assert review.queue == session.review_queue() and not review.pending()
    assert all(review.index(r, 3).data() != "…" for r in range(review.rowCount()))
