"""Single-linkage HDBSCAN on a sparse distance graph, and the dendrogram leaf order.

`hdbscan_sparse` reproduces ``sklearn.cluster.HDBSCAN(min_samples=1, min_cluster_size=2,
max_cluster_size=M, metric="precomputed", cluster_selection_method="eom",
allow_single_cluster=False)`` run on the dense matrix in which missing pairs are ``inf``.
With ``min_samples=1`` the mutual reachability distance is the distance itself, so the
HDBSCAN hierarchy is the single-linkage tree, which only needs the minimum spanning forest
of the graph; the clustering never builds anything n x n.

`single_linkage_order` gives the tree's leaves in the order the GUI sorts the similarity
matrix by. For n <= 2000 it flips the tree's nodes to the optimal leaf ordering (Bar-Joseph,
Gifford & Jaakkola 2001), the smallest sum of distances between neighbouring leaves,
computed here with n x n tables and no scipy (see the comment above the leaf-order kernels).

Conventions, all chosen to match scikit-learn's ``_tree.pyx``:

* The hierarchy is binary: edges are merged one at a time in order of (distance, edge
  index), so equal distances are treated like sklearn treats them, as consecutive merges
  at the same lambda (sklearn's own tie order comes from its Prim's scan and is arbitrary).
* Condensing: at a merge of distance d (lambda = 1/d, 1/0 = inf, 1/inf = 0) a side with
  fewer than ``min_cluster_size`` points drops out of the current cluster at that lambda,
  all its points at once; if both sides are big enough, two child clusters are born.
* stability(C) = sum over rows (lambda - birth(C)) * size, over the points and child
  clusters that leave C.
* Excess of mass, children before parents: C is deselected (and takes its children's
  summed stability) if that sum is strictly larger, or if C was born with more than
  ``max_cluster_size`` points; otherwise C is kept and its descendants are dropped. A
  node larger than the limit therefore never blocks its selected children, and since
  its ancestors are larger still, none of them is selected either. The root is never
  selected (``allow_single_cluster=False``).
* Connected components are joined at infinite distance (lambda 0), components with at
  least two points first (by smallest member), then the isolated points (by index). For
  sklearn this order is arbitrary; ours never lumps isolated points into a cluster and
  is identical to sklearn whenever no point is isolated.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["hdbscan_sparse", "single_linkage_order"]

_OPTIMAL_ORDER_MAX_POINTS = 2000


# ----------------------------------------------------------------------------- kernels


@njit(cache=True, nogil=True)
def _find(parent, x):
    """Root of x in a union-find forest, halving the path on the way."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
def _lighter(dist, e, f):
    """True if edge e comes before edge f in the total order (distance, edge index)."""
    return f < 0 or dist[e] < dist[f] or (dist[e] == dist[f] and e < f)


@njit(cache=True, nogil=True)
def _spanning_forest(n, rows, cols, dist, live):
    """Edge indices (n - n_components,) of the minimum spanning forest (Boruvka).

    Ties are broken by edge index, so the forest is unique and deterministic.
    live: 0, 1, ..., m - 1 (m edges), overwritten; int32 where it fits, to save memory.
    """
    m = rows.shape[0]
    parent = np.arange(n)
    comp = np.arange(n)
    best = np.empty(n, np.int64)
    out = np.empty(max(n - 1, 0), np.int64)
    n_out = 0
    # Edges inside a component can never be used again; `live` keeps the others so
    # later rounds scan ever fewer edges.
    n_live = m
    while n_live > 0:
        best[:] = -1
        kept = 0
        for t in range(n_live):
            e = live[t]
            a = comp[rows[e]]
            b = comp[cols[e]]
            if a == b:
                continue
            live[kept] = e
            kept += 1
            if _lighter(dist, e, best[a]):
                best[a] = e
            if _lighter(dist, e, best[b]):
                best[b] = e
        n_live = kept
        for v in range(n):
            e = best[v]
            if e >= 0:
                a = _find(parent, rows[e])
                b = _find(parent, cols[e])
                if a != b:  # both components may have picked the same edge
                    parent[max(a, b)] = min(a, b)
                    out[n_out] = e
                    n_out += 1
        for v in range(n):
            comp[v] = _find(parent, v)
    return out[:n_out]


