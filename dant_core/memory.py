"""How much memory the spike-train features of a run need, checked before the run.

The autocorrelogram has 2 * (window / binwidth) + 1 bins and the ISI histogram
window / binwidth bins per unit, float64; the run keeps the histograms, a normalised copy
for the correlations and a per-shank copy (3 arrays), and each Gaussian smoothing kernel
has 8 * sigma / binwidth + 1 weights. With extreme settings (a 0.001 ms bin over a 1 s
window) that is terabytes: numpy then fails with a MemoryError that names no setting.
"""

from __future__ import annotations

import os

from .errors import SettingProblem

FEATURE_COPIES = 3
# Refuse when the spike-train features alone would need more than this part of the memory.
MEMORY_FRACTION = 0.5


def physical_memory_bytes() -> int | None:
    """The machine's physical memory, or None when the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def feature_bins(params) -> dict[str, int]:
    """Bins per unit of each spike-train histogram ("autoCorr", "ISI") and of its kernel.

    params: the EngineSettings of a run (`Settings.typed()`)."""
    out = {}
    for section, hist, sides in (("autoCorr", params.auto_corr, 2), ("ISI", params.isi, 1)):
        out[section] = sides * int(hist.window // hist.binwidth) + 1
        out[f"{section} kernel"] = 2 * int(4 * hist.gaussian_sigma / hist.binwidth + 0.5) + 1
    return out


def feature_memory_bytes(n_units: int, params) -> dict[str, int]:
    """Bytes needed by each spike-train histogram setting section over `n_units` units."""
    bins = feature_bins(params)
    return {
        section: 8 * (FEATURE_COPIES * n_units * bins[section] + bins[f"{section} kernel"])
        for section in ("autoCorr", "ISI")
    }


def _size(n_bytes: float) -> str:
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}"
    return f"{n_bytes / 1e3:.1f} kB"


def memory_problems(
    n_units: int, params, used: set[str], total: int | None = None
) -> list[SettingProblem]:
    """A problem per histogram section whose features would not fit in memory (about its
    window and bin width); params: the EngineSettings of a run."""
    total = physical_memory_bytes() if total is None else total
    if total is None:
        return []
    problems = []
    for section, feature, hist in (
        ("autoCorr", "AutoCorr", params.auto_corr),
        ("ISI", "ISI", params.isi),
    ):
        if feature not in used and feature != "ISI":  # isi.npy is always written
            continue
        needed = feature_memory_bytes(n_units, params)[section]
        if needed > MEMORY_FRACTION * total:
            message = (
                f"{section}.window / {section}.binwidth = {hist.window:g} / {hist.binwidth:g} "
                f"ms: the {feature} features of {n_units} units would need {_size(needed)} of "
                f"memory, more than this machine can give; use a larger {section}.binwidth or a "
                f"smaller {section}.window (the defaults are 1 ms bins over "
                f"{'300' if section == 'autoCorr' else '100'} ms)"
            )
            problems.append(
                SettingProblem(
                    f"{section}.binwidth", message, (f"{section}.window",), message=message
                )
            )
    return problems
