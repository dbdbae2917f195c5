"""A loaded result's centred waveforms, centred when read instead of copied whole.

A run centres every mean waveform once (`features.center_waveforms`, a new float32 array
as large as waveform_all.npy: 0.7 GB at 20,000 units). A result read back for the window
only ever shows some units, so `CenteredWaveforms` keeps the data folder's waveforms and
centres the units indexed, with the same function (the same values).
"""

from __future__ import annotations

import numpy as np

from .features import center_waveforms


class CenteredWaveforms:
    """Array-like (n_unit, n_channel, n_sample) float32: `raw` centred on `peak_channels`.

    Indexing along the units (an int, a slice, an index or boolean array, optionally with
    more axes after) centres only those units; np.asarray() centres all of them.
    """

    ndim = 3
    dtype = np.dtype(np.float32)

    def __init__(self, raw: np.ndarray, peak_channels: np.ndarray):
        self.raw = raw
        self.peak_channels = np.asarray(peak_channels)
        self.shape = tuple(raw.shape)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        units = np.arange(self.shape[0])[key]
        if np.ndim(units) == 0:
            out = center_waveforms(self.raw[[int(units)]], self.peak_channels[[int(units)]])[0]
        else:
            out = center_waveforms(self.raw[units], self.peak_channels[units])
            rest = (slice(None), *rest) if rest else ()
        return out[rest] if rest else out

    def __array__(self, dtype=None, copy=None):
        out = center_waveforms(self.raw, self.peak_channels)
        return out if dtype is None else out.astype(dtype, copy=False)
