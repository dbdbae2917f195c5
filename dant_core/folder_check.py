"""Check a whole data folder in a child process (`python -m dant_core.folder_check FOLDER`).

The window shows a result before its data folder is read whole; the check that follows
(every test of load_dataset, what a run will read) takes ~20 s and ~1 GB at 20,000 units:
tens of thousands of small spike-time files read in Python loops. In the window's process
that held Python's GIL most of the time, so every table and plot the window repainted
meanwhile waited for it (200-300 ms per paint), and its memory added to the window's.
A child process holds neither; only its progress and the folder's fingerprint come back.

The child prints JSON lines: {"progress": [step, done, total]} at most every PROGRESS_S,
then {"fingerprint": {file: "size:hash"}} and exits 0, or {"error": message} and exits 2
when the folder has a problem (the DantError's text).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from .errors import Cancelled, DantError, DatasetError
from .progress import ProgressFn, no_progress

POLL_S = 0.1  # how often the parent looks whether it was asked to stop
PROGRESS_S = 0.1  # the child reports at most this often (each report repaints a bar)
CHILD_NICE = 10  # the child's niceness (POSIX): it must not take the window's cores


def check_folder(folder, abort=None, progress: ProgressFn | None = None) -> dict[str, str]:
    """Read and check `folder` whole in a child process; its fingerprint
    (data_fingerprint.py). `progress(step, done, total)` as load_dataset reports it.
    DatasetError with the child's message when the folder has a problem, or naming the
    folder when the child failed otherwise; `Cancelled` (the child killed) when `abort`
    (a CancelToken) is set meanwhile."""
    progress = progress or no_progress
    cmd = [sys.executable, "-m", "dant_core.folder_check", str(folder)]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    ) as child:
        lines: queue.Queue = queue.Queue()
        errors: list[str] = []
        # Threads read the child's output, so this one can look at `abort` meanwhile
        # (reading a pipe with a timeout is not portable) and a full pipe never stalls it.
        readers = [
            threading.Thread(target=_read_lines, args=(child.stdout, lines.put), daemon=True),
            threading.Thread(target=_read_lines, args=(child.stderr, errors.append), daemon=True),
        ]
        for reader in readers:
            reader.start()
        answer = _follow(child, lines, abort, progress)
        for reader in readers:  # the child has ended: its pipes are at their end
            reader.join()
        err = "".join(line for line in errors if line is not None)
    if answer is None:
        raise Cancelled("the check of the data folder was stopped")
    if child.returncode == 0 and isinstance(answer.get("fingerprint"), dict):
        return answer["fingerprint"]
    if child.returncode == 2 and isinstance(answer.get("error"), str):
        raise DatasetError(answer["error"])
    last = (err.strip().splitlines() or [f"exit code {child.returncode}"])[-1]
    raise DatasetError(f"{folder}: the data folder could not be checked ({last})")


def _read_lines(stream, put) -> None:
    try:
        for line in stream:
            put(line)
    except (OSError, ValueError):  # the pipe closed under it (the process is ending)
        pass
    put(None)  # the child closed its output


def _follow(child, lines: queue.Queue, abort, progress: ProgressFn) -> dict | None:
    """Forward the child's progress until it ends; its last answer (fingerprint or error),
    or None when `abort` was set (the child is killed)."""
    answer: dict = {}
    while True:
        try:
            line = lines.get(timeout=POLL_S)
        except queue.Empty:
            line = ""
        if abort is not None and abort.cancelled:
            child.kill()
            child.wait()
            return None
        if line is None:
            child.wait()
            return answer
        value = _parse(line)
        if isinstance(value.get("progress"), list) and len(value["progress"]) == 3:
            step, done, total = value["progress"]
            progress(str(step), int(done), int(total))
        elif value:
            answer = value


def _parse(line: str) -> dict:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class _ThrottledReport:
    """load_dataset's progress as JSON lines, at most every PROGRESS_S (and every new step)."""

    def __init__(self):
        self.last_step, self.last_time = None, 0.0

    def __call__(self, step: str, done: int, total: int) -> None:
        now = time.monotonic()
        if step == self.last_step and now - self.last_time < PROGRESS_S and done < total:
            return
        self.last_step, self.last_time = step, now
        print(json.dumps({"progress": [step, done, total]}), flush=True)


def main(argv: list[str] | None = None) -> int:
    from .dataset import load_dataset

    (folder,) = sys.argv[1:] if argv is None else argv
    try:
        try:
            dataset = load_dataset(folder, progress=_ThrottledReport())
        except OSError as exc:
            raise DatasetError(f"{Path(folder)}: {exc}") from exc
    except DantError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 2
    print(json.dumps({"fingerprint": dataset.fingerprint}), flush=True)
    return 0


def _lower_priority() -> None:
    """The check runs behind a result on screen: the system serves the window first."""
    if hasattr(os, "nice"):
        try:
            os.nice(CHILD_NICE)
        except OSError:
            pass


if __name__ == "__main__":
    _lower_priority()
    sys.exit(main())
