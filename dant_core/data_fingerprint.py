"""Fingerprint of a data folder, so a result notices when the data under it changed.

A run records, per file the engine reads, its size and a BLAKE2b hash of its whole content
(a re-export with the same number of units changes neither the shapes nor, often, the
sizes). Hashing the full files costs less than reading them: for a 1,200-unit demo folder
(72 MB, 1,204 files, in the page cache) 0.13 s on a quiet machine, 1.0-1.4 s on a busy
2-core one where np.load of its spike files alone takes 2.2 s. It is done once per load.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import DantError

# The files of a data folder the engine reads (dataset.py); spike files are per unit.
DATA_FILES = (
    "waveform_all.npy",
    "session_index.npy",
    "channel_locations.npy",
    "channel_shanks.npy",
    "peth.npy",
)
SPIKE_TIMES = "spike_times"
# Key of the fingerprint (a JSON text) in our record, dant_result.npz.
FINGERPRINT_KEY = "data_fingerprint"
ALLOW_FLAG = "--allow-changed-data"


class StaleResultError(DantError):
    """The data folder changed since the result was made from it."""


def _file_hash(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return f"{path.stat().st_size}:{h.hexdigest()}"


def data_fingerprint(folder) -> dict[str, str]:
    """{file name relative to `folder` ("spike_times/Unit3.npy"): "size:hash"} of every
    file the engine reads that is present."""
    folder = Path(folder)
    names = [n for n in DATA_FILES if (folder / n).is_file()]
    spikes = folder / SPIKE_TIMES
    if spikes.is_dir():
        names += sorted(f"{SPIKE_TIMES}/{p.name}" for p in spikes.glob("Unit*.npy"))
    return {n: _file_hash(folder / n) for n in names}


def fingerprint_text(fingerprint: dict[str, str]) -> str:
    return json.dumps(fingerprint, sort_keys=True)


def parse_fingerprint(text: str) -> dict[str, str] | None:
    """The recorded fingerprint, or None when it is missing or unreadable (older results)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _order(name: str):
    """The arrays in DATA_FILES order, then the spike files by unit number."""
    if name in DATA_FILES:
        return (0, DATA_FILES.index(name), name)
    digits = "".join(c for c in name if c.isdigit())
    return (1, int(digits) if digits else -1, name)


def changed_files(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    """Names of the files added, removed or changed between two fingerprints: the arrays
    first, then the spike files by unit."""
    return sorted(
        (n for n in set(recorded) | set(now) if recorded.get(n) != now.get(n)), key=_order
    )


def describe_changes(files: list[str], limit: int = 5) -> str:
    """'waveform_all.npy, spike_times/Unit7.npy' (at most `limit` names, then 'and N more
    files')."""
    shown = ", ".join(files[:limit])
    return shown if len(files) <= limit else f"{shown} and {len(files) - limit} more files"


def stale_files(result, data_fingerprint_now: dict[str, str] | None = None) -> list[str]:
    """Files of the result's data folder that changed since the result was made ([] when
    unchanged or when the result records no fingerprint: results made before this check,
    pyDANT's). `data_fingerprint_now` is the folder's current fingerprint if known."""
    recorded = getattr(result, "data_fingerprint", None)
    if not recorded or not result.data_folder:
        return []
    now = data_fingerprint_now
    if now is None:
        now = data_fingerprint(result.data_folder)
    return changed_files(recorded, now)


def stale_text(output_folder, data_folder, files: list[str]) -> str:
    """What changed, for the refusal, the warning and the GUI's dialog (docs/errors.md)."""
    return (
        f"{output_folder}: the data folder {data_folder} changed since these results were made "
        f"({describe_changes(files)})"
    )


def stale_message(output_folder, data_folder, files: list[str]) -> str:
    """The refusal of `dant export` when the data changed (docs/errors.md)."""
    return (
        f"{stale_text(output_folder, data_folder, files)}; run dant track on it again, or pass "
        f"{ALLOW_FLAG} to export these clusters anyway"
    )
