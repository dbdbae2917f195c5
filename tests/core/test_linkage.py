"""Sparse single-linkage HDBSCAN and leaf order, checked against scikit-learn and scipy."""

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, leaves_list, linkage, optimal_leaf_ordering
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from scipy.spatial.distance import squareform
from sklearn.cluster import HDBSCAN
from sklearn.cluster._hdbscan._tree import HIERARCHY_dtype, tree_to_labels

from dant_core.linkage import (
    _check_graph,
    _hierarchy,
    _leaf_order,
    _spanning_forest,
    hdbscan_sparse,
    single_linkage_order,
)

# ----------------------------------------------------------------------------- helpers


def sklearn_labels(n, rows, cols, dist, max_cluster_size, min_cluster_size=2):
    """Labels (n,) from sklearn's HDBSCAN on the dense matrix.

    Missing pairs are given np.inf, which sklearn's dense precomputed path accepts and
    turns into lambda = 1/inf = 0, exactly our "joined at lambda 0". A finite stand-in
    such as 1e3 is not equivalent: D = 1/(1+tanh(S)) reaches ~8e4 at S = -6, so 1e3 is
    not above every present distance, and even a larger value gives the clusters born
    at that join birth lambda 1/value instead of 0, lowering their stability by
    |C|/value, which can flip an excess-of-mass decision.
    """
    dense = np.full((n, n), np.inf)
    np.fill_diagonal(dense, 0.0)
    dense[rows, cols] = dist
    dense[cols, rows] = dist
    model = HDBSCAN(
        min_samples=1,
        min_cluster_size=min_cluster_size,
        max_cluster_size=max_cluster_size,
        metric="precomputed",
        cluster_selection_epsilon=0.0,
        cluster_selection_method="eom",
        allow_single_cluster=False,
        copy=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "MST contains edge weights with value infinity"
        return model.fit(dense).labels_


def assert_same_partition(ours, theirs):
    """Same noise set and same clusters up to renumbering."""
    ours = np.asarray(ours)
    theirs = np.asarray(theirs)
    np.testing.assert_array_equal(ours < 0, theirs < 0)
    keep = ours >= 0
    pairs = np.unique(np.c_[ours[keep], theirs[keep]], axis=0)
    assert len(np.unique(pairs[:, 0])) == len(pairs) == len(np.unique(pairs[:, 1]))


def squash(s):
    """Similarity inside (-6, 6) without clipping, so no ties are created."""
    return 6.0 * np.tanh(s / 6.0)


def to_distance(s):
    return 1.0 / (1.0 + np.tanh(s))


def realistic(rng, n_neurons, n_sessions, p_edge=0.8, clip_top=False):
    """Units of several neurons over sessions: (n, rows, cols, dist, neuron id).

    Each neuron appears in a random subset of sessions with one unit per session;
    units of one session are never compared, and only a random part of the other
    pairs (the spatial neighbours) has a score.
    """
    neuron, session = [], []
    for k in range(n_neurons):
        present = np.flatnonzero(rng.random(n_sessions) < rng.uniform(0.3, 1.0))
        if present.size == 0:
            present = rng.integers(0, n_sessions, 1)
        neuron += [k] * present.size
        session += list(present)
    neuron = np.array(neuron)
    session = np.array(session)
    n = neuron.size
    i, j = np.triu_indices(n, 1)
    keep = (session[i] != session[j]) & (rng.random(i.size) < p_edge)
    i, j = i[keep], j[keep]
    same = neuron[i] == neuron[j]
    match = 5.0 if clip_top else 3.5
    raw = np.where(same, rng.normal(match, 1.2, i.size), rng.normal(-1.0, 1.5, i.size))
    s = np.minimum(raw, 6.0) if clip_top else squash(raw)
    if clip_top:
        s = np.where(s < 6.0, squash(s), s)  # ties only at the saturated top
    return n, i, j, to_distance(s), neuron


def random_graph(rng, n, p, low=0.5, high=1.0):
    """Random pairs with probability p, no isolated point: (rows, cols, dist)."""
    i, j = np.triu_indices(n, 1)
    keep = rng.random(i.size) < p
    i, j = i[keep], j[keep]
    lonely = np.setdiff1d(np.arange(n), np.r_[i, j])
    partner = (lonely + 1 + rng.integers(0, n - 1, lonely.size)) % n
    i = np.r_[i, np.minimum(lonely, partner)]
    j = np.r_[j, np.maximum(lonely, partner)]
    pairs = np.unique(np.c_[i, j], axis=0)
    return pairs[:, 0], pairs[:, 1], rng.uniform(low, high, len(pairs))


def cluster_is_contiguous(order, members):
    pos = np.sort(np.argsort(order)[members])
    return pos[-1] - pos[0] == len(pos) - 1


# ----------------------------------------------------------------------------- sklearn oracle


@pytest.mark.parametrize("seed", range(8))
def test_realistic_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    n_sessions = int(rng.integers(3, 9))
    n, r, c, d, _ = realistic(
        rng, int(rng.integers(10, 40)), n_sessions, p_edge=rng.uniform(0.3, 1.0)
    )
    for limit in (None, n_sessions, 3):
        assert_same_partition(hdbscan_sparse(n, r, c, d, limit), sklearn_labels(n, r, c, d, limit))


@pytest.mark.parametrize("seed", range(5))
def test_uniform_dense_matches_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(20, 120))
    r, c = np.triu_indices(n, 1)
    d = rng.uniform(0.5, 1.0, r.size)
    # Either orientation of a pair must be accepted.
    flip = rng.random(r.size) < 0.5
    r, c = np.where(flip, c, r), np.where(flip, r, c)
    for limit in (None, 2, int(rng.integers(3, 10))):
        assert_same_partition(hdbscan_sparse(n, r, c, d, limit), sklearn_labels(n, r, c, d, limit))


