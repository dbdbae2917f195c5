"""`python -m dant_core.engine_compile` fills an empty numba cache with the kernels a run
needs (what the window starts in the background on the first start after installing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHED = "from dant_core.features import kernels_are_cached; print(kernels_are_cached())"


def test_compiling_fills_an_empty_cache(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(ROOT)}

    def python(*args):
        done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert python("-c", CACHED) == "False"
    assert python("-m", "dant_core.engine_compile").startswith("Engine compiled in")
    assert python("-c", CACHED) == "True"
