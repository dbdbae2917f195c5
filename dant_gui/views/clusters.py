"""The cluster table: one row per tracked neuron (cluster), sortable and filterable.

Columns: id, units, sessions covered, mean depth, the mean and minimum weighted
similarity between the cluster's units (off-diagonal, exact, computed on demand and
cached by cluster id — ids are never reused, so the cache survives curation), and the
curation label ("good", "reviewed"). Rows are the current curated clusters; several rows
can be selected (Ctrl/Shift+click) to merge them.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
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
)

from dant_core.cluster_stats import SIMILARITY, compute

from ..worker import start_background
from .base import ViewBase, membership_changed
from .common import export_widget

SORT_ROLE = Qt.ItemDataRole.UserRole
LOW_SIMILARITY_COLOR = QColor("#c0392b")
LABEL_COLORS = {"good": QColor("#1e8449"), "reviewed": QColor("#5d6d7e")}

COLUMNS = ("Cluster", "Units", "Sessions", "Depth µm", "Mean sim", "Min sim", "Label")
COLUMN_TIPS = (
    "Cluster id (one tracked neuron); ids are not reused after curation edits",
    "Number of units in the cluster",
    "Sessions the cluster covers, out of all sessions",
    "Mean depth of its units (µm, as measured)",
    "Mean weighted similarity between its units (off-diagonal)",
    "Lowest weighted similarity between two of its units; red when below the match threshold",
    "Curation label: good or reviewed (L marks the selected cluster reviewed)",
)
ID, UNITS, SESSIONS, DEPTH, MEAN_SIM, MIN_SIM, LABEL = range(7)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_SORT = int(SORT_ROLE.value)
_ANSWERED = frozenset((_DISPLAY, _ALIGNMENT, _FOREGROUND, _TOOLTIP, _SORT))
_LEFT = int((Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter).value)
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)


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
        self._worker = None
        self.computing = False
        self.sort_column = ID
        self.sort_order = Qt.SortOrder.AscendingOrder

    # ----- content ------------------------------------------------------------------------

    def reload(self) -> None:
        """Recompute the per-cluster columns from the controller's current labels."""
        self.beginResetModel()
        session = self.controller.session
        if session is None:
            self.ids = np.zeros(0, dtype=np.int64)
            self.n_units = self.n_sessions_covered = np.zeros(0, dtype=np.int64)
            self.depth = self.thresholds = np.zeros(0)
            self.n_sessions = 0
        else:
            self.ids = session.cluster_ids()
            self.n_sessions = int(session.result.n_sessions)
            rows = session.stats.summaries(self.ids)
            self.n_units = np.array([r.n_units for r in rows], dtype=np.int64)
            self.n_sessions_covered = np.array([r.n_sessions for r in rows], dtype=np.int64)
            self.depth = np.array([r.depth for r in rows], dtype=np.float64)
            self.thresholds = np.array([r.threshold for r in rows], dtype=np.float64)
            self._permute(self._sort_permutation())
        self.endResetModel()
        self._start_similarity()

    def apply_edit(self, info) -> None:
        """Follow one edit (`UpdateInfo`): remove the rows of the clusters it removed, add
        rows for those it added (their statistics computed for them alone) and sort them
        in; every other row keeps its values. No model reset: views keep their state."""
        session = self.controller.session
        if session is None:
            self.reload()
            return
        gone = np.flatnonzero(np.isin(self.ids, np.asarray(info.removed_clusters, np.int64)))
        for start, stop in reversed(_runs(gone)):
            self.beginRemoveRows(QModelIndex(), start, stop)
            keep = np.r_[0:start, stop + 1 : self.ids.size]
            self._permute(keep)
            self.endRemoveRows()
        labels = session.labels
        shown = set(self.ids.tolist())
        added = [
            int(k) for k in info.added_clusters if int(k) not in shown and np.any(labels == int(k))
        ]
        if added:
            self._insert(added, session.stats.summaries(added))
        if self.ids.size:
            # The numbers in the files (first column) follow the clusters' first units, so
            # they shift for other rows too; the labels may have changed with the edit.
            last = LABEL if info.cluster_labels else ID
            self.dataChanged.emit(self.index(0, ID), self.index(self.ids.size - 1, last))
        if info.cluster_labels and self.sort_column == LABEL:
            self.sort(self.sort_column, self.sort_order)
        self._start_similarity()

    def _insert(self, added: list[int], rows) -> None:
        """Rows for the `added` clusters (their summaries `rows`), each inserted where the
        sort puts it: the other rows keep their order under every sort column (an id's
        units, so its number's rank, never change), so no layout change and no repaint of
        rows that did not move. Sorted by similarity, the new rows (not known yet) come
        first or last, and move when their similarities arrive."""
        n = self.ids.size
        columns = {
            "ids": added,
            "n_units": [r.n_units for r in rows],
            "n_sessions_covered": [r.n_sessions for r in rows],
            "depth": [r.depth for r in rows],
            "thresholds": [r.threshold for r in rows],
        }
        old = {name: getattr(self, name) for name in columns}
        whole = {name: np.r_[old[name], columns[name]].astype(old[name].dtype) for name in old}
        for name, values in whole.items():
            setattr(self, name, values)
        perm = self._sort_permutation()  # over the old rows and the new ones after them
        for name, values in old.items():
            setattr(self, name, values)
        if not np.all(np.diff(perm[perm < n]) > 0):  # cannot happen; sort them all then
            self.beginInsertRows(QModelIndex(), n, n + len(added) - 1)
            for name, values in whole.items():
                setattr(self, name, values)
            self.endInsertRows()
            self.sort(self.sort_column, self.sort_order)
            return
        for row in np.flatnonzero(perm >= n).tolist():  # ascending final rows
            i = int(perm[row])
            self.beginInsertRows(QModelIndex(), row, row)
            for name, values in whole.items():
                setattr(self, name, np.insert(getattr(self, name), row, values[i]))
            self.endInsertRows()

    # ----- sorting: numpy on the arrays, so thousands of rows cost no per-row Python calls --

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by a column (ties by id); selections and the proxy follow."""
        self.sort_column, self.sort_order = int(column), order
        if self.ids.size < 2:
            return
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        perm = self._sort_permutation()
        self._permute(perm)
        new_row = np.empty(perm.size, dtype=np.int64)
        new_row[perm] = np.arange(perm.size)
        self.changePersistentIndexList(
            old, [self.index(int(new_row[i.row()]), i.column()) for i in old]
        )
        self.layoutChanged.emit()

    def _sort_keys(self, column: int) -> np.ndarray:
        if column == ID:
            return self.controller.session.cluster_numbers(self.ids).astype(float)
        if column == UNITS:
            return self.n_units.astype(float)
        if column == SESSIONS:
            return self.n_sessions_covered.astype(float)
        if column == DEPTH:
            return np.nan_to_num(self.depth.astype(float), nan=-np.inf)
        if column == LABEL:
            texts = np.array(
                [self.controller.session.cluster_label(int(k)) for k in self.ids] or [""]
            )
            return np.unique(texts, return_inverse=True)[1][: self.ids.size].astype(float)
        which = 0 if column == MEAN_SIM else 1
        values = np.array(
            [(self.cached_similarity(int(k)) or (np.nan, np.nan))[which] for k in self.ids],
            dtype=float,
        )
        return np.nan_to_num(values, nan=-np.inf)

    def _sort_permutation(self) -> np.ndarray:
        keys = self._sort_keys(self.sort_column)
        if self.sort_order == Qt.SortOrder.DescendingOrder:
            keys = -keys
        return np.lexsort((self.ids, keys))

    def _permute(self, perm: np.ndarray) -> None:
        self.ids = self.ids[perm]
        self.n_units = self.n_units[perm]
        self.n_sessions_covered = self.n_sessions_covered[perm]
        self.depth = self.depth[perm]
        self.thresholds = self.thresholds[perm]

    def _start_similarity(self) -> None:
        """Compute the missing similarity columns on a worker (never on the UI thread)."""
        self.stop()
        session = self.controller.session
        missing = [] if session is None else session.stats.pending(SIMILARITY, self.ids)
        if not missing:
            self.computing = False
            self.similarity_ready.emit()
            return

        def partial(values) -> None:
            session.stats.store(SIMILARITY, values)  # ids are never reused: always true
            if session is self.controller.session:
                self._similarity_arrived()

        def done(values) -> None:
            partial(values)
            if session is self.controller.session:
                self.computing = False
                self.similarity_ready.emit()

        self.computing = True
        # filled in behind, at a lower priority: it must not take the window's cores
        self._worker = start_background(
            compute, SIMILARITY, session.result, missing, progress=partial, returned=done
        )

    def stop(self) -> None:
        """Stop the background computation (its results are dropped)."""
        if self._worker is not None:
            self._worker.abort()
            self._worker = None

    def _similarity_arrived(self) -> None:
        if self.ids.size:
            self.dataChanged.emit(self.index(0, MEAN_SIM), self.index(self.ids.size - 1, MIN_SIM))
            if self.sort_column in (MEAN_SIM, MIN_SIM):
                self.sort(self.sort_column, self.sort_order)

    def labels_changed(self) -> None:
        """The curation labels changed (not the clusters): repaint the label column."""
        if self.ids.size:
            self.dataChanged.emit(self.index(0, LABEL), self.index(self.ids.size - 1, LABEL))
            if self.sort_column == LABEL:
                self.sort(self.sort_column, self.sort_order)

    def similarity_of(self, cluster: int) -> tuple[float, float]:
        """(mean, min) within-cluster similarity, computed now if the background has not yet."""
        return self.controller.session.stats.value(SIMILARITY, cluster)

    def cached_similarity(self, cluster: int) -> tuple[float, float] | None:
        session = self.controller.session
        return None if session is None else session.stats.cached(SIMILARITY, cluster)

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
        if col == ID:  # the number the exported files give it, not the internal id
            number = self.controller.session.cluster_number(int(self.ids[row]))
            return -1 if number is None else number
        if col == UNITS:
            return int(self.n_units[row])
        if col == SESSIONS:
            return int(self.n_sessions_covered[row])
        if col == DEPTH:
            return float(self.depth[row])
        if col == LABEL:
            return self.controller.session.cluster_label(int(self.ids[row]))
        cached = self.cached_similarity(int(self.ids[row]))
        if cached is None:
            return None
        return cached[0] if col == MEAN_SIM else cached[1]

    def data(self, index, role=_DISPLAY):
        # Asked ~7 roles for every cell shown at every repaint: roles the table does not
        # answer are turned away first (ints, not enum members: cheaper to compare).
        if role not in _ANSWERED or not index.isValid():
            return None
        row, col = index.row(), index.column()
        if role == _DISPLAY:
            v = self._value(row, col)
            if col == SESSIONS:
                return f"{v} / {self.n_sessions}"
            if col == DEPTH:
                return f"{v:.0f}"
            if col == ID and v < 0:
                return "–"
            if col in (MEAN_SIM, MIN_SIM):
                if v is None:
                    return "…"
                return "–" if np.isnan(v) else f"{v:.2f}"
            return str(v)
        if role == _ALIGNMENT:
            return _LEFT if col == LABEL else _RIGHT
        if role == _FOREGROUND:
            if col == LABEL:
                return LABEL_COLORS.get(self._value(row, col))
            if col == MIN_SIM:
                low, thr = self._value(row, col), self.thresholds[row]
                if low is not None and not np.isnan(low) and not np.isnan(thr) and low < thr:
                    return LOW_SIMILARITY_COLOR
            return None
        if role == _SORT:
            v = self._value(row, col)
            return -np.inf if v is None or (isinstance(v, float) and np.isnan(v)) else v
        if role == _TOOLTIP and col in (MEAN_SIM, MIN_SIM):
            thr = self.thresholds[row]
            return COLUMN_TIPS[col] + ("" if np.isnan(thr) else f"; match threshold {thr:.2f}")
        return None


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Ascending rows as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for r in rows.tolist():
        if runs and r == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs


def label_column_width(table: QTableView) -> int:
    """Pixels the label column needs for its header and its longest label."""
    metrics = table.fontMetrics()
    texts = [COLUMNS[LABEL], *LABEL_COLORS]
    return max(metrics.horizontalAdvance(t) for t in texts) + 3 * metrics.averageCharWidth()


class ClusterFilterProxy(QSortFilterProxyModel):
    """Keeps clusters with >= min_units whose id contains `text`; sorting is passed on to the
    source model (numpy), the proxy keeps its order."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.min_units = 0
        self.text = ""
        self.setSortRole(SORT_ROLE)
        # A row's units never change, so only the text filter (on the number in the files,
        # which shifts with edits) needs rows filtered again when their data change; else
        # each edit's dataChanged over every row would ask filterAcceptsRow for all of them.
        self.setDynamicSortFilter(False)

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)

    def set_filter(self, min_units: int | None = None, text: str | None = None) -> None:
        if min_units is not None:
            self.min_units = int(min_units)
        if text is not None:
            self.text = text.strip()
        self.setDynamicSortFilter(bool(self.text))
        self.invalidateFilter()

    def filterAcceptsRow(self, source_row, source_parent) -> bool:
        model = self.sourceModel()
        if model.n_units[source_row] < self.min_units:
            return False
        if self.text:
            return self.text in str(
                model.controller.session.cluster_number(int(model.ids[source_row]))
            )
        return True


