"""The UnitMatch reader on a real UnitMatch output table.

tests/data/unitmatch/MatchTable.csv is a real UnitMatch 3.6.1 (unitmatchpy) MatchTable,
made by benchmarks/_unitmatch_sessions.py (make_demo(n_units=90, n_sessions=3, seed=5) as
three Kilosort-layout sessions, sorter ids shuffled per session) and
benchmarks/_unitmatch_run.py (UnitMatch's own pipeline and save_to_output). To stay a few
KB it keeps, unmodified but for the probability rounded to 6 digits, the columns ID1, ID2,
RecSes 1, RecSes 2, Matches, UM Probabilities, UID 1, UID 2 of: every unit's row with
itself, every row with Matches = 1, and 60 other rows drawn at random. truth.tsv gives each
unit's true neuron (session, cluster_id, neuron).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from dant_core.report.unitmatch import agreement, read_match_table

DATA = Path(__file__).resolve().parents[1] / "data" / "unitmatch"


def _truth() -> list[dict]:
    with open(DATA / "truth.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_every_unit_of_the_real_table_is_read_with_its_session_and_id():
    table = read_match_table(DATA)
    truth = _truth()
    assert set(table["uid"]) == {(int(r["session"]), r["cluster_id"]) for r in truth}
    with open(DATA / "MatchTable.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    matched = {
        frozenset(((int(r["RecSes 1"]), r["ID1"]), (int(r["RecSes 2"]), r["ID2"])))
        for r in rows
        if r["Matches"] == "1" and (r["RecSes 1"], r["ID1"]) != (r["RecSes 2"], r["ID2"])
    }
    assert table["matches"] == matched and len(matched) > 20
    for r in rows:  # a unit's UnitMatch track is its UID column
        assert table["uid"][(int(r["RecSes 1"]), r["ID1"])] == r["UID 1"]


def test_agreement_of_the_true_tracks_with_unitmatch_is_far_above_chance():
    """The truth against UnitMatch's tracks: a real agreement when units correspond by
    (session, cluster id), none when the sessions are shifted by one."""
    table = read_match_table(DATA)
    truth = _truth()
    labels = np.array([int(r["neuron"]) + 1 for r in truth])
    right = agreement(labels, truth, table)
    assert right["units_compared"] == len(truth)
    assert right["precision"] > 0.3 and right["recall"] > 0.4
    assert right["adjusted_rand_index"] > 0.3
    n = max(int(r["session"]) for r in truth)
    shifted = [dict(r, session=str(int(r["session"]) % n + 1)) for r in truth]
    wrong = agreement(labels, shifted, table)
    assert wrong["precision"] < 0.1 and wrong["adjusted_rand_index"] < 0.1
