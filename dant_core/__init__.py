"""DANT tracking engine: density-based across-day neuron tracking (numpy/scipy/numba only)."""

__version__ = "0.1.0"
