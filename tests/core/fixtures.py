"""Where the shared parity fixtures live, and pair-level comparison of clusterings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def find_fixtures() -> Path | None:
    """The shared fixtures folder: $DANT_FIXTURES, else ../shared/fixtures beside the repository.

    None when neither holds the fixtures.
    """
    for c in (os.environ.get("DANT_FIXTURES", ""), ROOT.parent / "shared" / "fixtures"):
        if c and (Path(c) / "p1" / "waveform_all.npy").is_file():
            return Path(c)
    return None


def fixtures_dir() -> Path:
    """The shared fixtures folder (pyDANT inputs/outputs and truth); skip the test if absent."""
    folder = find_fixtures()
    if folder is None:
        pytest.skip("shared parity fixtures not found (set DANT_FIXTURES)")
    return folder


def matched_pair_set(labels: np.ndarray) -> set[tuple[int, int]]:
    """All unit pairs (i < j) that share a cluster (labels > 0)."""
    out = set()
    for k in np.unique(labels[labels > 0]):
        units = np.flatnonzero(labels == k)
        i, j = np.triu_indices(units.size, 1)
        out.update(zip(units[i].tolist(), units[j].tolist(), strict=True))
    return out


def pair_f1(labels: np.ndarray, reference: np.ndarray) -> float:
    """F1 of the cross-unit pairs placed in the same cluster, `labels` against `reference`."""
    a, b = matched_pair_set(labels), matched_pair_set(reference)
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def truth_labels(neuron_id: np.ndarray) -> np.ndarray:
    """Truth as cluster labels: every true neuron is a cluster (ids shifted to start at 1)."""
    return np.asarray(neuron_id, dtype=np.int64) - int(np.min(neuron_id)) + 1
