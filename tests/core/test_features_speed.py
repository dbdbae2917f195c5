"""The scipy-free smoothing and graph helpers, and the batched per-unit features.

Gaussian smoothing and connected components replace scipy.ndimage / scipy.sparse.csgraph
(to keep them out of the start-up imports), so they are checked against scipy itself.
The batched, multi-threaded localisation and spike-train features are checked against a
plain unit-by-unit computation written with numpy and scipy.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d
from scipy.sparse.csgraph import connected_components as scipy_connected_components

from dant_core.autocuration import connected_components
from dant_core.dataset import load_dataset
from dant_core.errors import Cancelled
from dant_core.features import (
    compute_unit_features,
    gaussian_smooth,
    localize_unit,
    localize_units,
    peak_to_trough,
    spike_train_features,
)
from dant_core.progress import CancelToken
from dant_core.settings import Settings
from dant_core.synthetic import make_demo

# ---------------------------------------------------------------------------------------
# Gaussian smoothing


@pytest.mark.parametrize("sigma", [0.1, 0.4, 1.0, 2.5, 5.0, 7.3, 20.0])
@pytest.mark.parametrize("length", [1, 2, 3, 5, 8, 17, 40, 100, 300])
def test_gaussian_smooth_equals_scipy(sigma, length):
    rng = np.random.default_rng(int(sigma * 10) * 1000 + length)
    # Radii reach 80 samples, so many of these lines are shorter than the kernel.
    for values in (
        rng.standard_normal(length),
        rng.poisson(3.0, length).astype(np.float64),
        rng.uniform(-1e6, 1e6, length),
    ):
        ours = gaussian_smooth(values, sigma)
        ref = gaussian_filter1d(values, sigma)
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12 * np.abs(values).max())


def test_gaussian_smooth_leaves_its_input_alone_and_takes_slices():
    values = np.arange(20.0) ** 2
    before = values.copy()
    ours = gaussian_smooth(values[3:15], 1.5)
    np.testing.assert_array_equal(values, before)
    np.testing.assert_allclose(ours, gaussian_filter1d(before[3:15], 1.5), rtol=1e-12)


# ---------------------------------------------------------------------------------------
# Connected components


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_connected_components_equal_scipy_on_random_graphs():
    rng = np.random.default_rng(7)
    for _ in range(500):
        n = int(rng.integers(1, 45))
        density = rng.choice([0.0, 0.02, 0.05, 0.1, 0.3, 1.0])
        adjacency = rng.random((n, n)) < density
        if rng.random() < 0.5:  # autocuration passes a symmetric matrix with a true diagonal
            adjacency = adjacency | adjacency.T
            np.fill_diagonal(adjacency, True)
        n_ref, ref = scipy_connected_components(adjacency, directed=False)
        n_ours, ours = connected_components(adjacency)
        assert n_ours == n_ref
        assert _same_partition(ours, ref)
        # Exactly scipy's numbering: auto_curate keeps the cluster id for component 0.
        np.testing.assert_array_equal(ours, ref)


def test_connected_components_small_cases():
    assert connected_components(np.zeros((0, 0), dtype=bool))[0] == 0
    n, labels = connected_components(np.eye(3, dtype=bool))
    assert n == 3 and labels.tolist() == [0, 1, 2]
    only_one_direction = np.zeros((4, 4), dtype=bool)
    only_one_direction[3, 0] = True  # an edge is undirected whichever entry holds it
    n, labels = connected_components(only_one_direction)
    assert n == 3 and labels.tolist() == [0, 1, 2, 0]


# ---------------------------------------------------------------------------------------
# Batched features against a unit-by-unit computation


@pytest.fixture(scope="module")
def awkward_dataset(tmp_path_factory):
    """A small demo with the cases that take other paths: flat and zero waveforms, units
    with 0 or 1 spike, unsorted and repeated spike times, intervals on bin edges."""
    folder = tmp_path_factory.mktemp("features_speed") / "d"
    make_demo(folder, n_units=60, n_sessions=3, seed=1)
    ds = load_dataset(folder)
    waveforms = np.array(ds.waveforms)
    waveforms[4] = 0.0
    waveforms[9] = 3.5  # flat but not zero
    times = [np.array(t) for t in ds.spike_times]
    rng = np.random.default_rng(3)
    times[1] = np.zeros(0)
    times[2] = np.array([17.25])
    times[5] = rng.permutation(times[5])
    times[6] = np.sort(np.concatenate((times[6], times[6][:50])))
    times[7] = np.arange(0.0, 5000.0, 1.0)  # every interval on an ISI and ACG bin edge
    times[8] = np.cumsum(np.full(300, 100.0))  # intervals equal to the ISI window
    times[10] = np.array([5.0, 5.0])  # one zero interval
    times[11] = np.array([0.0, 1000.0])  # nothing within either window
    return dataclasses.replace(ds, waveforms=waveforms, spike_times=tuple(times))


def _reference_acg(t: np.ndarray, window: float, binwidth: float, sigma: float):
    """Autocorrelogram from all spike pairs with numpy, smoothed with scipy; None if empty."""
    n_bins = int(np.floor(window / binwidth)) + 1
    half = np.zeros(n_bins)
    reach = np.searchsorted(t, t + (n_bins + 0.5) * binwidth, side="right")
    for i in range(t.size):
        lag_bins = np.round((t[i + 1 : reach[i]] - t[i]) / binwidth)
        lag_bins = lag_bins[lag_bins < n_bins].astype(np.int64)
        half += np.bincount(lag_bins, minlength=n_bins)
    acg = np.concatenate((half[1:][::-1], half))
    if n_bins > 1 and sigma > 0:
        acg[: n_bins - 1] = gaussian_filter1d(acg[: n_bins - 1], sigma / binwidth)
        acg[n_bins:] = gaussian_filter1d(acg[n_bins:], sigma / binwidth)
    return acg / acg.max() if acg.max() > 0 else None


def _reference_isi(t: np.ndarray, window: float, binwidth: float, sigma: float):
    edges = np.append(np.arange(0, window, binwidth), window)
    hist = np.histogram(np.diff(t), bins=edges)[0].astype(np.float64)
    if hist.sum() == 0:
        return None
    freq = hist / hist.sum()
    return gaussian_filter1d(freq, sigma / binwidth) if sigma > 0 else freq


def _reference_spike_trains(dataset, acg_args, isi_args):
    n_unit = len(dataset.spike_times)
    n_acg = 2 * (int(np.floor(acg_args[0] / acg_args[1])) + 1) - 1
    n_isi = len(np.append(np.arange(0, isi_args[0], isi_args[1]), isi_args[0])) - 1
    auto_corr = np.zeros((n_unit, n_acg))
    isi = np.zeros((n_unit, n_isi))
    for k, times in enumerate(dataset.spike_times):
        t = np.sort(np.asarray(times, dtype=np.float64))
        if t.size < 2:
            continue
        t = t - t[0]
        acg = _reference_acg(t, *acg_args)
        if acg is not None:
            auto_corr[k] = acg
        hist = _reference_isi(t, *isi_args)
        if hist is not None:
            isi[k] = hist
    return auto_corr, isi


@pytest.mark.parametrize("algorithm", ["monopolar_triangulation", "center_of_mass"])
@pytest.mark.parametrize("n_nearest", [1, 20, 500])
def test_localize_units_equals_unit_by_unit(awkward_dataset, algorithm, n_nearest):
    ptt = peak_to_trough(awkward_dataset.waveforms)
    channels = awkward_dataset.channel_locations
    seen = []
    locations, amplitude = localize_units(
        ptt, channels, n_nearest, algorithm, progress=lambda *a: seen.append(a), chunk=7
    )
    for k in range(ptt.shape[0]):
        location, amp = localize_unit(ptt[k], channels, n_nearest, algorithm)
        np.testing.assert_allclose(locations[k], location, rtol=0, atol=1e-9)
        np.testing.assert_allclose(amplitude[k], amp, rtol=1e-12)
    assert seen[-1] == ("Locating units", ptt.shape[0], ptt.shape[0])
    assert [done for _, done, _ in seen] == sorted({done for _, done, _ in seen})


@pytest.mark.parametrize(
    "acg_args, isi_args",
    [
        ((300.0, 1.0, 5.0), (100.0, 1.0, 1.0)),  # the defaults
        ((50.0, 0.7, 0.0), (30.0, 2.5, 0.0)),  # no smoothing, uneven bin widths
        ((20.0, 20.0, 3.0), (10.0, 0.3, 4.0)),  # a single ACG bin; kernels longer than ISI
    ],
)
def test_spike_train_features_equal_unit_by_unit(awkward_dataset, acg_args, isi_args):
    ref_acg, ref_isi = _reference_spike_trains(awkward_dataset, acg_args, isi_args)
    auto_corr, isi, notes = spike_train_features(awkward_dataset.spike_times, acg_args, isi_args)
    np.testing.assert_allclose(auto_corr, ref_acg, rtol=0, atol=1e-12)
    np.testing.assert_allclose(isi, ref_isi, rtol=0, atol=1e-12)
    assert notes == [
        "unit 1 has 0 spike(s); its AutoCorr/ISI features are set to zero",
        "unit 2 has 1 spike(s); its AutoCorr/ISI features are set to zero",
    ]
    no_acg, isi_alone, _ = spike_train_features(awkward_dataset.spike_times, None, isi_args)
    assert no_acg is None
    np.testing.assert_array_equal(isi_alone, isi)


def test_spike_train_chunks_do_not_change_results(awkward_dataset):
    args = ((300.0, 1.0, 5.0), (100.0, 1.0, 1.0))
    whole = spike_train_features(awkward_dataset.spike_times, *args)
    seen = []
    pieces = spike_train_features(
        awkward_dataset.spike_times,
        *args,
        progress=lambda *a: seen.append(a),
        chunk=13,
        chunk_spikes=4000,
    )
    np.testing.assert_array_equal(pieces[0], whole[0])
    np.testing.assert_array_equal(pieces[1], whole[1])
    n_unit = len(awkward_dataset.spike_times)
    done = [d for _, d, _ in seen]
    assert done == sorted(set(done)) and done[-1] == n_unit and len(done) > n_unit // 13


def test_compute_unit_features_equals_unit_by_unit(awkward_dataset):
    settings = Settings.defaults()
    features = compute_unit_features(awkward_dataset, settings)
    ptt = peak_to_trough(awkward_dataset.waveforms)
    n_near = int(settings.get("spikeLocation.n_nearest_channels"))
    algorithm = settings.get("spikeLocation.location_algorithm")
    for k in range(ptt.shape[0]):
        location, amp = localize_unit(ptt[k], awkward_dataset.channel_locations, n_near, algorithm)
        np.testing.assert_allclose(features.locations[k], location, rtol=0, atol=1e-9)
        assert features.amplitude[k] == pytest.approx(amp, rel=1e-12)
    keys = ("window", "binwidth", "gaussian_sigma")
    acg_args = tuple(settings.get(f"autoCorr.{key}") for key in keys)
    isi_args = tuple(settings.get(f"ISI.{key}") for key in keys)
    ref_acg, ref_isi = _reference_spike_trains(awkward_dataset, acg_args, isi_args)
    np.testing.assert_allclose(features.auto_corr, ref_acg, rtol=0, atol=1e-12)
    np.testing.assert_allclose(features.isi, ref_isi, rtol=0, atol=1e-12)
    assert len(features.warnings) == 2


def test_compute_unit_features_can_be_cancelled(awkward_dataset):
    token = CancelToken()
    seen = []

    def progress(stage, done, total):
        seen.append(stage)
        if stage == "Locating units":
            token.cancel()

    with pytest.raises(Cancelled):
        compute_unit_features(awkward_dataset, Settings.defaults(), progress, token)
    # The localisation stopped at its first check after the request (the spike trains,
    # computed meanwhile in a helper thread, stop at theirs or were already done).
    assert seen.count("Locating units") == 1
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        compute_unit_features(awkward_dataset, Settings.defaults(), cancel=token)


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 1), (40, 96, 90), (7, 3, 82)])
def test_peak_to_trough_is_max_minus_min_over_samples(shape):
    from dant_core.features import peak_to_trough

    rng = np.random.default_rng(sum(shape))
    w = rng.normal(size=shape).astype(np.float32)
    w[0, 0] = -3.0  # a flat channel
    want = w.max(axis=-1) - w.min(axis=-1)
    got = peak_to_trough(w)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(peak_to_trough(w[:, ::2]), want[:, ::2])  # a strided view
    w64 = w.astype(np.float64)
    np.testing.assert_array_equal(peak_to_trough(w64), w64.max(axis=-1) - w64.min(axis=-1))
