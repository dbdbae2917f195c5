"""The review queue: clusters least certain first, with progress and "Mark reviewed and next".

Certainty is the margin of a cluster's weakest link (the smallest similarity still needed
to hold it together) above its shank's match threshold — `dant_core.curation.review_order`.
Clusters labelled "reviewed" or "good" go to the end, greyed. Clicking a row selects it.
The Auto column names the automatic decisions (AutoCuration.json) that made or changed a
cluster, "Auto decisions only" lists just those clusters, and "Take back…" (or a right
click) takes one decision back as one curation action (`undo_decision`).
The margins of many new clusters (opening a large result) are computed on a pool thread;
so are those of the few clusters an edit makes (a similarity block each: ~20 ms at 60
sessions): their rows show "…" where the edited cluster was and move to their place when
the margins arrive (`margins_ready` once none waits).
"""

from __future__ import annotations

import bisect

import numpy as np
from PyQt6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QTableView,
    QToolButton,
    QVBoxLayout,
)

from dant_core.auto_decisions import kinds_text
from dant_core.cluster_stats import MARGIN, compute
from dant_core.curation import REVIEWED_LABELS

from ..worker import start_background, start_worker
from .base import ViewBase
from .common import export_widget

BACKGROUND_AT_LEAST = 200  # this many clusters without a margin: compute on a pool thread
DONE_COLOR = QColor("#9a9a9a")
NEGATIVE_COLOR = QColor("#c0392b")
COLUMNS = ("#", "Cluster", "Units", "Margin", "Auto", "Label")
AUTO = COLUMNS.index("Auto")
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_ANSWERED = frozenset((_DISPLAY, _ALIGNMENT, _FOREGROUND, _TOOLTIP))
_LEFT = int((Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter).value)
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
COLUMN_TIPS = (
    "Place in the review queue (least certain first)",
    "Cluster id",
    "Number of units in the cluster",
    "Weakest link of the cluster minus its match threshold: small or negative means the "
    "cluster barely holds together, so review it first",
    "The automatic decisions (split, recluster, merge, attach, pair) that made or changed "
    "the cluster; point at one to read them, right-click to take one back",
    "Curation label; reviewed and good clusters go to the end of the queue",
)


