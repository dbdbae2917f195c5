"""Scaling of DANT Desktop alone: wall time and peak memory at growing sizes.

    python benchmarks/scaling.py [--sizes 1000:12,5000:30,20000:60] [--timeout 1200]
                                 [--workdir DIR] [--keep]

For each UNITS:SESSIONS size: `dant demo` a folder, run `dant track` on it once with a warm
numba cache (a persistent NUMBA_CACHE_DIR, primed by an unreported run on a small folder if
empty), measure it as run_benchmark.py does, score pair F1 against the truth, then delete the
folder and the output (unless --keep) before the next size. A run over --timeout seconds is
ended (its own process group only) and reported as such; the larger sizes are then skipped.

Results are appended to WORKDIR/scaling.md / scaling.json as each size finishes, so the
series can run in the background (nohup) and be polled.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchlib import (
    fmt,
    log,
    machine_info,
    make_demo,
    markdown_table,
    numba_cache_is_warm,
    remove_demo,
    run_ours,
    truth_of,
    wait_for_idle,
)


def _share(x) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def table(rows: list[dict]) -> str:
    header = [
        "units", "sessions", "wall time s", "internal s", "CPU s", "peak memory GB",
        "pair F1 vs truth", "other jobs' CPU", "demo generation s", "status",
    ]  # fmt: skip
    out = []
    for r in rows:
        run = r["run"]
        status = "ok"
        if run["timed_out"]:
            status = f"killed after {r['timeout']:.0f} s timeout"
        elif run["returncode"] != 0:
            status = f"failed (exit {run['returncode']})"
        out.append([
            str(run["units"]), str(run["sessions"]),
            fmt(run["wall_s"]) if not run["timed_out"] else f"> {r['timeout']:.0f}",
            fmt(run["internal_s"]),
            fmt(run["cpu_s"]) + (" (until killed)" if run["timed_out"] else ""),
            fmt(run["tree_peak_gb"], ".2f") + (" (until killed)" if run["timed_out"] else ""),
            fmt(run["scores"].get("f1"), ".3f"), _share(run.get("other_cpu_share")),
            fmt(r["demo_s"]), status,
        ])  # fmt: skip
    return markdown_table(header, out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="1000:12,5000:30,20000:60", help="UNITS:SESSIONS,...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds per tracking run")
    p.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "dant_bench"))
    p.add_argument("--numba-cache", help="persistent NUMBA_CACHE_DIR (default WORKDIR/numba_cache)")
    p.add_argument("--keep", action="store_true", help="keep the demo folders and outputs")
    p.add_argument(
        "--wait-idle", type=float, default=None, metavar="LOAD",
        help="before each run wait (up to 10 min) until the 1-min load average is below LOAD",
    )  # fmt: skip
    a = p.parse_args(argv)

    sizes = [tuple(int(v) for v in s.split(":")) for s in a.sizes.split(",")]
    work = Path(a.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    cache = Path(a.numba_cache).resolve() if a.numba_cache else work / "numba_cache"
    logs = work / "logs_scaling"
    logs.mkdir(exist_ok=True)
    machine = machine_info()
    log(f"machine: {machine}")
    md_path, json_path = work / "scaling.md", work / "scaling.json"

    if not numba_cache_is_warm(cache):
        log(f"priming the numba cache {cache} on a small folder (not reported)")
        prime = work / "demo_prime"
        make_demo(prime, 200, 4, a.seed, None, False)
        run_ours(prime, work / "out_prime", label="prime", numba_cache=cache,
                 truth=truth_of(prime), log_file=logs / "prime.log")  # fmt: skip
        remove_demo(prime)
        shutil.rmtree(work / "out_prime", ignore_errors=True)

    rows = []
    for units, sessions in sizes:
        data = work / f"demo_{units}u_{sessions}s_seed{a.seed}"
        log(f"dant demo {data.name}")
        demo_s = make_demo(data, units, sessions, a.seed, None, False)
        wait_for_idle(a.wait_idle)
        log(f"  demo written in {demo_s:.1f} s; dant track (timeout {a.timeout:.0f} s)")
        out = work / f"out_ours_{units}u_{sessions}s_seed{a.seed}"
        run = run_ours(
            data, out, label="warm", numba_cache=cache, truth=truth_of(data),
            timeout=a.timeout, log_file=logs / f"ours_{units}u_{sessions}s.log",
        )  # fmt: skip
        log(
            f"  {fmt(run.wall_s)} s, {fmt(run.tree_peak_gb, '.2f')} GB, "
            f"F1 {run.scores.get('f1')}, rc {run.returncode}, timed out {run.timed_out}"
        )
        rows.append(
            {
                "run": run.to_dict(),
                "demo_s": demo_s,
                "timeout": a.timeout,
                "loadavg_after": os.getloadavg(),
                "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
        if not a.keep:
            remove_demo(data)
            shutil.rmtree(out, ignore_errors=True)
        text = f"## Scaling of DANT Desktop ({time.strftime('%Y-%m-%d %H:%M')})\n\n" + table(rows)
        md_path.write_text(text + "\n")
        json_path.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
        if not run.ok:
            log("stopping the series here (the larger sizes would not finish either)")
            break
    print(md_path.read_text())
    return 0 if all(r["run"]["returncode"] == 0 and not r["run"]["timed_out"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
