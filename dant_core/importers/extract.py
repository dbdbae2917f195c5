"""Mean waveforms from a raw recording: only the windows needed, in file order, on all cores.

The spikes of a batch of units are sorted by time and read from the memory-mapped file in
that order, each thread summing its own slice of channels, so the file is read front to back
once per batch, the memory is the batch's sums (bounded), and no window is copied. The
high-pass filter is linear, so it is applied to each unit's mean window (padded against its
edge effects) instead of to every spike: the same result as averaging filtered windows.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange
from scipy import signal

from ..progress import CancelToken, ProgressFn, no_progress
from .common import N_SAMPLE, OUTPUT_RATE, SPIKE_SAMPLE, resample_to_output

HIGHPASS_HZ = 300.0  # Kilosort's high-pass corner
HIGHPASS_ORDER = 3
PAD_MS = 1.0  # extra window each side, absorbs the filter's edge effects
MEMORY_BUDGET = 256 * 2**20  # bytes of per-unit sums held at once
BLOCK_SPIKES = 4096  # spikes per kernel call: progress and cancel between calls
STAGE = "Extracting waveforms"


@njit(cache=True, nogil=True, parallel=True)
def _accumulate(raw, starts, slots, channels, first, n_win, n_part, sums):
    """sums[slot, t, c] += raw[start + t, channels[c]] for each spike (start, slot).

    raw (n_samples, n_file_channels) any numeric dtype; starts, slots (n_spike,) int64, starts
    ascending; channels (n_sel,) int64; first: channels[0] when the channels are the
    contiguous file channels first.., else -1 (then a slice replaces the gather); sums
    (n_slot, n_win, n_sel) float32 (exact for sums below 2**24; ~1e-7 relative beyond).
    Thread p owns channels [p n_sel / n_part, (p + 1) n_sel / n_part): no two threads write
    the same sum.
    """
    n_sel = channels.size
    for p in prange(n_part):
        c0 = p * n_sel // n_part
        c1 = (p + 1) * n_sel // n_part
        for i in range(starts.size):
            s = starts[i]
            u = slots[i]
            for t in range(n_win):
                row = s + t
                if first >= 0:
                    for c in range(c0, c1):
                        sums[u, t, c] += raw[row, first + c]
                else:
                    for c in range(c0, c1):
                        sums[u, t, c] += raw[row, channels[c]]


def window_geometry(sample_rate: float, padded: bool = True) -> tuple[int, int, int]:
    """(samples before the spike, after it, padding each side) read at `sample_rate` so that
    the output grid (N_SAMPLE at OUTPUT_RATE, spike at SPIKE_SAMPLE) is covered; padding
    only for the high-pass filter."""
    before = math.ceil(SPIKE_SAMPLE * sample_rate / OUTPUT_RATE) + 1
    after = math.ceil((N_SAMPLE - 1 - SPIKE_SAMPLE) * sample_rate / OUTPUT_RATE) + 1
    pad = math.ceil(PAD_MS * 1e-3 * sample_rate) if padded else 0
    return before, after, pad


def mean_windows(
    raw: np.ndarray,
    spikes: list[np.ndarray],
    channels: np.ndarray,
    sample_rate: float,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    padded: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean raw window of each unit: ((n_unit, n_win, n_sel) float64 in raw units, (n_unit,)
    spikes averaged).

    raw (n_samples, n_file_channels) mapped file; spikes: per unit the sample indices to
    average (spikes whose window leaves the file are skipped and not counted); channels
    (n_sel,) file channels to read; padded: read the filter's padding too.
    """
    before, after, pad = window_geometry(sample_rate, padded)
    n_win = pad + before + 1 + after + pad
    lead = pad + before
    n_samples = raw.shape[0]
    channels = np.ascontiguousarray(channels, dtype=np.int64)
    n_unit = len(spikes)
    kept = []
    for s in spikes:
        s = np.asarray(s, dtype=np.int64)
        kept.append(s[(s - lead >= 0) & (s - lead + n_win <= n_samples)])
    counts = np.array([k.size for k in kept], dtype=np.int64)
    means = np.zeros((n_unit, n_win, channels.size))
    contiguous = channels.size > 0 and bool(
        (np.diff(channels) == 1).all() if channels.size > 1 else True
    )
    first = int(channels[0]) if contiguous else -1
    per_unit = n_win * channels.size * 4
    batch = max(1, MEMORY_BUDGET // max(per_unit, 1))
    total = int(counts.sum())
    done = 0
    n_part = max(1, min(numba.get_num_threads() * 2, channels.size))
    progress(STAGE, 0, total)
    for b0 in range(0, n_unit, batch):
        units = range(b0, min(n_unit, b0 + batch))
        starts = np.concatenate([kept[u] for u in units]) - lead
        slots = np.concatenate([np.full(kept[u].size, u - b0, np.int64) for u in units])
        order = np.argsort(starts, kind="stable")
        starts, slots = starts[order], slots[order]
        sums = np.zeros((len(units), n_win, channels.size), dtype=np.float32)
        for i in range(0, starts.size, BLOCK_SPIKES):
            if cancel is not None:
                cancel.check()
            j = min(starts.size, i + BLOCK_SPIKES)
            _accumulate(raw, starts[i:j], slots[i:j], channels, first, n_win, n_part, sums)
            done += j - i
            progress(STAGE, done, total)
        means[b0 : b0 + len(units)] = (
            sums / np.maximum(counts[b0 : b0 + len(units)], 1)[:, None, None]
        )
    progress(STAGE, total, total)
    return means, counts


def finish_waveforms(
    means: np.ndarray, sample_rate: float, uv_per_bit: np.ndarray, highpass: bool
) -> np.ndarray:
    """Mean raw windows (n_unit, n_win, n_sel) -> waveforms (n_unit, n_sel, N_SAMPLE) float32 µV
    on the output grid: baseline (per-channel median) removed, high-passed when the file is
    not, padding cut, scaled by uv_per_bit (n_sel,), resampled to OUTPUT_RATE. The windows
    were read padded exactly when `highpass`."""
    before, after, pad = window_geometry(sample_rate, highpass)
    w = np.transpose(means, (0, 2, 1)).astype(np.float64)  # (n_unit, n_sel, n_win)
    w = w - np.median(w, axis=2, keepdims=True)
    if highpass and w.size:
        sos = signal.butter(
            HIGHPASS_ORDER, HIGHPASS_HZ, btype="highpass", fs=sample_rate, output="sos"
        )
        w = signal.sosfiltfilt(sos, w, axis=2)
    w = w[:, :, pad : pad + before + 1 + after]
    w = w * uv_per_bit[None, :, None]
    return resample_to_output(w, sample_rate, before)
