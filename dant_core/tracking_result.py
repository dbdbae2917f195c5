"""The tracking result in memory and the queries viewers make of it.

See docs/method.md §8 for the files it is saved as (pydant_output.py writes them,
output_folder.py swaps them into place; results.py reads them back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .autocuration import AutoCuration
from .clustering import ClusteringRun
from .features import UnitFeatures
from .motion import Motion
from .output_folder import write_atomically
from .pydant_extras import write_pydant_extras
from .pydant_output import matched_pairs, write_output_files
from .pydant_shanks import write_shank_outputs
from .similarity import SimilarityComputer
from .tracks import TRACKS_FILE, tracks_file_bytes


@dataclass(frozen=True)
class MotionPass:
    """One pass of the motion loop: its features, the matches it found, the motion it gave."""

    feature_set: tuple[str, ...]
    n_matched_pairs: int
    motion: Motion | None  # None for the pass that stopped the loop


def holds_every_unit(units: np.ndarray, n: int) -> bool:
    """Whether a shank's units are 0..n-1 in order, so its local indices are global ones."""
    return units.size == n and np.array_equal(units, np.arange(n))


def n_matched_pairs(idx_cluster: np.ndarray) -> int:
    """How many unit pairs share a cluster (the rows of matched_pairs), without listing
    them: sum of k (k - 1) / 2 over the clusters' sizes k."""
    labels = np.asarray(idx_cluster)
    sizes = np.bincount(labels[labels > 0]).astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


@dataclass
class ShankTracking:
    """Everything tracking produced for the units of one shank (local unit indices inside)."""

    shank_id: int
    units: np.ndarray  # (n_local,) global unit indices
    initial_motion: Motion
    motion: Motion  # the last estimated motion: saved, used for the final candidate pairs
    restored_motion: Motion | None  # what an early stop went back to (corrects the waveforms)
    passes: list
    final: ClusteringRun
    curation: AutoCuration
    corrected_waveforms: np.ndarray  # (n_template, n_local, n_channel, n_sample) float32
    computer: SimilarityComputer | None = None

    def holds_every_unit(self, n_units: int) -> bool:
        """Whether this shank holds units 0..n_units-1 in order (local = global indices)."""
        return holds_every_unit(self.units, n_units)


