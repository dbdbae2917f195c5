"""The cluster table: one row per tracked neuron (cluster), sortable and filterable.

Columns: id, units, sessions covered, mean depth, and the mean and minimum weighted
similarity between the cluster's units (off-diagonal, exact, computed on demand and
cached by cluster id — ids are never reused, so the cache survives curation).
"""

from __future__ import annotations

import threading
import time

import numpy as np
from PyQt6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QRunnable,
    QSortFilterProxyModel,
    Qt,
    QThreadPool,
    pyqtSignal,
)
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .common import export_widget

SORT_ROLE = Qt.ItemDataRole.UserRole
LOW_SIMILARITY_COLOR = QColor("#c0392b")

COLUMNS = ("Cluster", "Units", "Sessions", "Depth µm", "Mean sim", "Min sim")
COLUMN_TIPS = (
    "Cluster id (one tracked neuron)",
    "Number of units in the cluster",
    "Sessions the cluster covers, out of all sessions",
    "Mean depth of its units (µm, as measured)",
    "Mean weighted similarity between its units (off-diagonal)",
    "Lowest weighted similarity between two of its units; red when below the match threshold",
)
ID, UNITS, SESSIONS, DEPTH, MEAN_SIM, MIN_SIM = range(6)


def within_similarity(result, units: np.ndarray) -> tuple[float, float]:
    """(mean, min) of the off-diagonal weighted similarity among `units`; NaN for < 2 units."""
    if units.size < 2:
        return float("nan"), float("nan")
    block = np.asarray(result.similarity_block(units, units))
    off = block[~np.eye(units.size, dtype=bool)]
    return float(off.mean()), float(off.min())


class _Bridge(QObject):
    """Carries the background task's results to the UI thread (queued signals)."""

    partial = pyqtSignal(int, object)  # generation, {cluster id: (mean, min)}
    done = pyqtSignal(int)


class _SimilarityTask(QRunnable):
    """Within-cluster similarity of many clusters, reported in batches; stops on `stop`."""

    REPORT_EVERY = 0.15  # seconds between partial reports

    def __init__(self, result, clusters, generation: int, bridge: _Bridge, stop: threading.Event):
        super().__init__()
        self.result = result
        self.clusters = clusters  # list of (cluster id, units)
        self.generation = generation
        self.bridge = bridge
        self.stop = stop

    def run(self) -> None:
        batch: dict[int, tuple[float, float]] = {}
        last = time.monotonic()
        try:
            for cluster, units in self.clusters:
                if self.stop.is_set():
                    return
                try:
                    batch[cluster] = within_similarity(self.result, units)
                except Exception:  # noqa: BLE001 - one bad cluster shows "?", not a crash
                    batch[cluster] = (float("nan"), float("nan"))
                if time.monotonic() - last > self.REPORT_EVERY:
                    self.bridge.partial.emit(self.generation, batch)
                    batch, last = {}, time.monotonic()
            self.bridge.partial.emit(self.generation, batch)
            self.bridge.done.emit(self.generation)
        except RuntimeError:  # the view was deleted meanwhile
            pass


