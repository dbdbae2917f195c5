"""Tests of the synthetic ground-truth data folders (dant_core.synthetic)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dant_core.cli import main as dant_main
from dant_core.features import spike_train_features
from dant_core.synthetic import (
    SESSION_DURATION_S,
    DemoError,
    DemoTruth,
    _draw_presence,
    load_truth,
    make_demo,
    probe_geometry,
    truth_folder,
)

from .fixtures import find_fixtures

N_UNITS, N_SESSIONS = 1200, 12


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def load_folder(folder: Path) -> dict[str, np.ndarray]:
    data = {
        "waveform_all": np.load(folder / "waveform_all.npy"),
        "session_index": np.load(folder / "session_index.npy"),
        "channel_locations": np.load(folder / "channel_locations.npy"),
    }
    for name in ("channel_shanks", "peth"):
        if (folder / f"{name}.npy").exists():
            data[name] = np.load(folder / f"{name}.npy")
    n_unit = len(data["session_index"])
    data["spike_times"] = [np.load(folder / "spike_times" / f"Unit{k}.npy") for k in range(n_unit)]
    return data


def com_depth(waveforms: np.ndarray, locs: np.ndarray, n_near: int = 20) -> np.ndarray:
    """Peak-to-trough weighted centre of mass depth over the n_near channels nearest the peak."""
    ptt = np.ptp(waveforms, axis=2).astype(np.float64)
    peak = ptt.argmax(axis=1)
    dist = np.linalg.norm(locs[:, None, :] - locs[None, :, :], axis=2)
    near = np.argsort(dist, axis=1, kind="stable")[:, :n_near][peak]
    weight = np.take_along_axis(ptt, near, axis=1)
    return (weight * locs[near, 1]).sum(axis=1) / weight.sum(axis=1)


def unit_table(truth: DemoTruth, session_index: np.ndarray) -> np.ndarray:
    """(n_neuron, S) unit index of each neuron in each session, -1 when absent."""
    table = np.full((len(truth.neuron_positions), truth.n_sessions), -1, dtype=np.int64)
    table[truth.neuron_id, session_index - 1] = np.arange(len(session_index))
    return table


def row_corr(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    return x @ x.T


def isi_histograms(spike_times: list[np.ndarray]) -> np.ndarray:
    edges = np.logspace(0, 3, 31)  # 1 ms .. 1 s
    out = np.empty((len(spike_times), len(edges) - 1))
    for k, t in enumerate(spike_times):
        h, _ = np.histogram(np.diff(t), edges)
        out[k] = h / max(h.sum(), 1)
    return out


def pair_masks(truth: DemoTruth, session_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper-triangle masks: same neuron (other session) / other neuron in the same session."""
    ids = truth.neuron_id
    iu = np.triu_indices(len(ids), 1)
    same = ids[iu[0]] == ids[iu[1]]
    same_session = session_index[iu[0]] == session_index[iu[1]]
    return iu, same, ~same & same_session


