"""Opening a data folder as background work: what a worker reads, for the controller to use.

`read_folder` runs on `dant_gui.worker` (it reads waveforms and results, seconds at large
sizes) and returns an `OpenedFolder`; it changes nothing the window shows. The controller
then takes the values on the UI thread, closes the old session (releasing its curation
lock), and opens the new one on a worker too (`dant_core.session.open_session` replays the
curation log). Qt-free: no signal here, only files read.

A folder with a result is shown first and checked behind: `read_folder` reads the data
folder only as far as the result needs it (`dataset_preview.preview_dataset`: no spike
times, waveforms mapped), so 20,000 units show in seconds; `check_data` then reads and
checks it all (`load_dataset`: what a run needs, and the changed-data warning), on a
worker while the user browses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dant_core.dataset import Dataset, load_dataset
from dant_core.dataset_preview import preview_dataset
from dant_core.errors import DantError, DatasetError, SettingsError
from dant_core.folder_check import check_folder
from dant_core.result_folder import data_folder_of, is_result_folder
from dant_core.results import has_results
from dant_core.settings import Settings

RESULTS_SUBFOLDER = "DANT_Output"

# Steps reported through `progress` as (text, done, total).
STEPS = ("Reading the data folder", "Loading the results", "Replaying the curation log")


@dataclass
class OpenedFolder:
    """What `read_folder` found: the data, the settings to show, and the result, if any."""

    opened: Path  # the folder the user chose (a data folder or a result folder)
    folder: Path  # the data folder
    dataset: Dataset
    settings: Settings
    settings_path: Path | None  # the settings file the values came from (None: defaults)
    output_folder: Path | None  # where the results are (or a run will write them)
    result: object = None  # the TrackingResult found there, or None
    notes: list[str] = field(default_factory=list)  # log lines, in order
    data_changed_warning: str = ""  # the result was made from other data (shown once)
    # False: `dataset` is a preview (preview_dataset); check_data must read it all before
    # a run, and tells whether the data changed under the result.
    data_checked: bool = True


@dataclass
class CheckedData:
    """What `check_data` found: the folder passed every check of load_dataset (the whole
    dataset is not kept: runs read it again), and the changed-data warning if any."""

    folder: Path
    data_changed_warning: str = ""


def output_folder_for(settings: Settings, data_folder: Path | None) -> Path | None:
    """Where results of `data_folder` live with these settings (output_folder, else
    DATA/DANT_Output)."""
    if data_folder is None:
        return None
    try:
        out = settings.resolve_path("output_folder")
    except DantError:
        out = None
    return out if out is not None else data_folder / RESULTS_SUBFOLDER


def read_folder(folder, settings: Settings, settings_path, progress=None) -> OpenedFolder:
    """Read a data folder (or a result folder and its data) and any result in it.

    `settings` / `settings_path`: what the window uses now (kept when the folder has no
    settings.json of its own). DantError on bad input (an OSError becomes a DatasetError
    naming the folder). `progress(text, done, total)`.
    """
    try:
        return _read_folder(folder, settings, settings_path, progress)
    except OSError as exc:
        raise DatasetError(f"{folder}: {exc}") from exc


def _read_folder(folder, settings: Settings, settings_path, progress) -> OpenedFolder:
    report = progress or (lambda *_: None)
    report(STEPS[0], 0, 3)
    folder = Path(folder).expanduser().absolute()
    if not folder.exists():
        raise DatasetError(f"{folder}: folder does not exist")
    if not folder.is_dir():
        raise DatasetError(f"{folder.name}: is a file, expected a data folder")
    opened, results_in = folder, None
    if not (folder / "waveform_all.npy").exists() and is_result_folder(folder):
        # A result folder of any name (ours or pyDANT's): open its data with it.
        results_in, folder = folder, data_folder_of(folder)
    settings, settings_path, notes = _folder_settings(folder, settings, settings_path)
    output_folder = output_folder_for(settings, folder)
    # With a result to show, the data folder is read only as far as the result needs it.
    quick = any(has_results(c) for c in _result_candidates(results_in, output_folder, folder))
    dataset = preview_dataset(folder) if quick else load_dataset(folder)
    s = dataset.summary()
    notes.append(
        f"Loaded {folder}: {s['units']} units, {s['sessions']} sessions, "
        f"{s['channels']} channels, {s['shanks']} shank(s)"
    )
    opened_folder = OpenedFolder(
        opened, folder, dataset, settings, settings_path, output_folder, notes=notes
    )
    opened_folder.data_checked = not quick
    report(STEPS[1], 1, 3)
    _find_result(opened_folder, results_in)
    if opened_folder.result is None and not opened_folder.data_checked:
        # No result could be read after all: the data folder is all there is to show.
        opened_folder.dataset = load_dataset(folder)
        opened_folder.data_checked = True
    return opened_folder


def _folder_settings(folder: Path, settings: Settings, settings_path):
    """(settings, settings_path, notes): the data folder's settings.json when it has one,
    else a copy of the window's (relative paths then live in the data folder)."""
    settings = settings.copy()
    notes: list[str] = []
    local = folder / "settings.json"
    if local.is_file():
        try:
            settings = Settings.load(local)
        except SettingsError as exc:
            # Never open (and so never run) with settings the user did not ask for: the
            # CLI refuses this file too. Nothing changed; the dialog says what to do.
            raise SettingsError(
                f"{exc}\nFix the settings.json in the data folder, or move it away to "
                "open the folder with the default settings."
            ) from exc
        notes.append(f"Using the settings in {local}")
        notes.extend(f"warning: {w}" for w in settings.warnings)
        return settings, local, notes
    settings.base_dir = folder
    return settings, None, notes


