"""Load and validate a DANT data folder (docs/method.md §1) into a frozen, typed `Dataset`.

Every malformed input raises `DatasetError` whose message starts with the file name,
relative to the data folder (`waveform_all.npy: ...`), and says what was expected.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .data_fingerprint import data_fingerprint
from .errors import DatasetError, SettingProblem
from .memory import memory_problems
from .npy_files import read_header
from .plausibility import check_dataset as check_plausibility
from .progress import ProgressFn, no_progress
from .settings import Settings

WAVEFORMS = "waveform_all.npy"
SESSIONS = "session_index.npy"
CHANNEL_LOCATIONS = "channel_locations.npy"
CHANNEL_SHANKS = "channel_shanks.npy"
PETH = "peth.npy"
SPIKE_TIMES = "spike_times"

_UNIT_FILE = re.compile(r"Unit(0|[1-9][0-9]*)\.npy")
# Names people give spike-time files by mistake: unit0.npy, Unit000.npy, Unit_3.npy, UNIT3.NPY
_LOOKALIKE_FILE = re.compile(r"(?i)unit[ _-]?[0-9]+\.npy")
_LIST_AT_MOST = 5  # names listed in a message before "... (N in all)"


@dataclass(frozen=True, eq=False)
class Dataset:
    """The inputs of one tracking run; arrays are read-only.

    waveforms (n_unit, n_channel, n_sample) float32 µV; sessions (n_unit,) int64 in 1..S;
    channel_locations (n_channel, 2) float64 µm (x, y = depth); channel_shanks (n_channel,)
    int64; spike_times per unit float64 ms as stored; peth (n_unit, n_point) float64 with
    NaN for missing bins, or None; warnings: plausibility warnings (docs/errors.md).
    """

    folder: Path
    waveforms: np.ndarray
    sessions: np.ndarray
    channel_locations: np.ndarray
    channel_shanks: np.ndarray
    has_shank_file: bool
    spike_times: tuple[np.ndarray, ...]
    peth: np.ndarray | None
    # Likely mistakes found by dant_core.plausibility when the folder was read (refusals
    # stop the load); check_dataset_for_settings passes them on to the run's log.
    warnings: tuple[str, ...] = ()
    # data_fingerprint.data_fingerprint of the folder as read (None when not read from files)
    fingerprint: dict[str, str] | None = None

    @property
    def n_units(self) -> int:
        return int(self.waveforms.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.waveforms.shape[1])

    @property
    def n_samples(self) -> int:
        return int(self.waveforms.shape[2])

    @property
    def n_sessions(self) -> int:
        return int(self.sessions.max())

    @property
    def units_per_session(self) -> np.ndarray:
        """(S,) int64: number of units in sessions 1..S."""
        return np.bincount(self.sessions, minlength=self.n_sessions + 1)[1:]

    @property
    def shank_ids(self) -> np.ndarray:
        """Sorted distinct shank ids, int64."""
        return np.unique(self.channel_shanks)

    @property
    def n_shanks(self) -> int:
        return int(self.shank_ids.size)

    @property
    def channels_per_shank(self) -> dict[int, int]:
        ids, counts = np.unique(self.channel_shanks, return_counts=True)
        return {int(i): int(c) for i, c in zip(ids, counts, strict=True)}

    @property
    def spike_counts(self) -> np.ndarray:
        """(n_unit,) int64: number of spikes of each unit."""
        return np.array([t.size for t in self.spike_times], dtype=np.int64)

    def features_supported(self) -> list[str]:
        return ["Waveform", "AutoCorr", "ISI"] + (["PETH"] if self.peth is not None else [])

    def summary(self) -> dict:
        """Plain-Python description for the GUI and the log."""
        return {
            "folder": str(self.folder),
            "units": self.n_units,
            "sessions": self.n_sessions,
            "units_per_session": [int(n) for n in self.units_per_session],
            "channels": self.n_channels,
            "samples": self.n_samples,
            "shanks": self.n_shanks,
            "has_shank_file": self.has_shank_file,
            "channels_per_shank": self.channels_per_shank,
            "peth_points": None if self.peth is None else int(self.peth.shape[1]),
            "features": self.features_supported(),
        }


# ---------------------------------------------------------------------------------------
# Reading and checking single files


def _shape(shape: tuple) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_LIST_AT_MOST])
    if len(names) > _LIST_AT_MOST:
        shown += f", ... ({len(names)} in all)"
    return shown


def _size_text(n_bytes: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def _check_npy_size(path: Path, name: str, what: str) -> None:
    """Compare the size the .npy header announces with the bytes the file holds, before
    np.load allocates the announced array (a damaged header can claim terabytes)."""
    try:
        with open(path, "rb") as f:
            header = read_header(f)
            if header is None:
                return
            shape, _, dtype = header
            offset = f.tell()
            size = os.fstat(f.fileno()).st_size
    except (OSError, ValueError):
        return  # np.load reports these with its own message
    if dtype.hasobject:
        return
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if needed > size - offset:
        raise DatasetError(
            f"{name}: its header announces shape {_shape(shape)} of {dtype} "
            f"({_size_text(needed)}) but the file holds only {_size_text(size - offset)} of "
            f"data; the file is truncated or damaged (expected {what})"
        )


def _read_npy(path: Path, name: str, what: str) -> np.ndarray:
    """np.load without pickles; DatasetError naming `name` when absent or unreadable."""
    try:
        _check_npy_size(path, name, what)
        array = np.load(path, allow_pickle=False)
    except MemoryError:
        size = path.stat().st_size
        raise DatasetError(
            f"{name}: too large to load into this machine's memory ({_size_text(size)})"
        ) from None
    except FileNotFoundError:
        raise DatasetError(f"{name}: file is missing (expected {what})") from None
    except IsADirectoryError:
        raise DatasetError(f"{name}: is a folder, expected a .npy file with {what}") from None
    except ValueError as exc:
        if not _starts_with(path, b"\x93NUMPY"):
            # np.load falls back to unpickling anything that is not .npy or .npz.
            raise DatasetError(
                f"{name}: not a .npy file (it lacks the .npy header); expected {what}"
            ) from None
        if "allow_pickle" in str(exc):
            raise DatasetError(
                f"{name}: holds pickled Python objects, not a numeric array; "
                f"save {what} as a plain numeric array"
            ) from None
        raise DatasetError(f"{name}: not a readable .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{name}: not a readable .npy file ({exc})") from None
    if not isinstance(array, np.ndarray):
        if hasattr(array, "close"):
            array.close()
        raise DatasetError(f"{name}: is a .npz archive, expected a .npy file with {what}")
    return array


# The header numpy writes for a plain 1-D array (format 1.0), e.g.
# {'descr': '<f8', 'fortran_order': False, 'shape': (1234,), }
_VECTOR_HEADER = re.compile(
    rb"\{'descr': '([<|](?:f[248]|[iu][1248]))', "
    rb"'fortran_order': False, 'shape': \((\d+),\), \} *\n"
)


def _read_plain_vector(path: Path) -> np.ndarray | None:
    """A 1-D numeric little-endian .npy read in one go (~5x faster than np.load for the
    thousands of small spike-time files); None for anything else, which then goes through
    _read_npy and its checks and messages."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if data[:8] != b"\x93NUMPY\x01\x00":
        return None
    end = 10 + int.from_bytes(data[8:10], "little")
    match = _VECTOR_HEADER.fullmatch(data[10:end])
    if match is None:
        return None
    dtype = np.dtype(match.group(1).decode())
    count = int(match.group(2))
    if len(data) - end != count * dtype.itemsize:
        return None
    return np.frombuffer(data, dtype=dtype, count=count, offset=end)


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def _numeric(array: np.ndarray, name: str, what: str) -> None:
    if array.dtype.kind not in "iuf":
        raise DatasetError(f"{name}: must hold numbers ({what}), got dtype {array.dtype}")


