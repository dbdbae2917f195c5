"""`dant import`'s waveform extraction against UnitMatch's own extractor (unitmatchpy, run
from its own venv): same session, same raw file, same number of spikes per unit.

Makes a Neuropixels-sized synthetic session (385-channel int16 file, units with known
templates), then times (1) `import_sessions` end to end (reading the folder, extraction,
channel union, writing the data folder), warm (numba compiled once before), and (2)
UnitMatch's `extract_a_unit` over all units through joblib on all cores, as its demo does
(extraction and saving RawWaveforms only). Agreement: correlation and amplitude ratio of each
unit's waveform on its 10 largest channels, ours (µV / gain) against UnitMatch's mean of the
two halves (counts), on a common window.

usage: python benchmarks/import_speed.py [--units 150] [--seconds 120] [--spikes 1000]
       [--unitmatch-python UNITMATCH_VENV/bin/python] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dant_core.importers import ImportOptions, import_sessions  # noqa: E402

RATE = 30000
N_FILE = 385  # 384 channels and SpikeGLX's sync channel
N_CHANNEL = 384
UV = 2.34375  # Neuropixels 1.0 at gain 500


def positions() -> np.ndarray:
    """Neuropixels 1.0 checkerboard: 4 columns, 20 µm rows."""
    x = np.array([43.0, 11.0, 59.0, 27.0])[np.arange(N_CHANNEL) % 4]
    y = (np.arange(N_CHANNEL) // 2) * 20.0
    return np.c_[x, y]


def make_session(folder: Path, n_units: int, seconds: float, seed: int = 0) -> Path:
    """A Kilosort-layout folder with params.py, a 385-channel int16 raw file (noise SD 8
    counts plus each unit's template at its spikes) and all units labelled good."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    n = int(seconds * RATE)
    pos = positions()
    t = np.arange(-20, 40)
    shape = -np.exp(-0.5 * (t / 3.0) ** 2) + 0.35 * np.exp(-0.5 * ((t - 12) / 6.0) ** 2)
    spikes, clusters, templates = [], [], []
    for u in range(n_units):
        centre = np.array([rng.uniform(0, 70), rng.uniform(0, pos[:, 1].max())])
        dist = np.hypot(*(pos - centre).T)
        spatial = np.exp(-dist / 30.0)
        spatial[spatial < 0.02] = 0
        templates.append(rng.uniform(15, 60) * spatial[:, None] * shape[None, :])  # counts
        rate = rng.uniform(4, 12)
        train = np.sort(rng.choice(np.arange(100, n - 100), int(rate * seconds), replace=False))
        spikes.append(train)
        clusters.append(np.full(train.size, u))
    times = np.concatenate(spikes)
    ids = np.concatenate(clusters)
    order = np.argsort(times, kind="stable")
    times, ids = times[order], ids[order]
    chunk = 30 * RATE
    with open(folder / "recording.bin", "wb") as f:
        for c0 in range(0, n, chunk):
            c1 = min(n, c0 + chunk)
            block = rng.normal(0, 8, (c1 - c0 + 200, N_FILE)).astype(np.float32)
            lo, hi = np.searchsorted(times, [c0 - 40, c1 + 20])
            for s, u in zip(times[lo:hi], ids[lo:hi], strict=True):
                a = s - 20 - c0 + 100
                if a >= 0 and a + 60 <= block.shape[0]:
                    block[a : a + 60, :N_CHANNEL] += templates[u].T
            f.write(np.round(block[100 : 100 + c1 - c0]).astype(np.int16).tobytes())
    np.save(folder / "spike_times.npy", times[:, None].astype(np.uint64))
    np.save(folder / "spike_clusters.npy", ids[:, None].astype(np.int32))
    np.save(folder / "channel_map.npy", np.arange(N_CHANNEL, dtype=np.int32))
    np.save(folder / "channel_positions.npy", pos)
    (folder / "cluster_KSLabel.tsv").write_text(
        "cluster_id\tKSLabel\n" + "".join(f"{u}\tgood\n" for u in range(n_units))
    )
    (folder / "params.py").write_text(
        f"dat_path = 'recording.bin'\nn_channels_dat = {N_FILE}\ndtype = 'int16'\noffset = 0\n"
        f"sample_rate = {RATE}.\nhp_filtered = True\n"
    )
    return folder


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def agreement(ours: np.ndarray, folder: Path, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: correlation and amplitude ratio (ours / UnitMatch's) on the 10 channels of
    largest amplitude, over the samples both windows hold."""
    rs, ratios = [], []
    for k, u in enumerate(units):
        theirs = np.load(folder / "RawWaveforms" / f"Unit{u}_RawSpikes.npy").mean(axis=2).T
        mine = ours[k] / UV  # counts, spike at sample 40; UnitMatch's spike at sample 42
        a, b = mine[:, 0:80], theirs[:N_CHANNEL, 2:82]
        top = np.argsort(np.ptp(a, axis=1))[-10:]
        rs.append(np.corrcoef(a[top].ravel(), b[top].ravel())[0, 1])
        ratios.append(np.ptp(a[top], axis=1).max() / np.ptp(b[top], axis=1).max())
    return np.array(rs), np.array(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--spikes", type=int, default=1000, help="spikes per unit, both tools")
    parser.add_argument(
        "--unitmatch-python",
        default=os.environ.get("UNITMATCH_PYTHON", "python"),
        help="interpreter of a venv with unitmatchpy (default: $UNITMATCH_PYTHON)",
    )
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "dant_import_bench"))
    parser.add_argument("--keep", action="store_true", help="reuse the session if present")
    args = parser.parse_args()
    work = Path(args.work)
    session = work / "session"
    if not (args.keep and (session / "params.py").is_file()):
        shutil.rmtree(work, ignore_errors=True)
        t0 = time.perf_counter()
        make_session(session, args.units, args.seconds)
        print(f"session made in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    size_gb = (session / "recording.bin").stat().st_size / 1e9
    options = ImportOptions(labels=("good",), uv_per_bit=UV, max_spikes=args.spikes)

    # numba compiles on the first call: warm up on a tiny session, report the warm run
    tiny = work / "tiny"
    shutil.rmtree(tiny, ignore_errors=True)
    make_session(tiny / "s", 2, 1.0, seed=1)
    import_sessions(tiny / "out", [tiny / "s"], options)

    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    load_before = load()
    t0 = time.perf_counter()
    record = import_sessions(out, [session], options)
    ours = time.perf_counter() - t0
    load_ours = load()

    shutil.rmtree(session / "RawWaveforms", ignore_errors=True)
    proc = subprocess.run(
        [
            args.unitmatch_python,
            str(ROOT / "benchmarks" / "_unitmatch_extract.py"),
            str(session),
            str(session / "recording.bin"),
            str(N_FILE),
            str(N_CHANNEL),
            str(args.spikes),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
    load_theirs = load()

    waveforms = np.load(out / "waveform_all.npy")
    # rows of the data folder are sorted by depth; put them back in file-channel order
    locations = np.load(out / "channel_locations.npy")
    row = {(x, y): i for i, (x, y) in enumerate(locations.tolist())}
    waveforms = waveforms[:, [row[(x, y)] for x, y in positions().tolist()]]
    units = np.array(
        [int(line.split("\t")[4]) for line in (out / "units.tsv").read_text().splitlines()[1:]]
    )
    r, ratio = agreement(waveforms, session, units)
    used = record["sessions"][0]["spikes_used_per_unit"]
    print(
        f"| session | {args.units} units, {args.seconds:g} s, {N_FILE} channels, "
        f"{size_gb:.2f} GB int16 |"
    )
    print(
        f"| spikes per unit | at most {args.spikes} (both; ours used at least {used['min_used']}) |"
    )
    print(
        f"| dant import (end to end, warm) | {ours:.1f} s (load before/after: {load_before}"
        f" / {load_ours}) |"
    )
    print(
        f"| UnitMatch extract_a_unit + joblib (extraction only) | {theirs:.1f} s (load after:"
        f" {load_theirs}) |"
    )
    print(f"| ratio | {theirs / ours:.1f}x |")
    print(
        f"| agreement (10 largest channels) | r median {np.median(r):.4f}, min {r.min():.4f};"
        f" amplitude ratio median {np.median(ratio):.3f} [{ratio.min():.3f}, "
        f"{ratio.max():.3f}] |"
    )
    print(f"| cores | {os.cpu_count()} |")


if __name__ == "__main__":
    main()