class ClusterTableModel(QAbstractTableModel):
    """Rows = current clusters of `controller`; similarity columns filled in the background."""

    similarity_ready = pyqtSignal()  # every shown cluster has its similarity columns

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.ids = np.zeros(0, dtype=np.int64)
        self.n_units = np.zeros(0, dtype=np.int64)
        self.n_sessions_covered = np.zeros(0, dtype=np.int64)
        self.depth = np.zeros(0)
        self.thresholds = np.zeros(0)
        self.n_sessions = 0
        self._similarity: dict[int, tuple[float, float]] = {}  # cluster id -> (mean, min)
        self._result_id = None
        self._generation = 0
        self._stop = threading.Event()
        self._bridge = _Bridge(self)
        self._bridge.partial.connect(self._on_partial)
        self._bridge.done.connect(self._on_done)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.computing = False

    # ----- content ------------------------------------------------------------------------

    def reload(self) -> None:
        """Recompute the per-cluster columns from the controller's current labels."""
        self.beginResetModel()
        result = self.controller.result
        labels = self.controller.idx_cluster
        if result is not self._result_id:
            self._similarity.clear()  # a new result: ids mean other units now
            self._result_id = result
        if result is None or labels is None:
            self.ids = np.zeros(0, dtype=np.int64)
            self.n_units = self.n_sessions_covered = np.zeros(0, dtype=np.int64)
            self.depth = self.thresholds = np.zeros(0)
            self.n_sessions = 0
        else:
            self.ids = self.controller.cluster_ids()
            self.n_sessions = int(result.n_sessions)
            k_max = int(labels.max(initial=0))
            tracked = labels > 0
            lab = labels[tracked]
            counts = np.bincount(lab, minlength=k_max + 1)
            depth_sum = np.bincount(lab, weights=result.locations[tracked, 1], minlength=k_max + 1)
            sess = np.asarray(result.sessions)[tracked]
            pairs = np.unique(lab * (self.n_sessions + 1) + sess)
            covered = np.bincount(pairs // (self.n_sessions + 1), minlength=k_max + 1)
            self.n_units = counts[self.ids]
            self.n_sessions_covered = covered[self.ids]
            self.depth = depth_sum[self.ids] / np.maximum(self.n_units, 1)
            self.thresholds = self._thresholds(result, labels)
        self.endResetModel()
        self._start_similarity()

    def _thresholds(self, result, labels) -> np.ndarray:
        """Match threshold of each row's shank (NaN when the result does not say)."""
        try:
            _, first = np.unique(labels, return_index=True)
            first_unit = dict(zip(np.unique(labels).tolist(), first.tolist(), strict=True))
            shank = result.unit_shank_index
            return np.array([float(result.thresholds[shank[first_unit[int(k)]]]) for k in self.ids])
        except Exception:  # noqa: BLE001 - a loaded result may lack per-shank thresholds
            return np.full(self.ids.size, np.nan)

    def _start_similarity(self) -> None:
        """Compute the missing similarity columns on a pool thread (never on the UI thread)."""
        self._stop.set()  # the previous task, if any, ends at its next cluster
        self._stop = threading.Event()
        self._generation += 1
        result = self.controller.result
        missing = [int(k) for k in self.ids if int(k) not in self._similarity]
        if result is None or not missing:
            self.computing = False
            self.similarity_ready.emit()
            return
        labels = self.controller.idx_cluster
        order = np.argsort(labels, kind="stable")
        sorted_labels = labels[order]
        clusters = []
        for k in missing:
            lo, hi = np.searchsorted(sorted_labels, [k, k + 1])
            clusters.append((k, np.sort(order[lo:hi]).astype(np.int64)))
        self.computing = True
        self.pool.start(
            _SimilarityTask(result, clusters, self._generation, self._bridge, self._stop)
        )

    def stop(self) -> None:
        """Stop background work and wait for it (before the window goes away)."""
        self._stop.set()
        self.pool.clear()
        self.pool.waitForDone(30_000)

    def _on_partial(self, generation: int, values: dict) -> None:
        if generation != self._generation or not values:
            return
        self._similarity.update(values)
        if self.ids.size:
            self.dataChanged.emit(self.index(0, MEAN_SIM), self.index(self.ids.size - 1, MIN_SIM))

    def _on_done(self, generation: int) -> None:
        if generation == self._generation:
            self.computing = False
            self.similarity_ready.emit()

    def similarity_of(self, cluster: int) -> tuple[float, float]:
        """(mean, min) within-cluster similarity, computed now if the background has not yet."""
        cluster = int(cluster)
        if cluster not in self._similarity:
            units = self.controller.units_of(cluster)
            self._similarity[cluster] = within_similarity(self.controller.result, units)
        return self._similarity[cluster]

    def cached_similarity(self, cluster: int) -> tuple[float, float] | None:
        return self._similarity.get(int(cluster))

    def row_of(self, cluster: int) -> int:
        hits = np.flatnonzero(self.ids == int(cluster))
        return int(hits[0]) if hits.size else -1

    # ----- Qt model -------------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else int(self.ids.size)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMN_TIPS[section]
        return None

    def _value(self, row: int, col: int):
        """Raw value of a cell; None for a similarity still being computed."""
        if col == ID:
            return int(self.ids[row])
        if col == UNITS:
            return int(self.n_units[row])
        if col == SESSIONS:
            return int(self.n_sessions_covered[row])
        if col == DEPTH:
            return float(self.depth[row])
        cached = self.cached_similarity(int(self.ids[row]))
        if cached is None:
            return None
        return cached[0] if col == MEAN_SIM else cached[1]

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if role == SORT_ROLE:
            v = self._value(row, col)
            return -np.inf if v is None or (isinstance(v, float) and np.isnan(v)) else v
        if role == Qt.ItemDataRole.DisplayRole:
            v = self._value(row, col)
            if col == SESSIONS:
                return f"{v} / {self.n_sessions}"
            if col == DEPTH:
                return f"{v:.0f}"
            if col in (MEAN_SIM, MIN_SIM):
                if v is None:
                    return "…"
                return "–" if np.isnan(v) else f"{v:.2f}"
            return str(v)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == MIN_SIM:
            low, thr = self._value(row, col), self.thresholds[row]
            if low is not None and not np.isnan(low) and not np.isnan(thr) and low < thr:
                return LOW_SIMILARITY_COLOR
        if role == Qt.ItemDataRole.ToolTipRole and col in (MEAN_SIM, MIN_SIM):
            thr = self.thresholds[row]
            return COLUMN_TIPS[col] + ("" if np.isnan(thr) else f"; match threshold {thr:.2f}")
        return None


class ClusterFilterProxy(QSortFilterProxyModel):
    """Sorts on raw values; keeps clusters with >= min_units whose id contains `text`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.min_units = 0
        self.text = ""
        self.setSortRole(SORT_ROLE)

    def set_filter(self, min_units: int | None = None, text: str | None = None) -> None:
        if min_units is not None:
            self.min_units = int(min_units)
        if text is not None:
            self.text = text.strip()
        self.invalidateFilter()

    def filterAcceptsRow(self, source_row, source_parent) -> bool:
        model = self.sourceModel()
        if model.n_units[source_row] < self.min_units:
            return False
        if self.text:
            return self.text in str(int(model.ids[source_row]))
        return True


class ClusterTableView(QWidget):
    """Filter bar + virtualized, sortable table of clusters; a row click selects the cluster."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.model = ClusterTableModel(controller, self)
        self.proxy = ClusterFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.text_filter = QLineEdit(self)
        self.text_filter.setPlaceholderText("Cluster id…")
        self.text_filter.setClearButtonEnabled(True)
        self.text_filter.textChanged.connect(lambda t: self._filter(text=t))
        self.min_units = QSpinBox(self)
        self.min_units.setRange(0, 10_000)
        self.min_units.setPrefix("≥ ")
        self.min_units.setSuffix(" units")
        self.min_units.setToolTip("Show only clusters with at least this many units")
        self.min_units.valueChanged.connect(lambda v: self._filter(min_units=v))
        self.count_label = QLabel(self)

        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(ID, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.table.selectionModel().selectionChanged.connect(self._rows_selected)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Clusters</b>", self)
        bar.addWidget(title)
        bar.addWidget(self.text_filter, 1)
        bar.addWidget(self.min_units)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count_label)

        self._syncing = False
        self.similarity_ready = self.model.similarity_ready
        self.model.similarity_ready.connect(self._update_count)
        controller.result_changed.connect(self.reload)
        controller.clusters_changed.connect(self.reload)
        controller.selection_changed.connect(self._show_selection)
        self.reload()

    # ----- state ---------------------------------------------------------------------------

    def reload(self) -> None:
        self.model.reload()
        self._update_count()
        self._show_selection()

    def _filter(self, min_units=None, text=None) -> None:
        self.proxy.set_filter(min_units=min_units, text=text)
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        if self.controller.result is None:
            self.count_label.setText("No result yet")
        elif shown == total:
            self.count_label.setText(f"{total} clusters")
        else:
            self.count_label.setText(f"{shown} of {total} clusters shown")
        if self.model.computing:
            self.count_label.setText(self.count_label.text() + " · computing similarities…")

    def stop_background(self) -> None:
        self.model.stop()

    def cluster_at(self, proxy_row: int) -> int:
        source = self.proxy.mapToSource(self.proxy.index(proxy_row, ID))
        return int(self.model.ids[source.row()])

    def visible_ids(self) -> list[int]:
        return [self.cluster_at(r) for r in range(self.proxy.rowCount())]

    def select_row(self, proxy_row: int) -> None:
        """Select a table row as a click would (for tests and keyboard use)."""
        self.table.selectRow(proxy_row)

    def _rows_selected(self, *_):
        if self._syncing:
            return
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.controller.select_cluster(self.cluster_at(rows[0].row()))

    def _show_selection(self) -> None:
        cluster = self.controller.selected_cluster
        selection = self.table.selectionModel()
        self._syncing = True
        try:
            if cluster is None:
                selection.clearSelection()
                return
            row = self.model.row_of(cluster)
            if row < 0:
                selection.clearSelection()
                return
            index = self.proxy.mapFromSource(self.model.index(row, ID))
            if not index.isValid():  # filtered out
                selection.clearSelection()
                return
            flags = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
            selection.setCurrentIndex(index, flags)
            self.table.scrollTo(index)
        finally:
            self._syncing = False

    def export_image(self, path) -> None:
        export_widget(self, path)


ClustersView = ClusterTableView
