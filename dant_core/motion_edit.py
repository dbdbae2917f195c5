"""A motion edited by the user, and a run that starts from it (the drift view's editor).

The edited motion is saved as a manual motion file in the data folder (a new,
time-stamped file each time, so no earlier edit or file of the user's is overwritten),
and the run reads it through `waveformCorrection.path_to_motion`, which starts the motion
loop from it (docs/method.md §5). The saved settings.json of that run names the file: the
edited curve stays in the run's record.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .atomic_file import create_temp_beside
from .motion import Motion, correct_waveforms
from .settings import Settings

EDIT_PREFIX = "dant_edited_motion_"


def save_edited_motion(data_folder: Path, motion: Motion) -> Path:
    """Write `motion` as a (2, S) [linear k; constant b] manual motion file into the data
    folder under a new time-stamped name, atomically; the path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = Path(data_folder) / f"{EDIT_PREFIX}{stamp}.npy"
    n = 1
    while target.exists():  # two edits in one second: never overwrite the first
        target = Path(data_folder) / f"{EDIT_PREFIX}{stamp}_{n}.npy"
        n += 1
    fd, tmp = create_temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.vstack((motion.linear, motion.constant)).astype(np.float64))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def settings_from_motion(settings: Settings, motion_file: Path) -> tuple[Settings, str]:
    """A copy of `settings` whose run starts from `motion_file`, and a sentence saying what
    changed. The start is not chosen by evidence (the user chose it). The motion passes
    before the first one that compares waveforms are left out: they do not use the
    starting motion (their features do not depend on position), and the engine refuses a
    manual motion before them."""
    out = settings.copy()
    out.set("waveformCorrection.path_to_motion", str(motion_file))
    # Start from the user's motion itself, not from whichever start the evidence pass
    # prefers (it may prefer the registration): with any start but "evidence", a manual
    # motion is the start.
    if out.get("motionEstimation.initial_motion") == "evidence":
        out.set("motionEstimation.initial_motion", "registration")
    sets = [list(f) for f in settings.get("motionEstimation.features")]
    first = next((i for i, f in enumerate(sets) if "Waveform" in f), None)
    if first is None:  # no waveform pass: the final clustering's features start the loop
        sets = [list(settings.get("clustering.features"))]
        first = 0
    note = f"the run starts from the edited motion ({motion_file.name})"
    if first > 0:
        dropped = ", ".join("[" + ", ".join(f) + "]" for f in sets[:first])
        note += f"; motion passes without waveforms left out: {dropped}"
    out.set("motionEstimation.features", sets[first:])
    return out, note


def recorrect(
    waveforms: np.ndarray,
    depth: np.ndarray,
    sessions: np.ndarray,
    motion: Motion,
    channel_locations: np.ndarray,
) -> np.ndarray:
    """Waveforms (n, n_channel, n_sample) of a few units moved by `motion` to the reference
    position (one Kriging template): what the engine would compare, (n, n_channel, n_sample)."""
    if len(waveforms) == 0:
        return np.zeros_like(waveforms, dtype=np.float32)
    return correct_waveforms(waveforms, depth, sessions, motion, channel_locations, 1)[0]
