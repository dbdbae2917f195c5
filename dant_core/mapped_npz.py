"""Reading a result's .npz record with its large arrays memory-mapped, not copied.

`dant_result.npz` is written by np.savez (stored, not compressed): each member is a .npy
file lying as-is inside the zip, so it can be mapped at its offset like a .npy file. At
20,000 units the similarity graph it holds (pairs, scores, candidate flags) is ~1.5 GB;
mapped, only the pages a viewer reads are in memory, and the file is opened in a blink.
Compressed, small or object members are read as `npy_files.load_npz` reads them.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

from .npy_files import _check_claim, load_npz, read_header

MAP_AT_LEAST = 1 << 20  # bytes: smaller members are read (a map costs a file handle each)
_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30


def load_npz_mapped(path, label: str | None = None, at_least: int | None = None) -> dict:
    """Every array of the .npz archive `path`; stored members of at least `at_least` bytes
    (default MAP_AT_LEAST) are read-only memory maps (plain ndarray views of them), the
    others are read.
    DatasetError naming `label` (default: the path) as `load_npz` raises them."""
    path = Path(path)
    label = label or str(path)
    at_least = MAP_AT_LEAST if at_least is None else at_least
    mapped, names = _map_members(path, label, at_least)
    if not mapped:
        return load_npz(path, label)
    rest = load_npz(path, label, keys=[n for n in names if n not in mapped])
    return {n: mapped[n] if n in mapped else rest[n] for n in names}


def _map_members(path: Path, label: str, at_least: int):
    """(the members that can be mapped, mapped; the names of every array member); ({}, [])
    when the archive cannot be read this way (load_npz then reads everything and reports
    what is wrong)."""
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
            names = [n[:-4] for n in archive.namelist() if n.endswith(".npy")]
            for info in archive.infolist():
                if (
                    info.compress_type != zipfile.ZIP_STORED
                    or info.file_size < at_least
                    or not info.filename.endswith(".npy")
                ):
                    continue
                array = _map_member(path, raw, info, label)
                if array is not None:
                    out[info.filename[:-4]] = array
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
        return {}, []
    return out, names


def _map_member(path: Path, raw, info: zipfile.ZipInfo, label: str) -> np.ndarray | None:
    raw.seek(info.header_offset)
    local = raw.read(_LOCAL_HEADER_SIZE)
    if len(local) < _LOCAL_HEADER_SIZE or local[:4] != _LOCAL_HEADER:
        return None
    # The local header's own name and extra lengths (they may differ from the central
    # directory's, e.g. the zip64 extra field numpy writes for large members).
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    start = info.header_offset + _LOCAL_HEADER_SIZE + name_len + extra_len
    raw.seek(start)
    header = read_header(raw)
    if header is None:
        return None
    shape, fortran, dtype = header
    if dtype.hasobject or int(np.prod(shape, dtype=object)) == 0:
        return None
    offset = raw.tell()
    _check_claim(f"{label} ({info.filename})", shape, dtype, info.file_size - (offset - start))
    mapped = np.memmap(
        path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
    )
    return mapped.view(np.ndarray)
