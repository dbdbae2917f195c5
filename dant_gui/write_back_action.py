"""File ▸ Write track ids back to sorter folders… (`dant export OUTPUT --write-back`).

Writes the output folder's tracks.tsv into the sorter folders that the data folder's
units.tsv names (`dant_core.write_back`): enabled when units.tsv exists and a result is shown;
asks first, refuses while curation is not exported (the sorter folders would disagree with
IdxCluster.npy), when the result was replaced under the window (curation_guard) or its data
folder changed since the run (as `dant export --write-back` does), runs on a pool thread and
shows what was written where.
"""

from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QAction

from . import dialogs
from .worker import start_worker

TITLE = "Write track ids back"


def write_back_from(output_folder, data_folder, result=None) -> list[str]:
    """On a pool thread: write the output folder's tracks.tsv back; one line per action.
    Relative sorter folders are taken relative to the data folder open in the window (the
    one recorded in the result may be an earlier location of a copied folder). `result`:
    the one shown, refused (StaleResultError) when its data folder changed since the run."""
    from dant_core.data_fingerprint import StaleResultError, stale_files
    from dant_core.errors import DantError
    from dant_core.tracks import TRACKS_FILE, read_tsv
    from dant_core.write_back import write_back

    from .curation_guard import changed_data_message

    changed = [] if result is None else stale_files(result)
    if changed:
        raise StaleResultError(changed_data_message(output_folder, result.data_folder, changed))
    path = output_folder / TRACKS_FILE
    if not path.is_file():
        raise DantError(f"{path}: missing; export the clusters first (Curate ▸ Export)")
    return write_back(read_tsv(path), data_folder)


class WriteBackAction(QObject):
    """The menu action and its work. `done(lines)` after writing, `failed(message)`."""

    done = pyqtSignal(list)
    failed = pyqtSignal(str)

    def __init__(self, controller, window):
        super().__init__(window)
        self.controller = controller
        self.window = window
        self.action = QAction("&Write track ids back to sorter folders…", window)
        self.action.setToolTip(
            "Write cluster_dant_track.tsv (phy) or the dant_track unit property "
            "(SpikeInterface) into each session's sorter folder named in units.tsv"
        )
        self.action.triggered.connect(self.run)
        self._worker = None
        for signal in (
            controller.dataset_changed,
            controller.result_changed,
            controller.busy_changed,
        ):
            signal.connect(self.update)
        self.update()

    def update(self, *_) -> None:
        from dant_core.tracks import UNITS_FILE

        c = self.controller
        folder = c.data_folder
        self.action.setEnabled(
            folder is not None
            and (folder / UNITS_FILE).is_file()
            and c.session is not None
            and c.output_folder is not None
            and not c.is_running
            and self._worker is None
        )

    def run(self) -> None:
        """Confirm, then write on a pool thread; a dialog lists what was written where."""
        from dant_core.curation_log import ResultReplaced

        from .curation_guard import stop_curating

        c = self.controller
        if c.session is None or c.output_folder is None:
            return
        try:
            if c.session.curator is not None:
                c.session.curator.check_result_unchanged()
        except ResultReplaced as exc:
            stop_curating(self.window, exc)
            return
        if not c.session.exported:
            dialogs.warning(
                self.window,
                TITLE,
                "The curation shown is not exported yet: export it first (Curate ▸ Export) so "
                "that the sorter folders get the same track ids as IdxCluster.npy.",
            )
            return
        if not dialogs.question(
            self.window,
            TITLE,
            f"Write the track ids of {c.output_folder / 'tracks.tsv'} into the sorter folders "
            f"named in {c.data_folder / 'units.tsv'}? A different file already there is kept "
            "as <name>.<time>.bak.",
        ):
            return
        self._worker = start_worker(
            write_back_from,
            c.output_folder,
            c.data_folder,
            c.session.result,
            returned=self._written,
            errored=lambda e: self._failed(e.message),
            finished=self._finished,
        )
        self.update()

    def _written(self, lines: list[str]) -> None:
        for line in lines:
            self.controller.run_log.emit(line)
        dialogs.info(self.window, TITLE, "\n".join(lines))
        self.done.emit(lines)

    def _failed(self, message: str) -> None:
        dialogs.error(self.window, TITLE, message)
        self.failed.emit(message)

    def _finished(self) -> None:
        self._worker = None
        self.update()
