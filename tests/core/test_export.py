"""`dant export` (dant_core.export): a hand-written curation log applied to a real run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main
from dant_core.curation_log import LOG_FILE, Curator
from dant_core.errors import DantError
from dant_core.export import SUMMARY_FILE, export_curated
from dant_core.log_lock import LOCK_FILE, FolderInUse
from dant_core.results import load_result
from dant_core.review import cluster_margin, review_order

AUTO = "IdxCluster_auto.npy"

# ------------------------------------------------------------------------------------------
# a real tracking run, made once
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> Path:
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings
    from dant_core.synthetic import make_demo

    root = tmp_path_factory.mktemp("export")
    make_demo(root / "data", n_units=120, n_sessions=4, seed=3)
    result = run_tracking(load_dataset(root / "data"), Settings.defaults())
    result.save(root / "out")
    return root / "out"


@pytest.fixture
def out(tracked, tmp_path) -> Path:
    """A fresh copy of the run's output folder (it still points at the same data folder)."""
    return Path(shutil.copytree(tracked, tmp_path / "out"))


def by_hand_renumber(labels) -> list[int]:
    """1..K by first unit, clusters of one unit and -1 unmatched (written independently)."""
    counts = Counter(int(x) for x in labels if x > 0)
    numbers: dict[int, int] = {}
    out = []
    for x in labels:
        x = int(x)
        if x > 0 and counts[x] >= 2:
            numbers.setdefault(x, len(numbers) + 1)
            out.append(numbers[x])
        else:
            out.append(-1)
    return out


def by_hand_pairs(labels) -> set[tuple[int, int]]:
    return {
        (i, j)
        for i in range(len(labels))
        for j in range(i + 1, len(labels))
        if labels[i] > 0 and labels[i] == labels[j]
    }


def clusters_of(auto: np.ndarray) -> dict[int, list[int]]:
    return {int(k): np.flatnonzero(auto == k).tolist() for k in np.unique(auto[auto > 0])}


def write_log(path: Path, records: list[dict], tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)


def plan_actions(out: Path):
    """Pick units from the automatic result for a hand-written log and work out by hand
    what IdxCluster.npy must become. Returns (records, expected labels)."""
    auto = np.load(out / "IdxCluster.npy")
    sessions = np.load(Path(load_result(out).data_folder) / "session_index.npy").ravel()
    sim = np.load(out / "SimilarityMatrix.npy")
    clusters = clusters_of(auto)
    big = [k for k, u in clusters.items() if len(u) >= 3]
    assert len(big) >= 2, "the demo run should give clusters of three or more units"
    labels = {u: int(auto[u]) for u in range(auto.size)}
    records = []
    t = "2025-01-01T12:00:00+00:00"

    # reject_unit: the first unit of the first big cluster leaves it
    k1 = big[0]
    u0 = clusters[k1][0]
    records.append({"action": "reject_unit", "unit": u0, "time": t})
    labels[u0] = -1

    # an action taken back: reject a unit, then undo
    records.append({"action": "reject_unit", "unit": clusters[k1][1], "time": t})
    records.append({"action": "undo", "time": t})

    # reject_pair in the second big cluster: the rest goes to the more similar unit
    k2 = big[1]
    a, b = clusters[k2][0], clusters[k2][-1]
    records.append({"action": "reject_pair", "units": [a, b], "time": t})
    side_a = [a] + [m for m in clusters[k2] if m not in (a, b) and sim[m, a] >= sim[m, b]]
    side_b = [m for m in clusters[k2] if m not in side_a]
    for m in side_a:
        labels[m] = 1000 if len(side_a) > 1 else -1
    for m in side_b:
        labels[m] = 1001 if len(side_b) > 1 else -1

    # add_unit: an unmatched unit from a session its target cluster lacks
    added = None
    for u in np.flatnonzero(auto == -1):
        for k, members in clusters.items():
            if k in (k1, k2):
                continue
            if sessions[u] not in sessions[members]:
                added = (int(u), members[0], k)
                break
        if added:
            break
    assert added, "the demo run should leave an unmatched unit that fits a cluster"
    records.append({"action": "add_unit", "unit": added[0], "to_unit": added[1], "time": t})
    labels[added[0]] = added[2]

    # label: changes no cluster membership
    records.append({"action": "label", "unit": added[1], "label": "good", "time": t})
    expected = by_hand_renumber([labels[u] for u in range(auto.size)])
    return records, np.array(expected)


