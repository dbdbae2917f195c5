"""Cluster detail view: everything about the units of the selected cluster.

Waveforms on the probe, depth across sessions, ACG / PETH overlays, the within-cluster
similarity matrix, the similarity histogram with the LDA threshold and a feature scatter,
plus a table of the units. Summaries over all graph pairs are computed once per result
(and per cluster labelling) and cached; a selection only touches the cluster's units.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from dant_core.auto_decisions import kinds_text
from dant_core.pair_summary import GraphSummary

from ..worker import WorkQueue
from .base import ViewBase, membership_changed
from .common import (
    WEIGHTED,
    DrawSteps,
    add_save_action,
    ask_save_path,
    export_item,
    fill_session_legend,
    nice_scale,
    probe_channels,
    session_colors,
    set_title,
    stop_scatter_fill,
    style_plot,
    trace_width,
    unit_pens,
)
from .pair_plots import CandidatePairPlots
from .plot_pool import take_plot
from .trace_set import TraceSet
from .unit_matrix import UnitMatrix

N_PROBE_CHANNELS = 20  # channels drawn around the cluster's peak channel
MAX_UNITS_SHOWN = 60  # a large selection of unmatched units is cut to this many
CORRECTED_TIP = "Show the waveforms after Kriging correction for the estimated probe motion"
TABLE_COLUMNS = ("Unit", "Session", "y (µm)", "PtT (µV)", "Mean sim.")
SIMILARITY_COLUMN = TABLE_COLUMNS.index("Mean sim.")
TABLE_TIPS = (
    "Unit index (0-based)",
    "Session of the unit",
    "Depth y of the unit (µm), not motion-corrected",
    "Peak-to-trough amplitude on the peak channel (µV)",
    "Mean weighted similarity to the other units shown",
)


class ClusterDetailView(CandidatePairPlots, ViewBase):
    """The units of the selected cluster (or of the selected units when unmatched)."""

    summary_ready = QtCore.pyqtSignal()  # the candidate-pair summary (histogram, scatter) is drawn
    drawn = QtCore.pyqtSignal()  # every plot shows the units of the latest selection
    N_PLOTS = 7  # plots it takes from plot_pool

    def __init__(self, controller, parent=None):
        super().__init__(controller, parent)
        self.units: np.ndarray = np.zeros(0, dtype=np.int64)  # units shown
        self.cluster: int | None = None
        self.channels: np.ndarray = np.zeros(0, dtype=np.int64)  # probe channels drawn
        self.block: np.ndarray = np.zeros((0, 0))  # within-cluster weighted similarity
        self.shown_waveforms: np.ndarray = np.zeros((0, 0, 0))  # (k, n_channel shown, n_sample) µV
        self._result = None
        self._labels: np.ndarray | None = None
        self.summary: GraphSummary | None = None  # of the shank of the units shown
        self._summaries: dict[int, GraphSummary] = {}  # shank -> summary, for self._labels
        self._summary_generation = 0
        self._work = WorkQueue(self)
        self._steps = DrawSteps(self)  # a selection's plots are drawn over several turns
        self._steps.finished.connect(self.drawn)
        self._feature_blocks: dict[str | None, np.ndarray] = {}
        self._build_ui()
        self.mark_changed(new_result=True)  # drawn now if shown, else when first shown

    # ----- layout ---------------------------------------------------------------------------

    def _build_ui(self) -> None:
        self._build_panel()
        self._build_plots()
        self.splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.panel)
        self.splitter.addWidget(self.scroll)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.wide: bool | None = None  # set when first resized (to its place in a window)
        self._columns_wanted = 3

    def _build_panel(self) -> None:
        """The unit panel: title, table of the units, display controls."""
        self.title_label = QtWidgets.QLabel("Select a cluster")
        font = self.title_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title_label.setFont(font)
        self.title_label.setWordWrap(True)
        # The automatic decisions that made or changed the cluster (AutoCuration.json).
        self.decisions_label = QtWidgets.QLabel("", wordWrap=True, styleSheet="color: #555;")
        self.header = QtWidgets.QWidget()
        hv = QtWidgets.QVBoxLayout(self.header, contentsMargins=QtCore.QMargins(0, 0, 0, 0))
        hv.addWidget(self.title_label)
        hv.addWidget(self.decisions_label)

        self.table = QtWidgets.QTableWidget(0, len(TABLE_COLUMNS))
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        for col, tip in enumerate(TABLE_TIPS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        # Sized to the contents once per fill (_fill_table): ResizeToContents measured
        # every row again at each cell set, ~50 ms for one column of 60 units.
        self.table.horizontalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.Interactive
        )
        self.table.setToolTip("Units of the cluster; select rows to highlight them everywhere")
        self.table.itemSelectionChanged.connect(self._on_table_selection)

        self.corrected_check = QtWidgets.QCheckBox("Motion-corrected waveforms")
        self.corrected_check.setToolTip(CORRECTED_TIP)
        self.corrected_check.toggled.connect(lambda *_: self._draw_waveforms())
        self.scatter_x = QtWidgets.QComboBox()
        self.scatter_y = QtWidgets.QComboBox()
        for combo in (self.scatter_x, self.scatter_y):
            combo.currentIndexChanged.connect(lambda *_: self._draw_scatter(full=True))
        self.save_button = QtWidgets.QPushButton("Save…")
        self.save_button.setToolTip("Save all plots of this view as one PNG or SVG")
        self.save_button.clicked.connect(self._on_save_clicked)

        form = QtWidgets.QFormLayout()
        form.addRow("Scatter x", self.scatter_x)
        form.addRow("Scatter y", self.scatter_y)
        self.controls = QtWidgets.QWidget()
        cv = QtWidgets.QVBoxLayout(self.controls)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.corrected_check)
        cv.addLayout(form)
        cv.addWidget(self.save_button)
        cv.addStretch(1)
        self.panel = QtWidgets.QWidget()
        self.panel_grid = QtWidgets.QGridLayout(self.panel)
        self.panel_grid.setContentsMargins(4, 4, 4, 4)

    def _build_plots(self) -> None:
        """The plots, in a scroll area (two columns when the view is narrow)."""
        self.graphics = pg.GraphicsLayoutWidget()
        # Made with the window (plot_pool), placed in the layout for the view's width in
        # the first step after it is shown (_lay_out_plots).
        self.waveform_plot = take_plot()
        self.depth_plot = take_plot()
        self.matrix_plot = take_plot()
        self.acg_plot = take_plot()
        self.peth_plot = take_plot()
        self.hist_plot = take_plot()
        self.scatter_plot = take_plot()
        self.plots = {
            "waveforms": self.waveform_plot,
            "depth": self.depth_plot,
            "similarity_matrix": self.matrix_plot,
            "acg": self.acg_plot,
            "peth": self.peth_plot,
            "histogram": self.hist_plot,
            "scatter": self.scatter_plot,
        }
        self.columns: int | None = None
        for plot in self.plots.values():
            # Columns shared by their stretch alone: sized to their contents, a selection's
            # new labels and titles moved the columns by a pixel or ten, which laid all
            # seven plots out again and drew every axis anew (~50 ms).
            policy = plot.sizePolicy()
            policy.setHorizontalPolicy(QtWidgets.QSizePolicy.Policy.Ignored)
            plot.setSizePolicy(policy)
        # Narrow (a tab between docks): two columns, scrolled vertically when short.
        self.scroll = QtWidgets.QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.graphics)
        style_plot(self.waveform_plot, "Waveforms", "x (µm)", "y, depth along the probe (µm)")
        style_plot(self.depth_plot, "Depth across sessions", "session", "y (µm)")
        style_plot(self.matrix_plot, "Similarity within the cluster", "unit", "unit")
        style_plot(self.acg_plot, "Autocorrelogram", "lag (ms)", "ACG (normalised)")
        style_plot(self.peth_plot, "PETH", "time bin", "firing rate (a.u.)")
        style_plot(
            self.hist_plot, "Candidate-pair similarity", "weighted similarity", "fraction of pairs"
        )
        style_plot(self.scatter_plot, "Pair feature scores", "", "")
        for plot in self.plots.values():
            set_title(plot, plot.titleLabel.text)
            # No grid: an axis with a grid spans its whole plot, and each of a selection's
            # steps drew all fourteen axes anew over the plots (~25 ms of each paint);
            # among many overlaid traces the faint lines told little.
            plot.showGrid(x=False, y=False)
        self.matrix = UnitMatrix(self.matrix_plot)
        self.waveform_legend = self.waveform_plot.addLegend(offset=(-5, 5), labelTextSize="9pt")
        self.depth_legend = self.depth_plot.addLegend(offset=(5, 5), labelTextSize="9pt")
        self.waveform_legend.setBrush(pg.mkBrush(255, 255, 255, 200))  # readable over traces
        self.hist_legend = self.hist_plot.addLegend(offset=(5, 5), labelTextSize="9pt")
        self.scatter_legend = self.scatter_plot.addLegend(offset=(-5, -5), labelTextSize="9pt")
        self._build_cluster_items()
        self._build_graph_items()
        for name, plot in self.plots.items():
            plot.hideButtons()
            add_save_action(plot, self, f"{name}.png")

    # Plot positions (row, col, rowspan) with three columns and with two.
    _GRID = {
        3: {
            "waveforms": (0, 0, 3),
            "depth": (0, 1, 1),
            "similarity_matrix": (0, 2, 1),
            "acg": (1, 1, 1),
            "peth": (1, 2, 1),
            "histogram": (2, 1, 1),
            "scatter": (2, 2, 1),
        },
        2: {
            "waveforms": (0, 0, 2),
            "depth": (0, 1, 1),
            "similarity_matrix": (1, 1, 1),
            "acg": (2, 0, 1),
            "peth": (2, 1, 1),
            "histogram": (3, 0, 1),
            "scatter": (3, 1, 1),
        },
    }
    WIDE_MIN_PX = 1250  # narrower views: unit panel on top, plots in two columns
    ROW_MIN_PX = 230  # two columns: rows at least this tall (the area scrolls)

    def _set_stretch(self) -> None:
        layout = self.graphics.ci.layout
        factors = (5, 4, 4) if self.columns == 3 else (1, 1, 0)
        for col, factor in enumerate(factors):
            layout.setColumnStretchFactor(col, factor)

    def _arrange(self, columns: int) -> None:
        """Lay the plots out in three columns (wide) or two (narrow)."""
        if columns == self.columns:
            return
        ci = self.graphics.ci
        if self.columns is not None:
            for plot in self.plots.values():
                ci.removeItem(plot)
        for name, (row, col, rowspan) in self._GRID[columns].items():
            ci.addItem(self.plots[name], row=row, col=col, rowspan=rowspan)
        self.columns = columns
        self._set_stretch()
        self.graphics.setMinimumHeight(0 if columns == 3 else 4 * self.ROW_MIN_PX)

    def _set_wide(self, wide: bool) -> None:
        """Wide: unit panel left, plots in three columns. Narrow: panel on top, two columns."""
        if wide == self.wide:
            return
        self.wide = wide
        grid = self.panel_grid
        for w in (self.header, self.table, self.controls):
            grid.removeWidget(w)
        if wide:
            grid.addWidget(self.header, 0, 0)
            grid.addWidget(self.table, 1, 0)
            grid.addWidget(self.controls, 2, 0)
            grid.setRowStretch(1, 1)
            self.panel.setMinimumSize(220, 0)
            self.splitter.setOrientation(QtCore.Qt.Orientation.Horizontal)
            self.splitter.setSizes([300, max(self.width() - 300, 600)])
        else:
            grid.addWidget(self.header, 0, 0, 1, 2)
            grid.addWidget(self.table, 1, 0)
            grid.addWidget(self.controls, 1, 1)
            grid.setRowStretch(1, 1)
            self.panel.setMinimumSize(0, 120)
            self.splitter.setOrientation(QtCore.Qt.Orientation.Vertical)
            self.splitter.setSizes([210, max(self.height() - 210, 400)])
        self._columns_wanted = 3 if wide else 2
        if self.columns is not None:  # else in the first step of the first drawing
            self._arrange(self._columns_wanted)

    def _layout_step(self) -> list:
        """[_lay_out_plots] until the plots are in the layout, then []."""
        return [self._lay_out_plots] if self.columns is None else []

    def _lay_out_plots(self) -> None:
        """The plots placed in the layout for the first time (~20 ms, and their first
        paint ~50 ms more): a step of its own after the view is shown, not in the click
        that made it."""
        if self.columns is None:
            self._arrange(self._columns_wanted)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._set_wide(event.size().width() >= self.WIDE_MIN_PX)

    def _build_cluster_items(self) -> None:
        """Items of the per-cluster plots live as long as the view; data is swapped in."""
        wp = self.waveform_plot
        # one trace per unit (all its channels, NaN between them), in the order of self.units
        self.waveform_traces = TraceSet(clickable=True)
        self.waveform_traces.sigClicked.connect(self._on_trace_clicked)
        self.waveform_traces.setZValue(1)  # above the channel sites: drawn and clicked first
        wp.addItem(self.waveform_traces)
        self.sites = pg.ScatterPlotItem(symbol="s", size=5, pen=None, brush=pg.mkBrush(0, 0, 0, 40))
        self.peak_site = pg.ScatterPlotItem(
            symbol="s", size=7, pen=None, brush=pg.mkBrush(0, 0, 0, 160)
        )
        self.scale_bar = pg.PlotDataItem(pen=pg.mkPen("#202020", width=2))
        self.scale_text = pg.TextItem("", color="#202020", anchor=(0, 0.5))
        for item in (self.sites, self.peak_site, self.scale_bar, self.scale_text):
            wp.addItem(item)
        self.hint = pg.TextItem(
            "Select a cluster (cluster list, similarity matrix or overview)\nto see its units here",
            color="#707070",
            anchor=(0.5, 0.5),
        )
        self.hint.setPos(0.5, 0.5)
        wp.addItem(self.hint)

        dp = self.depth_plot
        self.depth_raw_line = dp.plot(
            pen=pg.mkPen((140, 140, 140), width=1, style=QtCore.Qt.PenStyle.DashLine)
        )
        self.depth_line = dp.plot(pen=pg.mkPen("#202020", width=1.5))
        self.depth_raw_points = pg.ScatterPlotItem(symbol="o", size=10)
        self.depth_points = pg.ScatterPlotItem(symbol="o", size=10)
        for item, name in (
            (self.depth_raw_points, "raw y"),
            (self.depth_points, "motion-corrected y"),
        ):
            item.sigClicked.connect(self._on_depth_clicked)
            dp.addItem(item)
            self.depth_legend.addItem(item, name)

        self.overlay_traces = {"acg": TraceSet(), "peth": TraceSet()}  # a trace per unit
        self.overlay_missing = {}
        for key, plot in (("acg", self.acg_plot), ("peth", self.peth_plot)):
            plot.addItem(self.overlay_traces[key])
            text = pg.TextItem(
                "not available for this data set", color="#808080", anchor=(0.5, 0.5)
            )
            plot.addItem(text, ignoreBounds=True)
            text.hide()
            self.overlay_missing[key] = text

    def stop_background(self) -> None:
        self._work.abort()
        self._steps.stop()
        for item in self.scatter_items.values():
            stop_scatter_fill(item)  # closed next: its items are deleted

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._summary_generation += 1
        super().closeEvent(event)  # stop_background too

    # ----- public -----------------------------------------------------------------------------

    def export_image(self, path) -> None:
        """Save all plots of the view (one figure); PNG or SVG from the suffix."""
        self._steps.finish()
        export_item(self.graphics.ci, path)

    def table_units(self) -> list[int]:
        """Units listed in the table, top to bottom."""
        return [int(self.table.item(r, 0).text()) for r in range(self.table.rowCount())]

    # ----- reacting to the controller --------------------------------------------------------

    def on_selection_changed(self, selection) -> None:
        self._on_selection_changed()

    def refresh(self) -> None:
        self.on_clusters_changed(None)

    def on_result_changed(self) -> None:
        result = self.result
        self._result = result
        self._labels = None if result is None else np.asarray(self.session.labels).copy()
        self._offer_corrected(result is None or result.corrected_saved)
        names = [] if result is None else list(result.feature_names)
        for combo, default in ((self.scatter_x, 0), (self.scatter_y, 1)):
            combo.blockSignals(True)
            combo.clear()
            for name in names:
                combo.addItem(f"{name} score", name)
            combo.addItem(WEIGHTED, None)
            combo.setCurrentIndex(min(default, combo.count() - 1))
            combo.blockSignals(False)
        self.units = np.zeros(0, dtype=np.int64)
        self.cluster = None
        self._start_summaries()
        self._on_selection_changed(force=True)

    def _offer_corrected(self, available: bool) -> None:
        """Offer the corrected waveforms only when the result holds them (a pyDANT folder
        without waveforms_corrected.npy does not: never show raw ones under that name)."""
        check = self.corrected_check
        if not available:
            check.setChecked(False)
        check.setEnabled(available)
        check.setToolTip(
            CORRECTED_TIP
            if available
            else "Motion-corrected waveforms are not available: this pyDANT output folder "
            "holds no waveforms_corrected.npy; the raw waveforms are shown"
        )

    def on_clusters_changed(self, info) -> None:
        if self._result is None or not membership_changed(info):
            return
        self._labels = np.array(self.session.labels)
        self._start_summaries()
        self._on_selection_changed(force=True)

    def _start_summaries(self) -> None:
        """Summarise every shank's candidate pairs on a worker (O(n_pair): seconds at 20k units)."""
        self._summary_generation += 1
        self._summaries = {}
        self.summary = None
        self._draw_graph_summary()
        result = self._result
        if result is None or not len(result.shanks):
            return
        generation, labels = self._summary_generation, self._labels.copy()
        n_shank = len(result.shanks)

        def work():
            summaries = {s: GraphSummary(result, s, labels) for s in range(n_shank)}
            if result.n_units:
                # Loads the engine's compiled kernels now, not on the user's first click.
                result.similarity_block([0], [0])
            return generation, summaries

        self._work.submit(work, returned=self._on_summary_done, errored=self._on_summary_failed)

    def _on_summary_failed(self, error) -> None:
        if self.closed:
            return  # the view was closed: its items may be gone
        set_title(self.hist_plot, f"Could not summarise the pairs: {error.exception}")

    def _on_summary_done(self, payload) -> None:
        if self.closed:
            return  # the view was closed: its items may be gone
        generation, summaries = payload
        if generation != self._summary_generation:
            return
        self._summaries = summaries
        self._draw_graph_summary()
        self.summary_ready.emit()

    def _shank_shown(self) -> int:
        if self._result is None or self.units.size == 0:
            return 0
        return int(self._result.unit_shank_index[self.units[0]])

    def _shown_units(self) -> tuple[int | None, np.ndarray]:
        if self._result is None or self.session is None:
            return None, np.zeros(0, dtype=np.int64)
        s = self.selection
        if s.cluster is not None:
            return int(s.cluster), np.asarray(self.session.units_of(s.cluster), dtype=np.int64)
        return None, np.asarray(s.units, dtype=np.int64)[:MAX_UNITS_SHOWN]

    def _on_selection_changed(self, force: bool = False) -> None:
        cluster, units = self._shown_units()
        if not force and cluster == self.cluster and np.array_equal(units, self.units):
            self._draw_highlight()
            return
        self.cluster = cluster
        self.units = units
        self._feature_blocks = {}
        self._redraw_all()

    # ----- drawing ----------------------------------------------------------------------------

    def _redraw_all(self) -> None:
        result = self._result
        units = self.units
        if result is None or units.size == 0:
            self.block = np.zeros((0, 0))
            self.title_label.setText(
                "No tracking result yet"
                if result is None
                else "Select a cluster (or units) to see it here"
            )
            self._show_decisions()
            self.table.blockSignals(True)
            self.table.setRowCount(0)
            self.table.blockSignals(False)
            self.waveform_traces.clear()
            fill_session_legend(self.waveform_legend, np.zeros(0, dtype=np.int64), 0)
            for item in (self.sites, self.peak_site, self.depth_raw_points, self.depth_points):
                item.setData([])
            for item in (self.scale_bar, self.depth_raw_line, self.depth_line):
                item.setData([], [])
            self.scale_text.setText("")
            for traces in self.overlay_traces.values():
                traces.clear()
            self._draw_matrix()
            self.hint.setVisible(result is not None)
            if result is not None:
                self.waveform_plot.getViewBox().setRange(xRange=(0, 1), yRange=(0, 1))
            self._draw_graph_summary()
            self._steps.run(self._layout_step())
            return
        self.block = np.zeros((0, 0))  # the selection's similarity: in a step below
        s = np.asarray(result.sessions)[units]
        what = (
            self.session.cluster_name(self.cluster).capitalize()
            if self.cluster is not None
            else "Selected units (no common cluster)"
        )
        n_selected = units.size if self.cluster is not None else len(self.selection.units)
        cut = f", first {units.size} of {n_selected} shown" if n_selected > units.size else ""
        self.title_label.setText(
            f"{what}: {units.size} unit{'s' if units.size != 1 else ''} in "
            f"{np.unique(s).size} of {result.n_sessions} sessions{cut}"
        )
        self._show_decisions()
        self.hint.hide()
        self._fill_table()
        # The plots on the next turns, each painted before the next is drawn: drawn at
        # once, a selection at 60 sessions blocked the UI thread for 0.15-0.2 s (the
        # waveforms ~60 ms, the similarity among the units ~35 ms, read and scored here).
        self._steps.run(
            [
                *self._layout_step(),
                self._draw_waveforms,  # and the highlight
                self._draw_similarity,
                self._draw_depth,
                self._draw_matrix,
                self._draw_overlays,
                self._draw_graph_summary,
            ]
        )

    @property
    def drawing(self) -> bool:
        """Plots of the latest selection are still to be drawn (`drawn` follows)."""
        return self._steps.pending

    def _draw_similarity(self) -> None:
        """The similarity among the shown units, and its column in the table."""
        self.block = self._block(None)
        k = self.units.size
        block = self.block
        mean = (block.sum(axis=1) - np.diag(block)) / max(k - 1, 1) if k > 1 else None
        self.table.blockSignals(True)
        for row in range(k):
            text = "—" if mean is None else f"{mean[row]:.2f}"
            self.table.item(row, SIMILARITY_COLUMN).setText(text)
        self.table.blockSignals(False)

    def _show_decisions(self) -> None:
        """'Automatic: attach — Unit 152 (session 4) attached to …' (one decision) or the
        kinds, each decision's sentence in the tooltip; hidden without decisions."""
        decisions = self.session.decisions_of(self.cluster) if self.cluster is not None else ()
        sentences = [d.describe(self._result.sessions) for d in decisions]
        text = sentences[0] if len(sentences) == 1 else kinds_text(decisions)
        self.decisions_label.setText(f"Automatic: {text}" if decisions else "")
        self.decisions_label.setToolTip("\n".join(sentences))
        self.decisions_label.setVisible(bool(decisions))

    def _block(self, feature: str | None) -> np.ndarray:
        """Exact similarity among the shown units (k, k) for one feature (None: weighted)."""
        if feature not in self._feature_blocks:
            self._feature_blocks[feature] = np.asarray(
                self._result.similarity_block(self.units, self.units, feature), dtype=float
            )
        return self._feature_blocks[feature]

    def _colors(self) -> list[QtGui.QColor]:
        return session_colors(self._result.n_sessions)

    def _fill_table(self) -> None:
        """The units' rows; their mean similarity ("…") comes with _draw_similarity."""
        result, units = self._result, self.units
        k = units.size
        wf = result.features.waveforms[units]  # in float32 at least, not float64 (7.5 MB)
        ptt = np.ptp(np.asarray(wf, np.result_type(wf.dtype, np.float32)), axis=-1).max(axis=-1)
        colors = self._colors()
        self.table.blockSignals(True)
        self.table.setRowCount(k)
        for row, u in enumerate(units):
            session = int(result.sessions[u])
            values = (
                str(int(u)),
                str(session),
                f"{result.locations[u, 1]:.1f}",
                f"{ptt[row]:.0f}",
                "—" if k < 2 else "…",
            )
            for col, text in enumerate(values):
                item = QtWidgets.QTableWidgetItem(text)
                item.setTextAlignment(
                    QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
                )
                if col == 1:
                    item.setData(QtCore.Qt.ItemDataRole.DecorationRole, colors[session - 1])
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.blockSignals(False)

    def _waveforms_of(self, units: np.ndarray, channels: np.ndarray) -> np.ndarray:
        """Raw or motion-corrected waveforms (k, len(channels), n_sample) of `units`."""
        result = self._result
        if self.corrected_check.isChecked() and result.corrected_saved:
            return np.stack([result.corrected_waveform(int(u))[channels] for u in units])
        return np.asarray(result.features.waveforms[np.ix_(units, channels)], dtype=float)

    def _draw_waveforms(self) -> None:
        plot = self.waveform_plot
        result, units = self._result, self.units
        if result is None or units.size == 0:
            return
        f = result.features
        loudest = units[int(np.argmax(f.amplitude[units]))]
        peak = int(f.peak_channels[loudest])
        locs = np.asarray(result.channel_locations, dtype=float)
        self.channels = probe_channels(locs, peak, N_PROBE_CHANNELS)
        xy = locs[self.channels]
        wf = self._waveforms_of(units, self.channels)  # (k, n_ch, n_sample)
        self.shown_waveforms = wf
        n_ch, n_sample = wf.shape[1], wf.shape[2]
        width = trace_width(xy)
        rows = np.unique(xy[:, 1])
        pitch = float(np.diff(rows).min()) if rows.size > 1 else 20.0
        ptp = float(np.ptp(wf, axis=-1).max()) if wf.size else 1.0
        scale = 2.5 * pitch / max(ptp, 1e-9)  # the largest trace spans 2.5 rows
        t = np.linspace(-width / 2, width / 2, n_sample)
        gap = np.full((n_ch, 1), np.nan)  # NaN between channels: one path per unit
        x = np.hstack((xy[:, 0][:, None] + t[None, :], gap)).ravel()
        y = xy[None, :, 1, None] + scale * (wf - np.median(wf, axis=-1, keepdims=True))
        gaps = np.full((units.size, n_ch, 1), np.nan)
        self.waveform_traces.set_traces(
            x, np.concatenate((y, gaps), axis=-1).reshape(units.size, -1), self._unit_pens()
        )
        fill_session_legend(
            self.waveform_legend, np.asarray(result.sessions)[units], result.n_sessions
        )
        self.sites.setData(xy[:, 0], xy[:, 1])
        self.peak_site.setData([locs[peak, 0]], [locs[peak, 1]])
        # Scale bar: a round number of µV, right of the traces.
        bar_uv = nice_scale(ptp / 2)
        x_bar = xy[:, 0].max() + 0.75 * width
        y_bar = xy[:, 1].min()
        self.scale_bar.setData([x_bar, x_bar], [y_bar, y_bar + bar_uv * scale])
        self.scale_text.setText(f"{bar_uv:g} µV")
        self.scale_text.setPos(x_bar + 2, y_bar + bar_uv * scale / 2)
        ms = n_sample / 30.0  # Neuropixels: 30 kHz
        plot.setLabel("bottom", f"x (µm); each trace {ms:.1f} ms")
        corrected = self.corrected_check.isChecked() and result.corrected_saved
        which = "motion-corrected" if corrected else "raw"
        set_title(plot, f"Waveforms ({which}), peak ch {peak}")
        y_lo = (xy[:, 1] - 1.5 * pitch).min()
        y_hi = (xy[:, 1] + 1.5 * pitch).max()
        x_lo = xy[:, 0].min() - width
        x_hi = x_bar + 0.9 * width + 0.25 * (x_bar - x_lo)  # room for the legend
        plot.getViewBox().setRange(xRange=(x_lo, x_hi), yRange=(y_lo, y_hi), padding=0)
        self._draw_highlight()

    def _unit_pens(self, highlighted: np.ndarray | None = None) -> list[QtGui.QPen]:
        return unit_pens(self._result.sessions[self.units], self._result.n_sessions, highlighted)

    def _on_trace_clicked(self, _item, index: int, *_) -> None:
        if 0 <= index < self.units.size:
            self.controller.select_units([int(self.units[index])])

    def _draw_depth(self) -> None:
        plot = self.depth_plot
        result, units = self._result, self.units
        s = np.asarray(result.sessions)[units].astype(float)
        y = np.asarray(result.locations)[units, 1]
        corrected = self.session.corrected_depth()[units]
        order = np.argsort(s, kind="stable")
        colors = self._colors()
        brushes = [pg.mkBrush(colors[int(v) - 1]) for v in s]
        pens = [pg.mkPen(colors[int(v) - 1], width=2) for v in s]
        self.depth_raw_line.setData(s[order], y[order])
        self.depth_line.setData(s[order], corrected[order])
        self.depth_raw_points.setData(s, y, data=units, pen=pens, brush=pg.mkBrush(255, 255, 255))
        self.depth_points.setData(s, corrected, data=units, pen=pg.mkPen("#202020"), brush=brushes)
        ticks = [(v, str(v)) for v in range(1, result.n_sessions + 1)]
        step = max(1, int(np.ceil(result.n_sessions / 15)))
        plot.getAxis("bottom").setTicks([ticks[::step], []])
        plot.setXRange(0.5, result.n_sessions + 0.5, padding=0)
        lo = min(y.min(), corrected.min())
        hi = max(y.max(), corrected.max())
        mid, half = (lo + hi) / 2, max((hi - lo) / 2, 15.0)
        plot.setYRange(mid - 1.15 * half, mid + 1.15 * half, padding=0)

    def _on_depth_clicked(self, _item, points, *_) -> None:
        if len(points):
            self.controller.select_units([int(points[0].data())])

    def _draw_overlays(self) -> None:
        result, units = self._result, self.units
        f = result.features
        for plot, data, kind in (
            (self.acg_plot, f.auto_corr, "acg"),
            (self.peth_plot, f.peth, "peth"),
        ):
            self.overlay_missing[kind].setVisible(data is None)
            if data is None:
                self.overlay_traces[kind].clear()
                plot.getViewBox().setRange(xRange=(-1, 1), yRange=(-1, 1))
                continue
            n_point = data.shape[1]
            if kind == "acg":
                acg = (
                    result.settings_dict.get("autoCorr", {})
                    if isinstance(result.settings_dict, dict)
                    else {}
                )
                bin_ms = float(acg.get("binwidth", 1.0))
                x = (np.arange(n_point) - (n_point - 1) / 2) * bin_ms
            else:
                x = np.arange(n_point, dtype=float)
            self.overlay_traces[kind].set_traces(
                x, np.asarray(data[units], dtype=float), self._unit_pens()
            )
            plot.getViewBox().autoRange(padding=0.02)

    def _draw_matrix(self) -> None:
        units, block = self.units, self.block
        if units.size and block.shape == (units.size, units.size):
            self.matrix.draw(units, np.asarray(self._result.sessions)[units], block)
        else:
            self.matrix.clear()

    def _draw_highlight(self) -> None:
        """Thicker traces and selected table rows for the selected subset of the units."""
        if self._result is None or self.units.size == 0:
            return
        selected = np.asarray(self.selection.units, dtype=np.int64)
        subset = np.intersect1d(selected, self.units)
        partial = 0 < subset.size < self.units.size
        if len(self.waveform_traces) == self.units.size:
            if partial:
                on_top = np.isin(self.units, subset)
                order = np.concatenate((np.flatnonzero(~on_top), np.flatnonzero(on_top)))
                self.waveform_traces.set_pens(self._unit_pens(on_top), order)
            else:
                self.waveform_traces.set_pens(self._unit_pens())
        self.table.blockSignals(True)
        if partial or subset.size == 0:
            self.table.clearSelection()
        if partial:
            model = self.table.selectionModel()
            flags = (
                QtCore.QItemSelectionModel.SelectionFlag.Select
                | QtCore.QItemSelectionModel.SelectionFlag.Rows
            )
            for row, u in enumerate(self.units):
                if u in subset:
                    model.select(self.table.model().index(row, 0), flags)
        self.table.blockSignals(False)

    # ----- user actions -----------------------------------------------------------------------

    def _on_table_selection(self) -> None:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        if not rows:
            return
        self.controller.select_units(self.units[rows])

    def _on_save_clicked(self) -> None:
        path = ask_save_path(self, "cluster_detail.png")
        if path is not None:
            self.export_image(path)
