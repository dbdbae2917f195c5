"""Temp files for atomic writes, with the permissions any new file gets.

`tempfile.mkstemp` always makes a private (0600) file, so a file renamed over its target
that way would be unreadable by the lab's other users, whatever their umask allows. Here
the operating system applies the umask itself, as for any file the user saves.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


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
