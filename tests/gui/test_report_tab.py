"""The Report tab (same numbers as `dant report`) and File ▸ Write track ids back."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from PyQt6.QtCore import Qt

from dant_core.tracks import read_tsv


@pytest.fixture(scope="module")
def tracked_source(tmp_path_factory):
    """A small demo whose units.tsv names a phy folder for sessions 1 and 2, tracked and saved."""
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings
    from dant_core.synthetic import make_demo

    data = tmp_path_factory.mktemp("report_tab") / "data"
    make_demo(data, n_units=120, n_sessions=3, seed=5)
    sessions = np.load(data / "session_index.npy").ravel().astype(int)
    sources = {1: "sorted/day1", 2: "sorted/day2"}
    with open(data / "units.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["unit", "session", "session_name", "source", "cluster_id"])
        for u, s in enumerate(sessions):
            w.writerow([u, s, f"day{s}", sources.get(s, ""), 100 + u])
    for name in ("day1", "day2"):
        (data / "sorted" / name).mkdir(parents=True)
        (data / "sorted" / name / "params.py").write_text("sample_rate = 30000.0\n")
    run_tracking(load_dataset(data), Settings.defaults()).save(data / "DANT_Output")
    return data


@pytest.fixture
def data(tracked_source, tmp_path):
    return shutil.copytree(tracked_source, tmp_path / "data")


def _report_tab(open_folder, window, qtbot, data):
    assert open_folder(data)
    view = window.views["Report"]
    with qtbot.waitSignal(view.ready, timeout=120_000):
        assert window.show_tab("Report")
    return view


def test_report_tab_shows_the_false_positive_rate_of_report_json(open_folder, window, qtbot, data):
    from dant_core.report.command import make_report

    view = _report_tab(open_folder, window, qtbot, data)
    make_report(data / "DANT_Output")
    on_disk = json.loads((data / "DANT_Output" / "report.json").read_text())
    rate = on_disk["estimated_false_positive_rate"]
    low, high = on_disk["estimated_false_positive_rate_interval_95"]
    assert view.report["estimated_false_positive_rate"] == pytest.approx(rate, abs=1e-12)
    assert view.report["run"] == on_disk["run"]
    shown = view.fp_label.text()
    assert f"{100 * rate:.1f}% (95% interval {100 * low:.1f}–{100 * high:.1f}%" in shown
    # survival, drift, similarity groups and one figure per example track, as in report.html
    assert view.figure_grid.count() == 3 + len(on_disk["example_tracks"])


def test_clicking_a_least_certain_track_selects_its_cluster(open_folder, window, qtbot, data):
    view = _report_tab(open_folder, window, qtbot, data)
    tracks = view.report["least_certain_tracks"]
    assert view.least_certain.count() == len(tracks) >= 3
    row = 2  # not the first: the review queue may already select that one
    item = view.least_certain.item(row)
    rect = view.least_certain.visualItemRect(item)
    c = window.controller
    with qtbot.waitSignal(c.selection_changed, timeout=5000):
        qtbot.mouseClick(
            view.least_certain.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
        )
    assert c.session.cluster_name(c.session.selection.cluster) == f"cluster {tracks[row]['track']}"
    assert c.session.selection.units.tolist() == tracks[row]["units"]


def test_write_back_writes_the_file_and_keeps_a_users_different_file(
    open_folder, window, qtbot, data, dialog_log
):
    action = window.write_back
    assert not action.action.isEnabled()  # no folder open yet
    assert open_folder(data)
    assert action.action.isEnabled()
    day2 = data / "sorted" / "day2"
    (day2 / "cluster_dant_track.tsv").write_text("cluster_id\tdant_track\n7\tmine\n")
    with qtbot.waitSignal(action.done, timeout=30_000) as done:
        action.action.trigger()
    asked = [d for d in dialog_log if d.kind == "question"]
    assert len(asked) == 1 and "units.tsv" in asked[0].text
    tracks = {
        (r["session"], r["cluster_id"]): int(r["track"])
        for r in read_tsv(data / "DANT_Output" / "tracks.tsv")
    }
    for name, session in (("day1", "1"), ("day2", "2")):
        written = read_tsv(data / "sorted" / name / "cluster_dant_track.tsv")
        assert {r["cluster_id"]: int(r["dant_track"]) for r in written} == {
            cid: t for (s, cid), t in tracks.items() if s == session
        }
    backups = list(day2.glob("cluster_dant_track.tsv.*.bak"))
    assert len(backups) == 1 and "7\tmine" in backups[0].read_text()
    said = "\n".join(done.args[0])
    assert backups[0].name in said and str(day2) in said
    assert any(d.kind == "info" and backups[0].name in d.text for d in dialog_log)


def _answer_with(monkeypatch, folder, replace: bool):
    """Dialogs: the folder chooser answers `folder`, a question `replace`; all recorded."""
    from dant_gui import dialogs

    seen = []

    def answer(request):
        seen.append(request)
        if request.kind == "open_folder":
            return folder
        return replace if request.kind == "question" else None

    monkeypatch.setattr(dialogs, "hook", answer)
    return seen


def test_export_report_writes_html_and_json_into_the_chosen_folder(
    open_folder, window, qtbot, data, tmp_path, monkeypatch
):
    view = _report_tab(open_folder, window, qtbot, data)
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    seen = _answer_with(monkeypatch, chosen, replace=True)
    with qtbot.waitSignal(view.exported, timeout=60_000) as done:
        qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    assert done.args[0] == chosen / "report.html"
    assert sorted(p.name for p in chosen.iterdir()) == ["report.html", "report.json"]
    on_disk = json.loads((chosen / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(view.report))  # the report shown, not another
    html = (chosen / "report.html").read_text()
    assert "<svg" in html and f"{100 * view.report['estimated_false_positive_rate']:.1f}%" in html
    assert not [d for d in seen if d.kind in ("question", "error")]  # nothing to replace


def test_export_report_asks_before_replacing_and_a_failed_write_changes_nothing(
    open_folder, window, qtbot, data, tmp_path, monkeypatch
):
    import dant_core.atomic_file as atomic_file

    view = _report_tab(open_folder, window, qtbot, data)
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    (chosen / "report.html").write_text("my old report")
    (chosen / "report.json").write_text("{}")
    seen = _answer_with(monkeypatch, chosen, replace=False)
    qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    assert [d.kind for d in seen] == ["open_folder", "question"]
    assert "report.html and report.json" in seen[1].text
    assert (chosen / "report.html").read_text() == "my old report"  # answered no

    seen = _answer_with(monkeypatch, chosen, replace=True)
    made = []
    real = atomic_file.create_temp_beside

    def fail_on_the_second(target):
        made.append(target)
        if len(made) == 2:
            raise OSError(28, "No space left on device")
        return real(target)

    monkeypatch.setattr(atomic_file, "create_temp_beside", fail_on_the_second)
    qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(d.kind == "error" for d in seen), timeout=60_000)
    (error,) = [d for d in seen if d.kind == "error"]
    assert "No space left on device" in error.text and str(chosen) in error.text
    # all or nothing: both old files as they were, no temp file left
    assert (chosen / "report.html").read_text() == "my old report"
    assert (chosen / "report.json").read_text() == "{}"
    assert sorted(p.name for p in chosen.iterdir()) == ["report.html", "report.json"]