@njit(cache=True, nogil=True)
def _merge_tree(n, a, b, d):
    """Binary single-linkage tree from forest edges sorted by distance.

    Returns left, right, dist, size, each (n - 1,), in scipy's linkage layout (row i
    creates node n + i). Components are then joined at dist = inf: those with >= 2
    points first, by smallest member, then isolated points by index.
    """
    parent = np.arange(n)
    node = np.arange(n)  # tree node currently standing for each union-find root
    count = np.ones(n, np.int64)
    left = np.empty(n - 1, np.int64)
    right = np.empty(n - 1, np.int64)
    height = np.empty(n - 1, np.float64)
    size = np.empty(n - 1, np.int64)
    row = 0
    for k in range(a.shape[0]):
        ra = _find(parent, a[k])
        rb = _find(parent, b[k])
        left[row] = node[ra]
        right[row] = node[rb]
        height[row] = d[k]
        size[row] = count[ra] + count[rb]
        if ra < rb:
            ra, rb = rb, ra
        parent[ra] = rb
        count[rb] += count[ra]
        node[rb] = n + row
        row += 1
    # Scanning points in index order visits every component at its smallest member.
    roots = np.empty(n, np.int64)
    n_roots = 0
    for v in range(n):
        if parent[v] == v and count[v] > 1:
            roots[n_roots] = v
            n_roots += 1
    for v in range(n):
        if parent[v] == v and count[v] == 1:
            roots[n_roots] = v
            n_roots += 1
    if n_roots > 0:
        acc = node[roots[0]]
        acc_count = count[roots[0]]
        for t in range(1, n_roots):
            left[row] = acc
            right[row] = node[roots[t]]
            height[row] = np.inf
            acc_count += count[roots[t]]
            size[row] = acc_count
            acc = n + row
            row += 1
    return left, right, height, size


@njit(cache=True, nogil=True)
def _condense(n, left, right, height, size, min_cluster_size):
    """Condensed tree: where every point drops out, and the cluster tree.

    Returns point_cluster, point_lambda (n,) and cluster_parent, cluster_birth,
    cluster_size (n_clusters,); cluster 0 is the root, children get larger ids.
    """
    m = n - 1
    owner = np.zeros(m, np.int64)  # cluster a tree node belongs to
    fallen = np.zeros(m, np.bool_)  # node lies in a subtree that already dropped out
    fall_lambda = np.zeros(m, np.float64)
    point_cluster = np.zeros(n, np.int64)
    point_lambda = np.zeros(n, np.float64)
    cl_parent = np.empty(n, np.int64)
    cl_birth = np.empty(n, np.float64)
    cl_size = np.empty(n, np.int64)
    cl_parent[0] = -1
    cl_birth[0] = 0.0
    cl_size[0] = n
    n_cl = 1
    # Row i creates node n + i from earlier nodes, so a reverse scan is top-down.
    for i in range(m - 1, -1, -1):
        c = owner[i]
        if fallen[i]:
            lam = fall_lambda[i]
        elif height[i] > 0.0:
            lam = 1.0 / height[i]  # 1 / inf = 0: components meet at lambda 0
        else:
            lam = np.inf
        children = (left[i], right[i])
        counts = (
            1 if left[i] < n else size[left[i] - n],
            1 if right[i] < n else size[right[i] - n],
        )
        split = (not fallen[i]) and counts[0] >= min_cluster_size and counts[1] >= min_cluster_size
        for s in range(2):
            ch = children[s]
            if split:
                cl_parent[n_cl] = c
                cl_birth[n_cl] = lam
                cl_size[n_cl] = counts[s]
                owner[ch - n] = n_cl
                n_cl += 1
            elif fallen[i] or counts[s] < min_cluster_size:
                if ch < n:
                    point_cluster[ch] = c
                    point_lambda[ch] = lam
                else:
                    owner[ch - n] = c
                    fallen[ch - n] = True
                    fall_lambda[ch - n] = lam
            else:
                owner[ch - n] = c  # the big side carries the cluster on
    return point_cluster, point_lambda, cl_parent[:n_cl], cl_birth[:n_cl], cl_size[:n_cl]


