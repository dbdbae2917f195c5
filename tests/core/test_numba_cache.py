"""A read-only install run by a user without a writable home can still run the engine.

numba raises "cannot cache function ...: no locator available" at import when neither the
package's __pycache__ nor the user's cache folder can be written; dant_core then points
numba at a private folder under the temporary folder (dant_core/numba_cache.py).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import os
import numpy as np
from dant_core.similarity import fisher_z, _paired_dot
x = np.arange(6.0).reshape(2, 3)
print(_paired_dot(x, x, np.array([0, 1]), np.array([1, 1]))[0])
print(os.environ.get("NUMBA_CACHE_DIR", ""))
"""


def _read_only_install(tmp_path: Path) -> dict[str, str]:
    """A copy of dant_core that cannot hold a __pycache__ and a HOME that cannot exist.

    Made unwritable without relying on permissions (the tests may run as root): the
    __pycache__ path is a file, and the home folder lies under a file.
    """
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "dant_core", site / "dant_core", ignore=shutil.ignore_patterns("__pycache__")
    )
    (site / "dant_core" / "__pycache__").write_text("not a folder")
    (tmp_path / "afile").write_text("")
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_"))}
    env.update(
        PYTHONPATH=str(site),
        PYTHONDONTWRITEBYTECODE="1",
        HOME=str(tmp_path / "afile" / "home"),
        TMPDIR=str(tmp_path / "tmp"),
    )
    return env


def test_the_engine_runs_without_a_writable_install_or_home(tmp_path):
    env = _read_only_install(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    value, cache = proc.stdout.split("\n")[:2]
    assert float(value) == 3.0 * 0 + 4.0 * 1 + 5.0 * 2
    # The kernels were cached in a folder of this user's under the temporary folder.
    assert Path(cache).parent == tmp_path / "tmp"
    assert any(Path(cache).rglob("*.nbi")), list(Path(cache).rglob("*"))
    assert stat.S_IMODE(Path(cache).stat().st_mode) & 0o077 == 0


def test_a_cache_folder_someone_else_can_write_is_not_reused(tmp_path):
    env = _read_only_install(tmp_path)
    uid = os.getuid()
    planted = tmp_path / "tmp" / f"dant-numba-cache-{uid}"
    planted.mkdir()
    planted.chmod(0o777)  # anyone could have put pickles here
    proc = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    cache = Path(proc.stdout.split("\n")[1])
    assert cache != planted and cache.parent == tmp_path / "tmp"
    assert not any(planted.iterdir())


def test_a_writable_install_keeps_numbas_own_choice(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, dant_core; print(os.environ.get('NUMBA_CACHE_DIR', ''))",
        ],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stderr
