"""The whole-folder check run in a child process says what load_dataset says, here."""

from __future__ import annotations

import shutil
import sys
import threading

import numpy as np
import pytest

from dant_core.data_fingerprint import data_fingerprint
from dant_core.dataset import load_dataset
from dant_core.errors import Cancelled, DantError, DatasetError
from dant_core.folder_check import check_folder
from dant_core.progress import CancelToken
from dant_core.synthetic import make_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("check") / "data"
    make_demo(folder, n_units=40, n_sessions=3, seed=5)
    return folder


def test_a_good_folder_gives_its_fingerprint(demo):
    assert check_folder(demo) == data_fingerprint(demo) == load_dataset(demo).fingerprint


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: np.save(f / "waveform_all.npy", np.full((40, 4, 8), np.nan, np.float32)),
        lambda f: (f / "session_index.npy").unlink(),
        lambda f: (f / "spike_times" / "Unit7.npy").write_bytes(b"not a numpy file"),
    ],
    ids=["nan waveforms", "no sessions file", "unreadable spike file"],
)
def test_a_bad_folder_gives_the_message_load_dataset_gives(demo, tmp_path, damage):
    folder = shutil.copytree(demo, tmp_path / "data")
    damage(folder)
    with pytest.raises(DantError) as here:
        load_dataset(folder)
    with pytest.raises(DatasetError) as child:
        check_folder(folder)
    assert str(child.value) == str(here.value)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        check_folder(tmp_path / "nowhere")


def test_a_stopped_check_ends_its_child(demo, monkeypatch):
    """The window closing (or another folder opened) stops the check: the child is killed
    and the caller gets Cancelled, without waiting for the child's answer."""
    import subprocess

    started = []
    real_popen = subprocess.Popen

    def slow_child(cmd, **kwargs):  # a child that would take minutes
        child = real_popen([sys.executable, "-c", "import time; time.sleep(300)"], **kwargs)
        started.append(child)
        return child

    monkeypatch.setattr(subprocess, "Popen", slow_child)
    failed = []  # exceptions in the threads reading the child's output
    monkeypatch.setattr(threading, "excepthook", failed.append)
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    with pytest.raises(Cancelled):
        check_folder(demo, token)
    assert started and started[0].poll() is not None  # the child is gone
    assert failed == []  # its readers ended at the pipes' end, before they were closed


@pytest.mark.skipif(not hasattr(__import__("os"), "nice"), reason="POSIX niceness")
def test_the_check_runs_below_the_window(tmp_path):
    """The child lowers its own priority before it reads: the window is served first."""
    import subprocess

    from dant_core.folder_check import CHILD_NICE

    code = (
        "import os, dant_core.folder_check as check; before = os.nice(0); "
        "check._lower_priority(); print(before, os.nice(0))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = map(int, out.stdout.split())
    assert after == min(19, before + CHILD_NICE)