@njit(cache=True, nogil=True)
def _stability(point_cluster, point_lambda, cl_parent, cl_birth, cl_size):
    """Stability (n_clusters,): sum of (lambda_leave - birth) * size over what leaves."""
    stab = np.zeros(cl_parent.shape[0], np.float64)
    for p in range(point_cluster.shape[0]):
        c = point_cluster[p]
        stab[c] += point_lambda[p] - cl_birth[c]
    for k in range(1, cl_parent.shape[0]):
        c = cl_parent[k]
        stab[c] += (cl_birth[k] - cl_birth[c]) * cl_size[k]
    return stab


@njit(cache=True, nogil=True)
def _select_eom(stab, cl_parent, cl_size, max_cluster_size):
    """Selected clusters (n_clusters,) bool by excess of mass; the root never."""
    k_all = cl_parent.shape[0]
    chosen = np.zeros(k_all, np.bool_)
    child_sum = np.zeros(k_all, np.float64)
    # Children have larger ids than their parent, so descending ids is bottom-up.
    for c in range(k_all - 1, 0, -1):
        if child_sum[c] > stab[c] or cl_size[c] > max_cluster_size:
            value = child_sum[c]
        else:
            chosen[c] = True
            value = stab[c]
        child_sum[cl_parent[c]] += value
    # A chosen cluster drops every chosen descendant: keep only the topmost.
    covered = np.zeros(k_all, np.bool_)
    for c in range(1, k_all):
        if covered[cl_parent[c]]:
            chosen[c] = False
            covered[c] = True
        else:
            covered[c] = chosen[c]
    return chosen


@njit(cache=True, nogil=True)
def _label_points(point_cluster, cl_parent, chosen):
    """Labels (n,): -1 noise, else 1..K numbered by smallest member."""
    k_all = cl_parent.shape[0]
    top = np.full(k_all, -1, np.int64)  # selected ancestor-or-self of each cluster
    for c in range(1, k_all):
        top[c] = top[cl_parent[c]]
        if top[c] < 0 and chosen[c]:
            top[c] = c
    number = np.zeros(k_all, np.int64)
    n_labels = 0
    labels = np.full(point_cluster.shape[0], -1, np.int64)
    for p in range(point_cluster.shape[0]):
        t = top[point_cluster[p]]
        if t >= 0:
            if number[t] == 0:
                n_labels += 1
                number[t] = n_labels
            labels[p] = number[t]
    return labels


@njit(cache=True, nogil=True)
def _leaf_order(n, left, right, swapped):
    """Leaves (n,) of the tree whose root is the last row, read depth first.

    swapped: (n - 1,) bool; where True, that node's right subtree is read before its left.
    """
    order = np.empty(n, np.int64)
    if n == 1:
        order[0] = 0
        return order
    stack = np.empty(n + 1, np.int64)
    stack[0] = 2 * n - 2
    depth = 1
    k = 0
    while depth > 0:
        depth -= 1
        v = stack[depth]
        if v < n:
            order[k] = v
            k += 1
        else:
            first, second = left[v - n], right[v - n]
            if swapped[v - n]:
                first, second = second, first
            stack[depth] = second
            stack[depth + 1] = first
            depth += 2
    return order


# ----------------------------------------------------------------------------- leaf order

