"""Points that the mouse drags up and down: one per session, the motion editor's handles."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt


class VerticalDragPoints(pg.ScatterPlotItem):
    """A scatter whose points are dragged vertically with the left button.

    Dragging point i reports `moved(i, y, finished)` (y in the plot's data units) at every
    step and, with finished True, at the release; the owner sets the value through its
    ordinary path and redraws the points (`setData`), so a drag and a typed value are one
    edit. A press that misses every
    point is left to the plot (it pans, as elsewhere).
    """

    def __init__(self, moved: Callable[[int, float, bool], None], **kwargs):
        kwargs.setdefault("hoverable", True)
        kwargs.setdefault("hoverSize", 14)
        super().__init__(**kwargs)
        self.moved = moved
        self.dragged: int | None = None  # index of the point being dragged
        self.setCursor(Qt.CursorShape.SizeVerCursor)

    def point_index_at(self, pos) -> int | None:
        """Index of the point under `pos` (item coordinates), the nearest one when several."""
        hits = self.pointsAt(pos)
        if len(hits) == 0:
            return None
        y = np.array([p.pos().y() for p in hits])
        return int(hits[int(np.argmin(np.abs(y - pos.y())))].index())

    def mouseDragEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        view = self.getViewBox()
        if ev.isStart():
            self.dragged = self.point_index_at(ev.buttonDownPos())
            if self.dragged is not None and view is not None:
                view.disableAutoRange()  # the axes hold still under the hand
        if self.dragged is None:
            ev.ignore()
            return
        ev.accept()
        index, finished = self.dragged, ev.isFinish()
        if finished:
            self.dragged = None
        self.moved(index, float(ev.pos().y()), finished)
        if finished and view is not None:
            view.enableAutoRange()
