"""How much memory the spike-train features of a run need, checked before the run.

The autocorrelogram has 2 * (window / binwidth) + 1 bins and the ISI histogram
window / binwidth bins per unit, float64; the run keeps the histograms, a normalised copy
for the correlations and a per-shank copy (3 arrays), and each Gaussian smoothing kernel
has 8 * sigma / binwidth + 1 weights. With extreme settings (a 0.001 ms bin over a 1 s
window) that is terabytes: numpy then fails with a MemoryError that names no setting.
"""

from __future__ import annotations

import os

FEATURE_COPIES = 3
# Refuse when the spike-train features alone would need more than this part of the memory.
MEMORY_FRACTION = 0.5


def physical_memory_bytes() -> int | None:
    """The machine's physical memory, or None when the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def feature_bins(settings) -> dict[str, int]:
    """Bins per unit of each spike-train histogram ("autoCorr", "ISI") and of its kernel."""
    out = {}
    for section, sides in (("autoCorr", 2), ("ISI", 1)):
        window = float(settings.get(f"{section}.window"))
        binwidth = float(settings.get(f"{section}.binwidth"))
        sigma = float(settings.get(f"{section}.gaussian_sigma"))
        out[section] = sides * int(window // binwidth) + 1
        out[f"{section} kernel"] = 2 * int(4 * sigma / binwidth + 0.5) + 1
    return out


def feature_memory_bytes(n_units: int, settings) -> dict[str, int]:
    """Bytes needed by each spike-train histogram setting section over `n_units` units."""
    bins = feature_bins(settings)
    return {
        section: 8 * (FEATURE_COPIES * n_units * bins[section] + bins[f"{section} kernel"])
        for section in ("autoCorr", "ISI")
    }


def _size(n_bytes: float) -> str:
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes / 1e3:.1f} kB"


def memory_problems(n_units: int, settings, used: set[str], total: int | None = None) -> list[str]:
    """A message per histogram section whose features would not fit in memory."""
    total = physical_memory_bytes() if total is None else total
    if total is None:
        return []
    problems = []
    for section, feature in (("autoCorr", "AutoCorr"), ("ISI", "ISI")):
        if feature not in used and feature != "ISI":  # isi.npy is always written
            continue
        needed = feature_memory_bytes(n_units, settings)[section]
        if needed > MEMORY_FRACTION * total:
            window = settings.get(f"{section}.window")
            binwidth = settings.get(f"{section}.binwidth")
            problems.append(
                f"{section}.window / {section}.binwidth = {window:g} / {binwidth:g} ms: the "
                f"{feature} features of {n_units} units would need {_size(needed)} of memory, "
                f"more than this machine can give; use a larger {section}.binwidth or a "
                f"smaller {section}.window (the defaults are 1 ms bins over "
                f"{'300' if section == 'autoCorr' else '100'} ms)"
            )
    return problems
