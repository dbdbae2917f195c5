"""Similarity scores (docs/method.md §3) against a direct, unit-by-unit reading of the spec."""

import numpy as np
import pytest

from dant_core.clustering import PAIR_TILE, depth_neighbour_pairs
from dant_core.features import nearest_channels, peak_to_trough
from dant_core.similarity import (
    MAX_SIMILARITY,
    ChannelNeighbourhoods,
    SimilarityComputer,
    SpikeTrainVectors,
    fisher_z,
)


def reference_waveform_score(templates, channel_locations, n_nearest, i, j):
    """max over templates t and directions of z(r(W_i[C_i], W_j[C_i])), (docs/method.md §3)."""
    best = -np.inf
    for w in templates:  # (n_unit, n_channel, n_sample)
        for a, b in ((i, j), (j, i)):
            peak = int(np.argmax(peak_to_trough(w[a][None])[0]))
            channels = nearest_channels(channel_locations, peak, n_nearest)
            x = w[a][channels].astype(np.float64).ravel()
            y = w[b][channels].astype(np.float64).ravel()
            if x.std() * y.std() <= 1e-12:
                z = 0.0
            else:
                r = np.corrcoef(x, y)[0, 1]
                z = float(np.arctanh(np.clip(r, -np.tanh(6), np.tanh(6))))
            best = max(best, z)
    return best


def probe(n_rows, shuffle_seed=None):
    """Two columns of channels, 20 µm apart in depth; optionally numbered out of order."""
    locations = np.array([[x, 20.0 * r] for r in range(n_rows) for x in (11.0, 43.0)])
    if shuffle_seed is not None:
        locations = locations[np.random.default_rng(shuffle_seed).permutation(len(locations))]
    return locations


def random_templates(rng, n_template, n_unit, channel_locations, n_sample=30):
    """Spatially localised random waveforms, some pairs near-identical, one unit flat."""
    n_channel = len(channel_locations)
    centre = rng.uniform(channel_locations[:, 1].min(), channel_locations[:, 1].max(), n_unit)
    shape = rng.normal(size=(n_unit, n_sample))
    decay = np.exp(-np.abs(channel_locations[None, :, 1] - centre[:, None]) / 40.0)
    noise = 0.05 * rng.normal(size=(n_unit, n_channel, n_sample))
    w = decay[:, :, None] * shape[:, None, :] + noise
    w[1] = w[0] + 1e-3 * rng.normal(size=w[0].shape)  # a near-duplicate pair
    w[2] = 0.0  # a flat unit: its correlations are undefined and count as 0
    out = np.stack(
        [w * (1 + 0.1 * t) + 0.02 * t * rng.normal(size=w.shape) for t in range(n_template)]
    )
    return out.astype(np.float32)


