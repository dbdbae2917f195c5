"""The one worker: what arrives on the UI thread, in which order, and what abort does."""

from __future__ import annotations

import threading

import pytest

from dant_core.errors import DantError
from dant_gui.worker import WorkQueue, start_worker, wait_for_all

TIMEOUT_MS = 30_000


def _recorder(seen: list) -> dict:
    """Callbacks for start_worker (connected before the work starts) that record in `seen`."""
    return dict(
        returned=lambda v: seen.append(("returned", v)),
        errored=lambda e: seen.append(("errored", e.message)),
        progress=lambda v: seen.append(("progress", v)),
        finished=lambda: seen.append(("finished", None)),
    )


def _wait_finished(qtbot, seen: list) -> None:
    qtbot.waitUntil(lambda: ("finished", None) in seen, timeout=TIMEOUT_MS)


def test_returned_and_progress_arrive_on_the_ui_thread_then_finished(qtbot):
    ui = threading.get_ident()
    threads = []

    def work(n, progress=None):
        threads.append(threading.get_ident())
        for i in range(n):
            progress(i)
        return n * 10

    seen = []
    start_worker(work, 3, **_recorder(seen))
    _wait_finished(qtbot, seen)
    assert threads and threads[0] != ui
    assert seen == [("progress", 0), ("progress", 1), ("progress", 2), ("returned", 30)] + [
        ("finished", None)
    ]


def test_an_error_is_errored_with_its_message(qtbot):
    def fails():
        raise DantError("settings.json: n_jobs must be an integer")

    seen = []
    start_worker(fails, **_recorder(seen))
    _wait_finished(qtbot, seen)
    assert seen == [("errored", "settings.json: n_jobs must be an integer"), ("finished", None)]


@pytest.mark.parametrize("drop", [True, False])
def test_abort_stops_the_function_and_drops_its_value_unless_asked(qtbot, drop):
    started, release = threading.Event(), threading.Event()

    def work(abort=None):
        started.set()
        release.wait(TIMEOUT_MS / 1000)
        return "stopped early" if abort.cancelled else "ran to the end"

    seen = []
    worker = start_worker(work, drop_when_aborted=drop, **_recorder(seen))
    assert started.wait(TIMEOUT_MS / 1000)
    worker.abort()
    release.set()
    _wait_finished(qtbot, seen)
    kept = [] if drop else [("returned", "stopped early")]
    assert seen == kept + [("finished", None)]


def test_a_work_queue_runs_in_order_and_wait_for_all_returns_when_idle(qtbot):
    order = []
    queue = WorkQueue()
    done = []
    for name in ("coarse", "exact"):
        queue.submit(lambda name=name: order.append(name) or name, returned=done.append)
    qtbot.waitUntil(lambda: done == ["coarse", "exact"], timeout=TIMEOUT_MS)
    assert order == ["coarse", "exact"]
    assert wait_for_all(TIMEOUT_MS)


def test_background_work_runs_one_at_a_time_on_one_core_below_the_window(qtbot):
    """Statistics filling tables in must not take the cores the window paints with."""
    import os
    import sys
    import time

    import numba

    from dant_gui.worker import BACKGROUND_NICE, start_background

    spans, seen = [], []

    def work(name):
        start = time.perf_counter()
        time.sleep(0.05)
        nice = None
        if sys.platform.startswith("linux"):
            nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        spans.append((start, time.perf_counter()))
        return name, numba.get_num_threads(), nice

    for name in ("a", "b", "c"):
        start_background(work, name, returned=seen.append)
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=TIMEOUT_MS)
    assert [s[0] for s in seen] == ["a", "b", "c"]  # in order, and never two at once:
    spans.sort()
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
    assert all(s[1] == 1 for s in seen)  # numba's kernels on this thread only
    if sys.platform.startswith("linux"):  # the system serves the window's thread first
        assert all(s[2] >= BACKGROUND_NICE for s in seen)
    assert wait_for_all(TIMEOUT_MS)
