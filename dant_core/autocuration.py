"""Automatic curation of the final clusters: one unit per session, split weak links.

See docs/method.md §7.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CURATION_TYPE_NAMES = ("Removal_SameSession", "Removal_LowSimilarity")


@dataclass(frozen=True)
class AutoCuration:
    """Curated clusters and the record of what was separated.

    idx_cluster: (n_unit,) 1..K, -1 unmatched; pairs: (n_record, 2) unit pairs separated;
    types: (n_record,) 1 = same session, 2 = low similarity.
    decisions: the adaptive curation's decisions (adaptive_curation.Decision), in the
    shank's local unit indices; empty for pyDANT's curation. threshold_curve: the
    amplitude-dependent threshold the adaptive curation used (None for pyDANT's).
    motion_start: how the motion start was chosen (motion_start.py; None unless
    `motionEstimation.initial_motion` is "evidence"), saved with the curation record.
    """

    idx_cluster: np.ndarray
    pairs: np.ndarray
    types: np.ndarray
    decisions: tuple = ()
    threshold_curve: object = None
    motion_start: dict | None = None


def connected_components(adjacency: np.ndarray) -> tuple[int, np.ndarray]:
    """Components of the undirected graph with an edge i-j where adjacency[i, j] or [j, i].

    adjacency: (n, n) bool. Returns (n_components, labels (n,)), components numbered
    0, 1, ... in the order of their lowest-numbered node, as scipy.sparse.csgraph's
    connected_components(adjacency, directed=False) numbers them: which part of a split
    cluster keeps the cluster's id depends on that order.
    """
    linked = np.asarray(adjacency, dtype=bool)
    linked = linked | linked.T
    n = linked.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    n_components = 0
    for seed in range(n):
        if labels[seed] >= 0:
            continue
        members = np.zeros(n, dtype=bool)
        members[seed] = True
        frontier = members.copy()
        while frontier.any():
            frontier = linked[frontier].any(axis=0) & ~members
            members |= frontier
        labels[members] = n_components
        n_components += 1
    return n_components, labels


def renumber(labels: np.ndarray) -> np.ndarray:
    """Clusters of one unit become -1; the rest are renumbered 1..K keeping their order."""
    labels = labels.copy()
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    labels[np.isin(labels, ids[counts < 2])] = -1
    keep = ids[counts >= 2]
    mapping = np.full(int(labels.max(initial=0)) + 1, -1, dtype=np.int64)
    mapping[keep] = np.arange(1, keep.size + 1)
    out = np.full_like(labels, -1)
    pos = labels > 0
    out[pos] = mapping[labels[pos]]
    return out


def auto_curate(
    labels: np.ndarray,
    sessions: np.ndarray,
    block_similarity: Callable[[np.ndarray], np.ndarray],
    threshold: float,
    auto_split: bool,
) -> AutoCuration:
    """Apply docs/method.md §7 to HDBSCAN `labels`; `block_similarity(units)`: S among `units`."""
    labels = labels.astype(np.int64).copy()
    n_cluster = int(labels.max(initial=0))
    pairs: list[tuple[int, int]] = []
    types: list[int] = []
    blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # cluster -> (its units, S among them)

    for k in range(1, n_cluster + 1):
        units = np.flatnonzero(labels == k)
        if units.size == 0:
            continue
        block = block_similarity(units)
        blocks[k] = (units, block)
        local = np.arange(units.size)
        while True:
            s = sessions[units[local]]
            if np.unique(s).size == s.size:
                break
            mean_sim = block[np.ix_(local, local)].mean(axis=1)
            remove: list[int] = []
            for j in range(local.size):
                for i in range(j + 1, local.size):
                    if s[i] == s[j]:
                        remove.append(i if mean_sim[i] <= mean_sim[j] else j)
            for n_done, r in enumerate(remove):
                for i in range(local.size):
                    if i in remove[: n_done + 1]:
                        continue
                    a, b = sorted((int(units[local[r]]), int(units[local[i]])))
                    pairs.append((a, b))
                    types.append(1)
            drop = np.unique(remove)
            labels[units[local[drop]]] = -1
            local = np.delete(local, drop)

    if auto_split:
        next_id = n_cluster
        for k in range(1, n_cluster + 1):
            units = np.flatnonzero(labels == k)
            if units.size < 2:
                continue
            # The split sees what the session rule left of the cluster: reuse its block.
            members, block = blocks[k]
            keep = np.searchsorted(members, units)
            good = block[np.ix_(keep, keep)] > threshold
            np.fill_diagonal(good, True)
            n_parts, part = connected_components(good)
            if n_parts <= 1:
                continue
            for j in range(1, n_parts):
                moved = units[part == j]
                labels[moved] = next_id + j
                for a in moved:
                    for ii, b in enumerate(units):
                        if 1 <= part[ii] <= j:
                            continue
                        pairs.append(tuple(sorted((int(a), int(b)))))
                        types.append(2)
            next_id += n_parts - 1

    return AutoCuration(
        idx_cluster=renumber(labels),
        pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
        types=np.array(types, dtype=np.int64),
    )
