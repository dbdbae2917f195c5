"""File ▸ Import sessions…: sorter output folders in, a data folder out (dant_core.importers).

Folders are added (button or drop) in chronological order; each is checked on the worker
and shown with its detected format, sample rate, scaling, units by label and warnings (or
its error) before anything is imported. The import runs on the worker with progress and
Cancel; on success `imported(Path)` carries the new data folder to open.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from dant_core.importers import ImportOptions, import_sessions, plan_session

from . import dialogs
from .worker import start_worker

FOLDER_COLUMN_MAX_PX = 320  # longer paths are elided in the middle (full path: tooltip)
COLUMNS = ("Folder", "Format", "Rate (Hz)", "Scaling", "Units by label", "Importing", "Notes")


def _plan_rows(folders: list[Path], options: ImportOptions) -> list[tuple[Path, dict | str]]:
    """On the worker: each folder's plan summary, or its error text."""
    rows = []
    for i, folder in enumerate(folders):
        try:
            rows.append((folder, plan_session(folder, i, options).summary()))
        except Exception as exc:  # noqa: BLE001 - shown in the row, the dialog stays usable
            rows.append((folder, str(exc)))
    return rows


class ImportDialog(QDialog):
    """Choose session folders, see what will be read, import on the worker."""

    imported = pyqtSignal(object)  # Path of the new data folder
    checked = pyqtSignal()  # the table shows the current folders' plans

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import sessions")
        self.setAcceptDrops(True)
        self.resize(980, 420)
        self.folders: list[Path] = []
        self.worker = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep a path's both ends
        self.table.currentCellChanged.connect(lambda row, *_: self._show_notes(row))
        # a row's notes in full: the table's cell elides them, and they say what to fix
        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.labels = QLineEdit("good")
        self.labels.setToolTip("unit labels to import, comma-separated; 'all' for every unit")
        self.uv = QLineEdit()
        self.uv.setPlaceholderText("from the .meta / structure.oebin")
        self.uv.setToolTip(
            "µV per raw bit, only when no SpikeGLX .meta or Open Ephys structure.oebin says it"
        )
        self.out = QLineEdit()
        self.out.setPlaceholderText("a new folder for the data")
        self.progress = QProgressBar()
        self.status = QLabel("Add the session folders in chronological order (or drop them).")
        self.status.setWordWrap(True)
        self.import_button = QPushButton("Import")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self._layout()

    def _layout(self) -> None:
        buttons = QHBoxLayout()
        for text, slot in (
            ("Add folder…", self.choose_folder),
            ("Remove", self.remove_selected),
            ("Up", lambda: self.move_selected(-1)),
            ("Down", lambda: self.move_selected(1)),
            ("Check again", self.check),
        ):
            b = QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        buttons.addStretch()
        form = QFormLayout()
        form.addRow("Labels", self.labels)
        form.addRow("µV per bit", self.uv)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self.choose_output)
        out_row.addWidget(browse)
        form.addRow("Data folder to write", out_row)
        run = QHBoxLayout()
        run.addWidget(self.progress, 1)
        run.addWidget(self.import_button)
        run.addWidget(self.cancel_button)
        self.import_button.clicked.connect(self.start_import)
        self.cancel_button.clicked.connect(self.cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notes)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(run)

    # -- folders ------------------------------------------------------------------------

    def options(self) -> ImportOptions:
        labels = tuple(x.strip() for x in self.labels.text().split(",") if x.strip())
        text = self.uv.text().strip()
        try:
            uv = float(text) if text else None
        except ValueError:
            uv = None
            self.status.setText(f"µV per bit: {text!r} is not a number; ignored")
        return ImportOptions(labels=labels or ("good",), uv_per_bit=uv)

    def add_folders(self, folders) -> None:
        for f in folders:
            f = Path(f)
            if f not in self.folders:
                self.folders.append(f)
        if not self.out.text() and self.folders:
            self.out.setText(str(self.folders[0].parent / "DANT_data"))
        self.check()

    def choose_folder(self) -> None:
        folder = dialogs.open_folder(self, "Add a session folder")
        if folder is not None:
            self.add_folders([folder])

    def choose_output(self) -> None:
        folder = dialogs.open_folder(self, "Folder to write the data into")
        if folder is not None:
            self.out.setText(str(folder))

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for r in rows:
            del self.folders[r]
        self.check()

    def move_selected(self, step: int) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if len(rows) != 1 or not 0 <= rows[0] + step < len(self.folders):
            return
        r = rows[0]
        self.folders[r], self.folders[r + step] = self.folders[r + step], self.folders[r]
        self.check()
        self.table.selectRow(r + step)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.add_folders([p for p in paths if p.is_dir()])

    # -- checking and importing ------------------------------------------------------------

    def check(self) -> None:
        """Plan every folder on the worker; the table is filled when it returns."""
        self.table.setRowCount(len(self.folders))
        for r, f in enumerate(self.folders):
            self.table.setItem(r, 0, QTableWidgetItem(str(f)))
            self.table.setItem(r, 1, QTableWidgetItem("checking…"))
        start_worker(
            _plan_rows,
            list(self.folders),
            self.options(),
            returned=self._show_plans,
            name="check import folders",
        )

    def _show_plans(self, rows) -> None:
        if [f for f, _ in rows] != self.folders:
            return  # the folders changed meanwhile; a newer check follows
        for r, (folder, plan) in enumerate(rows):
            if isinstance(plan, str):
                cells = [str(folder), "cannot import", "", "", "", "", plan]
            else:
                by_label = ", ".join(f"{k} {v}" for k, v in sorted(plan["units_by_label"].items()))
                cells = [
                    str(folder),
                    plan["format"],
                    f"{plan['sample_rate_hz']:g}",
                    plan["scaling"],
                    by_label,
                    str(plan["units_imported"]),
                    "; ".join([f"waveforms from {plan['waveforms_from']}", *plan["warnings"]]),
                ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if isinstance(plan, str):
                    item.setForeground(Qt.GlobalColor.darkRed)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        header.resizeSection(0, min(header.sectionSize(0), FOLDER_COLUMN_MAX_PX))
        failed = [r for r, (_, plan) in enumerate(rows) if isinstance(plan, str)]
        self.table.selectRow(failed[0] if failed else 0)
        self._show_notes(self.table.currentRow())
        self.checked.emit()

    def _show_notes(self, row: int) -> None:
        """The notes of table row `row` in full below the table (nothing for no row)."""
        folder, notes = self.table.item(row, 0), self.table.item(row, len(COLUMNS) - 1)
        if row < 0 or folder is None or notes is None:
            self.notes.setText("")
            return
        text = notes.text()
        self.notes.setText(text if text.startswith(folder.text()) else f"{folder.text()}: {text}")

    def start_import(self) -> None:
        if not self.folders:
            dialogs.error(self, "Import sessions", "Add at least one session folder first.")
            return
        if not self.out.text().strip():
            dialogs.error(self, "Import sessions", "Choose the data folder to write.")
            return
        out = Path(self.out.text().strip())
        folders, options = list(self.folders), self.options()

        def run(progress, abort):
            def report(stage, done, total):
                progress((stage, done, total))

            import_sessions(out, folders, options, progress=report, cancel=abort)
            return out

        self.import_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Importing…")
        self.worker = start_worker(
            run,
            returned=self._done,
            errored=self._failed,
            progress=self._progress,
            finished=self._finished,
            name="import sessions",
            drop_when_aborted=True,
        )

    def _progress(self, value) -> None:
        stage, done, total = value
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.status.setText(f"{stage}: {done}/{total}")

    def _done(self, out: Path) -> None:
        self.status.setText(f"Imported into {out}")
        self.imported.emit(out)

    def _failed(self, error) -> None:
        self.status.setText("The import stopped: nothing was written.")
        dialogs.error(self, "Cannot import", error.message)

    def _finished(self) -> None:
        if self.worker is not None and self.worker.aborted:
            self.status.setText("Import cancelled: nothing was written.")
        self.worker = None
        self.import_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.abort()