class ReviewQueueModel(QAbstractTableModel):
    """Rows = the session's `review_queue()`, in that order, once every margin is known.

    `keys[row]` is the row's `Session.review_key` (None: its margin is still being computed
    after an edit, shown as "…"). The rows with a key are always in ascending key order; a
    row waiting for its margin sits where the cluster it came from was, and moves to its
    place when the margin arrives (`margins_arrived`)."""

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.queue: list[int] = []
        self.keys: list[tuple | None] = []
        self.sizes: dict[int, int] = {}
        self.auto: dict[int, bool] = {}  # cluster -> an automatic decision made or changed it

    def reload(self) -> None:
        self.beginResetModel()
        session = self.controller.session
        self.keys = [] if session is None else sorted(map(session.review_key, _queued(session)))
        self.queue = [key[2] for key in self.keys]
        self.sizes = {}
        self.auto = {}
        if self.queue:
            summaries = session.stats.summaries(self.queue)
            self.sizes = {k: s.n_units for k, s in zip(self.queue, summaries, strict=True)}
        self.endResetModel()

    def touched(self, cluster: int) -> bool:
        """Whether an automatic decision made or changed the cluster (cached: an id's
        units never change)."""
        if cluster not in self.auto:
            self.auto[cluster] = bool(self.controller.session.decisions_of(cluster))
        return self.auto[cluster]

    def pending(self) -> list[int]:
        """The clusters listed whose margin is still being computed, top to bottom."""
        return [k for k, key in zip(self.queue, self.keys, strict=True) if key is None]

    def apply_edit(self, info) -> list[int]:
        """Follow one edit (`UpdateInfo`): the rows of removed clusters go, added clusters
        and relabelled ones are put in their place in the queue; every other row stays. No
        model reset. An added cluster whose margin is not known yet is listed where the
        first removed row was (margin "…"); returns those clusters, for a worker to compute
        (then `margins_arrived`)."""
        session = self.controller.session
        if session is None or session.curator is None:
            self.reload()
            return []
        labels = session.labels
        out = {int(k) for k in info.removed_clusters} | {int(k) for k in info.cluster_labels}
        rows = sorted((r for r in map(self.row_of, out) if r >= 0), reverse=True)
        anchor = rows[-1] if rows else 0
        taken: dict[int, int] = {}  # cluster -> its size, for rows put back
        for row in rows:
            self.beginRemoveRows(QModelIndex(), row, row)
            k = self.queue.pop(row)
            self.keys.pop(row)
            taken[k] = self.sizes.pop(k)
            self.endRemoveRows()
        back = {int(k) for k in info.added_clusters} | {int(k) for k in info.cluster_labels}
        back = sorted(k for k in back if k not in self.sizes and np.any(labels == k))
        new = [k for k in back if k not in taken]
        sizes = dict(taken)
        sizes.update((k, s.n_units) for k, s in zip(new, session.stats.summaries(new), strict=True))
        anchor = min(anchor, len(self.queue))
        for k in back:
            key = self._known_key(session, k, sizes[k])
            row = anchor if key is None else self._row_for(key)
            self.beginInsertRows(QModelIndex(), row, row)
            self.queue.insert(row, k)
            self.keys.insert(row, key)
            self.sizes[k] = sizes[k]
            self.endInsertRows()
            anchor += int(key is None or row <= anchor)
        self.margins_arrived()  # margins found meanwhile (e.g. by session.review_queue)
        if self.queue:
            # Places (#) below a change and the numbers in the files shift for other rows.
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.queue) - 1, 1))
        return self.pending()

    def margins_arrived(self) -> bool:
        """Move the rows whose margins are now known (`ClusterStatistics.store`) to their
        place; whether any moved. Once none waits, the rows are `review_queue()`."""
        session = self.controller.session
        moved = False
        for k in self.pending():
            key = self._known_key(session, k, self.sizes[k])
            if key is None:
                continue
            row = self.queue.index(k)
            self.queue.pop(row)
            self.keys.pop(row)
            to = self._row_for(key)
            # Qt counts the destination before the move: past the row itself, one more.
            if to != row and self.beginMoveRows(
                QModelIndex(), row, row, QModelIndex(), to + (to > row)
            ):
                self.queue.insert(to, k)
                self.keys.insert(to, key)
                self.endMoveRows()
                self.dataChanged.emit(self.index(min(row, to), 0), self.index(max(row, to), 3))
            else:
                self.queue.insert(row, k)
                self.keys.insert(row, key)
                self.dataChanged.emit(self.index(row, 3), self.index(row, 3))
            moved = True
        return moved

    @staticmethod
    def _known_key(session, cluster: int, size: int):
        """The review key of a cluster when its margin is known (one unit: no margin needed),
        else None."""
        if size >= 2 and session.review_margin(cluster) is None:
            return None
        return session.review_key(cluster)

    def _row_for(self, key) -> int:
        """Where a row with `key` goes: after the keyed rows below it, among rows that wait."""
        known = [i for i, other in enumerate(self.keys) if other is not None]
        j = bisect.bisect_left([self.keys[i] for i in known], key)
        return known[j] if j < len(known) else len(self.queue)

    def row_of(self, cluster) -> int:
        try:
            return self.queue.index(int(cluster))
        except (ValueError, TypeError):
            return -1

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.queue)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMN_TIPS[section]
        return None

    def data(self, index, role=_DISPLAY):
        # Asked ~7 roles for every cell shown at every repaint: roles the queue does not
        # answer are turned away first (ints, not enum members: cheaper to compare).
        if role not in _ANSWERED or not index.isValid():
            return None
        row, col = index.row(), index.column()
        if role == _ALIGNMENT:
            return _LEFT if col >= AUTO else _RIGHT
        session = self.controller.session
        cluster = self.queue[row]
        if role == _DISPLAY:
            if col == 0:
                return str(row + 1)
            if col == 1:  # the number in the exported files, as everywhere on screen
                number = session.cluster_number(cluster)
                return "–" if number is None else str(number)
            if col == 2:
                return str(self.sizes.get(cluster, 0))
            if col == 3:
                if self.keys[row] is None:
                    return "…"  # being computed
                margin = session.review_margin(cluster)
                return "–" if margin is None or not np.isfinite(margin) else f"{margin:+.2f}"
            if col == AUTO:
                return kinds_text(session.decisions_of(cluster))
            label = session.cluster_label(cluster)
            return ("✓ " + label) if label in REVIEWED_LABELS else label
        if role == _TOOLTIP:
            return decisions_tip(session, cluster) if col == AUTO else None
        # the foreground
        if session.cluster_label(cluster) in REVIEWED_LABELS:
            return DONE_COLOR
        margin = session.review_margin(cluster) if col == 3 else None
        if margin is not None and margin < 0:
            return NEGATIVE_COLOR
        return None


def _queued(session) -> list[int]:
    """The clusters the review queue lists (none without curation)."""
    return [] if session.curator is None else session.cluster_ids().tolist()


def decisions_tip(session, cluster) -> str | None:
    """One sentence per automatic decision of `cluster`; those that cannot be taken back
    now say so (None: no decision)."""
    decisions = session.decisions_of(cluster)
    if not decisions:
        return None
    state = None if session.curator is None else session.curator.state
    lines = []
    for d in decisions:
        line = d.describe(session.result.sessions)
        if state is not None and session.auto_decisions.refusal(d, state):
            line += " (cannot be taken back now)"
        lines.append("• " + line)
    return "\n".join(lines + ["Take back… (or right-click) takes one back as one action"])