# ------------------------------------------------------------------------------------------
# the export
# ------------------------------------------------------------------------------------------


def test_export_applies_a_hand_written_log(out, capsys):
    auto = np.load(out / "IdxCluster.npy")
    records, expected = plan_actions(out)
    write_log(out / LOG_FILE, records)
    assert main(["export", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "clusters" in printed and "warning" not in printed
    labels = np.load(out / "IdxCluster.npy")
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(np.load(out / "IdxCluster_auto.npy"), auto)
    pairs = np.load(out / "MatchedPairs.npy")
    assert {tuple(p) for p in pairs.tolist()} == by_hand_pairs(expected.tolist())
    assert np.all(pairs[:, 0] < pairs[:, 1])
    cm = np.load(out / "ClusterMatrix.npy")
    same = (expected[:, None] == expected[None, :]) & (expected[:, None] > 0)
    np.fill_diagonal(same, True)
    np.testing.assert_array_equal(cm, same)
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["actions_applied"] == 5 and summary["undo"] == 1
    assert summary["actions_in_effect"] == 4
    assert summary["clusters_before"] == len(set(by_hand_renumber(auto)) - {-1})
    assert summary["clusters_after"] == int(expected.max())
    assert summary["units_tracked_after"] == int((expected > 0).sum())
    good = expected[records[-1]["unit"]]
    assert summary["labelled_clusters"] == {"good": [int(good)]}


def test_export_from_the_command_line_with_another_log(out, tmp_path):
    auto = np.load(out / "IdxCluster.npy")
    records, expected = plan_actions(out)
    log = tmp_path / "my_curation.jsonl"
    write_log(log, records)
    proc = subprocess.run(
        [sys.executable, "-m", "dant_core.cli", "export", str(out), "--curation", str(log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Exported" in proc.stdout
    np.testing.assert_array_equal(np.load(out / "IdxCluster.npy"), expected)
    # a second export starts again from the automatic clusters, which are kept as they were
    write_log(log, [])
    assert main(["export", str(out), "--curation", str(log)]) == 0
    np.testing.assert_array_equal(np.load(out / "IdxCluster_auto.npy"), auto)
    np.testing.assert_array_equal(np.load(out / "IdxCluster.npy"), by_hand_renumber(auto))


def test_export_without_a_log_renumbers_the_automatic_clusters(out):
    auto = np.load(out / "IdxCluster.npy")
    summary = export_curated(out)
    assert "0 curation actions" in summary
    np.testing.assert_array_equal(np.load(out / "IdxCluster.npy"), by_hand_renumber(auto))


def test_missing_curation_file_is_exit_2_with_one_line(out, capsys):
    missing = out / "nowhere.jsonl"
    assert main(["export", str(out), "--curation", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err and "does not exist" in err


def test_an_invalid_action_stops_the_export_and_names_the_line(out, capsys):
    before = (out / "IdxCluster.npy").read_bytes()
    first = int(np.flatnonzero(np.load(out / "IdxCluster.npy") > 0)[0])
    write_log(
        out / LOG_FILE,
        [{"action": "reject_unit", "unit": first}, {"action": "reject_unit", "unit": 99999}],
    )
    assert main(["export", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "line 2" in err and "unit 99999 does not exist" in err
    assert (out / "IdxCluster.npy").read_bytes() == before
    assert not (out / "IdxCluster_auto.npy").exists()


def test_a_refused_merge_in_the_log_is_an_error(out, capsys):
    auto = np.load(out / "IdxCluster.npy")
    sessions = np.load(Path(load_result(out).data_folder) / "session_index.npy").ravel()
    a = int(np.flatnonzero(auto > 0)[0])
    b = next(int(u) for u in range(auto.size) if auto[u] != auto[a] and sessions[u] == sessions[a])
    write_log(out / LOG_FILE, [{"action": "merge", "units": [a, b]}])
    assert main(["export", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and f"session {sessions[a]}" in err


def test_an_unreadable_middle_line_is_an_error_but_a_cut_last_line_a_warning(out, capsys):
    records, _ = plan_actions(out)
    log = out / LOG_FILE
    write_log(log, records[:1], tail='{"action": "reject_unit", "un')
    assert main(["export", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "warning: curation.jsonl line 2 is incomplete" in printed
    auto = np.load(out / "IdxCluster_auto.npy")
    expected = auto.copy()
    expected[records[0]["unit"]] = -1
    np.testing.assert_array_equal(np.load(out / "IdxCluster.npy"), by_hand_renumber(expected))

    log.write_text(json.dumps(records[0]) + "\n{not json}\n" + json.dumps(records[3]) + "\n")
    assert main(["export", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "not a valid JSON line" in err


def test_files_are_replaced_atomically(out, monkeypatch):
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".npy"}
    names = sorted(p.name for p in out.iterdir())
    records, _ = plan_actions(out)
    write_log(out / LOG_FILE, records)
    real_replace = os.replace

    def fail_on_idx_cluster(src, dst):
        if Path(dst).name == "IdxCluster.npy":
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_idx_cluster)
    with pytest.raises(DantError, match="cannot write .*IdxCluster.npy.*No space left"):
        export_curated(out)
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert sorted(p.name for p in out.iterdir()) == sorted(names + [LOG_FILE, AUTO, LOCK_FILE])
    for name, data in before.items():  # IdxCluster.npy goes first: nothing else changed
        assert (out / name).read_bytes() == data

    def fail_always(src, dst):
        raise OSError(5, "Input/output error")

    (out / AUTO).unlink()
    monkeypatch.setattr(os, "replace", fail_always)
    with pytest.raises(DantError):
        export_curated(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(names + [LOG_FILE, LOCK_FILE])
    for name, data in before.items():
        assert (out / name).read_bytes() == data


def test_export_waits_for_the_window_curating_the_folder(out):
    result = load_result(out)
    unit = int(np.flatnonzero(result.idx_cluster > 0)[0])
    window = Curator(out, result)
    window.do("reject_unit", unit=unit)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(FolderInUse, match=f"{out} is being curated by another program"):
        export_curated(out, result=result)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    window.close()
    export_curated(out, result=result)
    assert np.load(out / "IdxCluster.npy")[unit] == -1


def test_curator_on_a_real_run_then_export(out):
    result = load_result(out)
    auto = result.idx_cluster.copy()
    cur = Curator(out, result)
    k, other = review_order(cur.state, result)[:2]
    margins = {c: cluster_margin(result, cur.state.members(c)) for c in cur.state.cluster_ids()}
    assert margins[k] == min(margins.values())
    members = cur.state.members(k)
    info = cur.do("reject_pair", units=[int(members[0]), int(members[1])])
    assert int(members[0]) in info.units
    cur.do("label", unit=int(cur.state.members(other)[0]), label="reviewed")
    assert review_order(cur.state, result)[-1] == other
    live = cur.state.export_labels()
    cur.close()  # one writer at a time: the export takes the folder's curation lock
    export_curated(out, result=result)
    np.testing.assert_array_equal(np.load(out / "IdxCluster.npy"), live)
    # reopening starts from the kept automatic clusters, not from the export
    again = Curator(out, load_result(out))
    np.testing.assert_array_equal(again.state.export_labels(), live)
    np.testing.assert_array_equal(again.state.auto_labels, auto)


def test_curation_modules_do_not_load_qt():
    code = (
        "import sys, dant_core.curation, dant_core.export; "
        "print([m for m in sys.modules if m.startswith(('PyQt', 'pyqtgraph', 'dant_gui'))])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr
