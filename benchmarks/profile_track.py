"""Profile one warm `dant track` run under cProfile and summarise where the time goes.

    python benchmarks/profile_track.py --units 1200 --sessions 12 \
        [--workdir DIR] [--summary benchmarks/profile_1200.txt] [--top 25]

Writes (or reuses, with --reuse-data) a demo folder, makes sure the persistent numba cache is
warm (an unprofiled run first, unless --no-prime and the cache is not empty), then runs

    python -m cProfile -o PROF -m dant_core.cli track DATA --output OUT

with NUMBA_CACHE_DIR set to that cache, and writes the top entries by cumulative and by own
(tottime) time to --summary. Time inside numba kernels is booked to the Python frame that
calls the compiled dispatcher (it shows as that frame's tottime).
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import (
    log,
    machine_info,
    make_demo,
    numba_cache_is_warm,
    run_measured,
    run_ours,
    truth_of,
)


def call_tree(prof: Path, root: str = "cmd_track", min_share: float = 0.02, depth: int = 8) -> str:
    """Where the time of `root` goes: its callees by cumulative time, recursing into the
    engine's (dant_core) functions, down to `depth` levels and `min_share` of the total."""
    stats = pstats.Stats(str(prof)).stats  # {func: (cc, nc, tt, ct, callers)}
    children: dict = {}
    for func, (_, _, _, _, callers) in stats.items():
        for caller, (_, nc, tt, ct) in callers.items():
            children.setdefault(caller, []).append((ct, tt, nc, func))
    roots = [f for f in stats if f[2] == root and "dant_core" in f[0]]
    if not roots:
        return ""
    total = stats[roots[0]][3]
    name = lambda f: f"{Path(f[0]).name}:{f[1]}({f[2]})"  # noqa: E731
    lines = [f"=== where the time of {name(roots[0])} goes ({total:.2f} s) ==="]
    lines.append("cumulative s   own s   calls  function")

    def walk(func, level: int, seen: frozenset) -> None:
        for ct, tt, nc, callee in sorted(children.get(func, []), reverse=True):
            if ct < min_share * total or callee in seen:
                continue
            lines.append(f"{ct:12.2f} {tt:7.2f} {nc:7d}  {'  ' * level}{name(callee)}")
            if level + 1 < depth and "dant_core" in callee[0]:
                walk(callee, level + 1, seen | {callee})

    walk(roots[0], 0, frozenset(roots))
    return "\n".join(lines) + "\n\n"


def summarise(prof: Path, top: int) -> str:
    """Top entries by cumulative and own time, then the engine's (dant_core) own functions."""
    buf = io.StringIO()
    sections = (
        ("cumulative", "cumulative time", []),
        ("tottime", "own time (tottime)", []),
        ("cumulative", "cumulative time, dant_core functions only", [r"dant_core"]),
    )
    for key, title, restrict in sections:
        buf.write(f"=== top {top} by {title} ===\n")
        st = pstats.Stats(str(prof), stream=buf)
        if not restrict:
            st.strip_dirs()
        st.sort_stats(key).print_stats(*restrict, top)
    return buf.getvalue()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--units", type=int, default=1200)
    p.add_argument("--sessions", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "dant_bench"))
    p.add_argument("--numba-cache", help="persistent NUMBA_CACHE_DIR (default WORKDIR/...)")
    p.add_argument("--channels", type=int, default=None, help="probe channels (default 96)")
    p.add_argument("--reuse-data", action="store_true")
    p.add_argument("--summary", help="text file for the summary (default: stdout only)")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--no-prime", action="store_true", help="skip the unprofiled warm-up run")
    a = p.parse_args(argv)

    work = Path(a.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    cache = Path(a.numba_cache).resolve() if a.numba_cache else work / "numba_cache"
    tag = f"{a.units}u_{a.sessions}s_seed{a.seed}" + (f"_{a.channels}ch" if a.channels else "")
    data = work / f"demo_{tag}"
    if not (a.reuse_data and (data / "session_index.npy").is_file()):
        make_demo(data, a.units, a.sessions, a.seed, None, False, a.channels)
    out = work / f"out_profile_{tag}"
    # one unprofiled run first: it fills the cache, or refreshes it if the engine's sources
    # changed since it was filled (numba then recompiles), so the profiled run is warm
    if not a.no_prime or not numba_cache_is_warm(cache):
        log(f"priming {cache} (not profiled)")
        run_ours(data, out, label="prime", numba_cache=cache, truth=truth_of(data))

    prof = work / f"profile_{tag}.prof"
    cmd = [
        sys.executable, "-m", "cProfile", "-o", str(prof),
        "-m", "dant_core.cli", "track", str(data), "--output", str(out),
    ]  # fmt: skip
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    log("profiling: " + " ".join(cmd))
    meas, _ = run_measured(cmd, env=env, log_file=work / f"profile_{tag}.log")
    if meas.get("returncode") != 0:
        log(f"the profiled run failed (exit {meas.get('returncode')}); see the log")
        return 1

    buf = io.StringIO()
    m = machine_info()
    buf.write(
        f"cProfile of one warm `dant track` run: {a.units} units, {a.sessions} sessions, "
        f"{len(np.load(data / 'channel_locations.npy'))} channels "
        f"(dant demo seed {a.seed}), {time.strftime('%Y-%m-%d %H:%M')}\n"
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, numba {m['numba']}; "
        f"newest engine source file {m['engine_newest_source']}.\n"
        f"Wall time under the profiler {meas['wall_s']:.1f} s, "
        f"CPU {meas['cpu_s']:.1f} s; other jobs used "
        f"{100 * meas['other_cpu_share']:.0f} % of the machine meanwhile.\n"
        "Time inside numba kernels shows as the tottime of the Python function that calls them.\n"
        f"Command: NUMBA_CACHE_DIR=<warm cache> {' '.join(cmd)}\n\n"
    )
    text = buf.getvalue() + call_tree(prof) + summarise(prof, a.top)
    print(text)
    if a.summary:
        Path(a.summary).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
