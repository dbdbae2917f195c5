"""Plots made with the window, taken by the Cluster detail view when its tab is first
shown (making its seven plots then froze the window for ~250 ms)."""

from __future__ import annotations

import pyqtgraph as pg

from dant_gui.controller import Controller
from dant_gui.views import plot_pool
from dant_gui.views.detail import ClusterDetailView


def _empty_pool():
    while plot_pool.ready():
        plot_pool.take_plot()


def test_plots_made_ready_are_handed_out_then_new_ones(qapp):
    _empty_pool()
    plot_pool.make_ready(3)
    made = plot_pool.ready()
    assert len(made) == 3
    plot_pool.make_ready(3)  # already there: none more
    assert plot_pool.ready() == made
    taken = [plot_pool.take_plot() for _ in range(4)]  # the fourth is made on the spot
    assert all(isinstance(p, pg.PlotItem) for p in taken) and len(set(map(id, taken))) == 4
    assert {id(p) for p in made} < {id(p) for p in taken}
    assert not plot_pool.ready()


def test_the_window_makes_the_detail_views_plots_and_the_view_takes_them(qtbot, window):
    made = {id(p) for p in plot_pool.ready()}
    assert len(made) >= ClusterDetailView.N_PLOTS  # made with the window
    _empty_pool()
    plot_pool.make_ready(ClusterDetailView.N_PLOTS)
    made = {id(p) for p in plot_pool.ready()}
    view = ClusterDetailView(Controller())
    qtbot.addWidget(view)
    assert not plot_pool.ready()
    assert {id(p) for p in view.plots.values()} == made


def test_the_detail_view_lays_its_plots_out_once_for_its_width(qtbot):
    view = ClusterDetailView(Controller())
    qtbot.addWidget(view)
    view.resize(900, 700)  # narrow: two columns, from the first layout on
    view.show()
    qtbot.waitExposed(view)
    assert view.columns is None  # placed in the first step after the view is shown
    qtbot.waitUntil(lambda: not view.drawing, timeout=10_000)
    assert view.columns == 2 and not view.wide
    assert view.graphics.ci.layout.count() == ClusterDetailView.N_PLOTS  # each once
