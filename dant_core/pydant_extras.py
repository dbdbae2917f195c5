"""The rest of pyDANT's output set: Output.npz, ClusteringResults.npz, DistanceMatrix.npy,
and Shank<ID>/ folders for multi-shank runs, with pyDANT 1.1.4's names, keys and shapes.

What pyDANT writes (recorded from a pyDANT 1.1.4 run in tests/core/test_pydant_extras.py):
- Output.npz: one pickled dict under `arr_0` (np.savez of a dict): NumClusters, NumUnits,
  IdxSort (n,) int32 leaf order, IdxCluster (n,), SimilarityMatrix (n, n),
  GoodMatchesMatrix (n, n) bool, ClusterMatrix (n, n) bool, MatchedPairs (m, 2),
  Params (the settings dict), NumSession, Sessions (n,); multi-shank adds IdxUnit, IdxShank.
- ClusteringResults.npz: weights (f,), similarity_all (p, f), idx_unit_pairs (p, 2), thres (),
  good_matches_matrix (n, n) bool, similarity_matrix (n, n), distance_matrix (n, n),
  leafOrder (n,) int32, idx_cluster_hdbscan (n,), hdbscan_matrix (n, n) bool, n_cluster ().
- DistanceMatrix.npy: (n, n) 1 / (1 + tanh(similarity)), diagonal 0.
The dense (n, n) arrays are written only up to DENSE_OUTPUT_MAX_UNITS units, like the other
dense files; above it Output.npz and ClusteringResults.npz hold the other keys only.
Output.npz is a pickle because pyDANT's is (its readers call np.load(allow_pickle=True));
we write it and never read one.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .motion import LINEAR_SCALE
from .npy_files import load_npy
from .pydant_output import DENSE_OUTPUT_MAX_UNITS, cluster_matrix, matched_pairs


def distance_matrix(similarity: np.ndarray) -> np.ndarray:
    """pyDANT's HDBSCAN distance of a dense similarity (n, n): 1 / (1 + tanh(S)), diagonal 0."""
    with np.errstate(divide="ignore"):
        d = 1.0 / (1.0 + np.tanh(similarity))
    np.fill_diagonal(d, 0.0)
    return d


def write_pydant_extras(result, folder: Path, similarity: np.ndarray | None = None) -> None:
    """Write Output.npz, ClusteringResults.npz, DistanceMatrix.npy (and Shank<ID>/ for several
    shanks) into `folder`. similarity: the dense (n, n) SimilarityMatrix when already made."""
    n = result.n_units
    dense = n <= DENSE_OUTPUT_MAX_UNITS
    if dense and similarity is None and (folder / "SimilarityMatrix.npy").is_file():
        similarity = load_npy(folder / "SimilarityMatrix.npy")
    dense = dense and similarity is not None
    files = clustering_results(result, similarity if dense else None)
    np.savez(folder / "ClusteringResults.npz", **files)
    if dense:
        np.save(folder / "DistanceMatrix.npy", files["distance_matrix"])
    _save_output(folder / "Output.npz", output_dict(result, similarity if dense else None))
    from .report.pydant_figures import write_figures

    write_figures(result, folder)


def clustering_results(result, similarity: np.ndarray | None) -> dict:
    """ClusteringResults.npz's arrays (dense keys only with `similarity`)."""
    single = len(result.shanks) == 1
    cand = np.flatnonzero(result.candidate)
    pairs = np.asarray(result.pairs[cand], dtype=np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    out = {
        "weights": result.weights[0] if single else result.weights,
        "similarity_all": np.asarray(result.scores[cand][order], dtype=np.float64),
        "idx_unit_pairs": pairs[order],
        "thres": np.array(result.thresholds[0] if single else result.thresholds, dtype=float),
        "leafOrder": np.asarray(result.leaf_order, dtype=np.int32),
        "idx_cluster_hdbscan": np.asarray(result.idx_cluster_auto, dtype=np.int64),
        "n_cluster": np.array(int(result.idx_cluster_auto.max(initial=0))),
    }
    if similarity is not None:
        out["good_matches_matrix"] = good_matches(result, similarity)
        out["similarity_matrix"] = similarity
        out["distance_matrix"] = distance_matrix(similarity)
        out["hdbscan_matrix"] = cluster_matrix(np.asarray(result.idx_cluster_auto))
    return out


def good_matches(result, similarity: np.ndarray) -> np.ndarray:
    """(n, n) bool: similarity above the unit's shank threshold (diagonal true)."""
    thr = np.asarray(result.thresholds, dtype=float)[result.unit_shank_index]
    good = similarity > thr[:, None]
    np.fill_diagonal(good, True)
    return good


def output_dict(result, similarity: np.ndarray | None, labels=None) -> dict:
    """The dict pyDANT pickles into Output.npz (labels: default the result's IdxCluster)."""
    labels = np.asarray(result.idx_cluster if labels is None else labels, dtype=np.int64)
    out = {
        "NumClusters": np.int64(labels.max(initial=0)),
        "NumUnits": int(labels.size),
        "IdxSort": np.asarray(result.leaf_order, dtype=np.int32),
        "IdxCluster": labels,
    }
    if similarity is not None:
        out["SimilarityMatrix"] = similarity
        out["GoodMatchesMatrix"] = good_matches(result, similarity)
        out["ClusterMatrix"] = cluster_matrix(labels)
    out["MatchedPairs"] = matched_pairs(labels)
    out["Params"] = dict(result.settings_dict)
    out["NumSession"] = np.int64(np.max(result.sessions))
    out["Sessions"] = np.asarray(result.sessions, dtype=np.int64)
    if len(result.shanks) > 1:  # pyDANT's merged multi-shank Output adds these
        cr = clustering_results(result, None)
        out.update(
            {
                "IdxUnit": np.arange(labels.size, dtype=np.int64),
                "IdxShank": np.asarray(result.features.unit_shanks),
                "Locations": np.asarray(result.locations),
                "SimilarityAll": cr["similarity_all"],
                "SimilarityPairs": cr["idx_unit_pairs"],
                "SimilarityNames": list(result.feature_names),
                "SimilarityWeights": np.asarray(result.weights),
                "SimilarityThreshold": np.asarray(result.thresholds, dtype=float),
                "CurationPairs": np.asarray(result.curation_pairs, dtype=np.int64).reshape(-1, 2),
                "CurationTypes": np.asarray(result.curation_types, dtype=np.int64),
                "Motion": [
                    {
                        "Shank": sh.shank_id,
                        "LinearScale": np.array(LINEAR_SCALE),
                        "Linear": sh.motion.linear,
                        "Constant": sh.motion.constant,
                    }
                    for sh in result.shanks
                ],
            }
        )
    return out


def _save_output(path: Path, output: dict) -> None:
    path.write_bytes(output_bytes(output))


def output_bytes(output: dict) -> bytes:
    """Output.npz's bytes: a 0-d object array under arr_0, as pyDANT's np.savez(file, Output)."""
    buffer = io.BytesIO()
    np.savez(buffer, output)
    return buffer.getvalue()


def curated_output_bytes(result, folder: Path, labels: np.ndarray) -> bytes:
    """Output.npz for curated clusters (dant export), reusing the folder's dense matrix."""
    path = folder / "SimilarityMatrix.npy"
    similarity = None
    if labels.size <= DENSE_OUTPUT_MAX_UNITS and path.is_file():
        similarity = load_npy(path)
    return output_bytes(output_dict(result, similarity, labels))
