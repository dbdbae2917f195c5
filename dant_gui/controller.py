"""The Qt adapter of the session: intents in, signals out (whose payloads say what changed).

The contract, one way each:
- Domain values are read from the Qt-free `dant_core.session.Session` (`controller.session`;
  views through `ViewBase.session`): the result, the clusters, labels, file numbers, the
  selection, statistics, history, review order. The controller has no read methods of its
  own for them.
- Changes go through the controller's intents (`select_cluster`, `apply_to_selection`,
  `undo`, `open_folder`, `start_run`, ...), which call the session and emit what changed
  (`clusters_changed(UpdateInfo)`, `selection_changed(Selection)`, `result_changed`, ...).
The controller itself holds only what is not the session's: the dataset and settings,
the folders, and the background work (opening a folder, the run, the export), with
whether an action is possible now (`can_curate`, `can_undo()`, `can_run()`).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QObject, QSettings, pyqtSignal

from dant_core.curation import UpdateInfo
from dant_core.dataset import Dataset
from dant_core.errors import DantError, SettingProblem, SettingsError
from dant_core.selection_plan import GESTURES, SelectionNeeded
from dant_core.session import Edit, Selection, Session, open_session
from dant_core.settings import Settings

from .worker import start_worker, wait_for_all

__all__ = ["Controller", "SelectionNeeded"]

MAX_RECENT = 10


class Controller(QObject):
    """State of one window: the dataset, settings and job, and the session on the result."""

    dataset_changed = pyqtSignal()  # a data folder was loaded
    result_changed = pyqtSignal()  # a new result (run finished or loaded), or None: redo all
    clusters_changed = pyqtSignal(object)  # UpdateInfo: clusters removed/added, labels changed
    curation_changed = pyqtSignal()  # curation history, undo/redo or export state changed
    selection_changed = pyqtSignal(object)  # the new Selection
    settings_changed = pyqtSignal()  # the settings object was replaced (loaded, reset)
    problems_changed = pyqtSignal()  # settings problems found / cleared (form_problems)

    # run lifecycle (relayed from the job on the UI thread)
    run_started = pyqtSignal()
    run_progress = pyqtSignal(str, int, int)  # stage, done, total (throttled)
    run_log = pyqtSignal(str)  # one log line; also used for load messages
    run_finished = pyqtSignal()  # after result_changed
    run_failed = pyqtSignal(str, str)  # message, traceback text
    run_cancelled = pyqtSignal()
    busy_changed = pyqtSignal(bool)  # a run started / ended
    # opening a folder (on the worker): started(folder), progress(step, done, total), then
    # failed(message) and finished(False), or finished(True) once the result is shown
    load_started = pyqtSignal(str)
    load_progress = pyqtSignal(str, int, int)
    load_failed = pyqtSignal(str)
    load_finished = pyqtSignal(bool)
    # a result opened with a preview of its data folder: the whole folder is read and
    # checked behind (runs wait for it): started, then checked(True) or checked(False)
    # with data_problem set (the result stays shown)
    data_check_started = pyqtSignal()
    data_check_progress = pyqtSignal(str, int, int)  # step, done, total (of load_dataset)
    data_checked = pyqtSignal(bool)
    folder_ready = pyqtSignal(bool)  # load_finished(ok), and the data check behind it done
    export_finished = pyqtSignal(str)  # the export's summary
    export_failed = pyqtSignal(str)  # why it failed

    SELECTION_ACTIONS = GESTURES

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.settings: Settings = Settings.defaults()
        self.settings_path: Path | None = None  # the settings file the values came from
        self.data_folder: Path | None = None
        self.output_folder: Path | None = None
        self.form_problems: list[SettingProblem] = []  # settings_problems() as last worked out
        # key -> why the form's value was refused
        self._refused_settings: dict[str, list[SettingProblem]] = {}
        self.session: Session | None = None  # the result and its curation
        self._navigation = None  # the table's order, kept across sessions
        self._job = None  # the tracking run's Worker while it runs
        # Set when the results opened with the data were made from other data; the window
        # shows it once in a dialog and clears it.
        self.data_changed_warning = ""
        self._job_outcome = None  # ("done", result) / ("failed", WorkerError) once known
        self._export = None  # the export's Worker while it runs
        self._load = None  # the Worker opening a folder (reading it, then its session)
        self._opened = None  # loading.OpenedFolder being opened (until its data is checked)
        self._check = None  # the Worker checking the opened data folder (loading.check_data)
        self.data_problem = ""  # why the data folder cannot be run (its check failed)
        self.run_notes: list[str] = []  # `note:` lines of the last run, shown when it ends

    # ----- selection intents -------------------------------------------------------------------

    def _emit_selection(self) -> None:
        self.selection_changed.emit(Selection() if self.session is None else self.session.selection)

    def _selecting(self, changed: bool) -> None:
        if changed:
            self._emit_selection()

    def select_cluster(self, cluster) -> None:
        """Select one cluster (None clears); selected_units become its units."""
        if self.session is not None:
            self._selecting(self.session.select_cluster(cluster))

    def select_clusters(self, clusters) -> None:
        """Select several clusters (table rows, e.g. to merge them)."""
        if self.session is not None:
            self._selecting(self.session.select_clusters(clusters))

    def select_units(self, units) -> None:
        """Select units; selected_cluster becomes their common cluster when they share one."""
        if self.session is not None:
            self._selecting(self.session.select_units(units))

    def select_pair(self, a: int, b: int) -> None:
        """Select a unit pair; selects the cluster of a (else of b) if any."""
        if self.session is not None:
            self._selecting(self.session.select_pair(a, b))

    def clear_selection(self) -> None:
        if self.session is not None:
            self._selecting(self.session.select(Selection()))

    def set_navigation_order(self, order) -> None:
        """The cluster ids in the cluster table's order (sorting and filters)."""
        self._navigation = order
        if self.session is not None:
            self.session.set_navigation_order(order)

    def select_next(self, step: int = 1) -> int | None:
        """Select the cluster `step` rows below (above) the selected one in table order."""
        if self.session is None:
            return None
        k = self.session.next_cluster(step)
        if k is not None:
            self.select_cluster(k)
        return k

    def select_previous(self) -> int | None:
        return self.select_next(-1)

    # ----- curation ----------------------------------------------------------------------------

    @property
    def can_curate(self) -> bool:
        """Curation actions are possible now: a curated session, no run, no folder opening."""
        return (
            self.session is not None
            and self.session.curator is not None
            and not self.is_running
            and not self.is_loading
        )

    def _session(self) -> Session:
        if self.session is None or self.session.curator is None:
            raise SelectionNeeded(
                "Nothing to curate yet: run tracking, or open a data folder that has results"
            )
        if self.is_running:
            raise SelectionNeeded("A run is in progress: curate when it has finished")
        if self.is_loading:
            raise SelectionNeeded("A folder is being opened: curate when it is shown")
        return self.session

    def _edited(self, edit: Edit) -> UpdateInfo:
        self.clusters_changed.emit(edit.info)
        self.curation_changed.emit()
        if edit.selection_changed:
            self._emit_selection()
        return edit.info

    def can_undo(self) -> bool:
        return self.can_curate and self.session.can_undo()

    def can_redo(self) -> bool:
        return self.can_curate and self.session.can_redo()

    def apply_to_selection(self, name: str) -> UpdateInfo:
        """Run one of SELECTION_ACTIONS on the current selection (one gesture, one action).
        SelectionNeeded, CurationError or DantError: nothing has changed."""
        return self._edited(self._session().perform(name))

    def label_selected(self, label: str) -> UpdateInfo:
        """Label the selected cluster."""
        session = self._session()
        if session.selection.cluster is None:
            raise SelectionNeeded("Select one cluster to label it")
        return self._edited(session.label_cluster(session.selection.cluster, label))

    def mark_reviewed_and_next(self) -> tuple[UpdateInfo | None, int | None]:
        """Label the selected cluster reviewed and select the next one in the review queue."""
        session = self._session()
        before = session.selection
        edit, nxt = session.mark_reviewed_and_next()
        info = None if edit is None else edit.info
        if edit is not None:
            self.clusters_changed.emit(edit.info)
            self.curation_changed.emit()
        if not before.same_as(session.selection):
            self.selection_changed.emit(session.selection)
        return info, nxt

    def undo_decision(self, decision) -> UpdateInfo:
        """Take back one automatic decision (auto_decisions.AutoDecision): one action."""
        return self._edited(self._session().undo_decision(decision))

    def undo(self) -> UpdateInfo:
        """Take back the last gesture."""
        return self._edited(self._session().undo())

    def redo(self) -> UpdateInfo:
        """Bring back the last undone gesture."""
        return self._edited(self._session().redo())

    def export(self) -> None:
        """Write the curated IdxCluster.npy (and friends) on a worker; export_finished(summary)
        or export_failed(message) follows."""
        session = self._session()
        if self._export is not None:
            raise SelectionNeeded("An export is in progress")

        def done(summary: str) -> None:
            summary = session.exported_now(summary)
            self.run_log.emit(summary)
            self.curation_changed.emit()
            self.export_finished.emit(summary)

        def failed(error) -> None:
            self.export_failed.emit(error.message)

        def ended() -> None:
            self._export = None

        from .curation_guard import export_checked

        self._export = start_worker(
            export_checked, session, returned=done, errored=failed, finished=ended
        )

    def close_session(self) -> None:
        """Forget the session, releasing its folder's curation lock for other writers."""
        if self.session is not None:
            self.session.close()
        self.session = None

    def _open_session(self, result) -> None:
        """Show `result`, curated in the output folder (its curation.jsonl replayed here, on
        the calling thread: a run's fresh log is empty; opened folders use _start_session)."""
        self.close_session()
        if result is None:
            return
        session, notes = open_session(result, self.output_folder)
        self._use_session(session, notes)

    def _use_session(self, session: Session, notes) -> None:
        self.session = session
        self.session.set_navigation_order(self._navigation)
        for note in notes:
            self.run_log.emit(note)

    # ----- data ------------------------------------------------------------------------------

    @property
    def is_loading(self) -> bool:
        """A folder is being opened (read on a worker); load_finished follows."""
        return self._load is not None

    def open_folder(self, folder) -> None:
        """Open a data folder (or a result folder and its data) on the worker: load_started,
        load_progress..., then the state changes and load_finished(True); or load_failed
        (message) and load_finished(False) with the state unchanged. DantError (nothing
        started) while a run is in progress or another folder is being opened."""
        if self.is_running:
            raise DantError("a run is in progress; cancel it before opening another folder")
        if self.is_loading:
            raise DantError("a folder is being opened; wait until it is shown")
        self._stop_data_check()
        self._load = start_worker(
            _read_folder,
            folder,
            self.settings.copy(),
            self.settings_path,
            progress=lambda value: self.load_progress.emit(*value),
            returned=self._folder_read,
            errored=self._load_errored,
        )
        self._load_started(str(folder))

    def _load_started(self, what: str) -> None:
        self.load_started.emit(what)
        self.curation_changed.emit()  # no curating while the clusters are replaced

    def _load_ended(self, ok: bool) -> None:
        self._load = None
        self.curation_changed.emit()
        self.load_finished.emit(ok)
        if not (ok and self.is_checking_data):
            self.folder_ready.emit(ok)

    def _load_errored(self, error) -> None:
        self.load_failed.emit(error.message)
        self._load_ended(False)

    def _folder_read(self, found) -> None:
        """On the UI thread: use what read_folder found, then open its result's session."""
        self.close_session()  # before a new Curator may lock the same folder
        self._opened = found
        self.data_problem = ""
        self.dataset = found.dataset
        self.data_folder = found.folder
        self.settings = found.settings
        self.settings_path = found.settings_path
        self.output_folder = found.output_folder
        self.data_changed_warning = found.data_changed_warning
        self._remember_recent(found.opened)
        for n in found.notes:
            self.run_log.emit(n)
        self._refused_settings.clear()
        self.update_problems()
        self.settings_changed.emit()
        self.dataset_changed.emit()
        self.result_changed.emit()  # the old clusters go; the new ones follow
        if found.result is None:
            self._emit_selection()
            self._load_ended(True)
            return
        self.load_progress.emit("Replaying the curation log", 2, 3)
        self._load = start_worker(
            open_session,
            found.result,
            self.output_folder,
            drop_when_aborted=False,  # an opened session holds a lock: close it
            returned=self._session_opened,
            errored=self._load_errored,
        )

    def _session_opened(self, value) -> None:
        session, notes = value
        if self._load is None or self._load.aborted:  # the window is closing
            session.close()
            self._load = None
            return
        self._use_session(session, notes)
        self.result_changed.emit()
        self._emit_selection()
        # The check starts first, so that no one sees a runnable window meanwhile.
        checking = self._opened is not None and not self._opened.data_checked
        if checking:
            self._start_data_check(self._opened)
        self._load_ended(True)
        if checking:
            self.data_check_started.emit()

    # ----- the data folder of a result shown from a preview ----------------------------------

    @property
    def is_checking_data(self) -> bool:
        """The opened data folder is being read and checked behind the result shown."""
        return self._check is not None

    def _start_data_check(self, found) -> None:
        self._check = start_worker(
            _check_data,
            found,
            progress=lambda value: self.data_check_progress.emit(*value),
            returned=self._data_read,
            errored=self._data_check_failed,
        )

    def _stop_data_check(self) -> None:
        if self._check is not None:
            self._check.abort()  # what it returns is dropped
            self._check = None

    def _data_read(self, checked) -> None:
        """On the UI thread: the data folder passed its check. The preview stays the
        dataset (a run reads the folder whole: jobs.track_and_save), so the whole one is
        not held while the result is browsed (1.2 GB at 20,000 units)."""
        self._check = None
        if checked.data_changed_warning:
            self.data_changed_warning = checked.data_changed_warning
            self.run_log.emit(f"warning: {checked.data_changed_warning}")
        self.update_problems()
        self.data_checked.emit(True)
        self.folder_ready.emit(True)

    def _data_check_failed(self, error) -> None:
        self._check = None
        self.data_problem = error.message
        self.run_log.emit(f"error: the data folder cannot be used for a run: {error.message}")
        self.data_checked.emit(False)
        self.folder_ready.emit(True)  # shown, without runs

    def _resolve_output_folder(self) -> Path | None:
        from .loading import output_folder_for

        return output_folder_for(self.settings, self.data_folder)

    def set_settings(self, settings: Settings, path: Path | None = None) -> None:
        """Replace the settings (loaded from `path`, or reset); output folder follows them."""
        if path is None and self.data_folder is not None and settings.base_dir is None:
            settings.base_dir = self.data_folder
        self.settings = settings
        self.settings_path = None if path is None else Path(path)
        self._refused_settings.clear()
        if self.data_folder is not None:
            self.output_folder = self._resolve_output_folder()
        self.settings_changed.emit()
        self.update_problems()

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

    def set_setting(self, key: str, value) -> None:
        """One value from the settings form: the settings are replaced by a copy holding it
        (SettingsError: refused; remembered as a problem of `key` until a value is taken)."""
        settings = self.settings.copy()
        try:
            settings.set(key, value)
        except SettingsError as exc:
            self._refused_settings[key] = list(exc.problems) or [
                SettingProblem(key, str(exc).removeprefix(f"{key}: "))
            ]
            self.update_problems()
            raise
        self._refused_settings.pop(key, None)
        self.settings = settings
        if self.data_folder is not None:
            self.output_folder = self._resolve_output_folder()
        self.update_problems()

    def settings_problems(self) -> list[SettingProblem]:
        """What stops a run: refused form values, settings that conflict, settings the data
        cannot satisfy. Each problem names its keys (`SettingProblem.keys`)."""
        found = [p for refused in self._refused_settings.values() for p in refused]
        found += [p for p in self.settings.problem_list() if p not in found]
        if not self._refused_settings and self.dataset is not None:
            from dant_core.dataset import settings_data_problems

            found += settings_data_problems(self.dataset, self.settings)
        return found

    def update_problems(self) -> None:
        """Work out the settings problems again; problems_changed when they changed."""
        problems = self.settings_problems()
        if problems != self.form_problems:
            self.form_problems = problems
            self.problems_changed.emit()

    def set_result(self, result) -> None:
        """Use a new TrackingResult (or None); the selection is cleared. A result saved in
        the output folder is curated there (its curation.jsonl replayed)."""
        self._open_session(result)
        self.result_changed.emit()
        self.curation_changed.emit()
        self._emit_selection()

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

    def can_run(self) -> bool:
        return (
            self.dataset is not None
            and not self.is_running
            and not self.is_loading
            and not self.is_checking_data
            and not self.data_problem
            and not self.form_problems
        )

    def run_blocked_by(self) -> str:
        """Why Run is not possible with a dataset open ("" when it is, or nothing is open)."""
        if self.dataset is None or self.is_running or self.can_run():
            return ""
        if self.is_checking_data:
            return "The data folder is being read: Run once it is checked"
        if self.data_problem:
            return f"The data folder cannot be run: {self.data_problem}"
        return "Fix the settings marked in red first"

    def start_run(self) -> None:
        """Start tracking on a worker; DantError when it cannot start."""
        from .jobs import track_and_save

        if self.is_running:
            raise DantError("a run is already in progress")
        if self.is_loading:
            raise DantError("a folder is being opened; run when it is shown")
        if self.dataset is None:
            raise DantError("open a data folder first")
        if self.is_checking_data:
            raise DantError("the data folder is still being read; run when it is checked")
        if self.data_problem:
            raise DantError(f"the data folder cannot be used for a run: {self.data_problem}")
        problems = self.settings_problems()
        if problems:
            raise DantError("the settings have problems:\n" + "\n".join(map(str, problems)))
        self.output_folder = self._resolve_output_folder()
        self._job_outcome = None
        self.run_notes = []
        self._job = start_worker(
            track_and_save,
            self.dataset,
            self.settings.copy(),
            self.output_folder,
            drop_when_aborted=False,
            progress=self._on_job_progress,
            returned=self._on_job_returned,
            errored=self._on_job_errored,
            finished=self._on_job_finished,
        )
        self.busy_changed.emit(True)
        self.curation_changed.emit()  # no curating while the output folder is rewritten
        self.run_started.emit()
        self.run_log.emit(f"Run started; output folder {self.output_folder}")

    def cancel_run(self) -> None:
        if self._job is not None:
            self.run_log.emit("Cancelling ...")
            self._job.abort()

    def wait_for_job(self, msecs: int = 10_000) -> None:
        """Cancel the run and wait for the workers to end (used on close)."""
        if self._job is not None:
            self._job.abort()
            wait_for_all(msecs)

    def _on_job_progress(self, value) -> None:
        if value[0] == "log":
            self.run_log.emit(value[1])
            if value[1].startswith("note: "):  # shown again when the run has finished
                self.run_notes.append(value[1][len("note: ") :])
        else:
            self.run_progress.emit(*value[1:])

    def _on_job_returned(self, result) -> None:
        self._job_outcome = ("done", result)

    def _on_job_errored(self, error) -> None:
        self._job_outcome = ("failed", error)

    def _on_job_finished(self) -> None:
        """The run ended: done, failed, or cancelled (neither a result nor an error)."""
        outcome = self._job_outcome or ("cancelled", None)
        self._job, self._job_outcome = None, None
        self.busy_changed.emit(False)
        self.curation_changed.emit()
        kind, value = outcome
        if kind == "done":
            notes = "".join(f"; {n}" for n in self.run_notes)
            self.run_log.emit(f"Results saved to {self.output_folder}{notes}")
            self.set_result(value)
            self.run_finished.emit()
        elif kind == "failed":
            self.run_log.emit(f"Run failed: {value.message}")
            self.run_failed.emit(value.message, value.traceback)
        else:
            self.run_log.emit("Run cancelled; no result was written")
            self.run_cancelled.emit()


# The loading module imports the engine (scipy, the clustering; ~1.5 s on a loaded machine):
# imported on the worker that opens the folder, not on the window's thread, which would
# freeze until it is done when a folder is opened as the window starts (dant-gui DATA).


def _read_folder(folder, settings, settings_path, progress=None):
    """loading.read_folder, imported on the worker."""
    from .loading import read_folder

    return read_folder(folder, settings, settings_path, progress=progress)


def _check_data(found, abort=None, progress=None):
    """loading.check_data, imported on the worker."""
    from .loading import check_data

    return check_data(found, abort, progress)
