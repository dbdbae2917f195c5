"""The similarity among the units the Cluster detail shows, as a matrix.

An image in the fixed Fisher-z levels with its colour bar; rows labelled "unit (Ssession)",
columns by unit number, thinned to what fits; the values written into the cells while a
cell is wider on screen than a value (zoomed out, or on a small screen, the numbers would
run together).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui

from .common import LEVELS, keep_axis_width

MAX_LABELS = 12  # unit tick labels up to this many units
MAX_VALUES = 8  # values written into the cells up to this many units
VALUE_PADDING_PX = 4  # at least this much room beside a cell's value
ROW_LABEL_ROOM = "00000 (S00)"  # the rows' labels: unit (session)


class UnitMatrix:
    """The matrix drawn into `plot` (a styled pyqtgraph PlotItem)."""

    def __init__(self, plot: pg.PlotItem):
        self.plot = plot
        self.k = 0  # units shown
        # Room for the labels from the start, or the first cluster shown widened the axes
        # and laid the whole figure out again.
        keep_axis_width(plot.getAxis("left"), room=ROW_LABEL_ROOM)
        keep_axis_width(plot.getAxis("bottom"), room="0\nS0")  # few units: two lines
        box = plot.getViewBox()
        box.invertY(True)
        box.setAspectLocked(True)
        # resizing and zooming change whether a cell holds a value
        box.sigResized.connect(self.show_values)
        box.sigRangeChanged.connect(self.show_values)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            values=LEVELS, colorMap=pg.colormap.get("viridis"), interactive=False, width=12
        )
        self.colorbar.setImageItem(self.image, insert_in=plot)
        self.texts: list[pg.TextItem] = []

    def clear(self) -> None:
        self.k = 0
        for text in self.texts:
            text.hide()
        self.image.clear()
        for name in ("left", "bottom"):
            self.plot.getAxis(name).setTicks([[], []])

    def draw(self, units: np.ndarray, sessions: np.ndarray, block: np.ndarray) -> None:
        """`block` (k, k): the similarity among `units` (k,), of 1-based `sessions` (k,)."""
        k = self.k = int(units.size)
        for text in self.texts:
            text.hide()
        self.image.setImage(block.astype(np.float32), autoLevels=False, levels=LEVELS)
        self.image.setRect(QtCore.QRectF(0, 0, k, k))
        step = max(1, int(np.ceil(k / MAX_LABELS)))
        pairs = list(zip(units.tolist(), np.asarray(sessions).tolist(), strict=True))
        left = [(i + 0.5, f"{u} (S{s})") for i, (u, s) in enumerate(pairs)]
        if k <= 6:
            bottom = [(i + 0.5, f"{u}\nS{s}") for i, (u, s) in enumerate(pairs)]
            bottom_step = step
        else:
            bottom = [(i + 0.5, str(int(u))) for i, u in enumerate(units)]
            bottom_step = max(step, int(np.ceil(k / self._bottom_labels())))
        self.plot.getAxis("left").setTicks([left[::step], []])
        self.plot.getAxis("bottom").setTicks([bottom[::bottom_step], []])
        if k <= MAX_VALUES:
            self._write_values(block)
        self.plot.getViewBox().setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        self.show_values()

    def _write_values(self, block: np.ndarray) -> None:
        k = self.k
        while len(self.texts) < k * k:
            text = pg.TextItem("", anchor=(0.5, 0.5))
            self.plot.getViewBox().addItem(text, ignoreBounds=True)
            self.texts.append(text)
        for n, (i, j) in enumerate(np.ndindex(k, k)):
            v = block[i, j]
            text = self.texts[n]
            text.setText(f"{v:.1f}", color="#202020" if v > 2.0 else "#f0f0f0")
            text.setPos(j + 0.5, i + 0.5)

    def _bottom_labels(self) -> int:
        """How many unit numbers fit side by side under the matrix (at most 5)."""
        room = QtGui.QFontMetrics(self.plot.getAxis("bottom").font())
        per_label = room.horizontalAdvance("00000") + 12  # a gap between two numbers
        return int(np.clip(self.plot.getViewBox().width() // per_label, 2, 5))

    def values_fit(self) -> bool:
        """Whether the matrix has few enough units for values in its cells and each cell
        is wider on screen than a value's text (else the numbers run together)."""
        if not 0 < self.k <= MAX_VALUES:
            return False
        box = self.plot.getViewBox()
        (x0, x1), _ = box.viewRange()
        cell_px = box.width() / max(x1 - x0, 1e-9)  # pixels per unit of the matrix
        text_px = QtGui.QFontMetrics(QtGui.QFont()).horizontalAdvance("-0.0")
        return cell_px >= text_px + VALUE_PADDING_PX

    def show_values(self, *_) -> None:
        show = self.values_fit()
        for n, text in enumerate(self.texts):
            text.setVisible(show and n < self.k * self.k)
