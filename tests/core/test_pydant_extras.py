"""Output.npz, ClusteringResults.npz, DistanceMatrix.npy: pyDANT's names, keys and shapes.

PYDANT below is what pyDANT 1.1.4 wrote for `make_demo(n_units=200, n_sessions=4, seed=3)`
with its default settings (benchmarks/_pydant_run.py; n = 200 units, p = 4101 candidate
pairs, f = 2 features): key -> (shape with n / p / f as names, dtype kind). pyDANT's
DistanceMatrix.npy equalled 1 / (1 + tanh(SimilarityMatrix.npy)) with a zero diagonal
exactly, and its good_matches_matrix equalled SimilarityMatrix > thres with a true diagonal.
"""

from __future__ import annotations

import numpy as np
import pytest

PYDANT_OUTPUT = {
    "NumClusters": ((), "i"),
    "NumUnits": ((), "i"),
    "IdxSort": (("n",), "i"),
    "IdxCluster": (("n",), "i"),
    "SimilarityMatrix": (("n", "n"), "f"),
    "GoodMatchesMatrix": (("n", "n"), "b"),
    "ClusterMatrix": (("n", "n"), "b"),
    "MatchedPairs": (("m", 2), "i"),
    "Params": (None, "dict"),
    "NumSession": ((), "i"),
    "Sessions": (("n",), "i"),
}
PYDANT_CLUSTERING = {
    "weights": (("f",), "f"),
    "similarity_all": (("p", "f"), "f"),
    "idx_unit_pairs": (("p", 2), "i"),
    "thres": ((), "f"),
    "good_matches_matrix": (("n", "n"), "b"),
    "similarity_matrix": (("n", "n"), "f"),
    "distance_matrix": (("n", "n"), "f"),
    "leafOrder": (("n",), "i"),
    "idx_cluster_hdbscan": (("n",), "i"),
    "hdbscan_matrix": (("n", "n"), "b"),
    "n_cluster": ((), "i"),
}


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings
    from dant_core.synthetic import make_demo

    root = tmp_path_factory.mktemp("extras")
    make_demo(root / "data", n_units=200, n_sessions=4, seed=3)
    result = run_tracking(load_dataset(root / "data"), Settings.defaults())
    result.save(root / "out")
    return root / "out", result


def _check(name, value, spec, sizes):
    shape, kind = spec
    if kind == "dict":
        assert isinstance(value, dict), name
        return
    value = np.asarray(value)
    expected = tuple(sizes.get(s, s) for s in shape)
    assert value.shape == expected, (name, value.shape, expected)
    assert value.dtype.kind == kind or (kind == "i" and value.dtype.kind == "u"), name


def test_names_keys_and_shapes_are_pydants(out):
    folder, result = out
    n, f = result.n_units, len(result.feature_names)
    labels = np.load(folder / "IdxCluster.npy")
    with np.load(folder / "ClusteringResults.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(PYDANT_CLUSTERING)
        p = z["idx_unit_pairs"].shape[0]
        sizes = {"n": n, "p": p, "f": f}
        for key, spec in PYDANT_CLUSTERING.items():
            _check(key, z[key], spec, sizes)
        sim = z["similarity_matrix"]
        np.testing.assert_array_equal(
            z["similarity_matrix"], np.load(folder / "SimilarityMatrix.npy")
        )
        good = z["good_matches_matrix"]
        np.testing.assert_array_equal(good, (sim > z["thres"]) | np.eye(n, dtype=bool))
        np.testing.assert_array_equal(z["idx_cluster_hdbscan"], result.idx_cluster_auto)
    expected = 1.0 / (1.0 + np.tanh(sim))
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(np.load(folder / "DistanceMatrix.npy"), expected)
    # Output.npz is a pickle because pyDANT's is; this test reads the one we just wrote.
    with np.load(folder / "Output.npz", allow_pickle=True) as z:
        assert z.files == ["arr_0"]
        output = z["arr_0"].item()
    assert sorted(output) == sorted(PYDANT_OUTPUT)
    sizes["m"] = np.asarray(output["MatchedPairs"]).shape[0]
    for key, spec in PYDANT_OUTPUT.items():
        _check(key, output[key], spec, sizes)
    np.testing.assert_array_equal(output["IdxCluster"], labels)
    np.testing.assert_array_equal(output["MatchedPairs"], np.load(folder / "MatchedPairs.npy"))
    assert output["NumClusters"] == labels.max() and output["NumSession"] == 4


def test_pydants_own_output_has_these_keys_when_available():
    """When the shared fixtures hold a pyDANT run with Output.npz, its keys are the recorded
    ones (a guard that PYDANT_OUTPUT is pyDANT's, not ours)."""
    from tests.core.fixtures import fixtures_dir

    folder = fixtures_dir() / "p1" / "pydant_A"
    with np.load(folder / "ClusteringResults.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(PYDANT_CLUSTERING)
