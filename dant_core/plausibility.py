"""Physical plausibility of a data folder: the classic unit and geometry mistakes.

A file can have the right shape and still mean something else: probe positions in mm, x and
y swapped, a shuffled channel map, spike times in seconds or in samples, a waveform baseline
far from 0 µV, spikes written twice. Each runs to completion and gives a meaningless
result, so these checks compare the data with what physics allows. What cannot be right is
refused (`DatasetError` naming the file and the likely mistake); what is likely a mistake
but possible is a warning. docs/errors.md lists each check with the physics behind it.

Every check is cheap next to a run: at most `MAX_UNITS_CHECKED` units (evenly spaced) are
read for the waveform checks; the spike-time checks read each unit's times once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DatasetError

WAVEFORMS = "waveform_all.npy"
CHANNEL_LOCATIONS = "channel_locations.npy"
CHANNEL_SHANKS = "channel_shanks.npy"
SPIKE_TIMES = "spike_times"

# -- geometry ------------------------------------------------------------------------------
# Contacts are metal pads about 10 µm wide; no probe places two centres closer than ~5 µm
# (Neuropixels Ultra: 6 µm), and silicon probes space them 15-40 µm (NP1: 16/32 µm across,
# 20 µm rows; NP2: 32 µm across, 15 µm rows). Below 1 µm the numbers are not µm.
MIN_PITCH_UM = 1.0
# Above this the neighbouring contacts are farther apart than on any dense probe (warning).
MAX_PITCH_UM = 100.0
# A shank is at most ~100 µm wide (NP1 70 µm, NP2 70 µm); contacts spanning more than this
# across one shank, while spanning less in depth, means the columns are swapped.
MAX_SHANK_WIDTH_UM = 200.0
# Without channel_shanks.npy, columns of contacts more than this apart in x are taken as
# separate shanks for the width check: within a shank, columns are at most ~50 µm apart;
# between shanks (150-250 µm apart on multi-shank probes) the gap is larger.
SHANK_GAP_UM = 60.0
# A shank with at least this many contacts all at one depth cannot show drift along it.
MIN_CONTACTS_FLAT = 4

# -- footprints ----------------------------------------------------------------------------
# The extracellular potential of a spike decays smoothly with distance, over tens of µm:
# a contact 15-30 µm from the peak contact sees a large part of the peak amplitude. With
# positions that do not belong to the channels, the "neighbours" of the peak are random
# contacts. A unit is smooth when its peak's neighbours (within NEIGHBOUR_UM) carry on
# average SMOOTH_MARGIN more of the peak amplitude than the shank's contacts in general.
NEIGHBOUR_UM = 50.0
N_NEIGHBOURS = 2
SMOOTH_MARGIN = 0.1
MIN_UNITS_FOOTPRINT = 20  # fewer units give no reliable verdict
MIN_CONTACTS_FOOTPRINT = 8
# Real data: every unit smooth (1.0 on the fixtures and the demo); a shuffled map: 0.13-0.32.
SMOOTH_REFUSE = 0.4  # at most this fraction smooth: the map is shuffled
SMOOTH_WARN = 0.8  # below this: part of the map is likely wrong (e.g. rows in another order)
MAX_UNITS_CHECKED = 2000

# -- waveform baseline ---------------------------------------------------------------------
# Mean waveforms of high-pass filtered data sit at 0 µV away from the spike (the fixtures
# and the demo: < 0.1 of the peak-to-peak amplitude in 99% of units). A channel's median
# further from 0 than half the unit's peak-to-peak amplitude is an offset, not a spike.
BASELINE_RATIO = 0.5
BASELINE_UNIT_FRACTION = 0.1  # warn when at least this fraction of units shows it

# -- spike times ---------------------------------------------------------------------------
# After a spike a neuron cannot fire for about 1 ms (absolute refractory period), so no
# neuron fires faster than ~1000 spikes/s: a typical median inter-spike interval below
# 1 ms is impossible in ms, and exactly what seconds give (0.01-1 s read as ms).
MIN_MEDIAN_ISI_MS = 1.0
# A session for tracking records minutes to hours; spikes spanning under a minute in ms are
# an hour of recording in seconds (warning: a short test recording is possible).
SHORT_SESSION_S = 60.0
MIN_UNITS_TIMING = 5  # units with at least MIN_SPIKES_TIMING spikes needed for a verdict
MIN_SPIKES_TIMING = 10
# Sorters store spike times as sample indices (whole numbers, 30 per ms on Neuropixels);
# a session of 6 minutes in samples reads as 3 hours in ms.
LONG_SESSION_H = 3.0
# A neuron cannot fire twice at the same instant: exact repeats are a sorter glitch when
# rare, and the file written twice when they are this large a fraction of all spikes.
DUPLICATE_REFUSE = 0.1


@dataclass
class Findings:
    """What the checks found: `refusals` (cannot be right) and `warnings` (likely mistakes)."""

    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_refusals(self) -> None:
        if len(self.refusals) == 1:
            raise DatasetError(self.refusals[0])
        if self.refusals:
            raise DatasetError(
                "the data folder holds mistakes that make tracking meaningless:\n"
                + "\n".join(f"  - {r}" for r in self.refusals)
            )


def _fmt(value: float) -> str:
    return f"{value:.3g}"


# ------------------------------------------------------------------------------------------
# geometry


def _shank_groups(locations: np.ndarray, shanks: np.ndarray, has_shank_file: bool):
    """(label, channel indices) for each shank; without a shank file, x gaps split them."""
    for sid in np.unique(shanks):
        channels = np.flatnonzero(shanks == sid)
        label = f"shank {int(sid)}" if has_shank_file else "the probe"
        if has_shank_file:
            yield label, channels
            continue
        xs = np.unique(locations[channels, 0])
        cuts = xs[1:][np.diff(xs) > SHANK_GAP_UM]
        if cuts.size == 0:
            yield label, channels
            continue
        group = np.searchsorted(cuts, locations[channels, 0], side="right")
        for g in range(cuts.size + 1):
            yield (
                f"the contacts at x {_fmt(locations[channels[group == g], 0].min())}-"
                + (f"{_fmt(locations[channels[group == g], 0].max())} µm"),
                channels[group == g],
            )


def _nearest_distances(locations: np.ndarray, shanks: np.ndarray) -> np.ndarray:
    """(n_channel, n_channel) distances in the file's units; inf across shanks and to self."""
    d = np.sqrt(((locations[:, None, :] - locations[None, :, :]) ** 2).sum(axis=2))
    d[shanks[:, None] != shanks[None, :]] = np.inf
    np.fill_diagonal(d, np.inf)
    return d


