"""Write the track ids back into each session's sorter folder (`dant export --write-back`).

- Kilosort / phy folder: `cluster_dant_track.tsv` with the columns `cluster_id` and
  `dant_track`, tab-separated. phy loads every `*.tsv` / `*.csv` of the folder whose header
  starts with `cluster_id` as a cluster column (phylib's TemplateModel metadata), so the track
  ids appear as a `dant_track` column in phy's cluster view. Clusters of the folder that were
  not tracked (not imported, or unmatched) get -1 where known, else no row.
- SpikeInterface SortingAnalyzer saved as a binary folder: a unit property `dant_track`
  (int64, one value per unit in the sorting's unit order, -1 for units not tracked), written
  where SpikeInterface keeps saved properties: `sorting/properties/dant_track.npy`.
  Zarr analyzers are not written (a message says so).

A file that exists and differs is kept first as `<name>.<time>.bak` (a name phy and
SpikeInterface do not load). Each file is written to a temp file and renamed over.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .atomic_file import create_temp_beside
from .errors import DantError
from .tracks import tsv_bytes

WRITE_BACK_FIELD = "dant_track"
PHY_FILE = f"cluster_{WRITE_BACK_FIELD}.tsv"


def sorter_kind(folder: Path) -> str | None:
    """'phy' (Kilosort / phy output), 'analyzer' (SpikeInterface binary folder), 'zarr', or None."""
    if (folder / "sorting" / "numpysorting_info.json").is_file():
        return "analyzer"
    if (
        folder.suffix == ".zarr"
        or (folder / ".zattrs").is_file()
        or (folder / "zarr.json").is_file()
    ):
        return "zarr"
    if (folder / "params.py").is_file() or (folder / "spike_clusters.npy").is_file():
        return "phy"
    if (folder / "spike_times.npy").is_file():
        return "phy"
    return None


def write_back(rows: list[dict], data_folder) -> list[str]:
    """Write each session's track ids into its sorter folder; returns one line per action.

    rows: tracks.tsv rows (dicts with session, source, cluster_id, track). DantError when no
    row names a sorter folder (the data folder was not made by `dant import`).
    """
    folders = _sorter_folders(_by_source(rows, data_folder), data_folder)
    return [_write_one(folder, group) for folder, group in folders]


def _sorter_folders(by_source: dict[str, list[dict]], data_folder) -> list[tuple[Path, list]]:
    """(sorter folder, its rows) per source: a relative source is relative to the data folder
    where it is now. DantError naming every folder that is not there, before anything is
    written (a track id written into another folder of that name would be the wrong one)."""
    folders = []
    for source, group in by_source.items():
        folder = Path(source)
        if not folder.is_absolute():
            folder = Path(data_folder) / folder
        folders.append((folder, group))
    missing = [(f, g) for f, g in folders if not f.is_dir()]
    if missing:
        named = "; ".join(f"{f} ({_sessions_text(g)})" for f, g in missing)
        raise DantError(
            f"cannot write the tracks back: the sorter folder(s) named in "
            f"{Path(data_folder) / 'units.tsv'} do not exist: {named}; put them back, or "
            "correct their source column, then write back again (nothing was written)"
        )
    return folders


def _sessions_text(rows: list[dict]) -> str:
    return "session " + ", ".join(sorted({r["session"] for r in rows}, key=int))


def _by_source(rows: list[dict], data_folder) -> dict[str, list[dict]]:
    """Rows grouped by sorter folder; DantError when no row names one with a cluster id."""
    by_source: dict[str, list[dict]] = {}
    for row in rows:
        if (row.get("source") or "").strip() and (row.get("cluster_id") or "").strip():
            by_source.setdefault(row["source"].strip(), []).append(row)
    if not by_source:
        raise DantError(
            f"cannot write the tracks back: {Path(data_folder) / 'units.tsv'} is missing or names "
            "no sorter folder (source) and cluster id per unit; import the sessions with "
            "dant import first"
        )
    return by_source


def check_write_back(output_folder) -> None:
    """Refuse a write-back that cannot happen before anything is exported (DantError)."""
    from .result_folder import data_folder_of
    from .tracks import UNITS_FILE, read_tsv

    data_folder = data_folder_of(output_folder)
    path = data_folder / UNITS_FILE
    _sorter_folders(_by_source(read_tsv(path) if path.is_file() else [], data_folder), data_folder)


def _write_one(folder: Path, rows: list[dict]) -> str:
    what = _sessions_text(rows)
    kind = sorter_kind(folder)
    tracks = {r["cluster_id"]: int(r["track"]) for r in rows}
    n_tracked = sum(t > 0 for t in tracks.values())
    if kind == "phy":
        path = folder / PHY_FILE
        ordered = sorted(tracks.items(), key=lambda kv: _id_key(kv[0]))
        data = tsv_bytes(
            [{"cluster_id": c, WRITE_BACK_FIELD: str(t)} for c, t in ordered],
            ("cluster_id", WRITE_BACK_FIELD),
        )
        kept = _replace_keeping_old(path, data)
        return f"wrote {path} ({len(tracks)} clusters, {n_tracked} in tracks){kept}"
    if kind == "analyzer":
        sorting = folder / "sorting"
        try:
            info = json.loads((sorting / "numpysorting_info.json").read_text())
            unit_ids = [str(u) for u in info["unit_ids"]]
        except (OSError, ValueError, KeyError) as exc:
            raise DantError(
                f"{sorting / 'numpysorting_info.json'}: cannot be read ({exc})"
            ) from exc
        values = np.array([tracks.get(u, -1) for u in unit_ids], dtype=np.int64)
        unknown = sorted(set(tracks) - set(unit_ids), key=_id_key)
        if unknown:
            raise DantError(
                f"{sorting / 'numpysorting_info.json'}: has no unit(s) {', '.join(unknown[:5])} "
                f"that units.tsv lists for {what}; was the analyzer changed after the import?"
            )
        (sorting / "properties").mkdir(exist_ok=True)
        path = sorting / "properties" / f"{WRITE_BACK_FIELD}.npy"
        kept = _replace_keeping_old(path, _npy_bytes(values))
        return (
            f"wrote unit property {WRITE_BACK_FIELD} to {path} ({values.size} units, "
            f"{int((values > 0).sum())} in tracks){kept}"
        )
    if kind == "zarr":
        return (
            f"skipped {what}: {folder} is a zarr SortingAnalyzer, which is not written; "
            "set the property from tracks.tsv with SpikeInterface's set_sorting_property"
        )
    return f"skipped {what}: {folder} is not a Kilosort/phy folder or a SpikeInterface analyzer"


def _id_key(cluster_id: str):
    return (0, int(cluster_id), "") if cluster_id.lstrip("-").isdigit() else (1, 0, cluster_id)


def _npy_bytes(array: np.ndarray) -> bytes:
    from .export import _npy_bytes

    return _npy_bytes(array)


def _replace_keeping_old(path: Path, data: bytes) -> str:
    """Write `data` to `path` atomically; an existing different file is renamed to
    `<name>.<time>.bak` first. Returns a note for the message ('' when nothing was kept)."""
    if path.is_file() and path.read_bytes() == data:
        return " (unchanged)"
    fd, tmp = create_temp_beside(path)
    note = ""
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            stamp = time.strftime("%Y%m%d-%H%M%S")
            backup = path.with_name(f"{path.name}.{stamp}.bak")
            n = 1
            while backup.exists():
                n += 1
                backup = path.with_name(f"{path.name}.{stamp}-{n}.bak")
            os.replace(path, backup)
            note = f"; the previous file is kept as {backup.name}"
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise DantError(f"cannot write {path}: {exc}") from exc
    return note


def write_back_output(output_folder) -> list[str]:
    """Write back the tracks.tsv of a tracking output folder (written by `dant track` or
    `dant export`) into the sorter folders its units.tsv names; one line per action."""
    from .result_folder import data_folder_of
    from .tracks import TRACKS_FILE, read_tsv

    folder = Path(output_folder)
    path = folder / TRACKS_FILE
    if not path.is_file():
        raise DantError(f"{path}: missing; run `dant export {folder}` first")
    # Where the data folder is now (a moved or copied project), not where the run recorded it.
    return write_back(read_tsv(path), data_folder_of(folder))
