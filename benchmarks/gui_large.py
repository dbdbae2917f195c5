"""The window on a large result: open time, peak memory and per-action latency (issue 16).

    python benchmarks/gui_large.py --units 5000 --sessions 30 [--workdir DIR]
    python benchmarks/gui_large.py --units 20000 --sessions 60

Makes a demo data folder and tracks it with `dant track` (both kept in WORKDIR and reused),
then opens it in the window (offscreen Qt) in a fresh process and measures, on the UI
thread:

* ``first_paint_s``: from creating the window until it has painted (before any loading);
* ``open_s``: from File ▸ Open until the controller's load_finished (cluster table and
  drift shown, curation possible);
* ``open_max_block_ms``: the longest the UI thread did not serve its event loop while the
  folder was opening (a 10 ms timer's largest gap);
* ``data_checked_s``, ``check_max_block_ms``: a result is shown before its data folder is
  read whole (spike times, checks; Run waits for it): when that ended, from File ▸ Open,
  and the UI thread's longest block meanwhile (the actions below are measured after it);
* ``rss_after_open_gb``, ``peak_rss_open_gb``: resident memory then, and its peak so far;
* per action — select a cluster, next cluster, reject a unit, undo — the UI thread's time
  in the action's call, and its longest block during the call and the 300 ms after (while
  the views and their workers follow it), median and worst over N repeats;
* ``peak_rss_browsing_gb``: the process's peak resident memory (ru_maxrss) after those;
* ``detail_tab_s``, ``detail_tab_max_block_ms``, ``detail select cluster``: then the
  Cluster detail tab is shown, its view made then as a click on the tab makes it (its
  summary of every candidate pair is made on a worker), and a cluster selected there;
* ``peak_rss_gb``: the process's peak resident memory at the end (ru_maxrss: it counts the
  pages of memory-mapped files read, which the system may drop at any time);
* ``peak_rss_children_gb``: the largest of its child processes (the check of the data
  folder runs in one: dant_core/folder_check.py), so the machine's peak is at most the sum;
* ``peak_anon_gb``: the peak of its memory not backed by a file (RssAnon, sampled every
  ~100 ms while the UI thread serves its loop).

Prints one JSON object; the figures go into benchmarks/README.md with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare(work: Path, units: int, sessions: int) -> Path:
    """The demo folder with its tracked result (made once per size)."""
    data = work / f"demo_{units}u_{sessions}s"
    cli = [sys.executable, "-m", "dant_core.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not (data / "waveform_all.npy").is_file():
        cmd = [*cli, "demo", str(data), "--units", str(units), "--sessions", str(sessions)]
        subprocess.run(cmd, check=True, env=env)
    if not (data / "DANT_Output" / "IdxCluster.npy").is_file():
        subprocess.run([*cli, "track", str(data)], check=True, env=env)
    return data


class BlockMeter:
    """The longest gap between the ticks of a 10 ms timer on the UI thread (ms)."""

    def __init__(self):
        from PyQt6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.worst = 0.0
        self.ticks = 0
        self.peak_anon = 0.0  # GB, sampled: memory not backed by a file (mapped files excluded)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, (now - self.last) * 1000.0)
        self.last = now
        self.ticks += 1
        if self.ticks % 10 == 0:  # every ~100 ms: the process's own (anonymous) memory
            self.peak_anon = max(self.peak_anon, _rss_gb("RssAnon:"))

    def reset(self) -> float:
        worst, self.worst, self.last = self.worst, 0.0, time.perf_counter()
        return worst


def settle(app, serve_ms: float = 30.0) -> None:
    """Serve the event loop for `serve_ms` (queued view updates and worker results that
    arrive meanwhile are handled)."""
    from PyQt6.QtCore import QEventLoop

    end = time.perf_counter() + serve_ms / 1000.0
    while time.perf_counter() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.001)


def timed(app, meter: BlockMeter, action) -> tuple[float, float]:
    """(ms the UI thread spent in `action` itself, the UI thread's longest block in ms
    while it ran and during the 300 ms after, when the views and workers follow it)."""
    meter.reset()
    t0 = time.perf_counter()
    action()
    spent = (time.perf_counter() - t0) * 1000.0
    settle(app, 300.0)
    return spent, max(meter.reset(), spent)


def _event_timing_app():
    from PyQt6.QtWidgets import QApplication

    class EventTimingApp(QApplication):
        """Records the UI thread's top-level events that took longer than 50 ms."""

        def __init__(self, argv):
            super().__init__(argv)
            self.depth = 0
            self.slow: list[tuple[float, str]] = []

        def notify(self, receiver, event):  # noqa: N802 - Qt override
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return super().notify(receiver, event)
            finally:
                self.depth -= 1
                dt = time.perf_counter() - t0
                if self.depth == 0 and dt > 0.05:
                    name = f"{type(receiver).__name__}({receiver.objectName()})"
                    self.slow.append((dt, f"{event.type().name} -> {name}"))

        def report(self) -> str:
            lines = ["== slow top-level events (ms)"]
            lines += [f"  {dt * 1000:7.0f}  {what}" for dt, what in sorted(self.slow)[::-1][:25]]
            return "\n".join(lines)

    return EventTimingApp


def _EventTimingApp(argv):  # noqa: N802 - made on demand (PyQt6 imported in the child)
    return _event_timing_app()(argv)