def check_geometry(locations, shanks, has_shank_file: bool, found: Findings) -> np.ndarray | None:
    """Pitch, duplicates, swapped axes; returns the distance matrix for the footprint check
    (None when the geometry was refused or has a single channel)."""
    n = locations.shape[0]
    if n < 2:
        return None
    if (locations == locations[0]).all():
        found.refusals.append(
            f"{CHANNEL_LOCATIONS}: all {n} channels are at the same position "
            f"({_fmt(locations[0, 0])}, {_fmt(locations[0, 1])}); DANT needs each contact's "
            "own x, y in µm to locate the units and their drift"
        )
        return None
    d = _nearest_distances(locations, shanks)
    nearest = d.min(axis=1)
    same = nearest == 0
    positive = nearest[np.isfinite(nearest) & ~same]
    if positive.size:
        pitch = float(np.median(positive))
        if pitch < MIN_PITCH_UM:
            unit, factor = ("mm", "1000") if pitch * 1000 >= MIN_PITCH_UM else ("m", "1e6")
            found.refusals.append(
                f"{CHANNEL_LOCATIONS}: neighbouring contacts are only {_fmt(pitch)} apart "
                "(median), less than a contact's width if that were µm, but contacts on a "
                f"probe are a few µm to 100 µm apart; the positions look like {unit}, not µm: "
                f"multiply them by {factor}"
            )
            return None
        if pitch > MAX_PITCH_UM:
            found.warnings.append(
                f"{CHANNEL_LOCATIONS}: neighbouring contacts are {_fmt(pitch)} µm apart "
                "(median), farther than on Neuropixels and other dense probes (15-40 µm); "
                "check that the positions are in µm"
            )
    if same.any():
        a = int(np.flatnonzero(same)[0])
        b = int(np.flatnonzero(d[a] == 0)[0])
        found.warnings.append(
            f"{CHANNEL_LOCATIONS}: {int(same.sum())} channels share their position with "
            f"another channel (first: channels {a} and {b} at ({_fmt(locations[a, 0])}, "
            f"{_fmt(locations[a, 1])}) µm); each contact of a probe has its own position"
        )
    swapped = len(found.refusals)
    for label, channels in _shank_groups(locations, shanks, has_shank_file):
        if channels.size < 2:
            continue
        x, y = locations[channels, 0], locations[channels, 1]
        width, depth = float(np.ptp(x)), float(np.ptp(y))
        if width > MAX_SHANK_WIDTH_UM and depth <= MAX_SHANK_WIDTH_UM and width > depth:
            found.refusals.append(
                f"{CHANNEL_LOCATIONS}: the contacts of {label} span {_fmt(width)} µm across "
                f"(x, column 0) but only {_fmt(depth)} µm in depth (y, column 1); a shank is "
                "at most about 100 µm wide, so x and y look swapped: column 0 must be x "
                "across the shank and column 1 the depth along it"
            )
        elif width > MAX_SHANK_WIDTH_UM:
            found.refusals.append(
                f"{CHANNEL_LOCATIONS}: the contacts of {label} span {_fmt(width)} µm across "
                "(x, column 0), but a shank is at most about 100 µm wide; the positions"
                + (f" or {CHANNEL_SHANKS}" if has_shank_file else "")
                + " do not belong to these channels: row k must hold the x, y of waveform "
                "channel k"
            )
        elif depth == 0 and channels.size >= MIN_CONTACTS_FLAT:
            found.refusals.append(
                f"{CHANNEL_LOCATIONS}: all {channels.size} contacts of {label} are at the same "
                f"depth (y = {_fmt(y[0])} µm), so drift along the probe cannot be measured; "
                "column 1 must be each contact's depth in µm"
            )
        if len(found.refusals) > swapped:
            return None
    return d