@pytest.mark.parametrize("seed", range(5))
def test_sparse_random_matches_sklearn(seed):
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(30, 150))
    r, c, d = random_graph(rng, n, rng.uniform(0.02, 0.3), 0.5, 8e4)
    for limit, size in ((None, 2), (4, 2), (None, 3), (6, 4)):
        assert_same_partition(
            hdbscan_sparse(n, r, c, d, limit, size), sklearn_labels(n, r, c, d, limit, size)
        )


@pytest.mark.parametrize("seed", range(4))
def test_disconnected_matches_sklearn(seed):
    # No isolated points: then sklearn's arbitrary order of joining components at
    # infinity cannot matter (every join splits into two parts of >= 2 points).
    rng = np.random.default_rng(300 + seed)
    sizes = rng.integers(2, 30, int(rng.integers(2, 7)))
    rows, cols, dist = [], [], []
    start = 0
    for size in sizes:
        r, c, d = random_graph(rng, int(size), rng.uniform(0.1, 0.8))
        rows.append(r + start)
        cols.append(c + start)
        dist.append(d)
        start += size
    n = int(start)
    perm = rng.permutation(n)  # components interleaved in index order
    r, c, d = perm[np.concatenate(rows)], perm[np.concatenate(cols)], np.concatenate(dist)
    assert connected_components(coo_matrix((d, (r, c)), shape=(n, n)))[0] == len(sizes)
    for limit in (None, 3, 8):
        assert_same_partition(hdbscan_sparse(n, r, c, d, limit), sklearn_labels(n, r, c, d, limit))


@pytest.mark.parametrize("seed", range(3))
def test_max_cluster_size_binds(seed):
    rng = np.random.default_rng(400 + seed)
    n, r, c, d, _ = realistic(rng, 25, 8, p_edge=0.9)
    free = hdbscan_sparse(n, r, c, d, None)
    limit = int(np.bincount(free[free > 0]).max()) - 1
    bound = hdbscan_sparse(n, r, c, d, limit)
    assert not np.array_equal(free, bound)
    assert np.bincount(bound[bound > 0]).max() <= limit
    assert_same_partition(bound, sklearn_labels(n, r, c, d, limit))


