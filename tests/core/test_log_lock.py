"""One writer at a time for an output folder's curation log (issue: two windows, or a window
and `dant export`, on one folder interleaved their actions and a replayed undo took back the
other writer's action)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dant_core.curation_log import LOG_FILE, Curator, read_log
from dant_core.log_lock import LOCK_FILE, FolderInUse, lock_folder
from dant_core.session import open_session

from .test_curation import AUTO, AUTO_SESSIONS, FakeResult, random_similarity

ROOT = Path(__file__).resolve().parents[2]


def _result() -> FakeResult:
    return FakeResult(AUTO, AUTO_SESSIONS, random_similarity(10, 1))


@pytest.fixture
def folder(tmp_path) -> Path:
    np.save(tmp_path / "IdxCluster.npy", AUTO)
    return tmp_path


def test_a_second_curator_is_refused_naming_the_folder_and_the_holder(folder):
    a = Curator(folder, _result())
    a.do("reject_unit", unit=0)
    a.undo()
    # Before the lock, B opened, rejected unit 3 and the reopened log's undo took back B's
    # rejection instead of A's.
    with pytest.raises(FolderInUse) as refused:
        Curator(folder, _result())
    message = str(refused.value)
    assert str(folder) in message
    assert f"a DANT window, process {os.getpid()} on " in message
    assert len(read_log(folder / LOG_FILE)[0]) == 2  # B wrote nothing
    a.close()
    b = Curator(folder, _result())  # free again: B sees A's work and may go on
    assert b.state.history == [] and b.state.can_redo
    b.do("reject_unit", unit=3)
    b.close()
    reopened = Curator(folder, _result())
    assert reopened.warnings == []
    assert reopened.state.export_labels()[3] == -1  # B's rejection is in effect
    assert reopened.state.export_labels()[0] != -1  # A's stays undone


def test_a_window_opens_read_only_when_another_program_curates(folder):
    held = lock_folder(folder, "dant export")
    session, notes = open_session(_result(), folder)
    assert not session.can_curate
    assert str(folder) in session.read_only_reason and "dant export" in session.read_only_reason
    assert notes == [f"warning: {session.read_only_reason}"]
    held.release()
    session, _ = open_session(_result(), folder)
    assert session.can_curate
    session.close()  # releases it: the next writer gets in
    lock_folder(folder, "dant export").release()


def test_another_process_is_refused_and_a_killed_holder_releases(folder):
    code = (
        "import sys, time\n"
        "from dant_core.log_lock import lock_folder\n"
        "held = lock_folder(sys.argv[1], 'holder')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(FolderInUse, match=rf"\(holder, process {proc.pid} on "):
            Curator(folder, _result())
    finally:
        proc.kill()
        proc.wait()
    Curator(folder, _result()).close()  # the OS released the killed holder's lock
    assert (folder / LOCK_FILE).is_file()
