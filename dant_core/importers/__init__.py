"""Import sorter output (Kilosort/phy, SpikeInterface analyzers, UnitMatch waveforms, MATLAB
DANT's spikeInfo.mat) into a DANT data folder.

`plan_sessions` reads each session folder without its waveforms (what the preview shows);
`import_sessions` extracts the waveforms, builds one channel set for all sessions and writes
the data folder with units.tsv, import.json and settings.json.
"""

from __future__ import annotations

from pathlib import Path

from ..progress import CancelToken, ProgressFn, no_progress
from .analyzer import is_analyzer_folder, plan_analyzer
from .channels import channel_union
from .common import ImportDataError, ImportOptions, SessionPlan
from .kilosort import is_kilosort_folder, plan_kilosort
from .matlab import is_matlab_folder, plan_matlab
from .writer import check_output, write_data_folder

__all__ = [
    "ImportDataError",
    "ImportOptions",
    "SessionPlan",
    "import_sessions",
    "plan_session",
    "plan_sessions",
]


def plan_session(folder, index: int, options: ImportOptions) -> SessionPlan:
    """The plan of one session folder, detected by its content."""
    folder = Path(folder)
    if not folder.exists():
        raise ImportDataError(f"{folder}: does not exist")
    if not folder.is_dir():
        raise ImportDataError(f"{folder}: is not a folder")
    if is_kilosort_folder(folder):
        return plan_kilosort(folder.absolute(), index, options)
    if is_analyzer_folder(folder):
        return plan_analyzer(folder.absolute(), index, options)
    if is_matlab_folder(folder):
        return plan_matlab(folder.absolute(), index, options)
    raise ImportDataError(
        f"{folder}: not a session folder this import reads (a Kilosort/phy folder with "
        "spike_times.npy and spike_clusters.npy, a SpikeInterface analyzer folder, or a "
        "folder with spikeInfo.mat)"
    )


def plan_sessions(folders, options: ImportOptions | None = None) -> list[SessionPlan]:
    options = options or ImportOptions()
    if not folders:
        raise ImportDataError("no session folder given")
    if len(options.raw_paths) > len(folders):
        raise ImportDataError(
            f"{len(options.raw_paths)} raw files given for {len(folders)} session(s)"
        )
    return [plan_session(f, i, options) for i, f in enumerate(folders)]


def _options_record(options: ImportOptions) -> dict:
    return {
        "labels": list(options.labels),
        "max_spikes_per_unit": options.max_spikes,
        "seed": options.seed,
        "uv_per_bit": options.uv_per_bit,
        "sample_rate": options.sample_rate,
        "raw_paths": [str(p) if p else None for p in options.raw_paths],
    }


def import_sessions(
    out,
    folders,
    options: ImportOptions | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    plans: list[SessionPlan] | None = None,
) -> dict:
    """Import `folders` (chronological order) into the new data folder `out`; returns the
    import record written to import.json."""
    progress = progress or no_progress
    options = options or ImportOptions()
    out = Path(out)
    check_output(out)
    plans = plans if plans is not None else plan_sessions(folders, options)
    sessions = []
    for i, plan in enumerate(plans):
        progress("Sessions", i, len(plans))
        if cancel is not None:
            cancel.check()
        sessions.extend(plan.load_all(progress, cancel))
    progress("Sessions", len(plans), len(plans))
    union = channel_union(sessions)
    warnings = [w for s in sessions for w in s.warnings]
    for i, n in enumerate(union.filled):
        if n:
            warnings.append(
                f"session {i + 1} ({sessions[i].folder}): {n} of {union.positions.shape[0]} "
                "channels missing, filled by Kriging from its neighbours"
            )
    if cancel is not None:
        cancel.check()
    progress("Writing", 0, 1)
    record = write_data_folder(out, sessions, union, _options_record(options), warnings)
    progress("Writing", 1, 1)
    return record