class ReviewQueueView(ViewBase):
    """Progress, a "Mark reviewed and next" button (the window's action), the queue, and
    the automatic decisions: a filter and a menu that takes one back
    (`undo_decision_requested(AutoDecision)`, which the window turns into one action)."""

    undo_decision_requested = pyqtSignal(object)
    # every row has its margin again (after an edit made clusters whose margins were
    # computed on a pool thread): the rows are the session's review_queue()
    margins_ready = pyqtSignal()

    def __init__(self, controller, mark_action=None, parent=None):
        super().__init__(controller, parent)
        self.model = ReviewQueueModel(controller, self)
        self.progress_label = QLabel(self)
        # Wraps: on one line, its longest text widened the window past a laptop's screen.
        self.progress_label.setWordWrap(True)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(8)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip(
            "Clusters to check, least certain first. Click one to see it; "
            "L (or Ctrl+R) marks it reviewed and moves to the next."
        )
        self.table.selectionModel().selectionChanged.connect(self._row_selected)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.auto_only = QCheckBox("Auto decisions only", self)
        self.auto_only.setToolTip(
            "List only the clusters an automatic decision made or changed (split, "
            "recluster, merge, attach, pair), still least certain first"
        )
        self.auto_only.toggled.connect(self._filter_rows)
        self.decision_menu = QMenu(self)
        self.decision_menu.setToolTipsVisible(True)
        self.decision_menu.aboutToShow.connect(self.fill_decision_menu)
        self.take_back_button = QToolButton(self)
        self.take_back_button.setText("Take back…")
        self.take_back_button.setToolTip(
            "Take back one automatic decision that made or changed the selected cluster, "
            "as one curation action (Ctrl+Z undoes it)"
        )
        self.take_back_button.setMenu(self.decision_menu)
        self.take_back_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.progress_label, 1)
        if mark_action is not None:
            self.mark_button = QToolButton(self)
            self.mark_button.setDefaultAction(mark_action)
            self.mark_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            top.addWidget(self.mark_button)
        decisions = QHBoxLayout()
        decisions.setContentsMargins(0, 0, 0, 0)
        decisions.addWidget(self.auto_only, 1)
        decisions.addWidget(self.take_back_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.progress_bar)
        layout.addLayout(decisions)
        layout.addWidget(self.table, 1)

        self._syncing = False
        self.computing = False
        self._worker = None
        self._edit_worker = None  # computing the margins of the clusters edits made
        self._rows_hidden = False  # "Auto decisions only" hid rows
        self.refresh()

    # The queue costs a similarity block per new cluster: the base works it out only when
    # the view is shown; every edit (labels included) refreshes it.

    def on_result_changed(self) -> None:
        self.refresh()

    def on_selection_changed(self, selection) -> None:
        self._show_selection()

    def on_clusters_changed(self, info) -> None:
        if self.computing:  # the first margins are still on their way: start again
            self.refresh()
            return
        self._syncing = True
        try:
            pending = self.model.apply_edit(info)
        finally:
            self._syncing = False
        self._follow_rows()
        self._start_edit_margins(pending)

    def _follow_rows(self) -> None:
        self._filter_rows()
        self._show_progress()
        self._show_selection()

    def _start_edit_margins(self, pending) -> None:
        """The margins of the clusters an edit made, on a pool thread: the queue shows "…"
        for them meanwhile and moves each to its place when they arrive. A newer edit
        supersedes the computation (it starts one for every row still waiting)."""
        if self._edit_worker is not None:
            self._edit_worker.abort()  # its clusters are among `pending` again, if still shown
            self._edit_worker = None
        session = self.session
        if not pending:
            self.margins_ready.emit()
            return

        def done() -> None:
            self._edit_worker = None
            if self.stale:  # hidden meanwhile: caught up (from the cache) when shown
                return
            self._syncing = True
            try:
                self.model.margins_arrived()
            finally:
                self._syncing = False
            self._follow_rows()
            if not self.model.pending():
                self.margins_ready.emit()

        missing = session.stats.pending(MARGIN, pending)
        self._edit_worker = self._margins_on_pool(session, missing, done)

    @property
    def waiting_for_margins(self) -> bool:
        """Rows wait for the margins of clusters an edit made (margins_ready follows)."""
        return bool(self.model.pending())

    def refresh(self) -> None:
        session = self.session
        if session is not None and session.curator is not None:
            missing = session.stats.pending(MARGIN, session.cluster_ids())
            if len(missing) >= max(BACKGROUND_AT_LEAST, 1):
                self._start_margins(session, missing)
                return
        self._fill()

    def _start_margins(self, session, missing) -> None:
        self.stop_background()
        self.computing = True

        def done() -> None:
            self.computing = False
            if self.isVisible():
                self._fill()
            else:
                self.mark_changed()

        self._worker = self._margins_on_pool(session, missing, done, start=start_background)
        self._show_progress()

    def _margins_on_pool(self, session, missing, then, start=start_worker):
        """Compute the review margins `missing` (session.stats.pending) on a pool thread,
        keep them in the session's statistics, then `then()` on the UI thread unless the
        view now shows another session or was closed. Returns the Worker. Every margin
        of a result (`start_background`) must not take the cores the window paints with;
        the few of an edit are waited for (the pool)."""

        def done(margins) -> None:
            session.stats.store(MARGIN, margins)  # ids are never reused: always true
            if session is self.controller.session and not self.closed:
                then()

        return start(compute, MARGIN, session.result, missing, returned=done)

    def stop_background(self) -> None:
        for worker in (self._worker, self._edit_worker):
            if worker is not None:
                worker.abort()
        self._worker = self._edit_worker = None

    def _fill(self) -> None:
        self.computing = False
        if self._edit_worker is not None:  # the reload works every margin out itself
            self._edit_worker.abort()
            self._edit_worker = None
        self._syncing = True
        try:
            self.model.reload()
        finally:
            self._syncing = False
        self._follow_rows()
        self.margins_ready.emit()

    def _show_progress(self) -> None:
        session = self.session
        done, total = (0, 0) if session is None else session.review_progress()
        if session is None or session.curator is None:
            self.progress_label.setText("No clusters to review yet")
        elif self.computing:
            self.progress_label.setText(
                f"Reviewed <b>{done}</b> / {total} clusters · ordering them by certainty…"
            )
        else:
            self.progress_label.setText(f"Reviewed <b>{done}</b> / {total} clusters")
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)

    def queue_ids(self) -> list[int]:
        """The clusters listed, top to bottom."""
        return list(self.model.queue)

    def _row_selected(self, *_) -> None:
        if self._syncing:
            return
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.controller.select_cluster(self.model.queue[rows[0].row()])

    def _show_selection(self) -> None:
        if self.stale:
            return
        self._enable_take_back()
        row = self.model.row_of(self.selection.cluster)
        selection = self.table.selectionModel()
        self._syncing = True
        try:
            if row < 0:
                selection.clearSelection()
                return
            index = self.model.index(row, 1)
            flags = (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
            selection.setCurrentIndex(index, flags)
            self.table.scrollTo(index)
        finally:
            self._syncing = False

    # ----- the automatic decisions -----------------------------------------------------------

    def _filter_rows(self, *_) -> None:
        """Hide the rows of clusters no automatic decision touched, when asked to; the
        model keeps every row (edits still update it row by row)."""
        touched = list(map(self.model.touched, self.model.queue))
        only = self.auto_only.isChecked()
        if only or self._rows_hidden:  # else no row is hidden, new ones neither
            for row, has in enumerate(touched):
                self.table.setRowHidden(row, only and not has)
            self._rows_hidden = only
        n_auto = sum(touched)
        self.auto_only.setText(f"Auto decisions only ({n_auto})")
        self.auto_only.setEnabled(n_auto > 0 or only)
        self._enable_take_back()

    def _enable_take_back(self) -> None:
        session, cluster = self.session, self.selection.cluster
        has = session is not None and cluster is not None and bool(session.decisions_of(cluster))
        self.take_back_button.setEnabled(has and self.controller.can_curate)

    def visible_ids(self) -> list[int]:
        """The clusters listed and not filtered out, top to bottom."""
        queue = self.model.queue
        return [k for row, k in enumerate(queue) if not self.table.isRowHidden(row)]

    def fill_decision_menu(self) -> None:
        """The selected cluster's decisions, each an entry that takes it back; one that
        cannot be taken back now says so (its tooltip says why; choosing it explains)."""
        menu = self.decision_menu
        menu.clear()
        session, cluster = self.session, self.selection.cluster
        decisions = () if session is None or cluster is None else session.decisions_of(cluster)
        if not decisions:
            menu.addAction("No automatic decision made this cluster").setEnabled(False)
            return
        state = None if session.curator is None else session.curator.state
        for d in decisions:
            title = d.title().removeprefix("the automatic ")
            why = None if state is None else session.auto_decisions.refusal(d, state)
            action = menu.addAction("Take back the " + title + (" (cannot now)" if why else ""))
            action.setToolTip(why or d.describe(session.result.sessions))
            action.triggered.connect(lambda _=False, d=d: self.undo_decision_requested.emit(d))

    def _context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        self.controller.select_cluster(self.model.queue[index.row()])
        self.decision_menu.popup(self.table.viewport().mapToGlobal(pos))

    def export_image(self, path) -> None:
        export_widget(self, path)
