"""The curation history: every action in effect, oldest first, newest at the bottom.

Undone actions follow in grey, struck through, until they are redone (Redo) or discarded
(a new action after an undo). The lines are the curator's own descriptions; clicking one
selects the units it named, to see where they are now.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QBrush, QColor, QFont
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
)

from .base import ViewBase
from .common import export_widget

UNDONE_COLOR = QColor("#9a9a9a")
ACTION_ROLE = Qt.ItemDataRole.UserRole


class HistoryView(ViewBase):
    """List of curation actions from `session.history_entries()`, updated live.

    undo_action / redo_action: the window's QActions, shown as buttons above the list.
    """

    def __init__(self, controller, undo_action=None, redo_action=None, parent=None):
        super().__init__(controller, parent)
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setAlternatingRowColors(True)
        self.list.setWordWrap(True)
        self.list.setToolTip(
            "Curation actions, oldest first. Grey, struck-through lines were undone: "
            "Redo brings them back, a new action discards them. Click a line to select "
            "the units it names."
        )
        self.list.itemClicked.connect(self._item_clicked)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.summary_label, 1)
        for action in (undo_action, redo_action):
            if action is not None:
                button = QToolButton(self)
                button.setDefaultAction(action)
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
                bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.list, 1)

        controller.curation_changed.connect(self.mark_changed)
        self.refresh()

    def on_result_changed(self) -> None:
        self.refresh()

    def on_clusters_changed(self, info) -> None:
        pass  # curation_changed follows every edit

    def refresh(self) -> None:
        session = self.session
        curator = None if session is None else session.curator
        entries = [] if session is None else session.history_entries()
        self.list.clear()
        struck = QFont(self.list.font())
        struck.setStrikeOut(True)
        for e in entries:
            item = QListWidgetItem(f"{e.time}  {e.text}" if e.time else e.text)
            item.setData(ACTION_ROLE, e.action)
            if not e.done:
                item.setForeground(QBrush(UNDONE_COLOR))
                item.setFont(struck)
                item.setToolTip("Undone — Redo (Ctrl+Shift+Z) brings it back")
            else:
                item.setToolTip(e.text)
            self.list.addItem(item)
        self.list.scrollToBottom()
        n_done = sum(e.done for e in entries)
        n_undone = len(entries) - n_done
        if curator is None:
            self.summary_label.setText("No curation: run tracking or open results first")
        elif not entries:
            self.summary_label.setText(
                f"No actions yet; each one is saved at once to {curator.log_path.name}"
            )
        else:
            text = f"{n_done} action{'s' if n_done != 1 else ''} in effect"
            if n_undone:
                text += f", {n_undone} undone"
            self.summary_label.setText(f"{text} · saved in {curator.log_path.name}")

    def entry_texts(self) -> list[tuple[str, bool]]:
        """(line text, in effect) for every line, top to bottom (for tests)."""
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            out.append((item.text(), not item.font().strikeOut()))
        return out

    def _item_clicked(self, item: QListWidgetItem) -> None:
        action = item.data(ACTION_ROLE) or {}
        units = list(action.get("units", []))
        for key in ("unit", "to_unit"):
            if key in action:
                units.append(action[key])
        if self.session is None:
            return
        labels = self.session.labels
        units = [int(u) for u in units if 0 <= int(u) < labels.size]
        if units:
            self.controller.select_units(units)

    def export_image(self, path) -> None:
        export_widget(self, path)
