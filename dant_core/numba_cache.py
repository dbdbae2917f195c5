"""Where numba keeps the compiled kernels, when the install folder cannot hold them.

Every kernel is `@njit(cache=True)`. numba looks for a cache folder when the module is
imported: `NUMBA_CACHE_DIR` if set, else `__pycache__` beside the source, else a per-user
folder (`~/.cache/numba` on Linux); when none is writable it raises RuntimeError ("no
locator available") and nothing can be imported. That is the case for a read-only install
(a system package, a container image) run by a user without a writable home. Then the
cache goes to a folder of our own, which is chosen before numba reads its configuration.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _writable(folder: Path) -> bool:
    """Whether `folder` exists or can be created, and a file can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _user_cache_base() -> Path:
    """The platform's per-user cache folder (where numba would look next)."""
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def _private_temp_folder() -> Path | None:
    """A cache folder under the temporary folder that only this user can write to.

    The cache holds pickles that numba loads, so a folder someone else created (or can
    write to) is never reused: then a fresh private folder is made for this process.
    """
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    folder = Path(tempfile.gettempdir()) / f"dant-numba-cache-{user}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.stat()
        mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
        if mine and not info.st_mode & 0o022 and _writable(folder):
            return folder
        return Path(tempfile.mkdtemp(prefix="dant-numba-cache-"))
    except OSError:
        return None


def choose_cache_folder() -> Path | None:
    """The folder to give numba, or None when numba's own choice works (or nothing does:
    numba then reports it)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    if _writable(PACKAGE_DIR / "__pycache__"):
        return None
    try:
        user_cache = _user_cache_base()
    except (KeyError, RuntimeError):  # no home folder at all
        user_cache = None
    if user_cache is not None and _writable(user_cache / "numba"):
        return None
    return _private_temp_folder()


def ensure_cache_folder() -> None:
    """Point numba at a writable cache folder if its own choices are not writable."""
    folder = choose_cache_folder()
    if folder is None:
        return
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba already imported: its configuration was read
        config.CACHE_DIR = str(folder)
