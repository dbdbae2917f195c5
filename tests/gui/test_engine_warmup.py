"""The first start after installing: the engine compiles in a child process as the window
opens, and the window says when it is done or that it failed; nothing starts when the
kernels are already compiled."""

from __future__ import annotations

import sys

from PyQt6.QtCore import QObject

from dant_gui import engine_warmup


def _start(qtbot, monkeypatch, cached: bool, args: list[str]):
    monkeypatch.setattr("dant_core.features.kernels_are_cached", lambda: cached)
    monkeypatch.setattr(engine_warmup, "COMPILE_ARGS", args)
    parent, lines = QObject(), []
    process = engine_warmup.start_background_compile(parent, lines.append)
    if process is not None:
        with qtbot.waitSignal(process.finished, timeout=60_000):
            pass
    return process, lines, parent  # the parent owns the process: kept alive by the caller


def test_nothing_starts_when_the_kernels_are_compiled(qtbot, monkeypatch):
    process, lines, _ = _start(qtbot, monkeypatch, True, ["-c", "raise SystemExit(0)"])
    assert process is None and lines == []


def test_a_finished_compilation_is_announced(qtbot, monkeypatch):
    process, lines, _parent = _start(qtbot, monkeypatch, False, ["-c", "import sys; sys.exit(0)"])
    assert process is not None and process.program() == sys.executable
    assert lines[0].startswith("First start after installing: compiling the engine")
    assert lines[-1].startswith("Engine compiled in the background")


def test_a_failed_compilation_says_the_first_run_compiles_instead(qtbot, monkeypatch):
    code = "print('numba: no locator available'); raise SystemExit(3)"
    _, lines, _parent = _start(qtbot, monkeypatch, False, ["-c", code])
    assert "failed; the first run compiles it instead" in lines[-1]
    assert "no locator available" in lines[-1]


def test_the_window_imports_the_engine_on_a_worker_before_warming_up(qtbot, monkeypatch):
    """Importing numba takes a second: on the window's thread it delayed the first paint."""
    import threading

    importers, answers = [], []
    monkeypatch.setattr(
        engine_warmup, "_import_engine", lambda: importers.append(threading.get_ident())
    )
    monkeypatch.setattr(engine_warmup, "warm_up", lambda parent, say: "the process")
    engine_warmup.warm_up_soon(QObject(), print, answers.append)
    assert answers == []  # not yet: the import runs on a worker first
    qtbot.waitUntil(lambda: answers == ["the process"], timeout=30_000)
    assert importers and importers[0] != threading.get_ident()


def test_closing_the_window_while_it_compiles_says_nothing_more(qtbot, monkeypatch):
    """The window quit during the first compilation: Qt kills the child as the process
    object goes, and its `finished` reached a deleted QProcess (a traceback on quitting)."""
    monkeypatch.setattr("dant_core.features.kernels_are_cached", lambda: False)
    monkeypatch.setattr(engine_warmup, "COMPILE_ARGS", ["-c", "import time; time.sleep(60)"])
    failed = []
    monkeypatch.setattr(sys, "excepthook", lambda *info: failed.append(info))
    parent, lines = QObject(), []
    process = engine_warmup.start_background_compile(parent, lines.append)
    assert process is not None and process.waitForStarted(10_000)
    parent.deleteLater()
    qtbot.waitUntil(lambda: _deleted(process), timeout=10_000)
    qtbot.wait(50)
    assert failed == []
    assert len(lines) == 1  # only "compiling…": no failure said for a process we ended


def _deleted(obj) -> bool:
    from PyQt6 import sip

    return sip.isdeleted(obj)
