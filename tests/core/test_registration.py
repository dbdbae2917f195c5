"""The motion initialiser: sessions registered by their unit distributions (large drift)."""

from __future__ import annotations

import numpy as np
import pytest

from dant_core.dataset import load_dataset
from dant_core.features import compute_unit_features, peak_to_trough
from dant_core.pipeline import run_tracking
from dant_core.registration import register_sessions
from dant_core.settings import Settings
from dant_core.synthetic import load_truth, make_demo

from .fixtures import fixtures_dir, pair_f1, truth_labels


def _rms(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def _large_drift_settings(initial: str) -> Settings:
    """Waveform and ACG only (no PETH), as a new user tracking a drifting probe would."""
    s = Settings.defaults()
    s.set("motionEstimation.features", [["Waveform", "AutoCorr"]])
    s.set("clustering.features", ["Waveform", "AutoCorr"])
    s.set("motionEstimation.initial_motion", initial)
    return s


@pytest.fixture(scope="module", params=[5, 8, 11])
def large_drift(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"drift{request.param}") / "data"
    make_demo(
        folder,
        n_units=600,
        n_sessions=10,
        drift_um=30.0,
        jump_um=60.0,
        with_peth=False,
        seed=request.param,
    )
    return folder


def test_registration_alone_recovers_the_drift(large_drift):
    ds = load_dataset(large_drift)
    features = compute_unit_features(ds, Settings.defaults())
    motion = register_sessions(
        features.locations, peak_to_trough(ds.waveforms).max(axis=1), ds.sessions, ds.n_sessions
    )
    truth = load_truth(large_drift).motion[1]
    assert np.ptp(truth) > 60  # the regime this is for: tens of µm between sessions
    assert _rms(motion.constant, truth) < 3.0


def test_large_drift_is_tracked_with_the_initialiser(large_drift):
    result = run_tracking(load_dataset(large_drift), _large_drift_settings("registration"))
    truth = load_truth(large_drift)
    assert pair_f1(result.idx_cluster, truth_labels(truth.neuron_id)) >= 0.90
    assert _rms(result.shanks[0].motion.constant, truth.motion[1]) <= 3.0
    # The starting motion is kept beside the final one (the drift view shows both).
    assert np.ptp(result.shanks[0].initial_motion.constant) > 30


def test_without_the_initialiser_a_known_case_fails(tmp_path):
    """Seed 0 is a case where the match-based loop alone locks onto a wrong motion (F1 0.66,
    motion 56 µm RMS off; 0.97 with the initialiser)."""
    folder = tmp_path / "data"
    make_demo(
        folder, n_units=600, n_sessions=10, drift_um=30.0, jump_um=60.0, with_peth=False, seed=0
    )
    truth = load_truth(folder)
    off = run_tracking(load_dataset(folder), _large_drift_settings("none"))
    on = run_tracking(load_dataset(folder), _large_drift_settings("registration"))
    f1_off = pair_f1(off.idx_cluster, truth_labels(truth.neuron_id))
    f1_on = pair_f1(on.idx_cluster, truth_labels(truth.neuron_id))
    assert f1_on >= 0.95 and f1_on > f1_off + 0.1
    assert _rms(off.shanks[0].motion.constant, truth.motion[1]) > 10


CASES = [("p1", "pydant_A"), ("p1", "pydant_B"), ("p2", "pydant_multishank")]


@pytest.mark.parametrize("data,variant", CASES)
def test_no_loss_on_parity_fixtures(data, variant):
    folder = fixtures_dir() / data
    truth = truth_labels(np.load(folder / "truth" / "gt_neuron_id.npy"))
    scores = {}
    for initial in ("none", "registration"):
        settings = Settings.load(folder / variant / "settings.json")
        settings.set("motionEstimation.initial_motion", initial)
        scores[initial] = pair_f1(run_tracking(load_dataset(folder), settings).idx_cluster, truth)
    assert scores["registration"] >= scores["none"] - 0.005


def test_no_loss_on_default_demo(tmp_path):
    folder = tmp_path / "data"
    make_demo(folder)
    truth = truth_labels(load_truth(folder).neuron_id)
    scores = {}
    for initial in ("none", "registration"):
        settings = Settings.defaults()
        settings.set("motionEstimation.initial_motion", initial)
        scores[initial] = pair_f1(run_tracking(load_dataset(folder), settings).idx_cluster, truth)
    assert scores["registration"] >= scores["none"] - 0.005
