"""End to end: the pipeline on demo data, its outputs, progress, cancel and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main as dant_main
from dant_core.dataset import load_dataset
from dant_core.errors import Cancelled
from dant_core.pipeline import run_tracking
from dant_core.progress import CancelToken
from dant_core.settings import Settings
from dant_core.synthetic import load_truth, make_demo

from .fixtures import pair_f1, truth_labels


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "data"
    make_demo(folder)  # the default demo, as `dant demo OUT` writes it
    return folder


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small") / "data"
    make_demo(folder, n_units=150, n_sessions=4, seed=3)
    return folder


def test_default_demo_is_tracked_accurately(demo, tmp_path, capsys):
    out = tmp_path / "out"
    assert dant_main(["track", str(demo), "--output", str(out)]) == 0
    summary = capsys.readouterr().out
    idx = np.load(out / "IdxCluster.npy")
    truth = load_truth(demo)
    assert pair_f1(idx, truth_labels(truth.neuron_id)) >= 0.95
    # The summary line reports what the files hold.
    assert f"{int(idx.max())} clusters" in summary
    # Motion is recovered (the demo's truth uses the engine's sign convention).
    motion = np.load(out / "motion_constant.npy")
    assert np.sqrt(np.mean((motion - truth.motion[1]) ** 2)) < 3.0


def test_output_files_follow_pydant_names_and_shapes(small_demo, tmp_path):
    out = tmp_path / "out"
    assert dant_main(["track", str(small_demo), "--output", str(out)]) == 0
    ds = load_dataset(small_demo)
    n, s = ds.n_units, ds.n_sessions
    idx = np.load(out / "IdxCluster.npy")
    assert idx.shape == (n,)
    assert set(np.unique(idx)) <= {-1, *range(1, int(idx.max()) + 1)}
    assert set(range(1, int(idx.max()) + 1)) <= set(np.unique(idx))
    cm = np.load(out / "ClusterMatrix.npy")
    assert cm.shape == (n, n) and cm.dtype == bool and cm.diagonal().all()
    mp = np.load(out / "MatchedPairs.npy")
    assert (mp[:, 0] < mp[:, 1]).all()
    assert all(idx[a] == idx[b] > 0 for a, b in mp)
    assert mp.shape[0] == (cm.sum() - n) // 2
    sm = np.load(out / "SimilarityMatrix.npy")
    assert sm.shape == (n, n) and np.allclose(sm, sm.T)
    assert np.load(out / "locations.npy").shape == (n, 3)
    assert np.load(out / "motion_constant.npy").shape == (s,)
    assert np.load(out / "waveforms_corrected.npy").shape == (n, ds.n_channels, ds.n_samples, 2)
    for name in (
        "SimilarityPairs",
        "SimilarityWeights",
        "SimilarityThreshold",
        "amplitude",
        "peak_channels",
        "unit_shanks",
        "auto_corr",
        "isi",
        "motion_linear",
        "motion_linear_scale",
        "CurationPairs",
        "CurationTypes",
        "CurationTypeNames",
        "RunTimeSec",
        "waveform_similarity_matrix",
        "AutoCorr_similarity_matrix",
        "ISI_similarity_matrix",
        "PETH_similarity_matrix",
    ):
        assert (out / f"{name}.npy").is_file(), name
    # No cluster keeps two units of one session after auto-curation.
    for k in range(1, int(idx.max()) + 1):
        sessions = ds.sessions[idx == k]
        assert np.unique(sessions).size == sessions.size


def test_progress_reports_stages_and_cancel_stops(small_demo):
    ds = load_dataset(small_demo)
    seen = []
    token = CancelToken()

    def progress(stage, done, total):
        seen.append((stage, done, total))
        assert 0 <= done <= total
        if stage == "Correcting waveforms" and done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        run_tracking(ds, Settings.defaults(), progress=progress, cancel=token)
    stages = {s for s, _, _ in seen}
    assert {"Overall", "Locating units", "Similarity"} <= stages
    # It stopped at the first check after the request: the final stages never ran.
    assert not any(s == "Overall" and d == t for s, d, t in seen)


@pytest.mark.parametrize(
    "changes",
    [
        {"waveformCorrection.linear_correction": True, "waveformCorrection.n_templates": 1},
        {"motionEstimation.stop_early": False, "motionEstimation.max_iter": 3},
        {"motionEstimation.repeat_last_feature_set": False},
        {"spikeLocation.location_algorithm": "center_of_mass", "centering_waveforms": True},
        {"clustering.features": ["Waveform", "ISI", "PETH"], "autoCuration.auto_split": False},
    ],
    ids=["linear-1template", "no-early-stop", "no-repeat", "com-centred", "isi-peth-nosplit"],
)
def test_setting_variants_still_track(small_demo, changes):
    ds = load_dataset(small_demo)
    settings = Settings.defaults()
    for key, value in changes.items():
        settings.set(key, value)
    result = run_tracking(ds, settings)
    truth = load_truth(small_demo)
    assert pair_f1(result.idx_cluster, truth_labels(truth.neuron_id)) >= 0.85
    if not settings.get("motionEstimation.repeat_last_feature_set"):
        assert len(result.shanks[0].passes) <= len(settings.motion_feature_sets())
    if settings.get("waveformCorrection.linear_correction"):
        assert result.shanks[0].corrected_waveforms.shape[0] == 1


def test_manual_motion_starts_the_loop(small_demo, tmp_path):
    ds = load_dataset(small_demo)
    truth = load_truth(small_demo)
    np.save(tmp_path / "motion.npy", truth.motion[1])
    settings = Settings.defaults()
    settings.set("motionEstimation.features", [["Waveform", "AutoCorr"]])
    settings.set("waveformCorrection.path_to_motion", str(tmp_path / "motion.npy"))
    result = run_tracking(ds, settings)
    np.testing.assert_allclose(result.shanks[0].initial_motion.constant, truth.motion[1])
    assert np.sqrt(np.mean((result.shanks[0].motion.constant - truth.motion[1]) ** 2)) < 3.0


def test_cli_bad_folder_is_one_clear_line_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dant_core.cli", "track", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "nope" in lines[0]


def test_cli_bad_setting_names_the_key(small_demo, tmp_path):
    bad = tmp_path / "settings.json"
    bad.write_text('{\n  // comment\n  "clustering": {"max_distance": -5}\n}\n')
    proc = subprocess.run(
        [sys.executable, "-m", "dant_core.cli", "track", str(small_demo), "--settings", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "clustering.max_distance" in proc.stderr and "Traceback" not in proc.stderr


def test_core_never_imports_qt():
    code = (
        "import sys, dant_core.pipeline, dant_core.cli, dant_core.results, dant_core.synthetic;"
        "print([m for m in sys.modules if m.startswith(('PyQt', 'pyqtgraph', 'dant_gui'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_demo_writes_truth_beside(tmp_path):
    assert dant_main(["demo", str(tmp_path / "d"), "--units", "80", "--sessions", "3"]) == 0
    assert (tmp_path / "d" / "waveform_all.npy").is_file()
    assert (tmp_path / "d_truth" / "gt_neuron_id.npy").is_file()
    assert not any(p.name.startswith("gt_") for p in Path(tmp_path / "d").rglob("*"))


def test_rerun_replaces_output_and_keeps_previous_curation(small_demo, tmp_path):
    out = tmp_path / "out"
    assert dant_main(["track", str(small_demo), "--output", str(out)]) == 0
    first = np.load(out / "IdxCluster.npy")
    (out / "curation.jsonl").write_text('{"action": "reject_unit", "unit": 0}\n')
    assert dant_main(["track", str(small_demo), "--output", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out / "IdxCluster.npy"), first)  # deterministic
    kept = list((out / "previous_runs").glob("*/curation.jsonl"))
    assert len(kept) == 1 and "reject_unit" in kept[0].read_text()
    assert not (out / "curation.jsonl").exists()  # the new automatic result starts clean
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_first_run_says_the_engine_is_compiling(small_demo, monkeypatch):
    """With numba's cache empty (here: as if), the run says why it is slow this time only."""
    from dant_core import features, pipeline

    ds = load_dataset(small_demo)
    run_tracking(ds, Settings.defaults())  # compiles into the cache if it is empty
    assert features.kernels_are_cached()
    logged = []
    run_tracking(ds, Settings.defaults(), log=logged.append)
    assert not any("compiling" in line for line in logged)

    monkeypatch.setattr(pipeline, "kernels_are_cached", lambda: False)
    logged.clear()
    run_tracking(ds, Settings.defaults(), log=logged.append)
    assert any("First run after installing: compiling" in line for line in logged)


