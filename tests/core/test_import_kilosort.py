"""`dant import` of Kilosort/phy folders: SpikeInterface's export_to_phy from a known truth,
and the real Kilosort 2 / phy folders in the shared fixtures; every trap of issue 14."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main
from dant_core.dataset import check_dataset_for_settings, load_dataset
from dant_core.importers import ImportDataError, ImportOptions, import_sessions
from dant_core.importers.scaling import oebin_above, oebin_uv_per_bit, spikeglx_uv_per_bit
from dant_core.settings import Settings

from .fixtures import ROOT
from .si_sessions import RATE, UV_PER_BIT, aligned, make_session, to_union

OPTIONS = ImportOptions(labels=("all",), uv_per_bit=UV_PER_BIT)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """One SpikeInterface session (4 units, 16 channels, 4 s) exported to phy, and its truth."""
    phy, _, truth = make_session(tmp_path_factory.mktemp("si"))
    return phy, truth


@pytest.fixture
def phy(session, tmp_path):
    """A private copy of the phy folder (tests edit it), its params.py naming its own raw file
    by absolute path as SpikeInterface writes it."""
    folder = Path(shutil.copytree(session[0], tmp_path / "sorted"))
    set_param(folder, "dat_path", f"r'{folder / 'recording.dat'}'")
    return folder


def read_units(out: Path) -> list[dict]:
    lines = (out / "units.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def set_param(folder: Path, key: str, value: str) -> None:
    lines = [
        ln for ln in (folder / "params.py").read_text().splitlines() if not ln.startswith(f"{key} ")
    ]
    (folder / "params.py").write_text("\n".join(lines + [f"{key} = {value}"]) + "\n")


def test_phy_export_imports_the_known_waveforms_and_times(session, phy, tmp_path):
    _, truth = session
    out = tmp_path / "data"
    record = import_sessions(out, [phy], OPTIONS)
    data = load_dataset(out)
    assert data.waveforms.shape == (4, 16, 82) and data.n_sessions == 1
    ours, known = aligned(to_union(data.waveforms, data.channel_locations, truth.positions), truth)
    for k in range(4):
        r = np.corrcoef(ours[k].ravel(), known[k].ravel())[0, 1]
        amp = np.ptp(ours[k], axis=1).max() / np.ptp(known[k], axis=1).max()
        assert r > 0.995 and abs(amp - 1) < 0.02, (k, r, amp)
        # spike times in ms from SpikeInterface's own spike train
        np.testing.assert_allclose(data.spike_times[k], truth.spike_samples[k] / RATE * 1000)
    units = read_units(out)
    assert [u["cluster_id"] for u in units] == ["0", "1", "2", "3"]
    assert {u["session"] for u in units} == {"1"} and units[0]["source"] == str(phy)
    assert [int(u["n_spikes"]) for u in units] == [t.size for t in truth.spike_samples]
    assert all(u["positive_spike"] == "false" for u in units if float(u["amplitude_uv"]) > 20)
    assert record["sessions"][0]["filter"].startswith("none")  # SI writes hp_filtered = True
    settings = Settings.load(out / "settings.json")
    assert "PETH" not in settings.features_used()
    check_dataset_for_settings(data, settings)
    assert json.loads((out / "import.json").read_text())["output"]["units"] == 4


def test_highpass_applied_when_the_file_is_not_filtered(session, phy, tmp_path):
    _, truth = session
    set_param(phy, "hp_filtered", "False")
    record = import_sessions(tmp_path / "data", [phy], OPTIONS)
    data = load_dataset(tmp_path / "data")
    assert "high-pass" in record["sessions"][0]["filter"]
    ours, known = aligned(to_union(data.waveforms, data.channel_locations, truth.positions), truth)
    for k in range(4):
        assert np.corrcoef(ours[k].ravel(), known[k].ravel())[0, 1] > 0.9


def test_labels_phy_overrides_kilosort_and_kilosort4_group_file(phy, tmp_path):
    (phy / "cluster_KSLabel.tsv").write_text(
        "cluster_id\tKSLabel\n0\tgood\n1\tgood\n2\tmua\n3\tgood\n"
    )
    (phy / "cluster_group.tsv").write_text("cluster_id\tgroup\n1\tnoise\n2\tgood\n")
    import_sessions(tmp_path / "a", [phy], ImportOptions(uv_per_bit=UV_PER_BIT))
    units = read_units(tmp_path / "a")
    assert [u["cluster_id"] for u in units] == ["0", "2", "3"]
    assert all(u["label"] == "good" for u in units)
    # Kilosort 4: cluster_group.tsv whose column is KSLabel
    (phy / "cluster_KSLabel.tsv").unlink()
    (phy / "cluster_group.tsv").write_text("cluster_id\tKSLabel\n0\tmua\n1\tgood\n2\tmua\n3\tmua\n")
    record = import_sessions(
        tmp_path / "b", [phy], ImportOptions(labels=("good", "mua"), uv_per_bit=UV_PER_BIT)
    )
    assert [u["label"] for u in read_units(tmp_path / "b")] == ["mua", "good", "mua", "mua"]
    assert record["options"]["labels"] == ["good", "mua"]
    with pytest.raises(ImportDataError, match=r"no unit labelled noise .*mua 3"):
        import_sessions(tmp_path / "c", [phy], ImportOptions(labels=("noise",), uv_per_bit=1))


def test_kilosort4_spike_time_shape_gives_the_same_import(phy, tmp_path):
    import_sessions(tmp_path / "a", [phy], OPTIONS)
    for name in ("spike_times.npy", "spike_clusters.npy"):  # (N, 1) as Kilosort 2.5 -> (N,)
        np.save(phy / name, np.load(phy / name).reshape(-1).astype(np.uint64))
    import_sessions(tmp_path / "b", [phy], OPTIONS)
    a, b = load_dataset(tmp_path / "a"), load_dataset(tmp_path / "b")
    np.testing.assert_array_equal(a.waveforms, b.waveforms)
    for x, y in zip(a.spike_times, b.spike_times, strict=True):
        np.testing.assert_array_equal(x, y)


def test_raw_file_relocated_found_beside_and_given_per_session(phy, tmp_path, capsys):
    moved = tmp_path / "recording.dat"
    shutil.move(phy / "recording.dat", moved)  # now in the sorter folder's parent
    set_param(phy, "dat_path", "r'D:\\\\sorting\\\\rig2\\\\recording.dat'")
    record = import_sessions(tmp_path / "a", [phy], OPTIONS)
    raw = record["sessions"][0]["raw_file"]
    assert raw["path"] == str(moved) and "found by name" in raw["how"]
    assert any("found by name" in w for w in record["warnings"])
    elsewhere = tmp_path / "disk2" / "x.bin"
    elsewhere.parent.mkdir()
    shutil.move(moved, elsewhere)
    code = main(
        ["import", str(tmp_path / "b"), str(phy), "--labels", "all", "--uv-per-bit", "0.195"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Kilosort 2.5/3's templates.npy are whitened" in err
    assert str(phy) in err.splitlines()[-1]
    code = main(
        [
            "import",
            str(tmp_path / "b"),
            str(phy),
            "--labels",
            "all",
            "--uv-per-bit",
            "0.195",
            "--raw",
            f"1={elsewhere}",
        ]
    )
    assert code == 0
    assert (
        json.loads((tmp_path / "b" / "import.json").read_text())["sessions"][0]["raw_file"]["how"]
        == "given explicitly"
    )


def test_scaling_from_spikeglx_meta_and_never_guessed(session, phy, tmp_path, capsys):
    _, truth = session
    code = main(["import", str(tmp_path / "a"), str(phy), "--labels", "all"])
    assert code == 2 and "cannot tell µV per bit" in capsys.readouterr().err
    # A Neuropixels 1.0 .meta at gain 500: 0.6 V / 512 / 500 = 2.34375 µV per bit.
    shutil.move(phy / "recording.dat", phy / "rec.imec0.ap.bin")
    set_param(phy, "dat_path", "'rec.imec0.ap.bin'")
    imro = "(0,384)" + "".join(f"({c} 0 0 500 250 1)" for c in range(16))
    (phy / "rec.imec0.ap.meta").write_text(
        f"imSampRate=30000\nimAiRangeMax=0.6\nimMaxInt=512\nnSavedChans=16\n~imroTbl={imro}\n"
    )
    record = import_sessions(tmp_path / "b", [phy], ImportOptions(labels=("all",)))
    assert "rec.imec0.ap.meta" in record["sessions"][0]["scaling"]
    data = load_dataset(tmp_path / "b")
    ours, known = aligned(to_union(data.waveforms, data.channel_locations, truth.positions), truth)
    ratio = np.ptp(ours, axis=2).max(axis=1) / np.ptp(known, axis=2).max(axis=1)
    np.testing.assert_allclose(ratio, 2.34375 / UV_PER_BIT, rtol=0.02)
    # the .meta's rate must agree with params.py
    set_param(phy, "sample_rate", "25000.")
    with pytest.raises(ImportDataError, match="imSampRate"):
        import_sessions(tmp_path / "c", [phy], ImportOptions(labels=("all",)))


def test_meta_and_oebin_gains(tmp_path):
    np2 = tmp_path / "np2.ap.meta"
    np2.write_text(
        "imDatPrb_type=21\nimAiRangeMax=0.5\nimMaxInt=8192\n~imroTbl=(21,384)(0 1 0 0)(1 1 0 1)\n"
    )
    uv, _ = spikeglx_uv_per_bit(np2, 385)
    np.testing.assert_allclose(uv, 0.5 / 8192 / 80 * 1e6)
    stream = tmp_path / "Record Node 101" / "experiment1" / "recording1"
    cont = stream / "continuous" / "Neuropix-PXI-100.ProbeA-AP"
    cont.mkdir(parents=True)
    (stream / "structure.oebin").write_text(
        json.dumps(
            {
                "continuous": [
                    {
                        "folder_name": "Neuropix-PXI-100.ProbeA-AP/",
                        "sample_rate": 30000,
                        "channels": [{"bit_volts": 0.195, "units": "uV"}] * 4,
                    }
                ]
            }
        )
    )
    found = oebin_above(cont / "continuous.dat")
    assert found is not None
    uv, how = oebin_uv_per_bit(*found, 4)
    np.testing.assert_allclose(uv, 0.195) and "structure.oebin" in how


def test_waveforms_that_cannot_be_microvolts_are_refused(phy, tmp_path):
    with pytest.raises(ImportDataError, match=r"cannot be µV .*whitened units or volts"):
        import_sessions(tmp_path / "a", [phy], ImportOptions(labels=("all",), uv_per_bit=1e-6))
    assert not (tmp_path / "a").exists()


def test_channel_union_fills_dropped_channels(session, phy, tmp_path):
    _, truth = session
    second = Path(shutil.copytree(phy, tmp_path / "day2"))
    keep = np.array([c for c in range(16) if c not in (5, 10)])  # the sorter dropped two
    np.save(second / "channel_map.npy", np.load(second / "channel_map.npy")[keep])
    np.save(second / "channel_positions.npy", np.load(second / "channel_positions.npy")[keep])
    np.save(second / "channel_groups.npy", np.load(second / "channel_groups.npy")[keep])
    record = import_sessions(tmp_path / "data", [phy, second], OPTIONS)
    data = load_dataset(tmp_path / "data")
    assert data.n_channels == 16 and data.n_sessions == 2
    assert record["channels"]["filled_by_kriging_per_session"] == [0, 2]
    assert any("2 of 16 channels missing" in w for w in record["warnings"])
    day1 = to_union(data.waveforms[:4], data.channel_locations, truth.positions)
    day2 = to_union(data.waveforms[4:], data.channel_locations, truth.positions)
    np.testing.assert_array_equal(day1[:, keep], day2[:, keep])  # measured channels unchanged
    ptp = np.ptp(day1, axis=2)
    big = [(k, c) for k in range(4) for c in (5, 10) if ptp[k, c] > 20]
    assert big  # a filled channel near a unit: interpolated shape follows the truth
    for k, c in big:
        assert np.corrcoef(day1[k, c], day2[k, c])[0, 1] > 0.8


def test_different_geometry_refused_by_name(phy, tmp_path):
    other = Path(shutil.copytree(phy, tmp_path / "bank1"))
    np.save(other / "channel_positions.npy", np.load(other / "channel_positions.npy") + [0, 2000])
    with pytest.raises(
        ImportDataError,
        match=r"probe geometry differs: session 1 \(.*sorted\) "
        r"lacks 16 of the 32 .*session 2 \(.*bank1\).*import sessions with",
    ):
        import_sessions(tmp_path / "data", [phy, other], OPTIONS)


def test_spike_times_beyond_the_recording_name_the_cause(phy, tmp_path):
    set_param(phy, "n_channels_dat", "32")  # half as many samples in the file
    with pytest.raises(
        ImportDataError,
        match=r"spikes reach sample \d+ but .* holds \d+ "
        r"samples .*wrong sample_rate, n_channels_dat",
    ):
        import_sessions(tmp_path / "a", [phy], OPTIONS)
    set_param(phy, "n_channels_dat", "17")
    with pytest.raises(ImportDataError, match="not a multiple of n_channels_dat"):
        import_sessions(tmp_path / "a", [phy], OPTIONS)


def test_positive_spikes_flagged_and_single_spike_units_left_out(phy, tmp_path):
    raw = np.memmap(phy / "recording.dat", dtype=np.int16, mode="r+")
    raw[:] = -raw  # every spike positive-going
    raw.flush()
    del raw
    clusters = np.load(phy / "spike_clusters.npy")
    clusters[np.flatnonzero(clusters.ravel() == 3)[1:]] = 99  # cluster 3 keeps one spike
    np.save(phy / "spike_clusters.npy", clusters)
    with open(phy / "cluster_group.tsv", "a") as f:
        f.write("99\tnoise\n")
    record = import_sessions(
        tmp_path / "a", [phy], ImportOptions(labels=("unsorted",), uv_per_bit=UV_PER_BIT)
    )
    units = read_units(tmp_path / "a")
    assert [u["cluster_id"] for u in units] == ["0", "1", "2"]
    big = [u for u in units if float(u["amplitude_uv"]) > 20]
    assert big and all(u["positive_spike"] == "true" for u in big)
    assert any("fewer than 2 spikes left out (cluster 3)" in w for w in record["warnings"])
    assert any("positive-going" in w for w in record["warnings"])


def test_multi_shank_writes_channel_shanks(phy, tmp_path):
    groups = np.repeat([0, 1], 8)
    positions = np.load(phy / "channel_positions.npy")
    positions[groups == 1, 0] += 250.0
    np.save(phy / "channel_groups.npy", groups)
    np.save(phy / "channel_positions.npy", positions)
    import_sessions(tmp_path / "a", [phy], OPTIONS)
    data = load_dataset(tmp_path / "a")
    assert data.has_shank_file and data.channels_per_shank == {0: 8, 1: 8}


def test_existing_output_is_never_overwritten(phy, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    code = main(["import", str(out), str(phy), "--labels", "all", "--uv-per-bit", "0.195"])
    assert code == 2 and "already exists and is not empty" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "keep"


def _formats() -> Path:
    for c in (ROOT.parent / "shared" / "fixtures" / "formats",):
        if (c / "ks2_one_session").is_dir():
            return c
    pytest.skip("format fixtures not found")


def test_real_kilosort2_folder_without_params_or_raw(tmp_path, capsys):
    ks2 = _formats() / "ks2_one_session"
    code = main(["import", str(tmp_path / "a"), str(ks2), "--labels", "all"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "no params.py with sample_rate; pass --sample-rate" in err
    code = main(
        ["import", str(tmp_path / "a"), str(ks2), "--labels", "all", "--sample-rate", "30000"]
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "whitening_mat_inv.npy is a scaled identity" in err
    assert str(ks2) in err


def test_real_phy_folder_raw_missing_is_explained(tmp_path, capsys):
    folder = _formats() / "phy_template"
    code = main(["import", str(tmp_path / "a"), str(folder), "--labels", "good"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and "raw recording not found: sim_binary.dat (params.py)" in err
    assert not (tmp_path / "a").exists()
