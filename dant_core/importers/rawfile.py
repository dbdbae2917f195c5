"""The raw recording a Kilosort/phy folder names: reading params.py, finding the file.

params.py is phy's convention (`dat_path`, `n_channels_dat`, `dtype`, `offset`,
`sample_rate`, `hp_filtered`). `dat_path` is often the absolute path the recording had
where it was sorted (Kilosort 4 always writes one); when it does not exist, the file is
looked for where users keep it: beside the sorter folder or in its parent, by the same
name. The decision is recorded.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from .common import ImportDataError

PARAMS = "params.py"
# Kilosort's own preprocessed copy: high-passed AND whitened, never a source of µV waveforms.
WHITENED_COPIES = ("temp_wh.dat", "temp_wh2.dat")


def read_params(folder: Path) -> dict | None:
    """The assignments of FOLDER/params.py as Python literals (never executed); None when absent."""
    path = folder / PARAMS
    if not path.is_file():
        return None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except SyntaxError as exc:
        raise ImportDataError(
            f"{path}: not readable as Python ({exc.msg}, line {exc.lineno})"
        ) from None
    params: dict = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    params[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue  # a computed value (phylib allows it); only literals are read
    return params


def file_name(dat_path: str) -> str:
    """The file name of a path written on any system (a Windows path read on Linux too)."""
    if "\\" in dat_path or (len(dat_path) > 1 and dat_path[1] == ":"):
        return PureWindowsPath(dat_path).name
    return PurePosixPath(dat_path).name


def dat_path_of(params: dict, folder: Path) -> str:
    """params.py's dat_path as one string; a list of several files is refused."""
    dat = params.get("dat_path")
    if isinstance(dat, (list, tuple)):
        if len(dat) != 1:
            raise ImportDataError(
                f"{folder / PARAMS}: dat_path names {len(dat)} files (a concatenated "
                "recording); pass the one raw file with --raw"
            )
        dat = dat[0]
    if not isinstance(dat, str) or not dat:
        raise ImportDataError(f"{folder / PARAMS}: dat_path is missing or not a file name")
    return dat


def locate_raw(folder: Path, dat_path: str, explicit: Path | None) -> tuple[Path | None, str]:
    """(path of the raw file or None, how it was found) for a sorter folder."""
    if explicit is not None:
        if not explicit.is_file():
            raise ImportDataError(f"{explicit}: the raw file given for {folder} does not exist")
        return explicit, "given explicitly"
    name = file_name(dat_path)
    if name in WHITENED_COPIES:
        raise ImportDataError(
            f"{folder / PARAMS}: dat_path names {name}, Kilosort's whitened copy of the data; "
            "µV waveforms need the original recording: pass it with --raw"
        )
    as_written = Path(dat_path).expanduser()
    if not as_written.is_absolute():
        as_written = folder / as_written
    if as_written.is_file():
        return as_written, "as params.py names it"
    for candidate in (folder / name, folder.parent / name):
        if candidate.is_file():
            return candidate, f"not at {dat_path} (params.py); found by name at {candidate}"
    return None, f"not found: {dat_path} (params.py), nor {name} in {folder} or its parent"


@dataclass
class RawRecording:
    """A flat binary recording: (n_samples, n_channels) samples of `dtype` after `offset` bytes."""

    path: Path
    n_channels: int
    dtype: np.dtype
    offset: int

    @property
    def n_samples(self) -> int:
        size = self.path.stat().st_size - self.offset
        return max(0, size // (self.n_channels * self.dtype.itemsize))

    def check_size(self) -> None:
        size = self.path.stat().st_size - self.offset
        frame = self.n_channels * self.dtype.itemsize
        if size < frame:
            raise ImportDataError(f"{self.path}: the raw file holds no complete sample")
        if size % frame:
            raise ImportDataError(
                f"{self.path}: its size ({size} bytes after the offset) is not a multiple of "
                f"n_channels_dat x bytes per sample = {self.n_channels} x "
                f"{self.dtype.itemsize}; check n_channels_dat and dtype in params.py"
            )

    def memmap(self) -> np.ndarray:
        """Read-only (n_samples, n_channels) view of the file, mapped, not read."""
        data = np.memmap(
            self.path,
            dtype=self.dtype,
            mode="r",
            offset=self.offset,
            shape=(self.n_samples, self.n_channels),
        )
        return data.view(np.ndarray)


def raw_recording(params: dict, folder: Path, path: Path) -> RawRecording:
    """The RawRecording params.py describes, with the checks that name params.py."""
    where = folder / PARAMS
    try:
        n_channels = int(params["n_channels_dat"])
        dtype = np.dtype(params.get("dtype", "int16"))
        offset = int(params.get("offset", 0) or 0)
    except KeyError:
        raise ImportDataError(f"{where}: n_channels_dat is missing") from None
    except TypeError as exc:
        raise ImportDataError(f"{where}: dtype or n_channels_dat is not valid ({exc})") from None
    if n_channels < 1:
        raise ImportDataError(f"{where}: n_channels_dat must be at least 1, got {n_channels}")
    if dtype.kind not in "iuf":
        raise ImportDataError(f"{where}: dtype {dtype} is not a numeric sample type")
    raw = RawRecording(path, n_channels, dtype, offset)
    raw.check_size()
    return raw
