"""Output.npz, ClusteringResults.npz, DistanceMatrix.npy: pyDANT's names, keys and shapes.

PYDANT below is what pyDANT 1.1.4 wrote for `make_demo(n_units=200, n_sessions=4, seed=3)`
with its default settings (benchmarks/_pydant_run.py; n = 200 units, p = 4101 candidate
pairs, f = 2 features): key -> (shape with n / p / f as names, dtype kind). pyDANT's
DistanceMatrix.npy equalled 1 / (1 + tanh(SimilarityMatrix.npy)) with a zero diagonal
exactly, and its good_matches_matrix equalled SimilarityMatrix > thres with a true diagonal.
"""

from __future__ import annotations

from pathlib import Path

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


# ----- Figures/ ------------------------------------------------------------------------

# pyDANT 1.1.4's figure files: a single-shank run (runDANT on make_demo(n_units=200,
# n_sessions=4, seed=3)) wrote all seven into Figures/; a multi-shank run (runDANTMultiShank
# on the shared fixture p2, shanks 1 and 2) wrote unitLocations.png into Figures/ and the
# six others into each Shank<ID>/Figures/.
PYDANT_RUN_FIGURES = ["unitLocations.png"]
PYDANT_SHANK_FIGURES = [
    "AllSimilarity.png",
    "FeatureScatter.png",
    "MatchedProbability.png",
    "Motion.png",
    "SimilarityDistribution.png",
    "SimilarityThresholdForCorrection.png",
]


