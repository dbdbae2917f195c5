"""What every importer shares: the output time grid, the per-session result, the error type.

Every session ends as a `SessionData`: its units' mean waveforms in µV on the session's own
channels, on one time grid (82 samples at 30 kHz, the spike time at sample 40, where the
engine puts the trough), and spike times in ms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DantError

OUTPUT_RATE = 30000.0  # Hz of the written waveforms
N_SAMPLE = 82  # samples per written waveform (Kilosort's and UnitMatch's window)
SPIKE_SAMPLE = 40  # 0-based sample of the spike time: ceil(N_SAMPLE / 2) - 1, the engine's trough
DEFAULT_LABELS = ("good",)
DEFAULT_MAX_SPIKES = 1000  # spikes averaged per unit (UnitMatch's default too)


class ImportDataError(DantError):
    """A session folder cannot be imported as it is; the message names the folder or file."""


@dataclass
class ImportOptions:
    """How to import. labels: unit labels to keep (("all",) keeps every unit); raw_paths: an
    explicit raw recording per session (None to search); uv_per_bit: µV per raw bit when no
    .meta / structure.oebin says it; sample_rate: Hz when a folder has no params.py."""

    labels: tuple[str, ...] = DEFAULT_LABELS
    raw_paths: tuple[Path | None, ...] = ()
    uv_per_bit: float | None = None
    sample_rate: float | None = None
    max_spikes: int = DEFAULT_MAX_SPIKES
    seed: int = 0

    def raw_path(self, session: int) -> Path | None:
        """The explicit raw file of 0-based session `session`, or None."""
        if session < len(self.raw_paths) and self.raw_paths[session]:
            return Path(self.raw_paths[session])
        return None

    def keeps(self, label: str) -> bool:
        return "all" in self.labels or label in self.labels


@dataclass
class SessionData:
    """One imported session.

    waveforms (n_unit, n_channel, N_SAMPLE) float32 µV on this session's channels;
    positions (n_channel, 2) float64 µm (x, y = depth); shanks (n_channel,) int64;
    spike_times: per unit float64 ms; units: one dict per unit for units.tsv (cluster_id,
    label, n_spikes, spikes_used, ...); info: what was read and how, for import.json.
    """

    folder: Path
    format: str
    sample_rate: float
    waveforms: np.ndarray
    positions: np.ndarray
    shanks: np.ndarray
    spike_times: list[np.ndarray]
    units: list[dict]
    info: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    peth: np.ndarray | None = None  # (n_unit, n_point) when the source has PETHs
    name_suffix: str = ""  # tells apart several sessions read from one file

    @property
    def name(self) -> str:
        return f"{self.folder.name} {self.name_suffix}".strip()


def output_times(sample_rate: float, n_before: float) -> np.ndarray:
    """Positions (in samples of a waveform sampled at `sample_rate` whose spike time is at
    sample `n_before`) of the N_SAMPLE output samples; for resampling onto the output grid."""
    t = (np.arange(N_SAMPLE) - SPIKE_SAMPLE) / OUTPUT_RATE
    return n_before + t * sample_rate


def resample_to_output(waveforms: np.ndarray, sample_rate: float, n_before: float) -> np.ndarray:
    """(n_unit, n_channel, n_time) at `sample_rate`, spike time at sample `n_before` ->
    (n_unit, n_channel, N_SAMPLE) float32 on the output grid (linear interpolation, edge
    values outside). Exact copy when the grids coincide."""
    n_time = waveforms.shape[-1]
    pos = output_times(sample_rate, n_before)
    if np.allclose(pos, np.round(pos)) and pos[0] >= 0 and pos[-1] <= n_time - 1:
        return np.ascontiguousarray(waveforms[..., np.round(pos).astype(np.intp)], np.float32)
    pos = np.clip(pos, 0, n_time - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n_time - 1)
    frac = (pos - lo).astype(np.float32)
    w = waveforms.astype(np.float32, copy=False)
    return np.ascontiguousarray(w[..., lo] * (1 - frac) + w[..., hi] * frac)


def peak_channel_and_sign(waveforms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit: peak channel (largest peak-to-peak), its peak-to-peak amplitude (µV) and
    whether the spike is positive-going (the largest excursion from the first sample is up).

    waveforms (n_unit, n_channel, n_sample) -> (n_unit,) int64, (n_unit,) float64, (n_unit,) bool.
    """
    ptp = waveforms.max(axis=2) - waveforms.min(axis=2)
    peak = np.argmax(ptp, axis=1)
    rows = np.arange(waveforms.shape[0])
    w = waveforms[rows, peak].astype(np.float64)
    base = np.median(w[:, :10], axis=1)
    positive = (w.max(axis=1) - base) > (base - w.min(axis=1))
    return peak.astype(np.int64), ptp[rows, peak].astype(np.float64), positive


def check_microvolts(waveforms: np.ndarray, where: str, how: str) -> list[str]:
    """Refuse waveforms whose size cannot be µV (whitened units ~1, volts ~1e-5, unconverted
    float counts far too large); return a warning when the size is merely unusual."""
    if waveforms.shape[0] == 0:
        return []
    _, ptp, _ = peak_channel_and_sign(waveforms)
    median = float(np.median(ptp))
    if median < 1.0 or median > 1e4:
        kind = (
            "whitened units or volts"
            if median < 1.0
            else "raw values not converted to µV or a wrong µV per bit"
        )
        raise ImportDataError(
            f"{where}: the units' median peak-to-peak amplitude is {median:.3g} (from {how}), "
            f"which cannot be µV (it looks like {kind}); check the scaling (--uv-per-bit)"
        )
    if median < 10.0 or median > 3000.0:
        return [
            f"{where}: the units' median peak-to-peak amplitude is {median:.3g} µV, unusual "
            "for extracellular spikes; check the scaling"
        ]
    return []


@dataclass
class SessionPlan:
    """What an import of one session will do, known before any waveform is read (for the
    preview): format, sample rate, scaling, units by label, warnings. `load` does the work."""

    folder: Path
    format: str
    sample_rate: float
    scaling: str
    waveform_source: str
    label_counts: dict[str, int]
    n_units: int
    warnings: list[str]

    def summary(self) -> dict:
        return {
            "folder": str(self.folder),
            "format": self.format,
            "sample_rate_hz": self.sample_rate,
            "scaling": self.scaling,
            "waveforms_from": self.waveform_source,
            "units_by_label": dict(self.label_counts),
            "units_imported": self.n_units,
            "warnings": list(self.warnings),
        }

    def load(self, progress, cancel) -> SessionData:  # pragma: no cover - interface
        raise NotImplementedError

    def load_all(self, progress, cancel) -> list[SessionData]:
        """The sessions this source holds (one folder is one session, except spikeInfo.mat)."""
        return [self.load(progress, cancel)]


def choose_spikes(times: np.ndarray, max_spikes: int, rng: np.random.Generator) -> np.ndarray:
    """A sorted random sample of at most max_spikes of `times` (all of them when fewer)."""
    if times.size <= max_spikes:
        return times
    return np.sort(rng.choice(times, size=max_spikes, replace=False))
