"""Plots made with the window, for views made later.

A pyqtgraph PlotItem costs 10-16 ms to make (its view box, menus and four axes). The
Cluster detail tab has seven: made when the tab was first clicked, with its first drawing,
they froze the window for ~250 ms. Made later on idle turns they collided with the user's
first actions and with workers holding Python's GIL (a plot then took 50-270 ms of the
window's thread). So the window makes them as it is made, before its first paint
(`make_ready(n)`, ~0.1 s), and `take_plot()` hands them out (or makes one when none is
left).
"""

from __future__ import annotations

import pyqtgraph as pg

_ready: list[pg.PlotItem] = []


def make_ready(n: int) -> None:
    """Have `n` plots ready (made now, those missing)."""
    while len(_ready) < n:
        _ready.append(pg.PlotItem())


def take_plot() -> pg.PlotItem:
    """A plot made ahead if one is left, else a new one."""
    return _ready.pop() if _ready else pg.PlotItem()


def ready() -> tuple[pg.PlotItem, ...]:
    """The plots made and not taken yet."""
    return tuple(_ready)