class ClusterTableView(ViewBase):
    """Filter bar + virtualized, sortable table of clusters; a row click selects the cluster."""

    def __init__(self, controller, parent=None):
        super().__init__(controller, parent)
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
        # Several rows (Ctrl/Shift+click) select several clusters, e.g. two to merge (G).
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # Wide enough for its longest text, fixed: sized to its contents, the column asked
        # every row for its text after every edit and sort (0.3 s at 700 clusters).
        header.setSectionResizeMode(LABEL, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(LABEL, label_column_width(self.table))
        header.setHighlightSections(False)
        self.table.selectionModel().selectionChanged.connect(self._rows_selected)
        self.table.setToolTip(
            "Click a cluster to see it; Ctrl+click a second one and press G to merge them. "
            "Up/Down (or N/P) move through this list from anywhere in the window."
        )
        # The session follows the table's order (sorting, filters) for next / previous and
        # the selection after an edit: the table tells it the ids whenever the order changes.
        for signal in (
            self.proxy.layoutChanged,
            self.proxy.modelReset,
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
        ):
            signal.connect(self._order_changed)

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
        self.reload()

    # ----- state ---------------------------------------------------------------------------

    def reload(self) -> None:
        self.model.reload()
        self._update_count()
        self._show_selection()

    def on_result_changed(self) -> None:
        self.reload()

    def on_selection_changed(self, selection) -> None:
        self._show_selection()

    def on_clusters_changed(self, info) -> None:
        if not membership_changed(info):
            self.model.labels_changed()  # only a curation label changed: keep rows and sort
            return
        self._syncing = True  # rows leaving the selection are not a user's choice
        try:
            self.model.apply_edit(info)
        finally:
            self._syncing = False
        self._update_count()
        self._show_selection()

    def _order_changed(self, *_) -> None:
        self.controller.set_navigation_order(self.visible_ids())

    def _filter(self, min_units=None, text=None) -> None:
        self.proxy.set_filter(min_units=min_units, text=text)
        self._order_changed()
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        if self.session is None:
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
        """Cluster ids of the rows shown, top to bottom (the proxy keeps the model's order)."""
        model, proxy = self.model, self.proxy
        keep = model.n_units >= proxy.min_units
        if proxy.text:
            keep &= np.array([proxy.text in str(int(k)) for k in model.ids], dtype=bool)
        return model.ids[keep].tolist()

    def row_of_cluster(self, cluster: int) -> int:
        """The table row (after sorting and filtering) showing `cluster`, or -1."""
        row = self.model.row_of(cluster)
        if row < 0:
            return -1
        index = self.proxy.mapFromSource(self.model.index(row, ID))
        return index.row() if index.isValid() else -1

    def select_row(self, proxy_row: int) -> None:
        """Select a table row as a click would (for tests and keyboard use)."""
        self.table.selectRow(proxy_row)

    def select_rows(self, proxy_rows) -> None:
        """Select several table rows as Ctrl+clicks would, the first one current."""
        selection = self.table.selectionModel()
        rows = list(proxy_rows)
        flags = QItemSelectionModel.SelectionFlag.Rows
        for i, row in enumerate(rows):
            mode = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                if i == 0
                else QItemSelectionModel.SelectionFlag.Select
            )
            selection.select(self.proxy.index(row, ID), mode | flags)
        if rows:
            selection.setCurrentIndex(
                self.proxy.index(rows[0], ID), QItemSelectionModel.SelectionFlag.NoUpdate
            )

    def selected_ids(self) -> list[int]:
        """Clusters of the selected rows; the current row's first."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        current = self.table.selectionModel().currentIndex()
        if current.isValid() and current.row() in rows:
            rows.remove(current.row())
            rows.insert(0, current.row())
        return [self.cluster_at(r) for r in rows]

    def _rows_selected(self, *_):
        if self._syncing:
            return
        ids = self.selected_ids()
        if len(ids) == 1:
            self.controller.select_cluster(ids[0])
        elif ids:
            self.controller.select_clusters(ids)

    def _show_selection(self) -> None:
        s = self.selection
        clusters = s.clusters or (() if s.cluster is None else (s.cluster,))
        selection = self.table.selectionModel()
        self._syncing = True
        try:
            rows = [r for r in (self.row_of_cluster(k) for k in clusters) if r >= 0]
            if sorted(rows) == sorted({i.row() for i in selection.selectedRows()}) and rows:
                return
            selection.clearSelection()
            if not rows:
                return
            flags = (
                QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
            )
            for row in rows:
                selection.select(self.proxy.index(row, ID), flags)
            index = self.proxy.index(rows[0], ID)
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.table.scrollTo(index)
        finally:
            self._syncing = False

    def export_image(self, path) -> None:
        export_widget(self, path)


ClustersView = ClusterTableView
