"""The tracking result: what viewers need, and the output folder in pyDANT's format (SPEC §8)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .autocuration import CURATION_TYPE_NAMES, AutoCuration
from .clustering import ClusteringRun
from .errors import DatasetError
from .features import UnitFeatures
from .motion import LINEAR_SCALE, Motion
from .similarity import MAX_SIMILARITY, SimilarityComputer

# Up to this many units the pyDANT-compatible dense n x n matrices are written too.
DENSE_OUTPUT_MAX_UNITS = 3000
RESULT_FILE = "dant_result.npz"


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
    corrected_waveforms: np.ndarray
    computer: SimilarityComputer | None = None


@dataclass
class TrackingResult:
    """The outcome of a run, in global unit indices.

    idx_cluster: (n_unit,) curated clusters 1..K, -1 unmatched (THE result);
    idx_cluster_auto: (n_unit,) HDBSCAN clusters before auto-curation;
    pairs / scores / candidate: the final similarity graph (n_pair, 2), (n_pair, n_feature), (n_pair,);
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
        return np.einsum("ij,ij->i", self.scores, self.weights[self.pair_shank])

    def motion(self, shank_index: int = 0) -> Motion:
        return self.shanks[shank_index].motion

    def cluster_units(self, cluster: int) -> np.ndarray:
        return np.flatnonzero(self.idx_cluster == cluster)

    def corrected_waveform(self, unit: int, template: int = 0) -> np.ndarray:
        """Motion-corrected waveform (n_channel, n_sample) of one unit."""
        shank, local = self._locate(unit)
        wf = shank.corrected_waveforms[local]
        return wf[..., min(template, wf.shape[-1] - 1)] if wf.ndim == 3 else wf

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
        out = np.zeros((rows.size, cols.size))
        shank_of = self.unit_shank_index
        for s, shank in enumerate(self.shanks):
            if shank.computer is None:
                continue
            r = np.flatnonzero(shank_of[rows] == s)
            c = np.flatnonzero(shank_of[cols] == s)
            if r.size == 0 or c.size == 0:
                continue
            local = self._local_index
            ia, ib = np.meshgrid(local[rows[r]], local[cols[c]], indexing="ij")
            names = self.feature_names if feature is None else (feature,)
            sc = shank.computer.scores(ia.ravel(), ib.ravel(), names)
            vals = sc @ self.weights[s] if feature is None else sc[:, 0]
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
    def _local_index(self) -> np.ndarray:
        self.unit_shank_index
        return self.extra["local_index"]

    def _shank_index(self, unit: int) -> int:
        return int(self.unit_shank_index[unit])

    def _locate(self, unit: int):
        s = self._shank_index(unit)
        return self.shanks[s], int(self._local_index[unit])

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
            "matched_pairs": int(self.matched_pairs().shape[0]),
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

    # ----- writing ---------------------------------------------------------------------

    def save(self, output_folder) -> Path:
        """Write every output file into `output_folder`, atomically (temp folder, then move)."""
        output_folder = Path(output_folder)
        output_folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".dant_tmp_", dir=output_folder.parent))
        try:
            self._write_files(tmp)
            _replace_folder_contents(tmp, output_folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return output_folder

    def _write_files(self, folder: Path) -> None:
        n = self.n_units
        f = self.features
        save = lambda name, arr: np.save(folder / name, arr)  # noqa: E731
        save("IdxCluster.npy", self.idx_cluster.astype(np.int64))
        save("MatchedPairs.npy", self.matched_pairs())
        cand = self.pairs[self.candidate]
        save("SimilarityPairs.npy", cand.astype(np.int64))
        single = len(self.shanks) == 1
        save("SimilarityWeights.npy", self.weights[0] if single else self.weights)
        save("SimilarityThreshold.npy", self.thresholds[0] if single else self.thresholds)
        save("locations.npy", f.locations)
        save("amplitude.npy", f.amplitude)
        save("peak_channels.npy", f.peak_channels)
        save("unit_shanks.npy", f.unit_shanks)
        if f.auto_corr is not None:
            save("auto_corr.npy", f.auto_corr)
        if f.isi is not None:
            save("isi.npy", f.isi)
        lin = np.array([sh.motion.linear for sh in self.shanks])
        const = np.array([sh.motion.constant for sh in self.shanks])
        save("motion_linear_scale.npy", np.array(LINEAR_SCALE))
        save("motion_linear.npy", lin[0] if single else lin)
        save("motion_constant.npy", const[0] if single else const)
        n_t = max(sh.corrected_waveforms.shape[-1] for sh in self.shanks) if self.shanks else 1
        wf = np.lib.format.open_memmap(
            folder / "waveforms_corrected.npy",
            mode="w+",
            dtype=np.float32,
            shape=(n, *f.waveforms.shape[1:], n_t),
        )
        for sh in self.shanks:
            wf[sh.units] = sh.corrected_waveforms if sh.corrected_waveforms.shape[-1] == n_t else (
                np.repeat(sh.corrected_waveforms, n_t, axis=-1)
            )
        wf.flush()
        del wf
        save("CurationPairs.npy", self.curation_pairs)
        save("CurationTypes.npy", self.curation_types)
        save("CurationTypeNames.npy", np.array(CURATION_TYPE_NAMES))
        save("RunTimeSec.npy", np.array(self.run_time_sec))
        if n <= DENSE_OUTPUT_MAX_UNITS:
            self._write_dense(folder)
        np.savez(folder / RESULT_FILE, **self._state_arrays())
        (folder / "settings.json").write_text(json.dumps(self.settings_dict, indent=2))

    def _write_dense(self, folder: Path) -> None:
        units = np.arange(self.n_units)
        from .autocuration import renumber  # noqa: F401  (keeps import graph obvious)

        per_feature = {
            "Waveform": "waveform_similarity_matrix.npy",
            "AutoCorr": "AutoCorr_similarity_matrix.npy",
            "ISI": "ISI_similarity_matrix.npy",
            "PETH": "PETH_similarity_matrix.npy",
        }
        total = np.zeros((self.n_units, self.n_units))
        for name, file in per_feature.items():
            if name in self.feature_names and self.dense_similarity is None:
                m = self.similarity_block(units, units, name)
                np.fill_diagonal(m, MAX_SIMILARITY)
                k = self.feature_names.index(name)
                for s, sh in enumerate(self.shanks):
                    total[np.ix_(sh.units, sh.units)] += self.weights[s, k] * m[
                        np.ix_(sh.units, sh.units)
                    ]
            else:
                m = np.zeros((self.n_units, self.n_units))
            np.save(folder / file, m)
        if self.dense_similarity is not None:
            total = self.dense_similarity
        np.save(folder / "SimilarityMatrix.npy", total)
        np.save(folder / "ClusterMatrix.npy", cluster_matrix(self.idx_cluster))

    def _state_arrays(self) -> dict:
        """Our own record: the graph, the pre-curation clusters, motion history and CIs."""
        out = {
            "feature_names": np.array(self.feature_names),
            "pairs": self.pairs.astype(np.int32),
            "scores": self.scores.astype(np.float32),
            "candidate": self.candidate,
            "pair_shank": self.pair_shank.astype(np.int16),
            "weights": self.weights,
            "thresholds": self.thresholds,
            "idx_cluster_auto": self.idx_cluster_auto,
            "leaf_order": self.leaf_order,
            "shank_ids": np.array(self.shank_ids),
            "sessions": self.sessions,
        }
        for s, sh in enumerate(self.shanks):
            p = f"shank{s}_"
            out[p + "units"] = sh.units
            for name, m in (
                ("motion", sh.motion),
                ("initial_motion", sh.initial_motion),
                ("restored_motion", sh.restored_motion),
            ):
                if m is None:
                    continue
                out[p + name + "_linear"] = m.linear
                out[p + name + "_constant"] = m.constant
                if m.ci_low is not None:
                    out[p + name + "_ci_low"] = m.ci_low
                    out[p + name + "_ci_high"] = m.ci_high
            out[p + "pass_matches"] = np.array([ps.n_matched_pairs for ps in sh.passes], dtype=int)
            out[p + "pass_constant"] = np.array(
                [ps.motion.constant if ps.motion is not None else np.full(self.n_sessions, np.nan)
                 for ps in sh.passes]
            ).reshape(len(sh.passes), self.n_sessions)
            out[p + "pass_features"] = np.array(["+".join(ps.feature_set) for ps in sh.passes])
        return out


def matched_pairs(idx_cluster: np.ndarray) -> np.ndarray:
    """All unit pairs (i < j) sharing a cluster, (n_pair, 2) int64, sorted."""
    out = []
    for k in np.unique(idx_cluster[idx_cluster > 0]):
        units = np.flatnonzero(idx_cluster == k)
        i, j = np.triu_indices(units.size, 1)
        out.append(np.column_stack((units[i], units[j])))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(out).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def cluster_matrix(idx_cluster: np.ndarray) -> np.ndarray:
    """Dense boolean (n_unit, n_unit): same cluster, diagonal true."""
    m = (idx_cluster[:, None] == idx_cluster[None, :]) & (idx_cluster[:, None] > 0)
    np.fill_diagonal(m, True)
    return m


def _replace_folder_contents(src: Path, dst: Path) -> None:
    """Move every file of `src` into `dst`, each by an atomic rename."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        os.replace(item, dst / item.name)


def merge_shanks(dataset, settings, features: UnitFeatures, shanks: list[ShankTracking]):
    """Put per-shank results back in global unit order, offsetting cluster ids shank by shank."""
    n = dataset.n_units
    idx_cluster = np.full(n, -1, dtype=np.int64)
    idx_auto = np.full(n, -1, dtype=np.int64)
    pairs, scores, candidate, pair_shank, leaf, cur_pairs, cur_types = [], [], [], [], [], [], []
    offset = offset_auto = 0
    names = tuple(settings.get("clustering.features"))
    for s, sh in enumerate(shanks):
        u = sh.units
        lab = sh.curation.idx_cluster
        idx_cluster[u] = np.where(lab > 0, lab + offset, -1)
        offset += int(lab.max(initial=0))
        lab = sh.final.labels
        idx_auto[u] = np.where(lab > 0, lab + offset_auto, -1)
        offset_auto += int(lab.max(initial=0))
        pairs.append(u[sh.final.pairs])
        scores.append(sh.final.scores)
        candidate.append(sh.final.candidate)
        pair_shank.append(np.full(sh.final.pairs.shape[0], s, dtype=np.int64))
        leaf.append(u[sh.final.leaf_order])
        cur_pairs.append(u[sh.curation.pairs])
        cur_types.append(sh.curation.types)
    n_f = len(names)
    return TrackingResult(
        n_units=n,
        n_sessions=dataset.n_sessions,
        sessions=dataset.sessions,
        channel_locations=dataset.channel_locations,
        shank_ids=[sh.shank_id for sh in shanks],
        features=features,
        feature_names=names,
        idx_cluster=idx_cluster,
        idx_cluster_auto=idx_auto,
        pairs=np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64),
        scores=np.concatenate(scores) if scores else np.zeros((0, n_f)),
        candidate=np.concatenate(candidate) if candidate else np.zeros(0, dtype=bool),
        pair_shank=np.concatenate(pair_shank) if pair_shank else np.zeros(0, dtype=np.int64),
        weights=np.array([sh.final.weights for sh in shanks]).reshape(len(shanks), n_f),
        thresholds=np.array([sh.final.threshold for sh in shanks]),
        leaf_order=np.concatenate(leaf) if leaf else np.arange(n),
        curation_pairs=np.concatenate(cur_pairs).reshape(-1, 2) if cur_pairs else np.zeros((0, 2)),
        curation_types=np.concatenate(cur_types) if cur_types else np.zeros(0, dtype=np.int64),
        shanks=shanks,
        settings_dict=settings.to_dict(),
    )


def has_results(folder) -> bool:
    return (Path(folder) / "IdxCluster.npy").is_file()


def _require(folder: Path, name: str) -> np.ndarray:
    path = folder / name
    if not path.is_file():
        raise DatasetError(f"{name}: missing from the output folder {folder}")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise DatasetError(f"{name}: cannot be read ({exc})") from exc