@pytest.mark.parametrize("seed", range(3))
def test_saturated_ties_that_do_not_decide_match_sklearn(seed):
    # Scores clipped at +6 tie many within-neuron pairs at the smallest distance. Those
    # ties only order merges inside a neuron whose whole cluster wins over the zero-
    # stability fragments they create, so with no size limit they cannot decide.
    rng = np.random.default_rng(500 + seed)
    n, r, c, d, _ = realistic(rng, 30, 6, clip_top=True)
    assert np.sum(d == d.min()) > 20
    assert_same_partition(hdbscan_sparse(n, r, c, d, None), sklearn_labels(n, r, c, d, None))


# ----------------------------------------------------------------------------- ties


def tied_graph(seed):
    rng = np.random.default_rng(600 + seed)
    n = int(rng.integers(20, 120))
    r, c, _ = random_graph(rng, n, rng.uniform(0.05, 0.5))
    d = 0.5 + 0.1 * rng.integers(0, 4, r.size)  # four distinct distances only
    return n, r, c, d


@pytest.mark.parametrize("seed", range(6))
def test_ties_deterministic_and_valid(seed):
    n, r, c, d = tied_graph(seed)
    for limit, size in ((None, 2), (3, 2), (None, 3)):
        labels = hdbscan_sparse(n, r, c, d, limit, size)
        for _ in range(2):
            np.testing.assert_array_equal(hdbscan_sparse(n, r, c, d, limit, size), labels)
        counts = np.bincount(labels[labels > 0])[1:]
        assert np.all(counts >= size)
        if limit is not None:
            assert np.all(counts <= limit)


@pytest.mark.parametrize("seed", range(6))
def test_ties_condensing_matches_sklearn_on_same_tree(seed):
    # Which binary tree the ties produce is arbitrary (sklearn's comes from its Prim's
    # scan). Given the same tree, condensing, stability and selection must agree with
    # sklearn exactly, zero-stability fragments at tied lambdas included.
    n, r, c, d = tied_graph(seed)
    left, right, height, size = _hierarchy(n, *_check_graph(n, r, c, d))
    tree = np.zeros(n - 1, dtype=HIERARCHY_dtype)
    tree["left_node"], tree["right_node"] = left, right
    tree["value"], tree["cluster_size"] = height, size
    for limit, min_size in ((None, 2), (2, 2), (3, 2), (None, 3)):
        theirs, _ = tree_to_labels(tree, min_size, "eom", False, 0.0, limit)
        assert_same_partition(hdbscan_sparse(n, r, c, d, limit, min_size), theirs)


@pytest.mark.parametrize("seed", range(4))
def test_tree_is_single_linkage(seed):
    # Cut at every level, the tree must give the connected components of the edges
    # not longer than that level, whatever order the ties were merged in.
    n, r, c, d = tied_graph(seed)
    left, right, height, size = _hierarchy(n, *_check_graph(n, r, c, d))
    assert np.all(np.diff(height) >= 0)
    z = np.column_stack([left, right, np.where(np.isinf(height), 10.0, height), size])
    for level in np.unique(d):
        cut = fcluster(z.astype(float), level, criterion="distance")
        short = d <= level
        _, comp = connected_components(
            coo_matrix((d[short], (r[short], c[short])), shape=(n, n)), directed=False
        )
        assert_same_partition(cut, comp)


# ----------------------------------------------------------------------------- conventions


@pytest.mark.parametrize("seed", range(3))
def test_label_numbering(seed):
    rng = np.random.default_rng(700 + seed)
    n, r, c, d, _ = realistic(rng, 30, 6)
    labels = hdbscan_sparse(n, r, c, d, 6)
    assert labels.dtype == np.int64 and labels.shape == (n,)
    found = labels[labels > 0]
    k = found.max()
    assert set(np.unique(labels)) <= set(range(-1, k + 1)) - {0}
    first = [np.flatnonzero(labels == lab)[0] for lab in range(1, k + 1)]
    assert first == sorted(first)
    assert np.all(np.bincount(found)[1:] >= 2)


