"""Per-cluster statistics of a curated result, computed once per cluster id and cached.

Cluster ids are never reused (`curation.CurationState`), so a value cached for an id stays
true for good (an undo brings an id back with the same units); `forget(info)` drops the
removed ids' statistics, all but their review margins. Cheap
statistics (units, sessions covered, mean depth, match threshold) are computed for many
clusters at once; the similarity statistics and the review margin need a similarity block
per cluster, so a caller may compute them off the UI thread with the pure functions below
(`within_similarity`, `review.cluster_margin`) and `store` them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .review import cluster_margin

SIMILARITY = "similarity"
PARTIAL_EVERY = 50  # clusters between partial reports of a background computation
MARGIN = "margin"
FEW = 16  # group_units scans the labels once per cluster for at most this many clusters


@dataclass(frozen=True)
class ClusterSummary:
    """The cheap statistics of one cluster.

    n_units: units in it; n_sessions: sessions it covers; depth: mean measured depth of its
    units (µm); threshold: the match threshold of its shank (NaN when the result lacks it).
    """

    n_units: int
    n_sessions: int
    depth: float
    threshold: float


def within_similarity(result, units: np.ndarray) -> tuple[float, float]:
    """(mean, min) of the off-diagonal weighted similarity among `units`; NaN for < 2 units."""
    units = np.asarray(units, dtype=np.int64)
    if units.size < 2:
        return float("nan"), float("nan")
    block = np.asarray(result.similarity_block(units, units))
    off = block[~np.eye(units.size, dtype=bool)]
    return float(off.mean()), float(off.min())


def review_margin(result, units: np.ndarray) -> float:
    """The review margin of a cluster (`review.cluster_margin`); inf for fewer than 2 units."""
    units = np.asarray(units, dtype=np.int64)
    return cluster_margin(result, units) if units.size >= 2 else float("inf")


EXPENSIVE: dict[str, Callable] = {SIMILARITY: within_similarity, MARGIN: review_margin}


def group_units(labels: np.ndarray, ids) -> dict[int, np.ndarray]:
    """cluster id -> its units (ascending) for each id of `ids` (one sort of `labels` for
    many ids, a scan of it per id for a few)."""
    ids = np.asarray(list(ids), dtype=np.int64)
    if ids.size == 0:
        return {}
    if ids.size <= FEW:  # the clusters of one edit: a scan each beats sorting every unit
        return {int(k): np.flatnonzero(labels == k).astype(np.int64) for k in ids}
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    lo = np.searchsorted(sorted_labels, ids, side="left")
    hi = np.searchsorted(sorted_labels, ids, side="right")
    return {int(k): order[a:b].astype(np.int64) for k, a, b in zip(ids, lo, hi, strict=True)}


class ClusterStatistics:
    """Cached statistics of the clusters of `labels()` (a function giving the current labels).

    `computed` counts the clusters each statistic was computed for ("summary", "similarity",
    "margin"), so a test can see that unchanged clusters are not computed again.
    """

    def __init__(self, result, labels: Callable[[], np.ndarray]):
        self.result = result
        self._labels = labels
        self._summary: dict[int, ClusterSummary] = {}
        self._expensive: dict[str, dict[int, object]] = {SIMILARITY: {}, MARGIN: {}}
        self.computed: Counter = Counter()

    # ----- cheap statistics ------------------------------------------------------------------

    def summaries(self, ids) -> list[ClusterSummary]:
        """The summary of each cluster of `ids` (present clusters), in that order."""
        ids = [int(k) for k in ids]
        missing = [k for k in ids if k not in self._summary]
        if missing:
            self._compute_summaries(missing)
        return [self._summary[k] for k in ids]

    def summary(self, cluster: int) -> ClusterSummary:
        return self.summaries([cluster])[0]

    def _compute_summaries(self, ids: list[int]) -> None:
        result = self.result
        sessions = np.asarray(result.sessions, dtype=np.int64)
        depth = np.asarray(result.locations)[:, 1]
        thresholds = np.asarray(result.thresholds, dtype=np.float64).ravel()
        try:
            shank_of = np.asarray(result.unit_shank_index)
        except Exception:  # noqa: BLE001 - a loaded result may lack per-shank information
            shank_of = None
        groups = group_units(self._labels(), ids)
        # Every cluster at once (a Python loop of np.unique per cluster took ~25 ms of the
        # window's thread for the 738 clusters of a 20,000-unit result).
        sizes = np.array([u.size for u in groups.values()], dtype=np.int64)
        units = np.concatenate([*groups.values(), np.zeros(0, dtype=np.int64)])
        member = np.repeat(np.arange(sizes.size), sizes)  # which cluster each unit is in
        span = int(sessions.max(initial=0)) + 1
        pairs = np.unique(member * span + sessions[units])  # distinct (cluster, session)
        n_sessions = np.bincount(pairs // span, minlength=sizes.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            depths = np.bincount(member, weights=depth[units], minlength=sizes.size) / sizes
        starts = np.minimum(np.cumsum(sizes) - sizes, max(units.size - 1, 0))
        first = units[starts] if units.size else np.zeros(sizes.size, dtype=np.int64)
        for i, k in enumerate(groups):
            threshold = float("nan")
            if sizes[i] and shank_of is not None and shank_of[first[i]] < thresholds.size:
                threshold = float(thresholds[shank_of[first[i]]])
            self._summary[k] = ClusterSummary(
                n_units=int(sizes[i]),
                n_sessions=int(n_sessions[i]),
                depth=float(depths[i]) if sizes[i] else float("nan"),
                threshold=threshold,
            )
        self.computed["summary"] += len(ids)

    # ----- statistics that need a similarity block -------------------------------------------

    def cached(self, kind: str, cluster: int):
        """The cached value of an expensive statistic, or None while it is not known."""
        return self._expensive[kind].get(int(cluster))

    def value(self, kind: str, cluster: int):
        """The value of an expensive statistic, computed now if it is not known yet."""
        cluster = int(cluster)
        cache = self._expensive[kind]
        if cluster not in cache:
            units = np.flatnonzero(self._labels() == cluster)
            cache[cluster] = EXPENSIVE[kind](self.result, units)
            self.computed[kind] += 1
        return cache[cluster]

    def pending(self, kind: str, ids) -> list[tuple[int, np.ndarray]]:
        """(cluster id, its units) of the clusters of `ids` whose `kind` is not known, for
        a worker to compute with `compute`."""
        missing = [int(k) for k in ids if int(k) not in self._expensive[kind]]
        return list(group_units(self._labels(), missing).items())

    def store(self, kind: str, values: dict) -> None:
        """Keep values computed elsewhere (ids are never reused: they stay true)."""
        self._expensive[kind].update(values)
        self.computed[kind] += len(values)

    def forget(self, removed) -> None:
        """Drop the statistics of the removed clusters (an edit's `UpdateInfo`), but their
        review margins: a float each, and an undo brings the same id back with the same
        units, whose margin then need not be computed again before the queue is in order."""
        for k in removed:
            self._summary.pop(int(k), None)
            for kind, cache in self._expensive.items():
                if kind != MARGIN:
                    cache.pop(int(k), None)


def compute(kind: str, result, clusters, abort=None, progress=None) -> dict:
    """{cluster id: value} of statistic `kind` for (cluster id, units) pairs; pure, for a
    worker thread. Stops early (returning what it has) once `abort.cancelled` (a
    `progress.CancelToken`); `progress(values)`, when given, gets the values found so far
    every PARTIAL_EVERY clusters. A cluster that cannot be computed is left out."""
    fn = EXPENSIVE[kind]
    out: dict = {}
    batch: dict = {}
    for cluster, units in clusters:
        if abort is not None and abort.cancelled:
            break
        if progress is not None and len(batch) >= PARTIAL_EVERY:
            progress(batch)
            batch = {}
        try:
            out[int(cluster)] = batch[int(cluster)] = fn(result, units)
        except Exception:  # noqa: BLE001 - one bad cluster is shown as unknown, not a crash
            continue
    return out