# ------------------------------------------------------------------------------------------
# data sets (module scoped: each generated once)
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, DemoTruth, dict]:
    out = tmp_path_factory.mktemp("demo") / "data"
    calls: list[tuple[str, int, int]] = []
    truth = make_demo(
        out,
        n_units=N_UNITS,
        n_sessions=N_SESSIONS,
        seed=0,
        depth_dependent=True,
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    data = load_folder(out)
    data["progress_calls"] = calls
    return out, truth, data


@pytest.fixture(scope="module")
def multishank(tmp_path_factory) -> tuple[Path, DemoTruth, dict]:
    out = tmp_path_factory.mktemp("ms") / "data"
    truth = make_demo(out, n_units=300, n_sessions=4, seed=5, n_shanks=2)
    return out, truth, load_folder(out)


# ------------------------------------------------------------------------------------------
# format
# ------------------------------------------------------------------------------------------


def test_files_shapes_and_dtypes(demo):
    out, truth, data = demo
    wf = data["waveform_all"]
    assert wf.shape == (N_UNITS, 96, 90) and wf.dtype == np.float32
    si = data["session_index"]
    assert si.shape == (N_UNITS,) and si.dtype == np.int64
    assert set(np.unique(si)) == set(range(1, N_SESSIONS + 1))
    assert np.all(np.diff(si) >= 0)  # units ordered by session
    locs = data["channel_locations"]
    assert locs.shape == (96, 2) and locs.dtype == np.float64
    assert "channel_shanks" not in data  # single shank: not written
    peth = data["peth"]
    assert peth.shape == (N_UNITS, 120) and peth.dtype == np.float64
    assert np.all(peth >= 0) and np.all(np.isfinite(peth))
    assert len(list((out / "spike_times").glob("Unit*.npy"))) == N_UNITS
    assert np.all(np.isfinite(wf))

    assert truth.neuron_id.shape == (N_UNITS,) and truth.neuron_id.dtype == np.int64
    assert truth.motion.shape == (2, N_SESSIONS) and truth.motion.dtype == np.float64
    n_neuron = len(truth.neuron_positions)
    assert truth.neuron_positions.shape == (n_neuron, 3)
    # every neuron has at least one unit and at most one unit per session
    assert set(np.unique(truth.neuron_id)) == set(range(n_neuron))
    pairs = truth.neuron_id.astype(np.int64) * (N_SESSIONS + 1) + si
    assert len(np.unique(pairs)) == N_UNITS


def test_probe_geometry_matches_examples():
    locs, shanks = probe_geometry(96)
    assert locs[:4].tolist() == [[43, 0], [11, 0], [59, 20], [27, 20]]
    assert np.all(np.diff(locs[::2, 1]) == 20) and np.all(shanks == 1)
    locs2, shanks2 = probe_geometry(96, 2)
    assert np.array_equal(shanks2, np.repeat([1, 2], 48))
    assert np.array_equal(locs2[48:], locs2[:48] + [250.0, 0.0])
    full, _ = probe_geometry(384)
    assert full[:, 1].max() == 3820
    for name, (lo, sh) in {"p1": (locs, None), "p2": (locs2, shanks2)}.items():
        shared = find_fixtures()
        if shared is None:
            continue
        folder = shared / name
        assert np.array_equal(lo, np.load(folder / "channel_locations.npy"))
        if sh is not None:
            assert np.array_equal(sh, np.load(folder / "channel_shanks.npy"))


def test_amplitude_scale_and_alignment(demo):
    _, _, data = demo
    wf = data["waveform_all"]
    ptt = np.ptp(wf, axis=2)
    peak = ptt.argmax(axis=1)
    trace = wf[np.arange(len(wf)), peak]
    trough = -trace.min(axis=1)
    assert 25 < trough.min() and trough.max() < 450
    assert 80 < np.median(trough) < 200
    assert np.mean(trace.argmin(axis=1) == 30) > 0.9
    # noise floor comparable to the example data (~1.5 µV)
    assert 0.8 < wf[:, :, :8].std() < 3.0


def test_truth_beside_folder_and_roundtrip(demo):
    out, truth, _ = demo
    tf = truth_folder(out)
    assert tf == out.parent / "data_truth"
    assert tf.is_dir() and not (out / "data_truth").exists()
    assert not any(p.name.startswith("gt_") for p in out.iterdir())
    for name in ("gt_neuron_id.npy", "gt_motion.npy", "neuron_positions.npy"):
        assert (tf / name).is_file()
    loaded = load_truth(out)
    assert np.array_equal(loaded.neuron_id, truth.neuron_id)
    assert np.array_equal(loaded.motion, truth.motion)
    assert np.array_equal(loaded.neuron_positions, truth.neuron_positions)


def test_load_truth_missing(tmp_path):
    from dant_core.errors import DatasetError

    with pytest.raises(DatasetError, match="gt_neuron_id"):
        load_truth(tmp_path / "nothing")


def test_progress_reported(demo):
    calls = demo[2]["progress_calls"]
    stages = {c[0] for c in calls}
    assert {"waveforms", "spike times", "PETH"} <= stages
    assert all(0 <= done <= total for _, done, total in calls)
    assert ("spike times", N_UNITS, N_UNITS) in calls


def test_bad_arguments(tmp_path):
    with pytest.raises(DemoError, match="n_units: must be at least n_sessions"):
        make_demo(tmp_path / "a", n_units=3, n_sessions=5)
    with pytest.raises(DemoError, match="n_channels: must be a multiple of 2 \\* n_shanks"):
        make_demo(tmp_path / "b", n_units=50, n_sessions=2, n_shanks=2, n_channels=90)
    with pytest.raises(ValueError, match="drift_um"):  # still a ValueError for the API
        make_demo(tmp_path / "c", n_units=50, n_sessions=2, drift_um=-1)
    assert not any(tmp_path.iterdir())  # nothing written


@settings(max_examples=60, deadline=None)
@given(
    n_units=st.integers(1, 400),
    n_sessions=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_presence_counts(n_units, n_sessions, seed):
    n_units = max(n_units, n_sessions)
    presence = _draw_presence(np.random.default_rng(seed), n_units, n_sessions)
    assert presence.shape[1] == n_sessions
    assert presence.sum() == n_units
    assert presence.any(axis=0).all()  # every session holds a unit
    assert presence.any(axis=1).all()  # every neuron has a unit


def test_lifetimes_vary(demo):
    _, truth, data = demo
    table = unit_table(truth, data["session_index"]) >= 0
    n_present = table.sum(axis=1)
    assert np.mean(n_present <= 3) > 0.08  # short-lived neurons
    assert np.mean(n_present >= N_SESSIONS - 2) > 0.1  # long-lived ones
    first = table.argmax(axis=1)
    last = N_SESSIONS - 1 - table[:, ::-1].argmax(axis=1)
    assert np.any(first > 0) and np.any(last < N_SESSIONS - 1)  # appear and disappear
    gaps = (last - first + 1) - n_present
    assert np.mean(gaps > 0) > 0.2  # missed sessions inside the lifetime
    per_session = table.sum(axis=0)
    assert per_session.min() > 0.5 * N_UNITS / N_SESSIONS


# ------------------------------------------------------------------------------------------
# determinism
# ------------------------------------------------------------------------------------------


def test_deterministic(tmp_path):
    kw = dict(n_units=150, n_sessions=5, depth_dependent=True)
    t1 = make_demo(tmp_path / "a", seed=7, **kw)
    t2 = make_demo(tmp_path / "b", seed=7, **kw)
    t3 = make_demo(tmp_path / "c", seed=8, **kw)
    d1, d2, d3 = (load_folder(tmp_path / n) for n in "abc")
    for key in ("waveform_all", "session_index", "channel_locations", "peth"):
        assert np.array_equal(d1[key], d2[key]), key
    assert all(
        np.array_equal(a, b) for a, b in zip(d1["spike_times"], d2["spike_times"], strict=True)
    )
    assert np.array_equal(t1.neuron_id, t2.neuron_id)
    assert np.array_equal(t1.motion, t2.motion)
    assert np.array_equal(t1.neuron_positions, t2.neuron_positions)

    assert not np.array_equal(t1.motion, t3.motion)
    assert not np.array_equal(t1.neuron_positions[:5], t3.neuron_positions[:5])
    assert not np.array_equal(d1["spike_times"][0], d3["spike_times"][0])
    assert not np.array_equal(d1["waveform_all"][:5], d3["waveform_all"][:5])


def test_peth_option_changes_nothing_else(tmp_path):
    t1 = make_demo(tmp_path / "a", n_units=60, n_sessions=3, seed=2, with_peth=True)
    t2 = make_demo(tmp_path / "b", n_units=60, n_sessions=3, seed=2, with_peth=False)
    assert (tmp_path / "a" / "peth.npy").exists() and not (tmp_path / "b" / "peth.npy").exists()
    assert np.array_equal(t1.neuron_id, t2.neuron_id)
    assert np.array_equal(
        np.load(tmp_path / "a" / "waveform_all.npy"), np.load(tmp_path / "b" / "waveform_all.npy")
    )


def test_replace_renews_an_earlier_demo_and_keeps_other_files(tmp_path):
    out = tmp_path / "d"
    make_demo(out, n_units=80, n_sessions=4, n_shanks=2)
    (out / "DANT_Output").mkdir()
    (out / "DANT_Output" / "IdxCluster.npy").write_bytes(b"results")
    (out / "notes.txt").write_text("mine")
    (out / "spike_times" / "README").write_text("mine too")
    truth = make_demo(out, n_units=40, n_sessions=2, with_peth=False, replace=True)
    assert len(list((out / "spike_times").glob("Unit*.npy"))) == 40
    assert not (out / "channel_shanks.npy").exists() and not (out / "peth.npy").exists()
    assert np.load(out / "waveform_all.npy").shape[0] == 40
    assert np.array_equal(load_truth(out).neuron_id, truth.neuron_id)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "spike_times" / "README").read_text() == "mine too"
    assert (out / "DANT_Output" / "IdxCluster.npy").read_bytes() == b"results"
    # replace=True still refuses a folder that holds no demo
    other = tmp_path / "other"
    other.mkdir()
    (other / "waveform_all.npy").write_bytes(b"user data")
    with pytest.raises(DemoError, match="already holds a data folder"):
        make_demo(other, n_units=40, n_sessions=2, replace=True)
    assert (other / "waveform_all.npy").read_bytes() == b"user data"


def test_full_probe_channels(tmp_path):
    make_demo(tmp_path / "d", n_units=30, n_sessions=3, n_channels=384, with_peth=False)
    wf = np.load(tmp_path / "d" / "waveform_all.npy")
    locs = np.load(tmp_path / "d" / "channel_locations.npy")
    assert wf.shape == (30, 384, 90) and locs.shape == (384, 2)
    # units sit all along the 3.8 mm probe
    peak_y = locs[np.ptp(wf, axis=2).argmax(axis=1), 1]
    assert peak_y.max() - peak_y.min() > 1500


# ------------------------------------------------------------------------------------------
# the truth is visible in the data
# ------------------------------------------------------------------------------------------


def test_motion_convention(demo):
    _, truth, _ = demo
    k, b = truth.motion
    assert abs(b.mean()) < 1e-9 and abs(k.mean()) < 1e-9
    assert np.std(np.diff(b)) > 3.0  # the probe moved
    assert np.any(k != 0)  # depth_dependent=True


def test_rigid_drift_no_linear_term(tmp_path):
    truth = make_demo(tmp_path / "d", n_units=40, n_sessions=6, drift_um=10.0)
    assert np.all(truth.motion[0] == 0) and np.ptp(truth.motion[1]) > 5
    still = make_demo(tmp_path / "e", n_units=40, n_sessions=6, drift_um=0.0)
    assert np.all(still.motion == 0)


def test_drift_visible_in_centre_of_mass(demo):
    """Across session pairs, the mean COM shift of shared neurons follows the true motion."""
    _, truth, data = demo
    si = data["session_index"]
    com = com_depth(data["waveform_all"], data["channel_locations"])
    y = truth.neuron_positions[truth.neuron_id, 1]
    m = truth.motion_at(si, y)
    table = unit_table(truth, si)
    inner = (truth.neuron_positions[:, 1] > 100) & (truth.neuron_positions[:, 1] < 840)
    errors, true_shift = [], []
    for a in range(N_SESSIONS):
        for b in range(a + 1, N_SESSIONS):
            both = (table[:, a] >= 0) & (table[:, b] >= 0) & inner
            assert both.sum() >= 10
            ua, ub = table[both, a], table[both, b]
            errors.append(np.mean(com[ub] - com[ua]) - np.mean(m[ub] - m[ua]))
            true_shift.append(np.mean(m[ub] - m[ua]))
    errors, true_shift = np.abs(errors), np.abs(true_shift)
    assert true_shift.mean() > 5.0  # the test can tell drift from no drift
    assert errors.mean() < 2.5
    assert errors.max() < 6.0

    # and per unit, the COM tracks the apparent depth y + m (up to a per-neuron bias)
    inner_unit = inner[truth.neuron_id]
    assert np.corrcoef(com[inner_unit], (y + m)[inner_unit])[0, 1] > 0.99


def test_depth_dependent_motion_visible(tmp_path):
    """The linear term explains the COM residual left after removing the rigid part."""
    out = tmp_path / "d"
    truth = make_demo(
        out,
        n_units=1200,
        n_sessions=12,
        seed=3,
        depth_dependent=True,
        drift_um=20.0,
        with_peth=False,
    )
    si = np.load(out / "session_index.npy")
    com = com_depth(np.load(out / "waveform_all.npy"), np.load(out / "channel_locations.npy"))
    ids = truth.neuron_id
    y = truth.neuron_positions[ids, 1]
    residual, linear = [], []
    for n in np.unique(ids):
        u = np.flatnonzero(ids == n)
        if len(u) < 2 or not 100 < truth.neuron_positions[n, 1] < 840:
            continue
        b = truth.motion[1, si[u] - 1]
        lin = 0.001 * truth.motion[0, si[u] - 1] * y[u]
        residual.append((com[u] - com[u].mean()) - (b - b.mean()))
        linear.append(lin - lin.mean())
    residual, linear = np.concatenate(residual), np.concatenate(linear)
    slope = residual @ linear / (linear @ linear)
    assert linear.std() > 2.0
    assert 0.7 < slope < 1.3


def test_same_neuron_waveforms_more_similar(demo):
    _, truth, data = demo
    si = data["session_index"]
    wf = data["waveform_all"].reshape(N_UNITS, -1).astype(np.float64)
    corr = row_corr(wf)
    iu, same, other = pair_masks(truth, si)
    y = truth.neuron_positions[truth.neuron_id, 1]
    m = truth.motion_at(si, y)
    x = truth.neuron_positions[truth.neuron_id, 0]
    c = corr[iu]
    small_drift = np.abs(m[iu[0]] - m[iu[1]]) < 5
    near = (np.abs(y[iu[0]] - y[iu[1]]) < 30) & (np.abs(x[iu[0]] - x[iu[1]]) < 40)
    same_c = c[same & small_drift]
    other_c = c[other & near]
    assert len(same_c) > 100 and len(other_c) > 100
    assert np.median(same_c) > 0.95
    assert np.median(same_c) - np.median(other_c) > 0.15
    assert np.mean(same_c > np.median(other_c)) > 0.95
    # also over all session pairs, whatever the drift
    assert np.median(c[same]) > np.percentile(other_c, 75)


def test_spike_trains(demo):
    _, truth, data = demo
    trains = data["spike_times"]
    for t in trains:
        assert t.dtype == np.float64 and t.ndim == 1
        assert 0 < len(t) < 20_000
        assert np.all(np.diff(t) >= 1.5)  # absolute refractory period
        assert t[0] >= 0 and t[-1] <= SESSION_DURATION_S * 1000
    # rates log-normal across neurons: a symmetric spread of log rates over 1..40 Hz
    n_neuron = truth.neuron_id.max() + 1
    first_unit = np.unique(truth.neuron_id, return_index=True)[1]
    log_rate = np.log([len(trains[k]) / SESSION_DURATION_S for k in first_unit])
    assert len(log_rate) == n_neuron
    assert 1.0 < np.exp(log_rate.min()) and np.exp(log_rate.max()) < 40.0
    assert 0.4 < log_rate.std() < 1.0
    assert abs(np.mean(log_rate) - np.median(log_rate)) < 0.2
    # some neurons burst: many 2.5-9 ms intervals; most do not
    short = np.array([np.mean((np.diff(t) > 2.5) & (np.diff(t) < 9)) for t in trains])
    assert np.mean(short > 0.2) > 0.1 and np.mean(short < 0.05) > 0.3


def engine_acg(trains, window=300.0, binwidth=1.0, sigma=0.0) -> np.ndarray:
    """The engine's own ACG rows (dant_core.features), lags 0..window on the right half."""
    acg, _, _ = spike_train_features(trains, (window, binwidth, sigma), (100.0, 1.0, 1.0))
    return acg[:, acg.shape[1] // 2 :]


def poisson_like(trains, rng) -> list[np.ndarray]:
    """Poisson trains with the same spike counts over the same duration."""
    T = SESSION_DURATION_S * 1000
    return [np.sort(rng.uniform(0, T, len(t))) for t in trains]


def test_acg_has_a_refractory_dip(demo):
    """As in real neurons, hardly any spike follows another within 1.5 ms: the ACG's first
    lags are near zero next to its level at 10-50 ms."""
    trains = [t for t in demo[2]["spike_times"] if len(t) > 1000][:200]
    acg = engine_acg(trains, window=60.0)
    dip = acg[:, :2].mean(axis=1) / acg[:, 10:50].mean(axis=1)
    assert np.all(dip < 0.05)
    poisson = engine_acg(poisson_like(trains, np.random.default_rng(0)), window=60.0)
    assert np.median(poisson[:, 1] / poisson[:, 10:50].mean(axis=1)) > 0.7  # the test can fail


def test_acg_is_structured_not_noise(demo):
    """The ACG shape (1 ms bins, the engine's 5 ms smoothing) is a property of the neuron,
    not counting noise: the ACGs of the first and the second half of a recording agree,
    where a Poisson train's with the same number of spikes do not; and they decay smoothly
    over tens of ms (slow rate fluctuations), unlike a flat Poisson ACG."""
    trains = demo[2]["spike_times"][::4]
    half = SESSION_DURATION_S * 500

    def split_half_corr(ts):
        first = engine_acg([t[t < half] for t in ts], sigma=5.0)[:, 3:]
        second = engine_acg([t[t >= half] - half for t in ts], sigma=5.0)[:, 3:]
        return np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(first, second, strict=True)])

    ours = split_half_corr(trains)
    poisson = split_half_corr(poisson_like(trains, np.random.default_rng(1)))
    assert np.median(ours) > 0.6 and np.median(poisson) < 0.3
    acg = engine_acg(trains, sigma=5.0)
    decay = acg[:, 10:30].mean(axis=1) / acg[:, 250:].mean(axis=1)
    assert np.median(decay) > 1.15  # higher at 10-30 ms than at 250-300 ms


