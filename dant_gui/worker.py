"""The one way to run work off the UI thread (superqt's worker pattern, written for DANT).

`start_worker(fn, *args)` runs `fn(*args, abort=token, progress=report)` on a pool thread
(passing only the keywords `fn` accepts) and returns a `Worker` whose signals arrive on the
UI thread: started, progress(value), returned(value), errored(WorkerError), finished
(always last). `worker.abort()` sets the token (`dant_core.progress.CancelToken`); the
function checks it between chunks (raising `Cancelled` ends it quietly). A value returned
after `abort()` is dropped unless drop_when_aborted=False. `wait_for_all()` aborts every
worker and waits for them (at shutdown, before Qt objects go away). Tracking, loading,
export and the views' background computations all run here; `start_background` runs work
nobody waits for (statistics filling a table in) one at a time, on one core, at a lower
priority than the window.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
import traceback
from dataclasses import dataclass

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

from dant_core.errors import Cancelled
from dant_core.progress import CancelToken

MAX_THREADS = 4  # a tracking run plus the views' computations; the GIL limits the rest
BACKGROUND_NICE = 10  # the niceness of the thread of start_background (Linux)
_pool: QThreadPool | None = None
_background_pool: QThreadPool | None = None
_running: set[Worker] = set()  # kept alive until finished (Qt would not keep them)


@dataclass(frozen=True)
class WorkerError:
    """What a worker's function raised: the exception and its formatted traceback."""

    exception: BaseException
    traceback: str

    @property
    def message(self) -> str:
        exc = self.exception
        if isinstance(exc, MemoryError):
            return "not enough memory for this run (try fewer units or a larger machine)"
        text = str(exc)
        return text if text and _is_dant_error(exc) else f"{type(exc).__name__}: {text}"


def _is_dant_error(exc: BaseException) -> bool:
    from dant_core.errors import DantError

    return isinstance(exc, DantError)


class Worker(QObject):
    """One function run on the pool; its signals are delivered on the UI thread."""

    started = pyqtSignal()
    progress = pyqtSignal(object)  # whatever the function reports
    returned = pyqtSignal(object)  # its return value (not after abort())
    errored = pyqtSignal(object)  # WorkerError (Cancelled is not an error: only finished)
    finished = pyqtSignal()  # always, last

    def __init__(self, fn, *args, name: str = "", drop_when_aborted: bool = True, **kwargs):
        super().__init__()
        self.name = name or getattr(fn, "__name__", "work")
        # A view drops a result it no longer wants; a run that saved its result must say so.
        self.drop_when_aborted = drop_when_aborted
        self.token = CancelToken()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        if "abort" in params:
            self._kwargs["abort"] = self.token
        if "progress" in params:
            self._kwargs["progress"] = self._report

    @property
    def aborted(self) -> bool:
        return self.token.cancelled

    def abort(self) -> None:
        """Ask the function to stop (it checks the token) and drop its return value."""
        self.token.cancel()

    def _report(self, *value) -> None:
        self.progress.emit(value[0] if len(value) == 1 else value)

    def run(self) -> None:
        """On a pool thread: call the function and emit what happened."""
        try:
            self.started.emit()
            try:
                value = self._fn(*self._args, **self._kwargs)
            except Cancelled:
                pass
            except BaseException as exc:  # noqa: BLE001 - any failure goes to `errored`
                if not self.aborted:
                    self.errored.emit(WorkerError(exc, traceback.format_exc()))
            else:
                if not (self.aborted and self.drop_when_aborted):
                    self.returned.emit(value)
            self.finished.emit()
        except RuntimeError:  # the receivers were deleted meanwhile
            pass


class _Runnable(QRunnable):
    def __init__(self, worker: Worker):
        super().__init__()
        self.worker = worker

    def run(self) -> None:
        self.worker.run()


class _BackgroundRunnable(_Runnable):
    def run(self) -> None:
        _yield_to_window()
        self.worker.run()


def _yield_to_window() -> None:
    """This thread computes on one core, and the system runs it after the window's.

    Numba's parallel kernels take every core by default: on a 2-core machine two views
    filling their tables (~6 s at 20,000 units) left the window's thread a third of a
    core, and every paint took 2-3 times its own CPU time."""
    try:
        import numba

        numba.set_num_threads(1)  # per calling thread: the kernels run on this one
    except Exception:  # noqa: BLE001 - numba absent or initialised differently
        pass
    if sys.platform.startswith("linux"):  # elsewhere a thread id is not a pid
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)
        except OSError:
            pass


def pool() -> QThreadPool:
    """The pool every worker runs on."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(MAX_THREADS)
    return _pool


def background_pool() -> QThreadPool:
    """The one thread of start_background."""
    global _background_pool
    if _background_pool is None:
        _background_pool = QThreadPool()
        _background_pool.setMaxThreadCount(1)
    return _background_pool


def start_worker(fn, *args, returned=None, errored=None, progress=None, finished=None, **kw):
    """Run `fn(*args, **kw)` on the pool; connect the given callbacks first. Returns the
    Worker (keep it to abort it)."""
    worker = _connected(Worker(fn, *args, **kw), returned, errored, progress, finished)
    pool().start(_Runnable(worker))
    return worker


def start_background(fn, *args, returned=None, errored=None, progress=None, finished=None, **kw):
    """As start_worker, for work nobody waits for (statistics that fill a table's
    columns in): run one at a time, on one core, at a lower priority than the window."""
    worker = _connected(Worker(fn, *args, **kw), returned, errored, progress, finished)
    background_pool().start(_BackgroundRunnable(worker))
    return worker


def _connected(worker: Worker, returned, errored, progress, finished) -> Worker:
    """`worker` with the given callbacks connected, kept alive until it finishes."""
    for signal, slot in (
        (worker.returned, returned),
        (worker.errored, errored),
        (worker.progress, progress),
        (worker.finished, finished),
    ):
        if slot is not None:
            signal.connect(slot)
    _running.add(worker)
    worker.finished.connect(lambda: _running.discard(worker))
    return worker


def running() -> list[Worker]:
    """The workers started and not finished yet."""
    return list(_running)


def wait_for_all(msecs: int = 30_000) -> bool:
    """Abort every worker and wait for the pool to be idle; False on timeout."""
    for worker in list(_running):
        worker.abort()
    done = True
    for each in (_pool, _background_pool):
        if each is not None:
            each.clear()
            done = each.waitForDone(msecs) and done
    return done


class WorkQueue(QObject):
    """Functions run one after another, in the order submitted, on the pool (one view's
    background work: a coarse image first, then the exact one)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._waiting: list[tuple] = []
        self._current: Worker | None = None

    def submit(self, fn, *args, returned=None, errored=None) -> None:
        self._waiting.append((fn, args, returned, errored))
        if self._current is None:
            self._next()

    def _next(self) -> None:
        self._current = None
        if not self._waiting:
            return
        fn, args, returned, errored = self._waiting.pop(0)
        self._current = start_worker(
            fn, *args, returned=returned, errored=errored, finished=self._finished
        )

    def _finished(self) -> None:
        self._next()

    def abort(self) -> None:
        """Drop what waits and abort what runs (its result is dropped)."""
        self._waiting.clear()
        if self._current is not None:
            self._current.abort()
