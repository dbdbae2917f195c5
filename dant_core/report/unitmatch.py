"""Agreement with UnitMatch: read its MatchTable.csv and compare its tracks with ours.

UnitMatch (unitmatchpy's save_utils.make_match_table) writes one row per ordered unit pair
(n_units² rows) with the columns `ID1`, `ID2` (the sorter's cluster ids), `RecSes 1`,
`RecSes 2` (the sessions), `Matches` (0/1) and, when unique ids were assigned, `UID 1` /
`UID 2` (its tracks). Units are put in correspondence with ours by (session, cluster id)
through the data folder's units.tsv; UnitMatch's sessions are taken as 1-based when they
start at 1, else shifted by one.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import DantError

MATCH_TABLE = "MatchTable.csv"


def read_match_table(folder) -> dict:
    """UnitMatch's units and tracks: {(session, cluster_id): uid}, and its matched pairs as
    a set of frozensets of (session, cluster_id) keys (the `Matches` column)."""
    folder = Path(folder)
    path = folder / MATCH_TABLE if folder.is_dir() else folder
    if not path.is_file():
        raise DantError(f"{path}: no UnitMatch MatchTable.csv there (--unitmatch FOLDER)")
    uid: dict[tuple[int, str], str] = {}
    matches = set()
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader)]
            need = ("ID1", "ID2", "RecSes 1", "RecSes 2")
            missing = [c for c in need if c not in header]
            if missing:
                raise DantError(
                    f"{path}: not a UnitMatch MatchTable (missing {', '.join(missing)})"
                )
            col = {c: header.index(c) for c in header}
            has_uid = "UID 1" in col and "UID 2" in col
            rows = []
            for row in reader:
                a = (int(float(row[col["RecSes 1"]])), _id(row[col["ID1"]]))
                b = (int(float(row[col["RecSes 2"]])), _id(row[col["ID2"]]))
                if has_uid:
                    uid[a] = _id(row[col["UID 1"]])
                    uid[b] = _id(row[col["UID 2"]])
                if "Matches" in col and a != b and float(row[col["Matches"]] or 0) > 0:
                    rows.append((a, b))
    except (OSError, ValueError, IndexError, StopIteration) as exc:
        raise DantError(f"{path}: cannot be read as a UnitMatch MatchTable ({exc})") from exc
    first = (
        min((s for s, _ in uid), default=1)
        if uid
        else min((k[0] for p in rows for k in p), default=1)
    )
    shift = 1 - first if first in (0, 1) else 0

    def fix(key):
        return (key[0] + shift, key[1])

    uid = {fix(k): v for k, v in uid.items()}
    matches = {frozenset((fix(a), fix(b))) for a, b in rows}
    return {"uid": uid, "matches": matches, "path": str(path)}


def _id(text: str) -> str:
    text = text.strip()
    try:
        value = float(text)
        return str(int(value)) if value.is_integer() else text
    except ValueError:
        return text


def agreement(labels: np.ndarray, units_table: list[dict], table: dict, n: int = 10) -> dict:
    """Pair precision / recall of our tracks against UnitMatch's, the adjusted Rand index
    over the units both know, and the tracks where they disagree most."""
    keys = [(int(r["session"]), _id(r["cluster_id"])) for r in units_table]
    uid = table["uid"]
    common = np.array([k in uid for k in keys]) if uid else np.zeros(len(keys), bool)
    if not uid:  # only a Matches column: its tracks are the connected matched pairs
        uid = _components(table["matches"])
        common = np.array([True] * len(keys))
    units = np.flatnonzero(common)
    if units.size == 0:
        raise DantError(
            f"{table['path']}: none of its units is a unit of this data folder "
            "(compared by session and cluster id through units.tsv)"
        )
    ours = np.asarray(labels)[units]
    theirs_raw = [uid.get(keys[u], f"single{u}") for u in units]
    _, theirs = np.unique(theirs_raw, return_inverse=True)
    ours_id = np.where(ours > 0, ours, -(units + 1))  # unmatched: a track of its own
    sessions = np.array([keys[u][0] for u in units])
    a = _pair_set(ours_id, sessions)
    b = _pair_set(theirs, sessions)
    both = len(a & b)
    disagree = []
    for t in np.unique(ours[ours > 0]):
        members = set(np.flatnonzero(ours == t).tolist())
        mine = {p for p in a if p[0] in members}
        theirs_pairs = {p for p in b if p[0] in members or p[1] in members}
        n_diff = len(mine ^ theirs_pairs)
        if n_diff:
            disagree.append(
                {
                    "track": int(t),
                    "pairs_only_dant": len(mine - theirs_pairs),
                    "pairs_only_unitmatch": len(theirs_pairs - mine),
                }
            )
    disagree.sort(key=lambda d: -(d["pairs_only_dant"] + d["pairs_only_unitmatch"]))
    return {
        "units_compared": int(units.size),
        "pairs_dant": len(a),
        "pairs_unitmatch": len(b),
        "pairs_both": both,
        "precision": both / len(a) if a else float("nan"),
        "recall": both / len(b) if b else float("nan"),
        "adjusted_rand_index": adjusted_rand_index(ours_id, theirs),
        "disagreeing_tracks": disagree[:n],
        "n_disagreeing_tracks": len(disagree),
    }


def _pair_set(labels: np.ndarray, sessions: np.ndarray) -> set[tuple[int, int]]:
    """Index pairs (i < j, positions in `labels`) of one label, across sessions."""
    out = set()
    order = np.argsort(labels, kind="stable")
    ids, starts = np.unique(labels[order], return_index=True)
    for group in np.split(order, starts[1:]):
        if group.size < 2:
            continue
        i, j = np.triu_indices(group.size, 1)
        gi, gj = group[i], group[j]
        keep = sessions[gi] != sessions[gj]
        lo, hi = np.minimum(gi, gj)[keep], np.maximum(gi, gj)[keep]
        out.update(zip(lo.tolist(), hi.tolist(), strict=True))
    return out


def _components(matches: set) -> dict:
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in matches:
        a, b = tuple(pair)
        parent[find(a)] = find(b)
    return {k: str(find(k)) for k in parent}


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """Hubert & Arabie's adjusted Rand index of two labelings of the same items."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    n = ai.size
    if n < 2:
        return 1.0
    table = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.int64)
    np.add.at(table, (ai, bi), 1)

    def comb2(x):
        x = np.asarray(x, dtype=float)
        return float((x * (x - 1) / 2).sum())

    index = comb2(table)
    sa, sb = comb2(table.sum(1)), comb2(table.sum(0))
    expected = sa * sb / comb2([n])
    top = (sa + sb) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)
