"""`dant import` then `dant track` on a multi-session SpikeInterface ground-truth recording
with drift between sessions; pair F1 of the tracking against the truth.

The same neurons (SpikeInterface's generate_unit_locations / generate_templates with one
seed, so the same shapes) are recorded in every session, moved along the probe by that
session's drift, with new spike trains and noise (generate_ground_truth_recording); a
fraction of the neurons is silent in each session (turnover). Each session is written by
SpikeInterface's export_to_phy (int16 file, 0.195 µV per bit), imported with
`dant import --labels all --uv-per-bit 0.195`, tracked with `dant track`, and the
IdxCluster.npy is scored by pair precision / recall / F1 against the true neuron of each
unit (units.tsv maps each row to its session and SpikeInterface unit id).

usage: python benchmarks/import_track_f1.py [--units 40] [--sessions 4] [--seconds 60]
       [--drift 0,15,-10,30] [--turnover 0.15] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchlib import pair_scores  # noqa: E402

RATE = 30000.0
UV_PER_BIT = 0.195


def make_sessions(
    work: Path, n_units: int, drifts: list[float], seconds: float, turnover: float, seed: int = 0
) -> dict[tuple[int, str], int]:
    """Write work/day{s}/phy for every session; return {(session, si unit id): neuron}."""
    import probeinterface
    import spikeinterface.core as si
    import spikeinterface.exporters as exporters
    import spikeinterface.postprocessing.template_similarity as ts
    import spikeinterface.preprocessing as pp
    from spikeinterface.core.generate import generate_templates, generate_unit_locations

    ts._compute_similarity_matrix = ts._compute_similarity_matrix_numpy  # no numba compile
    probe = probeinterface.generate_multi_columns_probe(
        num_columns=2,
        num_contact_per_column=32,
        xpitch=20,
        ypitch=20,
        contact_shapes="circle",
        contact_shape_params={"radius": 6},
    )
    probe.set_device_channel_indices(np.arange(64))
    locations = probe.contact_positions
    units = generate_unit_locations(
        n_units,
        locations,
        margin_um=10.0,
        minimum_z=5.0,
        maximum_z=40.0,
        minimum_distance=18.0,
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    truth: dict[tuple[int, str], int] = {}
    for s, drift in enumerate(drifts, start=1):
        present = np.flatnonzero(rng.random(n_units) >= turnover)
        # one seed for every session: the same neurons' shapes, only moved
        all_templates = generate_templates(
            locations, units + np.array([0.0, drift, 0.0]), RATE, 1.5, 3.0, seed=seed
        )
        templates = all_templates[present]
        sorting = si.generate_sorting(
            num_units=present.size,
            sampling_frequency=RATE,
            durations=[seconds],
            firing_rates=rng.uniform(3, 15, present.size),
            refractory_period_ms=4.0,
            seed=seed + s,
        )
        rec, sorting = si.generate_ground_truth_recording(
            durations=[seconds],
            sampling_frequency=RATE,
            sorting=sorting,
            probe=probe,
            templates=templates,
            ms_before=1.5,
            ms_after=3.0,
            seed=seed + 100 + s,
        )
        rec16 = pp.scale(rec, gain=1 / UV_PER_BIT, dtype="int16")
        rec16.set_channel_gains(UV_PER_BIT)
        rec16.set_channel_offsets(0.0)
        analyzer = si.create_sorting_analyzer(sorting, rec16, format="memory", sparse=False)
        analyzer.compute("random_spikes", method="uniform", max_spikes_per_unit=200)
        analyzer.compute("templates")
        exporters.export_to_phy(
            analyzer,
            work / f"day{s}" / "phy",
            copy_binary=True,
            compute_pc_features=False,
            compute_amplitudes=False,
            verbose=False,
        )
        for k, uid in enumerate(sorting.unit_ids):
            truth[(s, str(uid))] = int(present[k])
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drift", default="0,15,-10,30", help="µm per session, comma-separated")
    parser.add_argument("--turnover", type=float, default=0.15)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "dant_import_f1"))
    parser.add_argument("--reuse", action="store_true", help="reuse the sessions and import")
    args = parser.parse_args()
    drifts = [float(x) for x in args.drift.split(",")][: args.sessions]
    work = Path(args.work)
    data = work / "data"
    truth_file = work / "truth.json"
    cli = [sys.executable, "-m", "dant_core.cli"]
    env = {"PYTHONPATH": str(ROOT)}
    timing = {}
    if not (args.reuse and truth_file.is_file() and data.is_dir()):
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        t0 = time.perf_counter()
        truth = make_sessions(work, args.units, drifts, args.seconds, args.turnover)
        timing["seconds_make"] = round(time.perf_counter() - t0, 1)
        truth_file.write_text(json.dumps([[s, u, n] for (s, u), n in truth.items()]))
        sessions = [str(work / f"day{s}" / "phy") for s in range(1, len(drifts) + 1)]
        t0 = time.perf_counter()
        subprocess.run(
            [
                *cli,
                "import",
                str(data),
                *sessions,
                "--labels",
                "all",
                "--uv-per-bit",
                str(UV_PER_BIT),
            ],
            check=True,
            env=env,
            cwd=ROOT,
        )
        timing["seconds_import"] = round(time.perf_counter() - t0, 1)
    truth = {(s, u): n for s, u, n in json.loads(truth_file.read_text())}
    rows = [line.split("\t") for line in (data / "units.tsv").read_text().splitlines()]
    s_col, id_col = rows[0].index("session"), rows[0].index("cluster_id")
    neuron = np.array([truth[(int(r[s_col]), r[id_col])] for r in rows[1:]])
    record = json.loads((data / "import.json").read_text())
    report = {
        "units": len(neuron),
        "sessions": len(drifts),
        "drift_um": drifts,
        "turnover": args.turnover,
        "seconds_per_session": args.seconds,
        "channels_filled": record["channels"]["filled_by_kriging_per_session"],
        **timing,
    }
    # 1) the settings.json the import wrote; 2) waveforms only: SpikeInterface's spike
    # trains are Poisson with a refractory period, so AutoCorr/ISI carry no identity here
    waveform_only = work / "waveform_only.json"
    write_waveform_settings(data / "settings.json", waveform_only)
    for name, extra in (
        ("imported_settings", []),
        ("waveform_only", ["--settings", str(waveform_only)]),
    ):
        out = work / f"out_{name}"
        t0 = time.perf_counter()
        subprocess.run(
            [*cli, "track", str(data), "--output", str(out), "--force", *extra],
            check=True,
            env=env,
            cwd=ROOT,
        )
        scores = pair_scores(np.load(out / "IdxCluster.npy").ravel(), neuron)
        report[name] = {
            "seconds_track": round(time.perf_counter() - t0, 1),
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()},
        }
    print(json.dumps(report, indent=2))


def write_waveform_settings(source: Path, target: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from dant_core.settings import Settings

    settings = Settings.load(source)
    settings.set("motionEstimation.features", [["Waveform"]])
    settings.set("clustering.features", ["Waveform"])
    settings.save(target)


if __name__ == "__main__":
    main()