def test_same_neuron_autocorrelograms_more_similar(demo):
    """With the engine's own ACG feature, a neuron's ACG is alike across days (identity is
    informative, as in real data)."""
    _, truth, data = demo
    sub = np.arange(0, N_UNITS, 3)  # keep it quick
    trains = [data["spike_times"][k] for k in sub]
    sub_truth = DemoTruth(truth.neuron_id[sub], truth.motion, truth.neuron_positions)
    iu, same, other = pair_masks(sub_truth, data["session_index"][sub])
    acg = row_corr(engine_acg(trains, sigma=5.0))[iu]
    assert same.sum() > 50
    assert np.median(acg[same]) > 0.8
    assert np.median(acg[same]) - np.median(acg[other]) > 0.3


def test_peth_looks_like_a_stimulus_response(demo):
    """Baseline before the stimulus (bins 0-19 = -200..0 ms), nothing before the onset
    latency (>= 30 ms), a response after it, smooth across bins."""
    peth = demo[2]["peth"]
    base = peth[:, :20].mean(axis=1)
    early = peth[:, 20:22].mean(axis=1)  # 0-20 ms: before any latency
    response = np.abs(peth[:, 23:75] - base[:, None]).max(axis=1)
    assert np.median(np.abs(early - base) / (response + 1e-9)) < 0.2
    assert np.mean(response > 0.5 * base + 2.0) > 0.7  # most neurons respond
    excited = peth[:, 23:40].max(axis=1) > 2 * base + 3
    suppressed = peth[:, 30:70].mean(axis=1) < 0.6 * base
    assert np.mean(excited) > 0.4 and np.mean(suppressed) > 0.05
    # smooth across bins: neighbouring bins' changes agree (white noise would give -0.5)
    d = np.diff(peth, axis=1)
    lag1 = (d[:, 1:] * d[:, :-1]).sum(axis=1) / (d * d).sum(axis=1)
    assert np.median(lag1) > 0.5


