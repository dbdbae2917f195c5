"""Edit the drift, then rerun from it: the motion of each session typed in or dragged, the
selected cluster's waveforms re-corrected with it as it changes, and a run that starts from it.

The editor changes the rigid part (µm per session) of the shown motion and keeps its
depth-dependent part. Rerunning saves the edited motion as a new file in the data folder
and starts the run from it (dant_core.motion_edit); the run's settings.json names that
file, so the edited curve stays in the run's record.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from dant_core.errors import DantError
from dant_core.motion import Motion
from dant_core.motion_edit import recorrect, save_edited_motion, settings_from_motion

from . import dialogs
from .views.common import MOTION_COLOR, session_colors, style_plot
from .views.drag_points import VerticalDragPoints

MAX_PREVIEW_UNITS = 60  # units of the selected cluster re-corrected live
MOTION_LIMIT_UM = 2000.0


class MotionEditDialog(QDialog):
    """The editor for the open result's motion (single-shank results)."""

    def __init__(self, controller, start_run: Callable[[], bool], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Edit the motion, then rerun from it")
        self.resize(900, 560)
        self.controller, self.start_run = controller, start_run
        self.session = controller.session
        result = self.session.result
        self.saved = result.motion(0)
        self.boxes: list[QDoubleSpinBox] = []
        self.table = self._session_table(self.saved.constant)
        self.graphics = pg.GraphicsLayoutWidget(self)
        self.motion_plot = self.graphics.addPlot(row=0, col=0)
        self.wave_plot = self.graphics.addPlot(row=1, col=0)
        style_plot(
            self.motion_plot,
            "Motion per session (drag a point; dashed: saved)",
            "Session",
            "Motion (µm)",
        )
        style_plot(self.wave_plot, "", "Sample", "µV")
        self.saved_curve = self.motion_plot.plot(
            pen=pg.mkPen("#8c8c8c", width=2, style=Qt.PenStyle.DashLine), name="saved"
        )
        self.edited_curve = self.motion_plot.plot(pen=pg.mkPen(MOTION_COLOR, width=2.5))
        # Each session's point is a handle: dragging it sets the session's box, so a drag
        # and a typed value are the same edit.
        self.handles = VerticalDragPoints(self.drag_session, size=13, pen=pg.mkPen("w", width=1.2))
        self.handles.setToolTip("Drag a session's point up or down to change its motion")
        self.motion_plot.addItem(self.handles)
        self.note = QLabel(
            "Drag a session's point up or down, or type its motion (µm, the rigid part; the "
            "depth-dependent part is kept). The selected cluster's waveforms below are "
            "corrected with it as it changes."
        )
        self.note.setWordWrap(True)
        self._layout()
        self.rerun_button.setEnabled(start_run is not None)
        self.redraw()

    def _session_table(self, constant: np.ndarray) -> QTableWidget:
        table = QTableWidget(constant.size, 3, self)
        table.setHorizontalHeaderLabels(["Session", "Saved (µm)", "Edited (µm)"])
        table.verticalHeader().setVisible(False)
        for s, value in enumerate(constant):
            for col, text in ((0, str(s + 1)), (1, f"{value:.1f}")):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                table.setItem(s, col, item)
            box = QDoubleSpinBox(table)
            box.setRange(-MOTION_LIMIT_UM, MOTION_LIMIT_UM)
            box.setDecimals(1)
            box.setSuffix(" µm")
            box.setValue(float(value))
            box.valueChanged.connect(self.redraw)
            table.setCellWidget(s, 2, box)
            self.boxes.append(box)
        table.resizeColumnsToContents()
        return table

    def _layout(self) -> None:
        reset = QPushButton("Reset to saved")
        reset.clicked.connect(self.reset)
        self.rerun_button = QPushButton("Rerun from this motion")
        self.rerun_button.clicked.connect(self.rerun)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(reset)
        buttons.addStretch()
        buttons.addWidget(self.rerun_button)
        buttons.addWidget(close)
        body = QHBoxLayout()
        body.addWidget(self.table)
        body.addWidget(self.graphics, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)

    # ----- the edited motion ----------------------------------------------------------------

    def edited_motion(self) -> Motion:
        constant = np.array([b.value() for b in self.boxes], dtype=np.float64)
        return Motion(self.saved.linear.copy(), constant)

    def set_values(self, constant) -> None:
        for box, value in zip(self.boxes, constant, strict=True):
            box.blockSignals(True)
            box.setValue(float(value))
            box.blockSignals(False)
        self.redraw()

    def drag_session(self, index: int, y: float, _finished: bool = True) -> None:
        """A handle dragged to `y` µm: session index + 1's box takes the value (rounded to
        the box's 0.1 µm and held in its range), which redraws as typing does."""
        self.boxes[index].setValue(y)
        self.redraw_handles()  # the point snaps to the box's value even when unchanged

    def reset(self) -> None:
        self.set_values(self.saved.constant)

    def redraw(self) -> None:
        x = np.arange(1, self.saved.constant.size + 1)
        self.saved_curve.setData(x, self.saved.constant)
        self.edited_curve.setData(x, self.edited_motion().constant)
        self.redraw_handles()
        self._draw_cluster()

    def redraw_handles(self) -> None:
        x = np.arange(1, self.saved.constant.size + 1)
        brushes = [pg.mkBrush(c) for c in session_colors(x.size)]
        self.handles.setData(x=x, y=self.edited_motion().constant, brush=brushes)

    def preview_units(self) -> np.ndarray:
        """Units of the selected cluster re-corrected in the preview (at most 60)."""
        cluster = self.session.selection.cluster
        units = self.session.units_of(cluster) if cluster is not None else np.zeros(0, int)
        return np.asarray(units[:MAX_PREVIEW_UNITS], dtype=np.int64)

    def _draw_cluster(self) -> None:
        """Peak-channel waveforms of the selected cluster, corrected with the edited motion:
        when the motion is right they lie on top of each other."""
        self.wave_plot.clear()
        result, units = self.session.result, self.preview_units()
        if units.size == 0:
            self.wave_plot.setTitle("Select a cluster to see its waveforms re-corrected")
            return
        raw = np.asarray(result.features.waveforms[units], dtype=np.float32)
        sessions = np.asarray(result.sessions)[units]
        depth = np.asarray(result.locations)[units, 1]
        moved = recorrect(raw, depth, sessions, self.edited_motion(), result.channel_locations)
        peak = int(np.argmax(np.ptp(moved, axis=2).sum(axis=0)))
        colors = session_colors(result.n_sessions)
        for w, s in zip(moved[:, peak, :], sessions, strict=True):
            self.wave_plot.plot(w, pen=pg.mkPen(colors[int(s) - 1], width=1.5))
        name = self.session.cluster_name(self.session.selection.cluster)
        self.wave_plot.setTitle(f"{name}: channel {peak}, corrected with the edited motion")
        self.preview = moved  # (n, n_channel, n_sample): what is drawn, for tests

    # ----- rerun ------------------------------------------------------------------------------

    def rerun(self) -> bool:
        """Save the edited motion, make the settings start from it and start the run."""
        folder = self.controller.data_folder
        try:
            path = save_edited_motion(folder, self.edited_motion())
        except OSError as exc:
            dialogs.error(self, "Cannot save the edited motion", f"{folder}: {exc}")
            return False
        settings, note = settings_from_motion(self.controller.settings, path)
        try:
            self.controller.set_settings(settings)
        except DantError as exc:
            dialogs.error(self, "Cannot use the edited motion", str(exc))
            return False
        self.controller.run_log.emit(f"Edited motion saved to {path}: {note}")
        if not self.start_run():
            return False
        self.accept()
        return True
