"""Adaptive auto-curation (`autoCuration.method` "adaptive", issue 15).

Four steps on the final HDBSCAN clusters, all judged by the *margin* of a pair: its
weighted similarity minus the amplitude-dependent threshold (amplitude_threshold.py) read
at the larger of the two units' amplitudes (pair_amplitude).

1. Split: a cluster whose units are all from different sessions keeps the links with a
   positive margin; each connected part becomes a cluster (pyDANT's split,
   docs/method.md §7 step 2, with the curve in place of the one global threshold).
2. Re-cluster: a cluster holding two units of one session is re-clustered by average
   linkage on the margins, merging only groups with disjoint sessions while the mean
   margin between them is positive (instead of docs/method.md §7 step 1, which drops
   the unit with the lower mean similarity and loses it even when it is a neuron of its
   own).
3. Merge: two clusters join when their sessions are disjoint, every pair of units between
   them is a candidate pair with a positive margin, and each is the other's best (highest
   mean margin): one neuron that HDBSCAN cut in two.
4. Rescue: an unmatched unit joins a cluster, or pairs with another unmatched unit, when
   its session is free there, its corrected depth is within `clustering.max_distance` of
   every unit there (they are candidate pairs), its margin to every one of them is
   positive, and the match is mutual-best by mean margin (it fits no other cluster
   better, and no other unmatched unit of its session fits that cluster better); two
   unmatched units that fit no cluster pair when each is the other's best.

Every change is recorded as a Decision (docs/auto_curation.md), with the curation-log
actions (docs/curation_format.md) that take it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

from .amplitude_threshold import ThresholdCurve, fit_threshold_curve
from .autocuration import AutoCuration, connected_components, renumber
from .clustering import ClusteringRun, same_cluster

# Saved with a result: the method, per shank the threshold curve and the motion start
# choice, and every automatic decision (docs/auto_curation.md).
AUTO_CURATION_FILE = "AutoCuration.json"


@dataclass(frozen=True)
class Decision:
    """One automatic decision, in the shank's local unit indices.

    kind: "split" (weak links cut), "recluster" (a cluster with a session conflict
    re-clustered), "merge" (two clusters joined), "attach" (an unmatched unit joined a
    cluster), "pair" (two unmatched units became a cluster). units: the units concerned
    (for split / recluster the whole HDBSCAN cluster; merge: both clusters' units; attach:
    the unit; pair: the two). groups: split / recluster: the groups made (a group of one
    unit is unmatched); merge: the two clusters' units before; attach: ((unit,), the
    cluster's units before). margin: merge / attach / pair: the mean margin of the match;
    split / recluster: the largest mean margin between two groups kept apart (what
    stopped them merging).
    """

    kind: str
    units: tuple[int, ...]
    groups: tuple[tuple[int, ...], ...] = ()
    margin: float = float("nan")
    sessions: tuple[int, ...] = field(default=())  # recluster: the sessions in conflict

    def to_record(self, global_units: np.ndarray) -> dict:
        """The JSON record, units as global 0-based indices, with its undo actions."""

        def g(seq):
            return [int(global_units[i]) for i in seq]

        record: dict = {"decision": self.kind, "units": g(self.units)}
        if self.kind in ("split", "recluster"):
            groups = [g(grp) for grp in self.groups]
            record["groups"] = groups
            record["undo"] = [
                {"action": "merge", "units": [groups[0][0], grp[0]]} for grp in groups[1:]
            ]
            if self.sessions:
                record["sessions"] = [int(s) for s in self.sessions]
        elif self.kind == "merge":
            record["groups"] = [g(grp) for grp in self.groups]
            record["undo"] = [{"action": "split", "units": g(self.groups[1])}]
        else:
            if self.kind == "attach":
                record["to_units"] = g(self.groups[1])
            record["undo"] = [{"action": "reject_unit", "unit": g(self.units)[0]}]
        if np.isfinite(self.margin):
            record["margin"] = round(float(self.margin), 6)
        return record


def pair_amplitude(log_a: np.ndarray, log_b: np.ndarray) -> np.ndarray:
    """The log amplitude at which a pair's threshold is read: the larger unit's (broadcast
    together). Two recordings of one neuron have close amplitudes, so for them this is
    about their mean; a small unit next to a large one does not get the lower threshold
    that only pairs of small units earn (with the geometric mean it did, and such pairs
    of different neurons were kept at margins of +0.00 to +0.06: docs/auto_curation.md)."""
    return np.maximum(log_a, log_b)


def margin_block(
    similarity: np.ndarray, log_amplitude: np.ndarray, curve: ThresholdCurve
) -> np.ndarray:
    """Margins (m, m) of a block of similarity among m units with log amplitudes (m,)."""
    pair_amp = pair_amplitude(log_amplitude[:, None], log_amplitude[None, :])
    return similarity - curve.at(pair_amp)


def constrained_average_linkage(margin: np.ndarray, sessions: np.ndarray) -> list[list[int]]:
    """Groups of 0..m-1 by average linkage on `margin` (m, m): repeatedly merge the two
    groups with the highest mean margin between them, among groups with disjoint sessions,
    while that mean is positive. Ties go to the lowest (first, second) group pair.

    Kept as sums of margins between groups and a group x session table, so a merge costs
    O(m) and the whole run O(m^2) array work (m is at most a few times the sessions)."""
    m = margin.shape[0]
    members: list[list[int]] = [[i] for i in range(m)]
    sums = np.array(margin, dtype=np.float64, copy=True)
    size = np.ones(m)
    _, session_index = np.unique(sessions, return_inverse=True)
    has = np.zeros((m, int(session_index.max(initial=-1)) + 1), dtype=bool)
    has[np.arange(m), session_index] = True
    alive = np.ones(m, dtype=bool)
    while alive.sum() > 1:
        overlap = (has.astype(np.int64) @ has.T.astype(np.int64)) > 0
        mean = sums / np.outer(size, size)
        allowed = ~overlap & alive[:, None] & alive[None, :]
        allowed &= np.triu(np.ones((m, m), dtype=bool), 1)
        score = np.where(allowed, mean, -np.inf)
        a, b = np.unravel_index(int(np.argmax(score)), score.shape)
        if not score[a, b] > 0:
            break
        members[a] = sorted(members[a] + members[b])
        sums[a, :] += sums[b, :]
        sums[:, a] += sums[:, b]
        size[a] += size[b]
        has[a] |= has[b]
        alive[b] = False
        has[b] = False
    groups = [members[i] for i in np.flatnonzero(alive)]
    return sorted(groups, key=lambda grp: grp[0])


def _largest_between(margin: np.ndarray, groups: list[list[int]]) -> float:
    best = -np.inf
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            best = max(best, float(margin[np.ix_(groups[a], groups[b])].mean()))
    return best


def _separated_pairs(units: np.ndarray, groups: list[list[int]], sessions: np.ndarray):
    """(pairs, types) of units put in different groups: type 1 same session, else 2."""
    pairs, types = [], []
    part = np.empty(units.size, dtype=np.int64)
    for k, grp in enumerate(groups):
        part[grp] = k
    for i in range(units.size):
        for j in range(i + 1, units.size):
            if part[i] != part[j]:
                pairs.append((int(units[i]), int(units[j])))
                types.append(1 if sessions[units[i]] == sessions[units[j]] else 2)
    return pairs, types


def split_and_recluster(
    labels: np.ndarray,
    sessions: np.ndarray,
    log_amplitude: np.ndarray,
    block_similarity: Callable[[np.ndarray], np.ndarray],
    curve: ThresholdCurve,
    split: bool = True,
):
    """Steps 1-2 on HDBSCAN `labels` (n,): (labels, decisions, pairs, types); the labels
    keep one id per group (new ids above the old ones), groups of one unit become -1.
    split False (`autoCuration.auto_split` off): only clusters with a session conflict
    change."""
    labels = labels.astype(np.int64).copy()
    next_id = int(labels.max(initial=0))
    decisions: list[Decision] = []
    pairs: list[tuple[int, int]] = []
    types: list[int] = []
    for k in range(1, int(labels.max(initial=0)) + 1):
        units = np.flatnonzero(labels == k)
        if units.size < 2:
            continue
        margin = margin_block(block_similarity(units), log_amplitude[units], curve)
        s = sessions[units]
        conflict = np.unique(s).size < s.size
        if not conflict and not split:
            continue
        if conflict:
            groups = constrained_average_linkage(margin, s)
        else:
            good = margin > 0
            np.fill_diagonal(good, True)
            _, part = connected_components(good)
            groups = [np.flatnonzero(part == p).tolist() for p in range(int(part.max()) + 1)]
        if len(groups) == 1:
            continue
        for grp in groups[1:]:
            next_id += 1
            labels[units[grp]] = next_id
        for grp in groups:
            if len(grp) == 1:
                labels[units[grp]] = -1
        values, counts = np.unique(s, return_counts=True)
        decisions.append(
            Decision(
                "recluster" if conflict else "split",
                tuple(int(u) for u in units),
                tuple(tuple(int(u) for u in units[grp]) for grp in groups),
                _largest_between(margin, groups),
                tuple(int(v) for v in values[counts > 1]),
            )
        )
        p, t = _separated_pairs(units, groups, sessions)
        pairs += p
        types += t
    return labels, decisions, pairs, types


def _margin_graph(n: int, pairs: np.ndarray, margins: np.ndarray) -> scipy.sparse.csr_matrix:
    """Symmetric CSR of the candidate pairs' margins; stored entries are the candidates
    (an exact 0 margin is stored as a tiny negative number so it stays a candidate)."""
    m = np.where(margins == 0, -1e-300, margins)
    i, j = pairs[:, 0], pairs[:, 1]
    graph = scipy.sparse.coo_matrix(
        (np.concatenate([m, m]), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n)
    )
    return graph.tocsr()


def merge_clusters(
    labels: np.ndarray, sessions: np.ndarray, pairs: np.ndarray, margins: np.ndarray
) -> tuple[np.ndarray, list[Decision]]:
    """Step 3. labels (n,) after steps 1-2; pairs (n_pair, 2) the candidate pairs with their
    margins (n_pair,). Two clusters merge when their sessions are disjoint, every pair of
    units between them is a candidate with a positive margin, and each is the other's
    best by mean margin. In rounds (a merged cluster is judged again as a whole) until
    nothing changes."""
    labels = labels.astype(np.int64).copy()
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    margins = np.asarray(margins, dtype=np.float64)
    decisions: list[Decision] = []
    while True:
        la, lb = labels[pairs[:, 0]], labels[pairs[:, 1]]
        between = (la > 0) & (lb > 0) & (la != lb)
        if not between.any():
            break
        ka, kb = np.minimum(la, lb)[between], np.maximum(la, lb)[between]
        m = margins[between]
        keys, inverse = np.unique(np.stack([ka, kb], axis=1), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        count = np.bincount(inverse, minlength=len(keys))
        positive = np.bincount(inverse, weights=(m > 0), minlength=len(keys))
        mean = np.bincount(inverse, weights=m, minlength=len(keys)) / count
        sizes = np.bincount(labels[labels > 0])
        eligible = (count == sizes[keys[:, 0]] * sizes[keys[:, 1]]) & (positive == count)
        best: dict[int, tuple[float, int]] = {}  # cluster -> (mean margin, other cluster)
        for (a, b), score, ok in zip(keys.tolist(), mean.tolist(), eligible.tolist(), strict=True):
            if not ok:
                continue
            sa, sb = sessions[labels == a], sessions[labels == b]
            if np.intersect1d(sa, sb).size:
                continue
            for k, other in ((a, b), (b, a)):
                if k not in best or score > best[k][0]:  # a tie keeps the lower id
                    best[k] = (score, other)
        merged = False
        for a, (score, b) in sorted(best.items()):
            if a < b and best.get(b, (0.0, -1))[1] == a:
                groups = (
                    tuple(int(u) for u in np.flatnonzero(labels == a)),
                    tuple(int(u) for u in np.flatnonzero(labels == b)),
                )
                labels[labels == b] = a
                decisions.append(Decision("merge", groups[0] + groups[1], groups, score))
                merged = True
        if not merged:
            break
    return labels, decisions


def _best_targets(labels, sessions, graph, unmatched):
    """For each unmatched unit: (score, target) with target ("c", cluster) or ("u", unit),
    or None; and fits[(cluster, session)] = [(score, unit)] of every unit that fits."""
    best: dict[int, tuple[float, tuple[str, int]]] = {}
    fits: dict[tuple[int, int], list[tuple[float, int]]] = {}
    sizes = np.bincount(np.maximum(labels, 0))
    members_sessions: dict[int, set] = {}
    for u in unmatched:
        row = graph.getrow(u)
        nb, mg = row.indices, row.data
        if nb.size == 0:
            continue
        options: list[tuple[float, tuple[str, int]]] = []
        lab = labels[nb]
        for k in np.unique(lab[lab > 0]):
            sel = lab == k
            if int(sel.sum()) != sizes[k]:
                continue  # some unit of the cluster is beyond max_distance
            if k not in members_sessions:
                members_sessions[k] = set(sessions[labels == k].tolist())
            if sessions[u] in members_sessions[k]:
                continue
            score = float(mg[sel].mean())
            if mg[sel].min() > 0:  # every link positive, as for a merge (step 3)
                options.append((score, ("c", int(k))))
                fits.setdefault((int(k), int(sessions[u])), []).append((score, int(u)))
        # A unit that fits a cluster does not start a new one: a pair of unmatched units
        # next to a cluster of their neuron would become a second cluster of it, and two
        # clusters of several units never merge here.
        if not options:
            for v, m in zip(nb[lab <= 0], mg[lab <= 0], strict=True):
                if m > 0 and sessions[v] != sessions[u]:
                    options.append((float(m), ("u", int(v))))
        if options:
            # Highest score; on a tie the first option (clusters by id, then units).
            best[int(u)] = max(options, key=lambda o: o[0])
    return best, fits


def rescue_unmatched(
    labels: np.ndarray,
    sessions: np.ndarray,
    pairs: np.ndarray,
    margins: np.ndarray,
) -> tuple[np.ndarray, list[Decision]]:
    """Step 4. labels (n,) after steps 1-3 (-1 unmatched); pairs (n_pair, 2) the candidate
    pairs (corrected depths within max_distance) with their margins (n_pair,). In rounds,
    each cluster takes at most one unit per round, so every attach is judged against the
    cluster as it then is; likewise new pairs near one another form one at a time."""
    labels = labels.astype(np.int64).copy()
    n = labels.size
    graph = _margin_graph(n, np.asarray(pairs), np.asarray(margins, dtype=np.float64))
    decisions: list[Decision] = []
    next_id = int(labels.max(initial=0))
    while True:
        unmatched = np.flatnonzero(labels <= 0)
        best, fits = _best_targets(labels, sessions, graph, unmatched)
        accepted: dict[int, tuple[float, int]] = {}  # cluster -> (score, unit)
        new_pairs: list[tuple[int, int, float]] = []
        for u, (score, (kind, target)) in best.items():
            if kind == "c":
                rivals = fits[(target, int(sessions[u]))]
                if max(rivals)[1] != u:  # (score, unit): highest score, then highest unit
                    continue
                if target not in accepted or score > accepted[target][0]:
                    accepted[target] = (score, u)
            elif u < target and best.get(target, (0, (None, -1)))[1] == ("u", u):
                new_pairs.append((u, target, score))
        if not accepted and not new_pairs:
            break
        for k, (score, u) in sorted(accepted.items()):
            before = tuple(int(v) for v in np.flatnonzero(labels == k))
            labels[u] = k
            decisions.append(Decision("attach", (u,), ((u,), before), score))
        # New pairs, best first; a pair near one formed in this round (a unit with a positive
        # margin to it) waits a round, to join that cluster rather than start a second one
        # of the same neuron (two clusters of several units never merge here).
        near: set[int] = set()
        for u, v, score in sorted(new_pairs, key=lambda p: (-p[2], p[0])):
            if u in near or v in near:
                continue
            next_id += 1
            labels[[u, v]] = next_id
            decisions.append(Decision("pair", (u, v), (), score))
            for w in (u, v):
                row = graph.getrow(w)
                near.update(row.indices[row.data > 0].tolist())
    return labels, decisions


def adaptive_curate(
    labels: np.ndarray,
    sessions: np.ndarray,
    log_amplitude: np.ndarray,
    block_similarity: Callable[[np.ndarray], np.ndarray],
    curve: ThresholdCurve,
    candidate_pairs: np.ndarray,
    candidate_similarity: np.ndarray,
    split: bool = True,
) -> AutoCuration:
    """Steps 1-4 on HDBSCAN `labels` (n,) of one shank; sessions, log_amplitude (n,);
    block_similarity(units) gives S among `units`; candidate_pairs (n_pair, 2) with their
    weighted similarity (n_pair,); split: `autoCuration.auto_split`."""
    labels, decisions, pairs, types = split_and_recluster(
        labels, sessions, log_amplitude, block_similarity, curve, split
    )
    candidate_pairs = np.asarray(candidate_pairs).reshape(-1, 2)
    la = log_amplitude[candidate_pairs[:, 0]]
    lb = log_amplitude[candidate_pairs[:, 1]]
    margins = np.asarray(candidate_similarity) - curve.at(pair_amplitude(la, lb))
    labels, merged = merge_clusters(labels, sessions, candidate_pairs, margins)
    labels, rescued = rescue_unmatched(labels, sessions, candidate_pairs, margins)
    return AutoCuration(
        idx_cluster=renumber(labels),
        pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
        types=np.array(types, dtype=np.int64),
        decisions=tuple(decisions + merged + rescued),
        threshold_curve=curve,
    )


def curate_run(
    run: ClusteringRun,
    sessions: np.ndarray,
    amplitude: np.ndarray,
    block_similarity: Callable[[np.ndarray], np.ndarray],
    split: bool = True,
) -> AutoCuration:
    """The adaptive curation of a final clustering `run` of one shank: the threshold curve
    refitted on its candidate pairs and self-labels, then steps 1-4. amplitude: (n,) µV,
    each unit's peak-to-trough amplitude on its peak channel."""
    log_amplitude = np.log(np.maximum(np.asarray(amplitude, dtype=np.float64), 1e-3))
    pairs = run.pairs[run.candidate]
    similarity = run.similarity[run.candidate]
    matched = same_cluster(run.labels, pairs)
    curve = fit_threshold_curve(
        similarity,
        matched,
        pair_amplitude(log_amplitude[pairs[:, 0]], log_amplitude[pairs[:, 1]]),
        run.threshold,
    )
    return adaptive_curate(
        run.labels, sessions, log_amplitude, block_similarity, curve, pairs, similarity, split
    )


