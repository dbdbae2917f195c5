"""Every `IM..` row of docs/errors.md through the CLI: the message the user sees is exactly the
documented one (placeholders filled in), exit code 2, and nothing is written. The CLI
runs in-process (`main`); tests/core/test_errors.py checks the process-level contract.

The sessions are tiny hand-made Kilosort folders (no SpikeInterface needed): 16 channels,
2 s of int16 noise with 4 units' spikes added at known samples.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main

from .fixtures import ROOT

DOCS = ROOT / "docs" / "errors.md"
_ROW = re.compile(r"^\|\s*(IM\d\d)\s*\|(.*)\|\s*$")
RATE = 30000
N_CHANNEL = 16


def documented() -> dict[str, str]:
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line.strip())
        if m:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
            rows[m.group(1)] = cells[1].strip("`")
    return rows


def tiny_kilosort(folder: Path, seed: int = 0, shift_um: float = 0.0) -> Path:
    """A Kilosort/phy folder with params.py, a raw int16 file and 4 units labelled unsorted."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    n = 2 * RATE
    raw = rng.normal(0, 20, (n, N_CHANNEL))
    times, clusters = [], []
    shape = -np.exp(-0.5 * ((np.arange(-20, 40) / 4.0) ** 2))
    for u in range(4):
        t = np.sort(rng.choice(np.arange(100, n - 100), 60, replace=False))
        channel = 2 + 4 * u
        for s in t:
            raw[s - 20 : s + 40, channel] += 500 * shape
        times.append(t)
        clusters.append(np.full(t.size, u))
    order = np.argsort(np.concatenate(times))
    np.save(folder / "spike_times.npy", np.concatenate(times)[order][:, None].astype(np.uint64))
    np.save(folder / "spike_clusters.npy", np.concatenate(clusters)[order][:, None])
    np.save(folder / "channel_map.npy", np.arange(N_CHANNEL, dtype=np.int32))
    positions = np.c_[np.tile([0.0, 32.0], N_CHANNEL // 2), np.arange(N_CHANNEL) * 10.0 + shift_um]
    np.save(folder / "channel_positions.npy", positions)
    raw.astype(np.int16).tofile(folder / "recording.dat")
    (folder / "params.py").write_text(
        "dat_path = 'recording.dat'\nn_channels_dat = 16\ndtype = 'int16'\noffset = 0\n"
        f"sample_rate = {RATE}.\nhp_filtered = False\n"
    )
    (folder / "cluster_group.tsv").write_text(
        "cluster_id\tgroup\n" + "".join(f"{u}\tunsorted\n" for u in range(4))
    )
    return folder


def set_param(folder: Path, key: str, value: str) -> None:
    lines = [
        ln for ln in (folder / "params.py").read_text().splitlines() if not ln.startswith(f"{key} ")
    ]
    (folder / "params.py").write_text("\n".join(lines + [f"{key} = {value}"]) + "\n")


def case(case_id: str, root: Path, monkeypatch) -> tuple[list[str], dict[str, str]]:
    """CLI arguments of one documented case and its placeholder values."""
    out = root / "out"
    s = root / "day1"
    base = ["--labels", "all", "--uv-per-bit", "0.195"]
    values = {"session": str(s), "out": str(out)}
    if case_id == "IM01":
        s.mkdir()
        return ["import", str(out), str(s)], values
    if case_id == "IM02":
        return ["import", str(out), str(s)], values
    if case_id == "IM19":
        return ["import", str(out), str(s), "--sample-rate", "nan"], values
    if case_id == "IM20":
        return ["import", str(out), str(s), "--uv-per-bit", "0"], values
    if case_id == "IM21":
        return ["import", str(out), str(s), "--max-spikes", "0"], values
    if case_id == "IM16":  # an analyzer folder whose templates were never computed
        (s / "recording_info").mkdir(parents=True)
        (s / "spikeinterface_info.json").write_text('{"object": "SortingAnalyzer"}')
        (s / "settings.json").write_text('{"return_in_uV": true}')
        (s / "recording_info" / "recording_attributes.json").write_text(
            '{"sampling_frequency": 30000.0, "num_channels": 4, "num_samples": [30000]}'
        )
        return ["import", str(out), str(s), "--labels", "all"], values
    if case_id == "IM17":  # a zarr analyzer, SpikeInterface not installed
        s = root / "day1.zarr"
        s.mkdir()
        (s / ".zattrs").write_text("{}")
        monkeypatch.setitem(sys.modules, "spikeinterface.core", None)
        return ["import", str(out), str(s)], {**values, "session": str(s)}
    if case_id == "IM18":  # a MATLAB v7.3 file, h5py not installed
        s.mkdir()
        (s / "spikeInfo.mat").write_bytes(b"MATLAB 7.3 MAT-file".ljust(512))
        monkeypatch.setitem(sys.modules, "h5py", None)
        return ["import", str(out), str(s)], values
    tiny_kilosort(s)
    if case_id == "IM03":
        out.mkdir()
        (out / "mine.txt").write_text("keep")
        return ["import", str(out), str(s), *base], values
    if case_id == "IM04":
        return ["import", str(out), str(s)], values
    if case_id == "IM05":
        (s / "params.py").unlink()
        return ["import", str(out), str(s), *base], values
    if case_id == "IM06":
        elsewhere = "/mnt/rig/day1/recording.dat"
        set_param(s, "dat_path", f"'{elsewhere}'")
        (s / "recording.dat").unlink()
        return ["import", str(out), str(s), *base], {**values, "raw": elsewhere}
    raw = str(s / "recording.dat")
    values["raw"] = raw
    if case_id == "IM07":
        return ["import", str(out), str(s), "--labels", "all"], values
    if case_id == "IM08":
        set_param(s, "n_channels_dat", "32")
        return ["import", str(out), str(s), *base], values
    if case_id == "IM09":
        set_param(s, "n_channels_dat", "17")
        return ["import", str(out), str(s), *base], values
    if case_id == "IM10":
        return ["import", str(out), str(s), "--labels", "all", "--uv-per-bit", "1e-6"], values
    if case_id == "IM11":
        s2 = tiny_kilosort(root / "day2", seed=1, shift_um=5000.0)
        return ["import", str(out), str(s), str(s2), *base], {**values, "session2": str(s2)}
    if case_id == "IM12":
        missing = str(root / "nowhere.bin")
        return ["import", str(out), str(s), *base, "--raw", f"1={missing}"], {
            **values,
            "raw": missing,
        }
    if case_id == "IM13":
        return ["import", str(out), str(s), *base, "--raw", f"3={raw}"], values
    if case_id == "IM14":
        set_param(s, "dat_path", "r'C:\\\\ks\\\\temp_wh.dat'")
        return ["import", str(out), str(s), *base], values
    if case_id == "IM15":
        (s / "recording.dat").rename(s / "rec.imec0.ap.bin")
        set_param(s, "dat_path", "'rec.imec0.ap.bin'")
        set_param(s, "sample_rate", "25000.")
        imro = "(0,384)" + "".join(f"({c} 0 0 500 250 1)" for c in range(16))
        (s / "rec.imec0.ap.meta").write_text(f"imSampRate=30000\n~imroTbl={imro}\n")
        return ["import", str(out), str(s), "--labels", "all"], values
    raise AssertionError(f"no case for {case_id}")


CASES = [f"IM{i:02d}" for i in range(1, 22)]


def test_every_documented_row_has_a_case():
    assert sorted(documented()) == CASES


def _pattern(message: str, values: dict[str, str]) -> re.Pattern:
    text = re.escape(message)
    for key, value in sorted(values.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(re.escape("{" + key + "}"), re.escape(value))
    text = text.replace(re.escape("<n>"), r"[0-9.e+-]+")
    return re.compile(text)


@pytest.mark.parametrize("case_id", CASES)
def test_documented_message(case_id, tmp_path, capsys, monkeypatch):
    args, values = case(case_id, tmp_path, monkeypatch)
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(args)  # in-process: the CLI's own handling, without an interpreter per case
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert code == 2, err
    assert _pattern(documented()[case_id], values).fullmatch(last), (
        f"\n  documented: {documented()[case_id]}\n  got:        {last}"
    )
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
