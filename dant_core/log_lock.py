"""One writer at a time for an output folder's curation: an advisory lock beside the log.

Two programs appending to one `curation.jsonl` interleave their actions, and a replayed
undo then takes back the other program's action. So whoever writes the log (a window's
`Curator`, `dant export`, `dant track` replacing a curated folder) first takes an exclusive
lock on `.curation.lock` in the output folder and holds it while it works; the file names
the holder so the second writer's message can say who it is. The lock is advisory (a text
editor ignores it) and is released by the OS when the process ends, even on kill -9.

POSIX: fcntl.flock. Windows: msvcrt.locking on one byte past the text. Elsewhere, or on a
file system that refuses locks (some network shares), the folder is used without a lock.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path

from .errors import DantError

LOCK_FILE = ".curation.lock"
_WINDOWS_BYTE = 1 << 20  # locked on Windows: past the holder text, which stays readable

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None


class FolderInUse(DantError):
    """Another program holds the folder's curation lock."""


class FolderLock:
    """A held lock (or, where locking is unavailable, a note saying there is none)."""

    def __init__(self, folder: Path, file=None, note: str = ""):
        self.folder = folder
        self._file = file
        self.note = note  # why the folder is not locked ("" when it is)

    def release(self) -> None:
        """Let the next writer in (idempotent); the lock file stays for the next one."""
        f, self._file = self._file, None
        if f is not None:
            f.close()  # closing the descriptor releases flock and msvcrt locks

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def lock_folder(folder, who: str) -> FolderLock:
    """Take the curation lock of output folder `folder` for `who` (e.g. "dant export").

    FolderInUse (a DantError naming the folder and the holder) if another program, or
    another Curator in this one, holds it. An unlockable file system gives an unlocked
    FolderLock whose `note` says so.
    """
    folder = Path(folder)
    try:
        f = open(folder / LOCK_FILE, "a+b")  # noqa: SIM115 - held open while locked
    except OSError as exc:
        return FolderLock(folder, note=f"no curation lock in {folder} ({exc})")
    try:
        locked = _try_lock(f)
    except OSError as exc:  # e.g. a network file system without locks
        f.close()
        return FolderLock(folder, note=f"no curation lock in {folder} ({exc})")
    if locked is None:
        f.close()
        return FolderLock(folder, note="no curation lock on this system")
    if not locked:
        f.seek(0)
        holder = f.read(400).decode("utf-8", "replace").strip() or "another program"
        f.close()
        raise FolderInUse(
            f"{folder} is being curated by another program ({holder}); close the folder "
            "there first: one program at a time may change its curation"
        )
    f.seek(0)
    f.truncate()
    stamp = datetime.now().astimezone().isoformat(timespec="seconds")
    f.write(f"{who}, process {os.getpid()} on {socket.gethostname()}, since {stamp}\n".encode())
    f.flush()
    return FolderLock(folder, f)


def _try_lock(f) -> bool | None:
    """True: locked; False: someone else holds it; None: no locking on this system."""
    if fcntl is not None:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    if msvcrt is not None:
        f.seek(_WINDOWS_BYTE)
        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:  # held elsewhere (msvcrt gives EACCES or EDEADLOCK)
            return False
        return True
    return None
