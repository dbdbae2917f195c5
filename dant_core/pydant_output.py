"""Writing a result's files in pyDANT's format (same names and shapes), plus our own record.

See docs/method.md §8. `write_output_files` fills a folder; the transaction that swaps it
into place is in output_folder.py. `result` is a tracking_result.TrackingResult (not
imported: that module imports this one).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .adaptive_curation import AUTO_CURATION_FILE, auto_curation_record
from .autocuration import CURATION_TYPE_NAMES
from .data_fingerprint import FINGERPRINT_KEY, fingerprint_text
from .motion import LINEAR_SCALE
from .similarity import MAX_SIMILARITY

# Up to this many units the pyDANT-compatible dense n x n matrices are written too.
DENSE_OUTPUT_MAX_UNITS = 3000
# Our own record of a run (the graph, pre-curation clusters, motion history); its presence
# marks a folder as holding our results.
RESULT_FILE = "dant_result.npz"
# pyDANT's dense per-feature similarity matrices, by feature.
FEATURE_MATRIX_FILES = {
    "Waveform": "waveform_similarity_matrix.npy",
    "AutoCorr": "AutoCorr_similarity_matrix.npy",
    "ISI": "ISI_similarity_matrix.npy",
    "PETH": "PETH_similarity_matrix.npy",
}


def matched_pairs(idx_cluster: np.ndarray) -> np.ndarray:
    """All unit pairs (i < j) sharing a cluster, (n_pair, 2) int64, sorted (MatchedPairs.npy)."""
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
    """Dense boolean (n_unit, n_unit): same cluster, diagonal true (ClusterMatrix.npy)."""
    m = (idx_cluster[:, None] == idx_cluster[None, :]) & (idx_cluster[:, None] > 0)
    np.fill_diagonal(m, True)
    return m


def write_output_files(result, folder: Path) -> None:
    """Write every output file of `result` into the (new, empty) `folder`."""
    n = result.n_units
    f = result.features
    save = lambda name, arr: np.save(folder / name, arr)  # noqa: E731
    save("IdxCluster.npy", result.idx_cluster.astype(np.int64))
    save("MatchedPairs.npy", result.matched_pairs())
    cand = result.pairs[result.candidate]
    # The graph is in depth order; the file lists pairs as pyDANT does, by (i, j).
    cand = cand[np.lexsort((cand[:, 1], cand[:, 0]))]
    save("SimilarityPairs.npy", cand.astype(np.int64))
    single = len(result.shanks) == 1
    save("SimilarityWeights.npy", result.weights[0] if single else result.weights)
    save("SimilarityThreshold.npy", result.thresholds[0] if single else result.thresholds)
    save("locations.npy", f.locations)
    save("amplitude.npy", f.amplitude)
    save("peak_channels.npy", f.peak_channels)
    save("unit_shanks.npy", f.unit_shanks)
    if f.auto_corr is not None:
        save("auto_corr.npy", f.auto_corr)
    if f.isi is not None:
        save("isi.npy", f.isi)
    if f.peth is not None:  # pyDANT writes the PETH it read too
        save("peth.npy", f.peth)
    lin = np.array([sh.motion.linear for sh in result.shanks])
    const = np.array([sh.motion.constant for sh in result.shanks])
    save("motion_linear_scale.npy", np.array(LINEAR_SCALE))
    save("motion_linear.npy", lin[0] if single else lin)
    save("motion_constant.npy", const[0] if single else const)
    write_corrected(result, folder / "waveforms_corrected.npy")
    save("CurationPairs.npy", result.curation_pairs)
    save("CurationTypes.npy", result.curation_types)
    save("CurationTypeNames.npy", np.array(CURATION_TYPE_NAMES))
    save("RunTimeSec.npy", np.array(result.run_time_sec))
    if n <= DENSE_OUTPUT_MAX_UNITS:
        _write_dense(result, folder)
    np.savez(folder / RESULT_FILE, **state_arrays(result))
    (folder / "settings.json").write_text(json.dumps(result.settings_dict, indent=2))
    record = auto_curation_record(result.shanks, result.settings_dict)
    (folder / AUTO_CURATION_FILE).write_text(json.dumps(record, indent=1))


def write_corrected(result, path: Path, units=None, chunk: int = 256) -> None:
    """waveforms_corrected.npy: (n_unit, n_channel, n_sample, n_template) float32, as
    pyDANT lays it out (template last), of all units or of `units` (global indices, in
    that order). Written `chunk` units at a time from the template-major arrays: no file
    mapping and no n-sized copy."""
    shanks = result.shanks
    units_all = np.arange(result.n_units) if units is None else np.asarray(units, dtype=np.int64)
    n_t = max(sh.corrected_waveforms.shape[0] for sh in shanks) if shanks else 1
    shape = (units_all.size, *result.features.waveforms.shape[1:], n_t)
    header = {"descr": "<f4", "fortran_order": False, "shape": shape}
    shank_of, local = result.unit_shank_index, result.local_index
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, units_all.size, chunk):
            units = units_all[start : start + chunk]
            block = np.zeros((units.size, *shape[1:]), dtype=np.float32)
            for s, sh in enumerate(shanks):
                at = np.flatnonzero(shank_of[units] == s)
                if at.size == 0:
                    continue
                templates = sh.corrected_waveforms  # (n_template, n_local, C, S)
                for t in range(n_t):
                    block[at, ..., t] = templates[min(t, templates.shape[0] - 1)][local[units[at]]]
            block.tofile(f)


def _write_dense(result, folder: Path) -> None:
    """The dense n x n matrices: per feature, weighted total, and same-cluster."""
    n = result.n_units
    units = np.arange(n)
    total = np.zeros((n, n))
    for name, file in FEATURE_MATRIX_FILES.items():
        if name in result.feature_names and result.dense_similarity is None:
            m = result.similarity_block(units, units, name)
            np.fill_diagonal(m, MAX_SIMILARITY)
            k = result.feature_names.index(name)
            for s, sh in enumerate(result.shanks):
                if sh.holds_every_unit(n):
                    total += result.weights[s, k] * m
                else:
                    within = np.ix_(sh.units, sh.units)
                    total[within] += result.weights[s, k] * m[within]
        else:
            m = np.zeros((n, n))
        np.save(folder / file, m)
    if result.dense_similarity is not None:
        total = result.dense_similarity
    np.save(folder / "SimilarityMatrix.npy", total)
    np.save(folder / "ClusterMatrix.npy", cluster_matrix(result.idx_cluster))


def state_arrays(result) -> dict:
    """Our own record (RESULT_FILE): the graph, pre-curation clusters, motion history, CIs."""
    out = {
        "feature_names": np.array(result.feature_names),
        "pairs": result.pairs.astype(np.int32),
        "scores": result.scores.astype(np.float32),
        "candidate": result.candidate,
        "pair_shank": result.pair_shank.astype(np.int16),
        "weights": result.weights,
        "thresholds": result.thresholds,
        "idx_cluster_auto": result.idx_cluster_auto,
        "leaf_order": result.leaf_order,
        "shank_ids": np.array(result.shank_ids),
        "sessions": result.sessions,
        "data_folder": np.array(result.data_folder),
        "source": np.array(result.source),
    }
    if result.data_fingerprint is not None:
        out[FINGERPRINT_KEY] = np.array(fingerprint_text(result.data_fingerprint))
    for s, sh in enumerate(result.shanks):
        out.update(_shank_state(f"shank{s}_", sh, result.n_sessions))
    return out


def _shank_state(p: str, sh, n_sessions: int) -> dict:
    """One shank's entries of the record, their names prefixed with `p`."""
    out = {p + "units": sh.units}
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
        if m.edge_shift is not None:
            out[p + name + "_edge_shift"] = m.edge_shift
        if m.depths is not None:
            out[p + name + "_pair_depths"] = np.array(m.depths)
        out[p + name + "_n_pairs"] = np.array(m.n_pairs)
    out[p + "pass_matches"] = np.array([ps.n_matched_pairs for ps in sh.passes], dtype=int)
    out[p + "pass_constant"] = np.array(
        [
            ps.motion.constant if ps.motion is not None else np.full(n_sessions, np.nan)
            for ps in sh.passes
        ]
    ).reshape(len(sh.passes), n_sessions)
    out[p + "pass_features"] = np.array(["+".join(ps.feature_set) for ps in sh.passes])
    return out
