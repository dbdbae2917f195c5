"""Similarity matrix view: the weighted (or one feature's) similarity as a heatmap.

Large results are never turned into an n x n array: the whole matrix is shown as a
binned average of the similarity graph (at most MAX_IMAGE_SIDE cells a side), and once
the visible range holds at most EXACT_ZOOM_UNITS units the exact block is computed for
it. Both computations run on a worker thread; the UI thread only swaps images.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from ..worker import WorkQueue
from .base import ViewBase, membership_changed
from .common import LEVELS, WEIGHTED, add_save_action, ask_save_path, export_item, set_title

MAX_IMAGE_SIDE = 1000  # cells per side of the zoomed-out image
EXACT_FULL_MAX = 1000  # up to this many units the whole exact matrix is shown
CHUNK_CELLS = 90_000  # exact blocks are computed this many cells at a time
EXACT_ZOOM_UNITS = 600  # exact block once the visible range holds at most this many units squared
MAX_OUTLINES = 3000  # cluster rectangles drawn at once (the largest visible ones)
ZOOM_DEBOUNCE_MS = 150

ORDERS = {
    "session": "Session (then depth)",
    "cluster": "Cluster (by depth)",
    "leaf": "Single-linkage leaf order",
}


def display_order(result, idx_cluster: np.ndarray, how: str) -> np.ndarray:
    """Units in display order (n_unit,) int64: by session, by cluster or by leaf order.

    session: session, then depth; cluster: clusters by median depth with their units by
    session, unmatched units last (by depth); leaf: the single-linkage optimal leaf order.
    """
    n = result.n_units
    depth = np.asarray(result.locations)[:, 1]
    sessions = np.asarray(result.sessions)
    if how == "leaf":
        leaf = np.asarray(result.leaf_order, dtype=np.int64)
        return leaf if leaf.size == n else np.arange(n, dtype=np.int64)
    if how == "cluster":
        labels = np.asarray(idx_cluster)
        matched = labels > 0
        # Cluster key: its median depth, so neighbouring blocks are neighbours on the probe.
        key = np.full(n, np.inf)
        if matched.any():
            ids, inv = np.unique(labels[matched], return_inverse=True)
            sums = np.bincount(inv, weights=depth[matched])
            counts = np.bincount(inv)
            key[matched] = (sums / counts)[inv]
        cluster_rank = np.where(matched, labels, np.iinfo(np.int64).max)
        unmatched_depth = np.where(matched, 0.0, depth)
        return np.lexsort((sessions, cluster_rank, unmatched_depth, key)).astype(np.int64)
    return np.lexsort((depth, sessions)).astype(np.int64)


def binned_graph_image(
    n: int, order: np.ndarray, pairs: np.ndarray, values: np.ndarray, side: int
) -> np.ndarray:
    """Mean value of the graph pairs falling in each of side x side cells (NaN: no pair).

    order: (n,) units in display order; pairs: (n_pair, 2) units; values: (n_pair,).
    Row/column bin of a unit = its position in `order` * side // n. Symmetric.
    """
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    bins = position * side // n
    if pairs.shape[0] == 0:
        return np.full((side, side), np.nan, dtype=np.float32)
    ra = bins[pairs[:, 0]]
    rb = bins[pairs[:, 1]]
    flat = np.concatenate((ra * side + rb, rb * side + ra))
    w = np.concatenate((values, values)).astype(np.float64)
    total = np.bincount(flat, weights=w, minlength=side * side)
    count = np.bincount(flat, minlength=side * side)
    with np.errstate(invalid="ignore", divide="ignore"):
        image = (total / count).astype(np.float32)
    image[count == 0] = np.nan
    return image.reshape(side, side)


def exact_block(result, rows, cols, feature, still_wanted=lambda: True) -> np.ndarray | None:
    """result.similarity_block in row chunks (float32); None as soon as it is not wanted.

    The engine needs seconds for a 600 x 600 block: chunks let a pan or zoom abandon a
    computation that is no longer on screen.
    """
    rows = np.asarray(rows)
    cols = np.asarray(cols)
    out = np.empty((rows.size, cols.size), dtype=np.float32)
    step = max(1, CHUNK_CELLS // max(cols.size, 1))
    for r0 in range(0, rows.size, step):
        if not still_wanted():
            return None
        out[r0 : r0 + step] = result.similarity_block(rows[r0 : r0 + step], cols, feature)
    return out


def cluster_runs(labels_in_order: np.ndarray) -> np.ndarray:
    """Contiguous runs of one cluster (label > 0, length >= 2): (n_run, 2) start, length."""
    lab = np.asarray(labels_in_order)
    if lab.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    change = np.flatnonzero(np.diff(lab) != 0) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.concatenate((starts, [lab.size])))
    keep = (lab[starts] > 0) & (lengths >= 2)
    return np.column_stack((starts[keep], lengths[keep])).astype(np.int64)


def _rectangles_path(x0, y0, w, h) -> tuple[np.ndarray, np.ndarray]:
    """x, y of closed rectangles separated by NaN (for one PlotDataItem)."""
    k = np.size(x0)
    xs = np.empty((k, 6))
    ys = np.empty((k, 6))
    xs[:, 0] = xs[:, 3] = xs[:, 4] = x0
    xs[:, 1] = xs[:, 2] = np.asarray(x0) + w
    ys[:, 0] = ys[:, 1] = ys[:, 4] = y0
    ys[:, 2] = ys[:, 3] = np.asarray(y0) + h
    xs[:, 5] = ys[:, 5] = np.nan
    return xs.ravel(), ys.ravel()


class SimilarityView(ViewBase):
    """Unit-by-unit similarity heatmap; hover tells the pair, click selects it."""

    image_updated = QtCore.pyqtSignal()  # the overview image was replaced
    exact_updated = QtCore.pyqtSignal()  # an exact block was shown (or hidden)

    def __init__(self, controller, parent=None):
        super().__init__(controller, parent)
        self.order: np.ndarray = np.zeros(0, dtype=np.int64)
        self.position: np.ndarray = np.zeros(0, dtype=np.int64)
        self.image_data: np.ndarray | None = None  # what the base ImageItem shows
        self.image_side = 0  # cells a side of image_data
        self.image_is_exact = False  # image_data is the exact full matrix
        self.exact_block: np.ndarray | None = None  # exact block over the zoomed range
        self.exact_range: tuple[int, int, int, int] | None = None  # r0, r1, c0, c1 positions
        self._result = None
        self._labels: np.ndarray | None = None
        self._pair_values: dict[str, np.ndarray] = {}
        self._exact_full: dict[str, np.ndarray] = {}  # feature -> (n, n) in unit order
        self._generation = 0
        self._shown_generation = -1
        self._zoom_pending: tuple[int, int, int, int] | None = None
        self._zoom_generation = 0
        self._work = WorkQueue(self)

        self._build_ui()
        self.mark_changed(new_result=True)  # drawn now if shown, else when first shown

    # ----- layout ---------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self.feature_combo = QtWidgets.QComboBox()
        self.feature_combo.setToolTip(
            "Which score the matrix shows: the weighted sum or one feature"
        )
        self.order_combo = QtWidgets.QComboBox()
        for key, text in ORDERS.items():
            self.order_combo.addItem(text, key)
        self.order_combo.setToolTip("How rows and columns are ordered")
        self.outline_check = QtWidgets.QCheckBox("Outline clusters")
        self.outline_check.setChecked(True)
        self.save_button = QtWidgets.QPushButton("Save…")
        self.save_button.setToolTip("Save the matrix as PNG or SVG")
        self.info_label = QtWidgets.QLabel(
            "Hover over the matrix to see a pair; click to select it."
        )
        self.info_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        # Neither a long pair description nor long combo entries may widen the window past a
        # laptop screen: the label is cut (its tooltip has it all), the combos show 8 chars.
        self.info_label.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
        )
        for combo in (self.feature_combo, self.order_combo):
            combo.setSizeAdjustPolicy(
                QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(8)

        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Show"))
        top.addWidget(self.feature_combo)
        top.addWidget(QtWidgets.QLabel("Order by"))
        top.addWidget(self.order_combo)
        top.addWidget(self.outline_check)
        top.addStretch(1)
        top.addWidget(self.save_button)

        self.graphics = pg.GraphicsLayoutWidget()
        self.plot = self.graphics.addPlot(row=0, col=0)
        self.plot.setLabel("left", "unit (row)")
        self.plot.setLabel("bottom", "unit (column)")
        set_title(self.plot, "")
        vb = self.plot.getViewBox()
        vb.invertY(True)
        vb.setAspectLocked(True)
        vb.setMenuEnabled(True)
        self.plot.hideButtons()
        cmap = pg.colormap.get("viridis")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(cmap)
        self.image.setLevels(LEVELS)
        self.exact_image = pg.ImageItem(axisOrder="row-major")
        self.exact_image.setColorMap(cmap)
        self.exact_image.setLevels(LEVELS)
        self.exact_image.setZValue(1)
        self.exact_image.hide()
        # Cells with no pair in the similarity graph (NaN) show this grey.
        self.missing = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.missing.setBrush(pg.mkBrush(90, 90, 90))
        self.missing.setPen(pg.mkPen(None))
        self.missing.setZValue(-1)
        self.plot.addItem(self.missing)
        self.plot.addItem(self.image)
        self.plot.addItem(self.exact_image)
        self.colorbar = pg.ColorBarItem(
            values=LEVELS, colorMap=cmap, label="similarity (Fisher z)", interactive=True, width=18
        )
        self.colorbar.setImageItem([self.image, self.exact_image], insert_in=None)
        self.graphics.addItem(self.colorbar, row=0, col=1)

        self.session_lines = pg.PlotDataItem(
            pen=pg.mkPen(255, 255, 255, 110, width=1), connect="finite"
        )
        self.session_lines.setZValue(2)
        self.outlines = pg.PlotDataItem(pen=pg.mkPen(255, 255, 255, 200, width=1), connect="finite")
        self.outlines.setZValue(3)
        self.cluster_marks = pg.ScatterPlotItem(
            pxMode=False, symbol="s", size=1.0, brush=None, pen=pg.mkPen("#ff3030", width=1.5)
        )
        self.cluster_marks.setZValue(4)
        self.cluster_block = pg.PlotDataItem(pen=pg.mkPen("#ff3030", width=3), connect="finite")
        self.cluster_block.setZValue(4)
        self.pair_marks = pg.ScatterPlotItem(
            pxMode=True, symbol="s", size=14, brush=None, pen=pg.mkPen("#ff00ff", width=3)
        )
        self.pair_marks.setZValue(5)
        for item in (
            self.session_lines,
            self.outlines,
            self.cluster_marks,
            self.cluster_block,
            self.pair_marks,
        ):
            self.plot.addItem(item)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.info_label)

        self._zoom_timer = QtCore.QTimer(self)
        self._zoom_timer.setSingleShot(True)
        self._zoom_timer.setInterval(ZOOM_DEBOUNCE_MS)
        self._zoom_timer.timeout.connect(self._on_zoom_settled)
        vb.sigRangeChanged.connect(lambda *_: self._zoom_timer.start())
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.graphics.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.feature_combo.currentIndexChanged.connect(lambda *_: self._recompute_image())
        self.order_combo.currentIndexChanged.connect(lambda *_: self._on_order_changed())
        self.outline_check.toggled.connect(lambda *_: self._draw_outlines())
        self.save_button.clicked.connect(self._on_save_clicked)
        add_save_action(self.plot, self, "similarity.png")

    def stop_background(self) -> None:
        self._work.abort()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        # Let a running block computation finish before the view (and its result) go away.
        self._generation += 1
        self._drop_exact_block()
        self._work.abort()
        super().closeEvent(event)

    # ----- public -----------------------------------------------------------------------------

    @property
    def feature(self) -> str | None:
        """Feature name shown, or None for the weighted similarity."""
        return self.feature_combo.currentData()

    def set_feature(self, feature: str | None) -> None:
        i = self.feature_combo.findData(feature)
        if i >= 0:
            self.feature_combo.setCurrentIndex(i)

    @property
    def order_key(self) -> str:
        return self.order_combo.currentData()

    def set_order(self, key: str) -> None:
        self.order_combo.setCurrentIndex(self.order_combo.findData(key))

    def unit_at(self, row: float, col: float) -> tuple[int, int] | None:
        """Units (row unit, column unit) under a point in display coordinates."""
        n = self.order.size
        r, c = int(np.floor(row)), int(np.floor(col))
        if n == 0 or not (0 <= r < n and 0 <= c < n):
            return None
        return int(self.order[r]), int(self.order[c])

    def value_at(self, a: int, b: int) -> float:
        """Exact score of the pair (a, b) (row unit, column unit) for the feature shown."""
        r, c = int(self.position[a]), int(self.position[b])
        if self.image_is_exact and self.image_data is not None:
            return float(self.image_data[r, c])
        if self.exact_range is not None:
            r0, r1, c0, c1 = self.exact_range
            if r0 <= r < r1 and c0 <= c < c1:
                return float(self.exact_block[r - r0, c - c0])
        return float(self._result.similarity_block([a], [b], self.feature)[0, 0])

    def export_image(self, path) -> None:
        """Save the matrix with its colour bar; PNG or SVG from the suffix."""
        export_item(self.graphics.ci, path)

    # ----- reacting to the controller --------------------------------------------------------

    def on_selection_changed(self, selection) -> None:
        self._draw_selection()

    def refresh(self) -> None:
        self.on_clusters_changed(None)
        self._draw_selection()

    def on_result_changed(self) -> None:
        result = self.result
        self._result = result
        self._pair_values = {}
        self._exact_full = {}
        self._generation += 1
        self._drop_exact_block()
        self.feature_combo.blockSignals(True)
        self.feature_combo.clear()
        self.feature_combo.addItem(WEIGHTED, None)
        if result is not None:
            for name in result.feature_names:
                self.feature_combo.addItem(f"{name} score", name)
        self.feature_combo.blockSignals(False)
        if result is None:
            self.order = np.zeros(0, dtype=np.int64)
            self.position = np.zeros(0, dtype=np.int64)
            self.image_data = None
            self.image.clear()
            self.exact_image.clear()
            for item in (self.session_lines, self.outlines, self.cluster_block):
                item.setData([], [])
            self.cluster_marks.setData([])
            self.pair_marks.setData([])
            set_title(self.plot, "No tracking result yet")
            return
        self._labels = np.asarray(self.session.labels).copy()
        self._compute_order()
        self.plot.getViewBox().setRange(
            xRange=(0, result.n_units), yRange=(0, result.n_units), padding=0.02
        )
        self._recompute_image()
        self._draw_decorations()

    def on_clusters_changed(self, info) -> None:
        if self._result is None or not membership_changed(info):
            return
        self._labels = np.array(self.session.labels)
        if self.order_key == "cluster":
            self._on_order_changed()
        else:
            self._draw_decorations()

    def _on_order_changed(self) -> None:
        if self._result is None:
            return
        self._compute_order()
        self._recompute_image()
        self._draw_decorations()

    def _compute_order(self) -> None:
        result = self._result
        self.order = display_order(result, self._labels, self.order_key)
        self.position = np.empty(result.n_units, dtype=np.int64)
        self.position[self.order] = np.arange(result.n_units)
        axis_name = {
            "session": "units by session",
            "cluster": "units by cluster",
            "leaf": "units, leaf order",
        }
        self.plot.setLabel("left", f"{axis_name[self.order_key]} (row)")
        self.plot.setLabel("bottom", f"{axis_name[self.order_key]} (column)")

    # ----- the images -------------------------------------------------------------------------

    def _recompute_image(self) -> None:
        """Start computing the image for the current feature and order.

        First the graph pairs binned into at most MAX_IMAGE_SIDE cells a side (fast), then,
        for n <= EXACT_FULL_MAX, the exact matrix replaces it.
        """
        result = self._result
        if result is None:
            return
        self._generation += 1
        generation = self._generation
        feature = self.feature
        order = self.order.copy()
        n = result.n_units
        title = WEIGHTED.lower() if feature is None else f"{feature} score"
        set_title(self.plot, f"{title}, {n} units — computing…")
        cache = self._exact_full
        pair_values = self._pair_values

        def still_wanted() -> bool:
            return generation == self._generation

        def binned():
            if not still_wanted():
                return None
            if feature not in pair_values:
                if feature is None:
                    pair_values[feature] = np.asarray(result.similarity, dtype=np.float32)
                else:
                    k = list(result.feature_names).index(feature)
                    pair_values[feature] = np.asarray(result.scores[:, k], dtype=np.float32)
            side = min(n, MAX_IMAGE_SIDE)
            pairs = np.asarray(result.pairs)
            image = binned_graph_image(n, order, pairs, pair_values[feature], side)
            return ("image", generation, image, False, side)

        def exact():
            if feature not in cache:
                units = np.arange(n)
                block = exact_block(result, units, units, feature, still_wanted)
                if block is None:
                    return None
                cache[feature] = block
            return ("image", generation, cache[feature][np.ix_(order, order)], True, n)

        if n <= EXACT_FULL_MAX and feature in cache:
            self._submit(exact)
            return
        self._submit(binned)
        if n <= EXACT_FULL_MAX:
            self._submit(exact)

    @property
    def ready(self) -> bool:
        """The image for the current feature and order is on screen (exact when n is small)."""
        if self._result is None or self._shown_generation != self._generation:
            return False
        return self.image_is_exact or self._result.n_units > EXACT_FULL_MAX

    def _submit(self, work) -> None:
        self._work.submit(
            work, returned=self._on_background_done, errored=self._on_background_failed
        )

    def _on_background_failed(self, error) -> None:
        if self.closed:
            return  # the view was closed: its items may be gone
        set_title(self.plot, f"Could not compute the similarity: {error.exception}")

    def _on_background_done(self, payload) -> None:
        if self.closed:
            return  # the view was closed: its items may be gone
        if payload is None:  # abandoned: a newer request replaced it
            return
        kind = payload[0]
        if kind == "image":
            _, generation, image, exact, side = payload
            if generation != self._generation or self._result is None:
                return
            n = self._result.n_units
            self._shown_generation = generation
            self.image_data = image
            self.image_side = side
            self.image_is_exact = exact
            self.image.setImage(image, autoLevels=False)
            self.image.setLevels(self.colorbar.levels())
            self.image.setRect(QtCore.QRectF(0, 0, n, n))
            self.missing.setRect(0, 0, n, n)
            self._drop_exact_block()
            self._set_title()
            self.image_updated.emit()
            self._on_zoom_settled()
        elif kind == "zoom":
            _, generation, block, rng = payload
            if generation != self._zoom_generation or self._result is None:
                return
            r0, r1, c0, c1 = rng
            self._zoom_pending = None
            self.exact_block = block
            self.exact_range = rng
            self.exact_image.setImage(block, autoLevels=False)
            self.exact_image.setLevels(self.colorbar.levels())
            self.exact_image.setRect(QtCore.QRectF(c0, r0, c1 - c0, r1 - r0))
            self.exact_image.show()
            self._set_title()
            self.exact_updated.emit()

    def _drop_exact_block(self) -> None:
        """Forget (and abandon computing) the exact block over the zoomed range."""
        self._zoom_generation += 1
        self._zoom_pending = None
        self.exact_block = None
        self.exact_range = None
        self.exact_image.hide()

    def _set_title(self) -> None:
        n = self._result.n_units
        title = WEIGHTED.lower() if self.feature is None else f"{self.feature} score"
        if self.image_is_exact:
            detail = "exact"
        elif self.exact_range is not None:
            r0, r1, c0, c1 = self.exact_range
            detail = f"exact for the {r1 - r0}×{c1 - c0} units in view"
        else:
            side = self.image_side
            detail = f"graph pairs binned {side}×{side}; zoom in for exact values"
        set_title(self.plot, f"{title}, {n} units ({detail})")

    def visible_range(self) -> tuple[int, int, int, int]:
        """Positions in display order of the visible rows and columns: r0, r1, c0, c1."""
        n = self.order.size
        (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
        c0 = int(np.clip(np.floor(x0), 0, n))
        c1 = int(np.clip(np.ceil(x1), 0, n))
        r0 = int(np.clip(np.floor(y0), 0, n))
        r1 = int(np.clip(np.ceil(y1), 0, n))
        return r0, r1, c0, c1

    def _on_zoom_settled(self) -> None:
        """After pan/zoom: outlines for the visible range, exact block when few units show."""
        if self._result is None or self.closed:
            return  # a closed view's plot items are being deleted (its debounce timer fired)
        self._draw_outlines()
        if self.image_is_exact:
            return
        r0, r1, c0, c1 = self.visible_range()
        # A cell budget, not a side limit: with the aspect locked one side may be longer.
        small = r1 > r0 and c1 > c0 and (r1 - r0) * (c1 - c0) <= EXACT_ZOOM_UNITS**2
        if not small:
            if self.exact_range is not None or self._zoom_pending is not None:
                self._drop_exact_block()
                self._set_title()
                self.exact_updated.emit()
            return
        rng = (r0, r1, c0, c1)
        if rng == self.exact_range or rng == self._zoom_pending:
            return
        self._zoom_pending = rng
        set_title(
            self.plot, self.plot.titleLabel.text.split(" (")[0] + " (computing exact values…)"
        )
        self._zoom_generation += 1
        generation = self._zoom_generation
        result, feature = self._result, self.feature
        rows, cols = self.order[r0:r1].copy(), self.order[c0:c1].copy()

        def work():
            block = exact_block(
                result, rows, cols, feature, lambda: generation == self._zoom_generation
            )
            return None if block is None else ("zoom", generation, block, rng)

        self._submit(work)

    # ----- decorations ------------------------------------------------------------------------

    def _draw_decorations(self) -> None:
        self._draw_session_lines()
        self._draw_outlines()
        self._draw_selection()

    def _draw_session_lines(self) -> None:
        """Boundaries between sessions (session order only) and session ticks."""
        result = self._result
        axes = (self.plot.getAxis("left"), self.plot.getAxis("bottom"))
        if result is None or self.order_key != "session":
            self.session_lines.setData([], [])
            for ax in axes:
                ax.setTicks(None)
            return
        n = result.n_units
        s = np.asarray(result.sessions)[self.order]
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(s) != 0) + 1, [n]))
        inner = bounds[1:-1].astype(float)
        k = inner.size
        xs = np.column_stack(
            (inner, inner, np.full(k, np.nan), np.zeros(k), np.full(k, n), np.full(k, np.nan))
        )
        ys = np.column_stack(
            (np.zeros(k), np.full(k, n), np.full(k, np.nan), inner, inner, np.full(k, np.nan))
        )
        self.session_lines.setData(xs.ravel(), ys.ravel())
        centres = (bounds[:-1] + bounds[1:]) / 2
        major = [(float(c), f"S{int(s[b])}") for c, b in zip(centres, bounds[:-1], strict=True)]
        if len(major) > 30:  # keep labels readable with many sessions
            step = int(np.ceil(len(major) / 30))
            major = major[::step]
        for ax in axes:
            ax.setTicks([major, []])

    def _draw_outlines(self) -> None:
        """Rectangles around contiguous runs of one cluster on the diagonal (visible ones)."""
        result = self._result
        if result is None or self._labels is None or not self.outline_check.isChecked():
            self.outlines.setData([], [])
            return
        runs = cluster_runs(self._labels[self.order])
        r0, r1, c0, c1 = self.visible_range()
        lo, hi = max(r0, c0), min(r1, c1)
        visible = (runs[:, 0] < hi) & (runs[:, 0] + runs[:, 1] > lo)
        runs = runs[visible]
        if runs.shape[0] > MAX_OUTLINES:
            runs = runs[np.argsort(-runs[:, 1], kind="stable")[:MAX_OUTLINES]]
        x, y = _rectangles_path(runs[:, 0], runs[:, 0], runs[:, 1], runs[:, 1])
        self.outlines.setData(x, y)

    def _draw_selection(self) -> None:
        """Cells of the selected cluster's pairs and the selected pair."""
        result = self._result
        if result is None or self.position.size != result.n_units:
            return
        s = self.selection
        units = self.session.units_of(s.cluster) if s.cluster is not None else np.zeros(0, int)
        units = units[units < result.n_units]
        if units.size:
            p = self.position[units]
            lo, hi = int(p.min()), int(p.max()) + 1
            if hi - lo == units.size:
                # Contiguous (cluster or leaf order): outline the diagonal block as a whole.
                x, y = _rectangles_path([lo], [lo], hi - lo, hi - lo)
                self.cluster_block.setData(x, y)
                self.cluster_marks.setData([])
            else:
                gx, gy = np.meshgrid(p, p)
                self.cluster_marks.setData(x=gx.ravel() + 0.5, y=gy.ravel() + 0.5)
                self.cluster_block.setData([], [])
        else:
            self.cluster_marks.setData([])
            self.cluster_block.setData([], [])
        pair = s.pair
        if pair is not None and max(pair) < result.n_units:
            pa, pb = self.position[pair[0]], self.position[pair[1]]
            self.pair_marks.setData(x=[pb + 0.5, pa + 0.5], y=[pa + 0.5, pb + 0.5])
        else:
            self.pair_marks.setData([])

    # ----- mouse ------------------------------------------------------------------------------

    def _scene_to_cell(self, scene_pos) -> tuple[int, int] | None:
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        return self.unit_at(p.y(), p.x())

    def _on_mouse_moved(self, scene_pos) -> None:
        if self._result is None:
            return
        cell = self._scene_to_cell(scene_pos)
        if cell is None:
            return
        self.info_label.setText(self.describe_pair(*cell))

    def describe_pair(self, a: int, b: int) -> str:
        """One line about a pair: units, sessions, clusters, the score shown."""
        result = self._result
        labels = self._labels
        s = np.asarray(result.sessions)
        y = np.asarray(result.locations)[:, 1]

        def unit_text(u):
            k = int(labels[u])
            cl = self.session.cluster_name(k) if k > 0 else "unmatched"
            return f"unit {u} (session {int(s[u])}, {cl}, y {y[u]:.0f} µm)"

        name = WEIGHTED.lower() if self.feature is None else f"{self.feature} score"
        return f"{unit_text(a)}  ×  {unit_text(b)}:  {name} {self.value_at(a, b):.2f}"

    def _on_mouse_clicked(self, event) -> None:
        if self._result is None or event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        cell = self._scene_to_cell(event.scenePos())
        if cell is None:
            return
        event.accept()
        self.controller.select_pair(*cell)

    def _on_save_clicked(self) -> None:
        path = ask_save_path(self, "similarity.png")
        if path is not None:
            self.export_image(path)