# Optimal leaf ordering (Bar-Joseph, Gifford & Jaakkola 2001). Every node of a fixed binary
# tree may show its two subtrees in either order; among those 2^(n-1) leaf orders, find
# one whose sum of distances between neighbouring leaves is smallest.
#
# Leaves are renumbered by their position in the unflipped order, so that every subtree
# is a range of positions [first, stop). The dynamic programme fills, bottom up, a
# symmetric table cost[u, w]: the cheapest order of the subtree in which leaves u and w
# first meet that starts with u and ends with w. For a node with children L and R, u in
# L and w in R, the L part must end at a leaf m of the child of L not holding u (m = u
# if L is a single leaf) and the R part start at a leaf k of the child of R not holding
# w, so cost[u, w] = min over m, k of cost[u, m] + D[m, k] + cost[k, w]. The order is
# then traced back from the root: the root takes its cheapest pair of ends, and every
# node passes on to its children the inner ends (m, k) that realise its own entry.
#
# scipy.cluster.hierarchy.optimal_leaf_ordering, which pyDANT calls, fills the same table
# but does not trace back: every node keeps the ends that are cheapest for itself rather
# than the ones its parent's order needs, so its order can cost more (scipy issue #11227).
# Where it does, our order differs from pyDANT's and has the smaller sum.


@njit(cache=True, nogil=True)
def _subtree_spans(n, left, right, order):
    """Position range [first, stop) (2n - 1,) of every tree node in the leaf order `order`.

    Leaves are nodes 0..n-1, row i of the tree is node n + i; `order` is left-first.
    """
    first = np.empty(2 * n - 1, np.int64)
    stop = np.empty(2 * n - 1, np.int64)
    for p in range(n):
        first[order[p]] = p
        stop[order[p]] = p + 1
    for i in range(n - 1):
        first[n + i] = first[left[i]]
        stop[n + i] = stop[right[i]]
    return first, stop


@njit(cache=True, nogil=True)
def _dense_distance(n, rows, cols, distance, position, far):
    """Distance matrix (n, n) float64 between leaf positions; `far` where no pair is given."""
    dense = np.full((n, n), far)
    for p in range(n):
        dense[p, p] = 0.0
    for e in range(rows.shape[0]):
        a = position[rows[e]]
        b = position[cols[e]]
        dense[a, b] = distance[e]
        dense[b, a] = distance[e]
    return dense


@njit(cache=True, nogil=True)
def _fill_pairs(cost, dense, u0, u1, m0, m1, k0, k1, w0, w1, near):
    """cost[u, w] (and cost[w, u]) for u in [u0, u1), w in [w0, w1): the cheapest order
    that runs from u through a leaf m in [m0, m1), jumps to a leaf k in [k0, k1) and ends
    at w.

    near: (n,) float64 scratch, for each u the min over m of cost[u, m] + D[m, k] at k.
    """
    for u in range(u0, u1):
        for k in range(k0, k1):
            near[k] = np.inf
        for m in range(m0, m1):
            um = cost[u, m]
            for k in range(k0, k1):
                near[k] = min(near[k], um + dense[m, k])
        for w in range(w0, w1):
            best = np.inf
            for k in range(k0, k1):
                best = min(best, near[k] + cost[w, k])
            cost[u, w] = best
            cost[w, u] = best


@njit(cache=True, nogil=True)
def _end_cost_table(n, left, right, first, stop, dense):
    """Table (n, n) float64 whose entry [u, w] is the cheapest order, of the subtree where
    leaves u and w meet, from u to w (0 on the diagonal).

    Arguments are in leaf positions (see `_subtree_spans`); rows are children first.
    """
    cost = np.zeros((n, n))
    near = np.empty(n)
    for i in range(n - 1):
        a = left[i]
        b = right[i]
        # u in one child of the left subtree, m in the other; w and k likewise on the right.
        n_left = 1 if a < n else 2
        n_right = 1 if b < n else 2
        for s in range(n_left):
            if a < n:
                u_node = m_node = a
            else:
                u_node, m_node = left[a - n], right[a - n]
                if s == 1:
                    u_node, m_node = m_node, u_node
            u0, u1, m0, m1 = first[u_node], stop[u_node], first[m_node], stop[m_node]
            for t in range(n_right):
                if b < n:
                    w_node = k_node = b
                else:
                    w_node, k_node = right[b - n], left[b - n]
                    if t == 1:
                        w_node, k_node = k_node, w_node
                w0, w1, k0, k1 = first[w_node], stop[w_node], first[k_node], stop[k_node]
                # cost and D are symmetric, so the pairs can be filled from either end;
                # take the one with less work.
                from_u = (u1 - u0) * (k1 - k0) * ((m1 - m0) + (w1 - w0))
                from_w = (w1 - w0) * (m1 - m0) * ((k1 - k0) + (u1 - u0))
                if from_w < from_u:
                    _fill_pairs(cost, dense, w0, w1, k0, k1, m0, m1, u0, u1, near)
                else:
                    _fill_pairs(cost, dense, u0, u1, m0, m1, k0, k1, w0, w1, near)
    return cost


