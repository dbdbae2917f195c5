"""Manual curation: actions on clusters, unlimited undo/redo, and the log `curation.jsonl`.

Actions name units by their 0-based index in waveform_all.npy. A `CurationState` applies
them to the automatic labels (pure, no I/O); a `Curator` adds the append-only log in the
output folder, from which the state is rebuilt on reopening. The log format is described
in docs/curation_format.md.

Cluster ids are never reused: a cluster whose members change gets a new id (the largest id
ever used + 1), and undo brings back the old id with exactly its old members, so anything
cached by cluster id stays valid (phy's `Clustering` model).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from .errors import DantError

LOG_FILE = "curation.jsonl"
AUTO_LABELS_FILE = "IdxCluster_auto.npy"
LABELS_FILE = "IdxCluster.npy"
INCOMPLETE_SUFFIX = ".incomplete"  # where an unfinished last log line is moved before appending
EDIT_ACTIONS = ("reject_unit", "reject_pair", "split", "merge", "add_unit", "label")
HISTORY_ACTIONS = ("undo", "redo")
REVIEWED_LABELS = ("reviewed", "good")
_KEPT_FIELDS = ("note", "time")  # free fields carried along in the log and the history
_LIST_AT_MOST = 5

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

    def export_labels(self) -> np.ndarray:
        """Labels to export (n_unit,) int64: 1..K numbered in order of each cluster's first
        unit, -1 unmatched; a cluster of one unit is unmatched."""
        return renumber_by_first_unit(self._labels)

    # ----- changing -------------------------------------------------------------------

    def apply(self, action: dict) -> UpdateInfo:
        """Validate and apply one action (undo/redo included); CurationError if refused."""
        name = action.get("action") if isinstance(action, dict) else None
        if name in HISTORY_ACTIONS:
            info = self.undo() if name == "undo" else self.redo()
            if info is None:
                raise CurationError(f"nothing to {name}")
            return info
        return self.commit(self.prepare(action))

    def prepare(self, action: dict) -> _Change:
        """Validate an edit action and work out its change without applying it."""
        action = self.normalize(action)
        if action["action"] in HISTORY_ACTIONS:
            raise CurationError(f"{action['action']} is not an edit; use undo()/redo()")
        return getattr(self, "_prepare_" + action["action"])(action)

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
        self._labels[units] = labels
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


# ------------------------------------------------------------------------------------------
# the log
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogLine:
    """One non-empty line of a curation log: the action, or why it could not be read."""

    number: int  # 1-based line number in the file
    action: object | None  # the parsed JSON value (normally a dict); None if unreadable
    error: str | None = None
    last: bool = False  # the last non-empty line of the file
    complete: bool = True  # ended with a newline


def parse_log(path) -> list[LogLine]:
    """Every non-empty line of a log (missing file: none); unreadable lines carry `error`."""
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    raw = data.split(b"\n")
    lines = []
    for i, chunk in enumerate(raw):
        if not chunk.strip():
            continue
        complete = i < len(raw) - 1
        try:
            lines.append(LogLine(i + 1, json.loads(chunk.decode("utf-8")), complete=complete))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            lines.append(LogLine(i + 1, None, str(exc), complete=complete))
    if lines:
        lines[-1] = replace(lines[-1], last=True)
    return lines


def unreadable_warning(path, line: LogLine) -> str:
    name = Path(path).name
    if line.last and not line.complete:
        return (
            f"{name} line {line.number} is incomplete (the program probably stopped while "
            "writing it) and was ignored"
        )
    return f"{name} line {line.number} is not valid JSON and was ignored ({line.error})"


def read_log(path) -> tuple[list[dict], list[str]]:
    """The actions of a curation log, oldest first, and a warning per unreadable line."""
    actions, warnings = [], []
    for line in parse_log(path):
        if line.action is None:
            warnings.append(unreadable_warning(path, line))
        else:
            actions.append(line.action)
    return actions, warnings


def replay(
    auto_labels: np.ndarray,
    sessions: np.ndarray,
    similarity: SimilarityFn,
    log_lines: Iterable[dict],
    on_error: Callable[[int, dict, CurationError], None] | None = None,
) -> CurationState:
    """The state after applying `log_lines` (actions, undo/redo included) to the automatic
    labels. An action that is refused raises CurationError, or goes to on_error(index,
    action, error) (index 1-based) and is skipped."""
    state = CurationState(auto_labels, sessions, similarity)
    for i, action in enumerate(log_lines, 1):
        try:
            state.apply(action)
        except CurationError as exc:
            if on_error is None:
                raise CurationError(f"action {i} ({_short(action)}): {exc}") from exc
            on_error(i, action, exc)
    return state


def _short(action) -> str:
    return json.dumps(action)[:120] if isinstance(action, dict) else repr(action)[:120]


def now_iso() -> str:
    """Local time with its UTC offset, ISO 8601, to the millisecond."""
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def append_log_line(path, record: dict) -> None:
    """Append one JSON line to the log and fsync it before returning.

    If the file ends in an unfinished line (a crash while writing it), that line is moved
    to `<log>.incomplete` and cut off first, so the new line starts on a fresh line and the
    log keeps only whole lines.
    """
    path = Path(path)
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    created = not path.exists()
    try:
        with open(path, "a+b") as f:
            size = f.seek(0, os.SEEK_END)
            if size:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    data = _repair_tail(path, f, size) + data
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise DantError(f"cannot write the curation log {path}: {exc}") from exc
    if created:
        fsync_folder(path.parent)


def _repair_tail(path: Path, f, size: int) -> bytes:
    """Deal with a log not ending in a newline; returns bytes to write before the new line."""
    f.seek(0)
    content = f.read(size)
    start = content.rfind(b"\n") + 1
    tail = content[start:]
    try:
        json.loads(tail.decode("utf-8"))
        return b"\n"  # a whole line that only lacks its newline (written by hand)
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    with open(str(path) + INCOMPLETE_SUFFIX, "ab") as g:
        g.write(tail + b"\n")
        g.flush()
        os.fsync(g.fileno())
    f.truncate(start)
    f.flush()
    os.fsync(f.fileno())
    return b""


def fsync_folder(folder: Path) -> None:
    """Make a new or renamed file's directory entry durable (where the OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a directory; the rename is durable enough there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------
