"""Reading the .npy / .npz files of a user's folder (a result folder, a sorter folder)
without trusting their headers.

A .npy header states the array's shape and dtype; np.load allocates that much before
reading. A truncated copy, a damaged disk block or a half-synced cloud folder gives a file
whose header claims more than it holds: np.load then fails with MemoryError ("a larger
machine") or a bare ValueError that names no file. Here the claimed size is compared with
the bytes the file (or the .npz member) holds first, and every failure is a DatasetError
naming the file. (The data folder's own reader, dataset.py, does the same for its arrays.)
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .errors import DatasetError

_DAMAGED = "the file is truncated or damaged"


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _size_text(n_bytes: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes} bytes"


def read_header(f) -> tuple[tuple, bool, np.dtype] | None:
    """(shape, fortran order, dtype) of the .npy header at the file position, which is left
    at the data; None when not a .npy header numpy knows (np.load then says what is wrong)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    return None


def _read_header(f) -> tuple[tuple, np.dtype] | None:
    """(shape, dtype) of the .npy header at the file position (see read_header)."""
    header = read_header(f)
    return None if header is None else (header[0], header[2])


def _check_claim(label: str, shape: tuple, dtype: np.dtype, held: int) -> None:
    if dtype.hasobject:
        return  # refused by allow_pickle=False with its own message
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if needed > held:
        raise DatasetError(
            f"{label}: its header announces shape {_shape_text(shape)} of {dtype} "
            f"({_size_text(needed)}) but the file holds only {_size_text(held)} of data; "
            f"{_DAMAGED}"
        )


def check_npy(path: Path, label: str) -> None:
    """DatasetError when the .npy header of `path` claims more data than the file holds."""
    try:
        with open(path, "rb") as f:
            header = _read_header(f)
            if header is None:
                return
            held = os.fstat(f.fileno()).st_size - f.tell()
    except (OSError, ValueError, EOFError):
        return  # np.load reports these, and load_npy names the file
    _check_claim(label, *header, held)


def load_npy(path, label: str | None = None, mmap: bool = False) -> np.ndarray:
    """The array in the .npy file `path` (memory-mapped read-only with `mmap`); DatasetError
    naming `label` (default: the path) when it is missing, damaged or not a numeric .npy."""
    path = Path(path)
    label = label or str(path)
    check_npy(path, label)
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except FileNotFoundError:
        raise DatasetError(f"{label}: file is missing") from None
    except MemoryError:
        raise DatasetError(
            f"{label}: too large to load into this machine's memory "
            f"({_size_text(path.stat().st_size)})"
        ) from None
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"{label}: not a readable .npy file ({exc}); {_DAMAGED}") from None
    if not isinstance(array, np.ndarray):  # an .npz under a .npy name
        array.close()
        raise DatasetError(f"{label}: is a .npz archive, expected a .npy file")
    return array


def load_npz(
    path, label: str | None = None, keys=None, required: bool = True
) -> dict[str, np.ndarray]:
    """The arrays of the .npz archive `path` (those named in `keys`, else all), each
    member's header checked against the member's size first; DatasetError naming `label`
    (default: the path) otherwise, also when one of `keys` is missing and `required`."""
    path = Path(path)
    label = label or str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as f:
                    header = _read_header(f)
                    if header is not None:
                        held = info.file_size - f.tell()
                        _check_claim(f"{label} ({info.filename})", *header, held)
        with np.load(path, allow_pickle=False) as z:
            if keys is None:
                keys = z.files
            elif not required:
                keys = [k for k in keys if k in z.files]
            return {name: z[name] for name in keys}
    except DatasetError:
        raise
    except FileNotFoundError:
        raise DatasetError(f"{label}: file is missing") from None
    except MemoryError:
        raise DatasetError(f"{label}: too large to load into this machine's memory") from None
    except KeyError as exc:
        raise DatasetError(f"{label}: lacks the array {exc}") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"{label}: not a readable .npz archive ({exc}); {_DAMAGED}") from None