@njit(cache=True, nogil=True)
def _optimal_flips(n, left, right, first, stop, cost, dense):
    """Swapped flags (n - 1,) bool of a leaf order of minimal total cost, traced from the root.

    Each node is given the leaves its order must start and end with; it shows the child
    holding the start first, and passes on to its children the inner ends (m, k) that
    realise the table entry.
    """
    swapped = np.zeros(n - 1, np.bool_)
    # The root's ends: its cheapest entry, the first in position order on ties.
    a, b = left[n - 2], right[n - 2]
    u, w = first[a], first[b]
    for p in range(first[a], stop[a]):
        for q in range(first[b], stop[b]):
            if cost[p, q] < cost[u, w]:
                u, w = p, q
    # Pending nodes, each with the leaf positions its order must start and end at.
    node = np.empty(n + 1, np.int64)
    starts = np.empty(n + 1, np.int64)
    ends = np.empty(n + 1, np.int64)
    node[0], starts[0], ends[0] = 2 * n - 2, u, w
    depth = 1
    while depth > 0:
        depth -= 1
        v, start, end = node[depth], starts[depth], ends[depth]
        if v < n:
            continue
        head, tail = left[v - n], right[v - n]
        if start >= first[tail]:
            swapped[v - n] = True
            head, tail = tail, head
        # The head subtree runs from `start` to a leaf m of its half without `start`.
        m0, m1 = first[head], stop[head]
        if head >= n:
            inner = right[head - n] if start < first[right[head - n]] else left[head - n]
            m0, m1 = first[inner], stop[inner]
        k0, k1 = first[tail], stop[tail]
        if tail >= n:
            inner = left[tail - n] if end >= first[right[tail - n]] else right[tail - n]
            k0, k1 = first[inner], stop[inner]
        best = np.inf
        best_m = m0
        best_k = k0
        for m in range(m0, m1):
            for k in range(k0, k1):
                value = cost[start, m] + dense[m, k] + cost[k, end]
                if value < best:
                    best = value
                    best_m = m
                    best_k = k
        node[depth], starts[depth], ends[depth] = head, start, best_m
        node[depth + 1], starts[depth + 1], ends[depth + 1] = tail, best_k, end
        depth += 2
    return swapped


@njit(cache=True, nogil=True)
def _minimal_leaf_order(n, left, right, rows, cols, distance, far):
    """Leaves (n,) in an order of the tree with the smallest sum of neighbour distances,
    `far` for pairs missing from the graph (n >= 2)."""
    plain = _leaf_order(n, left, right, np.zeros(n - 1, np.bool_))
    position = np.empty(n, np.int64)
    for p in range(n):
        position[plain[p]] = p
    first, stop = _subtree_spans(n, left, right, plain)
    dense = _dense_distance(n, rows, cols, distance, position, far)
    cost = _end_cost_table(n, left, right, first, stop, dense)
    return _leaf_order(n, left, right, _optimal_flips(n, left, right, first, stop, cost, dense))


# ----------------------------------------------------------------------------- wrappers


