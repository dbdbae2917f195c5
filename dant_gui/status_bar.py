"""A status bar whose temporary message never runs into its permanent widgets.

QStatusBar draws a message clipped at the first permanent widget, cut mid-word and flush
against it (the curation label read as the message's last words). This one draws the
message elided with "…" and a gap before the leftmost visible permanent widget; the full
message stays `currentMessage()` and is the status bar's tooltip while it is cut.
"""

from __future__ import annotations

from PyQt6.QtCore import QRect, Qt
from PyQt6.QtGui import QPainter
from PyQt6.QtWidgets import QSizeGrip, QStatusBar, QStyle, QStyleOption, QWidget

MESSAGE_LEFT = 6  # px, as QStatusBar
MESSAGE_GAP = 16  # px between the message's end and the first permanent widget


class ElidingStatusBar(QStatusBar):
    """QStatusBar drawing a long temporary message elided, left of the permanent widgets."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.messageChanged.connect(lambda _text: self._update_tooltip())

    def message_rect(self) -> QRect:
        """Where the message is drawn: from the left edge to a gap before the leftmost
        visible child widget (while a message shows, only permanent widgets are visible)."""
        right = self.width() - 12
        for child in self._permanent_widgets():
            right = min(right, child.x() - MESSAGE_GAP)
        return QRect(MESSAGE_LEFT, 0, max(0, right - MESSAGE_LEFT), self.height())

    def _permanent_widgets(self) -> list[QWidget]:
        """The visible widgets (a message hides the others), without the size grip."""
        children = self.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        return [c for c in children if c.isVisible() and not isinstance(c, QSizeGrip)]

    def shown_message(self) -> str:
        """The message as drawn: elided to fit `message_rect()`."""
        metrics = self.fontMetrics()
        return metrics.elidedText(
            self.currentMessage(), Qt.TextElideMode.ElideRight, self.message_rect().width()
        )

    def _update_tooltip(self) -> None:
        text = self.currentMessage()
        self.setToolTip(text if text and self.shown_message() != text else "")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_tooltip()

    def paintEvent(self, event) -> None:
        if not self.currentMessage():
            super().paintEvent(event)
            return
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        style = self.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option, painter, self)
        for child in self._permanent_widgets():
            frame = QStyleOption()
            frame.rect = child.geometry().adjusted(-2, -1, 2, 1)
            frame.palette = self.palette()
            style.drawPrimitive(
                QStyle.PrimitiveElement.PE_FrameStatusBarItem, frame, painter, child
            )
        painter.setPen(self.palette().windowText().color())
        painter.drawText(
            self.message_rect(),
            int(Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter)
            | int(Qt.TextFlag.TextSingleLine),
            self.shown_message(),
        )
        painter.end()
