"""Shared helpers of the benchmark scripts: data generation, measured runs, pair F1, tables."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MEASURE = HERE / "_measure.py"
PYDANT_RUNNER = HERE / "_pydant_run.py"
GB = 1e9  # memory is reported in GB = 10^9 bytes


# --- pair F1 ---------------------------------------------------------------------------------


def _n_pairs(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def pair_scores(idx_cluster: np.ndarray, truth: np.ndarray) -> dict:
    """Pair precision / recall / F1 of a clustering against the true neuron of each unit.

    A pair is two different units; it is predicted when both are in the same cluster
    (cluster id -1 = unmatched, in no pair) and true when both have the same true neuron.
    Counted from the contingency table, so it needs no n x n matrix.
    """
    idx = np.asarray(idx_cluster).ravel()
    truth = np.asarray(truth).ravel()
    if idx.shape != truth.shape:
        raise ValueError(f"IdxCluster has {idx.size} units but the truth has {truth.size}")
    clustered = idx >= 0
    _, pred_counts = np.unique(idx[clustered], return_counts=True)
    _, true_counts = np.unique(truth, return_counts=True)
    _, joint_counts = np.unique(
        np.stack([idx[clustered], truth[clustered]]), axis=1, return_counts=True
    )
    tp = _n_pairs(joint_counts)
    n_pred = _n_pairs(pred_counts)
    n_true = _n_pairs(true_counts)
    precision = tp / n_pred if n_pred else 1.0
    recall = tp / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": n_true,
        "predicted_pairs": n_pred,
        "n_clusters": int(pred_counts.size),
    }


def truth_of(data: Path) -> np.ndarray:
    return np.load(data.parent / (data.name + "_truth") / "gt_neuron_id.npy")


# --- running things --------------------------------------------------------------------------


@dataclass
class Run:
    tool: str  # "ours" | "pyDANT"
    label: str  # e.g. "warm 2/2", "cold"
    units: int
    sessions: int
    returncode: int | None = None
    wall_s: float | None = None
    internal_s: float | None = None  # RunTimeSec.npy written by the tool
    maxrss_gb: float | None = None  # largest single process (ru_maxrss, = /usr/bin/time -v)
    tree_peak_gb: float | None = None  # summed RSS of the process tree, sampled
    cpu_s: float | None = None
    other_cpu_share: float | None = None  # other jobs' CPU use during the run / (cores x wall)
    timed_out: bool = False
    scores: dict = field(default_factory=dict)
    output: str = ""
    loadavg_before: tuple | None = None  # 1/5/15-min load averages around the run: with 2
    loadavg_after: tuple | None = None  # cores, > ~2 means other jobs competed for the CPU

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def to_dict(self) -> dict:
        return asdict(self)


def log(msg: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def run_measured(
    cmd: list[str],
    *,
    env: dict | None = None,
    timeout: float | None = None,
    log_file: Path | None = None,
) -> tuple[dict, bool]:
    """Run `cmd` under _measure.py. Returns (measurement dict, timed_out).

    The child runs in its own session so that a timeout can end exactly its process group.
    """
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out_json = f.name
    full = [sys.executable, str(MEASURE), out_json, "--", *cmd]
    stdout = open(log_file, "w") if log_file else None  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            full,
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout else None,
            start_new_session=True,
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        if stdout:
            stdout.close()
    try:
        with open(out_json) as f:
            meas = json.load(f)
    except (OSError, json.JSONDecodeError):
        meas = {"returncode": proc.returncode}
    os.unlink(out_json)
    return meas, timed_out


def fill_run(run: Run, meas: dict, timed_out: bool, output: Path, truth: np.ndarray) -> Run:
    run.returncode = meas.get("returncode")
    run.timed_out = timed_out
    run.wall_s = meas.get("wall_s")
    if "maxrss_kb" in meas:
        run.maxrss_gb = meas["maxrss_kb"] * 1024 / GB
        run.tree_peak_gb = meas["tree_peak_kb"] * 1024 / GB
        run.cpu_s = meas.get("cpu_s", meas["user_s"] + meas["sys_s"])
        run.other_cpu_share = meas.get("other_cpu_share")
    run.output = str(output)
    rt = output / "RunTimeSec.npy"
    if rt.is_file():
        run.internal_s = float(np.load(rt))
    idx = output / "IdxCluster.npy"
    if run.ok and idx.is_file():
        run.scores = pair_scores(np.load(idx), truth)
    return run


def wait_for_idle(max_load: float | None, max_wait_s: float = 600.0) -> None:
    """Wait (at most max_wait_s) until the 1-minute load average is below max_load."""
    if max_load is None:
        return
    t0 = time.monotonic()
    while os.getloadavg()[0] >= max_load and time.monotonic() - t0 < max_wait_s:
        log(f"load average {os.getloadavg()[0]:.2f} >= {max_load}: waiting for the machine")
        time.sleep(15)


def make_demo(
    data: Path,
    units: int,
    sessions: int,
    seed: int,
    drift: float | None,
    no_peth: bool,
    channels: int | None = None,
) -> float:
    """Write a demo data folder with `dant demo` (fresh); returns its wall time.

    `dant demo` has no channel-count option (its probe has 96 channels): with `channels`, the
    same generator is called through its Python API, dant_core.synthetic.make_demo."""
    for p in (data, data.parent / (data.name + "_truth")):
        if p.exists():
            shutil.rmtree(p)
    data.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "dant_core.cli", "demo", str(data),
        "--units", str(units), "--sessions", str(sessions), "--seed", str(seed),
    ]  # fmt: skip
    if drift is not None:
        cmd += ["--drift", str(drift)]
    if no_peth:
        cmd.append("--no-peth")
    if channels is not None:
        kwargs = dict(n_units=units, n_sessions=sessions, seed=seed, with_peth=not no_peth,
                      n_channels=channels)  # fmt: skip
        if drift is not None:
            kwargs["drift_um"] = drift
        code = (
            "import sys; from pathlib import Path; from dant_core.synthetic import make_demo; "
            f"make_demo(Path(sys.argv[1]), **{kwargs!r})"
        )
        cmd = [sys.executable, "-c", code, str(data)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def remove_demo(data: Path) -> None:
    for p in (data, data.parent / (data.name + "_truth")):
        shutil.rmtree(p, ignore_errors=True)


def n_units_sessions(data: Path) -> tuple[int, int]:
    s = np.load(data / "session_index.npy")
    return int(s.size), int(s.max())


def numba_cache_is_warm(cache_dir: Path) -> bool:
    return cache_dir.is_dir() and any(cache_dir.rglob("*.nbi"))


def run_ours(
    data: Path,
    output: Path,
    *,
    label: str,
    numba_cache: Path,
    truth: np.ndarray,
    timeout: float | None = None,
    log_file: Path | None = None,
) -> Run:
    if output.exists():
        shutil.rmtree(output)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache))
    cmd = [sys.executable, "-m", "dant_core.cli", "track", str(data), "--output", str(output)]
    units, sessions = n_units_sessions(data)
    run = Run("ours", label, units, sessions, loadavg_before=os.getloadavg())
    meas, timed_out = run_measured(cmd, env=env, timeout=timeout, log_file=log_file)
    run.loadavg_after = os.getloadavg()
    return fill_run(run, meas, timed_out, output, truth)


def run_pydant(
    pydant_python: str,
    data: Path,
    output: Path,
    *,
    label: str,
    truth: np.ndarray,
    n_jobs: int = -1,
    timeout: float | None = None,
    log_file: Path | None = None,
) -> Run:
    if output.exists():
        shutil.rmtree(output)
    cmd = [pydant_python, str(PYDANT_RUNNER), str(data), str(output), "--n-jobs", str(n_jobs)]
    units, sessions = n_units_sessions(data)
    run = Run("pyDANT", label, units, sessions, loadavg_before=os.getloadavg())
    meas, timed_out = run_measured(cmd, timeout=timeout, log_file=log_file)
    run.loadavg_after = os.getloadavg()
    return fill_run(run, meas, timed_out, output, truth)


# --- reporting -------------------------------------------------------------------------------


def fmt(x, spec: str = ".1f", none: str = "–") -> str:
    return none if x is None else format(x, spec)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _load(la) -> str:
    return "–" if la is None else f"{la[0]:.1f}"


def detail_table(runs: list[Run]) -> str:
    header = [
        "tool", "run", "units", "sessions", "wall s", "internal s", "CPU s",
        "peak RSS tree GB", "peak RSS largest proc GB", "clusters", "pair P", "pair R", "pair F1",
        "other jobs' CPU",
    ]  # fmt: skip
    rows = []
    for r in runs:
        status = "" if r.ok else (" (TIMEOUT)" if r.timed_out else f" (exit {r.returncode})")
        rows.append([
            r.tool, r.label + status, str(r.units), str(r.sessions), fmt(r.wall_s),
            fmt(r.internal_s), fmt(r.cpu_s), fmt(r.tree_peak_gb, ".2f"), fmt(r.maxrss_gb, ".2f"),
            str(r.scores.get("n_clusters", "–")), fmt(r.scores.get("precision"), ".3f"),
            fmt(r.scores.get("recall"), ".3f"), fmt(r.scores.get("f1"), ".3f"),
            fmt(None if r.other_cpu_share is None else 100 * r.other_cpu_share, ".0f") + " %",
        ])  # fmt: skip
    return markdown_table(header, rows)


def machine_info() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) * 1024 / GB
    except OSError:
        pass
    import numba

    import dant_core

    src = Path(dant_core.__file__).resolve().parent
    newest = max(src.glob("*.py"), key=lambda f: f.stat().st_mtime)
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(newest.stat().st_mtime))
    return {
        # no version control is read here: the newest engine source file says which state of
        # the engine was measured (the engine is edited while benchmarks run)
        "engine_newest_source": f"{newest.name} {stamp}",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gb": mem_gb,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }
