"""The review order: clusters least certain first, by the margin of their weakest link.

A pair's margin is its similarity minus the threshold: at the pair's amplitude when the
run's curation was amplitude-aware (docs/auto_curation.md), else the shank's one
threshold. A cluster's margin is the smallest margin still needed to hold it together (the
smallest edge of the maximum spanning tree of its pairs' margins).
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


def threshold_curve_of(result, unit: int):
    """The amplitude-dependent threshold (ThresholdCurve) of `unit`'s shank, or None when
    the run used pyDANT's curation (one threshold per shank)."""
    shanks = getattr(result, "shanks", None)  # stand-ins of a result may have none
    if not shanks:
        return None
    shank = shanks[int(result.unit_shank_index[int(unit)])] if len(shanks) > 1 else shanks[0]
    return getattr(getattr(shank, "curation", None), "threshold_curve", None)


def unit_log_amplitude(result, units: np.ndarray) -> np.ndarray:
    """ln of each unit's peak-to-trough amplitude on its peak channel (µV), as the adaptive
    curation measures it (pipeline.curate_shank). (k,)"""
    from .features import peak_to_trough

    amplitude = peak_to_trough(np.asarray(result.features.waveforms[units])).max(axis=1)
    return np.log(np.maximum(amplitude, 1e-9))


def margin_matrix(result, units: np.ndarray) -> np.ndarray:
    """(k, k) margins of a group's pairs: similarity minus the threshold at the pair's
    amplitude (adaptive curation), or minus the shank's threshold (pyDANT's curation)."""
    units = np.asarray(units, dtype=np.int64)
    similarity = result.similarity_block(units, units)
    curve = threshold_curve_of(result, int(units[0]))
    if curve is None:
        return similarity - result.threshold_of(int(units[0]))
    from .adaptive_curation import margin_block

    return margin_block(similarity, unit_log_amplitude(result, units), curve)


def cluster_margin(result, units: np.ndarray) -> float:
    """How far a cluster's weakest link is above the threshold (may be < 0): the smallest
    margin still needed to hold it together (`weakest_link` of `margin_matrix`), with the
    threshold at each pair's amplitude when the run's curation had one."""
    return weakest_link(margin_matrix(result, units))


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