def check_footprints(waveforms: np.ndarray, distances: np.ndarray, found: Findings) -> None:
    """Refuse or warn when the spikes' footprints are not smooth along the probe."""
    n_unit = waveforms.shape[0]
    units = np.unique(np.linspace(0, n_unit - 1, min(n_unit, MAX_UNITS_CHECKED)).astype(int))
    ptp = _peak_to_peak(waveforms, units)
    peak = ptp.argmax(axis=1)
    top = ptp[np.arange(units.size), peak]
    keep = top > 0
    # Neighbours of each channel within NEIGHBOUR_UM, nearest first.
    order = np.argsort(distances, axis=1)[:, :N_NEIGHBOURS]
    close = np.take_along_axis(distances, order, axis=1) <= NEIGHBOUR_UM
    on_shank = np.isfinite(distances).sum(axis=1) + 1
    keep &= close[peak].any(axis=1) & (on_shank[peak] >= MIN_CONTACTS_FOOTPRINT)
    if keep.sum() < MIN_UNITS_FOOTPRINT:
        return
    rel = ptp[keep] / top[keep, None]
    peak = peak[keep]
    rows = np.arange(rel.shape[0])
    near = np.where(close[peak], rel[rows[:, None], order[peak]], np.nan)
    near = np.nanmean(near, axis=1)
    shank_mask = np.isfinite(distances[peak])  # other contacts of the peak's shank
    chance = (rel * shank_mask).sum(axis=1) / shank_mask.sum(axis=1)
    smooth = float(np.mean(near > chance + SMOOTH_MARGIN))
    if smooth > SMOOTH_WARN:
        return
    text = (
        f"{CHANNEL_LOCATIONS}: for {100 * (1 - smooth):.0f}% of {rel.shape[0]} units the "
        "contacts next to the peak channel see no more of the spike than other contacts of "
        "the shank, but a spike's amplitude decays smoothly over tens of µm"
    )
    if smooth <= SMOOTH_REFUSE:
        found.refusals.append(
            f"{text}; the positions do not belong to the channels of {WAVEFORMS} (a shuffled "
            "channel map): save the x, y of waveform channel k in row k"
        )
    else:
        found.warnings.append(
            f"{text}; check that row k holds the position of waveform channel k (the channel map)"
        )


def _peak_to_peak(waveforms: np.ndarray, units: np.ndarray) -> np.ndarray:
    """(len(units), n_channel) float64 peak-to-peak µV, read in chunks."""
    out = np.empty((units.size, waveforms.shape[1]))
    for start in range(0, units.size, 256):
        block = waveforms[units[start : start + 256]]
        out[start : start + 256] = block.max(axis=2) - block.min(axis=2)
    return out


