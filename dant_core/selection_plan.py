"""What a curation key does with the current selection: the one action a gesture becomes.

`plan_gesture(session, name)` reads the session's selection and answers the action record
to apply (and a sentence for the tooltip), or raises SelectionNeeded saying what to select.
Whether the action is allowed (sessions that clash, units already unmatched) is decided by
`curation.CurationState` when it is applied, nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

GESTURES = ("reject", "reject_pair", "split", "merge", "add")
_LIST_AT_MOST = 5


class SelectionNeeded(Exception):
    """A curation gesture was asked for without the selection it acts on; says what to select."""


@dataclass(frozen=True)
class Plan:
    """One gesture as one action: its record name, fields and a sentence for the user."""

    action: str
    fields: dict
    description: str


def plan_gesture(session, name: str) -> Plan:
    """The action `name` (one of GESTURES) would apply to `session.selection`."""
    planners = {
        "reject": _reject,
        "reject_pair": _reject_pair,
        "split": _split,
        "merge": _merge,
        "add": _add,
    }
    if name not in planners:
        raise ValueError(f"unknown selection action {name!r}")
    return planners[name](session)


def _reject(session) -> Plan:
    units = session.selection.chosen_units
    if not units.size:
        raise SelectionNeeded(
            "No units selected to reject: click them in the cluster detail table "
            "(Ctrl+click for several) or pick a pair in the similarity matrix"
        )
    text = f"unit {units[0]}" if units.size == 1 else f"units {_list(units)}"
    if units.size == 1:  # the record older logs hold for one unit
        return Plan("reject_unit", {"unit": int(units[0])}, f"Reject {text} (make unmatched)")
    return Plan("reject_units", {"units": units.tolist()}, f"Reject {text} (make unmatched)")


def _reject_pair(session) -> Plan:
    pair = session.selection.pair
    if pair is None:
        raise SelectionNeeded(
            "No pair selected: click a cell of the similarity matrix (two units of "
            "one cluster) to separate them"
        )
    a, b = pair
    return Plan("reject_pair", {"units": [a, b]}, f"Separate units {a} and {b} (not one neuron)")


def _split(session) -> Plan:
    units = session.selection.chosen_units
    if not units.size:
        raise SelectionNeeded(
            "No units selected to split off: pick them in the cluster detail table"
        )
    cluster = session.cluster_of(int(units[0]))
    where = f" off cluster {cluster}" if cluster is not None else ""
    return Plan(
        "split",
        {"units": units.tolist()},
        f"Split units {_list(units)}{where} into a new cluster",
    )


def _merge(session) -> Plan:
    s = session.selection
    if len(s.clusters) == 2:
        a, b = s.clusters
        ua, ub = session.units_of(a), session.units_of(b)
        if ua.size and ub.size:
            fields = {"units": [int(ua[0]), int(ub[0])]}
            return Plan("merge", fields, f"Merge clusters {a} and {b}")
    if len(s.clusters) > 2:
        raise SelectionNeeded(f"{len(s.clusters)} clusters selected: select exactly two to merge")
    if s.pair is not None:
        a, b = s.pair
        ca, cb = session.cluster_of(a), session.cluster_of(b)
        if ca is None or ca != cb:
            what = " and ".join(
                f"cluster {c}" if c is not None else f"unit {u}" for u, c in ((a, ca), (b, cb))
            )
            return Plan("merge", {"units": [a, b]}, f"Merge {what}")
    raise SelectionNeeded(
        "Nothing to merge: Ctrl+click two clusters in the cluster table, or pick a "
        "pair of units from two clusters in the similarity matrix"
    )


def _add(session) -> Plan:
    s = session.selection
    if s.pair is None:
        raise SelectionNeeded(
            "Nothing to add: pick a pair in the similarity matrix; the unit outside "
            "the selected cluster joins it"
        )
    a, b = s.pair
    target = s.cluster
    if target is None:
        fields = {"unit": a, "to_unit": b}
        return Plan("add_unit", fields, f"Put units {a} and {b} together in a new cluster")
    outside = [u for u in (a, b) if session.cluster_of(u) != target]
    if not outside:
        raise SelectionNeeded(f"Units {a} and {b} are both in cluster {target} already")
    mover = outside[0]
    inside = b if mover == a else a
    fields = {"unit": mover, "to_unit": inside}
    return Plan("add_unit", fields, f"Add unit {mover} to cluster {target}")


def _list(units) -> str:
    units = [int(u) for u in units]
    head = ", ".join(str(u) for u in units[:_LIST_AT_MOST])
    return head + (f", ... ({len(units)} in all)" if len(units) > _LIST_AT_MOST else "")