def _vector(array: np.ndarray, name: str, expected: str) -> np.ndarray:
    """1-D view of a vector; a (n, 1) or (1, n) column/row (as MATLAB saves) is accepted."""
    if array.ndim == 2 and 1 in array.shape:
        return array.reshape(-1)
    if array.ndim != 1:
        raise DatasetError(f"{name}: expected shape {expected}, got {_shape(array.shape)}")
    return array


def _integral(array: np.ndarray, name: str, what: str) -> np.ndarray:
    """int64 copy of a numeric array whose values must be whole numbers."""
    _numeric(array, name, what)
    if array.dtype.kind == "f":
        bad = ~(np.isfinite(array) & (array == np.round(array)))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            value = array[first].item()
            raise DatasetError(
                f"{name}: must hold whole numbers ({what}), got {value!r} at index {first}"
            )
    return array.astype(np.int64)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _load_waveforms(folder: Path) -> np.ndarray:
    what = "mean waveforms (n_unit, n_channel, n_sample)"
    waveforms = _read_npy(folder / WAVEFORMS, WAVEFORMS, what)
    _numeric(waveforms, WAVEFORMS, what)
    if waveforms.ndim != 3:
        raise DatasetError(
            f"{WAVEFORMS}: expected 3 dimensions (n_unit, n_channel, n_sample), "
            f"got shape {_shape(waveforms.shape)}"
        )
    n_unit, n_channel, n_sample = waveforms.shape
    if n_unit == 0:
        raise DatasetError(f"{WAVEFORMS}: holds no units (shape {_shape(waveforms.shape)})")
    if n_channel == 0 or n_sample == 0:
        raise DatasetError(
            f"{WAVEFORMS}: waveforms are empty (shape {_shape(waveforms.shape)}); "
            "need at least one channel and one sample"
        )
    waveforms = np.ascontiguousarray(waveforms, dtype=np.float32)
    # Chunked so the check does not double the memory of a large file.
    bad_units: list[np.ndarray] = []
    chunk = 1024
    for start in range(0, n_unit, chunk):
        finite = np.isfinite(waveforms[start : start + chunk]).all(axis=(1, 2))
        if not finite.all():
            bad_units.append(start + np.flatnonzero(~finite))
    if bad_units:
        bad = np.concatenate(bad_units)
        raise DatasetError(
            f"{WAVEFORMS}: {bad.size} unit(s) have NaN or infinite values "
            f"(first: unit {int(bad[0])}); waveforms must be finite"
        )
    return waveforms


