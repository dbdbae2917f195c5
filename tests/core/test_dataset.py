"""Data folder loading: fixtures, every malformed input, checks against settings, manual motion."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from dant_core.dataset import (
    Dataset,
    check_dataset_for_settings,
    load_dataset,
    load_manual_motion,
)
from dant_core.errors import DatasetError
from dant_core.settings import Settings

from .fixtures import fixtures_dir

N_UNIT, N_CHANNEL, N_SAMPLE = 6, 40, 20
SESSIONS = np.array([1, 1, 2, 2, 3, 3])


def write_folder(folder: Path, shanks=False, peth=True) -> Path:
    """A tiny valid data folder: 6 units in 3 sessions, 40 channels, 20 samples."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "waveform_all.npy", rng.standard_normal((N_UNIT, N_CHANNEL, N_SAMPLE)))
    np.save(folder / "session_index.npy", SESSIONS)
    locations = np.c_[
        np.tile([0.0, 32.0], N_CHANNEL // 2), np.repeat(np.arange(N_CHANNEL // 2), 2) * 20.0
    ]
    np.save(folder / "channel_locations.npy", locations)
    if shanks:
        np.save(folder / "channel_shanks.npy", np.repeat([1, 2], N_CHANNEL // 2))
    if peth:
        values = rng.random((N_UNIT, 12))
        values[0, :3] = np.nan
        np.save(folder / "peth.npy", values)
    spikes = folder / "spike_times"
    spikes.mkdir(exist_ok=True)
    for k in range(N_UNIT):
        np.save(spikes / f"Unit{k}.npy", np.sort(rng.uniform(0, 1e5, 50 + k)))
    return folder


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "data")


# -- fixtures ----------------------------------------------------------------------------


def test_fixture_p1_single_shank():
    data = load_dataset(fixtures_dir() / "p1")
    assert data.waveforms.shape == (324, 96, 90) and data.waveforms.dtype == np.float32
    assert data.sessions.dtype == np.int64 and data.n_sessions == 8
    assert data.units_per_session.sum() == 324 and data.units_per_session.shape == (8,)
    assert data.channel_locations.shape == (96, 2) and data.channel_locations.dtype == np.float64
    assert not data.has_shank_file and data.n_shanks == 1
    assert np.array_equal(data.channel_shanks, np.ones(96, dtype=np.int64))
    assert len(data.spike_times) == 324 and data.spike_times[0].dtype == np.float64
    assert np.array_equal(data.spike_times[5], np.load(fixtures_dir() / "p1/spike_times/Unit5.npy"))
    assert data.peth.shape == (324, 120)
    summary = data.summary()
    assert summary["sessions"] == 8 and summary["units"] == 324 and summary["shanks"] == 1
    assert summary["features"] == ["Waveform", "AutoCorr", "ISI", "PETH"]


def test_fixture_p2_two_shanks():
    data = load_dataset(fixtures_dir() / "p2")
    assert data.waveforms.shape == (213, 96, 90)
    assert data.has_shank_file and data.n_shanks == 2
    assert list(data.shank_ids) == [1, 2]
    assert data.channels_per_shank == {1: 48, 2: 48}
    assert data.n_sessions == 6
    settings = Settings.load(fixtures_dir() / "p2/pydant_multishank/settings.json")
    assert check_dataset_for_settings(data, settings) == []


# -- a valid synthetic folder --------------------------------------------------------------


def test_synthetic_folder_loads(folder):
    calls = []
    data = load_dataset(
        folder, progress=lambda stage, done, total: calls.append((stage, done, total))
    )
    assert isinstance(data, Dataset)
    assert (data.n_units, data.n_channels, data.n_samples) == (N_UNIT, N_CHANNEL, N_SAMPLE)
    assert data.waveforms.dtype == np.float32  # converted from float64
    assert list(data.units_per_session) == [2, 2, 2]
    assert np.isnan(data.peth[0, 0])
    assert ("Loading spike times", N_UNIT, N_UNIT) in calls
    with pytest.raises(ValueError):
        data.waveforms[0, 0, 0] = 1.0  # arrays are read-only


def test_lenient_inputs_accepted(folder):
    # Column vectors (as MATLAB writes), whole-number floats, empty spike trains, an
    # all-NaN PETH row and files that are not Unit{k}.npy.
    np.save(folder / "session_index.npy", SESSIONS.astype(float).reshape(-1, 1))
    np.save(folder / "spike_times/Unit4.npy", np.array([]))
    peth = np.load(folder / "peth.npy")
    peth[2] = np.nan
    np.save(folder / "peth.npy", peth)
    (folder / "spike_times/readme.txt").write_text("notes")
    data = load_dataset(folder)
    assert data.sessions.dtype == np.int64 and data.sessions.shape == (N_UNIT,)
    assert data.spike_times[4].size == 0
    assert np.isnan(data.peth[2]).all()


# -- one broken thing per case -----------------------------------------------------------


def _save(name, array):
    return lambda f: np.save(f / name, array)


def _nan_units(f):
    w = np.load(f / "waveform_all.npy")
    w[2, 5, 3] = np.nan
    w[4, 0, 0] = np.inf
    np.save(f / "waveform_all.npy", w)


def _pickled(f):
    with open(f / "waveform_all.npy", "wb") as out:
        np.save(out, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)


def _remove(rel):
    return lambda f: (f / rel).unlink()


def _remove_spike_dir(f):
    for p in (f / "spike_times").iterdir():
        p.unlink()
    (f / "spike_times").rmdir()


def _extra_units(f):
    np.save(f / "spike_times/Unit6.npy", np.arange(3.0))
    np.save(f / "spike_times/Unit10.npy", np.arange(3.0))


def _peth_inf(f):
    p = np.load(f / "peth.npy")
    p[3, 1] = np.inf
    np.save(f / "peth.npy", p)


BAD_FOLDERS = [
    # (id, break the folder, text naming the file, text naming the problem)
    ("waveforms-missing", _remove("waveform_all.npy"), "waveform_all.npy", "missing"),
    (
        "waveforms-not-npy",
        lambda f: (f / "waveform_all.npy").write_text("hello"),
        "waveform_all.npy",
        "not a .npy file",
    ),
    ("waveforms-pickled", _pickled, "waveform_all.npy", "pickled"),
    (
        "waveforms-npz",
        lambda f: (
            np.savez(f / "waveform_all.npy.npz", a=1)
            or (f / "waveform_all.npy.npz").replace(f / "waveform_all.npy")
        ),
        "waveform_all.npy",
        ".npz",
    ),
    (
        "waveforms-2d",
        _save("waveform_all.npy", np.zeros((6, 40))),
        "waveform_all.npy",
        "expected 3 dimensions (n_unit, n_channel, n_sample), got shape (6, 40)",
    ),
    (
        "waveforms-strings",
        _save("waveform_all.npy", np.full((6, 40, 20), "a")),
        "waveform_all.npy",
        "must hold numbers",
    ),
    (
        "waveforms-nan",
        _nan_units,
        "waveform_all.npy",
        "2 unit(s) have NaN or infinite values (first: unit 2)",
    ),
    (
        "waveforms-empty",
        _save("waveform_all.npy", np.zeros((0, 40, 20))),
        "waveform_all.npy",
        "no units",
    ),
    ("sessions-missing", _remove("session_index.npy"), "session_index.npy", "missing"),
    (
        "sessions-length",
        _save("session_index.npy", SESSIONS[:5]),
        "session_index.npy",
        "has 5 entries but waveform_all.npy has 6 units",
    ),
    (
        "sessions-2d",
        _save("session_index.npy", np.ones((6, 2), int)),
        "session_index.npy",
        "expected shape (n_unit,) = (6,), got (6, 2)",
    ),
    (
        "sessions-fractional",
        _save("session_index.npy", np.array([1, 1.5, 2, 2, 3, 3])),
        "session_index.npy",
        "whole numbers",
    ),
    (
        "sessions-nan",
        _save("session_index.npy", np.array([1, np.nan, 2, 2, 3, 3])),
        "session_index.npy",
        "whole numbers",
    ),
    (
        "sessions-gap",
        _save("session_index.npy", np.array([1, 1, 3, 3, 5, 5])),
        "session_index.npy",
        "no unit in session(s) 2, 4",
    ),
    (
        "sessions-from-zero",
        _save("session_index.npy", np.array([0, 0, 1, 1, 2, 2])),
        "session_index.npy",
        "numbered from 1, got 0",
    ),
    ("locations-missing", _remove("channel_locations.npy"), "channel_locations.npy", "missing"),
    (
        "locations-rows",
        _save("channel_locations.npy", np.zeros((39, 2))),
        "channel_locations.npy",
        "has 39 channels but waveform_all.npy has 40",
    ),
    (
        "locations-columns",
        _save("channel_locations.npy", np.zeros((40, 3))),
        "channel_locations.npy",
        "expected shape (n_channel, 2) = (40, 2), got (40, 3)",
    ),
    (
        "locations-nan",
        _save("channel_locations.npy", np.full((40, 2), np.nan)),
        "channel_locations.npy",
        "NaN or infinite",
    ),
    (
        "shanks-length",
        _save("channel_shanks.npy", np.ones(41, int)),
        "channel_shanks.npy",
        "has 41 entries but waveform_all.npy has 40 channels",
    ),
    (
        "peth-rows",
        _save("peth.npy", np.zeros((5, 12))),
        "peth.npy",
        "has 5 rows but waveform_all.npy has 6 units",
    ),
    ("peth-1d", _save("peth.npy", np.zeros(12)), "peth.npy", "expected 2 dimensions"),
    ("peth-inf", _peth_inf, "peth.npy", "infinite values (first: unit 3)"),
    ("spikes-folder-missing", _remove_spike_dir, "spike_times/", "folder is missing"),
    (
        "spikes-files-missing",
        lambda f: (_remove("spike_times/Unit2.npy")(f), _remove("spike_times/Unit5.npy")(f)),
        "Unit2.npy, Unit5.npy",
        "2 spike-time file(s) missing",
    ),
    ("spikes-extra-files", _extra_units, "Unit6.npy, Unit10.npy", "units that do not exist"),
    (
        "spikes-nan",
        _save("spike_times/Unit3.npy", np.array([1.0, np.nan, 3.0])),
        "spike_times/Unit3.npy",
        "1 spike time(s) are NaN or infinite",
    ),
    (
        "spikes-2d",
        _save("spike_times/Unit1.npy", np.zeros((4, 2))),
        "spike_times/Unit1.npy",
        "expected shape (n_spike,), got (4, 2)",
    ),
    (
        "spikes-strings",
        _save("spike_times/Unit0.npy", np.array(["1", "2"])),
        "spike_times/Unit0.npy",
        "must hold numbers",
    ),
]


@pytest.mark.parametrize(
    "breaker, file_text, problem",
    [case[1:] for case in BAD_FOLDERS],
    ids=[c[0] for c in BAD_FOLDERS],
)
def test_bad_folder_names_file_and_problem(folder, breaker, file_text, problem):
    breaker(folder)
    with pytest.raises(DatasetError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert file_text in message
    assert problem in message


def test_many_missing_spike_files_are_summarised(folder):
    np.save(folder / "waveform_all.npy", np.zeros((20, N_CHANNEL, N_SAMPLE)))
    np.save(folder / "session_index.npy", np.repeat([1, 2], 10))
    np.save(folder / "peth.npy", np.zeros((20, 3)))
    with pytest.raises(DatasetError) as info:
        load_dataset(folder)
    message = str(info.value)
    assert "14 spike-time file(s) missing: Unit6.npy, Unit7.npy" in message
    assert "(14 in all)" in message
    assert "Unit19.npy" not in message.split("(14 in all)")[0]


def test_folder_missing_or_not_a_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="is not a folder"):
        load_dataset(tmp_path / "file")


# -- checks against the settings -----------------------------------------------------------


def test_shank_with_too_few_channels(tmp_path):
    data = load_dataset(write_folder(tmp_path / "d", shanks=True))  # 2 shanks x 20 channels
    with pytest.raises(DatasetError) as info:
        check_dataset_for_settings(data, Settings.defaults())
    message = str(info.value)
    assert (
        "shank 1 has 20 channels, fewer than waveformCorrection.n_nearest_channels = 38" in message
    )
    assert "shank 2" in message
    settings = Settings.defaults()
    settings.set("waveformCorrection.n_nearest_channels", 20)
    assert check_dataset_for_settings(data, settings) == []
    settings.set("spikeLocation.n_nearest_channels", 21)
    with pytest.raises(DatasetError, match="spikeLocation.n_nearest_channels = 21"):
        check_dataset_for_settings(data, settings)


def test_probe_with_too_few_channels(folder):
    data = load_dataset(folder)
    settings = Settings.defaults()
    settings.set("waveformCorrection.n_nearest_channels", 41)
    with pytest.raises(
        DatasetError, match="the probe has 40 channels, fewer than waveformCorrection"
    ):
        check_dataset_for_settings(data, settings)


def test_peth_used_without_peth_file(tmp_path):
    data = load_dataset(write_folder(tmp_path / "d", peth=False))
    assert data.peth is None and "PETH" not in data.summary()["features"]
    settings = Settings.defaults()  # PETH in both motion feature sets
    settings.set("clustering.features", ["Waveform", "PETH"])
    with pytest.raises(DatasetError) as info:
        check_dataset_for_settings(data, settings)
    message = str(info.value)
    assert "peth.npy" in message and "missing" in message
    assert (
        "motionEstimation.features[0], motionEstimation.features[1], clustering.features" in message
    )
    settings.set("motionEstimation.features", [["Waveform", "AutoCorr"]])
    settings.set("clustering.features", ["Waveform", "AutoCorr"])
    assert check_dataset_for_settings(data, settings) == []


def test_units_with_too_few_spikes_warn(folder):
    np.save(folder / "spike_times/Unit1.npy", np.array([5.0]))
    np.save(folder / "spike_times/Unit4.npy", np.array([]))
    data = load_dataset(folder)
    settings = Settings.defaults()
    warnings = check_dataset_for_settings(data, settings)
    assert "unit 1 has 1 spike; its AutoCorr features are set to zero" in warnings
    assert "unit 4 has 0 spikes; its AutoCorr features are set to zero" in warnings
    settings.set("clustering.features", ["Waveform", "ISI"])
    assert "unit 1 has 1 spike; its AutoCorr/ISI features are set to zero" in (
        check_dataset_for_settings(data, settings)
    )
    settings.set("motionEstimation.features", [["Waveform"]])
    settings.set("clustering.features", ["Waveform"])
    assert check_dataset_for_settings(data, settings) == []


def test_all_nan_peth_row_warns(folder):
    peth = np.load(folder / "peth.npy")
    peth[5] = np.nan
    np.save(folder / "peth.npy", peth)
    warnings = check_dataset_for_settings(load_dataset(folder), Settings.defaults())
    assert any("peth.npy" in w and "unit 5" in w for w in warnings)


def test_manual_motion_file_is_checked(folder):
    np.save(folder / "motion.npy", np.zeros(4))  # 3 sessions
    settings = Settings.from_dict(
        {
            "waveformCorrection": {"path_to_motion": "motion.npy"},
            "motionEstimation": {"features": [["Waveform", "AutoCorr"]]},
        },
        base_dir=folder,
    )
    with pytest.raises(DatasetError) as info:
        check_dataset_for_settings(load_dataset(folder), settings)
    assert "motion.npy" in str(info.value) and "got shape (4,)" in str(info.value)
    assert "waveformCorrection.path_to_motion" in str(info.value)
    np.save(folder / "motion.npy", np.ones(3))
    assert check_dataset_for_settings(load_dataset(folder), settings) == []


# -- manual motion -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "array, k, b",
    [
        (np.array([1.0, 2.0, 3.0]), [0, 0, 0], [1, 2, 3]),
        (np.array([[1.0, 2.0, 3.0]]), [0, 0, 0], [1, 2, 3]),
        (np.array([[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]]), [0.1, 0.2, 0.3], [1, 2, 3]),
        (np.array([[0.1, 1.0], [0.2, 2.0], [0.3, 3.0]]), [0.1, 0.2, 0.3], [1, 2, 3]),
        (np.array([1, 2, 3], dtype=np.int32), [0, 0, 0], [1, 2, 3]),
    ],
)
def test_manual_motion_shapes(tmp_path, array, k, b):
    path = tmp_path / "motion.npy"
    np.save(path, array)
    got_k, got_b = load_manual_motion(path, 3)
    assert got_k.dtype == np.float64 and got_b.shape == (3,)
    assert np.allclose(got_k, k) and np.allclose(got_b, b)


def test_manual_motion_two_sessions_reads_rows_as_k_b(tmp_path):
    path = tmp_path / "motion.npy"
    np.save(path, np.array([[0.5, 0.6], [7.0, 8.0]]))
    k, b = load_manual_motion(path, 2)
    assert list(k) == [0.5, 0.6] and list(b) == [7.0, 8.0]


@pytest.mark.parametrize(
    "array, shape_text",
    [
        (np.zeros(4), "got shape (4,)"),
        (np.zeros((3, 3)), "got shape (3, 3)"),
        (np.zeros((2, 3, 1)), "got shape (2, 3, 1)"),
        (np.array([1.0, np.nan, 2.0]), "NaN"),
    ],
)
def test_manual_motion_bad_shape(tmp_path, array, shape_text):
    path = tmp_path / "my_motion.npy"
    np.save(path, array)
    with pytest.raises(DatasetError) as info:
        load_manual_motion(path, 3)
    assert "my_motion.npy" in str(info.value)
    assert shape_text in str(info.value)
    if "shape" in shape_text:
        assert "(2, 3) / (3, 2)" in str(info.value)


def test_manual_motion_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="motion.npy: file is missing"):
        load_manual_motion(tmp_path / "motion.npy", 3)


