"""The one owner of GUI state: dataset, settings, result, selection and the running job.

Views call the intents (`select_cluster`, `select_units`, `select_pair`, `open_folder`,
`start_run`, ...) and redraw from the signals; they never talk to each other.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QObject, QSettings, pyqtSignal

from dant_core.dataset import Dataset, load_dataset
from dant_core.errors import DantError, DatasetError, SettingsError
from dant_core.settings import Settings

RESULTS_SUBFOLDER = "DANT_Output"
MAX_RECENT = 10


def _empty_units() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


class Controller(QObject):
    """State of one window. Signals carry no payload: read the state from the controller."""

    dataset_changed = pyqtSignal()  # a data folder was loaded
    result_changed = pyqtSignal()  # a new TrackingResult (run finished or loaded), or None
    clusters_changed = pyqtSignal()  # cluster assignment changed (curation)
    selection_changed = pyqtSignal()  # selected cluster / units / pair changed
    settings_changed = pyqtSignal()  # the settings object was replaced (loaded, reset)
    problems_changed = pyqtSignal()  # the settings form found / cleared problems

    # run lifecycle (relayed from the job on the UI thread)
    run_started = pyqtSignal()
    run_progress = pyqtSignal(str, int, int)  # stage, done, total (throttled)
    run_log = pyqtSignal(str)  # one log line; also used for load messages
    run_finished = pyqtSignal()  # after result_changed
    run_failed = pyqtSignal(str, str)  # message, traceback text
    run_cancelled = pyqtSignal()
    busy_changed = pyqtSignal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.result = None  # dant_core.results.TrackingResult | None
        self.settings: Settings = Settings.defaults()
        self.settings_path: Path | None = None  # the settings file the values came from
        self.data_folder: Path | None = None
        self.output_folder: Path | None = None
        self.selected_cluster: int | None = None
        self.selected_units: np.ndarray = _empty_units()
        self.selected_pair: tuple[int, int] | None = None
        self.form_problems: list[str] = []  # values the settings form could not accept
        self._job = None  # dant_gui.jobs.TrackingJob while running

    # ----- cluster labels ------------------------------------------------------------

    @property
    def idx_cluster(self) -> np.ndarray | None:
        """Current cluster of every unit (n_unit,) int64, 1..K or -1; None without a result."""
        return None if self.result is None else self.result.idx_cluster

    def cluster_ids(self) -> np.ndarray:
        """Sorted cluster ids > 0 present in the current labels (int64)."""
        labels = self.idx_cluster
        if labels is None:
            return _empty_units()
        return np.unique(labels[labels > 0]).astype(np.int64)

    def units_of(self, cluster: int) -> np.ndarray:
        """Units (int64, ascending) of one cluster; empty when absent."""
        labels = self.idx_cluster
        if labels is None or cluster is None:
            return _empty_units()
        return np.flatnonzero(labels == int(cluster)).astype(np.int64)

    def cluster_of(self, unit: int) -> int | None:
        labels = self.idx_cluster
        if labels is None or not 0 <= int(unit) < labels.size:
            return None
        k = int(labels[int(unit)])
        return k if k > 0 else None

    # ----- selection intents ------------------------------------------------------------

    def select_cluster(self, cluster: int | None) -> None:
        """Select one cluster (None clears); selected_units become its units."""
        cluster = None if cluster is None else int(cluster)
        units = self.units_of(cluster) if cluster is not None else _empty_units()
        if cluster is not None and units.size == 0:
            cluster, units = None, _empty_units()
        if (
            cluster == self.selected_cluster
            and self.selected_pair is None
            and np.array_equal(units, self.selected_units)
        ):
            return
        self.selected_cluster = cluster
        self.selected_units = units
        self.selected_pair = None
        self.selection_changed.emit()

    def select_units(self, units) -> None:
        """Select units; selected_cluster becomes their common cluster when they share one."""
        units = np.unique(np.asarray(units, dtype=np.int64).ravel())
        cluster = None
        labels = self.idx_cluster
        if labels is not None and units.size:
            units = units[(units >= 0) & (units < labels.size)]
            ks = np.unique(labels[units]) if units.size else np.zeros(0)
            if ks.size == 1 and ks[0] > 0:
                cluster = int(ks[0])
        if (
            cluster == self.selected_cluster
            and self.selected_pair is None
            and np.array_equal(units, self.selected_units)
        ):
            return
        self.selected_cluster = cluster
        self.selected_units = units
        self.selected_pair = None
        self.selection_changed.emit()

    def select_pair(self, a: int, b: int) -> None:
        """Select a unit pair; selects the cluster of a (else of b) if any; units = (a, b)."""
        pair = (int(a), int(b))
        if pair == self.selected_pair:
            return
        cluster = self.cluster_of(pair[0])
        if cluster is None:
            cluster = self.cluster_of(pair[1])
        self.selected_pair = pair
        self.selected_cluster = cluster
        self.selected_units = np.unique(np.array(pair, dtype=np.int64))
        self.selection_changed.emit()

    def clear_selection(self) -> None:
        if (
            self.selected_cluster is None
            and self.selected_pair is None
            and not self.selected_units.size
        ):
            return
        self.selected_cluster = None
        self.selected_units = _empty_units()
        self.selected_pair = None
        self.selection_changed.emit()

    # ----- data ------------------------------------------------------------------------------

    def open_folder(self, folder) -> None:
        """Load a data folder (DantError on bad input, state unchanged) and any results in it."""
        if self.is_running:
            raise DantError("a run is in progress; cancel it before opening another folder")
        folder = Path(folder).expanduser().absolute()
        if not folder.exists():
            raise DatasetError(f"{folder}: folder does not exist")
        if not folder.is_dir():
            raise DatasetError(f"{folder.name}: is a file, expected a data folder")
        dataset = load_dataset(folder)
        settings = self.settings.copy()
        settings_path = self.settings_path
        notes: list[str] = []
        local = folder / "settings.json"
        if local.is_file():
            try:
                settings = Settings.load(local)
                settings_path = local
                notes.append(f"Using the settings in {local}")
                notes.extend(f"warning: {w}" for w in settings.warnings)
            except SettingsError as exc:
                notes.append(f"warning: settings.json in the data folder ignored: {exc}")
                settings.base_dir = folder
        else:
            # Relative paths (output_folder "./DANT_Output") then live in the data folder.
            settings.base_dir = folder
            settings_path = None

        self.dataset = dataset
        self.data_folder = folder
        self.settings = settings
        self.settings_path = settings_path
        self.output_folder = self._resolve_output_folder()
        self.result = None
        self._reset_selection()
        self._remember_recent(folder)
        for n in notes:
            self.run_log.emit(n)
        s = dataset.summary()
        self.run_log.emit(
            f"Loaded {folder}: {s['units']} units, {s['sessions']} sessions, "
            f"{s['channels']} channels, {s['shanks']} shank(s)"
        )
        self.settings_changed.emit()
        self.dataset_changed.emit()
        self._load_existing_results()
        self.result_changed.emit()
        self.selection_changed.emit()

    def _resolve_output_folder(self) -> Path | None:
        if self.data_folder is None:
            return None
        try:
            out = self.settings.resolve_path("output_folder")
        except DantError:
            out = None
        return out if out is not None else self.data_folder / RESULTS_SUBFOLDER

    def _load_existing_results(self) -> None:
        """Load our (or pyDANT's) output for this dataset when present; failures only logged."""
        try:
            from dant_core import results as results_module
        except Exception:  # noqa: BLE001 - the engine may be mid-update; results are optional
            return
        load_result = getattr(results_module, "load_result", None)
        has_results = getattr(results_module, "has_results", None)
        if load_result is None or has_results is None:
            return
        candidates = []
        for c in (self.output_folder, self.data_folder / RESULTS_SUBFOLDER):
            if c is not None and c not in candidates:
                candidates.append(c)
        for out in candidates:
            if not has_results(out):
                continue
            try:
                self.result = load_result(out, self.dataset)
            except Exception as exc:  # noqa: BLE001 - a stale output must not block loading data
                self.run_log.emit(f"warning: could not load the results in {out}: {exc}")
                continue
            self.output_folder = out
            self.run_log.emit(f"Loaded existing results from {out}: {self.result.summary_text()}")
            return

    def set_settings(self, settings: Settings, path: Path | None = None) -> None:
        """Replace the settings (loaded from `path`, or reset); output folder follows them."""
        if path is None and self.data_folder is not None and settings.base_dir is None:
            settings.base_dir = self.data_folder
        self.settings = settings
        self.settings_path = None if path is None else Path(path)
        if self.data_folder is not None:
            self.output_folder = self._resolve_output_folder()
        self.settings_changed.emit()

    def load_settings(self, path) -> None:
        """Read a settings file (SettingsError on bad values) and use it."""
        settings = Settings.load(path)
        for w in settings.warnings:
            self.run_log.emit(f"warning: {w}")
        self.set_settings(settings, Path(path))
        self.run_log.emit(f"Settings loaded from {path}")

    def save_settings(self, path) -> None:
        self.settings.save(path)
        self.run_log.emit(f"Settings saved to {path}")

    def reset_settings(self) -> None:
        settings = Settings.defaults()
        settings.base_dir = self.data_folder
        self.set_settings(settings)

    def setting_changed(self) -> None:
        """The form changed one value in place: keep the output folder in step."""
        if self.data_folder is not None:
            self.output_folder = self._resolve_output_folder()

    def set_result(self, result) -> None:
        """Use a new TrackingResult (or None); the selection is cleared."""
        self.result = result
        self._reset_selection()
        self.result_changed.emit()
        self.selection_changed.emit()

    def _reset_selection(self) -> None:
        self.selected_cluster = None
        self.selected_units = _empty_units()
        self.selected_pair = None

    # ----- recent folders ----------------------------------------------------------------

    def recent_folders(self) -> list[str]:
        value = QSettings().value("recent_folders", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember_recent(self, folder: Path) -> None:
        items = [str(folder)] + [f for f in self.recent_folders() if f != str(folder)]
        QSettings().setValue("recent_folders", items[:MAX_RECENT])

    # ----- running ---------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._job is not None

    def set_form_problems(self, problems: list[str]) -> None:
        if list(problems) != self.form_problems:
            self.form_problems = list(problems)
            self.problems_changed.emit()

    def can_run(self) -> bool:
        return (
            self.dataset is not None
            and not self.is_running
            and not self.form_problems
            and not self.settings.problems()
        )

    def start_run(self) -> None:
        """Start tracking on a worker thread; DantError when it cannot start."""
        from .jobs import TrackingJob

        if self.is_running:
            raise DantError("a run is already in progress")
        if self.dataset is None:
            raise DantError("open a data folder first")
        problems = self.form_problems or self.settings.problems()
        if problems:
            raise DantError("the settings have problems:\n" + "\n".join(problems))
        self.output_folder = self._resolve_output_folder()
        job = TrackingJob(self.dataset, self.settings.copy(), self.output_folder, parent=self)
        job.progress.connect(self.run_progress)
        job.log.connect(self.run_log)
        job.finished.connect(self._on_job_finished)
        job.failed.connect(self._on_job_failed)
        job.cancelled.connect(self._on_job_cancelled)
        self._job = job
        self.busy_changed.emit(True)
        self.run_started.emit()
        self.run_log.emit(f"Run started; output folder {self.output_folder}")
        job.start()

    def cancel_run(self) -> None:
        if self._job is not None:
            self.run_log.emit("Cancelling ...")
            self._job.cancel()

    def wait_for_job(self, msecs: int = 10_000) -> None:
        """Block until the worker thread has ended (used on close)."""
        if self._job is not None:
            self._job.cancel()
            self._job.wait(msecs)

    def _end_job(self) -> None:
        self._job = None
        self.busy_changed.emit(False)

    def _on_job_finished(self, result) -> None:
        self._end_job()
        self.run_log.emit(f"Results saved to {self.output_folder}")
        self.set_result(result)
        self.run_finished.emit()

    def _on_job_failed(self, message: str, tb: str) -> None:
        self._end_job()
        self.run_log.emit(f"Run failed: {message}")
        self.run_failed.emit(message, tb)

    def _on_job_cancelled(self) -> None:
        self._end_job()
        self.run_log.emit("Run cancelled; no result was written")
        self.run_cancelled.emit()


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
