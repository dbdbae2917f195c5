"""A view in a tab that is not shown computes nothing for the edits and selections it
receives; it catches up once, with the right content, when it is shown."""

from __future__ import annotations

import dataclasses

import numpy as np

from dant_gui.views import detail, overview

TIMEOUT_MS = 60_000


def _counting(monkeypatch, module, name) -> list:
    """Replace module.name by a version counting its calls (any thread)."""
    original, calls = getattr(module, name), []

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _cluster_with(labels, n) -> int:
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    assert (counts >= n).any(), f"no cluster of {n}+ units in the demo"
    return int(ids[np.argmax(counts >= n)])


def _edit_while_hidden(c) -> None:
    """Reject one unit, undo, redo, then select another cluster."""
    big = _cluster_with(np.asarray(c.session.labels), 3)
    c.select_units(c.session.units_of(big)[:1])
    c.apply_to_selection("reject")
    c.undo()
    c.redo()
    other = [k for k in c.session.cluster_ids().tolist() if k != c.session.selection.cluster][0]
    c.select_cluster(other)


def test_hidden_overview_computes_once_when_shown(window, open_folder, tracked_folder, monkeypatch):
    calls = _counting(monkeypatch, overview, "summarize")
    assert open_folder(tracked_folder)
    view, c = window.views["Overview"], window.controller
    assert not view.isVisible() and calls == []  # the Drift tab is shown

    _edit_while_hidden(c)
    assert calls == [] and view.stale

    assert window.show_tab("Overview")
    assert len(calls) == 1 and not view.stale
    result = c.session.result
    truth = _fresh_summary(result.sessions, c.session.labels, result.n_sessions)
    for field in dataclasses.fields(truth):
        np.testing.assert_array_equal(getattr(view.summary, field.name), getattr(truth, field.name))
    row = int(np.flatnonzero(view.summary.presence_clusters == c.session.selection.cluster)[0])
    assert view.selected_row.isVisible() and view.selected_row.rect().top() == row

    # Shown, it follows each edit at once (once).
    c.select_units(c.session.units_of(_cluster_with(np.asarray(c.session.labels), 3))[:1])
    c.apply_to_selection("reject")
    assert len(calls) == 2


def _fresh_summary(sessions, labels, n_sessions):
    """The overview's numbers computed from scratch (not through the counted function)."""
    return _ORIGINAL_SUMMARIZE(sessions, np.array(labels), n_sessions)


_ORIGINAL_SUMMARIZE = overview.summarize


def test_hidden_detail_view_summarises_once_when_shown(
    window, open_folder, tracked_folder, monkeypatch, qtbot
):
    calls = _counting(monkeypatch, detail, "GraphSummary")
    assert open_folder(tracked_folder)
    view, c = window.views["Cluster detail"], window.controller
    assert not view.isVisible()
    _edit_while_hidden(c)
    assert calls == [] and view.stale

    n_shanks = len(c.session.result.shanks)
    with qtbot.waitSignal(view.summary_ready, timeout=TIMEOUT_MS):
        assert window.show_tab("Cluster detail")
    assert len(calls) == n_shanks  # one summary per shank, once
    assert view.cluster == c.session.selection.cluster
    assert view.table_units() == c.session.units_of(c.session.selection.cluster).tolist()