def check_baseline(waveforms: np.ndarray, found: Findings) -> None:
    """Warn when many units sit on a DC offset (a channel's median far from 0 µV)."""
    n_unit = waveforms.shape[0]
    units = np.unique(np.linspace(0, n_unit - 1, min(n_unit, MAX_UNITS_CHECKED)).astype(int))
    ratios = np.zeros(units.size)
    for start in range(0, units.size, 256):
        block = np.asarray(waveforms[units[start : start + 256]], dtype=np.float64)
        amp = (block.max(axis=2) - block.min(axis=2)).max(axis=1)
        offset = np.abs(np.median(block, axis=2)).max(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[start : start + 256] = np.where(amp > 0, offset / amp, 0.0)
    high = np.flatnonzero(ratios > BASELINE_RATIO)
    if high.size and high.size >= BASELINE_UNIT_FRACTION * units.size:
        found.warnings.append(
            f"{WAVEFORMS}: {high.size} of {units.size} units have a channel whose median is "
            f"far from 0 µV (up to {ratios.max():.1f} times the spike's peak-to-peak amplitude; "
            f"first: unit {int(units[high[0]])}); mean waveforms of high-pass filtered data sit "
            "at 0 µV away from the spike: subtract each channel's median (a DC offset changes "
            "the waveform similarity)"
        )


# ------------------------------------------------------------------------------------------
# spike times


def check_spike_times(
    spike_times, sessions: np.ndarray, integer_files: int, found: Findings
) -> None:
    """Seconds, samples and duplicated spikes. integer_files: files stored with an integer
    dtype (as sorters store sample indices)."""
    medians = []
    duplicates = np.zeros(len(spike_times), dtype=np.int64)
    whole = True
    n_spikes = 0
    n_session = int(sessions.max())
    first = np.full(n_session + 1, np.inf)
    last = np.full(n_session + 1, -np.inf)
    for k, t in enumerate(spike_times):
        if t.size == 0:
            continue
        n_spikes += t.size
        if whole and not (t == np.round(t)).all():
            whole = False
        s = sessions[k]
        first[s] = min(first[s], float(t.min()))
        last[s] = max(last[s], float(t.max()))
        if t.size < 2:
            continue
        isi = np.diff(t)
        if (isi < 0).any():
            isi = np.diff(np.sort(t))
        duplicates[k] = int(np.count_nonzero(isi == 0))
        if t.size - duplicates[k] >= MIN_SPIKES_TIMING:  # repeats are reported on their own
            medians.append(float(np.median(isi[isi > 0])))
    if len(medians) >= MIN_UNITS_TIMING:
        typical = float(np.median(medians))
        if typical < MIN_MEDIAN_ISI_MS:
            found.refusals.append(
                f"{SPIKE_TIMES}/: the median inter-spike interval is {_fmt(typical)} ms "
                f"(median over {len(medians)} units), faster than 1,000 spikes/s, which the "
                "refractory period (about 1 ms) does not allow; the spike times look like "
                "seconds, not ms: multiply them by 1000"
            )
    total = int(duplicates.sum())
    if total:
        units = np.flatnonzero(duplicates)
        if total >= DUPLICATE_REFUSE * n_spikes:
            found.refusals.append(
                f"{SPIKE_TIMES}/: {100 * total / n_spikes:.0f}% of all spikes repeat another "
                f"spike of the same unit at exactly the same time (first: Unit{units[0]}.npy); "
                "a neuron cannot fire twice at once, so the spike times look written twice: "
                "keep each time once (np.unique)"
            )
        else:
            found.warnings.append(
                f"{SPIKE_TIMES}/: {units.size} unit(s) have {total} spike(s) at exactly the "
                f"same time as another of their spikes (first: Unit{units[0]}.npy); a neuron "
                "cannot fire twice at once: their AutoCorr and ISI count them as 0-ms intervals"
            )
    spans = (last - first)[1:]
    spans = spans[np.isfinite(spans)]
    longest_h = float(spans.max()) / 3.6e6 if spans.size else 0.0
    refused = any(r.startswith(f"{SPIKE_TIMES}/: the median") for r in found.refusals)
    if len(medians) >= MIN_UNITS_TIMING and longest_h * 3600 < SHORT_SESSION_S and not refused:
        found.warnings.append(
            f"{SPIKE_TIMES}/: the longest session lasts only {longest_h * 3600:.3g} s if the "
            f"spike times are ms (from the first to the last spike of its units); sessions "
            "for tracking last minutes to hours, so the spike times look like seconds: "
            "multiply them by 1000"
        )
    if whole and n_spikes and (integer_files or longest_h > LONG_SESSION_H):
        stored = " and stored as integers" if integer_files else ""
        found.warnings.append(
            f"{SPIKE_TIMES}/: every spike time is a whole number{stored}, and the longest "
            f"session would last {longest_h:.1f} h if they were ms; they look like sample "
            "indices: DANT expects ms, so divide them by the sampling rate in kHz (30 for "
            "Neuropixels)"
        )


def check_dataset(dataset, integer_files: int = 0) -> Findings:
    """Every plausibility check on a loaded Dataset."""
    found = Findings()
    distances = check_geometry(
        dataset.channel_locations, dataset.channel_shanks, dataset.has_shank_file, found
    )
    if distances is not None:
        check_footprints(dataset.waveforms, distances, found)
    check_baseline(dataset.waveforms, found)
    check_spike_times(dataset.spike_times, dataset.sessions, integer_files, found)
    return found
