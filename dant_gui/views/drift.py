"""Probe motion (drift) across sessions, unit depths per session, matches per motion pass.

Reads `session.result.shanks[i]`: `motion` (the saved, last estimated motion, with its
95% band, also drawn around the motion at its own scale), `initial_motion` (the start),
`restored_motion` (what an early stop went back to for correcting waveforms) and `passes`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
)

from .base import ViewBase
from .common import (
    MOTION_COLOR,
    SELECTED_COLOR,
    DrawSteps,
    add_save_to_context_menu,
    export_item,
    fill_pending,
    keep_axis_width,
    save_button,
    session_brushes,
    session_colors,
    session_ticks,
    set_scatter_in_steps,
    style_plot,
)
from .drag_points import VerticalDragPoints

BAND_COLOR = QColor(90, 120, 200, 90)
BAND_EDGE_COLOR = QColor(40, 70, 170)
PROBE_LINE_COLORS = {"top": "#1f77b4", "middle": "#7f7f7f", "bottom": "#ff7f0e"}
PASS_COLORS = ["#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974", "#64b5cd"]
_FEATURE_ABBREV = {"Waveform": "Waveform", "AutoCorr": "ACG", "ISI": "ISI", "PETH": "PETH"}
INTERVAL_TITLE = "95% interval around the motion"
DEPTH_TITLE = "Unit depths (red: selected)"
PAIR_COUNT_ROOM = "00000"  # up to 99,999 matched pairs labelled without resizing the plot
# short: the legend's width sets the motion column's (hover the interval plot for more)
BAND_WITH_EDGE = "95% interval (clusters + edge bias)"
BAND_SAMPLING_ONLY = "95% interval (clusters only)"
BAND_TIP = (
    "The bootstrap redraws whole clusters (neurons), so the interval reflects how many "
    "neurons the motion rests on. Units near the probe's ends are located with a bias that "
    "changes as the probe moves; when the run measured it (the motion from the units away "
    "from the ends), the interval also holds the bootstrap interval moved by it. "
    "Not covered: errors shared by every unit of a session in the middle of the probe, "
    "and clusters that join different neurons."
)
JITTER = 0.3  # half-width of the horizontal spread of units within a session column


def _jitter(units: np.ndarray) -> np.ndarray:
    """Deterministic spread in [-JITTER, JITTER] per unit, so redraws do not move points."""
    golden = (np.asarray(units, dtype=np.float64) * 0.6180339887498949) % 1.0
    return (golden - 0.5) * 2 * JITTER


class DriftView(ViewBase):
    """Motion per session with its 95% band; unit depths; matched pairs per motion pass."""

    def __init__(self, controller, parent=None):
        super().__init__(controller, parent)
        self.shank_index = 0
        self._steps = DrawSteps(self)  # a result's plots are drawn over several turns
        bar = self._build_bar()
        self._build_plots()
        self._build_items()

        # Before a result there is nothing to plot: a sentence beats empty axes.
        self.placeholder = QLabel(self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)  # long hints must not set the window's width
        self.placeholder.setStyleSheet("color: #606060; font-size: 13pt;")
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.placeholder)
        self.pages.addWidget(self.graphics)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.pages, 1)

        controller.dataset_changed.connect(lambda: self.mark_changed(new_result=True))
        self.mark_changed(new_result=True)  # drawn now if shown, else when first shown

    def _build_bar(self) -> QHBoxLayout:
        """The row above the plots: shank, corrected depths, the summary, edit, save."""
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        self.shank_label = QLabel("Shank:", self)
        self.shank_combo = QComboBox(self)
        self.shank_combo.currentIndexChanged.connect(self._shank_chosen)
        self.corrected_check = QCheckBox("Motion-corrected depths", self)
        self.corrected_check.setToolTip(
            "Show unit depths after subtracting the estimated motion of their session"
        )
        self.corrected_check.setChecked(True)
        self.corrected_check.toggled.connect(self._draw_depths)
        self.info_label = QLabel(self)
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Long text must not widen the view (and squeeze the cluster table beside it).
        self.info_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.shank_label)
        bar.addWidget(self.shank_combo)
        bar.addWidget(self.corrected_check)
        bar.addSpacing(12)
        bar.addWidget(self.info_label, 1)
        self.edit_button = QPushButton("Edit motion…", self)
        self.edit_button.setToolTip(
            "Drag or type a session's motion, see the selected cluster re-corrected, rerun from it"
        )
        self.edit_button.clicked.connect(self.edit_motion)
        bar.addWidget(self.edit_button)
        bar.addWidget(
            save_button(
                self,
                lambda: {
                    "all": self.graphics.ci,
                    "motion": self.motion_plot,
                    "interval": self.interval_plot,
                    "depths": self.depth_plot,
                    "passes": self.pass_plot,
                },
                "drift",
            )
        )
        return bar

    def _build_plots(self) -> None:
        self.graphics = pg.GraphicsLayoutWidget(self)
        self.motion_plot = self.graphics.addPlot(row=0, col=0)
        # The 95 % interval is often a few tenths of a µm on a curve spanning tens of µm:
        # under the motion, a plot of the interval around it at its own scale.
        self.interval_plot = self.graphics.addPlot(row=1, col=0)
        self.interval_plot.setXLink(self.motion_plot)
        # The legend gets its own row so it never hides the curve.
        self.legend = pg.LegendItem(colCount=1, labelTextSize="9pt", verSpacing=-6)
        self.graphics.addItem(self.legend, row=2, col=0)
        self.pass_plot = self.graphics.addPlot(row=3, col=0)
        self.depth_plot = self.graphics.addPlot(row=0, col=1, rowspan=4)
        for plot in (self.depth_plot, self.pass_plot):  # hidden until drawn (_draw)
            policy = plot.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            plot.setSizePolicy(policy)
        self.graphics.ci.layout.setRowStretchFactor(0, 4)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        self.graphics.ci.layout.setRowStretchFactor(2, 0)
        self.graphics.ci.layout.setRowStretchFactor(3, 2)
        self.graphics.ci.layout.setColumnStretchFactor(0, 3)
        self.graphics.ci.layout.setColumnStretchFactor(1, 2)
        style_plot(self.motion_plot, "Probe motion per session", "Session", "Motion (µm)")
        style_plot(self.interval_plot, INTERVAL_TITLE, "", "µm")
        # Titles in their final text and size from the start: a title that changes size
        # lays the whole figure out again (and redraws every axis in it).
        self.interval_plot.setTitle(INTERVAL_TITLE, size="10pt")
        style_plot(self.depth_plot, DEPTH_TITLE, "Session", "Corrected depth (µm)")
        style_plot(self.pass_plot, "Matched pairs per motion pass", "Motion pass", "Pairs")
        keep_axis_width(self.pass_plot.getAxis("left"), room=PAIR_COUNT_ROOM)
        self.pass_legend = self.pass_plot.addLegend(offset=(10, 5), labelTextSize="8pt")
        for plot, name in (
            (self.motion_plot, "motion"),
            (self.interval_plot, "motion_interval"),
            (self.depth_plot, "unit_depths"),
            (self.pass_plot, "motion_passes"),
        ):
            add_save_to_context_menu(plot, self, name)

    def _build_items(self) -> None:
        """Items are created once and refilled; tests read their data."""
        self.band_low = pg.PlotDataItem()
        self.band_high = pg.PlotDataItem()
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=pg.mkBrush(BAND_COLOR))
        # The band is often a few µm wide on a curve spanning tens of µm: error bars with caps
        # show it at every session even where the fill is thinner than a line.
        self.band_bars = pg.ErrorBarItem(beam=0.3, pen=pg.mkPen(BAND_EDGE_COLOR, width=1.5))
        # the interval around the motion (low - motion .. high - motion), at its own scale
        self.interval_bars = pg.ErrorBarItem(beam=0.3, pen=pg.mkPen(BAND_EDGE_COLOR, width=2))
        self.interval_zero = pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen(MOTION_COLOR, width=1.5))
        self.initial_curve = pg.PlotDataItem(
            pen=pg.mkPen("#8c8c8c", width=2, style=Qt.PenStyle.DashLine)
        )
        self.restored_curve = pg.PlotDataItem(
            pen=pg.mkPen("#9467bd", width=2, style=Qt.PenStyle.DotLine)
        )
        self.motion_curve = pg.PlotDataItem(
            pen=pg.mkPen(MOTION_COLOR, width=2.5), symbol="o", symbolSize=11
        )
        # The motion's points are handles: dropping one opens the editor with that session
        # moved (the edit lives there; nothing changes until a rerun from it).
        self.motion_handles = VerticalDragPoints(
            self._motion_dragged, size=11, pen=pg.mkPen("w", width=1)
        )
        self.motion_handles.setToolTip(
            "Drag a session's point up or down to edit the motion: the editor opens with it "
            "(nothing changes until you rerun from it)"
        )
        self.editor = None  # the motion editor last opened
        self.probe_curves = {
            where: pg.PlotDataItem(pen=pg.mkPen(color, width=1.5))
            for where, color in PROBE_LINE_COLORS.items()
        }
        self.depth_scatter = pg.ScatterPlotItem(size=6, pen=None, hoverable=True)
        self.depth_scatter.sigClicked.connect(self._unit_clicked)
        self.selected_line = pg.PlotDataItem(pen=pg.mkPen(SELECTED_COLOR, width=2))
        self.selected_scatter = pg.ScatterPlotItem(
            size=11, pen=pg.mkPen(SELECTED_COLOR, width=2), brush=pg.mkBrush(255, 255, 255, 0)
        )
        self.pass_bars: list[pg.BarGraphItem] = []

    # ----- helpers -----------------------------------------------------------------------------

    @property
    def shank(self):
        result = self.result
        if result is None or not result.shanks:
            return None
        return result.shanks[min(self.shank_index, len(result.shanks) - 1)]

    def _reference_depth(self, motion) -> float:
        """Depth (µm) where the band is given: the mean matched-pair depth."""
        if motion.depths is not None:
            return float(motion.depths[0])
        sh = self.shank
        return float(np.mean(self.result.locations[sh.units, 1]))

    def _probe_depths(self) -> dict[str, float]:
        result = self.result
        sh = self.shank
        y = result.channel_locations[:, 1]
        units_y = result.locations[sh.units, 1]
        lo, hi = float(min(y.min(), units_y.min())), float(max(y.max(), units_y.max()))
        return {"top": hi, "middle": 0.5 * (lo + hi), "bottom": lo}

    def motion_values(self, motion) -> np.ndarray:
        """Plotted motion (n_session,) µm: rigid -> constant; linear -> at the mean pair depth."""
        if not np.any(motion.linear):
            return np.asarray(motion.constant, dtype=np.float64)
        return motion.at_depth(self._reference_depth(motion))

    # ----- drawing ----------------------------------------------------------------------------

    def on_clusters_changed(self, info) -> None:
        self._draw_selection()

    def on_selection_changed(self, selection) -> None:
        self._draw_selection()

    def refresh(self) -> None:
        self._draw_selection()

    def on_result_changed(self) -> None:
        result = self.result
        self.shank_combo.blockSignals(True)
        self.shank_combo.clear()
        if result is not None:
            for sid in result.shank_ids:
                self.shank_combo.addItem(f"{sid}")
            self.shank_index = min(self.shank_index, max(len(result.shanks) - 1, 0))
            self.shank_combo.setCurrentIndex(self.shank_index)
        self.shank_combo.blockSignals(False)
        multi = result is not None and len(result.shanks) > 1
        self.shank_label.setVisible(multi)
        self.shank_combo.setVisible(multi)
        # one manual motion file holds one motion per session: single-shank results only
        self.edit_button.setEnabled(result is not None and not multi)
        self._draw()

    def edit_motion(self):
        """Open the motion editor (motion_edit_dialog.py) on the shown result; the dialog."""
        from ..motion_edit_dialog import MotionEditDialog

        dialog = MotionEditDialog(self.controller, getattr(self.window(), "start_run", None), self)
        dialog.open()
        self.editor = dialog
        return dialog

    def _handle_brushes(self, n: int) -> list:
        return [pg.mkBrush(c) for c in session_colors(n)]

    def _motion_dragged(self, index: int, y: float, finished: bool) -> None:
        """A motion point dragged to `y` µm: moved while dragging; dropped, it goes back and
        the editor opens with that session's motion moved by as much (for linear motion the
        rigid part moves, so the plotted motion moves by the drag)."""
        values = self.motion_values(self.shank.motion)
        x = np.arange(1, values.size + 1, dtype=np.float64)
        shown = values.copy()
        if not finished:
            shown[index] = y
        self.motion_handles.setData(x=x, y=shown, brush=self._handle_brushes(values.size))
        if finished:
            dialog = self.edit_motion()
            dialog.drag_session(index, float(dialog.saved.constant[index] + y - values[index]))

    def _shank_chosen(self, index: int) -> None:
        if index >= 0:
            self.shank_index = index
            self._draw()

    def _draw(self) -> None:
        for plot in (self.motion_plot, self.interval_plot, self.depth_plot, self.pass_plot):
            for item in list(plot.items):
                plot.removeItem(item)
        self.pass_bars = []
        sh = self.shank
        if sh is None:
            self._steps.stop()
            self.legend.clear()
            self.pass_legend.clear()
            text = (
                "Press Run to estimate the probe motion across sessions."
                if self.controller.dataset is not None
                else "Open a data folder (File ▸ Open data folder…, or drop it here) to start."
            )
            self.placeholder.setText(text)
            self.pages.setCurrentWidget(self.placeholder)
            self.corrected_check.setEnabled(False)
            self.info_label.setText("")
            for item in (self.motion_curve, self.initial_curve, self.band_low, self.band_high):
                item.setData([], [])
            return
        self.corrected_check.setEnabled(True)
        self._motion_legend(sh)
        # The plots are shown in the first step, the depths and passes with their own:
        # their first paint (every axis drawn for the first time, ~45 ms at 60 sessions
        # for all four) then follows no drawing (one block of both was ~150 ms with the
        # other views' drawing of the new result, ~110 with the motion's).
        self.placeholder.setText("Drawing the result…")
        for plot in (self.depth_plot, self.pass_plot):
            plot.hide()  # keeping its place (_build_plots): no new layout when shown
        # One plot per turn of the event loop: at 60 sessions and 20,000 units the three
        # drawn in one go, then painted, froze the window ~200 ms as a result opened.
        steps = (
            self._show_plots,  # empty: their first paint alone (~60 ms at 60 sessions)
            lambda: self._draw_motion(sh),
            self._draw_depths,
            lambda: self._draw_passes(sh),
        )
        self._steps.run(steps)

    def _show_plots(self) -> None:
        self.pages.setCurrentWidget(self.graphics)

    @property
    def drawing(self) -> bool:
        """Plots of the shown result are still to be drawn (on coming turns of the loop)."""
        return self._steps.pending or fill_pending(self.depth_scatter)

    def _motion_legend(self, sh) -> None:
        """The motion plot's legend, for the curves _draw_motion draws (their pens are
        set when they are made): filled before them, at once, so that the figure is laid
        out once (the legend's row takes the height it needs from the plots above)."""
        motion = sh.motion
        self.legend.clear()
        if motion.ci_low is not None and motion.ci_high is not None:
            # A FillBetweenItem has no legend entry of its own: a proxy gives one.
            self.legend.addItem(
                pg.BarGraphItem(x=[0], height=[0], width=0, brush=pg.mkBrush(BAND_COLOR), pen=None),
                self.band_label(motion),
            )
        self.legend.addItem(self.initial_curve, "Initial motion (start)")
        if sh.restored_motion is not None:
            self.legend.addItem(self.restored_curve, "Motion used to correct (early stop)")
        linear = bool(np.any(motion.linear)) or bool(np.any(sh.initial_motion.linear))
        if linear:
            for where, depth in self._probe_depths().items():
                curve = self.probe_curves[where]
                self.legend.addItem(curve, f"Motion at {where} of probe ({depth:.0f} µm)")
        ref = self._reference_depth(motion)
        name = "Motion (saved)" if not linear else f"Motion at mean pair depth ({ref:.0f} µm)"
        self.legend.addItem(self.motion_curve, name)

    def _draw_motion(self, sh) -> None:
        result = self.result
        n_s = result.n_sessions
        x = np.arange(1, n_s + 1, dtype=np.float64)
        motion = sh.motion
        plot = self.motion_plot
        session_ticks(plot, n_s)
        colors = session_colors(n_s)

        if motion.ci_low is not None and motion.ci_high is not None:
            self.band_low.setData(x, np.asarray(motion.ci_low)[0])
            self.band_high.setData(x, np.asarray(motion.ci_high)[0])
            plot.addItem(self.band_low)
            plot.addItem(self.band_high)
            plot.addItem(self.band)
            mid = self.motion_values(motion)
            low, high = np.asarray(motion.ci_low)[0], np.asarray(motion.ci_high)[0]
            self.band_bars.setData(
                x=x, y=mid, top=np.maximum(high - mid, 0.0), bottom=np.maximum(mid - low, 0.0)
            )
            plot.addItem(self.band_bars)
            self._draw_interval(x, low - mid, high - mid, motion)
        else:
            self.band_low.setData([], [])
            self.band_high.setData([], [])
            self.band_bars.setData(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0))
            self.interval_bars.setData(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0))
            self.interval_plot.setTitle("No 95% interval saved with this motion", size="10pt")

        ref = self._reference_depth(motion)
        linear = bool(np.any(motion.linear)) or bool(np.any(sh.initial_motion.linear))
        self.initial_curve.setData(x, sh.initial_motion.at_depth(ref))
        plot.addItem(self.initial_curve)
        if sh.restored_motion is not None:
            self.restored_curve.setData(x, sh.restored_motion.at_depth(ref))
            plot.addItem(self.restored_curve)
        if linear:
            for where, depth in self._probe_depths().items():
                curve = self.probe_curves[where]
                curve.setData(x, motion.at_depth(depth))
                plot.addItem(curve)
        self.motion_curve.setData(
            x,
            self.motion_values(motion),
            symbolBrush=[pg.mkBrush(c) for c in colors],
            symbolPen=pg.mkPen("w", width=1),
        )
        plot.addItem(self.motion_curve)
        if self.edit_button.isEnabled():
            self.motion_handles.setData(
                x=x, y=self.motion_values(motion), brush=self._handle_brushes(n_s)
            )
            plot.addItem(self.motion_handles)
        plot.enableAutoRange()
        plot.setXRange(0.6, n_s + 0.4, padding=0)

        values = self.motion_values(motion)
        unlinked = getattr(motion, "unlinked_sessions", ())
        info = f"Motion range {np.ptp(values):.1f} µm over {n_s} sessions"
        if getattr(motion, "n_pairs", 0):
            info += f" · estimated from {motion.n_pairs} matched pairs"
        if motion.ci_low is not None and motion.ci_high is not None:
            half = 0.5 * (np.asarray(motion.ci_high)[0] - np.asarray(motion.ci_low)[0])
            info += f" · 95% interval ±{np.median(half):.1f} µm (median)"
        if unlinked:
            info += " · no match links session(s) " + ", ".join(map(str, unlinked))
        self.info_label.setText(info)
        self.info_label.setToolTip(info)

    @staticmethod
    def band_label(motion) -> str:
        """What the band covers: with the locator's edge bias when the run measured it."""
        return (
            BAND_WITH_EDGE
            if getattr(motion, "edge_shift", None) is not None
            else (BAND_SAMPLING_ONLY)
        )

    def _draw_interval(self, x, below, above, motion) -> None:
        """The interval around the motion (µm, `below` <= 0 <= `above`) per session."""
        plot = self.interval_plot
        self.interval_bars.setData(
            x=x, y=np.zeros_like(x), top=np.maximum(above, 0.0), bottom=np.maximum(-below, 0.0)
        )
        plot.addItem(self.interval_zero)
        plot.addItem(self.interval_bars)
        session_ticks(plot, x.size)
        reach = max(float(np.max(np.abs(np.r_[below, above]))), 0.05)
        plot.setYRange(-1.15 * reach, 1.15 * reach, padding=0)
        plot.setTitle(INTERVAL_TITLE, size="10pt")
        plot.setToolTip(self.band_label(motion) + ". " + BAND_TIP)
        self.legend.setToolTip(BAND_TIP)

    def _depths(self, sh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(units, sessions, depth µm) of the shown shank; corrected when the box is ticked."""
        result = self.result
        units = np.asarray(sh.units)
        sessions = np.asarray(result.sessions)[units]
        if self.corrected_check.isChecked():
            y = self.session.corrected_depth()[units]
        else:
            y = np.asarray(result.locations[units, 1], dtype=np.float64)
        return units, sessions, y

    def _draw_depths(self) -> None:
        sh = self.shank
        plot = self.depth_plot
        if sh is None:
            return
        plot.show()
        for item in (self.depth_scatter, self.selected_line, self.selected_scatter):
            if item in plot.items:
                plot.removeItem(item)
        result = self.result
        units, sessions, y = self._depths(sh)
        set_scatter_in_steps(  # 20,000 points: styled over several turns of the event loop
            self.depth_scatter,
            sessions + _jitter(units),
            y,
            units,
            session_brushes(sessions, result.n_sessions, alpha=170),
        )
        plot.addItem(self.depth_scatter)
        plot.addItem(self.selected_line)
        plot.addItem(self.selected_scatter)
        session_ticks(plot, result.n_sessions)
        plot.setXRange(0.5, result.n_sessions + 0.5, padding=0)
        corrected = self.corrected_check.isChecked()
        plot.setLabel("left", "Corrected depth (µm)" if corrected else "Measured depth (µm)")
        self._draw_selection()

    def _draw_selection(self) -> None:
        sh = self.shank
        if sh is None:
            self.selected_scatter.setData([], [])
            self.selected_line.setData([], [])
            return
        units, sessions, y = self._depths(sh)
        chosen = np.isin(units, self.selection.units)
        su, ss, sy = units[chosen], sessions[chosen], y[chosen]
        order = np.lexsort((sy, ss))
        x = ss + _jitter(su)
        self.selected_scatter.setData(x=x[order], y=sy[order])
        if su.size > 1:
            self.selected_line.setData(x[order], sy[order])
        else:
            self.selected_line.setData([], [])

    def _draw_passes(self, sh) -> None:
        plot = self.pass_plot
        plot.show()
        self.pass_legend.clear()
        passes = list(sh.passes)
        if not passes:
            return
        sets: list[tuple] = []
        for p in passes:
            fs = tuple(p.feature_set)
            if fs not in sets:
                sets.append(fs)
        x = np.arange(1, len(passes) + 1)
        heights = np.array([p.n_matched_pairs for p in passes], dtype=float)
        for k, fs in enumerate(sets):
            sel = np.array([tuple(p.feature_set) == fs for p in passes])
            color = QColor(PASS_COLORS[k % len(PASS_COLORS)])
            bars = pg.BarGraphItem(
                x=x[sel], height=heights[sel], width=0.7, brush=pg.mkBrush(color), pen=None
            )
            plot.addItem(bars)
            self.pass_bars.append(bars)
            self.pass_legend.addItem(bars, " + ".join(_FEATURE_ABBREV.get(f, f) for f in fs))
        stopped = [i for i, p in enumerate(passes) if p.motion is None]
        for i in stopped:
            mark = pg.TextItem("stop", anchor=(0.5, 1.0), color="#606060")
            mark.setPos(x[i], heights[i])
            plot.addItem(mark)
        ticks = [(int(v), str(int(v))) for v in x]
        plot.getAxis("bottom").setTicks([ticks, []])
        plot.setXRange(0.4, len(passes) + 0.6, padding=0)
        plot.setYRange(0, max(1.0, heights.max()) * 2.0, padding=0)

    def _unit_clicked(self, _item, points, _ev=None) -> None:
        if not len(points):
            return
        unit = int(points[0].data())
        cluster = self.session.cluster_of(unit)
        if cluster is not None:
            self.controller.select_cluster(cluster)
        else:
            self.controller.select_units([unit])

    # ----- export ---------------------------------------------------------------------------

    def export_image(self, path) -> None:
        """Save all three plots as one PNG or SVG."""
        self._steps.finish()  # every plot drawn first
        export_item(self.graphics.ci, path)
