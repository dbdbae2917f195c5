"""One iterative clustering run: HDBSCAN on the similarity graph, LDA re-weighting.

See docs/method.md §4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .lda import fit_lda
from .linkage import hdbscan_sparse, single_linkage_order
from .progress import CancelToken, ProgressFn, no_progress
from .similarity import SimilarityComputer

# The HDBSCAN graph links units whose motion-corrected depths differ by up to this many times
# `clustering.max_distance` (docs/method.md §4). On real data (1,211 units) the dense matrix's
# clusters were found from 0.6x upwards. On our 384-channel demo (1,200 units) 1.5x still changed
# a few clusters (pair F1 0.972 against 0.977 with the dense matrix, which matches pyDANT) and 2x
# gave the dense result. A few clusters can still differ from the dense matrix's (96-channel
# demo, 1,200 units: F1 0.965 at 1.5x-3x, 0.963 dense); 2x costs ~30 % more pairs.
GRAPH_WINDOW_FACTOR = 2.0


# Units per tile of the depth-neighbourhood graph; see depth_neighbour_pairs.
PAIR_TILE = 32


@njit(cache=True, nogil=True)
def _count_band_pairs(ends: np.ndarray) -> int:
    total = 0
    for r in range(ends.shape[0]):
        total += ends[r] - r - 1
    return total


@njit(cache=True, nogil=True)
def _fill_band_pairs(order, ends, tile, first, second) -> None:
    """Pairs of depth ranks (r, q), r < q < ends[r], tile by tile of `tile` ranks r, and
    within a tile by q; written as unit indices (smaller, larger)."""
    n = ends.shape[0]
    k = 0
    for t0 in range(0, n, tile):
        t1 = min(n, t0 + tile)
        for q in range(t0 + 1, ends[t1 - 1]):
            for r in range(t0, min(t1, q)):
                if q < ends[r]:
                    a = order[r]
                    b = order[q]
                    first[k] = min(a, b)
                    second[k] = max(a, b)
                    k += 1


def depth_neighbour_pairs(depths: np.ndarray, window: float) -> np.ndarray:
    """All pairs (i < j) with |depths[i] - depths[j]| <= window: (n_pair, 2) int32, each
    column contiguous (Fortran order), so `pairs[:, 0]` is handed to kernels without a copy.

    The order serves the similarity kernels' caches: units sorted by depth are cut into
    tiles of PAIR_TILE; a tile's pairs come together, grouped by their deeper unit, so each
    waveform read from memory is used for up to PAIR_TILE pairs in a row. The order is
    deterministic (stable sort by depth).
    """
    n = depths.size
    if n >= np.iinfo(np.int32).max:
        raise ValueError(f"{n} units: more than int32 unit indices can hold")
    order = np.argsort(depths, kind="stable").astype(np.int32)
    sorted_depths = depths[order]
    ends = np.searchsorted(sorted_depths, sorted_depths + window, side="right")
    pairs = np.empty((2, _count_band_pairs(ends)), dtype=np.int32)
    _fill_band_pairs(order, ends, PAIR_TILE, pairs[0], pairs[1])
    return pairs.T


# Pairs scored per call in graph_scores: a cancel or a progress report at least this often
# (~1 s of waveform similarity on two cores).
SCORE_CHUNK = 1 << 20


def graph_scores(
    computer: SimilarityComputer,
    pairs: np.ndarray,
    names: tuple[str, ...],
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """computer.scores of every graph pair (n_pair, len(names)), chunk after chunk of
    consecutive pairs (which keeps the graph's cache-friendly order), reporting progress
    ("Similarity", done, n_pair) and honouring a cancel between chunks."""
    n = pairs.shape[0]
    out = np.empty((n, len(names)))
    progress("Similarity", 0, n)
    for start in range(0, n, SCORE_CHUNK):
        stop = min(n, start + SCORE_CHUNK)
        out[start:stop] = computer.scores(pairs[start:stop, 0], pairs[start:stop, 1], names)
        progress("Similarity", stop, n)
        if cancel is not None:
            cancel.check()
    return out


def similarity_distance(similarity: np.ndarray) -> np.ndarray:
    """HDBSCAN distance 1 / (1 + tanh(S)); inf (unreachable) where tanh(S) rounds to -1."""
    # LDA weights can push S far below -6; the infinite distance is meant, not a fault.
    with np.errstate(divide="ignore"):
        return 1.0 / (1.0 + np.tanh(similarity))


def same_cluster(labels: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """True for pairs whose two units share a (non-noise) cluster."""
    la, lb = labels[pairs[:, 0]], labels[pairs[:, 1]]
    return (la == lb) & (la > 0)


def count_matched_pairs(labels: np.ndarray) -> int:
    """Number of unit pairs that share a cluster: sum over clusters of C(size, 2)."""
    sizes = np.bincount(labels[labels > 0])
    return int((sizes * (sizes - 1) // 2).sum())


@dataclass
class ClusteringRun:
    """The outcome of one iterative clustering run on the depth-neighbourhood graph.

    pairs: (n_pair, 2) graph pairs i < j; scores: (n_pair, n_feature) per-feature scores;
    candidate: (n_pair,) True where the corrected depths differ by <= max_distance;
    labels: (n_unit,) HDBSCAN clusters 1..K, -1 unmatched; leaf_order: (n_unit,).
    """

    feature_names: tuple[str, ...]
    pairs: np.ndarray
    scores: np.ndarray
    candidate: np.ndarray
    weights: np.ndarray
    threshold: float
    labels: np.ndarray
    leaf_order: np.ndarray
    n_iterations: int
    notes: list[str] = field(default_factory=list)

    @property
    def similarity(self) -> np.ndarray:
        """Weighted similarity of every graph pair (n_pair,)."""
        return self.scores @ self.weights

    @property
    def n_matched_pairs(self) -> int:
        return count_matched_pairs(self.labels)


def iterative_clustering(
    computer: SimilarityComputer,
    feature_names,
    corrected_depths: np.ndarray,
    n_sessions: int,
    max_distance: float,
    n_iter: int,
    weight_tol: float,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    with_leaf_order: bool = True,
) -> ClusteringRun:
    """Alternate HDBSCAN and LDA re-weighting of the features (docs/method.md §4)."""
    cancel = cancel or CancelToken()
    names = tuple(feature_names)
    n_unit = corrected_depths.size
    pairs = depth_neighbour_pairs(corrected_depths, GRAPH_WINDOW_FACTOR * max_distance)
    gap = np.abs(corrected_depths[pairs[:, 0]] - corrected_depths[pairs[:, 1]])
    candidate = gap <= max_distance
    scores = graph_scores(computer, pairs, names, progress, cancel)
    # The LDA reads the candidates' scores in place (no copy of a large score table).
    cand_rows = np.flatnonzero(candidate).astype(pairs.dtype)
    cand_pairs = pairs[cand_rows]

    weights = np.full(len(names), 1.0 / len(names))
    fit = None
    notes: list[str] = []
    labels = np.full(n_unit, -1, dtype=np.int64)
    distance = None
    iteration = 0
    for iteration in range(1, n_iter + 1):
        cancel.check()
        similarity = scores @ weights
        distance = similarity_distance(similarity)
        labels = hdbscan_sparse(n_unit, pairs[:, 0], pairs[:, 1], distance, n_sessions)
        progress("Clustering iterations", iteration, n_iter)
        if iteration == n_iter:
            break
        matched = same_cluster(labels, cand_pairs)
        if matched.all() or not matched.any():
            notes.append(
                "LDA skipped: "
                + ("no candidate pair is matched" if not matched.any() else "every pair is matched")
                + "; the feature weights stay as they are"
            )
            break
        fit = fit_lda(scores, matched, rows=cand_rows)
        total = fit.coef.sum()
        if not np.isfinite(total) or total == 0:
            notes.append("LDA gave weights that sum to 0; the feature weights stay as they are")
            fit = None
            break
        new_weights = fit.coef / total
        converged = np.abs(new_weights - weights).sum() < weight_tol
        weights = new_weights
        if converged:
            break

    matched = same_cluster(labels, cand_pairs)
    if fit is None and matched.any() and not matched.all():
        # n_iter = 1 (or an early exit) leaves no fit to read the threshold from.
        fit = fit_lda(scores, matched, rows=cand_rows)
    if fit is not None:
        # Coefficients summing to 0 (features that do not separate the classes) put the
        # boundary at +-inf: every pair a good match, or none (also when undefined).
        with np.errstate(divide="ignore", invalid="ignore"):
            threshold = float(-fit.intercept / fit.coef.sum())
        if np.isnan(threshold):
            threshold = float("inf")
    else:
        threshold = float("inf") if not matched.any() else float("-inf")

    leaf_order = np.arange(n_unit)
    if with_leaf_order and n_unit > 1 and pairs.shape[0]:
        final_distance = similarity_distance(scores @ weights)
        leaf_order = single_linkage_order(n_unit, pairs[:, 0], pairs[:, 1], final_distance)
    return ClusteringRun(
        feature_names=names,
        pairs=pairs,
        scores=scores,
        candidate=candidate,
        weights=weights,
        threshold=threshold,
        labels=labels,
        leaf_order=leaf_order,
        n_iterations=iteration,
        notes=notes,
    )
