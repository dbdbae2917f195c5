"""The review order: clusters least certain first, by the margin of their weakest link.

A cluster's margin is how far the weakest similarity still needed to hold it together (the
smallest edge of its maximum spanning tree) is above its shank's match threshold.
"""

from __future__ import annotations

import numpy as np

from .curation import REVIEWED_LABELS, CurationState


def weakest_link(similarity: np.ndarray) -> float:
    """The weakest similarity still needed to hold a group together: the smallest edge of
    its maximum spanning tree (inf for one unit). similarity: (k, k)."""
    s = np.asarray(similarity, dtype=np.float64)
    k = s.shape[0]
    if k < 2:
        return float("inf")
    s = np.nan_to_num((s + s.T) / 2, nan=-np.inf)
    in_tree = np.zeros(k, dtype=bool)
    in_tree[0] = True
    best = s[0].copy()
    weakest = np.inf
    for _ in range(k - 1):
        cand = np.where(in_tree, -np.inf, best)
        j = int(np.argmax(cand))
        weakest = min(weakest, cand[j])
        in_tree[j] = True
        best = np.maximum(best, s[j])
    return float(weakest)


def cluster_margin(result, units: np.ndarray) -> float:
    """How far the weakest link of a cluster is above its shank's threshold (may be < 0)."""
    units = np.asarray(units, dtype=np.int64)
    return weakest_link(result.similarity_block(units, units)) - result.threshold_of(int(units[0]))


def review_order(state: CurationState, result, cache: dict | None = None) -> list[int]:
    """Current cluster ids to review, least certain first (smallest `cluster_margin`);
    clusters labelled "reviewed" or "good" come after all the others.

    `cache` (cluster id -> margin) may be kept between calls: ids are never reused.
    """
    cache = {} if cache is None else cache
    labels = state.labels
    pos = np.flatnonzero(labels > 0)
    order = pos[np.argsort(labels[pos], kind="stable")]
    ids, starts = np.unique(labels[order], return_index=True)
    groups = np.split(order, starts[1:])
    keys = []
    for cid, units in zip(ids.tolist(), groups, strict=True):
        if cid not in cache:
            cache[cid] = cluster_margin(result, units) if units.size >= 2 else float("inf")
        done = state.cluster_labels.get(cid) in REVIEWED_LABELS
        keys.append((done, cache[cid], cid))
    return [cid for _, _, cid in sorted(keys)]


def reviewed_count(state: CurationState) -> int:
    """How many current clusters are labelled "reviewed" or "good"."""
    present = set(state.cluster_ids().tolist())
    return sum(
        1 for c, lab in state.cluster_labels.items() if lab in REVIEWED_LABELS and c in present
    )