def test_isolated_points_are_noise_and_do_not_change_the_rest():
    rng = np.random.default_rng(800)
    n0, r, c, d, _ = realistic(rng, 20, 5)
    isolated = 7
    n = n0 + isolated
    perm = rng.permutation(n)  # isolated points anywhere in index order
    labels = hdbscan_sparse(n, perm[r], perm[c], d, 5)
    assert np.all(labels[perm[n0:]] == -1)
    assert_same_partition(labels[perm[:n0]], sklearn_labels(n0, r, c, d, 5))


def test_small_and_degenerate_inputs():
    empty = np.zeros(0, np.int64)
    assert hdbscan_sparse(0, empty, empty, empty.astype(float), 3).shape == (0,)
    np.testing.assert_array_equal(hdbscan_sparse(1, empty, empty, empty.astype(float), 3), [-1])
    np.testing.assert_array_equal(hdbscan_sparse(4, empty, empty, empty.astype(float), 3), [-1] * 4)
    # One pair plus isolated points: the pair carries on the root, never selected,
    # as in sklearn (root never a cluster). Two pairs: two clusters.
    np.testing.assert_array_equal(hdbscan_sparse(4, [0], [2], [0.7], None), [-1] * 4)
    np.testing.assert_array_equal(
        hdbscan_sparse(5, [0, 1], [2, 4], [0.7, 0.6], None), [1, 2, 1, -1, 2]
    )
    # Explicit zero and infinite distances: 0 is a real (closest) pair, inf is missing.
    r, c = np.array([0, 1, 3, 4, 2]), np.array([1, 2, 4, 5, 3])
    d = np.array([0.0, 0.6, 0.0, 0.6, 0.9])
    labels = hdbscan_sparse(6, r, c, d, None)
    np.testing.assert_array_equal(labels, [1, 1, 1, 2, 2, 2])
    assert_same_partition(labels, sklearn_labels(6, r, c, d, None))
    np.testing.assert_array_equal(
        hdbscan_sparse(6, [0, 1, 3, 4, 2], [1, 2, 4, 5, 3], [0.5, 0.6, 0.5, 0.6, np.inf], None),
        hdbscan_sparse(6, [0, 1, 3, 4], [1, 2, 4, 5], [0.5, 0.6, 0.5, 0.6], None),
    )


@pytest.mark.parametrize(
    "bad",
    [
        ([0], [0], [1.0]),
        ([0], [5], [1.0]),
        ([0], [1], [-1.0]),
        ([0], [1], [np.nan]),
        ([0, 1], [1], [1.0]),
    ],
)
def test_invalid_input(bad):
    with pytest.raises(ValueError):
        hdbscan_sparse(5, np.array(bad[0]), np.array(bad[1]), np.array(bad[2]), None)


@pytest.mark.parametrize("seed", range(3))
def test_spanning_forest_matches_scipy(seed):
    rng = np.random.default_rng(900 + seed)
    n = 300
    r, c, d = random_graph(rng, n, 0.02)
    edges = _spanning_forest(n, r, c, d, np.arange(len(r), dtype=np.int32))
    reference = minimum_spanning_tree(coo_matrix((d, (r, c)), shape=(n, n)).tocsr())
    n_comp = connected_components(reference, directed=False)[0]
    assert len(edges) == n - n_comp == reference.nnz
    assert np.isclose(d[edges].sum(), reference.sum(), rtol=1e-12)


