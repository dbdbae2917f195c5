"""TraceSet: many traces in one plot item; a click picks the trace under the mouse."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
import pytest  # noqa: E402
from PyQt6 import QtCore  # noqa: E402

from dant_gui.views.trace_set import CLICK_PX, TraceSet  # noqa: E402


@pytest.fixture
def plot(qtbot):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _traces(plot, y, x=None, clickable=True):
    traces = TraceSet(clickable=clickable)
    plot.addItem(traces)
    y = np.asarray(y, dtype=float)
    x = np.arange(y.shape[1], dtype=float) if x is None else x
    traces.set_traces(x, y, [pg.mkPen("k")] * y.shape[0])
    plot.setRange(xRange=(0, y.shape[1] - 1), yRange=(-1, 3), padding=0)
    plot.grab()  # painted: the view box has applied its range
    return traces


def _pixel_of(plot, traces, x, y) -> QtCore.QPoint:
    return plot.mapFromScene(traces.mapToScene(QtCore.QPointF(x, y)))


def test_a_click_selects_the_trace_under_the_mouse_and_ignores_empty_space(qtbot, plot):
    traces = _traces(plot, [[0.0] * 5, [1.0] * 5, [2.0] * 5])
    clicked = []
    traces.sigClicked.connect(lambda _item, index, _ev: clicked.append(index))
    pixel = _pixel_of(plot, traces, 1.5, 1.0)
    with qtbot.waitSignal(traces.sigClicked, timeout=2000):
        qtbot.mouseClick(plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pixel)
    assert clicked == [1]
    # Halfway between two traces (more than CLICK_PX from both): nothing.
    between = traces.mapFromScene(plot.mapToScene(_pixel_of(plot, traces, 1.5, 0.5)))
    assert traces.trace_at(between) is None
    # Near a line between its points (a segment, not only its vertices).
    y_px = traces.pixelHeight()
    assert traces.trace_at(QtCore.QPointF(2.5, 2.0 + 0.5 * CLICK_PX * y_px)) == 2


def test_nan_breaks_a_trace_and_the_trace_drawn_on_top_wins(plot):
    # Trace 0 has a gap between x=1 and x=3; trace 1 runs under it where it is drawn.
    traces = _traces(plot, [[1.0, 1.0, np.nan, 1.0, 1.0], [1.0] * 5])
    assert traces.trace_at(QtCore.QPointF(2.0, 1.0)) == 1  # only trace 1 crosses the gap
    traces.set_pens(traces.pens, order=[1, 0])  # trace 0 on top
    assert traces.trace_at(QtCore.QPointF(0.5, 1.0)) == 0
    traces.set_pens(traces.pens, order=[0, 1])
    assert traces.trace_at(QtCore.QPointF(0.5, 1.0)) == 1


def test_bounds_are_those_of_the_finite_data_and_pens_match_traces(plot):
    traces = _traces(plot, [[0.0, 2.5, np.nan], [-0.5, 1.0, 1.0]], x=np.array([1.0, 2.0, 7.0]))
    assert traces.dataBounds(0) == (1.0, 7.0)
    assert traces.dataBounds(1) == (-0.5, 2.5)
    with pytest.raises(ValueError, match="1 pens for 2 traces"):
        traces.set_pens([pg.mkPen("k")])
    traces.clear()
    assert len(traces) == 0 and traces.dataBounds(0) == (None, None)
    assert traces.trace_at(QtCore.QPointF(1.0, 0.0)) is None


def test_many_thin_traces_are_not_smoothed_on_screen_but_are_in_figures(qapp):
    """Antialiasing 60 units' waveforms took ~35 ms a paint (each step of a selection
    paints them); a saved figure is always smooth."""
    from PyQt6 import QtGui

    from dant_gui.views.trace_set import SMOOTH_TRACES_UP_TO

    def smoothed(n_traces: int, export: bool = False) -> bool:
        traces = TraceSet()
        traces.set_traces(np.arange(5.0), np.ones((n_traces, 5)), [pg.mkPen("k")] * n_traces)
        if export:
            traces.setExportMode(True, {"antialias": True})
        image = QtGui.QImage(20, 20, QtGui.QImage.Format.Format_ARGB32)
        painter = QtGui.QPainter(image)
        try:
            traces.paint(painter)
            return painter.testRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        finally:
            painter.end()

    assert smoothed(SMOOTH_TRACES_UP_TO)
    assert not smoothed(SMOOTH_TRACES_UP_TO + 1)
    assert smoothed(60, export=True)
