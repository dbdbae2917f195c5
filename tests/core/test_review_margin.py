"""The review margin against the amplitude-dependent threshold (issue 15): a pair's margin is
its similarity minus the threshold at its amplitude, the same after reopening the result."""

from __future__ import annotations

import numpy as np
import pytest

from dant_core.dataset import load_dataset
from dant_core.features import peak_to_trough
from dant_core.pipeline import run_tracking
from dant_core.results import load_result
from dant_core.review import cluster_margin, threshold_curve_of
from dant_core.settings import Settings
from dant_core.synthetic import make_demo


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("margin") / "data"
    make_demo(folder, n_units=160, n_sessions=4, seed=11)
    settings = Settings.defaults()
    settings.set("autoCuration.method", "adaptive")
    result = run_tracking(load_dataset(folder), settings)
    result.save(folder / "DANT_Output")
    return result, load_result(folder / "DANT_Output")


def test_a_pair_margin_is_its_similarity_minus_the_threshold_at_its_amplitude(runs):
    result, _ = runs
    labels = result.idx_cluster
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    pairs = ids[counts == 2]
    assert pairs.size, "the demo has clusters of two units"
    checked = 0
    for k in pairs[:5]:
        a, b = np.flatnonzero(labels == k)
        curve = threshold_curve_of(result, a)
        assert curve is not None and curve.log_amplitude.size > 0
        amp = peak_to_trough(np.asarray(result.features.waveforms[[a, b]])).max(axis=1)
        expected = result.similarity_block([a], [b])[0, 0] - curve.at(np.log(amp.max()))
        assert cluster_margin(result, np.array([a, b])) == pytest.approx(expected)
        # not the global threshold's margin (the curve moves the threshold with amplitude)
        checked += not np.isclose(
            expected, result.similarity_block([a], [b])[0, 0] - result.threshold_of(a)
        )
    assert checked


def test_a_reopened_result_has_the_same_margins(runs):
    result, reopened = runs
    assert threshold_curve_of(reopened, 0) is not None
    labels = result.idx_cluster
    for k in np.unique(labels[labels > 0])[:20]:
        units = np.flatnonzero(labels == k)
        assert cluster_margin(reopened, units) == pytest.approx(cluster_margin(result, units))
