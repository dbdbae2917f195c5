"""A scatter of many points is drawn over several turns of the event loop (issue 16: the
drift view's 20,000 unit depths took 0.8 s of the UI thread at once), with every point, in
order, shown once complete; a newer drawing stops an unfinished one."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from dant_gui.views.common import set_scatter_in_steps


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
