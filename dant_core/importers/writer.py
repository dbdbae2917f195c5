"""Write the data folder: the engine's arrays plus units.tsv, import.json and settings.json.

The folder is built under a temporary name beside OUT and renamed into place at the end, so
OUT is either complete or absent; an existing non-empty OUT is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..settings import Settings
from .channels import ChannelUnion, fill_channels
from .common import N_SAMPLE, OUTPUT_RATE, SPIKE_SAMPLE, ImportDataError, SessionData

UNITS_TSV = "units.tsv"
IMPORT_JSON = "import.json"
SETTINGS_JSON = "settings.json"
_FIRST_COLUMNS = [
    "unit",
    "session",
    "session_name",
    "source",
    "cluster_id",
    "label",
    "n_spikes",
    "spikes_used",
    "amplitude_uv",
    "positive_spike",
    "peak_channel",
]


def check_output(out: Path) -> None:
    """Refuse an OUT that exists and is not empty (nothing the user has is overwritten)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ImportDataError(
            f"{out}: already exists and is not empty; choose a new folder (an import never "
            "overwrites)"
        )


def suited_settings(n_channels_per_shank: int, peth: bool = False) -> Settings:
    """Default settings, without PETH unless there is one, with channel counts that fit."""
    settings = Settings.defaults()
    if not peth:
        settings.set("motionEstimation.features", [["AutoCorr"], ["Waveform", "AutoCorr"]])
        settings.set("clustering.features", ["Waveform", "AutoCorr"])
    for key in ("waveformCorrection.n_nearest_channels", "spikeLocation.n_nearest_channels"):
        if settings.get(key) > n_channels_per_shank:
            settings.set(key, n_channels_per_shank)
    return settings


def _cell(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\t", " ").replace("\n", " ")


def _units_rows(sessions: list[SessionData], peak: np.ndarray) -> tuple[list[str], list[list]]:
    rows, extra = [], []
    k = 0
    for s_index, s in enumerate(sessions, start=1):
        for unit in s.units:
            row = {
                "unit": k,
                "session": s_index,
                "session_name": s.name,
                "source": str(s.folder),
                "peak_channel": int(peak[k]),
                **unit,
            }
            for key in row:
                if key not in _FIRST_COLUMNS and key not in extra:
                    extra.append(key)
            rows.append(row)
            k += 1
    header = _FIRST_COLUMNS + extra
    return header, [[_cell(r.get(c, "")) for c in header] for r in rows]


def write_data_folder(
    out: Path, sessions: list[SessionData], union: ChannelUnion, options: dict, warnings: list[str]
) -> dict:
    """Write OUT atomically; return the import record (also written as import.json)."""
    check_output(out)
    lengths = {s.waveforms.shape[2] for s in sessions}
    if len(lengths) > 1:
        first = sessions[0]
        other = next(s for s in sessions if s.waveforms.shape[2] != first.waveforms.shape[2])
        raise ImportDataError(
            f"{other.folder}: its waveforms have {other.waveforms.shape[2]} samples but "
            f"{first.folder}'s have {first.waveforms.shape[2]}; import them separately"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.importing-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        record = _write(tmp, sessions, union, options, warnings)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return record


def _write(folder: Path, sessions, union: ChannelUnion, options: dict, warnings) -> dict:
    n_unit = sum(len(s.units) for s in sessions)
    n_sample = sessions[0].waveforms.shape[2]
    waveforms = np.lib.format.open_memmap(
        folder / "waveform_all.npy",
        mode="w+",
        dtype=np.float32,
        shape=(n_unit, union.positions.shape[0], n_sample),
    )
    k = 0
    peak = np.zeros(n_unit, dtype=np.int64)
    (folder / "spike_times").mkdir()
    for s, own in zip(sessions, union.index, strict=True):
        n = len(s.units)
        block = fill_channels(s.waveforms, own, union.positions)
        waveforms[k : k + n] = block
        if n:
            ptp = block.max(axis=2) - block.min(axis=2)
            peak[k : k + n] = np.argmax(ptp, axis=1)
        for j, times in enumerate(s.spike_times):
            np.save(folder / "spike_times" / f"Unit{k + j}.npy", times.astype(np.float64))
        k += n
    waveforms.flush()
    del waveforms
    sessions_index = np.concatenate(
        [np.full(len(s.units), i, dtype=np.int64) for i, s in enumerate(sessions, start=1)]
    )
    np.save(folder / "session_index.npy", sessions_index)
    np.save(folder / "channel_locations.npy", union.positions)
    n_shanks = np.unique(union.shanks).size
    if n_shanks > 1:
        np.save(folder / "channel_shanks.npy", union.shanks)
    header, rows = _units_rows(sessions, peak)
    with open(folder / UNITS_TSV, "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    peth_points = {None if s.peth is None else s.peth.shape[1] for s in sessions}
    has_peth = len(peth_points) == 1 and None not in peth_points
    if has_peth:
        np.save(folder / "peth.npy", np.concatenate([s.peth for s in sessions]))
    elif peth_points - {None}:
        warnings = [*warnings, "PETH left out: not every session has one of the same length"]
    per_shank = int(np.bincount(np.unique(union.shanks, return_inverse=True)[1]).min())
    suited_settings(per_shank, has_peth).save(folder / SETTINGS_JSON)
    native = all(s.sample_rate > 0 for s in sessions) and n_sample == N_SAMPLE
    record = {
        "written_by": f"dant import (DANT Desktop {__version__})",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "options": options,
        "output": {
            "units": n_unit,
            "sessions": len(sessions),
            "channels": int(union.positions.shape[0]),
            "shanks": int(n_shanks),
            "waveform_samples": n_sample,
            "waveform_rate_hz": OUTPUT_RATE if native else None,
            "spike_time_at_sample": SPIKE_SAMPLE if native else None,
            "waveform_units": "µV",
            "spike_time_units": "ms",
            "peth": has_peth,
        },
        "channels": {
            "union": int(union.positions.shape[0]),
            "filled_by_kriging_per_session": list(union.filled),
        },
        "sessions": [
            _jsonable(s.info)
            | {
                "session": i,
                "units": len(s.units),
                "channels": int(s.positions.shape[0]),
                "channels_filled": union.filled[i - 1],
                "warnings": s.warnings,
            }
            for i, s in enumerate(sessions, start=1)
        ],
        "warnings": warnings,
    }
    (folder / IMPORT_JSON).write_text(
        json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return record


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value
