"""Compile the engine's numba kernels ahead of the first run (`python -m dant_core.engine_compile`).

numba compiles each kernel the first time a process calls it and keeps the machine code in
its on-disk cache (numba_cache.py says where). After installing, the first tracking run
therefore spends ~20 s compiling. The window starts this module in a separate process as
soon as it opens when the cache is empty, so the compilation happens while the user is
still choosing a folder — in a process of its own because compiling holds Python's GIL,
which would freeze the window's thread.

It tracks a tiny synthetic recording with the default settings, which calls every kernel
a default run calls, and discards the result.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

TINY_DEMO = {"n_units": 40, "n_sessions": 4, "seed": 0}  # small, but every stage runs


def compile_engine() -> float:
    """Track a tiny demo once (the kernels are compiled and cached); seconds it took."""
    from .dataset import load_dataset
    from .numba_cache import ensure_cache_folder
    from .pipeline import run_tracking
    from .settings import Settings
    from .synthetic import make_demo

    ensure_cache_folder()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dant_compile_") as tmp:
        folder = Path(tmp) / "data"
        make_demo(folder, **TINY_DEMO)
        run_tracking(load_dataset(folder), Settings.defaults())
    return time.perf_counter() - started


def main() -> int:
    seconds = compile_engine()
    print(f"Engine compiled in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