def test_pickle_is_never_loaded(tmp_path):
    path = tmp_path / "motion.npy"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(DatasetError, match="motion.npy"):
        load_manual_motion(path, 3)


def test_plain_vector_reader_equals_np_load_or_declines(tmp_path):
    """The fast spike-time reader reads plain 1-D numeric .npy files exactly as np.load does
    and declines (None) everything else, which then takes the checked np.load path."""
    from dant_core.dataset import _read_plain_vector

    rng = np.random.default_rng(0)
    plain = {
        "f8": rng.random(1000) * 1e6,
        "f4": rng.random(7).astype(np.float32),
        "f2": rng.random(3).astype(np.float16),
        "i8": rng.integers(0, 10**9, 5),
        "u4": rng.integers(0, 100, 3).astype(np.uint32),
        "i1": np.array([1, -2], dtype=np.int8),
        "empty": np.zeros(0),
    }
    other = {
        "two_d": rng.random((3, 2)),
        "fortran": np.asfortranarray(rng.random((3, 2))),
        "big_endian": rng.random(4).astype(">f8"),
        "scalar": np.float64(3.0),
        "text": np.array(["a", "b"]),
        "bool": np.array([True, False]),
        "complex": np.array([1 + 2j]),
    }
    for name, value in {**plain, **other}.items():
        np.save(tmp_path / f"{name}.npy", value)
    for name in plain:
        got = _read_plain_vector(tmp_path / f"{name}.npy")
        want = np.load(tmp_path / f"{name}.npy")
        assert got is not None and got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want)
    for name in other:
        assert _read_plain_vector(tmp_path / f"{name}.npy") is None, name
    assert _read_plain_vector(tmp_path / "missing.npy") is None
    whole = (tmp_path / "f8.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(whole[:-8])  # truncated body
    assert _read_plain_vector(tmp_path / "short.npy") is None
    (tmp_path / "long.npy").write_bytes(whole + b"\0" * 8)  # trailing bytes
    assert _read_plain_vector(tmp_path / "long.npy") is None