# ----------------------------------------------------------------------------- leaf order


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("optimal", [False, True, None])
def test_leaf_order_keeps_clusters_and_components_together(seed, optimal):
    rng = np.random.default_rng(1000 + seed)
    # Every within-neuron pair present (p_edge=1) and the neurons well separated:
    # matches close, everything else far.
    n, r, c, d, neuron = realistic(rng, 25, 6, p_edge=1.0)
    d = np.where(
        neuron[r] == neuron[c], rng.uniform(0.5, 0.6, d.size), rng.uniform(0.9, 1.0, d.size)
    )
    # A second component of three points and two isolated points after the first.
    r2 = np.r_[r, n, n + 1]
    c2 = np.r_[c, n + 1, n + 2]
    d2 = np.r_[d, 0.7, 0.8]
    total = n + 5
    order = single_linkage_order(total, r2, c2, d2, optimal=optimal)
    assert order.dtype == np.int64
    np.testing.assert_array_equal(np.sort(order), np.arange(total))
    for k in np.unique(neuron):
        assert cluster_is_contiguous(order, np.flatnonzero(neuron == k))
    labels = hdbscan_sparse(total, r2, c2, d2, 6)
    for k in range(1, labels.max() + 1):
        assert cluster_is_contiguous(order, np.flatnonzero(labels == k))
    _, comp = connected_components(coo_matrix((d2, (r2, c2)), shape=(total, total)), directed=False)
    for k in np.unique(comp):
        assert cluster_is_contiguous(order, np.flatnonzero(comp == k))


# ----------------------------------------------------------------------------- optimal leaf order


def path_cost(dense, order):
    return dense[order[:-1], order[1:]].sum()


def tree_and_distances(n, rows, cols, dist):
    """Our single-linkage tree (left, right, height, size) of the graph and its distance
    matrix (n, n), with missing pairs at the distance `far` single_linkage_order uses."""
    r, c, d = _check_graph(n, rows, cols, dist)
    left, right, height, size = _hierarchy(n, r, c, d)
    far = 2.0 * float(d.max(initial=0.0)) + 1.0
    dense = np.full((n, n), far)
    np.fill_diagonal(dense, 0.0)
    dense[r, c] = dense[c, r] = d
    return (left, right, height, size), dense


def scipy_leaf_order(n, rows, cols, dist):
    """scipy's leaves_list(optimal_leaf_ordering(Z, D)) for our single-linkage tree of the
    graph (pyDANT's order), infinite heights at `far`; also the distance matrix (n, n)."""
    (left, right, height, size), dense = tree_and_distances(n, rows, cols, dist)
    far = dense.max()
    z = np.column_stack([left, right, np.where(np.isinf(height), far, height), size])
    order = leaves_list(optimal_leaf_ordering(z.astype(float), squareform(dense, checks=False)))
    return order, dense


def is_order_of_tree(order, n, left, right):
    """True if `order` is a permutation in which every subtree's leaves are contiguous,
    which is exactly an order reachable by flipping nodes of the tree."""
    if not np.array_equal(np.sort(order), np.arange(n)):
        return False
    position = np.argsort(order)
    low = np.r_[position, np.zeros(n - 1, np.int64)]
    high = low.copy()
    count = np.r_[np.ones(n, np.int64), np.zeros(n - 1, np.int64)]
    for i in range(n - 1):
        a, b = left[i], right[i]
        low[n + i] = min(low[a], low[b])
        high[n + i] = max(high[a], high[b])
        count[n + i] = count[a] + count[b]
        if high[n + i] - low[n + i] + 1 != count[n + i]:
            return False
    return True


def every_tree_order(n, rows, cols, dist):
    """All 2^(n-1) leaf orders of our tree (set of tuples), their smallest cost, the matrix."""
    (left, right, _, _), dense = tree_and_distances(n, rows, cols, dist)
    orders = set()
    best = np.inf
    for flips in itertools.product([False, True], repeat=n - 1):
        order = _leaf_order(n, left, right, np.array(flips, dtype=np.bool_))
        orders.add(tuple(order))
        best = min(best, path_cost(dense, order))
    return orders, best, dense


