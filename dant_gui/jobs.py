"""Tracking as background work: the function `dant_gui.worker` runs for a tracking run.

It calls `run_tracking` with `progress` and `log` that report through the worker (queued
to the UI thread) and the worker's `CancelToken`, which the Cancel button sets; numba and
BLAS are limited to all cores but one meanwhile, to keep the window responsive.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

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


class _Throttle:
    """Passes a stage's progress on at most every PROGRESS_INTERVAL seconds (its first and
    last report always): the engine may report thousands of times a second."""

    def __init__(self, report):
        self.report = report
        self._last: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        last = self._last.get(stage)
        if last is None or done >= total or done <= 0 or now - last >= PROGRESS_INTERVAL:
            self._last[stage] = now
            self.report(("stage", stage, int(done), int(total)))


def track_and_save(dataset, settings, output_folder, abort=None, progress=None):
    """Run tracking and save the result in `output_folder`; for `dant_gui.worker`.

    Reports ("stage", name, done, total) and ("log", line) through `progress`; `abort` is
    the worker's CancelToken (Cancelled ends the run). Returns the TrackingResult.
    """
    from dant_core.dataset_preview import read_whole
    from dant_core.output_folder import previous_log_note
    from dant_core.pipeline import run_tracking

    report = progress or (lambda value: None)
    output_folder = Path(output_folder)
    dataset = read_whole(dataset)  # the window keeps only a preview of a result's data
    with _threads_for_engine(settings):
        result = run_tracking(
            dataset,
            settings,
            progress=_Throttle(report),
            cancel=abort,
            log=lambda line: report(("log", line)),
        )
        if abort is not None:
            abort.check()
        report(("stage", "Saving results", 0, 1))
        report(("log", f"Saving results to {output_folder}"))
        had_log = (output_folder / "curation.jsonl").is_file()
        result.save(output_folder)
        report(("stage", "Saving results", 1, 1))
    note = previous_log_note(output_folder, had_log)  # as `dant track` says it
    if note is not None:
        report(("log", f"note: {note}"))
    return result
