"""Large drift: pair F1 and motion error against drift size, motion initialiser on/off.

For each drift size (µm per session, random walk, plus one jump of twice that size) it
makes `dant demo` data without PETH, tracks it with waveform and ACG features only
(initialiser on and off) and, given a Python with pyDANT, runs pyDANT on the same folder
with the same features. Prints a Markdown table.

    python benchmarks/drift_sweep.py --pydant-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FEATURES = ["Waveform", "AutoCorr"]


def _same_cluster_pairs(labels: np.ndarray) -> set:
    out = set()
    for k in np.unique(labels[labels >= 0]):
        u = np.flatnonzero(labels == k)
        i, j = np.triu_indices(u.size, 1)
        out.update(zip(u[i].tolist(), u[j].tolist(), strict=True))
    return out


def pair_f1(idx_cluster: np.ndarray, neuron_id: np.ndarray) -> float:
    """F1 of the unit pairs placed in one cluster (-1 = unmatched) against the true neurons."""
    a = _same_cluster_pairs(np.where(idx_cluster > 0, idx_cluster, -1))
    b = _same_cluster_pairs(neuron_id)
    return 2 * len(a & b) / (len(a) + len(b)) if (a or b) else 1.0


def run_ours(data: Path, out: Path, initial: str) -> None:
    settings = out.parent / f"settings_{initial}.json"
    settings.write_text(
        json.dumps(
            {
                "motionEstimation": {"features": [FEATURES], "initial_motion": initial},
                "clustering": {"features": FEATURES},
            }
        )
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dant_core.cli",
            "track",
            str(data),
            "--settings",
            str(settings),
            "--output",
            str(out),
            "--force",
        ],
        check=True,
        capture_output=True,
    )


def run_pydant(python: str, data: Path, out: Path) -> None:
    subprocess.run(
        [
            python,
            str(HERE / "_pydant_run.py"),
            str(data),
            str(out),
            "--motion-features",
            json.dumps([FEATURES]),
            "--features",
            json.dumps(FEATURES),
        ],
        check=True,
        capture_output=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drifts", default="5,15,30,50")
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--pydant-python", default="")
    parser.add_argument("--workdir", default="")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="dant_drift_"))
    rows = []
    for drift in [float(d) for d in args.drifts.split(",")]:
        data = work / f"drift{drift:g}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dant_core.cli",
                "demo",
                str(data),
                "--units",
                str(args.units),
                "--sessions",
                str(args.sessions),
                "--drift",
                str(drift),
                "--jump",
                str(2 * drift),
                "--no-peth",
                "--seed",
                str(args.seed),
            ],
            check=True,
            capture_output=True,
        )
        truth_dir = data.parent / (data.name + "_truth")
        truth = np.load(truth_dir / "gt_neuron_id.npy")
        true_motion = np.load(truth_dir / "gt_motion.npy")[1]
        row = {"drift": drift, "span": float(np.ptp(true_motion))}
        for initial in ("registration", "none"):
            out = work / f"out_{drift:g}_{initial}"
            run_ours(data, out, initial)
            motion = np.load(out / "motion_constant.npy")
            row[initial] = (
                pair_f1(np.load(out / "IdxCluster.npy"), truth),
                float(np.sqrt(np.mean((motion - true_motion) ** 2))),
            )
        if args.pydant_python:
            out = work / f"out_{drift:g}_pydant"
            run_pydant(args.pydant_python, data, out)
            motion = np.load(out / "motion_constant.npy")
            row["pydant"] = (
                pair_f1(np.load(out / "IdxCluster.npy"), truth),
                float(np.sqrt(np.mean((motion - true_motion) ** 2))),
            )
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)

    print(
        f"\n{args.units} units, {args.sessions} sessions, no PETH, features {FEATURES}, "
        f"seed {args.seed}; one extra jump of 2x the step.\n"
    )
    print(
        "| drift step µm | true motion span µm | F1 initialiser on | F1 off | pyDANT F1 "
        "| motion RMS error on µm | off µm | pyDANT µm |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        p = r.get("pydant", (float("nan"), float("nan")))
        print(
            f"| {r['drift']:g} | {r['span']:.0f} | {r['registration'][0]:.3f} | "
            f"{r['none'][0]:.3f} | {p[0]:.3f} | {r['registration'][1]:.2f} | "
            f"{r['none'][1]:.2f} | {p[1]:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
