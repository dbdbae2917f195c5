"""The curation session: what the user works on in one window, without Qt.

A `Session` owns the result, its curation (the state and its log, `curation_log.Curator`),
the selection and what is selected after an edit, and every per-cluster statistic
(`cluster_stats.ClusterStatistics`, cached by cluster id and dropped for the clusters an
edit removes). One user gesture is one action: one log record and one undo step. The Qt
controller turns the session's answers into signals; views read values from here.
(phy's Clustering / Supervisor split is the model.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .auto_decisions import AutoDecision, AutoDecisions
from .cluster_stats import MARGIN, ClusterStatistics
from .curation import (
    REVIEWED_LABELS,
    CurationError,
    UpdateInfo,
    export_numbers,
    renumber_by_first_unit,
)
from .curation_log import LABELS_FILE, LOG_FILE, Curator
from .errors import DantError
from .log_lock import FolderInUse
from .selection_plan import SelectionNeeded, plan_gesture

__all__ = ["Edit", "HistoryEntry", "Selection", "SelectionNeeded", "Session"]


def _no_units() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Selection:
    """What is selected: one cluster (or several table rows), units, a unit pair.

    units: (n,) int64 ascending. chosen: the units were picked one by one (detail table,
    matrix, plots), not as a whole cluster; only chosen units are rejected or split off.
    """

    cluster: int | None = None
    clusters: tuple[int, ...] = ()
    units: np.ndarray = field(default_factory=_no_units)
    pair: tuple[int, int] | None = None
    chosen: bool = False

    @property
    def chosen_units(self) -> np.ndarray:
        return self.units if self.chosen else _no_units()

    def same_as(self, other: Selection) -> bool:
        return (
            self.cluster == other.cluster
            and self.clusters == other.clusters
            and self.pair == other.pair
            and self.chosen == other.chosen
            and np.array_equal(self.units, other.units)
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the curation history: `done` False for an undone action redo can restore."""

    text: str
    time: str  # "HH:MM:SS" or ""
    done: bool
    action: dict


@dataclass(frozen=True)
class Edit:
    """What one gesture (or its undo / redo) did: the curation's UpdateInfo and whether the
    selection changed with it."""

    info: UpdateInfo
    selection_changed: bool


