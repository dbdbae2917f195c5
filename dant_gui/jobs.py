"""Tracking on a worker thread: progress, log, finished / failed / cancelled signals.

The worker calls `run_tracking` with `progress` and `log` that emit Qt signals (queued to
the UI thread) and a `CancelToken` the Cancel button sets. Nothing here spins the event
loop; the UI thread only receives signals.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import traceback
from pathlib import Path

from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from dant_core.errors import Cancelled, DantError
from dant_core.progress import CancelToken

# A stage reports at most this often (seconds); its first and last report always pass.
PROGRESS_INTERVAL = 0.05


_warm_up_started = False


def warm_up_engine() -> None:
    """Load numba's compiler machinery on a background thread, once per process.

    The first numba kernel a process calls imports numba's typing registries, holding the
    GIL for ~0.1 s at a time; done while the user is still choosing a folder, the first
    run starts without that stutter.
    """
    global _warm_up_started
    if _warm_up_started:
        return
    _warm_up_started = True

    def load() -> None:
        try:
            from numba.core.registry import cpu_target

            cpu_target.target_context.refresh()
        except Exception:  # noqa: BLE001 - only an optimisation
            pass

    threading.Thread(target=load, name="dant-warm-up", daemon=True).start()


def engine_threads(n_jobs: int, n_cpu: int | None = None) -> int:
    """Threads the engine may use: n_jobs if > 0, else every core but one (kept for the window)."""
    n_cpu = n_cpu or os.cpu_count() or 1
    if n_jobs > 0:
        return max(1, min(n_jobs, n_cpu))
    return max(1, n_cpu + 1 + n_jobs) if n_jobs < -1 else max(1, n_cpu - 1)


@contextlib.contextmanager
def _threads_for_engine(settings):
    """Cap numba (this thread only) and BLAS thread pools for the run.

    Numba's and OpenBLAS's pools otherwise take every core and spin between calls, and
    the window's thread then waits its turn for the CPU: the UI stutters.
    """
    try:
        n_jobs = int(settings.get("n_jobs"))
    except Exception:  # noqa: BLE001 - settings are validated later by the engine
        n_jobs = -1
    n = engine_threads(n_jobs)
    limiter = contextlib.nullcontext()
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))  # per calling thread
    except Exception:  # noqa: BLE001 - numba absent or already initialised differently
        pass
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=n, user_api="blas")
    except Exception:  # noqa: BLE001 - threadpoolctl is optional
        pass
    with limiter:
        yield n


class _TrackingWorker(QObject):
    """Lives on the worker thread; `run` does the whole job once."""

    progress = pyqtSignal(str, int, int)
    log = pyqtSignal(str)
    finished = pyqtSignal(object)
    failed = pyqtSignal(str, str)
    cancelled = pyqtSignal()

    def __init__(self, dataset, settings, output_folder: Path, token: CancelToken):
        super().__init__()
        self.dataset = dataset
        self.settings = settings
        self.output_folder = Path(output_folder)
        self.token = token
        self._last_emit: dict[str, float] = {}

    def _progress(self, stage: str, done: int, total: int) -> None:
        # The engine may report thousands of times a second; queueing each would flood the UI.
        now = time.monotonic()
        last = self._last_emit.get(stage)
        if last is None or done >= total or done <= 0 or now - last >= PROGRESS_INTERVAL:
            self._last_emit[stage] = now
            self.progress.emit(stage, int(done), int(total))

    @pyqtSlot()
    def run(self) -> None:
        with _threads_for_engine(self.settings):
            self._run()

    def _run(self) -> None:
        from dant_core.pipeline import run_tracking

        try:
            result = run_tracking(
                self.dataset,
                self.settings,
                progress=self._progress,
                cancel=self.token,
                log=self.log.emit,
            )
            self.token.check()
            self.progress.emit("Saving results", 0, 1)
            self.log.emit(f"Saving results to {self.output_folder}")
            result.save(self.output_folder)
            self.progress.emit("Saving results", 1, 1)
        except Cancelled:
            self.cancelled.emit()
        except DantError as exc:
            self.failed.emit(str(exc), traceback.format_exc())
        except MemoryError:
            self.failed.emit(
                "not enough memory for this run (try fewer units or a larger machine)",
                traceback.format_exc(),
            )
        except Exception as exc:  # noqa: BLE001 - any failure must end in a dialog, not a crash
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            self.finished.emit(result)


class TrackingJob(QObject):
    """One tracking run on its own QThread. Create, connect, `start()`; `cancel()` any time."""

    progress = pyqtSignal(str, int, int)
    log = pyqtSignal(str)
    finished = pyqtSignal(object)  # TrackingResult, saved to the output folder
    failed = pyqtSignal(str, str)  # message, traceback
    cancelled = pyqtSignal()

    def __init__(self, dataset, settings, output_folder, parent: QObject | None = None):
        super().__init__(parent)
        self.token = CancelToken()
        self.thread = QThread()
        self.thread.setObjectName("dant-tracking")
        self.worker = _TrackingWorker(dataset, settings, output_folder, self.token)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # Worker -> job connections are queued: the job lives on the UI thread.
        self.worker.progress.connect(self.progress)
        self.worker.log.connect(self.log)
        for signal in (self.worker.finished, self.worker.failed, self.worker.cancelled):
            signal.connect(self.thread.quit)
        self.worker.finished.connect(self.finished)
        self.worker.failed.connect(self.failed)
        self.worker.cancelled.connect(self.cancelled)
        self.thread.finished.connect(self.worker.deleteLater)
        self.thread.finished.connect(self._on_thread_finished)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.token.cancel()

    def _on_thread_finished(self) -> None:
        # `finished` comes just before the thread really ends: wait for it before freeing it.
        self.thread.wait()
        self.deleteLater()

    def wait(self, msecs: int = 10_000) -> bool:
        return self.thread.wait(msecs)
