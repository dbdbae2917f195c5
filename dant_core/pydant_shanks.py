"""pyDANT's per-shank outputs: OUTPUT/Shank<ID>/ for multi-shank runs.

pyDANT 1.1.4's runDANTMultiShank runs the single-shank pipeline once per shank in
OUTPUT/Shank<ID>/ and merges the results into OUTPUT/. A Shank<ID>/ folder therefore holds a
single-shank output set in the shank's own unit numbering (0..n_shank-1, pyDANT's
`original_unit_indices.npy` maps it to the run's units): the per-unit features, the motion
of that shank (n_session,), the candidate pairs, the weights and threshold, the curation
pairs, IdxCluster 1..K within the shank, the dense matrices, ClusteringResults.npz,
Output.npz, DistanceMatrix.npy, waveforms_corrected.npy, and the six per-shank figures in
Shank<ID>/Figures/ (report/pydant_figures.py). Recorded from a pyDANT 1.1.4 run on a
two-shank data set: tests/core/test_pydant_extras.py holds the names, keys and shapes.
"""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .autocuration import CURATION_TYPE_NAMES
from .motion import LINEAR_SCALE
from .npy_files import load_npy
from .output_folder import record_written_files
from .pydant_extras import clustering_results, distance_matrix, output_bytes, output_dict
from .pydant_output import FEATURE_MATRIX_FILES, cluster_matrix, matched_pairs, write_corrected


def shank_folder_name(shank_id) -> str:
    """'Shank<ID>' as pyDANT names it (an integral float id without '.0')."""
    value = np.asarray(shank_id).item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"Shank{value}"


def renumber(labels: np.ndarray) -> np.ndarray:
    """Cluster ids 1..K in order of first appearance, -1 unmatched."""
    out = np.full(labels.size, -1, dtype=np.int64)
    ids: dict[int, int] = {}
    for k, v in enumerate(np.asarray(labels).tolist()):
        if v > 0:
            out[k] = ids.setdefault(v, len(ids) + 1)
    return out


def shank_view(result, index: int) -> SimpleNamespace:
    """The run restricted to shank `index`, in its own unit numbering: the attributes that
    pydant_extras.clustering_results / output_dict read, plus `units` (global indices)."""
    sh = result.shanks[index]
    units = np.asarray(sh.units, dtype=np.int64)
    local = np.full(result.n_units, -1, dtype=np.int64)
    local[units] = np.arange(units.size)
    keep = np.asarray(result.candidate, bool) & (np.asarray(result.pair_shank) == index)
    pairs = local[np.asarray(result.pairs)[keep]]
    order = np.asarray(result.leaf_order)
    order = local[order[np.isin(order, units)]]
    cur = np.asarray(result.curation_pairs, dtype=np.int64).reshape(-1, 2)
    in_shank = np.all(np.isin(cur, units), axis=1) if cur.size else np.zeros(0, bool)
    return SimpleNamespace(
        units=units,
        n_units=units.size,
        shanks=[sh],
        candidate=np.ones(pairs.shape[0], bool),
        pairs=pairs,
        scores=np.asarray(result.scores)[keep],
        weights=np.asarray(result.weights)[index : index + 1],
        thresholds=np.asarray(result.thresholds)[index : index + 1],
        leaf_order=order,
        idx_cluster=renumber(np.asarray(result.idx_cluster)[units]),
        idx_cluster_auto=renumber(np.asarray(result.idx_cluster_auto)[units]),
        unit_shank_index=np.zeros(units.size, dtype=np.int64),
        sessions=np.asarray(result.sessions)[units],
        settings_dict=result.settings_dict,
        curation_pairs=local[cur[in_shank]] if cur.size else cur,
        curation_types=np.asarray(result.curation_types).reshape(-1)[in_shank],
    )


