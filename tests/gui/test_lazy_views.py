"""The centre's views are made when their tab is first shown (the window's first paint does
not wait for plots nobody looks at yet), and a view made after a result arrived shows it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from dant_gui.views.report import ReportView

TIMEOUT_MS = 60_000
ROOT = Path(__file__).resolve().parents[2]


def _made(window) -> list[str]:
    return [t for t in window.views if window.views.is_made(t)]


def test_only_the_shown_tab_is_made_at_start(window):
    assert _made(window) == ["Drift", "Clusters"]
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Drift",
        "Cluster detail",
        "Similarity",
        "Overview",
        "Report",
    ]
    assert window.show_tab("Similarity")
    view = window.current_view()
    assert _made(window) == ["Drift", "Similarity", "Clusters"]
    assert view is window.views["Similarity"] and view.isVisible()
    assert window.tabs.currentWidget().isAncestorOf(view)


def test_a_view_made_after_the_result_shows_it(window, open_folder, tracked_folder, qtbot):
    assert open_folder(tracked_folder)
    assert "Report" not in _made(window)
    result = window.controller.session.result
    assert window.show_tab("Report")
    view = window.current_view()
    assert isinstance(view, ReportView)
    if view.report is None:
        qtbot.waitSignal(view.ready, timeout=TIMEOUT_MS).wait()
    assert view.report["run"]["units"] == result.n_units
    assert f"{result.n_units} units" in view.status.text()


def test_every_view_made_still_fits_a_laptop_screen(window):
    for title in window.views:
        window.show_tab(title) if title != "Clusters" else window.views[title]
    assert len(window.views.made()) == len(window.views) == 6
    assert window.minimumSizeHint().width() <= 1350
    assert window.minimumSizeHint().height() <= 700


def test_opening_a_folder_imports_the_engine_off_the_windows_thread(tracked_folder, tmp_path):
    """Opening imports the loading code and, with it, scipy and the clustering (~1.5 s on a
    loaded machine): on the window's thread that froze the window as `dant-gui DATA`
    started. Run in a fresh interpreter, where nothing is imported yet."""
    script = textwrap.dedent(
        f"""
        import sys, threading
        from PyQt6.QtCore import QEventLoop, QTimer
        from PyQt6.QtWidgets import QApplication
        app = QApplication([])
        from dant_gui import engine_warmup
        engine_warmup.warm_up_soon = lambda *a: None  # its own import of the engine
        from dant_gui.main_window import MainWindow
        assert "dant_gui.loading" not in sys.modules
        threads = {{}}

        class Watch:
            def find_spec(self, name, path=None, target=None):
                if name in ("dant_gui.loading", "scipy"):
                    threads.setdefault(name, threading.current_thread().name)
                return None

        sys.meta_path.insert(0, Watch())
        w = MainWindow()
        loop = QEventLoop()
        w.controller.load_finished.connect(lambda ok: loop.quit())
        w.open_folder({str(tracked_folder)!r})
        QTimer.singleShot(60_000, loop.quit)
        loop.exec()
        print(sorted(threads.items()), threading.main_thread().name)
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    *_, line = done.stdout.strip().splitlines()
    assert "dant_gui.loading" in line, line
    assert "MainThread" not in line.split("]")[0], line
