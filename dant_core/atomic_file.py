"""Atomic writes: temp files with the permissions any new file gets, renamed over their
targets, and the folder entry made durable.

`tempfile.mkstemp` always makes a private (0600) file, so a file renamed over its target
that way would be unreadable by the lab's other users, whatever their umask allows. Here
the operating system applies the umask itself, as for any file the user saves.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .errors import DantError


def create_temp_beside(target: Path) -> tuple[int, str]:
    """Open a new hidden temp file in `target`'s folder for writing: (descriptor, path).

    Mode 0o666 minus the umask, like any new file; the name starts with a dot and the
    target's name, so an interrupted write is recognisable and hidden.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = Path(target).parent / f".{Path(target).name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {target}")


def fsync_folder(folder: Path) -> None:
    """Make a new or renamed file's directory entry durable (where the OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory; the rename is durable enough there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_files_atomically(folder: Path, files: dict[str, bytes]) -> None:
    """Write every file to a temp file in `folder` and fsync it, then rename each over its
    target in the given order. A failure while writing changes no file; no temp file is left.
    """
    temps: dict[str, str] = {}
    try:
        for name, data in files.items():
            fd, tmp = create_temp_beside(folder / name)
            temps[name] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for name, tmp in list(temps.items()):
            os.replace(tmp, folder / name)
            del temps[name]
    except OSError as exc:
        failed = next(iter(temps), "")
        raise DantError(f"cannot write {folder / failed}: {exc}") from exc
    finally:
        for tmp in temps.values():
            try:
                os.unlink(tmp)
            except OSError:
                pass
    fsync_folder(folder)