class Session:
    """One result and its curation. `output_folder` None (or a folder without
    IdxCluster.npy): the clusters are shown but cannot be curated."""

    def __init__(self, result, output_folder=None, log_path=None):
        self.result = result
        self.output_folder = None if output_folder is None else Path(output_folder)
        self.curator: Curator | None = None
        self.warnings: list[str] = []
        self.read_only_reason = ""  # why curation is not available here ("" when it is)
        if self.output_folder is not None and (self.output_folder / LABELS_FILE).is_file():
            self.curator = Curator(self.output_folder, result, log_path)
            self.warnings = list(self.curator.warnings)
        self.selection = Selection()
        self.stats = ClusterStatistics(result, lambda: self.labels)
        self._navigation: np.ndarray | None = None  # cluster ids in the table's order
        self._corrected_depth: np.ndarray | None = None
        self._exported_labels = self._labels_on_disk()
        self._numbers: dict[int, int] | None = None  # cluster id -> number in the files
        # Worked out once per state of the clusters (every change goes through _edit):
        self._ids: np.ndarray | None = None  # cluster_ids()
        self._exported: bool | None = None  # exported
        self._auto_decisions: AutoDecisions | None = None

    # ----- the clusters ----------------------------------------------------------------------

    @property
    def labels(self) -> np.ndarray:
        """Current cluster of every unit (n_unit,) int64, > 0 or -1 (a read-only view).
        Curated ids are not renumbered and never reused, so they may have gaps."""
        if self.curator is not None:
            return self.curator.state.labels
        return self.result.idx_cluster

    def cluster_ids(self) -> np.ndarray:
        """Sorted ids (int64) of the current clusters (a read-only array, kept until the next
        edit: every view asks after each one)."""
        if self._ids is None:
            labels = self.labels
            ids = np.unique(labels[labels > 0]).astype(np.int64)
            ids.flags.writeable = False
            self._ids = ids
        return self._ids

    def units_of(self, cluster) -> np.ndarray:
        """Units (int64, ascending) of one cluster; empty when absent."""
        if cluster is None or int(cluster) <= 0:
            return _no_units()
        return np.flatnonzero(self.labels == int(cluster)).astype(np.int64)

    def cluster_of(self, unit: int) -> int | None:
        labels = self.labels
        if not 0 <= int(unit) < labels.size:
            return None
        k = int(labels[int(unit)])
        return k if k > 0 else None

    def cluster_number(self, cluster) -> int | None:
        """The number of `cluster` in IdxCluster.npy as exported now, which is what the window
        shows (None: no such cluster, or one unit, exported as unmatched). Curation ids are
        internal: never reused, so they drift from the files' 1..K numbering."""
        if cluster is None:
            return None
        if self._numbers is None:
            self._numbers = export_numbers(self.labels)
        return self._numbers.get(int(cluster))

    def cluster_numbers(self, clusters) -> np.ndarray:
        """`cluster_number` of each of `clusters`, -1 for None. (n,) int64"""
        if self._numbers is None:
            self._numbers = export_numbers(self.labels)
        get = self._numbers.get
        ids = np.asarray(clusters, dtype=np.int64).ravel().tolist()
        return np.fromiter((get(k, -1) for k in ids), dtype=np.int64, count=len(ids))

    def cluster_name(self, cluster) -> str:
        """The text `cluster N`, N the files' number (see cluster_number)."""
        number = self.cluster_number(cluster)
        return "unmatched (one unit)" if number is None else f"cluster {number}"

    def cluster_label(self, cluster) -> str:
        """The curation label of a cluster ("good", "reviewed", ...) or ""."""
        if self.curator is None or cluster is None:
            return ""
        return self.curator.state.cluster_labels.get(int(cluster), "")

    def corrected_depth(self) -> np.ndarray:
        """Motion-corrected depth of every unit (n_unit,) µm: its measured depth minus its
        shank's motion for its session at that depth. The one place this is computed."""
        if self._corrected_depth is None:
            result = self.result
            y = np.asarray(result.locations, dtype=np.float64)[:, 1]
            sessions = np.asarray(result.sessions)
            out = y.copy()
            for shank in result.shanks:
                units = np.asarray(shank.units)
                out[units] = y[units] - shank.motion.at(sessions[units], y[units])
            out.flags.writeable = False
            self._corrected_depth = out
        return self._corrected_depth

    # ----- selection -------------------------------------------------------------------------

    def select(self, selection: Selection) -> bool:
        """Make `selection` current; False when it is what was selected already."""
        if selection.same_as(self.selection):
            return False
        self.selection = selection
        return True

    def select_cluster(self, cluster) -> bool:
        """One cluster (None clears); the units become its units."""
        units = self.units_of(cluster)
        if units.size == 0:
            return self.select(Selection())
        k = int(cluster)
        return self.select(Selection(k, (k,), units))

    def select_clusters(self, clusters) -> bool:
        """Several clusters (table rows, e.g. to merge); one behaves as select_cluster."""
        ids: list[int] = []
        for k in clusters:
            if int(k) not in ids and self.units_of(k).size:
                ids.append(int(k))
        if len(ids) < 2:
            return self.select_cluster(ids[0] if ids else None)
        units = np.unique(np.concatenate([self.units_of(k) for k in ids]))
        return self.select(Selection(None, tuple(ids), units))

    def select_units(self, units) -> bool:
        """Units picked one by one; the cluster becomes their common cluster, if any."""
        labels = self.labels
        units = np.unique(np.asarray(units, dtype=np.int64).ravel())
        units = units[(units >= 0) & (units < labels.size)]
        cluster = self._common_cluster(units)
        clusters = () if cluster is None else (cluster,)
        return self.select(Selection(cluster, clusters, units, None, bool(units.size)))

    def select_pair(self, a: int, b: int) -> bool:
        """A unit pair (a matrix cell); the cluster of a (else of b), if any."""
        pair = (int(a), int(b))
        cluster = self.cluster_of(pair[0])
        if cluster is None:
            cluster = self.cluster_of(pair[1])
        clusters = () if cluster is None else (cluster,)
        units = np.unique(np.array(pair, dtype=np.int64))
        return self.select(Selection(cluster, clusters, units, pair, True))

    def _common_cluster(self, units: np.ndarray) -> int | None:
        ks = np.unique(self.labels[units]) if units.size else _no_units()
        return int(ks[0]) if ks.size == 1 and ks[0] > 0 else None

    def set_navigation_order(self, order) -> None:
        """The cluster ids in the order the cluster table lists them (None: ascending id).
        Next / previous and the selection after an edit follow it."""
        self._navigation = None if order is None else np.asarray(order, dtype=np.int64)

    def navigation_order(self) -> np.ndarray:
        """Current cluster ids in table order (ascending id when the table has not said)."""
        present = self.cluster_ids()
        order = self._navigation
        if order is None:
            return present
        order = np.asarray(order, dtype=np.int64).ravel()
        return order[np.isin(order, present)]

    def next_cluster(self, step: int = 1) -> int | None:
        """The cluster `step` rows below (above, if negative) the selected one in table order;
        from no selection, the first (or last)."""
        order = self.navigation_order()
        if order.size == 0:
            return None
        s = self.selection
        anchor = s.cluster
        if anchor is None and s.clusters:
            anchor = s.clusters[0 if step > 0 else -1]
        hits = np.flatnonzero(order == anchor) if anchor is not None else _no_units()
        if hits.size:
            i = int(np.clip(hits[0] + step, 0, order.size - 1))
        else:
            i = 0 if step > 0 else order.size - 1
        return int(order[i])

    def _selection_after_edit(self, before: Selection, members: np.ndarray, order) -> Selection:
        """The same cluster(s) if they still exist (an id that exists has the same units),
        else the new cluster holding most of their units, else the next cluster in the
        table's order; a selection of loose units is kept."""
        present = set(self.cluster_ids().tolist())
        if not before.clusters:
            cluster = self._common_cluster(before.units)
            clusters = () if cluster is None else (cluster,)
            return Selection(cluster, clusters, before.units, before.pair, before.chosen)
        if all(k in present for k in before.clusters):
            return before
        target = None
        ks = self.labels[members]
        ks = ks[ks > 0]
        if ks.size:
            ids, counts = np.unique(ks, return_counts=True)
            target = int(ids[np.argmax(counts)])
        else:
            order = order.tolist()
            anchor = before.clusters[0]
            i = order.index(anchor) if anchor in order else 0
            for k in order[i + 1 :] + order[:i][::-1]:
                if k in present:
                    target = int(k)
                    break
            if target is None and present:
                target = min(present)
        if target is None:
            return Selection()
        return Selection(target, (target,), self.units_of(target))

    # ----- curation --------------------------------------------------------------------------

    @property
    def can_curate(self) -> bool:
        return self.curator is not None

    def close(self) -> None:
        """Release the output folder's curation lock (this session curates no more)."""
        if self.curator is not None:
            self.curator.close()
            self.curator = None
        self._numbers = self._ids = self._exported = None  # the result's labels now

    def require_curator(self) -> Curator:
        if self.curator is None:
            raise SelectionNeeded(
                "Nothing to curate yet: run tracking, or open a data folder that has results"
            )
        return self.curator

    def describe(self, gesture: str) -> str:
        """What `perform(gesture)` would do now, or what to select first."""
        try:
            return plan_gesture(self, gesture).description
        except (SelectionNeeded, CurationError) as exc:
            return str(exc)

    def perform(self, gesture: str) -> Edit:
        """Run a gesture ("reject", "reject_pair", "split", "merge", "add") on the selection:
        one action in the log, one undo step. SelectionNeeded: nothing to act on;
        CurationError: refused (nothing changed); DantError: the log cannot be written."""
        self.require_curator()
        plan = plan_gesture(self, gesture)
        return self.do(plan.action, **plan.fields)

    def do(self, action: str, **fields) -> Edit:
        """Apply and log one edit action, then choose the selection after it."""
        curator = self.require_curator()
        return self._edit(lambda: curator.do(action, **fields))

    def undo(self) -> Edit:
        """Take back the last gesture."""
        curator = self.require_curator()
        if not curator.state.can_undo:
            raise SelectionNeeded("Nothing to undo")
        return self._edit(curator.undo)

    def redo(self) -> Edit:
        """Bring back the last undone gesture, with the same cluster ids."""
        curator = self.require_curator()
        if not curator.state.can_redo:
            raise SelectionNeeded("Nothing to redo")
        return self._edit(curator.redo)

    def _edit(self, apply) -> Edit:
        before = self.selection
        clusters = before.clusters
        members = (
            np.unique(np.concatenate([self.units_of(k) for k in clusters]))
            if clusters
            else _no_units()
        )
        order = self.navigation_order().copy()
        info = apply()
        self._numbers = self._ids = self._exported = None
        self.stats.forget(info.removed_clusters)
        changed = self.select(self._selection_after_edit(before, members, order))
        return Edit(info, changed)

    def label_cluster(self, cluster: int, label: str) -> Edit:
        """Label a cluster ("good", "reviewed"; "" removes the label)."""
        self.require_curator()
        units = self.units_of(cluster)
        if units.size == 0:
            raise CurationError(f"cluster {cluster} does not exist (any more)")
        return self.do("label", unit=int(units[0]), label=label)

    def mark_reviewed_and_next(self) -> tuple[Edit | None, int | None]:
        """Label the selected cluster "reviewed" (unless already reviewed or good) and select
        the next unreviewed cluster of the review queue (wrapping); from no selection, the
        first. Returns the edit (None if no label changed) and the cluster now selected
        (None: every cluster is reviewed)."""
        state = self.require_curator().state
        s = self.selection
        if len(s.clusters) > 1:
            raise SelectionNeeded(
                f"{len(s.clusters)} clusters selected: select one to mark it reviewed"
            )
        queue = self.review_queue()
        current = s.cluster
        edit = None
        if current is not None and self.cluster_label(current) not in REVIEWED_LABELS:
            edit = self.label_cluster(current, "reviewed")
        start = queue.index(current) + 1 if current in queue else 0
        for k in queue[start:] + queue[:start]:
            if k != current and state.cluster_labels.get(k) not in REVIEWED_LABELS:
                if self.units_of(k).size:
                    self.select_cluster(k)
                    return edit, k
        return edit, None

    @property
    def auto_decisions(self) -> AutoDecisions:
        """The run's automatic decisions (AutoCuration.json; none without it), read once."""
        if self._auto_decisions is None:
            self._auto_decisions = AutoDecisions.load(self.output_folder, self.labels.size)
        return self._auto_decisions

    def decisions_of(self, cluster) -> tuple[AutoDecision, ...]:
        """The automatic decisions that made or changed a current cluster, in order made."""
        if cluster is None or not len(self.auto_decisions):
            return ()
        return self.auto_decisions.of_cluster(int(cluster), lambda: self.units_of(cluster))

    def undo_decision(self, decision: AutoDecision) -> Edit:
        """Take back one automatic decision: one `undo_decision` action (CurationError,
        naming the decision and why, when it cannot be taken back now)."""
        curator = self.require_curator()
        reason = self.auto_decisions.refusal(decision, curator.state)
        if reason:
            raise CurationError(reason)
        return self.do("undo_decision", **decision.action())

    # ----- history ---------------------------------------------------------------------------

    def history_entries(self) -> list[HistoryEntry]:
        """The curation history, oldest first: actions in effect, then undone ones."""
        if self.curator is None:
            return []
        state = self.curator.state
        done = [
            HistoryEntry(text, _clock(a), True, a)
            for a, text in zip(state.history, state.descriptions(), strict=True)
        ]
        undone = [
            HistoryEntry(text, _clock(a), False, a)
            for a, text in zip(state.redo_history, state.redo_descriptions(), strict=True)
        ]
        return done + undone

    def can_undo(self) -> bool:
        return self.curator is not None and self.curator.state.can_undo

    def can_redo(self) -> bool:
        return self.curator is not None and self.curator.state.can_redo

    # ----- review ----------------------------------------------------------------------------

    def review_queue(self) -> list[int]:
        """Current cluster ids to review, least certain first (smallest margin; margins
        computed now where not known); clusters labelled reviewed or good last."""
        if self.curator is None:
            return []
        return sorted(self.cluster_ids().tolist(), key=self.review_key)

    def review_key(self, cluster: int) -> tuple[bool, float, int]:
        """Where a cluster goes in the review queue: (labelled reviewed or good, margin,
        id), ascending; its margin is computed now when not known."""
        k = int(cluster)
        return (self.cluster_label(k) in REVIEWED_LABELS, self.stats.value(MARGIN, k), k)

    def review_margin(self, cluster: int) -> float | None:
        """Weakest link minus threshold of a cluster, when known."""
        return self.stats.cached(MARGIN, cluster)

    def review_progress(self) -> tuple[int, int]:
        """(clusters labelled reviewed or good, current clusters)."""
        if self.curator is None:
            return 0, 0
        ids = self.cluster_ids()
        present = set(ids.tolist())
        labelled = self.curator.state.cluster_labels.items()  # the labelled clusters only
        done = sum(1 for k, label in labelled if label in REVIEWED_LABELS and k in present)
        return done, int(ids.size)

    # ----- export ----------------------------------------------------------------------------

    def _labels_on_disk(self) -> np.ndarray | None:
        """The output folder's IdxCluster.npy renumbered like an export; None if unreadable."""
        if self.curator is None:
            return None
        try:
            labels = np.load(self.curator.output_folder / LABELS_FILE, allow_pickle=False)
        except Exception:  # noqa: BLE001 - missing or damaged: simply "not exported"
            return None
        return renumber_by_first_unit(labels)

    @property
    def exported(self) -> bool:
        """The output folder's IdxCluster.npy holds the clusters shown now."""
        if self.curator is None or self._exported_labels is None:
            return self.curator is None
        if self._exported is None:
            self._exported = np.array_equal(
                self._exported_labels, self.curator.state.export_labels()
            )
        return self._exported

    def export_files(self) -> str:
        """Write the curated IdxCluster.npy (and friends) to the output folder; the summary.
        The export replays the log file itself, as `dant export` does; it reads and writes
        files only, so it may run off the UI thread (then call `exported_now`)."""
        from .export import export_curated

        curator = self.require_curator()
        default_log = curator.output_folder / LOG_FILE
        log = None if curator.log_path == default_log else curator.log_path
        return export_curated(curator.output_folder, log, result=self.result, lock=False)

    def exported_now(self, summary: str) -> str:
        """After `export_files`: read back what was written; the summary, with a warning if
        the files differ from the clusters shown."""
        self._exported_labels = self._labels_on_disk()
        self._exported = None
        if not self.exported:
            summary += (
                "\nwarning: the exported IdxCluster.npy differs from the clusters shown; "
                "reopen the folder to see what the log gives"
            )
        return summary

    def export(self) -> str:
        """export_files, then exported_now: the summary."""
        return self.exported_now(self.export_files())