# state + log
# ------------------------------------------------------------------------------------------


def auto_labels(output_folder, result=None) -> np.ndarray:
    """The automatic clusters that curation starts from (n_unit,) int64.

    IdxCluster_auto.npy when it exists (IdxCluster.npy may then be a curated export), else
    IdxCluster.npy, else `result.idx_cluster`.
    """
    folder = Path(output_folder)
    for name in (AUTO_LABELS_FILE, LABELS_FILE):
        path = folder / name
        if path.is_file():
            try:
                labels = np.load(path, allow_pickle=False).astype(np.int64).ravel()
            except Exception as exc:  # noqa: BLE001 - any unreadable file is the same problem
                raise DantError(f"{name} in {folder}: cannot be read ({exc})") from exc
            if result is not None and labels.size != result.n_units:
                raise DantError(
                    f"{name} in {folder}: holds {labels.size} units but the result "
                    f"has {result.n_units}"
                )
            return labels
    if result is None:
        raise DantError(f"{folder}: no {LABELS_FILE} (not the output folder of a tracking run?)")
    return np.asarray(result.idx_cluster, dtype=np.int64).copy()


def result_similarity(result) -> SimilarityFn:
    """similarity(units) -> (k, k) exact weighted similarity, from a TrackingResult."""
    return lambda units: result.similarity_block(units, units)


class Curator:
    """A CurationState kept in step with `curation.jsonl` in the output folder.

    Opening replays the log; lines that cannot be read or applied are skipped and described
    in `warnings`. Every action is logged (fsync'd) before it takes effect, so a crash loses
    at most the action in progress.
    """

    def __init__(self, output_folder, result=None, log_path=None):
        self.output_folder = Path(output_folder)
        if result is None:
            from .results import load_result

            result = load_result(self.output_folder)
        self.result = result
        self.log_path = Path(log_path) if log_path is not None else self.output_folder / LOG_FILE
        self.state = CurationState(
            auto_labels(self.output_folder, result), result.sessions, result_similarity(result)
        )
        self.warnings: list[str] = []
        for line in parse_log(self.log_path):
            if line.action is None:
                self.warnings.append(unreadable_warning(self.log_path, line))
                continue
            try:
                self.state.apply(line.action)
            except CurationError as exc:
                self.warnings.append(f"{self.log_path.name} line {line.number} was skipped: {exc}")

    def do(self, action: str, **fields) -> UpdateInfo:
        """Apply one edit action (CurationError if refused, nothing logged) and log it."""
        change = self.state.prepare({"action": action, **fields, "time": now_iso()})
        append_log_line(self.log_path, change.action)
        return self.state.commit(change)

    def undo(self) -> UpdateInfo | None:
        """Undo the last action in effect and log it; None (nothing logged) if there is none."""
        if not self.state.can_undo:
            return None
        append_log_line(self.log_path, {"action": "undo", "time": now_iso()})
        return self.state.undo()

    def redo(self) -> UpdateInfo | None:
        """Redo the last undone action and log it; None (nothing logged) if there is none."""
        if not self.state.can_redo:
            return None
        append_log_line(self.log_path, {"action": "redo", "time": now_iso()})
        return self.state.redo()


# ------------------------------------------------------------------------------------------
# review queue
# ------------------------------------------------------------------------------------------


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
