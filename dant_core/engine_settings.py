"""The settings as the engine reads them: one frozen, typed dataclass per section.

`Settings.typed()` builds an `EngineSettings` from the checked values once; the stages
read its attributes instead of dotted string keys. Units: µm for distances, ms for the
spike-train histograms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpikeLocationSettings:
    location_algorithm: str  # "monopolar_triangulation" | "center_of_mass"
    n_nearest_channels: int


@dataclass(frozen=True)
class WaveformCorrectionSettings:
    n_nearest_channels: int  # channels of a unit's waveform neighbourhood (similarity)
    linear_correction: bool
    n_templates: int  # 1 or 2
    path_to_motion: Path | None  # a manual motion to start from


@dataclass(frozen=True)
class HistogramSettings:
    """An autocorrelogram's or ISI histogram's bins, in ms."""

    window: float
    binwidth: float
    gaussian_sigma: float

    def as_args(self) -> tuple[float, float, float]:
        return (self.window, self.binwidth, self.gaussian_sigma)


@dataclass(frozen=True)
class MotionEstimationSettings:
    features: tuple[tuple[str, ...], ...]  # the feature set of each pass
    max_iter: int
    repeat_last_feature_set: bool
    stop_early: bool
    initial_motion: str  # "evidence" | "registration" | "none"

    @property
    def n_passes(self) -> int:
        """How many passes the motion loop makes at most (docs/method.md §6)."""
        if self.repeat_last_feature_set:
            return self.max_iter
        return min(self.max_iter, len(self.features))

    def feature_set(self, i: int) -> tuple[str, ...]:
        """The features of pass i (0-based); the last set repeats."""
        return self.features[min(i, len(self.features) - 1)]


@dataclass(frozen=True)
class ClusteringSettings:
    max_distance: float  # µm; see docs/method.md §4 for the three places it acts
    features: tuple[str, ...]
    n_iter: int
    weight_tol: float


@dataclass(frozen=True)
class AutoCurationSettings:
    auto_split: bool
    method: str  # "pydant" | "adaptive"


@dataclass(frozen=True)
class EngineSettings:
    """Every setting the engine reads, typed (docs/method.md §9)."""

    n_jobs: int
    centering_waveforms: bool
    spike_location: SpikeLocationSettings
    waveform_correction: WaveformCorrectionSettings
    auto_corr: HistogramSettings
    isi: HistogramSettings
    motion: MotionEstimationSettings
    clustering: ClusteringSettings
    auto_curation: AutoCurationSettings

    @property
    def features_used(self) -> frozenset[str]:
        """Every feature named in the motion feature sets or the final clustering."""
        used = set(self.clustering.features)
        for one in self.motion.features:
            used.update(one)
        return frozenset(used)


def engine_settings(
    get: Callable[[str], object], resolve_path: Callable[[str], Path | None]
) -> EngineSettings:
    """An EngineSettings from checked values: `get(dotted key)`, `resolve_path(key)`."""

    def histogram(section: str) -> HistogramSettings:
        return HistogramSettings(
            float(get(f"{section}.window")),
            float(get(f"{section}.binwidth")),
            float(get(f"{section}.gaussian_sigma")),
        )

    return EngineSettings(
        n_jobs=int(get("n_jobs")),
        centering_waveforms=bool(get("centering_waveforms")),
        spike_location=SpikeLocationSettings(
            str(get("spikeLocation.location_algorithm")),
            int(get("spikeLocation.n_nearest_channels")),
        ),
        waveform_correction=WaveformCorrectionSettings(
            int(get("waveformCorrection.n_nearest_channels")),
            bool(get("waveformCorrection.linear_correction")),
            int(get("waveformCorrection.n_templates")),
            resolve_path("waveformCorrection.path_to_motion"),
        ),
        auto_corr=histogram("autoCorr"),
        isi=histogram("ISI"),
        motion=MotionEstimationSettings(
            tuple(tuple(one) for one in get("motionEstimation.features")),
            int(get("motionEstimation.max_iter")),
            bool(get("motionEstimation.repeat_last_feature_set")),
            bool(get("motionEstimation.stop_early")),
            str(get("motionEstimation.initial_motion")),
        ),
        clustering=ClusteringSettings(
            float(get("clustering.max_distance")),
            tuple(get("clustering.features")),
            int(get("clustering.n_iter")),
            float(get("clustering.weight_tol")),
        ),
        auto_curation=AutoCurationSettings(
            bool(get("autoCuration.auto_split")), str(get("autoCuration.method"))
        ),
    )
