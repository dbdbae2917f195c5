"""A result read back from its folder keeps its large arrays in their files (issue 16): the
similarity graph memory-mapped, the corrected waveforms read per unit when a similarity is
asked, the centred waveforms centred when read; every value the same as the run's."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest

from dant_core import mapped_npz
from dant_core.centered_waveforms import CenteredWaveforms
from dant_core.dataset import load_dataset
from dant_core.dataset_preview import is_preview, preview_dataset, read_whole
from dant_core.lazy_similarity import LazySimilarityComputer, UnitRowsFile
from dant_core.mapped_npz import load_npz_mapped
from dant_core.npy_files import load_npz
from dant_core.pipeline import run_tracking
from dant_core.results import CORRECTED_FILE, load_result
from dant_core.settings import Settings
from dant_core.synthetic import make_demo
from dant_core.tracking_result import n_matched_pairs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lazy") / "data"
    make_demo(folder, n_units=160, n_sessions=4, seed=5)
    result = run_tracking(load_dataset(folder), Settings.defaults())
    result.save(folder / "DANT_Output")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mapped_npz, "MAP_AT_LEAST", 0)  # the demo's graph is small
        reopened = load_result(folder / "DANT_Output")
    return result, reopened


def _mapped(array) -> bool:
    """Whether the array's memory is a file mapping (not a copy in the process's heap)."""
    while array is not None:
        if isinstance(array, (np.memmap, mmap.mmap)):
            return True
        array = getattr(array, "base", None)
    return False


def test_the_similarity_graph_is_mapped_with_the_runs_values(runs):
    result, reopened = runs
    for name in ("pairs", "scores", "candidate", "pair_shank"):
        assert _mapped(getattr(reopened, name)), name
    assert reopened.scores.dtype == np.float32  # as saved: no widened copy
    assert np.array_equal(reopened.pairs, result.pairs)
    assert np.array_equal(reopened.scores, result.scores.astype(np.float32))
    assert np.array_equal(reopened.candidate, result.candidate)
    # every use widens them exactly: the weighted similarity is the saved scores' one
    assert np.array_equal(
        reopened.similarity, reopened.scores.astype(np.float64) @ reopened.weights[0]
    )


def test_the_corrected_waveforms_stay_in_their_file(runs):
    result, reopened = runs
    shank = reopened.shanks[0]
    assert isinstance(shank.computer, LazySimilarityComputer)
    assert _mapped(shank.corrected_waveforms)
    assert np.array_equal(shank.corrected_waveforms, result.shanks[0].corrected_waveforms)
    for unit in (0, 77, result.n_units - 1):
        assert np.array_equal(reopened.corrected_waveform(unit), result.corrected_waveform(unit))


def test_the_centred_waveforms_are_centred_when_read(tmp_path):
    folder = tmp_path / "data"
    make_demo(folder, n_units=60, n_sessions=3, seed=2)
    settings = Settings.defaults()
    settings.set("centering_waveforms", True)
    result = run_tracking(load_dataset(folder), settings)
    result.save(folder / "DANT_Output")
    waveforms = load_result(folder / "DANT_Output").features.waveforms
    assert isinstance(waveforms, CenteredWaveforms)
    assert waveforms.shape == result.features.waveforms.shape
    units = np.array([5, 3, 59])
    assert np.array_equal(waveforms[units], result.features.waveforms[units])
    assert np.array_equal(waveforms[7], result.features.waveforms[7])
    assert np.array_equal(waveforms[2:9, 4], result.features.waveforms[2:9, 4])
    assert np.array_equal(np.asarray(waveforms), result.features.waveforms)


def test_uncentred_waveforms_are_the_data_folders_not_a_copy(runs):
    result, reopened = runs
    dataset = load_dataset(result.data_folder)
    out = Path(result.data_folder) / "DANT_Output"
    waveforms = load_result(out, dataset).features.waveforms
    assert np.shares_memory(waveforms, dataset.waveforms)


def test_similarity_read_on_demand_is_the_runs(runs):
    result, reopened = runs
    labels = result.idx_cluster
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    for k in ids[np.argsort(-counts)][:4]:
        units = np.flatnonzero(labels == k)
        assert np.array_equal(
            reopened.similarity_block(units, units), result.similarity_block(units, units)
        )
    # a block large enough for the BLAS path (more than SMALL_BLOCK_PAIRS pairs)
    rows, cols = np.arange(0, 160, 1), np.arange(3, 160, 1)
    for feature in (None, "Waveform", "AutoCorr"):
        assert np.array_equal(
            reopened.similarity_block(rows, cols, feature),
            result.similarity_block(rows, cols, feature),
        )
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 160, 3000), rng.integers(0, 160, 3000)
    names = ("Waveform", "AutoCorr", "ISI")
    assert np.array_equal(
        reopened.shanks[0].computer.scores(a, b, names),
        result.shanks[0].computer.scores(a, b, names),
    )


def test_unit_rows_are_read_in_the_order_asked(runs, tmp_path):
    _, reopened = runs
    path = reopened.shanks[0].computer.rows.path
    whole = np.load(path)
    rows = UnitRowsFile(path)
    assert rows.shape == whole.shape and rows.dtype == whole.dtype
    asked = np.array([9, 3, 4, 5, 9, 0, 159])
    assert np.array_equal(rows.take(asked), whole[asked])
    assert rows.take([]).shape == (0, *whole.shape[1:])
    with pytest.raises(IndexError):
        rows.take([160])
    assert path.name == CORRECTED_FILE


def test_only_stored_large_members_are_mapped(tmp_path):
    big = np.arange(300_000, dtype=np.int64).reshape(-1, 3)
    small = np.arange(5.0)
    np.savez(tmp_path / "stored.npz", big=big, small=small)
    np.savez_compressed(tmp_path / "packed.npz", big=big, small=small)
    stored = load_npz_mapped(tmp_path / "stored.npz")
    assert _mapped(stored["big"]) and not _mapped(stored["small"])
    packed = load_npz_mapped(tmp_path / "packed.npz")
    assert not _mapped(packed["big"])
    for z in (stored, packed, load_npz(tmp_path / "stored.npz")):
        assert np.array_equal(z["big"], big) and np.array_equal(z["small"], small)
        assert sorted(z) == ["big", "small"]


def test_the_summary_counts_matched_pairs_without_listing_them(runs):
    result, reopened = runs
    for r in (result, reopened):
        assert r.summary()["matched_pairs"] == r.matched_pairs().shape[0] > 0
    assert n_matched_pairs(np.array([-1, 3, 3, 3, -1, 7, 7])) == 4
    assert n_matched_pairs(np.array([-1, -1])) == 0


def test_a_preview_of_the_data_folder_maps_its_waveforms_and_reads_no_spike_times(runs):
    result, _ = runs
    whole = load_dataset(result.data_folder)
    preview = preview_dataset(result.data_folder)
    assert _mapped(preview.waveforms) and not _mapped(whole.waveforms)
    assert preview.spike_times == () and preview.fingerprint is None
    assert np.array_equal(preview.waveforms, whole.waveforms)
    for name in ("sessions", "channel_locations", "channel_shanks", "peth"):
        assert np.array_equal(getattr(preview, name), getattr(whole, name)), name
    assert preview.summary() == whole.summary()
    # the result read with it is the same as with the whole dataset
    out = Path(result.data_folder) / "DANT_Output"
    a, b = load_result(out, preview), load_result(out, whole)
    units = np.flatnonzero(a.idx_cluster == a.idx_cluster.max())
    assert np.array_equal(a.similarity_block(units, units), b.similarity_block(units, units))
    assert np.array_equal(a.features.waveforms[units], b.features.waveforms[units])


def test_a_data_folder_the_preview_cannot_map_is_read_whole(tmp_path):
    folder = tmp_path / "data"
    make_demo(folder, n_units=30, n_sessions=3, seed=1)
    waveforms = np.load(folder / "waveform_all.npy")
    np.save(folder / "waveform_all.npy", waveforms.astype(np.float64))
    preview = preview_dataset(folder)
    assert not _mapped(preview.waveforms) and len(preview.spike_times) == 30


def test_a_run_reads_a_previewed_folder_whole(runs):
    result, _ = runs
    whole = load_dataset(result.data_folder)
    preview = preview_dataset(result.data_folder)
    assert is_preview(preview) and not is_preview(whole)
    assert read_whole(whole) is whole
    again = read_whole(preview)
    assert not is_preview(again) and len(again.spike_times) == whole.n_units
    assert all(
        np.array_equal(a, b) for a, b in zip(again.spike_times, whole.spike_times, strict=True)
    )
