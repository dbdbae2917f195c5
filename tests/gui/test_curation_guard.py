"""The window's checks before it writes curation (dant_gui/curation_guard.py, issue 13): a log
line an export refuses can be set aside (the log kept whole as a copy) instead of blocking
Export for good; a result replaced under the window by a program that ignored the lock stops
the curation; Export refuses data changed since the run; a rerun says where the previous
curation log went. Each message is the one docs/errors.md lists (GW01-GW03)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from dant_gui.curation_guard import REPLACED_TITLE, SKIPPED_TITLE

RUN_TIMEOUT_MS = 120_000


DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def documented(row_id: str) -> str:
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        m = re.match(rf"^\|\s*{row_id}\s*\|(.*)\|\s*$", line.strip())
        if m:
            return re.split(r"(?<!\\)\|", m.group(1))[1].strip().strip("`")
    raise AssertionError(f"{row_id} is not in {DOCS.name}")


def _open(open_folder, window, folder, dialog_log):
    assert open_folder(folder, window), [d.text for d in dialog_log]
    return window.controller


def _a_bad_log(out: Path, unit: int) -> str:
    text = json.dumps({"action": "reject_unit", "unit": unit}) + "\n" + '{"action": "delete"}\n'
    (out / "curation.jsonl").write_text(text)
    return text


def _first_unit_of_a_cluster(folder: Path) -> int:
    """The first unit of the first cluster of 3+ units of the run."""
    labels = np.load(folder / "DANT_Output" / "IdxCluster.npy")
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    return int(np.flatnonzero(labels == ids[counts >= 3][0])[0])


def test_export_offers_to_set_bad_log_lines_aside(
    window, qtbot, open_folder, tracked_folder, dialog_log
):
    out = tracked_folder / "DANT_Output"
    unit = _first_unit_of_a_cluster(tracked_folder)
    original = _a_bad_log(out, unit)
    c = _open(open_folder, window, tracked_folder, dialog_log)
    assert c.session.labels[unit] == -1  # the good line is in effect, the bad one skipped
    dialog_log.clear()
    with qtbot.waitSignal(c.export_finished, timeout=60_000):
        window.export()
    [asked] = [d for d in dialog_log if d.title == SKIPPED_TITLE]
    copies = list(out.glob("curation.jsonl.*.bak"))
    assert len(copies) == 1 and copies[0].read_text() == original  # kept whole, named
    head, tail = documented("GW01").split(" … ")
    log = out / "curation.jsonl"
    assert asked.text.startswith(head.replace("{log}", str(log)) + "\n\nline 2: ")
    assert asked.text.endswith(tail.replace("{log}.<time>.bak", str(copies[0])))
    assert "unknown action 'delete'" in asked.text and '{"action": "delete"}' in asked.text
    assert log.read_text() == original.splitlines(keepends=True)[0]
    assert np.load(out / "IdxCluster.npy")[unit] == -1  # exported what the window shows
    assert c.session.exported and not [d for d in dialog_log if d.kind == "error"]


def test_cancelling_the_set_aside_changes_nothing(
    window, qtbot, open_folder, tracked_folder, dialog_log
):
    from dant_gui import dialogs

    out = tracked_folder / "DANT_Output"
    original = _a_bad_log(out, _first_unit_of_a_cluster(tracked_folder))
    before = (out / "IdxCluster.npy").read_bytes()
    c = _open(open_folder, window, tracked_folder, dialog_log)
    asked = []
    dialogs.hook = lambda request: asked.append(request) and False  # answers No
    window.export()
    assert [d.title for d in asked] == [SKIPPED_TITLE]
    assert (out / "curation.jsonl").read_text() == original
    assert not list(out.glob("*.bak")) and (out / "IdxCluster.npy").read_bytes() == before
    assert c._export is None  # no export started


@pytest.mark.parametrize("reopen", [True, False])
def test_a_result_replaced_under_the_window_stops_curating(
    window, qtbot, open_folder, tracked_folder, dialog_log, reopen
):
    from dant_gui import dialogs

    c = _open(open_folder, window, tracked_folder, dialog_log)
    out = c.output_folder
    unit = _first_unit_of_a_cluster(tracked_folder)
    c.select_units([unit])
    window.curate_selection("reject")
    log_before = (out / "curation.jsonl").read_bytes()
    # pyDANT (or a copy) writes its files into the folder without asking for the lock
    np.save(out / "locations.npy", np.load(out / "locations.npy") + 1.0)
    asked = []
    dialogs.hook = lambda request: asked.append(request) or reopen
    c.select_units([_first_unit_of_a_cluster(tracked_folder) + 1])
    if reopen:  # Yes: the folder is read again on the worker
        with qtbot.waitSignal(c.load_finished, timeout=60_000):
            window.curate_selection("reject")
    else:
        window.curate_selection("reject")
    assert [d.title for d in asked] == [REPLACED_TITLE]
    expected = documented("GW02").replace("{out}", str(out))
    assert asked[0].text == f"{expected}.\n\nReopen {out} now?"
    assert (out / "curation.jsonl").read_bytes() == log_before  # nothing logged
    if reopen:  # the folder is open again: its result as it is now, curated anew
        assert c.can_curate and c.session.curator.identity["locations.npy"] is not None
        c.session.curator.check_result_unchanged()
    else:
        assert not c.can_curate and "replaced by another program" in c.session.read_only_reason
        window.export()  # refused too, without another dialog
        assert c._export is None and len(asked) == 1


def test_export_refuses_data_changed_since_the_window_opened_it(
    window, qtbot, open_folder, tracked_folder, dialog_log
):
    c = _open(open_folder, window, tracked_folder, dialog_log)
    out = c.output_folder
    c.select_units([_first_unit_of_a_cluster(tracked_folder)])
    window.curate_selection("reject")
    before = (out / "IdxCluster.npy").read_bytes()
    path = tracked_folder / "spike_times" / "Unit5.npy"
    np.save(path, np.load(path) + 1.0)  # the data folder is re-exported meanwhile
    with qtbot.waitSignal(c.export_failed, timeout=60_000) as failed:
        window.export()
    expected = documented("GW03").replace("{out}", str(out)).replace("{data}", str(tracked_folder))
    assert failed.args == [expected]
    assert [d.text for d in dialog_log if d.kind == "error"] == [expected]
    assert (out / "IdxCluster.npy").read_bytes() == before


def test_a_rerun_says_where_the_previous_curation_log_went(
    window, qtbot, open_folder, tracked_folder, dialog_log
):
    c = _open(open_folder, window, tracked_folder, dialog_log)
    c.select_units([_first_unit_of_a_cluster(tracked_folder)])
    window.curate_selection("reject")
    with qtbot.waitSignal(c.run_finished, timeout=RUN_TIMEOUT_MS):
        assert window.start_run()  # asks first (the fixture answers yes)
    [kept] = list((c.output_folder / "previous_runs").glob("*/curation.jsonl"))
    note = (
        f"the curation log of the previous run belongs to its clusters, so it was moved to {kept}"
    )
    assert note in window.statusBar().currentMessage()
    assert f"note: {note}" in window.log_view.toPlainText()
    assert not (c.output_folder / "curation.jsonl").exists()


def test_write_back_refuses_data_changed_since_the_run(tracked_folder):
    """As `dant export --write-back` does: the sorter folders would get tracks made from
    other data (checked on the action's worker, before anything is written)."""
    from dant_core.data_fingerprint import StaleResultError
    from dant_core.results import load_result
    from dant_gui.write_back_action import write_back_from

    out = tracked_folder / "DANT_Output"
    result = load_result(out)
    path = tracked_folder / "spike_times" / "Unit5.npy"
    np.save(path, np.load(path) + 1.0)
    with pytest.raises(StaleResultError) as refused:
        write_back_from(out, tracked_folder, result)
    expected = documented("GW03").replace("{out}", str(out)).replace("{data}", str(tracked_folder))
    assert str(refused.value) == expected
