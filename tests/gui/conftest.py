"""GUI test fixtures: offscreen Qt, a small demo dataset, a window whose dialogs are recorded."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import shutil  # noqa: E402

import pytest  # noqa: E402
from PyQt6.QtCore import QStandardPaths  # noqa: E402

from dant_core.synthetic import make_demo  # noqa: E402

# QSettings (recent folders) must not touch the user's configuration.
QStandardPaths.setTestModeEnabled(True)


@pytest.fixture(scope="session")
def demo_source(tmp_path_factory):
    """A small ground-truth data folder (160 units, 4 sessions), made once per session."""
    folder = tmp_path_factory.mktemp("demo") / "data"
    make_demo(folder, n_units=160, n_sessions=4, seed=3, drift_um=15.0)
    return folder


@pytest.fixture
def demo_folder(demo_source, tmp_path):
    """A private copy of the demo data: runs write DANT_Output into it."""
    folder = tmp_path / "data"
    shutil.copytree(demo_source, folder)
    return folder


@pytest.fixture
def dialog_log(monkeypatch):
    """Answer every dialog: messages are recorded, questions get 'yes', file choosers None."""
    from dant_gui import dialogs

    seen = []

    def answer(request):
        seen.append(request)
        return True if request.kind == "question" else None

    monkeypatch.setattr(dialogs, "hook", answer)
    return seen


@pytest.fixture
def window(qtbot, qapp, dialog_log, monkeypatch):
    from dant_gui import engine_warmup
    from dant_gui.main_window import MainWindow

    # no background compilation while the tests compile (test_engine_warmup tests it)
    monkeypatch.setattr(engine_warmup, "start_background_compile", lambda *_: None)

    qapp.setApplicationName("dant-desktop-tests")
    qapp.setOrganizationName("DANT")
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1600, 1000)
    w.show()
    yield w
    w.controller.wait_for_job(30_000)
    w.stop_background_work()


@pytest.fixture(scope="session")
def tracked_source(demo_source, tmp_path_factory):
    """The conftest demo data with a finished run saved in DANT_Output (made once)."""
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings

    folder = tmp_path_factory.mktemp("curation") / "data"
    shutil.copytree(demo_source, folder)
    result = run_tracking(load_dataset(folder), Settings.defaults())
    result.save(folder / "DANT_Output")
    return folder


@pytest.fixture
def tracked_folder(tracked_source, tmp_path):
    """A private copy: curation writes its log into it."""
    folder = tmp_path / "data"
    shutil.copytree(tracked_source, folder)
    return folder


LOAD_TIMEOUT_MS = 60_000


@pytest.fixture
def open_folder(qtbot, window):
    """`open_folder(folder, win=window)`: open it in the window as File ▸ Open does (on the
    worker) and wait for the controller's load_finished, and for the check of the data
    folder behind a result shown (controller.is_checking_data); True when the folder is
    shown. False when it could not be opened (its error dialog is in dialog_log) or the
    opening did not start."""

    def open_and_wait(folder, win=None) -> bool:
        win = win or window
        blocker = qtbot.waitSignal(win.controller.load_finished, timeout=LOAD_TIMEOUT_MS)
        if not win.open_folder(folder):
            return False
        blocker.wait()
        qtbot.waitUntil(lambda: not win.controller.is_checking_data, timeout=LOAD_TIMEOUT_MS)
        wait_drawn(qtbot, win)
        return bool(blocker.args[0])

    return open_and_wait


def wait_drawn(qtbot, window) -> None:
    """Wait until no view of `window` has plots still to draw (views drawn in steps, over
    turns of the event loop, have a `drawing` property)."""
    views = window.views.made() if hasattr(window, "views") else []
    qtbot.waitUntil(lambda: not any(getattr(v, "drawing", False) for v in views), timeout=30_000)
