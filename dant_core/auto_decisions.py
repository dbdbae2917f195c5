"""The adaptive curation's automatic decisions, as the curation sees them (no Qt).

A run with `autoCuration.method` "adaptive" lists every decision it made (split, recluster,
merge, attach, pair) in the output folder's AutoCuration.json (docs/auto_curation.md).
Here: reading them for a result, which current clusters each touches, one readable
sentence per decision, and the fields of the curation action `undo_decision`
(docs/curation_format.md) that takes one back as one step. What that action restores and
when it is refused lives with the other actions in `curation.CurationState`; the grouping
before and after a decision is worked out here (`decision_groupings`), for both.

A result without AutoCuration.json (pyDANT's own output, runs with pyDANT's curation,
older runs) simply has no decisions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DantError

DECISION_KINDS = ("split", "recluster", "merge", "attach", "pair")
# A grouping: groups of units; a group of one unit is an unmatched unit.
Grouping = tuple[tuple[int, ...], ...]
_LIST_AT_MOST = 5
# The end of the refusal of an undo_decision whose result later edits changed (written by
# curation.CurationState); AutoDecisions.refusal replaces it by the later decision to take
# back first, when it knows one.
TAKE_BACK_LATER = "; take back the later changes first"


def decision_groupings(
    kind: str,
    units: Sequence[int],
    groups: Iterable[Sequence[int]] = (),
    to_units: Sequence[int] = (),
) -> tuple[Grouping, Grouping]:
    """(before, after): how a decision's units were grouped before it and after it (each
    group ascending; a group of one unit is unmatched). Fields as in AutoCuration.json:
    split / recluster: `units` the HDBSCAN cluster, `groups` what it became; merge: `groups`
    the two clusters joined; attach: `units` the one unit, `to_units` the cluster it joined;
    pair: the two units. ValueError (saying which field is wrong) when they do not describe
    a decision of that kind."""
    if kind not in DECISION_KINDS:
        raise ValueError(f"'decision' must be one of {', '.join(DECISION_KINDS)}, not {kind!r}")
    units = tuple(sorted(int(u) for u in units))
    groups = tuple(tuple(sorted(int(u) for u in g)) for g in groups)
    to_units = tuple(sorted(int(u) for u in to_units))
    if kind in ("split", "recluster", "merge"):
        flat = [u for g in groups for u in g]
        if len(groups) < 2 or any(len(g) == 0 for g in groups):
            raise ValueError(f"a {kind} needs 'groups': two or more lists of units")
        if kind == "merge" and (len(groups) != 2 or min(map(len, groups)) < 2):
            raise ValueError("a merge needs 'groups': the two clusters (2+ units each) joined")
        if len(set(flat)) != len(flat) or tuple(sorted(flat)) != units:
            raise ValueError(f"the 'groups' of a {kind} must divide its 'units' exactly")
        if kind == "merge":
            return groups, (units,)
        return (units,), groups
    if kind == "attach":
        if len(units) != 1 or len(to_units) < 2 or units[0] in to_units:
            raise ValueError(
                "an attach needs one unit in 'units' and the cluster it joined (2+ other "
                "units) in 'to_units'"
            )
        return (to_units, units), (tuple(sorted(to_units + units)),)
    if len(units) != 2 or units[0] == units[1]:
        raise ValueError("a pair needs two different units in 'units'")
    return ((units[0],), (units[1],)), (units,)


def listed(units: Iterable[int]) -> str:
    """'3, 17, 29' (the first five, then how many in all)."""
    units = [int(u) for u in units]
    head = ", ".join(str(u) for u in units[:_LIST_AT_MOST])
    return head + (f", ... ({len(units)} in all)" if len(units) > _LIST_AT_MOST else "")


def kinds_text(decisions: Iterable[AutoDecision]) -> str:
    """'pair, attach ×2': the kinds of some decisions, in the order first made."""
    counts: dict[str, int] = {}
    for d in decisions:
        counts[d.kind] = counts.get(d.kind, 0) + 1
    return ", ".join(k if n == 1 else f"{k} ×{n}" for k, n in counts.items())


def decision_title(kind: str, shank: int, units, groups=(), to_units=()) -> str:
    """'the automatic attach of unit 152 to units 30, 71, 107 (shank 1)': how messages
    and the history name a decision."""
    units = sorted(int(u) for u in units)
    if kind == "attach":
        what = f"attach of unit {units[0]} to units {listed(sorted(to_units))}"
    elif kind == "pair":
        what = f"pair of units {units[0]} and {units[1]}"
    elif kind == "merge":
        a, b = (sorted(g) for g in groups)
        what = f"merge of units {listed(a)} with units {listed(b)}"
    else:
        what = f"{kind} of units {listed(units)}"
    return f"the automatic {what} (shank {int(shank)})"


@dataclass(frozen=True)
class AutoDecision:
    """One decision of the adaptive curation, units as global 0-based indices (rows of
    waveform_all.npy). kind: one of DECISION_KINDS; units / groups / to_units as in
    AutoCuration.json (`decision_groupings`); margin: merge / attach / pair the mean
    margin of the match, split / recluster the largest mean margin between two groups
    kept apart (nan when absent); sessions: a recluster's sessions in conflict; index: its
    place in the file's list (the order the curation made them)."""

    shank: int
    kind: str
    units: tuple[int, ...]
    groups: Grouping = ()
    to_units: tuple[int, ...] = ()
    margin: float = math.nan
    sessions: tuple[int, ...] = ()
    index: int = 0

    @classmethod
    def from_record(cls, record: dict, index: int = 0) -> AutoDecision:
        """From one entry of AutoCuration.json's "decisions"; ValueError / TypeError /
        KeyError when it is not a valid decision."""
        kind = record["decision"]
        decision = cls(
            shank=_integer(record["shank"]),
            kind=kind,
            units=tuple(_integer(u) for u in record["units"]),
            groups=tuple(tuple(_integer(u) for u in g) for g in record.get("groups", ())),
            to_units=tuple(_integer(u) for u in record.get("to_units", ())),
            margin=float(record.get("margin", math.nan)),
            sessions=tuple(_integer(s) for s in record.get("sessions", ())),
            index=index,
        )
        decision.groupings()  # ValueError when the fields do not fit the kind
        return decision

    def groupings(self) -> tuple[Grouping, Grouping]:
        """(before, after), see `decision_groupings`."""
        return decision_groupings(self.kind, self.units, self.groups, self.to_units)

    @property
    def all_units(self) -> tuple[int, ...]:
        """Every unit whose grouping the decision set, ascending."""
        return tuple(sorted(u for g in self.groupings()[0] for u in g))

    def action(self) -> dict:
        """The fields of the `undo_decision` action that takes this decision back."""
        out: dict = {"shank": self.shank, "decision": self.kind, "units": list(self.units)}
        if self.kind in ("split", "recluster", "merge"):
            out["groups"] = [list(g) for g in self.groups]
        if self.kind == "attach":
            out["to_units"] = list(self.to_units)
        return out

    def title(self) -> str:
        """'the automatic attach of unit 152 to units 30, 71, 107 (shank 1)'."""
        return decision_title(self.kind, self.shank, self.units, self.groups, self.to_units)

    def describe(self, sessions: np.ndarray) -> str:
        """One readable sentence: what the curation did and the margin it went by.
        sessions: (n_unit,) the session of every unit."""

        def unit(u: int) -> str:
            return f"unit {u} (session {int(sessions[u])})"

        margin = f"{self.margin:+.3f}" if math.isfinite(self.margin) else "not recorded"
        if self.kind == "attach":
            return (
                f"{unit(self.units[0]).capitalize()} attached to the cluster of units "
                f"{listed(self.to_units)}, mean margin {margin}"
            )
        if self.kind == "pair":
            a, b = self.units
            return f"Unmatched {unit(a)} and {unit(b)} paired into a cluster, margin {margin}"
        if self.kind == "merge":
            a, b = self.groups
            return (
                f"Two clusters (units {listed(a)} and units {listed(b)}) merged into one, "
                f"mean margin {margin}"
            )
        parts = [f"units {listed(g)}" for g in self.groups if len(g) > 1]
        alone = [g[0] for g in self.groups if len(g) == 1]
        if len(alone) == 1:
            parts.append(f"unit {alone[0]} left unmatched")
        elif alone:
            parts.append(f"{len(alone)} units left unmatched ({listed(alone).split(', ...')[0]})")
        why = "cut where its links were weak"
        if self.kind == "recluster":
            held = ", ".join(str(s) for s in self.sessions) or "one session"
            why = f"held two units of session {held}, so it was re-clustered"
        return (
            f"HDBSCAN cluster of {len(self.units)} units {why}: {'; '.join(parts)}; "
            f"closest groups kept apart: mean margin {margin}"
        )


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)


