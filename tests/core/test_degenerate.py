"""Degenerate but valid data gives a result or a DantError with a clear message, never a crash.

Hand-made corner cases first (one session, one unit, no spikes, flat waveforms, all-NaN
PETH, nothing to match), then property-based tests on small random data folders.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dant_core.cli import main as dant_main
from dant_core.dataset import load_dataset
from dant_core.errors import DantError
from dant_core.pipeline import run_tracking
from dant_core.settings import Settings

N_SAMPLE = 30
NO_PETH_FEATURES = {"features": [["AutoCorr"], ["Waveform", "AutoCorr"]]}

# ------------------------------------------------------------------------------------------
# building data folders
# ------------------------------------------------------------------------------------------


def probe(n_channel: int, n_shank: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Neuropixels-like geometry: 2 columns 32 µm apart, 20 µm rows; shanks 250 µm apart.

    Returns channel locations (n_channel, 2) µm and shank ids (n_channel,) 1..n_shank.
    """
    per_shank = n_channel // n_shank
    shank = np.repeat(np.arange(1, n_shank + 1), per_shank)
    k = np.arange(n_channel) % per_shank
    x = np.where(k % 2 == 0, 16.0, 48.0) + 250.0 * (shank - 1)
    y = 20.0 * (k // 2)
    return np.column_stack((x, y)), shank


def spike_like(locations: np.ndarray, peak: int, amplitude: float) -> np.ndarray:
    """A unit's mean waveform (n_channel, N_SAMPLE) µV: a trough decaying with distance."""
    d = np.linalg.norm(locations - locations[peak], axis=1)
    t = np.arange(N_SAMPLE)
    shape = -np.exp(-0.5 * ((t - 12) / 1.5) ** 2) + 0.35 * np.exp(-0.5 * ((t - 18) / 3.0) ** 2)
    return amplitude * np.exp(-d / 35.0)[:, None] * shape[None, :]


def write_folder(
    folder: Path,
    waveforms: np.ndarray,
    sessions,
    spike_times,
    peth: np.ndarray | None = None,
    n_shank: int = 1,
) -> Path:
    """A data folder in the DANT format (docs/method.md §1) from arrays."""
    locations, shanks = probe(waveforms.shape[1], n_shank)
    (folder / "spike_times").mkdir(parents=True)
    np.save(folder / "waveform_all.npy", np.asarray(waveforms, dtype=np.float32))
    np.save(folder / "session_index.npy", np.asarray(sessions, dtype=np.int64))
    np.save(folder / "channel_locations.npy", locations)
    if n_shank > 1:
        np.save(folder / "channel_shanks.npy", shanks)
    for k, times in enumerate(spike_times):
        np.save(folder / "spike_times" / f"Unit{k}.npy", np.asarray(times, dtype=np.float64))
    if peth is not None:
        np.save(folder / "peth.npy", peth)
    return folder


def regular_units(rng, peaks, n_channel=60, amplitude=120.0) -> np.ndarray:
    locations, _ = probe(n_channel)
    return np.stack(
        [
            spike_like(locations, p, amplitude) + rng.normal(0, 1.0, (n_channel, N_SAMPLE))
            for p in peaks
        ]
    )


def train(rng, n: int) -> np.ndarray:
    """n spike times (ms) with a refractory period, over ~100 s."""
    return np.cumsum(2.0 + rng.exponential(100.0, n))


def settings_with(**sections) -> Settings:
    data: dict = {}
    for key, value in sections.items():
        data[key] = value
    return Settings.from_dict(data)


def assert_valid_idx_cluster(idx: np.ndarray, sessions: np.ndarray) -> None:
    """(n_unit,) int; -1 or 1..K, every cluster id used by >= 2 units of distinct sessions."""
    sessions = np.asarray(sessions)
    assert idx.shape == sessions.shape and idx.dtype.kind == "i"
    assert set(np.unique(idx)) <= {-1, *range(1, int(idx.max(initial=0)) + 1)}
    for k in range(1, int(idx.max(initial=0)) + 1):
        members = np.flatnonzero(idx == k)
        assert members.size >= 2, f"cluster {k} has {members.size} unit(s)"
        assert np.unique(sessions[members]).size == members.size, f"cluster {k}: same session"


def track(folder: Path, settings: Settings | None = None):
    """run_tracking with Python warnings turned into failures (they would reach the user)."""
    logged: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = run_tracking(
            load_dataset(folder), settings or Settings.defaults(), log=logged.append
        )
    return result, logged


# ------------------------------------------------------------------------------------------
# hand-made corner cases
# ------------------------------------------------------------------------------------------


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_one_session_gives_every_unit_unmatched_and_says_why(tmp_path, rng):
    wf = regular_units(rng, [4, 20, 36, 50])
    folder = write_folder(tmp_path / "d", wf, [1] * 4, [train(rng, 80)] * 4, rng.random((4, 20)))
    result, log = track(folder)
    assert_valid_idx_cluster(result.idx_cluster, [1] * 4)
    assert (result.idx_cluster == -1).all()
    assert any("only one session" in line for line in log)
    result.save(tmp_path / "out")
    assert np.load(tmp_path / "out" / "IdxCluster.npy").tolist() == [-1] * 4


def test_a_single_unit(tmp_path, rng):
    folder = write_folder(
        tmp_path / "d", regular_units(rng, [20]), [1], [train(rng, 50)], np.ones((1, 5))
    )
    result, _ = track(folder)
    assert result.idx_cluster.tolist() == [-1]


def test_a_session_with_one_unit_is_tracked(tmp_path, rng):
    # The same three neurons in sessions 1 and 3; session 2 recorded only the second one.
    peaks = [6, 26, 46, 26, 6, 26, 46]
    sessions = [1, 1, 1, 2, 3, 3, 3]
    trains = [train(np.random.default_rng(p), 150) for p in peaks]
    peth = np.stack([np.sin(np.arange(40) / (3 + p)) for p in peaks])
    folder = write_folder(tmp_path / "d", regular_units(rng, peaks), sessions, trains, peth)
    result, _ = track(folder)
    idx = result.idx_cluster
    assert_valid_idx_cluster(idx, sessions)
    assert idx[1] > 0 and idx[1] == idx[3] == idx[5]  # the neuron seen in every session
    assert idx[0] > 0 and idx[0] == idx[4]


def test_units_with_no_or_one_spike_get_a_warning_and_a_result(tmp_path, rng):
    peaks = [10, 30, 10, 30]
    trains = [[], [12.5], train(rng, 100), []]
    folder = write_folder(
        tmp_path / "d", regular_units(rng, peaks), [1, 1, 2, 2], trains, rng.random((4, 9))
    )
    result, log = track(folder)
    assert_valid_idx_cluster(result.idx_cluster, [1, 1, 2, 2])
    for unit, n in ((0, 0), (1, 1), (3, 0)):
        assert any(f"unit {unit} has {n} spike" in line for line in log), log
    assert np.isfinite(result.features.auto_corr).all() and not result.features.auto_corr[0].any()


@pytest.mark.parametrize("algorithm", ["monopolar_triangulation", "center_of_mass"])
def test_all_zero_waveforms(tmp_path, rng, algorithm):
    wf = regular_units(rng, [10, 30, 10, 30])
    wf[1] = 0.0  # one flat unit among real ones ...
    folder = write_folder(
        tmp_path / "d", wf, [1, 1, 2, 2], [train(rng, 60)] * 4, rng.random((4, 9))
    )
    s = settings_with(spikeLocation={"location_algorithm": algorithm})
    result, _ = track(folder, s)
    assert_valid_idx_cluster(result.idx_cluster, [1, 1, 2, 2])
    assert np.isfinite(result.locations).all()
    assert result.idx_cluster[1] == -1  # a flat unit correlates with nothing
    # ... and a folder where every waveform is zero.
    flat = write_folder(
        tmp_path / "flat", np.zeros_like(wf), [1, 1, 2, 2], [train(rng, 60)] * 4, rng.random((4, 9))
    )
    result, _ = track(flat, s)
    assert_valid_idx_cluster(result.idx_cluster, [1, 1, 2, 2])
    assert np.isfinite(result.locations).all()
    result.save(tmp_path / "out")


def test_a_unit_with_an_all_nan_peth(tmp_path, rng):
    peth = rng.random((4, 12))
    peth[2] = np.nan
    wf = regular_units(rng, [10, 30, 10, 30])
    folder = write_folder(tmp_path / "d", wf, [1, 1, 2, 2], [train(rng, 60)] * 4, peth)
    # PETH in use: its PETH similarity to any unit is undefined and counts as 0 (as in
    # pyDANT); the run goes on and the log says which unit and what it means.
    result, log = track(folder)
    assert_valid_idx_cluster(result.idx_cluster, [1, 1, 2, 2])
    assert any(
        line.startswith(
            "warning: peth.npy: 1 unit(s) have no valid PETH bin (all NaN; first: "
            "unit 2); their PETH similarity counts as 0"
        )
        for line in log
    ), log
    # PETH not in use: a normal result.
    result, _ = track(folder, settings_with(motionEstimation=NO_PETH_FEATURES))
    assert_valid_idx_cluster(result.idx_cluster, [1, 1, 2, 2])


@pytest.mark.parametrize("initial_motion", ["registration", "none"])
def test_no_matches_at_all(tmp_path, rng, initial_motion):
    # Every unit in its own depth region, hundreds of µm from any other.
    peaks = [0, 44, 88, 130]
    wf = regular_units(rng, peaks, n_channel=132)
    folder = write_folder(
        tmp_path / "d", wf, [1, 2, 3, 4], [train(rng, 60) for _ in peaks], rng.random((4, 9))
    )
    s = settings_with(motionEstimation={"initial_motion": initial_motion})
    result, log = track(folder, s)
    assert (result.idx_cluster == -1).all()
    assert any("no unit was matched across sessions" in line for line in log), log
    result.save(tmp_path / "out")


def test_degenerate_folder_through_the_cli(tmp_path, rng):
    wf = regular_units(rng, [10, 30, 10, 30])
    wf[3] = 0.0
    trains = [[], train(rng, 40), [5.0], train(rng, 40)]
    folder = write_folder(tmp_path / "d", wf, [1, 1, 2, 2], trains, rng.random((4, 9)))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dant_core.cli",
            "track",
            str(folder),
            "--output",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Warning: " not in proc.stderr
    assert_valid_idx_cluster(np.load(tmp_path / "o" / "IdxCluster.npy"), [1, 1, 2, 2])


# ------------------------------------------------------------------------------------------
# property-based: small random data folders
# ------------------------------------------------------------------------------------------

WAVEFORM_KINDS = ("spike", "spike", "spike", "zero", "constant", "noise", "tiny")


@st.composite
def data_folders(draw):
    """Parameters of a small random data folder and settings; arrays come from a seed."""
    n_shank = draw(st.sampled_from([1, 1, 1, 2]))
    n_channel = draw(st.integers(20, 30)) * 2 * n_shank
    per_session = draw(st.lists(st.integers(1, 12), min_size=1, max_size=5))
    n_unit = sum(per_session)
    return {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "n_shank": n_shank,
        "n_channel": n_channel,
        "per_session": per_session,
        "kinds": draw(st.lists(st.sampled_from(WAVEFORM_KINDS), min_size=n_unit, max_size=n_unit)),
        "n_spikes": draw(
            st.lists(
                st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, 200)),
                min_size=n_unit,
                max_size=n_unit,
            )
        ),
        "peth": draw(st.sampled_from(["none", "full", "nan-bins"])),
        "peth_points": draw(st.integers(1, 30)),
        "drift": draw(st.sampled_from([0.0, 15.0, 60.0])),
        "settings": {
            "centering_waveforms": draw(st.booleans()),
            "spikeLocation": {
                "location_algorithm": draw(
                    st.sampled_from(["monopolar_triangulation", "center_of_mass"])
                ),
                "n_nearest_channels": draw(st.integers(1, 20)),
            },
            "waveformCorrection": {
                "n_nearest_channels": draw(st.integers(1, 38)),
                "n_templates": draw(st.sampled_from([1, 2])),
                "linear_correction": draw(st.booleans()),
            },
            "motionEstimation": {
                "max_iter": draw(st.integers(1, 4)),
                "initial_motion": draw(st.sampled_from(["registration", "none"])),
            },
            "clustering": {"n_iter": draw(st.integers(1, 10))},
            "autoCuration": {"auto_split": draw(st.booleans())},
        },
        "via_cli": draw(st.integers(0, 5)) == 0,
    }


