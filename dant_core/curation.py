"""Manual curation: actions on clusters and unlimited undo/redo (pure, no I/O).

Actions name units by their 0-based index in waveform_all.npy. A `CurationState` applies
them to the automatic labels; `curation_log.Curator` adds the append-only log in the output
folder, from which the state is rebuilt on reopening (format: docs/curation_format.md).
One user gesture is one action, hence one undo step: rejecting several units at once is one
`reject_units` action.

Cluster ids are never reused: a cluster whose members change gets a new id (the largest id
ever used + 1), and undo brings back the old id with exactly its old members, so anything
cached by cluster id stays valid (phy's `Clustering` model).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from .auto_decisions import (
    DECISION_KINDS,
    TAKE_BACK_LATER,
    decision_groupings,
    decision_title,
)
from .errors import DantError

EDIT_ACTIONS = (
    "reject_unit",
    "reject_units",
    "reject_pair",
    "split",
    "merge",
    "add_unit",
    "label",
    "undo_decision",
)
HISTORY_ACTIONS = ("undo", "redo")
# An undo / redo record names the record it takes back / brings back by these fields.
HISTORY_TARGET = {"undo": "undoes", "redo": "redoes"}
_TARGET_FIELDS = ("action", "time")
REVIEWED_LABELS = ("reviewed", "good")
_KEPT_FIELDS = ("note", "time")  # free fields carried along in the log and the history
_LIST_AT_MOST = 5
# How descriptions and refusals name a cluster by its internal id (see _file_numbers).
_CLUSTER_ID = re.compile(r"\bcluster (\d+)\b")

SimilarityFn = Callable[[np.ndarray], np.ndarray]


class CurationError(DantError):
    """An action that cannot be applied (unknown unit, refused merge, ...); it is not logged."""


@dataclass(frozen=True, eq=False)
class UpdateInfo:
    """What one action (or its undo/redo) changed, for views to redraw.

    removed_clusters / added_clusters: ids that disappeared / appeared; units: (n,) int64
    units whose cluster changed; cluster_labels: new label per cluster id whose label changed
    (None = no label); history: None for a new action, else "undo" or "redo".
    """

    action: dict
    description: str
    removed_clusters: tuple[int, ...] = ()
    added_clusters: tuple[int, ...] = ()
    units: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cluster_labels: dict = field(default_factory=dict)
    history: str | None = None

    @property
    def changed_clusters(self) -> tuple[int, ...]:
        """Every cluster id removed or added, ascending."""
        return tuple(sorted(set(self.removed_clusters) | set(self.added_clusters)))


@dataclass(frozen=True, eq=False)
class _Change:
    """The record of one applied action: enough to undo and redo it without recomputing.

    units: (n,) ascending; before / after: (n,) their cluster ids; label_before / label_after:
    cluster id -> label (None = unlabelled) for every id whose label is touched.
    """

    action: dict
    description: str
    units: np.ndarray
    before: np.ndarray
    after: np.ndarray
    removed: tuple[int, ...]
    added: tuple[int, ...]
    label_before: dict
    label_after: dict
    next_id: int

    def info(self, history: str | None = None) -> UpdateInfo:
        """The UpdateInfo of applying (or redoing) this change, or of undoing it."""
        undo = history == "undo"
        prefix = {"undo": "Undo: ", "redo": "Redo: "}.get(history or "", "")
        return UpdateInfo(
            action=self.action,
            description=prefix + self.description,
            removed_clusters=self.added if undo else self.removed,
            added_clusters=self.removed if undo else self.added,
            units=self.units,
            cluster_labels=dict(self.label_before if undo else self.label_after),
            history=history,
        )


# ------------------------------------------------------------------------------------------
# the state
# ------------------------------------------------------------------------------------------


class CurationState:
    """Current clusters after manual actions; pure, no I/O.

    auto_labels: (n_unit,) automatic clusters (> 0) or -1; sessions: (n_unit,) session of each
    unit; similarity(units) -> (k, k) weighted similarity among `units` (used by reject_pair).
    """

    def __init__(self, auto_labels: np.ndarray, sessions: np.ndarray, similarity: SimilarityFn):
        labels = np.array(auto_labels, dtype=np.int64).ravel()
        labels[labels <= 0] = -1
        sessions = np.asarray(sessions).ravel()
        if sessions.size != labels.size:
            raise ValueError(f"{labels.size} labels but {sessions.size} sessions")
        self.auto_labels = labels.copy()
        self.auto_labels.flags.writeable = False
        self.sessions = sessions
        self.similarity = similarity
        self.cluster_labels: dict[int, str] = {}
        self._labels = labels
        self._view = labels.view()
        self._view.flags.writeable = False
        self._next_id = int(labels.max(initial=0)) + 1
        self._first_of: dict[int, int] = {}  # kept by _keep_firsts
        self._firsts: list[int] = []
        ids = np.unique(labels[labels > 0])
        self._keep_firsts(ids.tolist())
        self._done: list[_Change] = []
        self._undone: list[_Change] = []

    # ----- reading --------------------------------------------------------------------

    @property
    def n_units(self) -> int:
        return int(self._labels.size)

    @property
    def labels(self) -> np.ndarray:
        """Current cluster of every unit (n_unit,) int64, -1 unmatched; a live read-only view."""
        return self._view

    @property
    def next_cluster_id(self) -> int:
        """The id the next new cluster will get (one more than any id ever used)."""
        return self._next_id

    def members(self, cluster: int) -> np.ndarray:
        """Units of one cluster, ascending (empty for -1 or an absent id)."""
        if cluster <= 0:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self._labels == cluster)

    def cluster_of(self, unit: int) -> int:
        return int(self._labels[unit])

    def cluster_ids(self) -> np.ndarray:
        """Ids of the current clusters, ascending."""
        return np.unique(self._labels[self._labels > 0])

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def history(self) -> list[dict]:
        """The actions in effect, oldest first (undone ones excluded)."""
        return [c.action for c in self._done]

    @property
    def redo_history(self) -> list[dict]:
        """The undone actions that redo would bring back, next one first."""
        return [c.action for c in reversed(self._undone)]

    def descriptions(self) -> list[str]:
        """Human text of the actions in effect, oldest first (for a history panel)."""
        return [c.description for c in self._done]

    def redo_descriptions(self) -> list[str]:
        """Human text of the undone actions that redo would bring back, next one first."""
        return [c.description for c in reversed(self._undone)]

    def export_labels(self) -> np.ndarray:
        """Labels to export (n_unit,) int64: 1..K numbered in order of each cluster's first
        unit, -1 unmatched; a cluster of one unit is unmatched."""
        return renumber_by_first_unit(self._labels)

    # ----- changing -------------------------------------------------------------------

    def apply(self, action: dict) -> UpdateInfo:
        """Validate and apply one action (undo/redo included); CurationError if refused.

        An undo / redo record that names its target (`undoes` / `redoes`: the target's
        `action` and `time`) is refused unless that is the record it would take back /
        bring back, so a log written by two writers is not replayed into the opposite.
        """
        name = action.get("action") if isinstance(action, dict) else None
        if name in HISTORY_ACTIONS:
            stack = self._done if name == "undo" else self._undone
            if not stack:
                raise CurationError(f"nothing to {name}")
            named = action.get(HISTORY_TARGET[name])
            if named is not None and not _same_target(named, stack[-1].action):
                raise CurationError(
                    f"{name} names {_describe_target(named)} but the action it would "
                    f"{name} is {_describe_target(stack[-1].action)}"
                )
            return self.undo() if name == "undo" else self.redo()
        return self.commit(self.prepare(action))

    def history_record(self, name: str) -> dict | None:
        """The log record of an undo / redo now: it names the action it takes back / brings
        back (`undoes` / `redoes`); None when there is nothing to undo / redo."""
        stack = self._done if name == "undo" else self._undone
        if not stack:
            return None
        target = stack[-1].action
        return {
            "action": name,
            HISTORY_TARGET[name]: {k: target[k] for k in _TARGET_FIELDS if k in target},
        }

    def prepare(self, action: dict) -> _Change:
        """Validate an edit action and work out its change without applying it. Its
        description and refusals name clusters by their numbers in the files (see
        `_file_numbers`)."""
        try:
            action = self.normalize(action)
            if action["action"] in HISTORY_ACTIONS:
                raise CurationError(f"{action['action']} is not an edit; use undo()/redo()")
            change = getattr(self, "_prepare_" + action["action"])(action)
        except CurationError as exc:
            raise CurationError(self._file_numbers(str(exc))) from None
        return replace(change, description=self._file_numbers(change.description, change))

    def _file_numbers(self, text: str, change: _Change | None = None) -> str:
        """`text` with each "cluster <id>" naming the cluster by its number in IdxCluster.npy
        as exported at that moment (export_numbers: what the window's tables show): clusters
        that exist now by today's numbers, the clusters `change` makes by the numbers after
        it. Curation ids are internal (never reused) and drift from the files' 1..K. The
        numbers come from the kept first units (_firsts), not from all labels: replaying a
        long curation log renders thousands of these."""
        firsts = self._firsts
        made: dict[int, int] = {}
        gone: list[int] = []
        if change is not None and change.added:
            gone = [self._first_of[c] for c in change.removed if c in self._first_of]
            made = {int(c): int(change.units[change.after == c].min()) for c in change.added}

        def name(match: re.Match) -> str:
            cluster = int(match.group(1))
            if cluster in self._first_of:
                number = bisect.bisect_left(firsts, self._first_of[cluster]) + 1
            elif cluster in made:  # its rank once the change's clusters come and go
                f = made[cluster]
                number = bisect.bisect_left(firsts, f) + 1
                number -= sum(g < f for g in gone)
                number += sum(m < f for m in made.values())
            else:
                return "a one-unit cluster"
            return f"cluster {number}"

        return _CLUSTER_ID.sub(name, text)

    def _keep_firsts(self, clusters) -> None:
        """Bring _first_of / _firsts (the first unit of every cluster of 2+ units, sorted:
        a cluster's rank there is its number in the files) up to date for `clusters`."""
        for c in clusters:
            c = int(c)
            if c <= 0:
                continue
            old = self._first_of.pop(c, None)
            if old is not None:
                self._firsts.pop(bisect.bisect_left(self._firsts, old))
            members = np.flatnonzero(self._labels == c)
            if members.size >= 2:
                self._first_of[c] = int(members[0])
                bisect.insort(self._firsts, int(members[0]))

    def commit(self, change: _Change) -> UpdateInfo:
        """Apply a prepared change; it goes on the undo stack and the redo stack is cleared."""
        self._set(change.units, change.after, change.label_after)
        self._next_id = max(self._next_id, change.next_id)
        self._done.append(change)
        self._undone.clear()
        return change.info()

    def undo(self) -> UpdateInfo | None:
        """Take back the last action in effect; None if there is none."""
        if not self._done:
            return None
        change = self._done.pop()
        self._set(change.units, change.before, change.label_before)
        self._undone.append(change)
        return change.info("undo")

    def redo(self) -> UpdateInfo | None:
        """Bring back the last undone action, with the same cluster ids; None if there is none."""
        if not self._undone:
            return None
        change = self._undone.pop()
        self._set(change.units, change.after, change.label_after)
        self._done.append(change)
        return change.info("redo")

    def _set(self, units: np.ndarray, labels: np.ndarray, cluster_labels: dict) -> None:
        touched = set(np.unique(self._labels[units]).tolist()) | set(np.unique(labels).tolist())
        self._labels[units] = labels
        self._keep_firsts(touched)
        for cluster, label in cluster_labels.items():
            if label is None:
                self.cluster_labels.pop(cluster, None)
            else:
                self.cluster_labels[cluster] = label

    # ----- validation -----------------------------------------------------------------

    def normalize(self, action: dict) -> dict:
        """The action with checked fields as plain JSON types, in a fixed key order."""
        if not isinstance(action, dict):
            raise CurationError(f"an action must be a JSON object, not {action!r}")
        name = action.get("action")
        if name not in EDIT_ACTIONS + HISTORY_ACTIONS:
            known = ", ".join(EDIT_ACTIONS + HISTORY_ACTIONS)
            raise CurationError(f"unknown action {name!r} (known: {known})")
        out: dict = {"action": name}
        if name in ("reject_unit", "label"):
            out["unit"] = self._unit(action, "unit", name)
        if name == "reject_units":
            out["units"] = sorted(self._units(action, name))
        if name in ("reject_pair", "merge"):
            out["units"] = self._units(action, name, exactly=2)
        if name == "split":
            out["units"] = self._units(action, name)
        if name == "add_unit":
            out["unit"] = self._unit(action, "unit", name)
            out["to_unit"] = self._unit(action, "to_unit", name)
        if name == "label":
            label = action.get("label")
            if not isinstance(label, str):
                raise CurationError(
                    f"label: the field 'label' must be text such as \"good\" or "
                    f'"reviewed" ("" removes the label), not {label!r}'
                )
            out["label"] = label.strip()
        if name == "undo_decision":
            out.update(self._decision_fields(action))
        for key in _KEPT_FIELDS:
            if key in action and action[key] is not None:
                out[key] = str(action[key])
        return out

    def _unit(self, action: dict, key: str, name: str) -> int:
        if key not in action:
            raise CurationError(f"{name}: the field '{key}' (a unit index) is missing")
        return self._check_unit(action[key], name)

    def _check_unit(self, value, name: str) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise CurationError(f"{name}: a unit must be an integer index, not {value!r}")
        if not 0 <= int(value) < self.n_units:
            raise CurationError(
                f"{name}: unit {int(value)} does not exist (units are numbered "
                f"0..{self.n_units - 1})"
            )
        return int(value)

    def _units(self, action: dict, name: str, exactly: int | None = None) -> list[int]:
        value = action.get("units")
        if not isinstance(value, (list, tuple, np.ndarray)) or len(value) == 0:
            raise CurationError(
                f"{name}: the field 'units' must be a list of unit indices, not {value!r}"
            )
        if exactly is not None and len(value) != exactly:
            raise CurationError(f"{name}: needs exactly {exactly} units, got {len(value)}")
        units = [self._check_unit(v, name) for v in value]
        seen: set[int] = set()
        for u in units:
            if u in seen:
                raise CurationError(f"{name}: unit {u} is listed twice")
            seen.add(u)
        return units

    def _decision_fields(self, action: dict) -> dict:
        """An undo_decision's checked fields: the decision as AutoCuration.json names it
        (shank, kind, units; groups or to_units), so the log line says which one it is."""
        name = "undo_decision"
        shank = action.get("shank")
        if isinstance(shank, (bool, np.bool_)) or not isinstance(shank, (int, np.integer)):
            raise CurationError(f"{name}: the field 'shank' must be the shank's id, not {shank!r}")
        kind = action.get("decision")
        if kind not in DECISION_KINDS:
            raise CurationError(
                f"{name}: the field 'decision' must be one of {', '.join(DECISION_KINDS)}, "
                f"not {kind!r}"
            )
        out: dict = {"shank": int(shank), "decision": kind, "units": self._units(action, name)}
        if kind in ("split", "recluster", "merge"):
            groups = action.get("groups")
            if not isinstance(groups, (list, tuple)):
                raise CurationError(f"{name}: a {kind} needs 'groups' (lists of units)")
            out["groups"] = [self._units({"units": g}, name) for g in groups]
        if kind == "attach":
            out["to_units"] = self._units({"units": action.get("to_units")}, name)
        try:
            decision_groupings(kind, out["units"], out.get("groups", ()), out.get("to_units", ()))
        except ValueError as exc:
            raise CurationError(f"{name}: {exc}") from None
        return out

    def _where(self, unit: int) -> str:
        c = self.cluster_of(unit)
        return f"cluster {c}" if c > 0 else "unmatched"

    def _same_session_conflicts(self, group: np.ndarray, incoming: np.ndarray) -> list[str]:
        """'units a and b are both from session s' for every clash between the two groups."""
        out = []
        for u in incoming:
            for v in group[self.sessions[group] == self.sessions[u]]:
                a, b = sorted((int(u), int(v)))
                out.append(f"units {a} and {b} are both from session {self.sessions[u]}")
        return out

    # ----- the actions ----------------------------------------------------------------

    def _prepare_reject_unit(self, action: dict) -> _Change:
        unit = action["unit"]
        c = self.cluster_of(unit)
        if c <= 0:
            raise CurationError(f"reject_unit: unit {unit} is not in a cluster (already unmatched)")
        rest = self.members(c)
        rest = rest[rest != unit]
        change, ids = self._regroup(action, [c], [], [rest])
        text = f"Rejected unit {unit} from cluster {c}"
        return replace(change, description=text + _fate("the rest", rest, ids[0]))

    def _prepare_reject_units(self, action: dict) -> _Change:
        """Every listed unit that is in a cluster becomes unmatched, as one action; what
        stays of each cluster gets a new id (a single unit left becomes unmatched)."""
        units = np.array(action["units"], dtype=np.int64)
        clusters = self._labels[units]
        if not np.any(clusters > 0):
            what = f"unit {units[0]} is" if units.size == 1 else f"units {_list(units)} are"
            raise CurationError(f"reject_units: {what} not in a cluster (already unmatched)")
        old = np.unique(clusters[clusters > 0]).tolist()
        rests = [np.setdiff1d(self.members(c), units) for c in old]
        change, ids = self._regroup(action, old, [], rests)
        parts = [
            f"cluster {c}: {_list(units[clusters == c])}"
            + _fate("the rest", rest, new).replace(";", ",", 1)
            for c, rest, new in zip(old, rests, ids, strict=True)
        ]
        n = int(np.count_nonzero(clusters > 0))
        text = f"Rejected {n} unit{'s' if n > 1 else ''} ({'; '.join(parts)})"
        return replace(change, description=text)

    def _prepare_reject_pair(self, action: dict) -> _Change:
        a, b = action["units"]
        ca, cb = self.cluster_of(a), self.cluster_of(b)
        if ca <= 0 or ca != cb:
            raise CurationError(
                f"reject_pair: units {a} and {b} are not in the same cluster "
                f"(unit {a}: {self._where(a)}, unit {b}: {self._where(b)})"
            )
        members = self.members(ca)
        sim = np.asarray(self.similarity(members), dtype=np.float64)
        if sim.shape != (members.size, members.size):
            raise ValueError(f"similarity gave {sim.shape} for {members.size} units")
        sim = np.nan_to_num(sim, nan=-np.inf)
        ia, ib = np.searchsorted(members, [a, b])
        # Each other member joins the unit it is more similar to; a tie goes to a's side.
        to_a = sim[:, ia] >= sim[:, ib]
        to_a[ia], to_a[ib] = True, False
        side_a, side_b = members[to_a], members[~to_a]
        change, ids = self._regroup(action, [ca], [], [side_a, side_b])
        text = (
            f"Separated units {a} and {b} of cluster {ca}"
            + _fate(f"unit {a}'s side", side_a, ids[0])
            + _fate(f"unit {b}'s side", side_b, ids[1])
        )
        return replace(change, description=text)

    def _prepare_split(self, action: dict) -> _Change:
        units = np.array(sorted(action["units"]), dtype=np.int64)
        c = self.cluster_of(int(units[0]))
        where = {int(u): self.cluster_of(int(u)) for u in units}
        if c <= 0 or any(k != c for k in where.values()):
            listed = ", ".join(f"unit {u}: {self._where(u)}" for u in list(where)[:_LIST_AT_MOST])
            raise CurationError(f"split: the units must all be in one cluster ({listed})")
        members = self.members(c)
        rest = np.setdiff1d(members, units)
        if rest.size == 0:
            raise CurationError(
                f"split: units {_list(units)} are all of cluster {c}; nothing to split off"
            )
        change, ids = self._regroup(action, [c], [], [units, rest])
        text = (
            f"Split units {_list(units)} off cluster {c}"
            + _fate("the split units", units, ids[0])
            + _fate("the rest", rest, ids[1])
        )
        return replace(change, description=text)

    def _prepare_merge(self, action: dict) -> _Change:
        a, b = action["units"]
        ca, cb = self.cluster_of(a), self.cluster_of(b)
        if ca > 0 and ca == cb:
            raise CurationError(f"merge: units {a} and {b} are already in cluster {ca}")
        group_a = self.members(ca) if ca > 0 else np.array([a], dtype=np.int64)
        group_b = self.members(cb) if cb > 0 else np.array([b], dtype=np.int64)
        clashes = self._same_session_conflicts(group_a, group_b)
        if clashes:
            raise CurationError(
                f"merge refused: {self._what(a)} and {self._what(b)} cannot be one neuron: "
                + _join(clashes)
            )
        merged = np.sort(np.concatenate((group_a, group_b)))
        old = [c for c in (ca, cb) if c > 0]
        loose = [u for u, c in ((a, ca), (b, cb)) if c <= 0]
        change, ids = self._regroup(action, old, loose, [merged])
        text = f"Merged {self._what(a)} and {self._what(b)} into cluster {ids[0]}"
        return replace(change, description=f"{text} ({merged.size} units)")

    def _prepare_add_unit(self, action: dict) -> _Change:
        unit, to_unit = action["unit"], action["to_unit"]
        cu, ct = self.cluster_of(unit), self.cluster_of(to_unit)
        if unit == to_unit:
            raise CurationError(f"add_unit: unit {unit} cannot be added to itself")
        if ct > 0 and cu == ct:
            raise CurationError(f"add_unit: unit {unit} is already in cluster {ct}")
        target = self.members(ct) if ct > 0 else np.array([to_unit], dtype=np.int64)
        clashes = self._same_session_conflicts(target, np.array([unit]))
        if clashes:
            raise CurationError(
                f"add_unit refused: unit {unit} cannot join "
                f"{self._what(to_unit)}: " + _join(clashes)
            )
        joined = np.sort(np.append(target, unit))
        rest = self.members(cu)
        rest = rest[rest != unit]  # what stays behind in the unit's own cluster, if any
        old = [c for c in (ct, cu) if c > 0]
        loose = [u for u, c in ((to_unit, ct), (unit, cu)) if c <= 0]
        change, ids = self._regroup(action, old, loose, [joined, rest])
        text = f"Added unit {unit} ({self._where(unit)}) to {self._what(to_unit)}"
        text += f": now cluster {ids[0]}"
        if cu > 0:
            text += _fate(f"the rest of cluster {cu}", rest, ids[1])
        return replace(change, description=text)

    def _prepare_label(self, action: dict) -> _Change:
        unit, label = action["unit"], action["label"]
        c = self.cluster_of(unit)
        if c <= 0:
            raise CurationError(
                f"label: unit {unit} is not in a cluster; only clusters are labelled"
            )
        new = label or None
        text = f'Labelled cluster {c} "{label}"' if new else f"Removed the label of cluster {c}"
        empty = np.zeros(0, dtype=np.int64)
        return _Change(
            action=action,
            description=text,
            units=empty,
            before=empty,
            after=empty,
            removed=(),
            added=(),
            label_before={c: self.cluster_labels.get(c)},
            label_after={c: new},
            next_id=self._next_id,
        )

    def _prepare_undo_decision(self, action: dict) -> _Change:
        """Restore the grouping before one automatic decision (AutoCuration.json), refused
        when its result is no longer in place or the restored grouping would hold two units
        of one session (always so for a recluster)."""
        kind, groups, to_units = (
            action["decision"],
            action.get("groups", ()),
            action.get("to_units", ()),
        )
        before, after = decision_groupings(kind, action["units"], groups, to_units)
        what = decision_title(kind, action["shank"], action["units"], groups, to_units)
        for group in before:
            g = np.array(group, dtype=np.int64)
            clashes = [
                c
                for i in range(1, g.size)
                for c in self._same_session_conflicts(g[:i], g[i : i + 1])
            ]
            if clashes:
                raise CurationError(
                    f"undo_decision refused: {what} cannot be taken back as such: the "
                    f"cluster before it held two units of one session ({_join(clashes)}), "
                    "which a curated cluster may not; merge its groups by hand where they "
                    "are one neuron"
                )
        mismatch = self._grouping_mismatch(after)
        if mismatch:
            if not self._grouping_mismatch(before):
                raise CurationError(
                    f"undo_decision refused: {what} is taken back already (its units are "
                    "grouped as before it)"
                )
            raise CurationError(
                f"undo_decision refused: {what} was changed since: {mismatch}{TAKE_BACK_LATER}"
            )
        old = sorted({self.cluster_of(g[0]) for g in after if len(g) > 1})
        loose = [g[0] for g in after if len(g) == 1]
        parts = [np.array(g, dtype=np.int64) for g in before]
        change, ids = self._regroup(action, old, loose, parts)
        fates = [
            f"units {_list(g)} are cluster {k}" if k > 0 else f"unit {g[0]} is unmatched"
            for g, k in zip(before, ids, strict=True)
        ]
        return replace(change, description=f"Took back {what}: {'; '.join(fates)}")

    def _grouping_mismatch(self, grouping) -> str:
        """How the current clusters differ from `grouping` (groups of 2+ units: exactly one
        cluster each; one unit: unmatched); "" when they do not."""
        for group in grouping:
            c = self.cluster_of(group[0])
            if len(group) == 1:
                if c > 0:
                    return f"unit {group[0]} is in cluster {c}"
                continue
            if c <= 0:
                return f"unit {group[0]} is unmatched"
            members = self.members(c)
            if not np.array_equal(members, np.asarray(group)):
                return f"cluster {c} holds units {_list(members)}, not {_list(group)}"
        return ""

    def _what(self, unit: int) -> str:
        c = self.cluster_of(unit)
        return f"cluster {c} (unit {unit})" if c > 0 else f"unmatched unit {unit}"

    def _regroup(
        self, action: dict, old: list[int], loose: list[int], groups: list[np.ndarray]
    ) -> tuple[_Change, list[int]]:
        """Replace clusters `old` (and unmatched units `loose`) by `groups`.

        A group of two or more units becomes a new cluster, a group of one unit is unmatched;
        units in no group become unmatched. A new cluster keeps a label only if every
        cluster it came from had that same label (phy's rule). Returns the change and the
        new id of each group (-1 for a single unit).
        """
        units = np.sort(
            np.concatenate([self.members(c) for c in old] + [np.asarray(loose, dtype=np.int64)])
        )
        before = self._labels[units]
        after = np.full(units.size, -1, dtype=np.int64)
        next_id = self._next_id
        ids, added, label_after = [], [], {}
        for group in groups:
            if group.size < 2:
                ids.append(-1)
                continue
            pos = np.searchsorted(units, group)
            after[pos] = next_id
            parents = np.unique(before[pos][before[pos] > 0])
            inherited = {self.cluster_labels.get(int(p)) for p in parents}
            if len(inherited) == 1 and None not in inherited:
                label_after[next_id] = inherited.pop()
            ids.append(next_id)
            added.append(next_id)
            next_id += 1
        removed = tuple(sorted(int(c) for c in old))
        label_before = {c: self.cluster_labels.get(c) for c in removed}
        label_after = {**{c: None for c in removed}, **label_after}
        label_before.update({c: None for c in added})
        changed = before != after
        change = _Change(
            action=action,
            description="",  # the caller describes it, knowing the new ids
            units=units[changed],
            before=before[changed],
            after=after[changed],
            removed=removed,
            added=tuple(added),
            label_before=label_before,
            label_after=label_after,
            next_id=next_id,
        )
        return change, ids


def _fate(what: str, units: np.ndarray, new_id: int) -> str:
    if units.size == 0:
        return ""
    if new_id > 0:
        return f"; {what} is now cluster {new_id}"
    return f"; {what} (unit {int(units[0])}) is now unmatched"


def _same_target(named, action: dict) -> bool:
    """Whether an undo/redo record's target (`undoes` / `redoes`) is `action`."""
    if not isinstance(named, dict):
        return False
    return all(named.get(k) == action.get(k) for k in _TARGET_FIELDS if k in named)


def _describe_target(action) -> str:
    if not isinstance(action, dict):
        return repr(action)[:80]
    when = f" of {action['time']}" if action.get("time") else ""
    return f"{action.get('action')!r}{when}"


def _list(units: Iterable[int]) -> str:
    units = [int(u) for u in units]
    head = ", ".join(str(u) for u in units[:_LIST_AT_MOST])
    return head + (f", ... ({len(units)} in all)" if len(units) > _LIST_AT_MOST else "")


def _join(clashes: list[str]) -> str:
    head = "; ".join(clashes[:_LIST_AT_MOST])
    more = len(clashes) - _LIST_AT_MOST
    return head + (f"; and {more} more" if more > 0 else "")


def renumber_by_first_unit(labels: np.ndarray) -> np.ndarray:
    """Clusters numbered 1..K in order of their first unit; one-unit clusters and ids <= 0
    become -1. (n_unit,) int64."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    out = np.full(labels.size, -1, dtype=np.int64)
    pos = np.flatnonzero(labels > 0)
    if pos.size == 0:
        return out
    ids, first, inverse, counts = np.unique(
        labels[pos], return_index=True, return_inverse=True, return_counts=True
    )
    keep = counts >= 2
    order = np.argsort(first[keep], kind="stable")
    number = np.full(ids.size, -1, dtype=np.int64)
    number[np.flatnonzero(keep)[order]] = np.arange(1, order.size + 1)
    out[pos] = number[inverse.ravel()]
    return out


def export_numbers(labels: np.ndarray) -> dict[int, int]:
    """Cluster id -> the number IdxCluster.npy gives that cluster when exported now
    (`renumber_by_first_unit`); clusters of one unit (exported unmatched) are absent.

    Curation ids are never reused, so they drift from the file's 1..K numbering: the window
    shows these numbers, so the numbers users quote are the ones in the files.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    numbers = renumber_by_first_unit(labels)
    pos = np.flatnonzero(numbers > 0)
    ids, first = np.unique(labels[pos], return_index=True)
    return dict(zip(ids.tolist(), numbers[pos[first]].tolist(), strict=True))