def _load_sessions(folder: Path, n_unit: int) -> np.ndarray:
    what = "the session 1..S of each unit"
    raw = _read_npy(folder / SESSIONS, SESSIONS, what)
    raw = _vector(raw, SESSIONS, f"(n_unit,) = ({n_unit},)")
    sessions = _integral(raw, SESSIONS, what)
    if sessions.size != n_unit:
        raise DatasetError(
            f"{SESSIONS}: has {sessions.size} entries but {WAVEFORMS} has {n_unit} units; "
            "need one session per unit"
        )
    low = int(sessions.min())
    if low < 1:
        first = int(np.flatnonzero(sessions == low)[0])
        raise DatasetError(
            f"{SESSIONS}: sessions must be numbered from 1, got {low} (unit {first})"
        )
    n_sessions = int(sessions.max())
    present = np.zeros(n_sessions + 1, dtype=bool)
    present[sessions] = True
    missing = np.flatnonzero(~present[1:]) + 1
    if missing.size:
        raise DatasetError(
            f"{SESSIONS}: sessions must be 1..S without gaps; no unit in session(s) "
            f"{_names([str(s) for s in missing])} (S = {n_sessions})"
        )
    return sessions


def _load_channel_locations(folder: Path, n_channel: int) -> np.ndarray:
    what = "x, y of each channel in µm, shape (n_channel, 2)"
    locations = _read_npy(folder / CHANNEL_LOCATIONS, CHANNEL_LOCATIONS, what)
    _numeric(locations, CHANNEL_LOCATIONS, what)
    if locations.shape == (2, n_channel) and n_channel != 2:
        raise DatasetError(
            f"{CHANNEL_LOCATIONS}: expected shape (n_channel, 2) = ({n_channel}, 2), got "
            f"{_shape(locations.shape)}: the array looks transposed; save its transpose (.T)"
        )
    if locations.ndim != 2 or locations.shape[1] != 2:
        raise DatasetError(
            f"{CHANNEL_LOCATIONS}: expected shape (n_channel, 2) = ({n_channel}, 2), "
            f"got {_shape(locations.shape)}"
        )
    if locations.shape[0] != n_channel:
        raise DatasetError(
            f"{CHANNEL_LOCATIONS}: has {locations.shape[0]} channels but {WAVEFORMS} has "
            f"{n_channel}; need one row per waveform channel"
        )
    locations = np.ascontiguousarray(locations, dtype=np.float64)
    bad = ~np.isfinite(locations).all(axis=1)
    if bad.any():
        raise DatasetError(
            f"{CHANNEL_LOCATIONS}: {int(bad.sum())} channel(s) have NaN or infinite "
            f"coordinates (first: channel {int(np.flatnonzero(bad)[0])})"
        )
    return locations


def _load_channel_shanks(folder: Path, n_channel: int) -> tuple[np.ndarray, bool]:
    path = folder / CHANNEL_SHANKS
    if not path.exists():
        return np.ones(n_channel, dtype=np.int64), False
    what = "the shank id of each channel"
    raw = _read_npy(path, CHANNEL_SHANKS, what)
    raw = _vector(raw, CHANNEL_SHANKS, f"(n_channel,) = ({n_channel},)")
    shanks = _integral(raw, CHANNEL_SHANKS, what)
    if shanks.size != n_channel:
        raise DatasetError(
            f"{CHANNEL_SHANKS}: has {shanks.size} entries but {WAVEFORMS} has {n_channel} "
            "channels; need one shank id per channel"
        )
    return shanks, True


def _load_peth(folder: Path, n_unit: int) -> np.ndarray | None:
    path = folder / PETH
    if not path.exists():
        return None
    what = "the PETH of each unit, shape (n_unit, n_point)"
    peth = _read_npy(path, PETH, what)
    _numeric(peth, PETH, what)
    if peth.ndim != 2:
        raise DatasetError(
            f"{PETH}: expected 2 dimensions (n_unit, n_point) = ({n_unit}, n_point), "
            f"got shape {_shape(peth.shape)}"
        )
    if peth.shape[0] != n_unit and peth.shape[1] == n_unit:
        raise DatasetError(
            f"{PETH}: shape {_shape(peth.shape)} looks transposed: its columns match the "
            f"{n_unit} units of {WAVEFORMS}; expected (n_unit, n_point) = ({n_unit}, "
            f"{peth.shape[0]}): save its transpose (.T)"
        )
    if peth.shape[0] != n_unit:
        raise DatasetError(
            f"{PETH}: has {peth.shape[0]} rows but {WAVEFORMS} has {n_unit} units; "
            "need one row per unit"
        )
    if peth.shape[1] == 0:
        raise DatasetError(f"{PETH}: has no time points (shape {_shape(peth.shape)})")
    peth = np.ascontiguousarray(peth, dtype=np.float64)
    infinite = np.isinf(peth).any(axis=1)
    if infinite.any():
        raise DatasetError(
            f"{PETH}: {int(infinite.sum())} unit(s) have infinite values (first: unit "
            f"{int(np.flatnonzero(infinite)[0])}); use NaN to mark a missing bin"
        )
    return peth


