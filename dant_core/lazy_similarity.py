"""Similarity of a loaded result computed from its waveform file, reading only the units asked.

A finished run keeps every corrected waveform in memory (`similarity.SimilarityComputer`);
a result read back from its folder does not need to: viewers ask for a cluster's block, a
matrix cell, a few thousand pairs. `LazySimilarityComputer` answers the same questions
(`scores`, `block_scores`) by reading the units involved from `waveforms_corrected.npy`
(`UnitRowsFile`, plain reads: the file stays in the page cache, not in the process) and
computing on them with a `SimilarityComputer` made for those units alone. Every per-unit
quantity the computer derives (channel sums, peak neighbourhood, normalised spike-train
vectors) depends on that unit only, so the values are the very ones the whole-result
computer gives (tests/core/test_lazy_similarity.py compares them).
At 20,000 units this keeps 1.4 GB of corrected waveforms out of the window's memory.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from .similarity import SimilarityComputer, SpikeTrainVectors

PAIRS_PER_CHUNK = 200_000  # pairs scored per gathered set of units (bounds the memory)


class UnitRowsFile:
    """The rows (first axis) of a C-ordered .npy file, read on demand.

    `take(rows)` reads only those rows (runs of consecutive rows in one read each);
    `shape`, `dtype` as in the file.
    """

    def __init__(self, path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            self.offset = f.tell()
        if fortran or dtype.hasobject or len(shape) < 1:
            raise ValueError(f"{self.path.name}: not a C-ordered numeric array")
        self.shape, self.dtype = tuple(shape), dtype
        self.row_items = int(np.prod(shape[1:], dtype=np.int64))
        self.row_bytes = self.row_items * dtype.itemsize

    def take(self, rows) -> np.ndarray:
        """(len(rows), *shape[1:]) array of those rows, in the order given."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        out = np.empty((rows.size, *self.shape[1:]), dtype=self.dtype)
        if rows.size == 0:
            return out
        if rows.min() < 0 or rows.max() >= self.shape[0]:
            raise IndexError(f"{self.path.name}: row out of range 0..{self.shape[0] - 1}")
        order = np.argsort(rows, kind="stable")
        flat = out.reshape(rows.size, -1)
        sorted_rows = rows[order]
        # Runs of consecutive rows (in sorted order) are one read each.
        breaks = np.flatnonzero(np.diff(sorted_rows) != 1) + 1
        starts = np.r_[0, breaks]
        stops = np.r_[breaks, rows.size]
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
                first = int(sorted_rows[a])
                block = np.empty((b - a, self.row_items), dtype=self.dtype)
                _read_exactly(fd, memoryview(block).cast("B"), self.offset + first * self.row_bytes)
                flat[order[a:b]] = block
        finally:
            os.close(fd)
        return out


def _read_exactly(fd: int, buffer: memoryview, offset: int) -> None:
    done = 0
    while done < len(buffer):
        n = os.preadv(fd, [buffer[done:]], offset + done)
        if n <= 0:
            raise OSError(f"unexpected end of file at byte {offset + done}")
        done += n


class _TrainRows(SpikeTrainVectors):
    """Some units' rows of a SpikeTrainVectors (the vectors are per unit: rows are exact)."""

    def __init__(self, whole: SpikeTrainVectors, units: np.ndarray):  # noqa: D107
        # No super().__init__: the normalised rows are taken, not recomputed (whether the
        # PETH has gaps is decided on every unit, as for the whole result).
        self.vectors = {name: v[units] for name, v in whole.vectors.items()}
        gaps = whole.peth_with_gaps
        self.peth_with_gaps = None if gaps is None else gaps[units]


class LazySimilarityComputer:
    """`SimilarityComputer`'s scores for a shank's units, reading their waveforms on demand.

    rows: the corrected-waveform file (n_unit_all, n_channel, n_sample, n_template);
    units: (n_local,) the shank's rows in it (global unit indices); trains: the shank's
    (auto_corr, isi, peth), each (n_local, n_point) or None, made into a SpikeTrainVectors
    when a score is first asked (seconds at 20,000 units: not while the result opens).
    Indices given to the methods are local, as for SimilarityComputer.
    """

    def __init__(self, rows: UnitRowsFile, units, neighbourhoods, trains):
        self.rows = rows
        self.units = np.asarray(units, dtype=np.int64)
        self.neighbourhoods = neighbourhoods
        self._train_rows = tuple(trains)
        self._trains: SpikeTrainVectors | None = None
        self._lock = threading.Lock()
        self.n_units = int(self.units.size)

    @property
    def trains(self) -> SpikeTrainVectors:
        """The shank's spike-train vectors (normalised once, by the first caller)."""
        with self._lock:  # viewers' workers may ask at the same time
            if self._trains is None:
                self._trains = SpikeTrainVectors(*self._train_rows)
            return self._trains

    def computer_for(self, local: np.ndarray) -> SimilarityComputer:
        """A SimilarityComputer holding only the units `local` (sorted, distinct)."""
        # Template-major, as the engine keeps them (the file is template-last).
        waveforms = np.moveaxis(self.rows.take(self.units[local]), -1, 0)
        return SimilarityComputer(
            waveforms, self.neighbourhoods, trains=_TrainRows(self.trains, local)
        )

    def scores(self, a, b, names) -> np.ndarray:
        """As SimilarityComputer.scores: (n_pair, len(names)) for pairs (a[k], b[k])."""
        a = np.asarray(a, dtype=np.int64).ravel()
        b = np.asarray(b, dtype=np.int64).ravel()
        out = np.zeros((a.size, len(names)))
        for start in range(0, a.size, PAIRS_PER_CHUNK):
            ca, cb = a[start : start + PAIRS_PER_CHUNK], b[start : start + PAIRS_PER_CHUNK]
            local, inverse = np.unique(np.concatenate((ca, cb)), return_inverse=True)
            computer = self.computer_for(local)
            out[start : start + ca.size] = computer.scores(
                inverse[: ca.size], inverse[ca.size :], names
            )
        return out

    def block_scores(self, rows, cols, names) -> np.ndarray:
        """As SimilarityComputer.block_scores: (len(rows), len(cols), len(names))."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        cols = np.asarray(cols, dtype=np.int64).ravel()
        local, inverse = np.unique(np.concatenate((rows, cols)), return_inverse=True)
        computer = self.computer_for(local)
        return computer.block_scores(inverse[: rows.size], inverse[rows.size :], names)