def open_session(result, output_folder) -> tuple[Session, list[str]]:
    """A session on `result` curated in `output_folder`, and what to tell the user; a log
    that cannot be opened leaves the clusters shown but not curatable."""
    notes = []
    try:
        session = Session(result, output_folder)
    except FolderInUse as exc:  # another writer: show the clusters, read-only
        session = Session(result, None)
        session.read_only_reason = f"{exc}. The clusters are shown read-only."
        notes.append(f"warning: {session.read_only_reason}")
        return session, notes
    except (DantError, OSError) as exc:
        session = Session(result, None)
        notes.append(f"warning: curation is not available for {output_folder}: {exc}")
        return session, notes
    curator = session.curator
    if curator is not None and (curator.state.history or curator.state.can_redo):
        notes.append(
            f"Curation: {len(curator.state.history)} action(s) in effect, replayed from "
            f"{curator.log_path}"
        )
    notes.extend(f"warning: {w}" for w in session.warnings)
    if session.auto_decisions.warning:  # the clusters stand; only the decisions are missing
        notes.append(f"warning: {session.auto_decisions.warning}")
    return session, notes


def _clock(action: dict) -> str:
    """HH:MM:SS of an action's ISO time ("" when absent)."""
    t = str(action.get("time", ""))
    return t[11:19] if len(t) >= 19 else ""
