"""Parity with pyDANT 1.1.4 on the shared fixtures, and accuracy against the truth."""

from __future__ import annotations

import numpy as np
import pytest

from dant_core.dataset import load_dataset
from dant_core.pipeline import run_tracking
from dant_core.settings import Settings

from .fixtures import fixtures_dir, pair_f1, truth_labels

CASES = [("p1", "pydant_A"), ("p1", "pydant_B"), ("p2", "pydant_multishank")]


@pytest.fixture(scope="module", params=CASES, ids=["-".join(c) for c in CASES])
def case(request):
    data, variant = request.param
    folder = fixtures_dir() / data
    reference = folder / variant
    settings = Settings.load(reference / "settings.json")
    settings.set("motionEstimation.initial_motion", "none")  # pyDANT-compatible mode
    settings.set("autoCuration.method", "pydant")
    result = run_tracking(load_dataset(folder), settings)
    truth = np.load(folder / "truth" / "gt_neuron_id.npy")
    return result, reference, truth


def test_clusters_agree_with_pydant(case):
    result, reference, _ = case
    assert pair_f1(result.idx_cluster, np.load(reference / "IdxCluster.npy")) >= 0.97


def test_accuracy_against_truth_not_below_pydant(case):
    result, reference, truth = case
    ours = pair_f1(result.idx_cluster, truth_labels(truth))
    theirs = pair_f1(np.load(reference / "IdxCluster.npy"), truth_labels(truth))
    assert ours >= theirs - 0.01


def test_motion_within_2um_of_pydant(case):
    result, reference, _ = case
    constant = np.atleast_2d(np.load(reference / "motion_constant.npy"))
    linear = np.atleast_2d(np.load(reference / "motion_linear.npy"))
    y = result.channel_locations[:, 1]
    for s, shank in enumerate(result.shanks):
        for depth in (y.min(), y.mean(), y.max()):
            theirs = 0.001 * linear[s] * depth + constant[s]
            assert np.abs(shank.motion.at_depth(depth) - theirs).max() < 2.0


def test_unit_locations_within_1um(case):
    result, reference, _ = case
    distance = np.linalg.norm(result.locations - np.load(reference / "locations.npy"), axis=1)
    assert np.mean(distance < 1.0) >= 0.99


def test_spike_train_features_equal(case):
    result, reference, _ = case
    for name, ours in (("auto_corr", result.features.auto_corr), ("isi", result.features.isi)):
        path = reference / f"{name}.npy"
        if ours is None or not path.is_file():
            continue
        theirs = np.load(path)
        if np.isnan(theirs).all():  # pyDANT writes NaN for a feature no setting uses
            continue
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_final_feature_weights_within_002(case):
    result, reference, _ = case
    theirs = np.atleast_2d(np.load(reference / "SimilarityWeights.npy"))
    assert np.abs(result.weights - theirs).max() <= 0.02


def test_threshold_close_to_pydant(case):
    result, reference, _ = case
    theirs = np.atleast_1d(np.load(reference / "SimilarityThreshold.npy"))
    assert np.abs(result.thresholds - theirs).max() < 0.05