def test_final_clustering_reuses_the_pass_it_goes_back_to(small_demo, monkeypatch):
    """After an early stop the final clustering runs on the waveforms of the pass before;
    reusing that pass's waveforms and waveform scores gives the very same result as
    recomputing them, with far fewer waveform pairs computed."""
    from dant_core import pipeline
    from dant_core.similarity import SimilarityComputer

    computed = []
    original = SimilarityComputer._computed_waveform_scores

    def counting(self, a, b):
        computed.append(a.size)
        return original(self, a, b)

    monkeypatch.setattr(SimilarityComputer, "_computed_waveform_scores", counting)
    ds = load_dataset(small_demo)
    logged = []
    reused = run_tracking(ds, Settings.defaults(), log=logged.append)
    assert any("Matches did not increase" in line for line in logged)  # the case under test
    with_reuse = sum(computed)

    computed.clear()
    monkeypatch.setattr(pipeline, "KEEP_PREVIOUS_PASS_BYTES", 0)
    recomputed = run_tracking(ds, Settings.defaults())
    final_pairs = recomputed.pairs.shape[0]
    assert sum(computed) - with_reuse > 0.9 * final_pairs
    np.testing.assert_array_equal(reused.idx_cluster, recomputed.idx_cluster)
    np.testing.assert_array_equal(reused.pairs, recomputed.pairs)
    np.testing.assert_array_equal(reused.scores, recomputed.scores)
    np.testing.assert_array_equal(reused.weights, recomputed.weights)
    np.testing.assert_array_equal(
        reused.shanks[0].corrected_waveforms, recomputed.shanks[0].corrected_waveforms
    )


def test_a_callers_thread_limit_is_kept_and_restored(small_demo):
    """The GUI caps numba's threads (every core but one) before run_tracking; with n_jobs -1
    ("every core") the run must not raise that cap, and it leaves the caller's limit as it was.
    """
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here: no cap to undo")
    ds = load_dataset(small_demo)
    seen = set()
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        run_tracking(ds, Settings.defaults(), progress=lambda *_: seen.add(numba.get_num_threads()))
        assert seen == {1}
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before)
    settings = Settings.defaults()
    settings.set("n_jobs", 1)
    seen.clear()
    run_tracking(ds, settings, progress=lambda *_: seen.add(numba.get_num_threads()))
    assert seen == {1} and numba.get_num_threads() == before  # n_jobs still caps, then undone