def build(params: dict, folder: Path) -> tuple[np.ndarray, dict]:
    """Write the random data folder; returns (sessions, settings dict)."""
    rng = np.random.default_rng(params["seed"])
    n_channel, n_shank = params["n_channel"], params["n_shank"]
    locations, _ = probe(n_channel, n_shank)
    sessions = np.repeat(np.arange(1, len(params["per_session"]) + 1), params["per_session"])
    n_unit = sessions.size
    # A few neurons seen in several sessions, shifted by a per-session drift.
    neurons = rng.integers(0, n_channel, max(1, n_unit // 2))
    drift_rows = np.rint(rng.normal(0, params["drift"] / 20.0, sessions.max() + 1)).astype(int)
    waveforms = np.zeros((n_unit, n_channel, N_SAMPLE))
    for k, kind in enumerate(params["kinds"]):
        if kind == "spike":
            peak = int(np.clip(rng.choice(neurons) + 2 * drift_rows[sessions[k]], 0, n_channel - 1))
            waveforms[k] = spike_like(locations, peak, rng.uniform(20, 300))
            waveforms[k] += rng.normal(0, 1.0, waveforms[k].shape)
        elif kind == "constant":
            waveforms[k] = rng.normal(0, 50)
        elif kind == "noise":
            waveforms[k] = rng.normal(0, 30, (n_channel, N_SAMPLE))
        elif kind == "tiny":
            waveforms[k] = rng.normal(0, 1e-6, (n_channel, N_SAMPLE))
    trains = []
    for n in params["n_spikes"]:
        times = train(rng, n) if rng.random() < 0.8 else rng.uniform(0, 50, n)  # incl. bursts
        trains.append(times)
    peth = None
    if params["peth"] != "none":
        peth = rng.normal(size=(n_unit, params["peth_points"]))
        if params["peth"] == "nan-bins":
            peth[rng.random(peth.shape) < 0.3] = np.nan
    write_folder(folder, waveforms, sessions, trains, peth, n_shank)
    chosen = json.loads(json.dumps(params["settings"]))
    per_shank = n_channel // n_shank
    for section in ("spikeLocation", "waveformCorrection"):
        entry = chosen[section]
        entry["n_nearest_channels"] = min(entry["n_nearest_channels"], per_shank)
    if peth is None:
        chosen["motionEstimation"].update(NO_PETH_FEATURES)
    return sessions, chosen


def _refusal_is_right(params: dict):
    """Which refusals this random folder deserves. The plausibility checks refuse a probe
    whose footprints are no smoother along it than chance, which is right when most units
    are noise rather than spikes, and spike trains faster than 1,000 spikes/s, which the
    burst trains below (up to 200 spikes in 50 ms) are."""
    kinds = [k for k in params["kinds"] if k in ("spike", "noise", "tiny")]
    mostly_noise = kinds and kinds.count("spike") / len(kinds) < 0.75

    def right(message: str) -> bool:
        if message.startswith("channel_locations.npy: for ") and "shuffled" in message:
            return bool(mostly_noise)
        return message.startswith("spike_times/: the median inter-spike interval is")

    return right


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(params=data_folders())
def test_random_small_folders_give_a_valid_result_or_a_clear_message(params):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        sessions, chosen = build(params, folder)
        may_refuse = _refusal_is_right(params)
        if params["via_cli"]:
            settings_file = Path(tmp) / "settings.json"
            settings_file.write_text(json.dumps(chosen))
            out = Path(tmp) / "out"
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = dant_main(
                    ["track", str(folder), "--settings", str(settings_file), "--output", str(out)]
                )
            last = err.getvalue().strip().splitlines()[-1]
            if code == 0:
                assert_valid_idx_cluster(np.load(out / "IdxCluster.npy"), sessions)
            else:
                assert code == 2 and may_refuse(last.removeprefix("error: ")), err.getvalue()
                assert last.startswith("error: ") and len(last) > len("error: ")
            return
        try:
            result, _ = track(folder, Settings.from_dict(chosen))
        except DantError as exc:
            assert may_refuse(str(exc)), f"valid data refused: {exc}"
            assert str(exc).strip()
            return
        assert_valid_idx_cluster(result.idx_cluster, sessions)
        assert np.isfinite(result.locations).all()