def _check_graph(n_points, rows, cols, distance):
    """Validated int32/int64 rows, cols and float64 distance, unreachable (inf) edges removed.

    int32 indices are kept as they are (no copy): on a large graph they are most of its memory.
    """
    if n_points < 0:
        raise ValueError(f"n_points must be >= 0, got {n_points}")

    def indices(x):
        x = np.asarray(x)
        x = x.ravel() if x.dtype == np.int32 else x.astype(np.int64, copy=False).ravel()
        return np.ascontiguousarray(x)

    rows = indices(rows)
    cols = indices(cols)
    distance = np.asarray(distance).astype(np.float64, copy=False).ravel()
    if not rows.shape == cols.shape == distance.shape:
        raise ValueError("rows, cols and distance must have the same length")
    if rows.size:
        if min(rows.min(), cols.min()) < 0 or max(rows.max(), cols.max()) >= n_points:
            raise ValueError("edge endpoints must lie in [0, n_points)")
        if np.any(rows == cols):
            raise ValueError("self-edges (i == j) are not allowed")
        if np.isnan(distance).any() or (distance < 0).any():
            raise ValueError("distances must be >= 0 and not NaN")
        finite = np.isfinite(distance)
        if not finite.all():  # an infinite distance is the same as a missing pair
            rows, cols, distance = rows[finite], cols[finite], distance[finite]
    return rows, cols, distance


def _hierarchy(n_points, rows, cols, distance):
    """Single-linkage tree (left, right, dist, size), each (n_points - 1,), of a checked graph."""
    m = rows.shape[0]
    live = np.arange(m, dtype=np.int32 if m < np.iinfo(np.int32).max else np.int64)
    edges = _spanning_forest(n_points, rows, cols, distance, live)
    # Same total order as in the forest, so equal distances merge deterministically.
    edges = edges[np.lexsort((edges, distance[edges]))]
    return _merge_tree(n_points, rows[edges], cols[edges], distance[edges])


def hdbscan_sparse(
    n_points: int,
    rows: np.ndarray,
    cols: np.ndarray,
    distance: np.ndarray,
    max_cluster_size: int | None,
    min_cluster_size: int = 2,
) -> np.ndarray:
    """Cluster labels (n_points,) int64: -1 for noise, clusters numbered 1..K
    in order of their smallest member index. rows/cols/distance: undirected edges (i != j),
    each pair at most once (either orientation); missing pairs are unreachable.
    max_cluster_size None means no limit."""
    if min_cluster_size < 2:
        raise ValueError(f"min_cluster_size must be >= 2, got {min_cluster_size}")
    limit = np.iinfo(np.int64).max if max_cluster_size is None else int(max_cluster_size)
    n = int(n_points)
    rows, cols, distance = _check_graph(n, rows, cols, distance)
    if n < 2:
        return np.full(n, -1, np.int64)
    left, right, height, size = _hierarchy(n, rows, cols, distance)
    point_cluster, point_lambda, cl_parent, cl_birth, cl_size = _condense(
        n, left, right, height, size, int(min_cluster_size)
    )
    stab = _stability(point_cluster, point_lambda, cl_parent, cl_birth, cl_size)
    chosen = _select_eom(stab, cl_parent, cl_size, limit)
    return _label_points(point_cluster, cl_parent, chosen)


def single_linkage_order(n_points, rows, cols, distance, optimal: bool | None = None) -> np.ndarray:
    """Leaf order (n_points,) int64 of the single-linkage dendrogram of the sparse graph
    (components placed one after another).

    optimal: flip the tree's nodes so that the sum of distances between neighbouring leaves
    is the smallest possible, missing pairs counting as a distance `far` above every present
    one; None means yes when n_points <= 2000, as this costs O(n_points^2) memory.
    Otherwise the plain dendrogram order. The optimum can differ from scipy's
    optimal_leaf_ordering (pyDANT's order); see the comment above the leaf-order kernels.
    """
    n = int(n_points)
    rows, cols, distance = _check_graph(n, rows, cols, distance)
    if n < 2:
        return np.arange(n, dtype=np.int64)
    left, right, _, _ = _hierarchy(n, rows, cols, distance)
    if optimal is None:
        optimal = n <= _OPTIMAL_ORDER_MAX_POINTS
    if not optimal:
        return _leaf_order(n, left, right, np.zeros(n - 1, np.bool_))

    # Any value above every present distance keeps the tree the same (components
    # still meet last) and makes leaves of different components count as far apart.
    far = 2.0 * float(distance.max(initial=0.0)) + 1.0
    return _minimal_leaf_order(n, left, right, rows, cols, distance, far)