def test_same_neuron_spike_statistics_more_similar(demo):
    _, truth, data = demo
    iu, same, other = pair_masks(truth, data["session_index"])
    isi = row_corr(isi_histograms(data["spike_times"]))[iu]
    assert np.median(isi[same]) > 0.9
    assert isi[same].mean() - isi[other].mean() > 0.4
    # rates stay close within a neuron
    n = np.array([len(t) for t in data["spike_times"]], dtype=float)
    ratio = np.abs(np.log(n[iu[0]] / n[iu[1]]))
    assert np.median(ratio[same]) < 0.15 < np.median(ratio[other])


def test_same_neuron_peth_more_similar(demo):
    _, truth, data = demo
    iu, same, other = pair_masks(truth, data["session_index"])
    c = row_corr(data["peth"])[iu]
    # neurons of one area respond alike (stimulus on, then off): other neurons correlate too
    assert np.median(c[same]) > 0.75
    assert np.median(c[same]) - np.median(c[other]) > 0.3


# ------------------------------------------------------------------------------------------
# multi-shank
# ------------------------------------------------------------------------------------------


def test_multishank(multishank):
    out, truth, data = multishank
    shanks = data["channel_shanks"]
    locs = data["channel_locations"]
    assert shanks.shape == (96,) and shanks.dtype == np.int64
    assert set(np.unique(shanks)) == {1, 2}
    assert data["waveform_all"].shape == (300, 96, 90)
    # the second shank is a copy of the first, 250 µm to the side
    assert np.array_equal(locs[shanks == 2], locs[shanks == 1] + [250.0, 0.0])
    neuron_shank = (truth.neuron_positions[:, 0] // 250).astype(np.int64) + 1
    assert set(np.unique(neuron_shank)) == {1, 2}  # neurons on both shanks
    assert 0.3 < np.mean(neuron_shank == 1) < 0.7
    peak = np.ptp(data["waveform_all"], axis=2).argmax(axis=1)
    assert np.array_equal(shanks[peak], neuron_shank[truth.neuron_id])
    # one motion for every shank
    assert truth.motion.shape == (2, 4)


# ------------------------------------------------------------------------------------------
# `dant demo`: bad options and folders that hold something (docs/errors.md, "dant demo")
# ------------------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def documented_demo_rows() -> dict[str, str]:
    """id -> exact message of the `DMnn` rows of docs/errors.md."""
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*(DM\d\d)\s*\|(.*)\|\s*$", line.strip())
        if m:
            message = re.split(r"(?<!\\)\|", m.group(2))[1].strip()
            rows[m.group(1)] = message.strip("`")
    return rows


def _existing_data_folder(root: Path) -> str:
    make_demo(root / "data", n_units=20, n_sessions=2, seed=1)
    return "data"


def _file_in_folder(root: Path) -> str:
    (root / "data").mkdir()
    (root / "data" / "thesis.docx").write_bytes(b"my thesis")
    return "data"


def _truth_in_the_way(root: Path) -> str:
    (root / "data_truth").mkdir()
    (root / "data_truth" / "notes.txt").write_text("mine")
    return "data"


def _a_file(root: Path) -> str:
    (root / "data").write_text("a file")
    return "data"


def _under_a_file(root: Path) -> str:
    (root / "afile").write_text("a file")
    return "afile/data"


DEMO_CASES = {
    "DM01": _existing_data_folder,
    "DM02": _file_in_folder,
    "DM03": _truth_in_the_way,
    "DM04": _a_file,
    "DM05": _under_a_file,
    "DM06": ["--units", "0"],
    "DM07": ["--units", "-5"],
    "DM08": ["--units", "1000000"],
    "DM09": ["--units", "5", "--sessions", "8"],
    "DM10": ["--sessions", "0"],
    "DM11": ["--sessions", "100000", "--units", "100000"],
    "DM12": ["--drift", "nan"],
    "DM13": ["--drift", "inf"],
    "DM14": ["--drift", "-1"],
    "DM15": ["--drift", "1e9"],
    "DM16": ["--jump", "nan"],
    "DM17": ["--jump=-inf"],
    "DM18": ["--jump", "1e6"],
    "DM19": ["--seed", "-1"],
    "DM20": ["--shanks", "0"],
    "DM21": ["--shanks", "100"],
}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_every_demo_case_is_documented():
    assert sorted(documented_demo_rows()) == sorted(DEMO_CASES)


@pytest.mark.parametrize("case_id", sorted(DEMO_CASES))
def test_demo_refuses_with_the_documented_message(case_id, tmp_path, capsys):
    """Exit 2, one `error:` line naming the option or folder, as docs/errors.md says; nothing
    in the folder changed and nothing left behind."""
    case = DEMO_CASES[case_id]
    if callable(case):
        args = [str(tmp_path / case(tmp_path)), "--units", "40", "--sessions", "2"]
    else:
        args = [str(tmp_path / "data"), *case]
    before = _snapshot(tmp_path)
    capsys.readouterr()
    assert dant_main(["demo", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = documented_demo_rows()[case_id].replace("{root}", str(tmp_path))
    assert err == [expected]
    assert _snapshot(tmp_path) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_demo_into_an_empty_folder_and_a_new_one(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for name in ("empty", "new/deeper"):
        assert dant_main(["demo", str(tmp_path / name), "--units", "30", "--sessions", "3"]) == 0
        assert len(list((tmp_path / name / "spike_times").glob("Unit*.npy"))) == 30
        assert load_truth(tmp_path / name).neuron_id.shape == (30,)
    assert not [p for p in tmp_path.rglob(".*")]  # no staging folder left behind


def test_a_failed_demo_leaves_nothing(tmp_path, monkeypatch):
    """The folder appears complete or not at all."""
    import dant_core.synthetic as synthetic

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(synthetic, "_write_truth", boom)
    with pytest.raises(OSError):
        make_demo(tmp_path / "d", n_units=30, n_sessions=3)
    assert list(tmp_path.iterdir()) == []


def test_a_disk_without_room_is_refused_first(tmp_path, monkeypatch, capsys):
    import dant_core.synthetic as synthetic

    class Usage:
        free = 10_000_000  # 10 MB

    monkeypatch.setattr(synthetic.shutil, "disk_usage", lambda path: Usage)
    out = tmp_path / "d"
    assert dant_main(["demo", str(out), "--units", "600"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: demo folder {out}: 600 units need about 39 MB, but the disk has 10 MB free; "
        "choose fewer units or another disk"
    )
    assert list(tmp_path.iterdir()) == []
