"""Opening a folder never blocks the window: the data and its result are read on the worker,
the curation log replayed there too, progress shows in the status bar, and an error is a
dialog after which the window is still usable."""

from __future__ import annotations

import threading

import numpy as np

from dant_core.dataset_preview import is_preview
from dant_gui import controller as controller_module
from dant_gui import loading

TIMEOUT_MS = 60_000


def _held_at(monkeypatch, module, name):
    """Replace module.name by a version that records its thread and waits for `release`."""
    original = getattr(module, name)
    threads, release = [], threading.Event()

    def held(*args, **kwargs):
        threads.append(threading.get_ident())
        assert release.wait(30), "the test never released the worker"
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return threads, release


def test_a_folder_opens_on_the_worker_while_the_window_stays_live(
    window, qtbot, tracked_folder, dialog_log, monkeypatch
):
    c = window.controller
    read_threads, release_read = _held_at(monkeypatch, loading, "preview_dataset")
    replay_threads, release_replay = _held_at(monkeypatch, controller_module, "open_session")
    check_threads, release_check = _held_at(monkeypatch, loading, "check_folder")
    ui = threading.get_ident()
    try:
        with qtbot.waitSignal(c.load_progress, timeout=TIMEOUT_MS) as step:
            assert window.open_folder(tracked_folder)
        # The call returned at once; the worker waits inside the read of the data folder
        # while the UI thread delivers signals and paints.
        assert step.args[0] == loading.STEPS[0]
        qtbot.waitUntil(lambda: bool(read_threads), timeout=TIMEOUT_MS)
        assert c.is_loading and c.dataset is None
        assert window.load_bar.isVisible() and window.load_bar.format().startswith("Reading")
        assert not window.open_action.isEnabled() and not window.run_button.isEnabled()
        # A second folder while one opens: refused with a dialog, nothing else changes.
        assert not window.open_folder(tracked_folder)
        assert dialog_log[-1].text == "a folder is being opened; wait until it is shown"  # GO01
        n_dialogs = len(dialog_log)

        release_read.set()
        qtbot.waitUntil(lambda: bool(replay_threads), timeout=TIMEOUT_MS)
        # The data is shown; the log replays on the worker meanwhile.
        assert c.dataset is not None and c.session is None and c.is_loading
        assert window.load_bar.format().startswith("Replaying")
        with qtbot.waitSignal(c.load_finished, timeout=TIMEOUT_MS) as finished:
            release_replay.set()
        # The result is shown and can be curated while the whole data folder is read and
        # checked behind it; Run waits for the check.
        assert finished.args == [True]
        assert c.session is not None and c.can_curate and c.is_checking_data
        assert not window.run_button.isEnabled() and window.open_action.isEnabled()
        assert window.load_bar.isVisible() and window.load_bar.format().startswith("Checking")
        qtbot.waitUntil(lambda: bool(check_threads), timeout=TIMEOUT_MS)
        with qtbot.waitSignal(c.data_checked, timeout=TIMEOUT_MS) as checked:
            release_check.set()
    finally:
        release_read.set()
        release_replay.set()
        release_check.set()
    assert checked.args == [True]
    assert ui not in (read_threads[0], replay_threads[0], check_threads[0])
    assert c.session is not None and c.session.curator is not None and not c.is_loading
    assert np.array_equal(c.session.labels, c.session.result.idx_cluster)
    # The preview stays the dataset (the whole one is not held while browsing; a run reads
    # the folder whole: tests/gui/test_motion_edit.py reruns from a folder opened so).
    assert is_preview(c.dataset) and c.dataset.n_units == c.session.result.n_units
    assert not c.is_checking_data and window.run_button.isEnabled()
    assert not window.load_bar.isVisible() and window.open_action.isEnabled()
    assert len(dialog_log) == n_dialogs  # no error while opening


def test_a_data_folder_that_fails_its_check_keeps_the_result_and_refuses_runs(
    window, open_folder, tracked_folder, dialog_log
):
    (tracked_folder / "spike_times" / "Unit3.npy").write_bytes(b"not a numpy file")
    assert open_folder(tracked_folder)
    c = window.controller
    errors = [d for d in dialog_log if d.kind == "error"]
    assert len(errors) == 1 and "Unit3.npy" in errors[0].text
    assert errors[0].title == "The data folder has a problem"
    assert c.session is not None and c.can_curate  # the result stays shown and curatable
    assert "Unit3.npy" in c.data_problem and not c.can_run()
    assert not window.run_button.isEnabled() and "Unit3.npy" in window.run_button.toolTip()
    assert not window.start_run()
    assert dialog_log[-1].text.startswith("the data folder cannot be used for a run: ")


def test_a_failure_while_replaying_is_a_dialog_and_the_data_stays_usable(
    window, open_folder, tracked_folder, dialog_log, monkeypatch
):
    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(controller_module, "open_session", broken)
    assert not open_folder(tracked_folder)
    errors = [d for d in dialog_log if d.kind == "error"]
    assert len(errors) == 1 and "disk on fire" in errors[0].text
    c = window.controller
    assert c.dataset is not None and c.session is None and not c.is_loading
    assert window.run_button.isEnabled() and window.open_action.isEnabled()
    assert not window.load_bar.isVisible()


def test_the_check_behind_the_result_shows_its_progress(window, qtbot, tracked_folder, monkeypatch):
    """The check reports load_dataset's steps (from its child process) into a determinate
    bar; the busy bar it replaces repainted itself ~40 times a second for the whole check."""
    c, release = window.controller, threading.Event()
    original = loading.check_folder

    def reporting(folder, abort=None, progress=None):
        progress("Loading spike times", 7, 20)
        assert release.wait(30), "the test never released the check"
        return original(folder, abort, progress)

    monkeypatch.setattr(loading, "check_folder", reporting)
    with qtbot.waitSignal(c.data_check_progress, timeout=TIMEOUT_MS) as step:
        assert window.open_folder(tracked_folder)
    try:
        assert step.args == ["Loading spike times", 7, 20]
        bar = window.load_bar
        assert bar.isVisible() and (bar.minimum(), bar.maximum(), bar.value()) == (0, 20, 7)
        assert bar.format() == "Checking the data folder: loading spike times…"
    finally:
        with qtbot.waitSignal(c.data_checked, timeout=TIMEOUT_MS) as checked:
            release.set()
    assert checked.args == [True] and not window.load_bar.isVisible()
    assert "Checking" not in window.statusBar().currentMessage()


def test_the_check_reports_the_steps_of_load_dataset(tracked_folder):
    """From the child process, at most every 0.1 s per step, always the last of a step."""
    calls = []
    loading.check_folder(tracked_folder, progress=lambda *step: calls.append(step))
    n_unit = np.load(tracked_folder / "session_index.npy").size
    steps = list(dict.fromkeys(step for step, *_ in calls))
    assert steps == [
        "Loading waveforms",
        "Loading spike times",
        "Checking the values",
        "Fingerprinting the files",
    ]
    assert ("Loading spike times", n_unit, n_unit) in calls
    assert len(calls) < 0.5 * n_unit  # throttled, not one line per unit
