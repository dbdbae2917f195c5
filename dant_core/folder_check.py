"""Check a whole data folder in a child process (`python -m dant_core.folder_check FOLDER`).

The window shows a result before its data folder is read whole; the check that follows
(every test of load_dataset, what a run will read) takes ~20 s and ~1 GB at 20,000 units:
tens of thousands of small spike-time files read in Python loops. In the window's process
that held Python's GIL most of the time, so every table and plot the window repainted
meanwhile waited for it (200-300 ms per paint), and its memory added to the window's.
A child process holds neither; only the folder's fingerprint comes back.

The child prints one JSON line: {"fingerprint": {file: "size:hash"}} and exits 0, or
{"error": message} and exits 2 when the folder has a problem (the DantError's text).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .errors import Cancelled, DantError, DatasetError

POLL_S = 0.1  # how often the parent looks whether it was asked to stop


def check_folder(folder, abort=None) -> dict[str, str]:
    """Read and check `folder` whole in a child process; its fingerprint
    (data_fingerprint.py). DatasetError with the child's message when the folder has a
    problem, or naming the folder when the child failed otherwise; `Cancelled` (the child
    killed) when `abort` (a CancelToken) is set meanwhile."""
    cmd = [sys.executable, "-m", "dant_core.folder_check", str(folder)]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    ) as child:
        while True:
            try:
                out, err = child.communicate(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                if abort is not None and abort.cancelled:
                    child.kill()
                    child.communicate()
                    raise Cancelled("the check of the data folder was stopped") from None
    answer = _last_json(out)
    if child.returncode == 0 and isinstance(answer.get("fingerprint"), dict):
        return answer["fingerprint"]
    if child.returncode == 2 and isinstance(answer.get("error"), str):
        raise DatasetError(answer["error"])
    last = (err.strip().splitlines() or [f"exit code {child.returncode}"])[-1]
    raise DatasetError(f"{folder}: the data folder could not be checked ({last})")


def _last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def main(argv: list[str] | None = None) -> int:
    from .dataset import load_dataset

    (folder,) = sys.argv[1:] if argv is None else argv
    try:
        try:
            dataset = load_dataset(folder)
        except OSError as exc:
            raise DatasetError(f"{Path(folder)}: {exc}") from exc
    except DantError as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps({"fingerprint": dataset.fingerprint}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