def _spike_file_hint(others: list[str], present: set[int], missing: list[int], n_unit) -> str:
    """What the spike_times folder holds instead of the expected names ("" if nothing)."""
    lookalike = [n for n in others if _LOOKALIKE_FILE.fullmatch(n)]
    if lookalike:
        return (
            f"; found {len(lookalike)} file(s) named like '{sorted(lookalike)[0]}' instead: "
            "name them exactly Unit0.npy, Unit1.npy, ... (capital U, no leading zeros)"
        )
    if missing == [0] and n_unit in present:
        return (
            f"; the files are numbered Unit1 ... Unit{n_unit}: number them from Unit0 "
            f"(file k holds unit k, row k of {WAVEFORMS})"
        )
    npy = sorted(n for n in others if n.lower().endswith(".npy"))
    if npy:
        return f"; found instead: {_names(npy)}"
    return ""


def _load_spike_times(
    folder: Path, n_unit: int, progress: ProgressFn
) -> tuple[tuple[np.ndarray, ...], int]:
    """Spike times per unit (float64 ms, read-only) and how many files held integers."""
    spike_dir = folder / SPIKE_TIMES
    if not spike_dir.is_dir():
        raise DatasetError(
            f"{SPIKE_TIMES}/: folder is missing (expected Unit0.npy ... Unit{n_unit - 1}.npy, "
            "spike times in ms)"
        )
    present: set[int] = set()
    others: list[str] = []
    with os.scandir(spike_dir) as entries:
        for entry in entries:
            match = _UNIT_FILE.fullmatch(entry.name)
            if match:
                present.add(int(match.group(1)))
            else:
                others.append(entry.name)
    missing = [k for k in range(n_unit) if k not in present]
    if missing:
        raise DatasetError(
            f"{SPIKE_TIMES}/: {len(missing)} spike-time file(s) missing: "
            f"{_names([f'Unit{k}.npy' for k in missing])} (need one per unit, Unit0 ... "
            f"Unit{n_unit - 1})" + _spike_file_hint(others, present, missing, n_unit)
        )
    extra = sorted(k for k in present if k >= n_unit)
    if extra:
        raise DatasetError(
            f"{SPIKE_TIMES}/: {len(extra)} file(s) for units that do not exist: "
            f"{_names([f'Unit{k}.npy' for k in extra])} ({WAVEFORMS} has {n_unit} units, "
            f"Unit0 ... Unit{n_unit - 1})"
        )
    what = "spike times of one unit in ms, shape (n_spike,)"
    times: list[np.ndarray] = []
    integer_files = 0
    report_every = max(1, n_unit // 100)
    for k in range(n_unit):
        name = f"{SPIKE_TIMES}/Unit{k}.npy"
        path = spike_dir / f"Unit{k}.npy"
        raw = _read_plain_vector(path)
        if raw is None:
            raw = _read_npy(path, name, what)
        _numeric(raw, name, what)
        integer_files += raw.dtype.kind in "iu"
        unit_times = _vector(raw, name, "(n_spike,)")
        unit_times = np.asarray(unit_times, dtype=np.float64)
        bad = ~np.isfinite(unit_times)
        if bad.any():
            raise DatasetError(
                f"{name}: {int(bad.sum())} spike time(s) are NaN or infinite "
                f"(first at index {int(np.flatnonzero(bad)[0])})"
            )
        times.append(_readonly(unit_times))
        if k % report_every == 0:
            progress("Loading spike times", k, n_unit)
    progress("Loading spike times", n_unit, n_unit)
    return tuple(times), integer_files


def load_dataset(folder, progress: ProgressFn | None = None) -> Dataset:
    """Read and check every file of a data folder; DatasetError names the file and the problem."""
    progress = progress or no_progress
    folder = Path(folder)
    if not folder.exists():
        raise DatasetError(f"data folder {folder} does not exist")
    if not folder.is_dir():
        raise DatasetError(f"data folder {folder} is not a folder")
    progress("Loading waveforms", 0, 1)
    waveforms = _load_waveforms(folder)
    _check_waveform_axes(folder, waveforms.shape)
    n_unit, n_channel, _ = waveforms.shape
    sessions = _load_sessions(folder, n_unit)
    locations = _load_channel_locations(folder, n_channel)
    shanks, has_shank_file = _load_channel_shanks(folder, n_channel)
    peth = _load_peth(folder, n_unit)
    progress("Loading waveforms", 1, 1)
    spike_times, integer_files = _load_spike_times(folder, n_unit, progress)
    dataset = Dataset(
        folder=folder.absolute(),
        waveforms=_readonly(waveforms),
        sessions=_readonly(sessions),
        channel_locations=_readonly(locations),
        channel_shanks=_readonly(shanks),
        has_shank_file=has_shank_file,
        spike_times=spike_times,
        peth=None if peth is None else _readonly(peth),
    )
    progress("Checking the values", 0, 1)
    found = check_plausibility(dataset, integer_files)
    found.raise_refusals()
    progress("Fingerprinting the files", 0, 1)  # hashing them: a run records what it read
    fingerprint = data_fingerprint(folder)
    return replace(dataset, warnings=tuple(found.warnings), fingerprint=fingerprint)


def _length_quietly(path: Path, axis: int) -> int | None:
    """The length of one axis of a .npy file, or None when it cannot be read (the regular
    checks then report the file)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception:  # noqa: BLE001 - any unreadable file is reported by its own check
        return None
    if not isinstance(array, np.ndarray) or array.ndim <= axis:
        return None
    if axis == 0 and array.ndim == 2 and 1 in array.shape:  # a MATLAB column or row vector
        return int(array.size)
    return int(array.shape[axis])


def _check_waveform_axes(folder: Path, shape: tuple) -> None:
    """Refuse waveforms saved with their axes in another order, e.g. (n_unit, n_sample,
    n_channel): the unit count of session_index.npy and the channel count of
    channel_locations.npy say which axis is which."""
    n_unit = _length_quietly(folder / SESSIONS, 0)
    n_channel = _length_quietly(folder / CHANNEL_LOCATIONS, 0)
    if n_unit is None or n_channel is None or shape[:2] == (n_unit, n_channel):
        return
    for axes in ((0, 2, 1), (2, 1, 0), (1, 2, 0), (2, 0, 1), (1, 0, 2)):
        if shape[axes[0]] == n_unit and shape[axes[1]] == n_channel:
            raise DatasetError(
                f"{WAVEFORMS}: shape {_shape(shape)} has its axes in another order: "
                f"{SESSIONS} has {n_unit} units and {CHANNEL_LOCATIONS} {n_channel} "
                f"channels, so the expected shape is (n_unit, n_channel, n_sample) = "
                f"({n_unit}, {n_channel}, {shape[axes[2]]}); save "
                f"np.transpose(waveforms, {axes})"
            )


# ---------------------------------------------------------------------------------------
# Checks that need both the data and the settings


def settings_data_problems(dataset: Dataset, settings: Settings) -> list[SettingProblem]:
    """Why these settings cannot run on this data, one problem per cause, each naming the
    keys it is about (the settings form marks them); empty when they can."""
    problems: list[SettingProblem] = []
    counts = dataset.channels_per_shank
    for key in ("waveformCorrection.n_nearest_channels", "spikeLocation.n_nearest_channels"):
        needed = settings.get(key)
        short = {sid: n for sid, n in counts.items() if n < needed}
        for sid, n in short.items():
            where = f"shank {sid}" if dataset.has_shank_file else "the probe"
            message = (
                f"{where} has {n} channels, fewer than {key} = {needed}; "
                f"set {key} to at most {min(counts.values())}"
            )
            problems.append(SettingProblem(key, message, message=message))
    used = settings.features_used()
    if "PETH" in used and dataset.peth is None:
        where = settings.where_used("PETH")
        message = (
            f'{PETH}: file is missing but "PETH" is used in {", ".join(where)}; add {PETH} '
            'to the data folder or remove "PETH" from those settings'
        )
        problems.append(SettingProblem(where[0], message, tuple(where[1:]), message))
    # Before the run: extreme histogram settings would fail with a bare MemoryError.
    problems.extend(memory_problems(dataset.n_units, settings.typed(), used))
    motion_path = settings.resolve_path("waveformCorrection.path_to_motion")
    if motion_path is not None:
        try:
            load_manual_motion(motion_path, dataset.n_sessions)
        except DatasetError as exc:
            key = "waveformCorrection.path_to_motion"
            problems.append(SettingProblem(key, str(exc), message=f"{exc} ({key})"))
    return problems


def check_dataset_for_settings(dataset: Dataset, settings: Settings) -> list[str]:
    """Raise DatasetError when these settings cannot run on this data; return warnings."""
    problems = [str(p) for p in settings_data_problems(dataset, settings)]
    if problems:
        if len(problems) == 1:
            raise DatasetError(problems[0])
        raise DatasetError(
            "the data cannot be run with these settings:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )

    used = settings.features_used()
    warnings: list[str] = list(dataset.warnings)
    timing = [f for f in ("AutoCorr", "ISI") if f in used]
    if timing:
        few = np.flatnonzero(dataset.spike_counts < 2)
        for k in few[:_LIST_AT_MOST]:
            n = int(dataset.spike_times[k].size)
            warnings.append(
                f"unit {int(k)} has {n} spike{'' if n == 1 else 's'}; "
                f"its {'/'.join(timing)} features are set to zero"
            )
        if few.size > _LIST_AT_MOST:
            warnings.append(
                f"... {few.size - _LIST_AT_MOST} more units have fewer than 2 spikes "
                f"({few.size} in all)"
            )
    if "PETH" in used:
        empty = np.flatnonzero(np.isnan(dataset.peth).all(axis=1))
        if empty.size:
            warnings.append(
                f"{PETH}: {empty.size} unit(s) have no valid PETH bin (all NaN; first: "
                f"unit {int(empty[0])}); their PETH similarity counts as 0 (no evidence "
                "either way), so only their other features can match them"
            )
    return warnings


def load_manual_motion(path, n_sessions: int) -> tuple[np.ndarray, np.ndarray]:
    """Read a known motion: (linear k (S,), constant b (S,)) float64.

    The file holds S values (rigid: k = 0) or a 2xS / Sx2 array [k; b] (2x2 is read as
    rows [k; b]).
    """
    path = Path(path)
    name = str(path)
    expected = (
        f"{n_sessions} values (rigid) or shape (2, {n_sessions}) / ({n_sessions}, 2) "
        "for [linear k; constant b]"
    )
    motion = _read_npy(path, name, f"the motion of each session: {expected}")
    _numeric(motion, name, "motion in µm")
    shape = motion.shape
    S = n_sessions
    if motion.ndim == 1 and shape[0] == S or motion.ndim == 2 and shape in ((1, S), (S, 1)):
        b = motion.reshape(-1).astype(np.float64)
        k = np.zeros(S)
    elif motion.ndim == 2 and shape == (2, S):
        k, b = motion[0].astype(np.float64), motion[1].astype(np.float64)
    elif motion.ndim == 2 and shape == (S, 2):
        k, b = motion[:, 0].astype(np.float64), motion[:, 1].astype(np.float64)
    else:
        raise DatasetError(f"{name}: manual motion must have {expected}, got shape {_shape(shape)}")
    if not (np.isfinite(k).all() and np.isfinite(b).all()):
        raise DatasetError(f"{name}: manual motion has NaN or infinite values")
    return k, b
