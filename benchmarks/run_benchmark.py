"""Benchmark DANT Desktop (`dant track`) against pyDANT on synthetic ground-truth data.

    python benchmarks/run_benchmark.py --units 1200 --sessions 12 \
        [--pydant-python PATH/TO/PYDANT_VENV/bin/python] [--repeat 2] [--workdir DIR]

1. writes a demo data folder with `dant demo` (and its truth beside it);
2. runs `dant track` on it in a subprocess, measuring wall time and peak memory
   (see _measure.py), and scores the clustering by pair F1 against the truth;
   - cold start: once with NUMBA_CACHE_DIR set to a fresh empty folder (every numba
     kernel compiled in that run), unless --no-cold;
   - warm: --repeat times with a persistent NUMBA_CACHE_DIR (--numba-cache); if that cache is
     empty, one unreported priming run fills it first;
   - with --cold-tiny N, also N cold / N warm runs on a tiny folder, where compilation is
     nearly all of a cold run (a steadier estimate on a busy machine);
3. with --pydant-python, runs pyDANT on the same folder with its default settings
   (n_jobs -1, i.e. every core) --repeat times, interleaved with the warm runs of ours so that
   other jobs on the machine weigh on both; of each tool's runs the fastest is reported
   (--pick best; --pick last for the last one);
4. prints Markdown tables (summary, then every run) and writes them with the raw numbers to
   WORKDIR/benchmark_<units>u_<sessions>s.{md,json}.

Only one heavy job runs at a time: the runs are strictly sequential.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import (
    detail_table,
    fmt,
    log,
    machine_info,
    make_demo,
    markdown_table,
    numba_cache_is_warm,
    remove_demo,
    run_ours,
    run_pydant,
    truth_of,
    wait_for_idle,
)


def summary_table(ours_warm, ours_cold, pydant) -> str:
    header = [
        "tool", "units", "sessions", "wall time s", "peak memory GB", "pair F1 vs truth",
        "time pyDANT/ours", "memory ours/pyDANT",
    ]  # fmt: skip
    rows = []

    def row(r, name, ratios: bool):
        t_ratio = m_ratio = "–"
        if ratios and pydant is not None and pydant.ok and r.ok:
            t_ratio = f"{pydant.wall_s / r.wall_s:.1f}×"
            m_ratio = f"{r.tree_peak_gb / pydant.tree_peak_gb:.2f}"
        status = ""
        if not r.ok:
            status = " (timeout)" if r.timed_out else f" (failed, exit {r.returncode})"
        rows.append([
            name + status, str(r.units), str(r.sessions), fmt(r.wall_s),
            fmt(r.tree_peak_gb, ".2f"), fmt(r.scores.get("f1"), ".3f"), t_ratio, m_ratio,
        ])  # fmt: skip

    if pydant is not None:
        row(pydant, f"pyDANT 1.1.4 ({pydant.label})", False)
    if ours_warm is not None:
        row(ours_warm, f"DANT Desktop, warm ({ours_warm.label})", True)
    if ours_cold is not None:
        row(ours_cold, "DANT Desktop, cold start (empty numba cache)", True)
    return markdown_table(header, rows)


def pick(runs: list, how: str):
    """The run to report: the last one, or the fastest successful one ("best")."""
    if not runs:
        return None
    ok = [r for r in runs if r.ok]
    if how == "best" and ok:
        return min(ok, key=lambda r: r.wall_s)
    return runs[-1]


def tiny_cold_start(work: Path, cache: Path, n: int, seed: int) -> str:
    """Cold-start cost where compilation is nearly everything: a 60-unit, 2-session folder
    tracked n times with an empty numba cache and n times with the warm one, alternated."""
    data = work / "demo_tiny_coldstart"
    make_demo(data, 60, 2, seed, None, False)
    truth = truth_of(data)
    colds, warms = [], []
    for _ in range(n):
        c = Path(tempfile.mkdtemp(prefix="numba_cold_", dir=work))
        try:
            colds.append(run_ours(data, work / "out_tiny", label="cold", numba_cache=c,
                                  truth=truth, log_file=work / "tiny_cold.log"))  # fmt: skip
        finally:
            shutil.rmtree(c, ignore_errors=True)
        warms.append(run_ours(data, work / "out_tiny", label="warm", numba_cache=cache,
                              truth=truth, log_file=work / "tiny_warm.log"))  # fmt: skip
    remove_demo(data)
    shutil.rmtree(work / "out_tiny", ignore_errors=True)
    med = lambda xs: float(np.median(xs))  # noqa: E731
    cw = [r.wall_s for r in colds]
    ww = [r.wall_s for r in warms]
    cc = [r.cpu_s for r in colds]
    wc = [r.cpu_s for r in warms]
    other = med([r.other_cpu_share for r in colds + warms]) * 100
    return (
        f"Cold-start cost measured on a tiny folder (60 units, 2 sessions; {n} cold and {n} "
        f"warm runs alternated, medians): {med(cw) - med(ww):.1f} s wall "
        f"({med(cw):.1f} s cold vs {med(ww):.1f} s warm; cold runs "
        f"{', '.join(f'{x:.1f}' for x in cw)} s), {med(cc) - med(wc):.1f} s CPU; "
        f"other jobs used a median {other:.0f} % of the machine."
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--units", type=int, default=1200)
    p.add_argument("--sessions", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--drift", type=float, default=None, help="passed to dant demo --drift")
    p.add_argument("--no-peth", action="store_true", help="passed to dant demo")
    p.add_argument(
        "--channels", type=int, default=None,
        help="probe channels (dant demo's default 96; e.g. 384 as on a full Neuropixels 1.0)",
    )  # fmt: skip
    p.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "dant_bench"))
    p.add_argument("--reuse-data", action="store_true", help="keep an existing demo folder")
    p.add_argument("--pydant-python", help="interpreter of a venv with pyDANT installed")
    p.add_argument("--pydant-n-jobs", type=int, default=-1, help="pyDANT n_jobs (default -1)")
    p.add_argument("--repeat", type=int, default=1, help="warm runs per tool (see --pick)")
    p.add_argument("--no-cold", action="store_true", help="skip the cold-start run of ours")
    p.add_argument(
        "--cold-tiny", type=int, default=0, metavar="N",
        help="also measure the cold-start cost on a tiny folder, N cold + N warm runs",
    )  # fmt: skip
    p.add_argument(
        "--pick", choices=["best", "last"], default="best",
        help="which warm run of each tool to report: the fastest (default) or the last",
    )  # fmt: skip
    p.add_argument(
        "--numba-cache",
        help="persistent NUMBA_CACHE_DIR of the warm runs (default WORKDIR/numba_cache)",
    )
    p.add_argument("--timeout", type=float, default=None, help="seconds per run")
    p.add_argument(
        "--wait-idle", type=float, default=None, metavar="LOAD",
        help="before each run wait (up to 10 min) until the 1-min load average is below LOAD",
    )  # fmt: skip
    a = p.parse_args(argv)

    work = Path(a.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    cache = Path(a.numba_cache).resolve() if a.numba_cache else work / "numba_cache"
    tag = f"{a.units}u_{a.sessions}s_seed{a.seed}" + (f"_{a.channels}ch" if a.channels else "")
    data = work / f"demo_{tag}"
    machine = machine_info()
    log(f"machine: {machine}")

    if a.reuse_data and (data / "session_index.npy").is_file():
        log(f"reusing {data}")
        demo_s = None
    else:
        log(f"dant demo {data} --units {a.units} --sessions {a.sessions} --seed {a.seed}")
        demo_s = make_demo(data, a.units, a.sessions, a.seed, a.drift, a.no_peth, a.channels)
        log(f"  demo written in {demo_s:.1f} s")
    truth = truth_of(data)
    n_channels = len(np.load(data / "channel_locations.npy"))
    logs = work / f"logs_{tag}"
    logs.mkdir(exist_ok=True)
    runs = []

    # ours, cold start: a fresh, empty numba cache
    ours_cold = None
    if not a.no_cold:
        cold_cache = Path(tempfile.mkdtemp(prefix="numba_cold_", dir=work))
        try:
            wait_for_idle(a.wait_idle)
            log("ours: cold run (empty NUMBA_CACHE_DIR)")
            ours_cold = run_ours(
                data, work / f"out_ours_cold_{tag}", label="cold", numba_cache=cold_cache,
                truth=truth, timeout=a.timeout, log_file=logs / "ours_cold.log",
            )  # fmt: skip
            runs.append(ours_cold)
            log(f"  {ours_cold.wall_s:.1f} s, {fmt(ours_cold.tree_peak_gb, '.2f')} GB")
        finally:
            shutil.rmtree(cold_cache, ignore_errors=True)

    # ours, warm: persistent numba cache
    if not numba_cache_is_warm(cache):
        log(f"ours: {cache} is empty; one priming run fills it first (not reported)")
        run_ours(
            data, work / f"out_ours_{tag}", label="prime", numba_cache=cache, truth=truth,
            timeout=a.timeout, log_file=logs / "ours_prime.log",
        )  # fmt: skip
    # warm runs, the two tools interleaved so that other jobs on the machine weigh on both
    ours_runs, pydant_runs = [], []
    for i in range(a.repeat):
        label = f"warm {i + 1}/{a.repeat}"
        wait_for_idle(a.wait_idle)
        log(f"ours: {label} (NUMBA_CACHE_DIR={cache})")
        r = run_ours(
            data, work / f"out_ours_{tag}", label=label, numba_cache=cache, truth=truth,
            timeout=a.timeout, log_file=logs / f"ours_warm{i + 1}.log",
        )  # fmt: skip
        runs.append(r)
        ours_runs.append(r)
        log(f"  {fmt(r.wall_s)} s, {fmt(r.tree_peak_gb, '.2f')} GB, F1 {r.scores.get('f1')}")
        if a.pydant_python:
            label = f"run {i + 1}/{a.repeat}, n_jobs {a.pydant_n_jobs}"
            wait_for_idle(a.wait_idle)
            log(f"pyDANT: {label}")
            r = run_pydant(
                a.pydant_python, data, work / f"out_pydant_{tag}", label=label, truth=truth,
                n_jobs=a.pydant_n_jobs, timeout=a.timeout, log_file=logs / f"pydant{i + 1}.log",
            )  # fmt: skip
            runs.append(r)
            pydant_runs.append(r)
            log(f"  {fmt(r.wall_s)} s, {fmt(r.tree_peak_gb, '.2f')} GB, F1 {r.scores.get('f1')}")
    ours_warm = pick(ours_runs, a.pick)
    pydant = pick(pydant_runs, a.pick)

    cold_tiny = ""
    if a.cold_tiny:
        cold_tiny = tiny_cold_start(work, cache, a.cold_tiny, a.seed)

    summary = summary_table(ours_warm, ours_cold, pydant)
    details = detail_table(runs)
    cold_cost = ""
    if ours_cold is not None and ours_warm is not None and ours_cold.ok and ours_warm.ok:
        cold_cost = (
            f"Cold-start cost of ours (numba compilation into an empty cache): "
            f"{ours_cold.wall_s - ours_warm.wall_s:.1f} s "
            f"({ours_cold.wall_s:.1f} s cold vs {ours_warm.wall_s:.1f} s warm); CPU time "
            f"{ours_cold.cpu_s - ours_warm.cpu_s:.1f} s ({ours_cold.cpu_s:.1f} vs "
            f"{ours_warm.cpu_s:.1f} s). With other jobs on the machine, compare with a run on a "
            f"tiny folder, where compilation is nearly all of the cold run."
        )
    load = machine["loadavg_at_start"]
    parts = [
        f"## {a.units} units / {a.sessions} sessions / {n_channels} channels "
        f"(seed {a.seed}), "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        summary,
        cold_cost,
        cold_tiny,
        "Every run:",
        details,
        f"Machine: {machine['cpu']}, {machine['cores']} cores, "
        f"{fmt(machine['mem_gb'])} GB RAM; "
        f"Python {machine['python']}, numpy {machine['numpy']}, numba {machine['numba']}; "
        f"load average at start {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}; "
        f"newest engine source file {machine['engine_newest_source']}. "
        f"Peak memory = peak summed RSS of the process tree (sampled every 0.2 s, at least "
        f"the largest process's ru_maxrss); GB = 10^9 bytes.",
    ]
    text = "\n\n".join(part for part in parts if part)
    print(text)
    (work / f"benchmark_{tag}.md").write_text(text + "\n")
    (work / f"benchmark_{tag}.json").write_text(
        json.dumps(
            {"machine": machine, "demo_s": demo_s, "runs": [r.to_dict() for r in runs]}, indent=2
        )
    )
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