def assert_minimal(n, rows, cols, dist):
    """Our order is one of the tree's orders and costs exactly the brute-force minimum."""
    orders, best, dense = every_tree_order(n, rows, cols, dist)
    ours = single_linkage_order(n, rows, cols, dist)
    assert ours.dtype == np.int64
    assert tuple(ours) in orders
    assert np.isclose(path_cost(dense, ours), best, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("tied", [False, True])
def test_leaf_order_is_minimal_by_brute_force(seed, tied):
    rng = np.random.default_rng([1500, seed, tied])
    n = int(rng.integers(2, 8))
    r, c = np.triu_indices(n, 1)
    keep = rng.random(r.size) < rng.uniform(0.3, 1.0)  # some graphs disconnected
    r, c = r[keep], c[keep]
    if tied:
        d = rng.choice([0.5, 0.6, 1.0], r.size)
    else:
        d = rng.uniform(0.0, 1.0, r.size) ** 3  # spread out, so flips matter
    assert_minimal(n, r, c, d)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_leaf_order_is_minimal_on_every_small_graph(n):
    # Every edge set on n points, with distinct and with tied distances.
    rng = np.random.default_rng(1400 + n)
    pairs = list(itertools.combinations(range(n), 2))
    for keep in itertools.product([False, True], repeat=len(pairs)):
        chosen = np.array(
            [p for p, k in zip(pairs, keep, strict=True) if k], dtype=np.int64
        ).reshape(-1, 2)
        for d in (rng.uniform(0.5, 1.0, len(chosen)), rng.choice([0.5, 0.7], len(chosen))):
            assert_minimal(n, chosen[:, 0], chosen[:, 1], d)


def test_leaf_order_beats_scipy_where_scipy_is_not_minimal():
    # scipy issue #11227: scipy's optimal_leaf_ordering lets every node choose its ends for
    # itself, and here ends at 103 where the tree allows 14.
    r, c = np.triu_indices(4, 1)
    d = np.array([2.0, 10.0, 10000.0, 1.0, 3.0, 100.0])
    reference, dense = scipy_leaf_order(4, r, c, d)
    ours = single_linkage_order(4, r, c, d)
    (left, right, _, _), _ = tree_and_distances(4, r, c, d)
    assert is_order_of_tree(ours, 4, left, right)
    assert path_cost(dense, reference) == 103.0
    assert path_cost(dense, ours) == 14.0


def with_isolated(rng, n, rows, cols, n_isolated):
    """The graph with n_isolated points added and all points shuffled in index order."""
    perm = rng.permutation(n + n_isolated)
    return n + n_isolated, perm[rows], perm[cols]


def graph_for_order(kind, seed):
    """(n, rows, cols, dist) of one kind of test graph."""
    rng = np.random.default_rng([1200, seed, len(kind)])
    if kind == "realistic":
        n, r, c, d, _ = realistic(rng, int(rng.integers(20, 60)), int(rng.integers(3, 10)))
    elif kind == "complete":
        n = int(rng.integers(20, 150))
        r, c = np.triu_indices(n, 1)
        d = rng.uniform(0.5, 1.0, r.size)
    elif kind == "sparse":
        n = int(rng.integers(20, 250))
        r, c, d = random_graph(rng, n, rng.uniform(0.01, 0.2))
    elif kind == "depth_window":
        # Units along the probe, compared only within a depth window (as the track does).
        n = int(rng.integers(50, 400))
        depth = rng.uniform(0.0, 15.0 * n, n)
        r, c = np.triu_indices(n, 1)
        near = np.abs(depth[r] - depth[c]) < 60.0
        r, c = r[near], c[near]
        d = rng.uniform(0.5, 1.3, r.size)
    elif kind == "tied":
        # Four distinct distances: many orders of equal cost.
        n = int(rng.integers(20, 250))
        r, c, _ = random_graph(rng, n, rng.uniform(0.02, 0.5))
        d = 0.5 + 0.1 * rng.integers(0, 4, r.size)
    elif kind == "disconnected":
        sizes = rng.integers(2, 30, int(rng.integers(2, 6)))
        parts = [random_graph(rng, int(k), rng.uniform(0.1, 0.8)) for k in sizes]
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
        r = np.concatenate([p[0] + s for p, s in zip(parts, starts, strict=True)])
        c = np.concatenate([p[1] + s for p, s in zip(parts, starts, strict=True)])
        d = np.concatenate([p[2] for p in parts])
        n, r, c = with_isolated(rng, int(sizes.sum()), r, c, int(rng.integers(1, 6)))
    return n, r, c, d


ORDER_KINDS = ["realistic", "complete", "sparse", "depth_window", "tied", "disconnected"]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_leaf_order_never_costlier_than_scipy(kind, seed):
    # scipy's order is one of the tree's orders, so the minimum can only be at or below it.
    n, r, c, d = graph_for_order(kind, seed)
    reference, dense = scipy_leaf_order(n, r, c, d)
    ours = single_linkage_order(n, r, c, d)
    (left, right, _, _), _ = tree_and_distances(n, r, c, d)
    assert is_order_of_tree(ours, n, left, right)
    assert path_cost(dense, ours) <= path_cost(dense, reference) * (1.0 + 1e-12)
    # Not vacuous: the flips changed the plain dendrogram order.
    plain = single_linkage_order(n, r, c, d, optimal=False)
    assert path_cost(dense, ours) < path_cost(dense, plain)


@pytest.mark.parametrize("kind", ["realistic", "depth_window", "disconnected"])
def test_leaf_order_beats_scipy_on_track_like_graphs(kind):
    n, r, c, d = graph_for_order(kind, 100)
    reference, dense = scipy_leaf_order(n, r, c, d)
    ours = single_linkage_order(n, r, c, d)
    assert path_cost(dense, ours) < path_cost(dense, reference)


@pytest.mark.parametrize("seed", range(3))
def test_leaf_order_not_costlier_than_scipy_linkage(seed):
    # On a complete graph scipy's own single linkage has the same merges as our tree with
    # other child orientations, which do not change the orders a tree can reach.
    rng = np.random.default_rng(1100 + seed)
    n = 60
    r, c = np.triu_indices(n, 1)
    d = rng.uniform(0.5, 1.0, r.size)
    dense = squareform(d)
    reference = leaves_list(optimal_leaf_ordering(linkage(d, method="single"), d))
    ours = single_linkage_order(n, r, c, d)
    assert path_cost(dense, ours) <= path_cost(dense, reference) * (1.0 + 1e-12)


def test_leaf_order_optimal_by_default_up_to_2000_points():
    n, r, c, d = graph_for_order("depth_window", 0)
    # 2000 points: the graph plus isolated ones; one more and the default is the plain order.
    for total in (2000, 2001):
        rng = np.random.default_rng(total)
        _, rows, cols = with_isolated(rng, n, r, c, total - n)
        default = single_linkage_order(total, rows, cols, d)
        plain = single_linkage_order(total, rows, cols, d, optimal=False)
        optimal = single_linkage_order(total, rows, cols, d, optimal=True)
        assert not np.array_equal(optimal, plain)
        np.testing.assert_array_equal(default, optimal if total == 2000 else plain)


def test_leaf_order_does_not_import_scipy_cluster():
    # The track runs single_linkage_order on every run; importing scipy.cluster costs
    # about 0.2 s. A fresh interpreter, since this test module imports it itself.
    code = (
        "import sys, numpy as np\n"
        "import dant_core.pipeline, dant_core.linkage as L\n"
        "r, c = np.triu_indices(30, 1)\n"
        "d = np.random.default_rng(0).uniform(0.5, 1.0, r.size)\n"
        "order = L.single_linkage_order(30, r, c, d)\n"
        "assert sorted(order) == list(range(30))\n"
        "print('scipy.cluster' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
