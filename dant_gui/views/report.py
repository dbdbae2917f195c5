"""The Report tab: `dant report` for the clusters shown (docs/report.md).

The numbers and figures are computed on a pool thread by the same engine code as
`dant report` (`dant_core.report.document`), for the clusters shown numbered as they would be
exported, and the figures are that code's SVG, drawn with QtSvg: the tab and report.html show
the same thing. The report is recomputed when the tab is shown after the clusters changed (not
on every edit while it is hidden). "Export report…" writes report.html and report.json;
clicking a least certain track selects its cluster.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from PyQt6.QtCore import QByteArray, Qt, pyqtSignal
from PyQt6.QtSvgWidgets import QSvgWidget
from PyQt6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from dant_core.report.document import run_rows

from .. import dialogs
from ..worker import start_worker
from .base import ViewBase, membership_changed


def compute_report(result, labels):
    """On a pool thread: (report dict, {name: SVG text}) for `labels` (files' numbering)."""
    from dant_core.report.document import build_report, figures

    report = build_report(result, labels)
    return report, figures(report)


def write_report(folder: Path, report: dict) -> Path:
    """On a pool thread: report.json and report.html into `folder`; the HTML's path."""
    from dant_core.atomic_file import write_files_atomically
    from dant_core.report.document import REPORT_HTML, report_files

    write_files_atomically(folder, report_files(report))
    return folder / REPORT_HTML


class ReportView(ViewBase):
    """The run in numbers, the false-positive estimate, the figures, the least certain tracks."""

    ready = pyqtSignal()  # a report is shown
    exported = pyqtSignal(object)  # the report.html written

    def __init__(self, controller, parent=None):
        super().__init__(controller, parent)
        self.report: dict | None = None
        self._worker = None
        self._generation = 0
        self.status = QLabel("No result yet: run tracking or open a folder with results.")
        self.export_button = QPushButton("Export report…")
        self.export_button.setToolTip("Write report.html and report.json (docs/report.md)")
        self.export_button.clicked.connect(self.export_report)
        self.export_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.export_button)
        self.numbers = QLabel()
        self.numbers.setTextFormat(Qt.TextFormat.RichText)
        self.numbers.setWordWrap(True)
        self.fp_label = QLabel()  # the estimated false-positive rate, in large type
        self.fp_label.setStyleSheet("font-size: 15px; font-weight: bold")
        self.fp_label.setWordWrap(True)
        self.least_certain = QListWidget()
        self.least_certain.setToolTip("Tracks of lowest confidence: click one to select it")
        self.least_certain.itemClicked.connect(self._track_clicked)
        self.least_certain.setMinimumHeight(120)
        self.figure_grid = QGridLayout()
        body = QWidget()
        column = QVBoxLayout(body)
        column.addWidget(self.fp_label)
        column.addWidget(self.numbers)
        column.addWidget(QLabel("<b>Least certain tracks</b> (click to select)"))
        column.addWidget(self.least_certain)
        column.addLayout(self.figure_grid)
        column.addStretch(1)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)

    # ----- computing ---------------------------------------------------------------------------

    def on_result_changed(self) -> None:
        self.refresh()

    def on_clusters_changed(self, info) -> None:
        if membership_changed(info):
            self.refresh()

    def refresh(self) -> None:
        """Recompute the report of the clusters shown, on a pool thread."""
        from dant_core.curation import renumber_by_first_unit

        self.stop_background()
        self._generation += 1
        if self.session is None:
            self._clear("No result yet: run tracking or open a folder with results.")
            return
        self._clear("Computing the report…")  # never the numbers of other clusters
        generation = self._generation
        labels = renumber_by_first_unit(self.session.labels)  # as IdxCluster.npy would be
        self._worker = start_worker(
            compute_report,
            self.result,
            labels,
            returned=lambda value: self._show(generation, *value),
            errored=lambda error: self._failed(generation, error),
        )

    @property
    def computing(self) -> bool:
        return self._worker is not None

    def stop_background(self) -> None:
        if self._worker is not None:
            self._worker.abort()
            self._worker = None

    def _failed(self, generation: int, error) -> None:
        if generation == self._generation:
            self._worker = None
            self._clear(f"The report could not be computed: {error.message}")

    def _clear(self, text: str) -> None:
        self.report = None
        self.status.setText(text)
        self.export_button.setEnabled(False)
        self.numbers.clear()
        self.fp_label.clear()
        self.least_certain.clear()
        self._set_figures({})

    # ----- showing -----------------------------------------------------------------------------

    def _show(self, generation: int, report: dict, svgs: dict[str, str]) -> None:
        if generation != self._generation:
            return
        self._worker = None
        self.report = report
        run, fp = report["run"], report["false_positive_estimate"]
        low, high = report["estimated_false_positive_rate_interval_95"]
        self.status.setText(
            f"Report of the clusters shown ({run['tracks']} tracks, {run['units']} units)"
        )
        self.fp_label.setText(
            f"Estimated false-positive rate of matched pairs: "
            f"{100 * report['estimated_false_positive_rate']:.1f}% "
            f"(95% interval {100 * low:.1f}–{100 * high:.1f}%; "
            f"{fp['expected_wrong_pairs']:.1f} of {fp['matched_pairs']} pairs)"
        )
        self.numbers.setText(_numbers_html(report))
        self.least_certain.clear()
        for t in report["least_certain_tracks"]:
            item = QListWidgetItem(
                f"cluster {t['track']}: confidence {t['confidence']:+.2f}, "
                f"{len(t['units'])} units in sessions {', '.join(map(str, t['sessions']))}"
            )
            item.setData(Qt.ItemDataRole.UserRole, int(t["units"][0]))
            self.least_certain.addItem(item)
        self._set_figures(svgs)
        self.export_button.setEnabled(True)
        self.ready.emit()

    def _set_figures(self, svgs: dict[str, str]) -> None:
        while self.figure_grid.count():
            widget = self.figure_grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        figures = []
        for name in svgs:
            figure = QSvgWidget()
            figure.load(QByteArray(svgs[name].encode("utf-8")))
            figure.setFixedSize(figure.renderer().defaultSize())  # text as in report.html
            figures.append(figure)
        # As many figures side by side as the tab is wide (the wide ones set the columns).
        widest = max((f.width() for f in figures), default=1)
        columns = max(1, (self.scroll.viewport().width() - 20) // (widest + 8))
        for k, figure in enumerate(figures):
            self.figure_grid.addWidget(figure, k // columns, k % columns)

    def _track_clicked(self, item: QListWidgetItem) -> None:
        # The track is named by a unit: the window's cluster ids are not the files' numbers.
        unit = item.data(Qt.ItemDataRole.UserRole)
        cluster = self.session.cluster_of(unit)
        if cluster is not None:
            self.controller.select_cluster(cluster)

    # ----- export ------------------------------------------------------------------------------

    def export_report(self) -> None:
        """Ask for a folder, then write report.html and report.json into it on a pool thread."""
        from dant_core.report.document import REPORT_HTML, REPORT_JSON

        if self.report is None:
            return
        start = str(self.controller.output_folder or "")
        folder = dialogs.open_folder(self, "Export the report into folder", start)
        if folder is None:
            return
        there = [n for n in (REPORT_HTML, REPORT_JSON) if (Path(folder) / n).exists()]
        if there and not dialogs.question(
            self, "Export report", f"Replace {' and '.join(there)} in {folder}?"
        ):
            return
        start_worker(
            write_report,
            Path(folder),
            self.report,
            returned=self._written,
            errored=lambda e: dialogs.error(self, "Export report", e.message),
        )

    def _written(self, html: Path) -> None:
        self.status.setText(f"Wrote {html} and report.json")
        self.exported.emit(html)


def _numbers_html(report: dict) -> str:
    """The run in numbers and the held-out validation as an HTML table."""
    rows = run_rows(report)
    for v in report["held_out_validation"]:
        use = "used for matching" if v["used_for_matching"] else "held out"
        rows.append((f"ROC AUC of {v['feature']} ({use})", f"{v['auc']:.3f}"))
    body = "".join(
        f"<tr><td>{escape(str(a))}</td><td align='right'>{escape(str(b))}</td></tr>"
        for a, b in rows
    )
    return f"<table cellpadding='2'>{body}</table>"