def auto_curation_record(shanks, settings_dict: dict) -> dict:
    """The content of AUTO_CURATION_FILE for a result's shanks (results.ShankTracking):
    units as global 0-based indices (docs/auto_curation.md)."""
    curation = settings_dict.get("autoCuration", {})
    motion = settings_dict.get("motionEstimation", {})
    out: dict = {
        "format": 1,
        "method": curation.get("method", "pydant"),
        "initial_motion": motion.get("initial_motion", "none"),
        "shanks": [],
        "decisions": [],
    }
    for sh in shanks:
        curve = getattr(sh.curation, "threshold_curve", None)
        out["shanks"].append(
            {
                "shank": int(sh.shank_id),
                "threshold_curve": curve.to_dict() if curve is not None else None,
                "motion_start": getattr(sh.curation, "motion_start", None),
            }
        )
        for d in getattr(sh.curation, "decisions", ()):
            out["decisions"].append({"shank": int(sh.shank_id), **d.to_record(sh.units)})
    return out


def load_auto_curation(output_folder) -> dict | None:
    """The AUTO_CURATION_FILE record of an output folder (docs/auto_curation.md), or None
    when the run predates it (or was made by pyDANT)."""
    import json
    from pathlib import Path

    path = Path(output_folder) / AUTO_CURATION_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def curation_summary(curated: AutoCuration) -> str:
    """One log line: how many decisions of each kind the adaptive curation made."""
    kinds = [d.kind for d in curated.decisions]
    counts = ", ".join(
        f"{kinds.count(k)} {k}" for k in ("split", "recluster", "merge", "attach", "pair")
    )
    return f"Adaptive curation: {counts} decisions"
