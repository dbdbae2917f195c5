"""Many line traces drawn by one plot item, each with its own pen; a click selects the trace
under the mouse.

The cluster detail overlays up to 60 units' waveforms, ACGs and PETHs. As one pyqtgraph
PlotDataItem per trace, every redraw paid per item for setData, setPen, bounds and path
checks and each paint for 60 items' Python paint calls: ~0.4 s per selection at 60
sessions. One TraceSet builds each trace's QPainterPath once when its data is set and paints
them in one call, in the order given (later traces on top).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui

from .common import WIDE_TRACES_UP_TO

CLICK_PX = 6.0  # a click this near a trace (screen pixels) selects it
SMOOTH_TRACES_UP_TO = WIDE_TRACES_UP_TO  # more traces (1 px wide) are not antialiased on screen


class TraceSet(pg.GraphicsObject):
    """k traces over shared or own x, NaN breaking a trace (connect="finite").

    `sigClicked(item, index, event)`: a left click within CLICK_PX of trace `index` (when
    `clickable`); other clicks go on to the items below (the view box and its menu).
    """

    sigClicked = QtCore.pyqtSignal(object, int, object)

    def __init__(self, clickable: bool = False):
        super().__init__()
        self.clickable = clickable
        self.x = np.zeros((0, 0))  # (k, n) data units
        self.y = np.zeros((0, 0))  # (k, n) data units, NaN between pieces of a trace
        self.pens: list[QtGui.QPen] = []  # one per trace
        self.order: list[int] = []  # traces in drawing order (the last on top)
        self._paths: list[QtGui.QPainterPath] = []
        self._bounds: tuple[float, float, float, float] | None = None  # x0, x1, y0, y1
        self._rect: QtCore.QRectF | None = None  # bounding rect with the pens' pixel padding

    def __len__(self) -> int:
        return len(self._paths)

    def set_traces(self, x: np.ndarray, y: np.ndarray, pens) -> None:
        """Traces y (k, n) over x ((n,) shared, or (k, n)), drawn with `pens` (k) in order."""
        y = np.atleast_2d(np.asarray(y, dtype=float))
        x = np.broadcast_to(np.asarray(x, dtype=float), y.shape)
        self.prepareGeometryChange()
        self.x, self.y = x, y
        self._paths = [pg.arrayToQPath(x[i], y[i], connect="finite") for i in range(y.shape[0])]
        finite = np.isfinite(x) & np.isfinite(y)
        if y.size and finite.any():
            xs, ys = x[finite], y[finite]
            self._bounds = (float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max()))
        else:
            self._bounds = None
        self.set_pens(pens)

    def clear(self) -> None:
        self.set_traces(np.zeros(0), np.zeros((0, 0)), [])

    def set_pens(self, pens, order=None) -> None:
        """New pens (one per trace) and drawing order (default: as the traces were given)."""
        self.pens = list(pens)
        if len(self.pens) != len(self._paths):
            raise ValueError(f"{len(self.pens)} pens for {len(self._paths)} traces")
        self.order = list(range(len(self._paths))) if order is None else [int(i) for i in order]
        self.prepareGeometryChange()  # the pixel padding follows the widest pen
        self._rect = None
        self.update()

    # ----- geometry (what pyqtgraph's view box asks of its items) ---------------------------

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: N802 - pyqtgraph
        if self._bounds is None:
            return (None, None)
        return self._bounds[:2] if ax == 0 else self._bounds[2:]

    def pixelPadding(self) -> float:  # noqa: N802 - pyqtgraph's name
        return max((p.widthF() for p in self.pens), default=1.0) / 2 + 1.0

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt override
        if self._rect is None:
            if self._bounds is None:
                self._rect = QtCore.QRectF()
            else:
                x0, x1, y0, y1 = self._bounds
                pad = self.pixelPadding()
                px, py = self.pixelWidth() * pad, self.pixelHeight() * pad
                self._rect = QtCore.QRectF(x0 - px, y0 - py, x1 - x0 + 2 * px, y1 - y0 + 2 * py)
        return self._rect

    def viewTransformChanged(self) -> None:  # noqa: N802 - pyqtgraph hook
        self._rect = None  # the padding is in pixels
        self.prepareGeometryChange()

    def paint(self, painter, *_) -> None:
        if self._exportOpts is not False:
            antialias = self._exportOpts.get("antialias", True)  # figures: always smooth
        else:
            # On screen, many thin traces are drawn without antialiasing: 60 units'
            # waveforms took ~35 ms a paint smoothed, ~10 ms not, and each step of a
            # selection paints them; one-pixel lines lose little.
            few = len(self._paths) <= SMOOTH_TRACES_UP_TO
            antialias = few and bool(pg.getConfigOption("antialias"))
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, antialias)
        for i in self.order:
            painter.setPen(self.pens[i])
            painter.drawPath(self._paths[i])

    # ----- clicks -----------------------------------------------------------------------------

    def trace_at(self, pos: QtCore.QPointF, max_px: float = CLICK_PX) -> int | None:
        """The trace whose line passes nearest to `pos` (item coordinates), if it passes
        within `max_px` screen pixels; of equally near ones the one drawn on top."""
        if not len(self):
            return None
        pw, ph = self.pixelWidth() or 1.0, self.pixelHeight() or 1.0
        gx, gy = (self.x - pos.x()) / pw, (self.y - pos.y()) / ph  # pixels from pos
        ax, ay, dx, dy = gx[:, :-1], gy[:, :-1], np.diff(gx, axis=1), np.diff(gy, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(-(ax * dx + ay * dy) / (dx * dx + dy * dy), 0.0, 1.0)
            t = np.where(np.isfinite(t), t, 0.0)  # a segment of one point: its end
            d2 = (ax + t * dx) ** 2 + (ay + t * dy) ** 2
        if gx.shape[1] == 1:
            d2 = gx**2 + gy**2
        nearest = np.where(np.isfinite(d2), d2, np.inf).min(axis=1)
        ranked = [i for i in reversed(self.order) if nearest[i] <= max_px**2]
        if not ranked:
            return None
        return min(ranked, key=lambda i: nearest[i])

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph hook
        if not self.clickable or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        index = self.trace_at(ev.pos())
        if index is not None:
            ev.accept()
            self.sigClicked.emit(self, index, ev)