def _detail_tab(app, window, meter: BlockMeter, cluster: int) -> dict:
    """The Cluster detail tab opened as a user would, then a cluster selected in it: the
    tab summarises every candidate pair on a worker (summary_ready)."""
    from PyQt6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(600_000, loop.quit)
    meter.reset()
    t0 = time.perf_counter()
    window.show_tab("Cluster detail")  # makes the view (its first show), as a click does
    # Connected before the event loop runs again, so its summary cannot arrive unseen.
    window.views["Cluster detail"].summary_ready.connect(loop.quit)
    loop.exec()
    out = {
        "detail_tab_s": round(time.perf_counter() - t0, 2),
        "detail_tab_max_block_ms": round(meter.reset(), 1),
    }
    ms, block = timed(app, meter, lambda: window.controller.select_cluster(cluster))
    out["detail select cluster"] = {"ms": round(ms, 1), "block_ms": round(block, 1)}
    return out


def _peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)


def _rss_gb(field: str = "VmRSS:") -> float:
    """The process's resident memory now (`field` of /proc/self/status: VmRSS all of it,
    RssAnon the part not backed by files; Linux only, NaN elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return round(int(line.split()[1]) / 1e6, 2)
    except OSError:
        pass
    return float("nan")


def measure(data: Path, repeats: int, profile: bool = False) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sampler = None
    if profile:
        from stack_sampler import Sampler

        sampler = Sampler()
        sampler.start()
    from PyQt6.QtCore import QEventLoop, QTimer
    from PyQt6.QtWidgets import QApplication

    from dant_gui import dialogs
    from dant_gui.main_window import MainWindow

    shown = []  # a modal dialog offscreen would wait forever: answered, and reported

    def answer(request):
        shown.append(f"{request.kind}: {request.title}")
        return True if request.kind == "question" else None

    dialogs.hook = answer
    app = (_EventTimingApp if profile else QApplication)([])
    ui_profile = None
    if profile:
        import cProfile

        ui_profile = cProfile.Profile()  # the UI thread's Python calls (slots, handlers)
        ui_profile.enable()
    t0 = time.perf_counter()
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    window.grab()  # painted
    out = {"first_paint_s": round(time.perf_counter() - t0, 3)}
    meter = BlockMeter()
    if sampler is not None:
        meter.timer.timeout.connect(sampler.ui_tick)
    c = window.controller
    loop = QEventLoop()
    c.load_finished.connect(lambda *_: loop.quit())
    t0 = time.perf_counter()
    meter.reset()
    window.open_folder(data)
    QTimer.singleShot(600_000, loop.quit)
    loop.exec()
    out["open_s"] = round(time.perf_counter() - t0, 2)
    out["open_max_block_ms"] = round(meter.reset(), 1)
    if getattr(c, "is_checking_data", False):  # the data folder is read behind the result
        checked = QEventLoop()
        c.data_checked.connect(lambda *_: checked.quit())
        QTimer.singleShot(600_000, checked.quit)
        checked.exec()
        out["data_checked_s"] = round(time.perf_counter() - t0, 2)
        out["check_max_block_ms"] = round(meter.reset(), 1)
    settle(app, 200.0)
    out["after_open_fill_ms"] = round(meter.reset(), 1)
    out["rss_after_open_gb"] = _rss_gb()
    out["peak_rss_open_gb"] = _peak_rss_gb()
    ids = [int(k) for k in c.session.cluster_ids()]
    big = sorted(ids, key=lambda k: -c.session.units_of(k).size)[: repeats + 1]
    actions = {"select cluster": [], "next cluster": [], "reject unit": [], "undo": []}
    blocks = {k: [] for k in actions}
    for k in big[:repeats]:
        for name, act in (
            ("select cluster", lambda k=k: c.select_cluster(k)),
            ("next cluster", lambda: c.select_next()),
            ("reject unit", None),
            ("undo", None),
        ):
            if name == "reject unit":
                c.select_cluster(k)
                settle(app)
                c.select_units([int(c.session.units_of(k)[0])])
                settle(app)
                act = lambda: window.curate_selection("reject")  # noqa: E731
            elif name == "undo":
                act = window.undo
            ms, block = timed(app, meter, act)
            actions[name].append(ms)
            blocks[name].append(block)
    for name, values in actions.items():
        values = sorted(values)
        out[name] = {
            "median_ms": round(values[len(values) // 2], 1),
            "worst_ms": round(values[-1], 1),
            "worst_block_ms": round(max(blocks[name]), 1),
        }
    out["peak_rss_browsing_gb"] = _peak_rss_gb()
    out.update(_detail_tab(app, window, meter, big[0]))
    out["peak_rss_gb"] = _peak_rss_gb()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out["peak_rss_children_gb"] = round(children / 1e6, 2)
    out["peak_anon_gb"] = round(meter.peak_anon, 2)
    out["units"] = int(c.session.result.n_units)
    out["sessions"] = int(c.session.result.n_sessions)
    out["clusters"] = len(ids)
    window.close()
    out["dialogs"] = shown  # none expected (e.g. the folder's curation locked by another window)
    if sampler is not None:
        sampler.stop()
        ui_profile.disable()
        print(sampler.report(), file=sys.stderr)
        print(app.report(), file=sys.stderr)
        import io
        import pstats

        ui_profile.dump_stats(data.parent / "gui_large_ui.prof")  # for pstats
        text = io.StringIO()
        pstats.Stats(ui_profile, stream=text).sort_stats("cumulative").print_stats(60)
        print("== UI thread, cProfile (cumulative)\n" + text.getvalue(), file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", default=str(Path.home() / ".cache" / "dant_gui_large"))
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the threads' stacks (stack_sampler.py) and profile the UI thread; the "
        "report goes to stderr, the UI thread's profile to WORKDIR/gui_large_ui.prof",
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.repeats, args.profile)))
        return 0
    data = prepare(Path(args.workdir), args.units, args.sessions)
    load = os.getloadavg()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    cmd = [sys.executable, __file__, "--measure", str(data), "--repeats", str(args.repeats)]
    cmd += ["--profile"] if args.profile else []
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["load_before"] = [round(x, 1) for x in load]
    figures["load_after"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
