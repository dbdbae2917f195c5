"""Where a process's threads spend their time, without py-spy: a sampling thread reads every
thread's Python stack (`sys._current_frames`) every few ms and counts the frames.

Used by `gui_large.py --profile`: `Sampler.report()` gives, per thread, the functions seen
most often (inclusive: a function counts in every sample it is on the stack), and the UI
thread's stacks while it was blocked longer than `stall_ms` (when `ui_tick()` is called by
a timer on the UI thread). Sampling costs a little of the GIL; figures taken with it are
for finding causes, not for the README's tables.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter


def _where(frame) -> str:
    code = frame.f_code
    name = code.co_filename
    for marker in ("dant_core/", "dant_gui/", "site-packages/", "benchmarks/"):
        if marker in name:
            name = name[name.index(marker) :]
            break
    return f"{name}:{code.co_name}"


def _stack(frame) -> list[str]:
    out = []
    while frame is not None:
        out.append(_where(frame))
        frame = frame.f_back
    return out  # innermost first


class Sampler:
    """Samples every thread's stack each `interval_ms` on a daemon thread."""

    def __init__(self, interval_ms: float = 5.0, stall_ms: float = 100.0):
        self.interval = interval_ms / 1000.0
        self.stall = stall_ms / 1000.0
        self.main_id = threading.main_thread().ident
        self.inclusive: dict[str, Counter] = {}
        self.samples: Counter = Counter()
        self.stalls: list[tuple[float, Counter]] = []  # (length s, innermost-5 stacks seen)
        self._last_tick = time.perf_counter()
        self._current_stall: Counter | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stack-sampler", daemon=True)
        self._names = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def ui_tick(self) -> None:
        """Called from a timer on the UI thread: it is serving its event loop."""
        now = time.perf_counter()
        if self._current_stall is not None:
            self.stalls.append((now - self._last_tick, self._current_stall))
            self._current_stall = None
        self._last_tick = now

    def _run(self) -> None:
        own = threading.get_ident()
        while not self._stop.wait(self.interval):
            names = {t.ident: t.name for t in threading.enumerate()}
            blocked = time.perf_counter() - self._last_tick > self.stall
            for ident, frame in sys._current_frames().items():
                if ident == own:
                    continue
                label = "UI" if ident == self.main_id else names.get(ident, f"thread-{ident}")
                label = "UI" if label == "UI" else "worker"
                stack = _stack(frame)
                if not stack:
                    continue
                self.samples[label] += 1
                counter = self.inclusive.setdefault(label, Counter())
                for f in set(stack):
                    counter[f] += 1
                if label == "UI" and blocked:
                    if self._current_stall is None:
                        self._current_stall = Counter()
                    self._current_stall[" <- ".join(stack[:8])] += 1

    def report(self, top: int = 30, stalls: int = 8) -> str:
        lines = []
        for label, counter in sorted(self.inclusive.items()):
            total = self.samples[label]
            lines.append(f"== {label}: {total} samples ({total * self.interval:.1f} s)")
            for f, n in counter.most_common(top):
                lines.append(f"  {n * self.interval:7.2f} s  {f}")
        longest = sorted(self.stalls, key=lambda s: -s[0])[:stalls]
        for length, stacks in longest:
            lines.append(f"== UI stall {length * 1000:.0f} ms")
            for stack, n in stacks.most_common(4):
                lines.append(f"  {n * self.interval * 1000:6.0f} ms  {stack}")
        return "\n".join(lines)
