"""A plot keeps its layout when its range changes: new tick labels do not move its axes."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg  # noqa: E402

from dant_gui.views.common import style_plot  # noqa: E402


def _plot_area(qtbot, ranges):
    """The data area's rectangle in the widget after each y range, for a styled plot."""
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    plot = widget.addPlot()
    style_plot(plot, "title", "Session", "Depth (µm)")
    widget.show()
    qtbot.waitExposed(widget)
    areas = []
    for low, high in ranges:
        plot.setYRange(low, high, padding=0)
        widget.grab()  # tick labels are measured when drawn
        qtbot.wait(20)  # and the layout follows on the event loop
        areas.append(plot.vb.sceneBoundingRect())
    return areas


def test_tick_labels_of_another_width_do_not_resize_the_plot(qtbot):
    # "0.2" -> "-3000" -> "40": each relaid the whole figure out (and redrew its axes)
    areas = _plot_area(qtbot, [(0, 1), (-3000, 3000), (0, 50), (0, 1)])
    assert len({(a.left(), a.width()) for a in areas}) == 1


def test_labels_wider_than_the_room_kept_still_fit(qtbot):
    """A plot whose labels need more room than kept grows to fit them (never clips)."""
    areas = _plot_area(qtbot, [(0, 1), (123456789, 123456790)])  # "1.23457e+08"
    assert areas[1].left() > areas[0].left()


def test_a_new_title_does_not_move_the_columns(qtbot):
    """Each selection titles its plots anew ("Waveforms (raw), peak ch 58"): the title's
    length must not set its column's width (the figure was laid out again, every axis
    drawn anew)."""
    from dant_gui.views.common import set_title

    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    widget.resize(700, 300)
    left, right = widget.addPlot(row=0, col=0), widget.addPlot(row=0, col=1)
    for plot in (left, right):
        style_plot(plot, "title", "x", "y")
        set_title(plot, "short")
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.wait(20)
    before = (left.geometry(), right.geometry())
    set_title(left, "a much longer title than the other one, as a selection gives")
    widget.grab()
    qtbot.wait(20)
    assert (left.geometry(), right.geometry()) == before