def write_shank_outputs(result, folder: Path) -> None:
    """Write OUTPUT/Shank<ID>/ for every shank of a multi-shank run (nothing for one
    shank), from the run and the dense files already in `folder`: without the run's
    SimilarityMatrix.npy (above the dense size limit) the shanks' dense files are not
    written either."""
    if len(result.shanks) < 2:
        return
    path = folder / "SimilarityMatrix.npy"
    similarity = np.load(path, mmap_mode="r") if path.is_file() else None
    f = result.features
    for s, sh in enumerate(result.shanks):
        view = shank_view(result, s)
        units = view.units
        sub = folder / shank_folder_name(sh.shank_id)
        sub.mkdir(exist_ok=True)

        def save(name, arr, sub=sub):
            np.save(sub / name, arr)

        save("original_unit_indices.npy", units)
        save("IdxCluster.npy", view.idx_cluster)
        save("MatchedPairs.npy", matched_pairs(view.idx_cluster))
        order = np.lexsort((view.pairs[:, 1], view.pairs[:, 0]))
        save("SimilarityPairs.npy", view.pairs[order])
        save("SimilarityWeights.npy", view.weights[0])
        save("SimilarityThreshold.npy", np.array(float(view.thresholds[0])))
        for name in ("locations", "amplitude", "peak_channels", "unit_shanks", "auto_corr"):
            if getattr(f, name) is not None:
                save(f"{name}.npy", np.asarray(getattr(f, name))[units])
        for name, value in (("isi", f.isi), ("peth", f.peth)):
            if value is not None:
                save(f"{name}.npy", np.asarray(value)[units])
        save("motion_linear_scale.npy", np.array(LINEAR_SCALE))
        save("motion_linear.npy", np.asarray(sh.motion.linear))
        save("motion_constant.npy", np.asarray(sh.motion.constant))
        save("CurationPairs.npy", view.curation_pairs)
        save("CurationTypes.npy", view.curation_types)
        save("CurationTypeNames.npy", np.array(CURATION_TYPE_NAMES))
        write_corrected(result, sub / "waveforms_corrected.npy", units)
        sim = None if similarity is None else np.asarray(similarity[np.ix_(units, units)])
        if sim is not None:
            for file in FEATURE_MATRIX_FILES.values():
                path = folder / file
                block = (
                    np.load(path, mmap_mode="r")[np.ix_(units, units)] if path.is_file() else None
                )
                save(file, np.zeros_like(sim) if block is None else np.asarray(block))
            save("SimilarityMatrix.npy", sim)
            save("ClusterMatrix.npy", cluster_matrix(view.idx_cluster))
            save("DistanceMatrix.npy", distance_matrix(sim))
        np.savez(sub / "ClusteringResults.npz", **clustering_results(view, sim))
        (sub / "Output.npz").write_bytes(output_bytes(output_dict(view, sim)))
        # listed as ours: a later run's save may drop the large ones (output_folder.py)
        record_written_files(sub, [p.name for p in sub.iterdir() if p.is_file()])


def curated_shank_files(result, folder: Path, labels: np.ndarray) -> dict[str, bytes]:
    """For `dant export`: the Shank<ID>/ files that depend on the clusters, for the curated
    `labels` (n_unit,) of the whole run: relative path -> bytes of IdxCluster.npy,
    MatchedPairs.npy, ClusterMatrix.npy (with the shank's dense matrix) and Output.npz, for
    each Shank<ID>/ folder present (none for a single-shank run)."""
    if len(result.shanks) < 2:
        return {}
    labels = np.asarray(labels, dtype=np.int64)
    out: dict[str, bytes] = {}
    for s, sh in enumerate(result.shanks):
        name = shank_folder_name(sh.shank_id)
        if not (folder / name).is_dir():
            continue
        view = shank_view(result, s)
        view.idx_cluster = renumber(labels[view.units])
        path = folder / name / "SimilarityMatrix.npy"
        sim = load_npy(path) if path.is_file() else None
        if sim is not None and sim.shape != (view.n_units, view.n_units):
            sim = None  # not this shank's matrix: Output.npz without the dense keys
        out[f"{name}/IdxCluster.npy"] = _npy_bytes(view.idx_cluster)
        out[f"{name}/MatchedPairs.npy"] = _npy_bytes(matched_pairs(view.idx_cluster))
        if sim is not None:
            out[f"{name}/ClusterMatrix.npy"] = _npy_bytes(cluster_matrix(view.idx_cluster))
        out[f"{name}/Output.npz"] = output_bytes(output_dict(view, sim))
    return out


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()
