"""Real-format session folders written by SpikeInterface from a known truth (test helper).

SpikeInterface's `generate_ground_truth_recording` makes the recording, `create_sorting_analyzer`
its µV templates over every spike (the truth the importers must reproduce) and `export_to_phy`
the Kilosort/phy folder, with the raw file it names, as a user of SpikeInterface would have it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

UV_PER_BIT = 0.195
RATE = 30000.0


@dataclass
class Truth:
    """templates (n_unit, n_channel, n_time) µV with the spike at sample n_before;
    spike_samples: per unit; positions (n_channel, 2) µm in the phy folder's channel order."""

    templates: np.ndarray
    n_before: int
    spike_samples: list[np.ndarray]
    positions: np.ndarray
    unit_ids: list


def make_session(
    folder: Path,
    seed: int = 0,
    n_units: int = 4,
    n_channels: int = 16,
    duration: float = 4.0,
    rate: float = RATE,
) -> tuple[Path, Path, Truth]:
    """(phy folder, analyzer folder, truth) of one small synthetic session under `folder`,
    sampled at `rate` Hz (truth.templates at that rate too)."""
    pytest.importorskip("pandas")  # export_to_phy needs it
    si_core = pytest.importorskip("spikeinterface.core")
    exporters = pytest.importorskip("spikeinterface.exporters")
    preprocessing = pytest.importorskip("spikeinterface.preprocessing")
    similarity = pytest.importorskip("spikeinterface.postprocessing.template_similarity")
    # export_to_phy computes template similarity; its numba kernel is compiled uncached on
    # every run (~50 s on a loaded 2-core machine), the numpy one gives the same matrix.
    similarity._compute_similarity_matrix = similarity._compute_similarity_matrix_numpy
    rec, sorting = si_core.generate_ground_truth_recording(
        durations=[duration],
        sampling_frequency=rate,
        num_channels=n_channels,
        num_units=n_units,
        seed=seed,
    )
    rec16 = preprocessing.scale(rec, gain=1 / UV_PER_BIT, dtype="int16")
    rec16.set_channel_gains(UV_PER_BIT)
    rec16.set_channel_offsets(0.0)
    analyzer = si_core.create_sorting_analyzer(
        sorting,
        rec16,
        format="binary_folder",
        folder=folder / "analyzer",
        sparse=False,
    )
    analyzer.compute("random_spikes", method="all")
    analyzer.compute("templates", ms_before=1.0, ms_after=2.0)
    phy = folder / "phy"
    exporters.export_to_phy(
        analyzer,
        phy,
        copy_binary=True,
        compute_pc_features=False,
        compute_amplitudes=False,
        verbose=False,
        n_jobs=1,
    )
    templates = analyzer.get_extension("templates").get_data(operator="average")
    truth = Truth(
        templates=np.transpose(templates, (0, 2, 1)).astype(np.float64),
        n_before=int(round(1.0e-3 * rate)),
        spike_samples=[sorting.get_unit_spike_train(u) for u in sorting.unit_ids],
        positions=np.load(phy / "channel_positions.npy").astype(np.float64),
        unit_ids=list(sorting.unit_ids),
    )
    return phy, folder / "analyzer", truth


def to_union(
    waveforms: np.ndarray, union_positions: np.ndarray, positions: np.ndarray
) -> np.ndarray:
    """Rows of `waveforms` (n_unit, n_union, n_sample) in the order of `positions`."""
    rows = [
        int(np.flatnonzero((np.abs(union_positions - p) < 0.05).all(axis=1))[0]) for p in positions
    ]
    return waveforms[:, rows]


def aligned(imported: np.ndarray, truth: Truth) -> tuple[np.ndarray, np.ndarray]:
    """Imported (n, c, 82; spike at 40) and truth templates cut to their common samples."""
    shift = 40 - truth.n_before
    n = min(imported.shape[2] - shift, truth.templates.shape[2])
    return imported[:, :, shift : shift + n], truth.templates[:, :, :n]
