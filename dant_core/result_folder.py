"""Recognising a result folder by what it holds, and finding the data folder it was made from.

A result folder may have any name: ours holds our record (RESULT_FILE), pyDANT's holds
IdxCluster.npy with its other outputs. Ours records its data folder; pyDANT's settings.json
holds `path_to_data` and `output_folder`, relative to the folder pyDANT ran in (unknown)
or to the settings file, so each reading is tried and the one holding as many units as
IdxCluster.npy is taken. For ours, the folder holding the result folder is tried first: a
project moved or copied whole has its data there, wherever the record says it was made.
"""

from __future__ import annotations

import json
import os.path
from pathlib import Path

import numpy as np

from .errors import DatasetError
from .npy_files import load_npy, load_npz
from .output_folder import finish_interrupted_saves
from .pydant_output import RESULT_FILE

# Besides IdxCluster.npy, what every pyDANT output folder holds (and a data folder does not).
PYDANT_RESULT_FILES = (
    "locations.npy",
    "motion_linear.npy",
    "motion_constant.npy",
    "SimilarityWeights.npy",
    "SimilarityThreshold.npy",
)


def is_result_folder(folder) -> bool:
    """Whether `folder` holds a tracking result, ours or pyDANT's, whatever its name."""
    folder = Path(folder)
    if not (folder / "IdxCluster.npy").is_file():
        finish_interrupted_saves(folder)  # a killed save may have moved the files aside
    if not (folder / "IdxCluster.npy").is_file():
        return False
    if (folder / RESULT_FILE).is_file():
        return True
    return all((folder / name).is_file() for name in PYDANT_RESULT_FILES)


def data_folder_of(folder, state: dict | None = None) -> Path:
    """The data folder the result in `folder` was made from (DatasetError when not found).

    `state` is our record's contents when already read (else it is read here). A folder is
    taken when its waveform_all.npy holds as many units as IdxCluster.npy.
    """
    folder = Path(folder).absolute()
    n_units = _n_units(folder / "IdxCluster.npy")
    if state is None and (folder / RESULT_FILE).is_file():
        state = load_npz(folder / RESULT_FILE, keys=("data_folder",), required=False)
    if state is not None:
        recorded = str(state["data_folder"]) if "data_folder" in state else ""
        # The default layout, output inside the data folder, first: after the whole project
        # was moved or copied, the data folder is where the output folder is now, not the one
        # recorded (a copy's original may still exist; reading or writing there would be the
        # wrong project). Whether its data still match the run is the fingerprint's check.
        candidates = [folder.parent] + ([Path(recorded)] if recorded else [])
    else:
        recorded = ""
        # pyDANT's relative path_to_data moves with a copied project; then the default layout.
        candidates = [*_pydant_candidates(folder), folder.parent]
    for c in candidates:
        if _holds_units(c, n_units):
            return c.absolute()
    if recorded:
        if Path(recorded).is_dir():
            return Path(recorded)  # loading it says what is wrong with it
        raise DatasetError(
            f"{folder}: the data folder this run was made from cannot be read (data folder "
            f"{recorded} does not exist); put it back where it was"
        )
    if state is not None:
        raise DatasetError(
            f"{folder}: this output folder does not say which data folder it belongs to; "
            "open the data folder instead"
        )
    tried = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise DatasetError(
        f"{folder}: cannot find the data folder of these pyDANT results: none of {tried} "
        f"holds a waveform_all.npy with {n_units} units (as IdxCluster.npy); move this folder "
        "into its data folder, or set path_to_data in its settings.json"
    )


def _n_units(path: Path) -> int:
    return int(load_npy(path, mmap=True).size)


def _holds_units(folder: Path, n_units: int) -> bool:
    path = folder / "waveform_all.npy"
    try:
        return path.is_file() and np.load(path, mmap_mode="r").shape[0] == n_units
    except Exception:  # noqa: BLE001 - an unreadable file: not this folder
        return False


def _pydant_candidates(folder: Path) -> list[Path]:
    """Where pyDANT's saved `path_to_data` may point: relative to the settings file, or to
    the folder pyDANT ran in (found by taking `output_folder` off this folder's path)."""
    try:
        saved = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
        to_data = str(saved.get("path_to_data", "") or "")
        to_output = str(saved.get("output_folder", "") or "")
    except (OSError, ValueError, AttributeError):
        return []
    if not to_data:
        return []
    if Path(to_data).is_absolute():
        return [Path(to_data)]
    bases = [folder]
    depth = len([p for p in Path(to_output).parts if p not in (".", "")])
    if to_output and not Path(to_output).is_absolute() and 0 < depth <= len(folder.parents):
        bases.append(folder.parents[depth - 1])
    # `..` taken off textually: the folder may have been reached through a link.
    return [Path(os.path.normpath(b / to_data)) for b in bases]
