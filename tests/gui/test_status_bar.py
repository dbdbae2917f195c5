"""A long status message stops, elided, before the curation label on a 1366 x 768 screen."""

from __future__ import annotations

import numpy as np
from PyQt6.QtGui import QImage

LONG = (
    "Tracked 160 units from 4 sessions into 50 clusters; the previous curation log was moved "
    "to a folder with a very long name beside the output, and a second note follows it · "
    "and a third one that no laptop screen has room for"
)


def _ink_columns(image: QImage) -> np.ndarray:
    """x of every column holding a pixel far from the status bar's background colour."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    w, h = image.width(), image.height()
    pixels = np.frombuffer(image.constBits().asstring(h * image.bytesPerLine()), np.uint8)
    rgb = pixels.reshape(h, image.bytesPerLine() // 4, 4)[:, :w, :3].astype(int)
    background = rgb[1, 1]
    return np.flatnonzero((np.abs(rgb - background).sum(axis=2) > 120).any(axis=0))


def test_a_long_message_is_elided_before_the_curation_label(window, qtbot):
    window.resize(1366, 740)
    bar = window.statusBar()
    window.curation_status.setText("12 curation actions · changes not exported (Ctrl+S)")
    qtbot.waitUntil(lambda: window.curation_status.width() > 100)
    label_x = window.curation_status.x()
    bar.showMessage(LONG)
    assert bar.currentMessage() == LONG  # the full message is kept, only its drawing is cut

    ink = _ink_columns(bar.grab().toImage())
    message_ink = ink[ink < label_x]
    assert message_ink.size and message_ink.min() < 20  # the message is drawn
    assert message_ink.max() <= label_x - 8, (message_ink.max(), label_x)
    assert bar.shown_message().endswith("…")
    assert bar.toolTip() == LONG  # the whole text is one hover away

    bar.showMessage("Run cancelled")  # a short message is drawn whole, no tooltip
    assert bar.shown_message() == "Run cancelled"
    assert bar.toolTip() == ""