def _pngs(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.png"))


def test_figures_have_pydants_names_and_are_valid_pngs(out):
    from dant_core.report.png import decode_png

    folder, _ = out
    names = sorted(f"Figures/{n}" for n in PYDANT_RUN_FIGURES + PYDANT_SHANK_FIGURES)
    assert _pngs(folder) == names
    for name in names:
        image = decode_png((folder / name).read_bytes())
        assert image.shape[2] == 3 and image.shape[0] >= 500 and image.shape[1] >= 700, name
        assert (image.min(axis=2) < 128).mean() > 0.005, name  # something is drawn


def test_export_redraws_the_cluster_figures_and_keeps_the_users_files(out, tmp_path):
    import json
    import shutil

    from dant_core.cli import main

    folder = Path(shutil.copytree(out[0], tmp_path / "out"))
    figures = folder / "Figures"
    before = {p.name: p.read_bytes() for p in figures.glob("*.png")}
    (figures / "my_notes.png").write_bytes(b"mine")
    (figures / "FeatureScatter.png").write_bytes(b"edited by the user")
    labels = np.load(folder / "IdxCluster.npy")
    t = "2026-01-01T00:00:00+00:00"
    lines = [  # take the first unit out of each of ten clusters
        json.dumps(
            {"action": "reject_unit", "unit": int(np.flatnonzero(labels == k)[0]), "time": t}
        )
        for k in np.unique(labels[labels > 0])[:10]
    ]
    (folder / "curation.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["export", str(folder)]) == 0
    after = {p.name: p.read_bytes() for p in figures.glob("*.png")}
    assert after["my_notes.png"] == b"mine"  # not ours: untouched
    kept = list((folder / "previous_runs").glob("*/Figures/FeatureScatter.png"))
    assert [k.read_bytes() for k in kept] == [b"edited by the user"]
    assert after["FeatureScatter.png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert after["MatchedProbability.png"] != before["MatchedProbability.png"]  # curated
    assert after["Motion.png"] == before["Motion.png"]  # does not depend on the clusters
    assert not [p for p in figures.iterdir() if p.name.startswith(".") and "tmp" in p.name]


def test_a_rerun_keeps_the_users_figures_in_previous_runs(tmp_path):
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings
    from dant_core.synthetic import make_demo

    make_demo(tmp_path / "data", n_units=60, n_sessions=3, seed=4)
    result = run_tracking(load_dataset(tmp_path / "data"), Settings.defaults())
    result.save(tmp_path / "out")
    (tmp_path / "out" / "Figures" / "annotated.png").write_bytes(b"mine")
    result.save(tmp_path / "out")
    kept = list((tmp_path / "out" / "previous_runs").glob("*/Figures/annotated.png"))
    assert [k.read_bytes() for k in kept] == [b"mine"]
    assert sorted(p.name for p in (tmp_path / "out" / "Figures").glob("*.png")) == sorted(
        PYDANT_RUN_FIGURES + PYDANT_SHANK_FIGURES
    )


# ----- Shank<ID>/ ----------------------------------------------------------------------

# What pyDANT 1.1.4's runDANTMultiShank wrote into each Shank<ID>/ (run on the shared
# fixture p2, two shanks; benchmarks/_pydant_run.py): file -> (shape with n = the shank's
# units, p its candidate pairs, f features, m matched pairs, c curation pairs, s sessions,
# a / i / q ACG / ISI / PETH bins, C / T / t channels / samples / templates; dtype kind),
# and the keys of its ClusteringResults.npz and Output.npz (as the single-shank ones).
PYDANT_SHANK_FILES = {
    "AutoCorr_similarity_matrix.npy": (("n", "n"), "f"),
    "ClusterMatrix.npy": (("n", "n"), "b"),
    "CurationPairs.npy": (("c", 2), "i"),
    "CurationTypeNames.npy": (("k",), "U"),
    "CurationTypes.npy": (("c",), "i"),
    "DistanceMatrix.npy": (("n", "n"), "f"),
    "ISI_similarity_matrix.npy": (("n", "n"), "f"),
    "IdxCluster.npy": (("n",), "i"),
    "MatchedPairs.npy": (("m", 2), "i"),
    "PETH_similarity_matrix.npy": (("n", "n"), "f"),
    "SimilarityMatrix.npy": (("n", "n"), "f"),
    "SimilarityPairs.npy": (("p", 2), "i"),
    "SimilarityThreshold.npy": ((), "f"),
    "SimilarityWeights.npy": (("f",), "f"),
    "amplitude.npy": (("n",), "f"),
    "auto_corr.npy": (("n", "a"), "f"),
    "isi.npy": (("n", "i"), "f"),
    "locations.npy": (("n", 3), "f"),
    "motion_constant.npy": (("s",), "f"),
    "motion_linear.npy": (("s",), "f"),
    "motion_linear_scale.npy": ((), "f"),
    "original_unit_indices.npy": (("n",), "i"),
    "peak_channels.npy": (("n",), "i"),
    "peth.npy": (("n", "q"), "f"),
    "unit_shanks.npy": (("n",), "i"),
    "waveform_similarity_matrix.npy": (("n", "n"), "f"),
    "waveforms_corrected.npy": (("n", "C", "T", "t"), "f"),
    "ClusteringResults.npz": None,
    "Output.npz": None,
}


@pytest.fixture(scope="module")
def two_shanks(tmp_path_factory):
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings
    from dant_core.synthetic import make_demo

    root = tmp_path_factory.mktemp("shanks")
    make_demo(root / "data", n_units=160, n_sessions=3, seed=1, n_shanks=2)
    result = run_tracking(load_dataset(root / "data"), Settings.defaults())
    assert len(result.shanks) == 2
    result.save(root / "out")
    return root / "out", result


def test_shank_folders_hold_pydants_files_keys_and_shapes(two_shanks):
    folder, result = two_shanks
    labels = np.load(folder / "IdxCluster.npy")
    top = {name: np.load(folder / name, mmap_mode="r") for name in ("auto_corr.npy", "isi.npy")}
    waves = np.load(folder / "waveforms_corrected.npy", mmap_mode="r")
    seen = []
    for sh in result.shanks:
        sub = folder / f"Shank{sh.shank_id}"
        files = sorted(p.name for p in sub.iterdir() if p.is_file() and p.name[0] != ".")
        assert files == sorted(PYDANT_SHANK_FILES), sub.name
        units = np.load(sub / "original_unit_indices.npy")
        np.testing.assert_array_equal(units, sh.units)
        seen.append(units)
        sizes = {
            "n": units.size,
            "p": np.load(sub / "SimilarityPairs.npy").shape[0],
            "f": len(result.feature_names),
            "m": np.load(sub / "MatchedPairs.npy").shape[0],
            "c": np.load(sub / "CurationPairs.npy").shape[0],
            "k": np.load(sub / "CurationTypeNames.npy").size,
            "s": result.n_sessions,
            "a": top["auto_corr.npy"].shape[1],
            "i": top["isi.npy"].shape[1],
            "q": result.features.peth.shape[1],
            "C": waves.shape[1],
            "T": waves.shape[2],
            "t": waves.shape[3],
        }
        for name, spec in PYDANT_SHANK_FILES.items():
            if spec is not None:
                _check(f"{sub.name}/{name}", np.load(sub / name), spec, sizes)
        with np.load(sub / "ClusteringResults.npz", allow_pickle=False) as z:
            assert sorted(z.files) == sorted(PYDANT_CLUSTERING)
            for key, spec in PYDANT_CLUSTERING.items():
                _check(key, z[key], spec, sizes)
        with np.load(sub / "Output.npz", allow_pickle=True) as z:
            output = z["arr_0"].item()  # the file this test's run just wrote
        assert sorted(output) == sorted(PYDANT_OUTPUT)
        # the shank's clusters are the run's, numbered 1..K within the shank
        local = np.load(sub / "IdxCluster.npy")
        same_local = (local[:, None] == local[None, :]) & (local[:, None] > 0)
        glob = labels[units]
        np.testing.assert_array_equal(
            same_local, (glob[:, None] == glob[None, :]) & (glob[:, None] > 0)
        )
        assert set(local[local > 0]) == set(range(1, local.max() + 1))
        np.testing.assert_array_equal(
            np.load(sub / "SimilarityMatrix.npy"),
            np.load(folder / "SimilarityMatrix.npy")[np.ix_(units, units)],
        )
        np.testing.assert_array_equal(np.load(sub / "waveforms_corrected.npy"), waves[units])
        pairs = np.load(sub / "SimilarityPairs.npy")
        assert pairs.min() >= 0 and pairs.max() < units.size
        assert sorted(p.name for p in (sub / "Figures").glob("*.png")) == PYDANT_SHANK_FIGURES
    assert np.array_equal(np.sort(np.concatenate(seen)), np.arange(labels.size))
    assert _pngs(folder / "Figures") == [f"{n}" for n in PYDANT_RUN_FIGURES]


def test_a_rerun_keeps_the_users_files_of_a_shank_folder_and_drops_our_large_ones(
    two_shanks, tmp_path, monkeypatch
):
    import shutil

    from dant_core import output_folder

    folder, result = two_shanks
    out = Path(shutil.copytree(folder, tmp_path / "out"))
    sub = f"Shank{result.shanks[0].shank_id}"
    np.save(out / sub / "my_analysis.npy", np.arange(5000.0))  # the user's, large
    monkeypatch.setattr(output_folder, "KEEP_PREVIOUS_MAX_BYTES", 4000)
    result.save(out)
    (kept,) = (out / "previous_runs").glob(f"*/{sub}")
    np.testing.assert_array_equal(np.load(kept / "my_analysis.npy"), np.arange(5000.0))
    assert (kept / "IdxCluster.npy").is_file()  # ours but small: kept
    assert not (kept / "waveforms_corrected.npy").exists()  # ours, large, unchanged: dropped
    assert (out / sub / "waveforms_corrected.npy").is_file()  # the new run's


def test_export_writes_the_curated_clusters_into_the_shank_folders(two_shanks, tmp_path):
    import json
    import shutil

    from dant_core.cli import main

    folder, result = two_shanks
    out = Path(shutil.copytree(folder, tmp_path / "out"))
    auto = np.load(out / "IdxCluster.npy")
    t = "2026-01-01T00:00:00+00:00"
    lines = [  # take the first unit out of each of six clusters (both shanks)
        json.dumps({"action": "reject_unit", "unit": int(np.flatnonzero(auto == k)[0]), "time": t})
        for k in np.unique(auto[auto > 0])[::4][:6]
    ]
    (out / "curation.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["export", str(out)]) == 0
    curated = np.load(out / "IdxCluster.npy")
    assert (curated > 0).sum() < (auto > 0).sum()
    for sh in result.shanks:
        sub = out / f"Shank{sh.shank_id}"
        units = np.load(sub / "original_unit_indices.npy")
        local = np.load(sub / "IdxCluster.npy")
        glob = curated[units]
        same = (local[:, None] == local[None, :]) & (local[:, None] > 0)
        np.testing.assert_array_equal(same, (glob[:, None] == glob[None, :]) & (glob[:, None] > 0))
        with np.load(sub / "Output.npz", allow_pickle=True) as z:
            output = z["arr_0"].item()  # written by this export
        np.testing.assert_array_equal(output["IdxCluster"], local)
        np.testing.assert_array_equal(output["MatchedPairs"], np.load(sub / "MatchedPairs.npy"))
        np.testing.assert_array_equal(
            np.load(sub / "ClusterMatrix.npy"), same | np.eye(units.size, dtype=bool)
        )
        assert output["NumClusters"] == local.max()


def test_figure_writes_are_all_or_nothing_per_folder(out, tmp_path, monkeypatch):
    import shutil

    from dant_core import atomic_file
    from dant_core.errors import DantError
    from dant_core.report.pydant_figures import CLUSTER_FIGURES, figure_files, write_figure_files

    folder, result = out
    copy = Path(shutil.copytree(folder, tmp_path / "out"))
    before = {p.name: p.read_bytes() for p in (copy / "Figures").iterdir()}
    labels = np.where(np.arange(result.n_units) % 3 == 0, -1, result.idx_cluster)
    files = figure_files(result, labels, CLUSTER_FIGURES)
    made = []
    real = atomic_file.create_temp_beside

    def full_disk_on_the_second(target):
        made.append(target)
        if len(made) == 2:
            raise OSError(28, "No space left on device")
        return real(target)

    monkeypatch.setattr(atomic_file, "create_temp_beside", full_disk_on_the_second)
    with pytest.raises(DantError, match="No space left on device"):
        write_figure_files(copy, files)
    after = {p.name: p.read_bytes() for p in (copy / "Figures").iterdir()}
    assert after == before  # no figure replaced, no temp file left
