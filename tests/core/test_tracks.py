"""tracks.tsv (dant track / dant export) and the write-back into sorter folders."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main
from dant_core.curation_log import LOG_FILE
from dant_core.errors import DantError
from dant_core.results import load_result
from dant_core.review import cluster_margin
from dant_core.tracks import TRACKS_FILE, read_tsv

N_SESSIONS = 4


def _sorter_ids(sessions: np.ndarray, rng) -> np.ndarray:
    """Distinct, shuffled, non-contiguous sorter ids within each session."""
    ids = np.zeros(sessions.size, dtype=np.int64)
    for s in np.unique(sessions):
        at = np.flatnonzero(sessions == s)
        ids[at] = rng.permutation(np.arange(at.size) * 3 + 7)
    return ids


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A run on a demo whose units.tsv names phy folders (sessions 1, 2), a SpikeInterface
    analyzer (session 3) and no sorter folder (session 4)."""
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings
    from dant_core.synthetic import make_demo

    root = tmp_path_factory.mktemp("tracks")
    make_demo(root / "data", n_units=120, n_sessions=N_SESSIONS, seed=3)
    sessions = np.load(root / "data" / "session_index.npy").ravel().astype(int)
    ids = _sorter_ids(sessions, np.random.default_rng(1))
    sources = {1: "sorted/day1", 2: str(root / "sorted" / "day2"), 3: "sorted/day3_analyzer"}
    with open(root / "data" / "units.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["unit", "session", "session_name", "source", "cluster_id", "label", "n_spikes"])
        for u, s in enumerate(sessions):
            w.writerow([u, s, f"day{s}", sources.get(s, ""), ids[u], "good", 100])
    for phy in (root / "data" / "sorted" / "day1", root / "sorted" / "day2"):
        phy.mkdir(parents=True)
        (phy / "params.py").write_text("sample_rate = 30000.0\n")
        (phy / "cluster_group.tsv").write_text("cluster_id\tgroup\n7\tgood\n")
    _make_analyzer(root / "data" / "sorted" / "day3_analyzer", ids[sessions == 3])
    result = run_tracking(load_dataset(root / "data"), Settings.defaults())
    result.save(root / "out")
    return root


def _make_analyzer(folder: Path, unit_ids: np.ndarray) -> None:
    si = pytest.importorskip("spikeinterface.core")
    rec, sorting = si.generate_ground_truth_recording(
        durations=[2.0], num_channels=4, num_units=unit_ids.size + 1, seed=0
    )
    # The sorter's ids in an order other than units.tsv's, plus one unit never imported.
    order = np.argsort(-unit_ids)
    sorting = sorting.rename_units([*unit_ids[order].tolist(), 999])
    folder.parent.mkdir(parents=True, exist_ok=True)
    si.create_sorting_analyzer(sorting, rec, format="binary_folder", folder=folder, sparse=False)


@pytest.fixture
def out(tracked, tmp_path) -> Path:
    return Path(shutil.copytree(tracked / "out", tmp_path / "out"))


def _units_table(root: Path) -> list[dict]:
    return read_tsv(root / "data" / "units.tsv")


def check_rows_match(out: Path, root: Path, labels: np.ndarray) -> list[dict]:
    """tracks.tsv equals `labels` and units.tsv row by row; n_sessions and confidence too."""
    rows = read_tsv(out / TRACKS_FILE)
    units = _units_table(root)
    sessions = np.load(root / "data" / "session_index.npy").ravel()
    assert len(rows) == labels.size == len(units)
    result = load_result(out)
    for u, (row, given) in enumerate(zip(rows, units, strict=True)):
        assert row["unit"] == str(u)
        assert row["session"] == given["session"] == str(sessions[u])
        assert row["session_name"] == given["session_name"]
        assert row["cluster_id"] == given["cluster_id"]
        assert int(row["track"]) == (labels[u] if labels[u] > 0 else -1)
        if labels[u] > 0:
            members = np.flatnonzero(labels == labels[u])
            assert int(row["n_sessions"]) == np.unique(sessions[members]).size
            expected = cluster_margin(result, members) if members.size > 1 else None
            if expected is not None:
                assert float(row["confidence"]) == pytest.approx(expected, abs=0.006)
        else:
            assert row["n_sessions"] == "1" and row["confidence"] == ""
    return rows


def test_track_writes_tracks_tsv_equal_to_idx_cluster_and_units_tsv(tracked):
    out = tracked / "out"
    labels = np.load(out / "IdxCluster.npy")
    assert (labels > 0).sum() > 20  # the demo has real tracks
    rows = check_rows_match(out, tracked, labels)
    assert {r["n_sessions"] for r in rows if r["track"] != "-1"} - {"1"}  # tracks span sessions


def test_curated_export_writes_the_curated_table(tracked, out):
    labels = np.load(out / "IdxCluster.npy")
    big = np.bincount(labels[labels > 0]).argmax()
    victim = int(np.flatnonzero(labels == big)[0])
    (out / LOG_FILE).write_text(json.dumps({"action": "reject_unit", "unit": victim}) + "\n")
    assert main(["export", str(out)]) == 0
    curated = np.load(out / "IdxCluster.npy")
    assert curated[victim] == -1 and labels[victim] > 0
    rows = check_rows_match(out, tracked, curated)
    assert rows[victim]["track"] == "-1"


def test_bad_units_tsv_is_refused_before_the_run(tmp_path, capsys):
    from dant_core.synthetic import make_demo

    make_demo(tmp_path / "d", n_units=40, n_sessions=2, seed=0)
    (tmp_path / "d" / "units.tsv").write_text("unit\tsession\tcluster_id\n0\t1\t5\n")
    assert main(["track", str(tmp_path / "d"), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "units.tsv" in err and "1 rows" in err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------
# write-back
# ------------------------------------------------------------------------------------------


def phy_metadata(folder: Path) -> dict[str, dict[int, str]]:
    """Cluster columns as phy reads them (phylib TemplateModel._load_metadata): every *.tsv /
    *.csv except cluster_info, delimiter by extension, first column cluster_id (int)."""
    out: dict[str, dict[int, str]] = {}
    for path in [*folder.glob("*.csv"), *folder.glob("*.tsv")]:
        if path.stem == "cluster_info":
            continue
        with open(path, newline="") as f:
            reader = csv.reader(f, delimiter="\t" if path.suffix == ".tsv" else ",")
            header = next(reader)
            if header[0] != "cluster_id":
                continue
            for row in reader:
                for field, value in zip(header[1:], row[1:], strict=True):
                    out.setdefault(field, {})[int(row[0])] = value
    return out


def test_write_back_round_trips_through_phy_and_spikeinterface(tracked, out, capsys):
    root = tracked
    sorted_root = root / "data" / "sorted"
    # undo an earlier test's write-back in the shared folders
    for p in [*root.rglob("cluster_dant_track*"), *sorted_root.rglob("dant_track.npy*")]:
        p.unlink()
    assert main(["export", str(out), "--write-back"]) == 0
    said = capsys.readouterr().out
    rows = read_tsv(out / TRACKS_FILE)
    # session 1 by a path relative to the data folder, session 2 by an absolute one
    for s, folder in ((1, sorted_root / "day1"), (2, root / "sorted" / "day2")):
        meta = phy_metadata(folder)
        expected = {int(r["cluster_id"]): r["track"] for r in rows if r["session"] == str(s)}
        assert len(expected) > 10 and set(expected.values()) - {"-1"}
        assert meta["dant_track"] == expected
        assert meta["group"] == {7: "good"}  # the user's own file is untouched
        assert f"wrote {folder / 'cluster_dant_track.tsv'}" in said
    assert "session 4" not in said  # no sorter folder named: nothing to write

    from spikeinterface.core import load_sorting_analyzer

    analyzer = load_sorting_analyzer(sorted_root / "day3_analyzer")
    values = dict(
        zip(
            [str(u) for u in analyzer.unit_ids],
            analyzer.get_sorting_property("dant_track").tolist(),
            strict=True,
        )
    )
    expected = {r["cluster_id"]: int(r["track"]) for r in rows if r["session"] == "3"}
    assert values == {**expected, "999": -1}
    assert "wrote unit property dant_track" in said


def test_write_back_keeps_a_users_different_file(tracked, out, capsys):
    folder = tracked / "sorted" / "day2"
    (folder / "cluster_dant_track.tsv").write_text("cluster_id\tdant_track\n7\tmine\n")
    assert main(["export", str(out), "--write-back"]) == 0
    said = capsys.readouterr().out
    backups = list(folder.glob("cluster_dant_track.tsv.*.bak"))
    assert len(backups) == 1 and "7\tmine" in backups[0].read_text()
    assert backups[0].name in said
    assert phy_metadata(folder)["dant_track"] != {7: "mine"}
    # the same content again: nothing new is kept
    assert main(["export", str(out), "--write-back"]) == 0
    assert "(unchanged)" in capsys.readouterr().out
    assert len(list(folder.glob("cluster_dant_track.tsv.*.bak"))) == 1


def test_write_back_without_sorter_folders_is_a_clear_error(tmp_path):
    from dant_core.write_back import write_back

    rows = [{"unit": "0", "session": "1", "cluster_id": "", "track": "1", "source": ""}]
    with pytest.raises(DantError, match="units.tsv is missing or names no sorter folder"):
        write_back(rows, tmp_path)


def test_no_tracks_gives_every_unit_unmatched_rows():
    from types import SimpleNamespace

    from dant_core.tracks import track_confidence, tracks_rows

    result = SimpleNamespace(sessions=np.array([1, 1, 2]))
    assert track_confidence(result, np.array([-1, -1, -1])) == {}
    rows = tracks_rows(result, np.array([-1, -1, -1]))
    assert [r["track"] for r in rows] == ["-1"] * 3
    assert [r["session_name"] for r in rows] == ["session1", "session1", "session2"]


def _copied_project(tracked, tmp_path) -> tuple[Path, Path]:
    """A project (data folder with its results inside) at `old`, copied whole to `new`; the
    old copy stays. Its record names the data folder it was made from (tracked/data)."""
    old = Path(shutil.copytree(tracked / "data", tmp_path / "old" / "data"))
    shutil.copytree(tracked / "out", old / "DANT_Output")
    new = Path(shutil.copytree(tmp_path / "old", tmp_path / "new")) / "data"
    for p in [*tracked.rglob("cluster_dant_track*"), *tmp_path.rglob("cluster_dant_track*")]:
        p.unlink()
    return old, new


def test_write_back_of_a_copied_project_writes_into_the_copy(tracked, tmp_path, capsys):
    old, new = _copied_project(tracked, tmp_path)
    assert main(["export", str(new / "DANT_Output"), "--write-back"]) == 0
    said = capsys.readouterr().out
    # the relative sorter folder is the copy's, not the one of the data folder recorded
    written = new / "sorted" / "day1" / "cluster_dant_track.tsv"
    assert written.is_file() and f"wrote {written}" in said
    for elsewhere in (old, tracked / "data"):
        assert not (elsewhere / "sorted" / "day1" / "cluster_dant_track.tsv").exists()
    # the clusters read back belong to the copy's data folder too
    assert load_result(new / "DANT_Output").data_folder == str(new.resolve())


def test_write_back_refuses_a_sorter_folder_that_is_gone(tracked, tmp_path, capsys):
    _, new = _copied_project(tracked, tmp_path)
    shutil.rmtree(new / "sorted" / "day1")
    assert main(["export", str(new / "DANT_Output"), "--write-back"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: cannot write the tracks back: ")
    assert str(new / "sorted" / "day1") in err and "session 1" in err
    # nothing was written anywhere, not even for the sessions whose folders exist
    assert not list(tmp_path.rglob("cluster_dant_track*"))
    assert not list(tracked.rglob("cluster_dant_track*"))
