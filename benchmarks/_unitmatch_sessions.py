"""Write a demo data set as UnitMatch input: one Kilosort-layout folder per session with
channel_positions.npy, cluster_group.tsv (every unit good) and RawWaveforms/Unit<id>_RawSpikes.npy
(spike_width x n_channel x 2 halves: the demo's mean waveform plus independent noise per
half), the sorter ids shuffled per session. Also writes truth.tsv (session, cluster_id,
neuron). Run with this project's interpreter.

usage: python _unitmatch_sessions.py OUT [--units N] [--sessions S] [--seed K]
"""

import argparse
from pathlib import Path

import numpy as np

from dant_core.synthetic import load_truth, make_demo


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--units", type=int, default=90)
    p.add_argument("--sessions", type=int, default=3)
    p.add_argument("--seed", type=int, default=5)
    a = p.parse_args()
    out = Path(a.out)
    make_demo(out / "data", n_units=a.units, n_sessions=a.sessions, seed=a.seed)
    waves = np.load(out / "data" / "waveform_all.npy")  # (n, C, S) µV
    sessions = np.load(out / "data" / "session_index.npy").ravel()
    channels = np.load(out / "data" / "channel_locations.npy")
    neuron = load_truth(out / "data").neuron_id
    rng = np.random.default_rng(a.seed)
    noise = 0.05 * np.abs(waves).max()
    rows = ["session\tcluster_id\tneuron"]
    for s in range(1, a.sessions + 1):
        units = np.flatnonzero(sessions == s)
        ids = rng.permutation(units.size) + 3  # the sorter's ids: not the unit order
        ks = out / f"session{s}"
        (ks / "RawWaveforms").mkdir(parents=True)
        np.save(ks / "channel_positions.npy", channels.astype(float))
        lines = ["cluster_id\tgroup"] + [f"{i}\tgood" for i in sorted(ids)]
        (ks / "cluster_group.tsv").write_text("\n".join(lines) + "\n")
        for u, cid in zip(units, ids, strict=True):
            w = waves[u].T  # (S, C)
            halves = np.stack([w + noise * rng.standard_normal(w.shape) for _ in range(2)], -1)
            np.save(ks / "RawWaveforms" / f"Unit{cid}_RawSpikes.npy", halves)
            rows.append(f"{s}\t{cid}\t{neuron[u]}")
    (out / "truth.tsv").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
