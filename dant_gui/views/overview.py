"""Overview of a tracking result: units per session, match probability by session lag,
and the presence of every tracked neuron (cluster) across sessions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from .base import ViewBase, membership_changed
from .common import (
    SELECTED_COLOR,
    add_save_action,
    ask_save_path,
    export_item,
    session_colors,
    set_title,
    style_plot,
)

ALL_UNITS_COLOR = QtGui.QColor(190, 190, 190)
TRACKED_COLOR = QtGui.QColor("#1f77b4")
LATER_COLOR = QtGui.QColor("#1f77b4")
EARLIER_COLOR = QtGui.QColor("#ff7f0e")


@dataclass
class TrackingSummary:
    """What the overview draws, from the cluster labels.

    units_per_session / tracked_per_session: (S,) counts;
    presence: (K, S) bool, one row per cluster in display order (first session, then
    number of sessions, longest first); presence_clusters: (K,) cluster id of each row;
    lags: (S-1,) 1..S-1; p_later / p_earlier: (S-1, 2) mean and sd over session pairs of
    matched units / units in the later (earlier) session.
    """

    units_per_session: np.ndarray
    tracked_per_session: np.ndarray
    presence: np.ndarray
    presence_clusters: np.ndarray
    lags: np.ndarray
    p_later: np.ndarray
    p_earlier: np.ndarray
    n_clusters: int
    n_tracked: int
    n_matched_pairs: int


def summarize(sessions: np.ndarray, idx_cluster: np.ndarray, n_sessions: int) -> TrackingSummary:
    """Per-session counts, match probability against lag and the presence matrix."""
    sessions = np.asarray(sessions, dtype=np.int64)
    labels = np.asarray(idx_cluster, dtype=np.int64)
    S = int(n_sessions)
    units_per_session = np.bincount(sessions - 1, minlength=S)[:S]
    tracked = labels > 0
    tracked_per_session = np.bincount(sessions[tracked] - 1, minlength=S)[:S]
    ids, row = np.unique(labels[tracked], return_inverse=True)
    K = ids.size
    # counts[k, s]: units of cluster k in session s (a curated cluster may hold two).
    counts = np.zeros((K, S), dtype=np.int64)
    np.add.at(counts, (row, sessions[tracked] - 1), 1)
    present = counts > 0
    # matched[a, b]: units of session a whose cluster also has a unit in session b.
    matched = counts.T @ present.astype(np.int64)
    lags = np.arange(1, S)
    p_later = np.full((lags.size, 2), np.nan)
    p_earlier = np.full((lags.size, 2), np.nan)
    for i, lag in enumerate(lags):
        early = np.arange(S - lag)
        late = early + lag
        with np.errstate(invalid="ignore", divide="ignore"):
            later = matched[late, early] / units_per_session[late]
            earlier = matched[early, late] / units_per_session[early]
        for out, values in ((p_later, later), (p_earlier, earlier)):
            values = values[np.isfinite(values)]
            if values.size:
                out[i] = values.mean(), values.std()
    if K:
        first = np.argmax(present, axis=1)
        length = present.sum(axis=1)
        order = np.lexsort((ids, -length, first))
    else:
        order = np.zeros(0, dtype=np.int64)
    sizes = counts.sum(axis=1)
    return TrackingSummary(
        units_per_session=units_per_session,
        tracked_per_session=tracked_per_session,
        presence=present[order],
        presence_clusters=ids[order],
        lags=lags,
        p_later=p_later,
        p_earlier=p_earlier,
        n_clusters=int(K),
        n_tracked=int(tracked.sum()),
        n_matched_pairs=int((sizes * (sizes - 1) // 2).sum()),
    )


class OverviewView(ViewBase):
    """Units per session, match probability by session lag, presence matrix, summary."""

    def __init__(self, controller, parent=None):
        super().__init__(controller, parent)
        self.summary: TrackingSummary | None = None
        self._labels: np.ndarray | None = None
        self._result = None
        self._build_ui()
        self.mark_changed(new_result=True)  # drawn now if shown, else when first shown

    def _build_ui(self) -> None:
        self.summary_label = QtWidgets.QLabel("No tracking result yet")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.save_button = QtWidgets.QPushButton("Save…")
        self.save_button.setToolTip("Save the three plots as one PNG or SVG")
        self.save_button.clicked.connect(self._on_save_clicked)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.summary_label, 1)
        top.addWidget(self.save_button)

        self.graphics = pg.GraphicsLayoutWidget()
        g = self.graphics
        self.count_plot = g.addPlot(row=0, col=0)
        self.lag_plot = g.addPlot(row=1, col=0)
        self.presence_plot = g.addPlot(row=0, col=1, rowspan=2)
        g.ci.layout.setColumnStretchFactor(0, 3)
        g.ci.layout.setColumnStretchFactor(1, 2)
        style_plot(self.count_plot, "Units per session", "session", "units")
        style_plot(
            self.lag_plot,
            "Match probability against session lag",
            "session lag (sessions apart)",
            "fraction of units matched",
        )
        style_plot(
            self.presence_plot,
            "Tracked neurons across sessions",
            "session",
            "tracked neuron (cluster)",
        )
        for plot in (self.count_plot, self.lag_plot, self.presence_plot):
            set_title(plot, plot.titleLabel.text)
        self.presence_plot.showGrid(x=False, y=False)
        self.presence_plot.getViewBox().invertY(True)
        self.count_legend = self.count_plot.addLegend(offset=(-5, 5), labelTextSize="9pt")
        self.lag_legend = self.lag_plot.addLegend(offset=(-5, 5), labelTextSize="9pt")
        self.presence_image = pg.ImageItem(axisOrder="row-major")
        self.presence_plot.addItem(self.presence_image)
        self.selected_row = QtWidgets.QGraphicsRectItem(0, 0, 0, 0)
        self.selected_row.setPen(pg.mkPen(SELECTED_COLOR, width=2))
        self.selected_row.setZValue(5)
        self.selected_row.hide()
        self.presence_plot.addItem(self.selected_row)
        self.presence_image.mouseClickEvent = self._on_presence_clicked
        for name, plot in (
            ("units_per_session", self.count_plot),
            ("match_probability", self.lag_plot),
            ("presence", self.presence_plot),
        ):
            plot.hideButtons()
            add_save_action(plot, self, f"{name}.png")

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)

    # ----- public -----------------------------------------------------------------------------

    def export_image(self, path) -> None:
        """Save the three plots as one figure; PNG or SVG from the suffix."""
        export_item(self.graphics.ci, path)

    # ----- reacting to the controller --------------------------------------------------------

    def on_selection_changed(self, selection) -> None:
        self._draw_selection()

    def refresh(self) -> None:
        self.on_clusters_changed(None)
        self._draw_selection()

    def on_result_changed(self) -> None:
        self._result = self.result
        self._labels = None
        self.on_clusters_changed(None)

    def on_clusters_changed(self, info) -> None:
        result = self._result
        if result is None:
            self.summary = None
            self._labels = None
            for plot in (self.count_plot, self.lag_plot):
                plot.clear()
            self.presence_image.clear()
            self.selected_row.hide()
            self.summary_label.setText("No tracking result yet")
            return
        if self._labels is not None and not membership_changed(info):
            return
        labels = self._labels = np.array(self.session.labels)
        self.summary = summarize(result.sessions, labels, result.n_sessions)
        self._draw()

    def _draw(self) -> None:
        result, sm = self._result, self.summary
        S = result.n_sessions
        x = np.arange(1, S + 1, dtype=float)
        plot = self.count_plot
        plot.clear()
        plot.addItem(
            pg.BarGraphItem(
                x=x - 0.18,
                height=sm.units_per_session,
                width=0.36,
                brush=ALL_UNITS_COLOR,
                pen=None,
                name="all units",
            )
        )
        plot.addItem(
            pg.BarGraphItem(
                x=x + 0.18,
                height=sm.tracked_per_session,
                width=0.36,
                brush=TRACKED_COLOR,
                pen=None,
                name="in a cluster (tracked)",
            )
        )
        self._session_axis(plot, S)
        plot.setXRange(0.4, S + 0.6, padding=0)
        plot.setYRange(0, max(1, sm.units_per_session.max()) * 1.25, padding=0)

        plot = self.lag_plot
        plot.clear()
        if sm.lags.size:
            for p, color, name, shift in (
                (sm.p_later, LATER_COLOR, "÷ units in the later session", -0.06),
                (sm.p_earlier, EARLIER_COLOR, "÷ units in the earlier session", 0.06),
            ):
                lx = sm.lags + shift
                plot.addItem(
                    pg.ErrorBarItem(
                        x=lx,
                        y=p[:, 0],
                        height=2 * p[:, 1],
                        beam=0.12,
                        pen=pg.mkPen(color, width=1.5),
                    )
                )
                plot.plot(
                    lx,
                    p[:, 0],
                    pen=pg.mkPen(color, width=2),
                    symbol="o",
                    symbolSize=7,
                    symbolBrush=color,
                    symbolPen=None,
                    name=name,
                )
            ticks = [(int(v), str(int(v))) for v in sm.lags]
            step = max(1, int(np.ceil(len(ticks) / 15)))
            plot.getAxis("bottom").setTicks([ticks[::step], []])
            plot.setXRange(0.5, sm.lags[-1] + 0.5, padding=0)
        plot.setYRange(0, 1.05, padding=0)

        # Presence: each cluster's row coloured by session where it has a unit.
        K = sm.presence.shape[0]
        colors = session_colors(S)
        rgba = np.full((max(K, 1), S, 4), 255, dtype=np.ubyte)
        rgba[..., :3] = 235  # absent: light grey, so the matrix stands out from the page
        for s in range(S):
            c = colors[s]
            rgba[:K, s][sm.presence[:, s]] = (c.red(), c.green(), c.blue(), 255)
        if K == 0:
            rgba[..., :3] = 255
        self.presence_image.setImage(rgba, autoLevels=False)
        self.presence_image.setRect(QtCore.QRectF(0.5, 0, S, max(K, 1)))
        self._session_axis(self.presence_plot, S)
        set_title(self.presence_plot, f"Tracked neurons across sessions ({K} clusters)")
        self.presence_plot.getViewBox().setRange(
            xRange=(0.5, S + 0.5), yRange=(0, max(K, 1)), padding=0.01
        )

        pct = 100.0 * sm.n_tracked / max(result.n_units, 1)
        mean_len = sm.presence.sum(axis=1).mean() if K else 0.0
        self.summary_label.setText(
            f"<b>{sm.n_clusters}</b> tracked neurons (clusters) · <b>{sm.n_tracked}</b> of "
            f"{result.n_units} units tracked ({pct:.0f}%) · "
            f"<b>{sm.n_matched_pairs}</b> matched pairs · "
            f"{S} sessions · a tracked neuron is seen in {mean_len:.1f} sessions on average"
        )
        self._draw_selection()

    @staticmethod
    def _session_axis(plot: pg.PlotItem, n_sessions: int) -> None:
        ticks = [(s, str(s)) for s in range(1, n_sessions + 1)]
        step = max(1, int(np.ceil(n_sessions / 20)))
        plot.getAxis("bottom").setTicks([ticks[::step], []])

    def _draw_selection(self) -> None:
        sm = self.summary
        k = self.selection.cluster
        if sm is None or k is None:
            self.selected_row.hide()
            return
        rows = np.flatnonzero(sm.presence_clusters == k)
        if rows.size == 0:
            self.selected_row.hide()
            return
        S = sm.presence.shape[1]
        self.selected_row.setRect(0.5, float(rows[0]), float(S), 1.0)
        self.selected_row.show()

    def cluster_at_row(self, y: float) -> int | None:
        sm = self.summary
        row = int(np.floor(y))
        if sm is None or not 0 <= row < sm.presence_clusters.size:
            return None
        return int(sm.presence_clusters[row])

    def _on_presence_clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        pos = self.presence_plot.getViewBox().mapSceneToView(event.scenePos())
        k = self.cluster_at_row(pos.y())
        if k is not None:
            event.accept()
            self.controller.select_cluster(k)

    def _on_save_clicked(self) -> None:
        path = ask_save_path(self, "overview.png")
        if path is not None:
            self.export_image(path)