def _result_candidates(opened: Path | None, output_folder: Path | None, folder: Path) -> list:
    """Where a result of the data folder may be, in the order they are tried."""
    candidates = []
    for c in (opened, output_folder, folder / RESULTS_SUBFOLDER):
        if c is not None and c not in candidates:
            candidates.append(c)
    return candidates


def check_data(found: OpenedFolder, abort=None, progress=None) -> CheckedData:
    """Read and check the whole data folder of a folder opened with a preview (on a worker,
    after the result is shown; the reading in a child process: folder_check.py): every
    check of load_dataset (what a run will read), and whether the data changed since the
    result was made. DantError when the folder has a problem; `Cancelled` when `abort` is
    set meanwhile; `progress(step, done, total)` as load_dataset reports it."""
    fingerprint = check_folder(found.folder, abort, progress)
    checked = CheckedData(found.folder)
    if found.result is not None and found.output_folder is not None:
        checked.data_changed_warning = _changed_data_warning(
            found.result, fingerprint, found.output_folder, found.folder
        )
    return checked


def _find_result(found: OpenedFolder, opened: Path | None) -> None:
    """Our (or pyDANT's) output for the data when present (first the result folder the user
    `opened`); failures are only noted (a stale output must not block loading data)."""
    from dant_core.results import load_result

    for out in _result_candidates(opened, found.output_folder, found.folder):
        if not has_results(out):
            continue
        try:
            result = load_result(out, found.dataset)
        except Exception as exc:  # noqa: BLE001 - any failure is only a warning here
            found.notes.append(f"warning: could not load the results in {out}: {exc}")
            continue
        found.output_folder, found.result = out, result
        found.notes.append(f"Loaded existing results from {out}: {result.summary_text()}")
        _note_changed_data(found, out)
        _use_settings_of(found, out)
        return


def _note_changed_data(found: OpenedFolder, out: Path) -> None:
    """Say (for the window's dialog, and in the log) when the data folder changed since the
    result was made: its clusters were made from other data (data_fingerprint.py). Only
    with the whole dataset read (a preview's is checked by check_data)."""
    if not found.data_checked:
        return
    found.data_changed_warning = _changed_data_warning(
        found.result, found.dataset.fingerprint, out, found.folder
    )
    if found.data_changed_warning:
        found.notes.append(f"warning: {found.data_changed_warning}")


def _changed_data_warning(result, fingerprint: dict, out: Path, folder: Path) -> str:
    from dant_core.data_fingerprint import stale_files, stale_text

    changed = stale_files(result, fingerprint)
    if not changed:
        return ""
    return (
        f"{stale_text(out, folder, changed)}. The clusters shown were made from "
        "the data as it was: Run the tracking again before curating or exporting them."
    )


def _use_settings_of(found: OpenedFolder, out: Path) -> None:
    """Show the settings that made the results in `out` (its settings.json), not the
    defaults or the data folder's, so the form tells how these results were made;
    settings_path stays (saving never writes into the results)."""
    made_file = out / "settings.json"
    if not made_file.is_file():
        return
    try:
        made = Settings.load(made_file)
    except SettingsError as exc:
        found.notes.append(f"warning: the settings of these results cannot be read: {exc}")
        return
    if made == found.settings:
        return
    made.base_dir = found.settings.base_dir
    found.settings = made
    found.notes.append(f"Showing the settings that made these results ({made_file})")