@pytest.mark.parametrize("n_template", [1, 2])
@pytest.mark.parametrize("shuffle_seed", [None, 3])
def test_waveform_pair_scores_match_the_spec(n_template, shuffle_seed):
    rng = np.random.default_rng(n_template)
    locations = probe(24, shuffle_seed)
    n_nearest = 10
    templates = random_templates(rng, n_template, 40, locations)
    computer = SimilarityComputer(
        templates, ChannelNeighbourhoods(locations, np.zeros(len(locations), int), n_nearest)
    )
    a, b = np.triu_indices(40, 1)
    got = computer.scores(a, b, ("Waveform",))[:, 0]
    want = [
        reference_waveform_score(templates, locations, n_nearest, i, j)
        for i, j in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert got[(a == 0) & (b == 1)][0] > 5  # the near-duplicate pair
    assert np.all(got[(a == 2) | (b == 2)] <= np.maximum(0, got.max()))  # flat unit: z from 0 only


@pytest.mark.parametrize("shuffle_seed", [None, 5])
def test_block_scores_agree_with_pair_scores(shuffle_seed):
    """Small blocks are the pair scores themselves; large ones (float32 BLAS) within 1e-3."""
    rng = np.random.default_rng(11)
    locations = probe(20, shuffle_seed)
    n_unit = 180
    templates = random_templates(rng, 2, n_unit, locations)
    peth = rng.normal(size=(n_unit, 25))
    computer = SimilarityComputer(
        templates,
        ChannelNeighbourhoods(locations, np.zeros(len(locations), int), 12),
        auto_corr=rng.normal(size=(n_unit, 50)),
        peth=peth,
    )
    names = ("Waveform", "AutoCorr", "PETH")
    rows = np.arange(n_unit)
    cols = rng.permutation(n_unit)[:150]  # not a contiguous run: the gathered path
    big = computer.block_scores(rows, cols, names)  # 27,000 pairs: the BLAS path
    ia, ib = np.meshgrid(rows, cols, indexing="ij")
    pairs = computer.scores(ia.ravel(), ib.ravel(), names).reshape(big.shape)
    np.testing.assert_allclose(big, pairs, rtol=0, atol=1e-3)
    square = computer.block_scores(rows, rows, names)
    assert np.all(square[rows, rows] == MAX_SIMILARITY)
    np.testing.assert_allclose(square, np.swapaxes(square, 0, 1), atol=1e-12)
    small = computer.block_scores(rows[:30], cols[:30], names)  # pair by pair
    np.testing.assert_array_equal(small, pairs[:30, :30])


def test_fisher_z_clips_and_zeroes_undefined():
    r = np.array([0.0, 0.5, -0.5, 1.0, -1.0, np.nan, 0.999999999])
    z = fisher_z(r)
    np.testing.assert_allclose(z[:3], np.arctanh(r[:3]), rtol=1e-15)
    assert z[3] == pytest.approx(6.0) and z[4] == pytest.approx(-6.0)
    assert z[5] == 0.0 and z[6] == pytest.approx(6.0)
    column = np.zeros((r.size, 2))
    fisher_z(r, out=column[:, 1])
    np.testing.assert_array_equal(column[:, 1], z)
    np.testing.assert_array_equal(fisher_z(r.reshape(7, 1)).ravel(), z)


@pytest.mark.parametrize("n", [0, 1, 2, PAIR_TILE - 1, PAIR_TILE, 3 * PAIR_TILE + 5, 500])
def test_depth_neighbour_pairs_are_exactly_the_pairs_within_the_window(n):
    rng = np.random.default_rng(n)
    depths = np.round(rng.uniform(0, 400, n), 0)  # rounding makes ties
    window = 35.0
    pairs = depth_neighbour_pairs(depths, window)
    assert pairs.dtype == np.int32 and pairs.shape[1] == 2
    assert np.all(pairs[:, 0] < pairs[:, 1])
    got = {tuple(p) for p in pairs.tolist()}
    assert len(got) == len(pairs)  # no pair twice
    i, j = np.triu_indices(n, 1)
    want = {
        (a, b)
        for a, b in zip(i.tolist(), j.tolist(), strict=True)
        if abs(depths[a] - depths[b]) <= window
    }
    assert got == want
    np.testing.assert_array_equal(pairs, depth_neighbour_pairs(depths, window))  # deterministic


def test_graph_scores_in_chunks_equal_one_call_and_stop_on_cancel(monkeypatch):
    from dant_core import clustering
    from dant_core.progress import Cancelled, CancelToken

    rng = np.random.default_rng(4)
    locations = probe(12)
    templates = random_templates(rng, 2, 60, locations)
    computer = SimilarityComputer(
        templates,
        ChannelNeighbourhoods(locations, np.zeros(len(locations), int), 8),
        auto_corr=rng.normal(size=(60, 20)),
    )
    pairs = depth_neighbour_pairs(rng.uniform(0, 240, 60), 60.0)
    names = ("Waveform", "AutoCorr")
    whole = computer.scores(pairs[:, 0], pairs[:, 1], names)
    monkeypatch.setattr(clustering, "SCORE_CHUNK", 7)
    seen = []
    chunked = clustering.graph_scores(
        computer, pairs, names, progress=lambda *a: seen.append(a), cancel=CancelToken()
    )
    np.testing.assert_array_equal(chunked, whole)
    n = len(pairs)
    assert seen[0] == ("Similarity", 0, n) and seen[-1] == ("Similarity", n, n)
    assert len(seen) == 1 + -(-len(pairs) // 7)

    token = CancelToken()

    def cancel_after_first_chunk(stage, done, total):
        if done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        clustering.graph_scores(computer, pairs, names, cancel_after_first_chunk, token)


def test_remembered_waveform_scores_are_used_and_the_rest_computed():
    """A run's waveform scores handed to a computer on the same waveforms are read back (in
    either pair orientation) instead of recomputed; pairs not handed over are computed."""
    rng = np.random.default_rng(4)
    locations = probe(16)
    templates = random_templates(rng, 2, 60, locations)
    hood = ChannelNeighbourhoods(locations, np.zeros(len(locations), int), 8)
    fresh = SimilarityComputer(templates, hood)
    a, b = np.triu_indices(60, 1)
    want = fresh.scores(a, b, ("Waveform",))[:, 0]

    reusing = SimilarityComputer(templates, hood)
    known = rng.random(a.size) < 0.5
    marked = want.copy()
    marked[known] += 100.0  # marked, so a value that is read back is told from a recomputed one
    reusing.remember_waveform_scores(a[known], b[known], marked[known])
    flip = rng.random(a.size) < 0.5  # asked as (j, i) as well as (i, j)
    got = reusing.scores(np.where(flip, b, a), np.where(flip, a, b), ("Waveform",))[:, 0]
    np.testing.assert_array_equal(got[known], marked[known])
    np.testing.assert_array_equal(got[~known], want[~known])


def test_shared_spike_train_vectors_give_the_same_scores():
    """One SpikeTrainVectors serves every pass: a computer built on it scores as one built
    on the raw features, and the AutoCorr score is the Fisher z of Pearson r."""
    rng = np.random.default_rng(8)
    locations = probe(12)
    templates = random_templates(rng, 1, 70, locations)
    hood = ChannelNeighbourhoods(locations, np.zeros(len(locations), int), 6)
    auto_corr = rng.random((70, 41))
    auto_corr[5] = 0.3  # a flat row: r 0, score 0, with everything
    peth = rng.normal(size=(70, 12))
    trains = SpikeTrainVectors(auto_corr=auto_corr, peth=peth)
    a, b = np.triu_indices(70, 1)
    names = ("AutoCorr", "PETH")
    shared = SimilarityComputer(templates, hood, trains=trains).scores(a, b, names)
    own = SimilarityComputer(templates, hood, auto_corr=auto_corr, peth=peth).scores(a, b, names)
    np.testing.assert_array_equal(shared, own)
    flat = (a == 5) | (b == 5)
    np.testing.assert_array_equal(shared[flat, 0], 0.0)
    r = np.array(
        [
            np.corrcoef(auto_corr[i], auto_corr[j])[0, 1]
            for i, j in zip(a[~flat], b[~flat], strict=True)
        ]
    )
    np.testing.assert_allclose(shared[~flat, 0], np.arctanh(r), rtol=0, atol=1e-12)
