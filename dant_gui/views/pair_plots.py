"""The cluster detail's candidate-pair plots: the similarity histogram and the feature
scatter of a shank's candidate pairs, with the shown cluster's own pairs marked.

A mixin of `detail.ClusterDetailView` (one idea of that view, kept apart to be read at
once): it uses the view's `hist_plot`, `scatter_plot`, their legends, `scatter_x` /
`scatter_y`, `units`, `block`, `_block(feature)`, `_result`, `_summaries` and
`_shank_shown()`; the summaries are `dant_core.pair_summary.GraphSummary`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui

from dant_core.pair_summary import HIST_EDGES
from dant_core.review import threshold_curve_of, unit_log_amplitude

from .common import SELECTED_COLOR, WEIGHTED, set_scatter_in_steps, set_title

MATCHED_COLOR = QtGui.QColor("#1f77b4")
UNMATCHED_COLOR = QtGui.QColor(150, 150, 150)


class CandidatePairPlots:
    """Histogram and scatter of the candidate pairs (see the module docstring)."""

    def _build_graph_items(self) -> None:
        """Histogram and scatter items live as long as the view; data is swapped in."""
        hp, sp = self.hist_plot, self.scatter_plot
        self.hist_curves = {}
        for key, color in (("unmatched", UNMATCHED_COLOR), ("matched", MATCHED_COLOR)):
            fill = QtGui.QColor(color)
            fill.setAlpha(90)
            curve = pg.PlotDataItem(
                stepMode="center", fillLevel=0, brush=fill, pen=pg.mkPen(color, width=1.5)
            )
            hp.addItem(curve)
            self.hist_curves[key] = curve
        self.threshold_line = pg.InfiniteLine(
            0.0,
            angle=90,
            pen=pg.mkPen("#d62728", width=2, style=QtCore.Qt.PenStyle.DashLine),
            label="threshold {value:.2f}",
            labelOpts={"position": 0.55, "color": "#d62728", "anchors": [(0, 0.5), (0, 0.5)]},
        )
        hp.addItem(self.threshold_line)
        # amplitude-aware curation: the threshold this cluster's links were judged against
        self.amplitude_line = pg.InfiniteLine(
            0.0,
            angle=90,
            pen=pg.mkPen("#ff7f0e", width=2, style=QtCore.Qt.PenStyle.DotLine),
            label="",
            labelOpts={"position": 0.85, "color": "#c05f00", "anchors": [(0, 0.5), (0, 0.5)]},
        )
        hp.addItem(self.amplitude_line)
        self.amplitude_line.hide()
        self.hist_marks = pg.ScatterPlotItem(
            symbol="t", size=11, pen=pg.mkPen(SELECTED_COLOR), brush=pg.mkBrush(SELECTED_COLOR)
        )
        hp.addItem(self.hist_marks)
        self.scatter_items = {}
        for key, color, size in (("unmatched", UNMATCHED_COLOR, 4), ("matched", MATCHED_COLOR, 5)):
            c = QtGui.QColor(color)
            c.setAlpha(110)
            item = pg.ScatterPlotItem(size=size, pen=None, brush=pg.mkBrush(c))
            sp.addItem(item)
            self.scatter_items[key] = item
        self.scatter_marks = pg.ScatterPlotItem(
            symbol="o", size=11, pen=pg.mkPen("#202020", width=1), brush=pg.mkBrush(SELECTED_COLOR)
        )
        sp.addItem(self.scatter_marks)
        for key in ("unmatched", "matched"):
            self.hist_legend.addItem(self.hist_curves[key], key)
            self.scatter_legend.addItem(self.scatter_items[key], key)
        self.hist_legend.addItem(self.hist_marks, "this cluster's pairs")
        self.scatter_legend.addItem(self.scatter_marks, "this cluster's pairs")
        self.threshold_line.hide()

    def _draw_graph_summary(self) -> None:
        """Histogram and scatter for the shank shown; redrawn in full only when it changed."""
        summary = self._summaries.get(self._shank_shown())
        full = summary is not self.summary
        self.summary = summary
        self._draw_histogram(full)
        self._draw_scatter(full)

    def _cluster_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Index pairs (i < j) into self.units of the shown units (none if not drawn)."""
        k = self.units.size if self.block.shape == (self.units.size, self.units.size) else 0
        return np.triu_indices(k, 1)

    def _draw_histogram(self, full: bool = True) -> None:
        summary, plot = self.summary, self.hist_plot
        if summary is None:
            for curve in self.hist_curves.values():
                curve.setData([], [])
            self.hist_marks.setData([])
            self.threshold_line.hide()
            self.amplitude_line.hide()
            set_title(plot, "Candidate-pair similarity" + (" (computing…)" if self._result else ""))
            return
        if full:
            for key, counts in (
                ("unmatched", summary.hist_unmatched),
                ("matched", summary.hist_matched),
            ):
                curve = self.hist_curves[key]
                curve.setData(HIST_EDGES, counts / max(counts.sum(), 1))
                self.hist_legend.getLabel(curve).setText(f"{key} ({int(counts.sum())})")
            self.threshold_line.show()
            self.threshold_line.setValue(summary.threshold)
            self.threshold_line.label.valueChanged()
            plot.setXRange(HIST_EDGES[0], HIST_EDGES[-1], padding=0.02)
            set_title(plot, "Candidate-pair similarity")
        self._draw_amplitude_threshold()
        if self.units.size > 1:
            i, j = self._cluster_pairs()
            values = self.block[i, j]
            top = max(
                (c / max(c.sum(), 1)).max(initial=0)
                for c in (summary.hist_matched, summary.hist_unmatched)
            )
            self.hist_marks.setData(values, np.full(values.size, 1.06 * max(top, 1e-3)))
        else:
            self.hist_marks.setData([])
        if full:
            top = max(
                (c / max(c.sum(), 1)).max(initial=0)
                for c in (summary.hist_matched, summary.hist_unmatched)
            )
            plot.setYRange(0, 1.6 * max(top, 1e-3), padding=0)  # room for the legend and marks

    def amplitude_threshold(self) -> tuple[float, float] | None:
        """(amplitude µV, threshold) for the shown cluster: the amplitude-dependent threshold
        at its units' median amplitude, or None (no cluster, or pyDANT's curation)."""
        if self._result is None or self.units.size == 0:
            return None
        curve = threshold_curve_of(self._result, int(self.units[0]))
        if curve is None:
            return None
        log_amp = float(np.median(unit_log_amplitude(self._result, self.units)))
        return float(np.exp(log_amp)), float(curve.at(log_amp))

    def _draw_amplitude_threshold(self) -> None:
        shown = self.amplitude_threshold()
        if shown is None:
            self.amplitude_line.hide()
            return
        amplitude, threshold = shown
        self.amplitude_line.setValue(threshold)
        self.amplitude_line.label.setFormat(f"at {amplitude:.0f} µV {{value:.2f}}")
        self.amplitude_line.show()

    def _draw_scatter(self, full: bool = True) -> None:
        summary, plot = self.summary, self.scatter_plot
        fx, fy = self.scatter_x.currentData(), self.scatter_y.currentData()
        if summary is None:
            none = np.zeros(0)
            for item in self.scatter_items.values():
                set_scatter_in_steps(item, none, none, none, [])  # stops a fill on its way
            self.scatter_marks.setData([])
            return
        names = list(self._result.feature_names)

        def values(feature, mask):
            if feature is None:
                return summary.sample_similarity[mask]
            return summary.sample_scores[mask, names.index(feature)]

        if full:
            m = summary.sample_matched
            for key, mask in (("unmatched", ~m), ("matched", m)):
                # up to 20,000 points: styled in one turn they blocked the UI thread ~0.2 s
                item, x, y = self.scatter_items[key], values(fx, mask), values(fy, mask)
                brushes = [item.opts["brush"]] * x.size
                set_scatter_in_steps(item, x, y, np.flatnonzero(mask), brushes)
            sampled = summary.sample.size < summary.n_pairs
            for key, count in (("unmatched", int((~m).sum())), ("matched", int(m.sum()))):
                text = f"{key} ({count} shown)" if sampled else key
                self.scatter_legend.getLabel(self.scatter_items[key]).setText(text)
            label = lambda f: WEIGHTED.lower() if f is None else f"{f} score (Fisher z)"  # noqa: E731
            plot.setLabel("bottom", label(fx))
            plot.setLabel("left", label(fy))
            set_title(plot, "Pair feature scores")
        if self.units.size > 1:
            i, j = self._cluster_pairs()
            self.scatter_marks.setData(self._block(fx)[i, j], self._block(fy)[i, j])
        else:
            self.scatter_marks.setData([])
