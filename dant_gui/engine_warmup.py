"""The first start after installing: compile the engine in the background as the window opens.

When numba's cache holds no compiled kernels yet, `dant_core.engine_compile` runs in a
separate process (compiling holds the GIL: in the window's process it would freeze the
window) and the window says so; the first Run then finds the kernels compiled. A Run
started before it finishes compiles what it still needs itself, as it always did.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from PyQt6 import sip
from PyQt6.QtCore import QObject, QProcess

COMPILE_ARGS = ["-m", "dant_core.engine_compile"]


def warm_up(parent: QObject, say: Callable[[str], None]) -> QProcess | None:
    """Everything the window starts at opening so that the first run starts at once: numba's
    compiler machinery loaded in this process (jobs.warm_up_engine) and, after installing,
    the kernels compiled in another (start_background_compile)."""
    from .jobs import warm_up_engine

    warm_up_engine()
    return start_background_compile(parent, say)


def warm_up_soon(parent: QObject, say: Callable[[str], None], started) -> None:
    """warm_up once the engine's kernels module is imported on a worker: importing numba
    takes a second, which the window's thread would spend before its first paint;
    `started(process or None)` gets warm_up's answer."""
    from .worker import start_worker

    start_worker(_import_engine, returned=lambda _: started(warm_up(parent, say)))


def _import_engine() -> None:
    import dant_core.features  # noqa: F401 - the import is the work


def start_background_compile(parent: QObject, say: Callable[[str], None]) -> QProcess | None:
    """Start compiling the engine in a child process unless its kernels are cached; `say`
    gets a line when it starts and when it ends. The process is the parent's child: it is
    killed if the window closes first (the cache then fills at the first run instead)."""
    from dant_core.features import kernels_are_cached

    if kernels_are_cached():
        return None
    process = QProcess(parent)
    process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)

    def finished(code: int, status: QProcess.ExitStatus) -> None:
        if sip.isdeleted(process):
            return  # the window went first: Qt killed the child as it deleted the process
        if status == QProcess.ExitStatus.NormalExit and code == 0:
            say("Engine compiled in the background: the first run will not wait for it")
        else:
            output = bytes(process.readAll()).decode(errors="replace").strip().splitlines()
            say(
                "Compiling the engine in the background failed; the first run compiles it "
                "instead (" + (output[-1] if output else f"exit code {code}") + ")"
            )

    process.finished.connect(finished)
    say("First start after installing: compiling the engine in the background (about 20 s)")
    process.start(sys.executable, COMPILE_ARGS)
    return process
