"""Plots made ahead on idle turns of the event loop, taken by the Cluster detail view when
its tab is first shown (making its seven plots then froze the window for ~250 ms)."""

from __future__ import annotations

import time

import pyqtgraph as pg
from PyQt6.QtCore import QCoreApplication

from dant_gui.controller import Controller
from dant_gui.views import plot_pool
from dant_gui.views.detail import ClusterDetailView


def _empty_pool(qtbot):
    """An empty pool that stays empty: earlier windows' make_ahead may still be filling it."""
    for _ in range(100):
        while plot_pool.ready():
            plot_pool.take_plot()
        qtbot.wait(plot_pool.BUSY_RETRY_MS + 300)
        if not plot_pool.ready():
            return
    raise AssertionError("the pool never stays empty")


def test_plots_are_made_one_per_turn_and_handed_out(qtbot):
    _empty_pool(qtbot)
    plot_pool.make_ahead(3)
    assert not plot_pool.ready()  # none in the call
    counts = []
    deadline = time.monotonic() + 10
    while len(plot_pool.ready()) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.002)
        QCoreApplication.processEvents()  # one turn
        counts.append(len(plot_pool.ready()))
    assert all(b - a <= 1 for a, b in zip([0, *counts], counts, strict=False)), counts
    plot_pool.make_ahead(3)  # already there: none more
    qtbot.wait(30)
    assert len(plot_pool.ready()) == 3
    taken = [plot_pool.take_plot() for _ in range(4)]  # the fourth is made on the spot
    assert all(isinstance(p, pg.PlotItem) for p in taken) and len(set(map(id, taken))) == 4
    assert not plot_pool.ready()


def test_the_detail_view_takes_its_plots_from_the_pool_and_lays_them_out_once(qtbot):
    _empty_pool(qtbot)
    plot_pool.make_ahead(ClusterDetailView.N_PLOTS)
    qtbot.waitUntil(lambda: len(plot_pool.ready()) == ClusterDetailView.N_PLOTS, timeout=10_000)
    made = set(map(id, plot_pool.ready()))
    view = ClusterDetailView(Controller())
    qtbot.addWidget(view)
    assert not plot_pool.ready()
    assert {id(p) for p in view.plots.values()} == made
    view.resize(900, 700)  # narrow: two columns, from the first layout on
    view.show()
    qtbot.waitExposed(view)
    assert view.columns is None  # placed in the first step after the view is shown
    qtbot.waitUntil(lambda: not view.drawing, timeout=10_000)
    assert view.columns == 2 and not view.wide
    layout = view.graphics.ci.layout
    assert layout.count() == ClusterDetailView.N_PLOTS  # each plot once in the grid


def test_no_plot_is_made_while_a_worker_holds_the_gil(qtbot):
    """A plot made while a worker runs Python (reading a folder, say) waited for the GIL:
    ~12 ms became 50-270 ms of the window's thread. One that waits (the data check, on
    its child process) or runs in the background lane does not stop them."""
    import threading

    from dant_gui.worker import running, start_background, start_worker, wait_for_all

    _empty_pool(qtbot)
    release = threading.Event()
    busy = start_worker(release.wait, 30)
    background = start_background(release.wait, 30)
    plot_pool.make_ahead(1)
    qtbot.wait(plot_pool.BUSY_RETRY_MS * 3)
    assert not plot_pool.ready()
    busy.holds_gil = False  # as the data check's worker: it waits on its child
    qtbot.waitUntil(lambda: len(plot_pool.ready()) == 1, timeout=10_000)
    assert background in running()  # still running
    release.set()
    assert wait_for_all(30_000)