@dataclass
class TrackingResult:
    """The outcome of a run, in global unit indices.

    idx_cluster: (n_unit,) curated clusters 1..K, -1 unmatched (THE result);
    idx_cluster_auto: (n_unit,) HDBSCAN clusters before auto-curation;
    pairs / scores / candidate: the final similarity graph (n_pair, 2), (n_pair, n_feature),
    (n_pair,); a run's pairs are int32 in depth order (clustering.depth_neighbour_pairs);
    motion_linear / motion_constant: (n_shank, n_session); locations (n_unit, 3) µm.
    """

    n_units: int
    n_sessions: int
    sessions: np.ndarray
    channel_locations: np.ndarray
    shank_ids: list[int]
    features: UnitFeatures
    feature_names: tuple[str, ...]
    idx_cluster: np.ndarray
    idx_cluster_auto: np.ndarray
    pairs: np.ndarray
    scores: np.ndarray
    candidate: np.ndarray
    pair_shank: np.ndarray
    weights: np.ndarray  # (n_shank, n_feature)
    thresholds: np.ndarray  # (n_shank,)
    leaf_order: np.ndarray
    curation_pairs: np.ndarray
    curation_types: np.ndarray
    shanks: list[ShankTracking]
    settings_dict: dict
    run_time_sec: float = 0.0
    source: str = "dant"
    dense_similarity: np.ndarray | None = None  # set when loaded from pyDANT's output
    dense_features: dict[str, np.ndarray] = field(default_factory=dict)  # pyDANT's per-feature
    data_folder: str = ""
    # The data folder's fingerprint when the run read it (data_fingerprint.py); None when
    # unknown (results made before fingerprints, pyDANT's).
    data_fingerprint: dict[str, str] | None = None
    # False for a pyDANT folder without waveforms_corrected.npy: the shanks'
    # corrected_waveforms then hold the raw waveforms.
    corrected_saved: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    # ----- what viewers ask for -------------------------------------------------------

    @property
    def locations(self) -> np.ndarray:
        return self.features.locations

    @property
    def n_clusters(self) -> int:
        return int(self.idx_cluster.max(initial=0))

    @property
    def similarity(self) -> np.ndarray:
        """Weighted similarity of each graph pair (n_pair,), with its shank's weights."""
        if "similarity" not in self.extra:
            if self.weights.shape[0] == 1:
                sim = self.scores @ self.weights[0]
            else:
                sim = np.zeros(self.scores.shape[0])
                for s, weights in enumerate(self.weights):
                    sel = self.pair_shank == s
                    sim[sel] = self.scores[sel] @ weights
            self.extra["similarity"] = sim
        return self.extra["similarity"]

    def motion(self, shank_index: int = 0) -> Motion:
        return self.shanks[shank_index].motion

    def cluster_units(self, cluster: int) -> np.ndarray:
        return np.flatnonzero(self.idx_cluster == cluster)

    def corrected_waveform(self, unit: int, template: int = 0) -> np.ndarray:
        """Motion-corrected waveform (n_channel, n_sample) of one unit."""
        shank, local = self._locate(unit)
        templates = shank.corrected_waveforms
        return templates[min(template, templates.shape[0] - 1), local]

    def threshold_of(self, unit: int) -> float:
        return float(self.thresholds[self._shank_index(unit)])

    def similarity_block(self, rows, cols, feature: str | None = None) -> np.ndarray:
        """Exact similarity (len(rows), len(cols)); cross-shank entries 0, self 6.

        feature None gives the weighted similarity, else that feature's score.
        """
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if self.dense_similarity is not None and feature is None:
            return self.dense_similarity[np.ix_(rows, cols)]
        if feature in self.dense_features:
            return self.dense_features[feature][np.ix_(rows, cols)]
        names = self.feature_names if feature is None else (feature,)
        if len(self.shanks) == 1 and self.shanks[0].holds_every_unit(self.n_units):
            shank = self.shanks[0]  # local indices are global ones: no gathers, no copies
            if shank.computer is not None:
                sc = shank.computer.block_scores(rows, cols, names)
                return sc @ self.weights[0] if feature is None else sc[..., 0]
        out = np.zeros((rows.size, cols.size))
        shank_of = self.unit_shank_index
        for s, shank in enumerate(self.shanks):
            if shank.computer is None:
                continue
            r = np.flatnonzero(shank_of[rows] == s)
            c = np.flatnonzero(shank_of[cols] == s)
            if r.size == 0 or c.size == 0:
                continue
            local = self.local_index
            sc = shank.computer.block_scores(local[rows[r]], local[cols[c]], names)
            vals = sc @ self.weights[s] if feature is None else sc[..., 0]
            out[np.ix_(r, c)] = vals.reshape(r.size, c.size)
        return out

    @property
    def unit_shank_index(self) -> np.ndarray:
        """Index into `shanks` of every unit (n_unit,)."""
        if "unit_shank_index" not in self.extra:
            idx = np.zeros(self.n_units, dtype=np.int64)
            local = np.zeros(self.n_units, dtype=np.int64)
            for s, shank in enumerate(self.shanks):
                idx[shank.units] = s
                local[shank.units] = np.arange(shank.units.size)
            self.extra["unit_shank_index"] = idx
            self.extra["local_index"] = local
        return self.extra["unit_shank_index"]

    @property
    def local_index(self) -> np.ndarray:
        """Index of every unit within its shank's units (n_unit,)."""
        _ = self.unit_shank_index  # fills both lookups
        return self.extra["local_index"]

    def _shank_index(self, unit: int) -> int:
        return int(self.unit_shank_index[unit])

    def _locate(self, unit: int):
        s = self._shank_index(unit)
        return self.shanks[s], int(self.local_index[unit])

    def matched_pairs(self, idx_cluster: np.ndarray | None = None) -> np.ndarray:
        """All unit pairs (i < j) in the same cluster, (n_pair, 2) int64."""
        return matched_pairs(self.idx_cluster if idx_cluster is None else idx_cluster)

    def summary(self) -> dict:
        y = [sh.motion.at_depth(float(np.mean(self.locations[sh.units, 1]))) for sh in self.shanks]
        span = float(np.ptp(np.concatenate(y))) if y else 0.0
        return {
            "units": self.n_units,
            "sessions": self.n_sessions,
            "clusters": self.n_clusters,
            "matched_pairs": n_matched_pairs(self.idx_cluster),
            "tracked_units": int((self.idx_cluster > 0).sum()),
            "motion_range_um": span,
            "run_time_sec": self.run_time_sec,
        }

    def summary_text(self) -> str:
        s = self.summary()
        return (
            f"{s['units']} units, {s['sessions']} sessions: {s['clusters']} clusters, "
            f"{s['matched_pairs']} matched pairs, {s['tracked_units']} units tracked; "
            f"motion range {s['motion_range_um']:.1f} µm; {s['run_time_sec']:.1f} s"
        )

    # ----- saving ----------------------------------------------------------------------

    def save(self, output_folder, force: bool = False) -> Path:
        """Write every output file into `output_folder` as one transaction.

        See `output_folder.write_atomically`: a complete set of files replaces the folder
        by rename, the previous run's small files go to `previous_runs/<time>/`, a folder
        that must not be replaced is refused (`force` allows replacing another dataset's
        results), and an OSError becomes a DantError naming the folder.
        """
        return write_atomically(
            output_folder,
            self.n_units,
            self.data_folder or None,
            force,
            lambda folder: _write_outputs(self, folder),
        )


def _write_outputs(result, folder: Path) -> None:
    """Every file of the output folder: pyDANT's set, our record, tracks.tsv."""
    write_output_files(result, folder)
    write_pydant_extras(result, folder)
    write_shank_outputs(result, folder)  # multi-shank runs: pyDANT's Shank<ID>/ folders
    (folder / TRACKS_FILE).write_bytes(tracks_file_bytes(result))
