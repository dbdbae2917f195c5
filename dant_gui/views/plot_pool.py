"""Plots made ahead, on idle turns of the event loop, for views made later.

A pyqtgraph PlotItem costs 10-16 ms to make (its view box, menus and four axes). The
Cluster detail tab has seven: made when the tab was first clicked, with its first drawing,
they froze the window for ~250 ms. `make_ahead(n)` makes n of them one per turn once the
window is idle; `take_plot()` hands one out (or makes one when none is left).
"""

from __future__ import annotations

import pyqtgraph as pg
from PyQt6.QtCore import QTimer

from ..worker import running
from .common import TURN_MS  # a paint, timers and input come between two plots

# Not while a worker of the pool runs: one holding Python's GIL (reading a folder, say)
# stretched the ~12 ms of making a plot to 50-270 ms of the window's thread. Background
# statistics (start_background: one thread at a lower priority) run for seconds after a
# large result opens and slow it far less: the plots are made meanwhile.
BUSY_RETRY_MS = 200

_ready: list[pg.PlotItem] = []


def make_ahead(n: int, delay_ms: int = 0) -> None:
    """Have `n` plots ready: make the missing ones one per turn of the event loop,
    starting after `delay_ms`, while no worker runs (see BUSY_RETRY_MS)."""

    def make() -> None:
        if len(_ready) >= n:
            return
        if any(w.holds_gil for w in running(background=False)):
            QTimer.singleShot(BUSY_RETRY_MS, make)
            return
        _ready.append(pg.PlotItem())
        QTimer.singleShot(TURN_MS, make)

    QTimer.singleShot(max(delay_ms, TURN_MS), make)


def take_plot() -> pg.PlotItem:
    """A plot made ahead if one is left, else a new one."""
    return _ready.pop() if _ready else pg.PlotItem()


def ready() -> tuple[pg.PlotItem, ...]:
    """The plots made and not taken yet."""
    return tuple(_ready)
