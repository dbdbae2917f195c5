"""A data folder read far enough to show a result made from it, in a fraction of a second.

`load_dataset` reads and checks everything a run needs: every spike-time file, every value
of the waveforms, the plausibility checks and the folder's fingerprint (20,000 units: tens
of seconds). Showing a finished result needs none of that: its clusters, motion and
features are in the result folder; from the data folder it takes the unit count, the
sessions, the probe and the waveforms of the units the user looks at. `preview_dataset`
reads those (the waveforms memory-mapped, the small files checked as load_dataset checks
them) and leaves spike_times empty and fingerprint None; the window then runs
`load_dataset` behind, to check the folder and for the changed-data warning, and keeps
the preview (the whole dataset is 1.2 GB at 20,000 units): a run reads the folder whole
again (`read_whole`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import (
    WAVEFORMS,
    Dataset,
    _check_npy_size,
    _load_channel_locations,
    _load_channel_shanks,
    _load_peth,
    _load_sessions,
    load_dataset,
)
from .errors import DatasetError


def preview_dataset(folder) -> Dataset:
    """The data folder as a result viewer needs it: waveforms (n_unit, n_channel, n_sample)
    float32 memory-mapped read-only, sessions, channels, PETH; no spike times. A folder that
    is not laid out as expected is read by `load_dataset` instead, whose messages say
    what is wrong (DatasetError)."""
    folder = Path(folder)
    waveforms = _mapped_waveforms(folder)
    if waveforms is None:
        return load_dataset(folder)
    n_unit, n_channel, _ = waveforms.shape
    shanks, has_shank_file = _load_channel_shanks(folder, n_channel)
    return Dataset(
        folder=folder.absolute(),
        waveforms=waveforms,
        sessions=_read_only(_load_sessions(folder, n_unit)),
        channel_locations=_read_only(_load_channel_locations(folder, n_channel)),
        channel_shanks=_read_only(shanks),
        has_shank_file=has_shank_file,
        spike_times=(),
        peth=_read_only(_load_peth(folder, n_unit)),
    )


def is_preview(dataset: Dataset) -> bool:
    """Whether `dataset` is a preview_dataset (no spike times for its units)."""
    return dataset.n_units > 0 and len(dataset.spike_times) == 0


def read_whole(dataset: Dataset) -> Dataset:
    """The dataset a run needs: `dataset` itself, or for a preview, its folder read whole
    (load_dataset; DatasetError when the folder has a problem)."""
    return load_dataset(dataset.folder) if is_preview(dataset) else dataset


def _read_only(array):
    if array is not None:
        array.setflags(write=False)
    return array


def _mapped_waveforms(folder: Path) -> np.ndarray | None:
    """waveform_all.npy mapped, when it is a non-empty 3-D float32 C-ordered array; None
    otherwise (load_dataset then reads it, converts it or says what is wrong)."""
    path = folder / WAVEFORMS
    if not path.is_file():
        return None
    try:
        _check_npy_size(path, WAVEFORMS, "mean waveforms")
        waveforms = np.load(path, mmap_mode="r", allow_pickle=False)
    except (DatasetError, OSError, ValueError):
        return None
    if (
        not isinstance(waveforms, np.ndarray)
        or waveforms.dtype != np.float32
        or waveforms.ndim != 3
        or 0 in waveforms.shape
        or not waveforms.flags.c_contiguous
    ):
        return None
    return waveforms
