"""`dant report`: the false-positive estimate against ground truth, the report files, the
UnitMatch agreement."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main
from dant_core.report.stats import false_positive_estimate, pair_groups, track_links
from dant_core.report.unitmatch import adjusted_rand_index
from dant_core.results import load_result
from dant_core.synthetic import load_truth

# |estimate - true rate| <= ABS_TOL + REL_TOL * true rate, on every set
ABS_TOL, REL_TOL = 0.03, 0.3


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings
    from dant_core.synthetic import make_demo

    root = tmp_path_factory.mktemp("report")
    make_demo(root / "data", n_units=360, n_sessions=6, seed=2, drift_um=15)
    result = run_tracking(load_dataset(root / "data"), Settings.defaults())
    result.save(root / "out")
    return root, load_result(root / "out")


def true_wrong_fraction(labels, gt, sessions) -> float:
    """Fraction of cross-session pairs of one track that are two different true neurons."""
    wrong = total = 0
    for t in np.unique(labels[labels > 0]):
        u = np.flatnonzero(labels == t)
        i, j = np.triu_indices(u.size, 1)
        cross = sessions[u[i]] != sessions[u[j]]
        total += int(cross.sum())
        wrong += int((gt[u[i]] != gt[u[j]])[cross].sum())
    return wrong / total


def merge_nearby_tracks(labels, sessions, depth, n_merge, rng):
    """`n_merge` wrong merges: two tracks of disjoint sessions within 60 µm become one."""
    lab = labels.copy()
    done = 0
    for _ in range(20000):  # bounded: later merges may find no pair that qualifies
        if done == n_merge:
            break
        a, b = rng.choice(np.unique(lab[lab > 0]), 2, replace=False)
        ua, ub = np.flatnonzero(lab == a), np.flatnonzero(lab == b)
        if set(sessions[ua]) & set(sessions[ub]) or abs(depth[ua].mean() - depth[ub].mean()) > 60:
            continue
        lab[ub] = a
        done += 1
    assert done == n_merge, f"only {done} of {n_merge} merges possible"
    return lab


def test_false_positive_estimate_follows_the_true_rate(run):
    root, result = run
    gt = load_truth(root / "data").neuron_id
    sessions = np.asarray(result.sessions)
    rng = np.random.default_rng(0)
    sets = {"run": result.idx_cluster}
    for n in (2, 5, 10):
        sets[f"{n} wrong merges"] = merge_nearby_tracks(
            result.idx_cluster, sessions, result.locations[:, 1], n, rng
        )
    rows = []
    for name, labels in sets.items():
        est = false_positive_estimate(pair_groups(result, labels), track_links(result, labels))
        truth = true_wrong_fraction(labels, gt, sessions)
        rows.append((name, est["estimated_false_positive_rate"], truth))
    table = "\n".join(f"{n}: estimate {e:.3f}, true {t:.3f}" for n, e, t in rows)
    for _name, est, truth in rows:
        assert abs(est - truth) <= ABS_TOL + REL_TOL * truth, table
    truths = [t for _, _, t in rows]
    estimates = [e for _, e, _ in rows]
    assert truths[-1] > truths[0] + 0.05, table  # the sets really differ
    assert np.all(np.diff(estimates) > 0), table  # more wrong merges, a higher estimate


def test_report_files_hold_the_numbers_and_embedded_figures(run, tmp_path, capsys):
    root, _ = run
    out = Path(shutil.copytree(root / "out", tmp_path / "out"))
    assert main(["report", str(out)]) == 0
    assert "estimated false-positive rate" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    labels = np.load(out / "IdxCluster.npy")
    sessions = np.load(root / "data" / "session_index.npy").ravel()
    assert report["run"]["units"] == labels.size
    assert report["run"]["tracks"] == np.unique(labels[labels > 0]).size
    spans = [np.unique(sessions[labels == t]).size for t in np.unique(labels[labels > 0])]
    assert report["run"]["neurons_tracked_over_all_sessions"] == sum(s == 6 for s in spans)
    surv = report["survival"]["neurons_seen_in_at_least_k"]
    assert surv[0] == len(spans) + (labels <= 0).sum() and surv[1] == sum(s >= 2 for s in spans)
    low, high = report["estimated_false_positive_rate_interval_95"]
    assert 0 <= low <= report["estimated_false_positive_rate"] <= high <= 1
    held = {v["feature"]: v for v in report["held_out_validation"]}
    assert held["ISI"]["used_for_matching"] is False and held["ISI"]["auc"] > 0.6
    assert held["Waveform"]["used_for_matching"] is True
    least = report["least_certain_tracks"]
    assert [t["confidence"] for t in least] == sorted(t["confidence"] for t in least)
    html = (out / "report.html").read_text()
    assert len(re.findall(r"<svg[^>]*>", html)) >= 4 + len(report["example_tracks"]) - 1
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # self-contained


def test_adjusted_rand_index_known_values():
    a = np.array([0, 0, 1, 1])
    assert adjusted_rand_index(a, a) == pytest.approx(1.0)
    assert adjusted_rand_index(a, np.array([5, 5, 9, 9])) == pytest.approx(1.0)
    # sklearn's documented example: [0, 0, 1, 2] vs [0, 0, 1, 1] -> 0.5714...
    assert adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 2])) == pytest.approx(
        0.5714285714
    )


def test_unitmatch_agreement_from_a_match_table(run, tmp_path):
    """A MatchTable in UnitMatch's layout (0-based sessions, UID columns) made from our own
    tracks with one track split: precision 1, recall < 1, the split track listed."""
    root, _ = run
    out = Path(shutil.copytree(root / "out", tmp_path / "out"))
    data = root / "data"
    labels = np.load(out / "IdxCluster.npy")
    sessions = np.load(data / "session_index.npy").ravel()
    ids = np.arange(labels.size) * 2 + 11
    with open(data / "units.tsv", "w") as f:
        f.write("unit\tsession\tcluster_id\n")
        f.writelines(f"{u}\t{sessions[u]}\t{ids[u]}\n" for u in range(labels.size))
    uid = np.where(labels > 0, labels, 10000 + np.arange(labels.size))
    big = np.bincount(labels[labels > 0]).argmax()
    members = np.flatnonzero(labels == big)
    uid[members[: members.size // 2]] = 99999  # UnitMatch splits our biggest track
    with open(tmp_path / "MatchTable.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ID1", "ID2", "RecSes 1", "RecSes 2", "Matches", "UID 1", "UID 2"])
        for a in range(labels.size):
            for b in (a, (a + 1) % labels.size):
                w.writerow(
                    [
                        ids[a],
                        ids[b],
                        sessions[a] - 1,
                        sessions[b] - 1,
                        int(uid[a] == uid[b]),
                        uid[a],
                        uid[b],
                    ]
                )
    try:
        assert main(["report", str(out), "--unitmatch", str(tmp_path)]) == 0
    finally:
        (data / "units.tsv").unlink()
    um = json.loads((out / "report.json").read_text())["unitmatch"]
    assert um["units_compared"] == labels.size
    assert um["recall"] == pytest.approx(1.0)
    assert um["precision"] < 1.0
    assert um["disagreeing_tracks"][0]["track"] == int(big)
    assert 0 < um["adjusted_rand_index"] < 1
