"""DANT tracking engine: density-based across-day neuron tracking (numpy/scipy/numba only)."""

from .numba_cache import ensure_cache_folder

__version__ = "0.1.0"

# Before any kernel module imports numba: a read-only install without a writable home
# would otherwise fail at import (numba finds no folder for its kernel cache).
ensure_cache_folder()
