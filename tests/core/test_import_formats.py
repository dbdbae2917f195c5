"""`dant import` of the other formats: UnitMatch's RawWaveforms, Kilosort 4 templates without
the raw file, SpikeInterface SortingAnalyzer folders and MATLAB DANT's spikeInfo.mat."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dant_core.dataset import load_dataset
from dant_core.importers import ImportDataError, ImportOptions, import_sessions

from .si_sessions import RATE, UV_PER_BIT, aligned, make_session, to_union

ALL = ImportOptions(labels=("all",), uv_per_bit=UV_PER_BIT)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return make_session(tmp_path_factory.mktemp("si_formats"), seed=3)


@pytest.fixture
def phy_without_raw(session, tmp_path):
    """The phy folder copied without its raw file (params.py names a path that is gone),
    and the raw samples (n_samples, n_channels) int16 for building the other inputs."""
    folder = Path(
        shutil.copytree(
            session[0], tmp_path / "sorted", ignore=shutil.ignore_patterns("recording.dat")
        )
    )
    params = (folder / "params.py").read_text()
    (folder / "params.py").write_text(params.replace(str(session[0]), "/mnt/rig/gone"))
    n_channels = np.load(folder / "channel_map.npy").size
    raw = np.fromfile(session[0] / "recording.dat", dtype=np.int16).reshape(-1, n_channels)
    return folder, raw


def assert_matches_truth(out: Path, truth, min_r=0.99, amp_tol=0.03) -> None:
    data = load_dataset(out)
    ours, known = aligned(to_union(data.waveforms, data.channel_locations, truth.positions), truth)
    for k in range(known.shape[0]):
        r = np.corrcoef(ours[k].ravel(), known[k].ravel())[0, 1]
        amp = np.ptp(ours[k], axis=1).max() / np.ptp(known[k], axis=1).max()
        assert r > min_r and abs(amp - 1) < amp_tol, (k, r, amp)
        np.testing.assert_allclose(data.spike_times[k], truth.spike_samples[k] / RATE * 1000)


def test_unitmatch_raw_waveforms(session, phy_without_raw, tmp_path):
    _, _, truth = session
    folder, raw = phy_without_raw
    um = folder / "RawWaveforms"
    um.mkdir()
    times = np.load(folder / "spike_times.npy").ravel()
    clusters = np.load(folder / "spike_clusters.npy").ravel()
    for cid in np.unique(clusters):
        # UnitMatch's layout: (82, channels, 2 halves) in ADC counts, window t-42 .. t+40
        t = times[clusters == cid]
        t = t[(t >= 42) & (t + 40 <= raw.shape[0])]
        windows = np.stack([raw[s - 42 : s + 40] for s in t]).astype(np.float64)
        half = t.size // 2
        halves = np.stack([windows[:half].mean(0), windows[half:].mean(0)], axis=2)
        np.save(um / f"Unit{cid}_RawSpikes.npy", halves)
    record = import_sessions(tmp_path / "data", [folder], ALL)
    assert record["sessions"][0]["waveforms_from"].startswith("UnitMatch RawWaveforms")
    assert_matches_truth(tmp_path / "data", truth, amp_tol=0.05)
    (um / "Unit2_RawSpikes.npy").unlink()
    with pytest.raises(ImportDataError, match=r"RawWaveforms: no Unit<id>_RawSpikes.npy for 1"):
        import_sessions(tmp_path / "data2", [folder], ALL)


def test_kilosort4_templates_unwhitened_with_whitening_mat_dat(session, phy_without_raw, tmp_path):
    _, _, truth = session
    folder, _ = phy_without_raw
    rng = np.random.default_rng(0)
    n_channel = truth.templates.shape[1]
    w_dat = np.eye(n_channel) * 3.0 + 0.2 * rng.standard_normal((n_channel, n_channel))
    counts = truth.templates / UV_PER_BIT  # (unit, channel, time) in raw counts
    # Kilosort 4's layout: templates (n_template, time, channel) in whitened space
    # Kilosort 4's layout: templates (n_template, time, channel) in the whitened space
    whitened = np.stack([(w_dat @ c).T for c in counts]).astype(np.float32)
    np.save(folder / "templates.npy", whitened)
    np.save(folder / "whitening_mat_dat.npy", w_dat)
    np.save(folder / "whitening_mat_inv.npy", np.eye(n_channel) / 3.0)  # scaled identity
    np.save(folder / "spike_templates.npy", np.load(folder / "spike_clusters.npy"))
    np.save(folder / "amplitudes.npy", np.ones(np.load(folder / "spike_times.npy").size))
    record = import_sessions(tmp_path / "data", [folder], ALL)
    assert "approximate" in record["sessions"][0]["waveforms_from"]
    assert any("approximate" in w for w in record["warnings"])
    assert_matches_truth(tmp_path / "data", truth)
    (folder / "whitening_mat_dat.npy").unlink()  # now a Kilosort 2.5/3 folder: refused
    with pytest.raises(ImportDataError, match="whitening_mat_inv.npy is a scaled identity"):
        import_sessions(tmp_path / "data2", [folder], ALL)


def test_spikeinterface_analyzer_folder(session, tmp_path):
    _, analyzer, truth = session
    folder = Path(shutil.copytree(analyzer, tmp_path / "analyzer"))
    with pytest.raises(ImportDataError, match=r"no unit labelled good .*unsorted 4"):
        import_sessions(tmp_path / "a", [folder], ImportOptions())
    np.save(
        folder / "sorting" / "properties" / "quality.npy", np.array(["good", "mua", "good", "good"])
    )
    record = import_sessions(tmp_path / "data", [folder], ImportOptions())
    assert record["sessions"][0]["format"] == "SpikeInterface SortingAnalyzer"
    data = load_dataset(tmp_path / "data")
    keep = [0, 2, 3]
    ours, known = aligned(to_union(data.waveforms, data.channel_locations, truth.positions), truth)
    for k, u in enumerate(keep):
        np.testing.assert_allclose(ours[k], known[u], atol=1e-3)  # the same µV templates
        np.testing.assert_allclose(data.spike_times[k], truth.spike_samples[u] / RATE * 1000)
    shutil.rmtree(folder / "extensions" / "templates")
    with pytest.raises(ImportDataError, match="has no templates extension"):
        import_sessions(tmp_path / "b", [folder], ImportOptions(labels=("all",)))


def test_phy_and_analyzer_sessions_together(session, tmp_path):
    phy, analyzer, truth = session
    folder = Path(shutil.copytree(phy, tmp_path / "sorted"))
    (folder / "params.py").write_text(
        (folder / "params.py")
        .read_text()
        .replace(str(phy / "recording.dat"), str(folder / "recording.dat"))
    )
    record = import_sessions(tmp_path / "data", [folder, analyzer], ALL)
    data = load_dataset(tmp_path / "data")
    assert data.n_sessions == 2 and data.n_channels == 16
    assert [s["format"] for s in record["sessions"]] == [
        "Kilosort/phy",
        "SpikeInterface SortingAnalyzer",
    ]
    a, b = data.waveforms[:4], data.waveforms[4:]
    for k in range(4):  # the same units read two ways agree
        assert np.corrcoef(a[k].ravel(), b[k].ravel())[0, 1] > 0.99


def _spike_info_units(truth):
    units = []
    for s in (1, 2):
        for k in range(truth.templates.shape[0]):
            units.append(
                {
                    "SessionIndex": float(s),
                    "Waveform": truth.templates[k, :, :82].astype(np.float64),
                    "SpikeTimes": truth.spike_samples[k] / RATE * 1000 + s,
                    "Xcoords": truth.positions[:, 0],
                    "Ycoords": truth.positions[:, 1],
                    "Kcoords": np.ones(truth.positions.shape[0]),
                    "PETH": np.linspace(0, 1, 20) * (k + 1),
                }
            )
    return units


def test_spikeinfo_mat_v7(session, tmp_path):
    from scipy.io import savemat

    _, _, truth = session
    folder = tmp_path / "matlab"
    folder.mkdir()
    units = _spike_info_units(truth)
    dtype = [(name, object) for name in units[0]]
    struct = np.zeros((1, len(units)), dtype=dtype)
    for i, u in enumerate(units):
        for name, value in u.items():
            struct[0, i][name] = value
    savemat(folder / "spikeInfo.mat", {"spikeInfo": struct})
    record = import_sessions(tmp_path / "data", [folder], ImportOptions())
    data = load_dataset(tmp_path / "data")
    assert data.n_sessions == 2 and data.n_units == 8 and data.peth is not None
    np.testing.assert_allclose(
        to_union(data.waveforms, data.channel_locations, truth.positions)[:4],
        truth.templates[:, :, :82],
        atol=1e-4,
    )
    np.testing.assert_allclose(data.spike_times[5], truth.spike_samples[1] / RATE * 1000 + 2)
    assert record["output"]["peth"] is True


def test_spikeinfo_mat_v73(session, tmp_path):
    h5py = pytest.importorskip("h5py")
    _, _, truth = session
    folder = tmp_path / "matlab73"
    folder.mkdir()
    units = _spike_info_units(truth)
    path = folder / "spikeInfo.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        group = f.create_group("spikeInfo")
        refs = f.create_group("#refs#")
        for name in units[0]:
            column = []
            for i, u in enumerate(units):
                value = np.atleast_2d(np.asarray(u[name], dtype=np.float64))
                ds = refs.create_dataset(f"{name}_{i}", data=value.T)  # MATLAB is column-major
                column.append(ds.ref)
            group.create_dataset(name, data=np.array(column, dtype=h5py.ref_dtype)[:, None])
    with open(path, "r+b") as f:  # MATLAB's text header in the user block
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Sun Dec  6 2026".ljust(116))
    import_sessions(tmp_path / "data", [folder], ImportOptions())
    data = load_dataset(tmp_path / "data")
    assert data.n_sessions == 2 and data.n_units == 8
    np.testing.assert_allclose(
        to_union(data.waveforms, data.channel_locations, truth.positions)[4:],
        truth.templates[:, :, :82],
        atol=1e-4,
    )
    json.loads((tmp_path / "data" / "import.json").read_text())


def test_spikeinterface_analyzer_zarr(session, tmp_path):
    """A zarr SortingAnalyzer, written by SpikeInterface itself, reads as the binary one."""
    si_core = pytest.importorskip("spikeinterface.core")
    pytest.importorskip("zarr")
    _, analyzer, truth = session
    folder = tmp_path / "day1.zarr"
    si_core.load_sorting_analyzer(analyzer).save_as(format="zarr", folder=folder)
    record = import_sessions(tmp_path / "data", [folder], ALL)
    assert record["sessions"][0]["format"] == "SpikeInterface SortingAnalyzer"
    data = load_dataset(tmp_path / "data")
    ours, known = aligned(to_union(data.waveforms, data.channel_locations, truth.positions), truth)
    np.testing.assert_allclose(ours, known, atol=1e-3)  # the same µV templates
    for k, samples in enumerate(truth.spike_samples):
        np.testing.assert_allclose(data.spike_times[k], samples / RATE * 1000)


def test_phy_session_at_25_khz_is_resampled_and_timed_at_its_rate(tmp_path):
    """A session sampled at 25 kHz: spike times in ms at 25 kHz, waveforms extracted from
    the raw file and put on the 30 kHz output grid (82 samples, spike at sample 40)."""
    rate = 25000.0
    phy, _, truth = make_session(tmp_path / "s", seed=4, rate=rate)
    import_sessions(tmp_path / "data", [phy], ALL)
    data = load_dataset(tmp_path / "data")
    ours = to_union(data.waveforms, data.channel_locations, truth.positions)
    t_ours = (np.arange(ours.shape[2]) - 40) / 30000.0  # s from the spike
    t_truth = (np.arange(truth.templates.shape[2]) - truth.n_before) / rate
    inside = (t_ours >= t_truth[0]) & (t_ours <= t_truth[-1])
    for k in range(len(truth.unit_ids)):
        known = np.array([np.interp(t_ours[inside], t_truth, ch) for ch in truth.templates[k]])
        mine = ours[k][:, inside]
        r = np.corrcoef(mine.ravel(), known.ravel())[0, 1]
        amp = np.ptp(mine, axis=1).max() / np.ptp(known, axis=1).max()
        assert r > 0.98 and abs(amp - 1) < 0.05, (k, r, amp)
        np.testing.assert_allclose(data.spike_times[k], truth.spike_samples[k] / rate * 1000)
