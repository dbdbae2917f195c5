"""Large drawings are spread over turns of the event loop, so the window paints and answers
between them (issue 16): a scatter of many points (the drift view's 20,000 unit depths took
0.8 s of the UI thread at once), with every point, in order, shown once complete; a view's
plots one per turn. A newer drawing stops an unfinished one."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QCoreApplication
from PyQt6.QtWidgets import QWidget

from dant_gui.views.common import DrawSteps, set_scatter_in_steps
from tests.gui.conftest import wait_drawn


def _points(n: int, offset: float = 0.0):
    x = np.arange(n, dtype=float) + offset
    brushes = [pg.mkBrush("r") if i % 2 else pg.mkBrush("b") for i in range(n)]
    return x, 2 * x, np.arange(n), brushes


def test_many_points_arrive_in_steps_all_in_order(qtbot):
    item = pg.ScatterPlotItem()
    x, y, data, brushes = _points(1000)
    set_scatter_in_steps(item, x, y, data, brushes, step=300)
    assert len(item.data) == 0  # every step on a later turn
    assert not item.isVisible()  # hidden while filling: each step would repaint the plot
    qtbot.waitUntil(lambda: len(item.data) == 1000, timeout=10_000)
    assert item.isVisible()
    assert np.array_equal(item.data["x"], x) and np.array_equal(item.data["y"], y)
    assert np.array_equal(item.data["data"], data)
    assert [b.color().name() for b in item.data["brush"]] == [b.color().name() for b in brushes]


def test_a_newer_drawing_stops_the_unfinished_one(qtbot):
    item = pg.ScatterPlotItem()
    set_scatter_in_steps(item, *_points(1000), step=300)
    x, y, data, brushes = _points(400, offset=0.5)
    set_scatter_in_steps(item, x, y, data, brushes, step=300)
    qtbot.waitUntil(lambda: len(item.data) == 400, timeout=10_000)
    qtbot.wait(50)  # later turns of the loop add nothing of the first drawing
    assert len(item.data) == 400 and np.array_equal(item.data["x"], x) and item.isVisible()


def test_few_points_are_drawn_at_once(qtbot):
    item = pg.ScatterPlotItem()
    x, y, data, brushes = _points(50)
    set_scatter_in_steps(item, x, y, data, brushes)
    assert len(item.data) == 50 and np.array_equal(item.data["x"], x) and item.isVisible()


def _after_each_turn(done, look) -> list:
    """`look()` after each turn of the event loop (one processEvents, a timer fired at most
    once per turn) until `done()`: what a paint or a key press between turns would see."""
    seen = []
    deadline = time.monotonic() + 10
    while not done():
        assert time.monotonic() < deadline, "the steps never ended"
        time.sleep(0.002)  # the next step's timer is due
        QCoreApplication.processEvents()
        seen.append(look())
    return seen


def _one_per_turn(states: list[list]) -> bool:
    """Each state has at most one more part than the one before (from none)."""
    sizes = [0] + [len(s) for s in states]
    return all(0 <= b - a <= 1 for a, b in zip(sizes, sizes[1:], strict=False))


def test_steps_run_in_order_one_per_turn_none_at_once(qtbot):
    owner, seen = QWidget(), []
    qtbot.addWidget(owner)
    steps = DrawSteps(owner)
    steps.run([lambda i=i: seen.append(i) for i in range(3)])
    assert seen == [] and steps.pending
    states = _after_each_turn(lambda: not steps.pending, lambda: list(seen))
    assert states[-1] == [0, 1, 2] and _one_per_turn(states), states


def test_a_newer_run_drops_the_rest_of_the_older_and_a_closed_view_stops(qtbot):
    owner, seen = QWidget(), []
    qtbot.addWidget(owner)
    steps = DrawSteps(owner)
    steps.run([lambda: seen.append("old 1"), lambda: seen.append("old 2")])
    steps.run([lambda: seen.append("new 1"), lambda: seen.append("new 2")])
    qtbot.waitUntil(lambda: not steps.pending, timeout=5_000)
    qtbot.wait(20)
    assert seen == ["new 1", "new 2"]

    steps.run([lambda: seen.append("after close")])
    owner.closed = True  # as ViewBase.closeEvent sets it: Qt may delete its plots next
    qtbot.wait(20)
    assert seen == ["new 1", "new 2"] and not steps.pending


def test_the_drift_view_draws_a_result_one_plot_per_turn(
    open_folder, window, qtbot, tracked_folder
):
    """Its motion, unit depths and matches per pass: none in the call that brought the
    result, each on a turn of its own (drawn in one go, then painted, a large result froze
    the window ~200 ms)."""
    assert open_folder(tracked_folder)
    window.show_tab("Drift")
    view = window.drift_view
    wait_drawn(qtbot, window)

    def drawn() -> list[str]:
        parts = {
            "motion": view.motion_curve in view.motion_plot.items,
            "depths": view.depth_scatter in view.depth_plot.items,
            "passes": bool(view.pass_bars),
        }
        return [name for name, done in parts.items() if done]

    before = [p.geometry() for p in (view.motion_plot, view.depth_plot, view.pass_plot)]
    view.on_result_changed()
    assert drawn() == [] and view.drawing
    assert not view.depth_plot.isVisible() and not view.pass_plot.isVisible()
    states = _after_each_turn(lambda: not view.drawing, drawn)
    assert states[-1] == ["motion", "depths", "passes"] and _one_per_turn(states), states
    # Shown with their steps, in the places they kept: the figure was not laid out again.
    assert view.depth_plot.isVisible() and view.pass_plot.isVisible()
    assert [p.geometry() for p in (view.motion_plot, view.depth_plot, view.pass_plot)] == before