class AutoDecisions:
    """The automatic decisions of one result, and which current clusters they touch.

    A decision touches a cluster that holds one of its `units` (the HDBSCAN cluster of a
    split or recluster, both clusters of a merge, the attached unit, the paired units).
    Cluster ids are never reused (an id always has the same units), so the decisions of
    a cluster id are worked out once.
    """

    def __init__(self, decisions: Sequence[AutoDecision] = (), warning: str = ""):
        self.decisions = tuple(decisions)
        self.warning = warning  # why some or all of the file's decisions were not read
        self._by_unit: dict[int, list[int]] = {}  # unit -> decisions listing it in `units`
        self._by_any: dict[int, list[int]] = {}  # unit -> decisions that grouped it
        for i, d in enumerate(self.decisions):
            for u in d.units:
                self._by_unit.setdefault(u, []).append(i)
            for u in d.all_units:
                self._by_any.setdefault(u, []).append(i)
        self._of_cluster: dict[int, tuple[AutoDecision, ...]] = {}

    @classmethod
    def load(cls, output_folder, n_units: int) -> AutoDecisions:
        """The decisions in `output_folder`/AutoCuration.json (none without the file or
        folder). A file that cannot be read, or entries that are not valid decisions of
        units 0..n_units-1, are left out and said in `warning`."""
        from .adaptive_curation import AUTO_CURATION_FILE

        if output_folder is None:
            return cls()
        path = Path(output_folder) / AUTO_CURATION_FILE
        if not path.is_file():
            return cls()
        try:
            records = json.loads(path.read_text(encoding="utf-8")).get("decisions", [])
            if not isinstance(records, list):
                raise ValueError("'decisions' is not a list")
        except (OSError, ValueError, AttributeError) as exc:
            return cls((), f"{path}: cannot read the automatic decisions ({exc})")
        decisions, bad = [], 0
        for i, record in enumerate(records):
            try:
                d = AutoDecision.from_record(record, i)
                if not all(0 <= u < n_units for u in d.all_units):
                    raise ValueError("unit out of range")
                decisions.append(d)
            except (KeyError, TypeError, ValueError, AttributeError):
                bad += 1
        warning = f"{path}: {bad} of {len(records)} decisions are not valid and were left out"
        return cls(decisions, warning if bad else "")

    def __len__(self) -> int:
        return len(self.decisions)

    def __iter__(self):
        return iter(self.decisions)

    def touching(self, units: Iterable[int]) -> tuple[AutoDecision, ...]:
        """The decisions whose `units` include one of `units`, in the order made."""
        found = sorted({i for u in units for i in self._by_unit.get(int(u), ())})
        return tuple(self.decisions[i] for i in found)

    def of_cluster(self, cluster: int, members) -> tuple[AutoDecision, ...]:
        """The decisions touching cluster `cluster`; members() gives its units (asked only
        the first time: an id keeps its units)."""
        k = int(cluster)
        if k not in self._of_cluster:
            units = members() if self._by_unit else ()
            if not len(units):  # no such cluster now (redo may bring it): nothing to keep
                return ()
            self._of_cluster[k] = self.touching(units.tolist())
        return self._of_cluster[k]

    def refusal(self, decision: AutoDecision, state) -> str | None:
        """Why `decision` cannot be taken back now with the clusters of `state` (a
        curation.CurationState), or None when it can. When later decisions changed its
        result, the message names the one to take back first."""
        message = _prepare_refusal(decision, state)
        if message is None or not message.endswith(TAKE_BACK_LATER):
            return message
        after = {u for g in decision.groupings()[1] for u in g}
        later = sorted({i for u in after for i in self._by_any.get(u, ())})
        for i in reversed(later):
            d = self.decisions[i]
            if d.index > decision.index and _prepare_refusal(d, state) is None:
                return message.removesuffix(TAKE_BACK_LATER) + f"; take back {d.title()} first"
        return message


def _prepare_refusal(decision: AutoDecision, state) -> str | None:
    """The CurationError text of undoing `decision` on `state` now, None if it would apply
    (nothing is changed: only prepared)."""
    try:
        state.prepare({"action": "undo_decision", **decision.action()})
    except DantError as exc:  # curation.CurationError, a refusal
        return str(exc)
    return None
