"""Probe motion: the model, its estimation from matched pairs, and Kriging correction.

See docs/method.md §5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .features import nearest_channels
from .progress import CancelToken, ProgressFn, no_progress

LINEAR_SCALE = 0.001
N_BOOTSTRAP = 100
KRIGING_SIGMA_X = 20.0
KRIGING_SIGMA_Y = 30.0
KRIGING_RIDGE = 0.01


@dataclass
class Motion:
    """Per-session motion m(s, y) = 0.001 * linear[s] * y + constant[s] in µm.

    linear, constant: (n_session,) float64; session s is 1-based in `at`.
    ci_low / ci_high: optional (3, n_session) 95% bounds of the motion at the mean,
    smallest and largest matched-pair depth (rows 1-2 only for linear motion).
    edge_shift: optional (3, n_session), at the same depths: the motion estimated from the
    pairs away from the probe's ends minus this motion. The bounds include the bootstrap
    interval moved by it (the locator's depth bias near the ends, which moves with the
    probe and which no resampling shows); None: the bounds are the bootstrap's alone.
    """

    linear: np.ndarray
    constant: np.ndarray
    ci_low: np.ndarray | None = None
    ci_high: np.ndarray | None = None
    depths: tuple[float, float, float] | None = None  # mean, min, max pair depth (µm)
    n_pairs: int = 0
    unlinked_sessions: tuple[int, ...] = field(default_factory=tuple)
    edge_shift: np.ndarray | None = None

    @classmethod
    def zero(cls, n_session: int) -> Motion:
        return cls(np.zeros(n_session), np.zeros(n_session))

    @property
    def n_sessions(self) -> int:
        return self.constant.size

    def at(self, sessions: np.ndarray, depths: np.ndarray) -> np.ndarray:
        """Motion (µm) of units in 1-based `sessions` at raw `depths`."""
        s = np.asarray(sessions) - 1
        return LINEAR_SCALE * self.linear[s] * np.asarray(depths) + self.constant[s]

    def at_depth(self, depth: float) -> np.ndarray:
        """Motion of every session (n_session,) at one depth (µm)."""
        return LINEAR_SCALE * self.linear * depth + self.constant

    def copy(self) -> Motion:
        return Motion(
            self.linear.copy(),
            self.constant.copy(),
            None if self.ci_low is None else self.ci_low.copy(),
            None if self.ci_high is None else self.ci_high.copy(),
            self.depths,
            self.n_pairs,
            self.unlinked_sessions,
            None if self.edge_shift is None else self.edge_shift.copy(),
        )


def _session_pair_index(session_pairs: np.ndarray, n_session: int) -> np.ndarray:
    """Flat index (i - 1) * n_session + (j - 1) of each pair's 1-based session pair (i, j)."""
    return (session_pairs[:, 0] - 1) * n_session + (session_pairs[:, 1] - 1)


def _group_sums(index: np.ndarray, values: np.ndarray, n_session: int) -> np.ndarray:
    """Sum of `values` over the pairs of each session pair: (n_session, n_session), [i-1, j-1]."""
    return np.bincount(index, values, minlength=n_session * n_session).reshape(n_session, n_session)


def _pair_gram(w: np.ndarray) -> np.ndarray:
    """sum over session pairs (i, j) of w[i, j] (e_j - e_i)(e_j - e_i)^T, (n_session, n_session).

    Every design row is a session difference e_j - e_i (times a per-pair factor), so the normal
    matrix is a weighted graph Laplacian of the sessions.
    """
    return np.diag(w.sum(axis=0) + w.sum(axis=1)) - w - w.T


def _pair_moment(r: np.ndarray) -> np.ndarray:
    """sum over session pairs (i, j) of r[i, j] (e_j - e_i), (n_session,)."""
    return r.sum(axis=0) - r.sum(axis=1)


def _keep_columns(n_session: int) -> np.ndarray:
    """Parameters of linear motion, k_2..k_S then b_2..b_S (session 1 is the reference,
    k_1 = b_1 = 0), as positions in the full (k_1..k_S, b_1..b_S) vector."""
    return np.r_[1:n_session, n_session + 1 : 2 * n_session]


def _design(
    si: np.ndarray,
    sj: np.ndarray,
    slope: np.ndarray,
    offset: np.ndarray,
    n_session: int,
    linear: bool,
) -> np.ndarray:
    """Dense least-squares design for rows slope * (e_kj - e_ki) + offset * (e_bj - e_bi).

    si, sj: 0-based sessions of each row. For a matched pair slope = LINEAR_SCALE * depth and
    offset = 1: the row maps the motion parameters to the pair's depth difference. Rigid
    motion has only the constants b (columns b_1..b_S); linear motion has columns
    k_2..k_S, b_2..b_S.
    """
    rows = np.arange(si.size)
    if not linear:
        a = np.zeros((si.size, n_session))
        a[rows, sj] += offset
        a[rows, si] -= offset
        return a
    a = np.zeros((si.size, 2 * n_session))
    a[rows, sj] += slope
    a[rows, si] -= slope
    a[rows, n_session + sj] += offset
    a[rows, n_session + si] -= offset
    return a[:, _keep_columns(n_session)]


def _centre(params: np.ndarray, mean_depth: float, n_session: int, linear: bool):
    """(k, b) from least-squares parameters, shifted so the motion at `mean_depth` averages 0."""
    if not linear:
        return np.zeros(n_session), params - params.mean()
    k = np.r_[0.0, params[: n_session - 1]]
    b = np.r_[0.0, params[n_session - 1 :]]
    b = b - np.mean(LINEAR_SCALE * k * mean_depth + b)
    return k, b


def _solve_weighted(index, dy, depth, weights, n_session: int, linear: bool):
    """Least-squares motion with per-pair weights (bootstrap counts), via normal equations.

    index: session pair of each pair (`_session_pair_index`). The normal matrix
    N = sum_k w_k a_k a_k^T and right-hand side sum_k w_k dy_k a_k are accumulated per session
    pair with `np.bincount`, so a solve costs O(n_pair + n_session^2) and never forms the
    (n_pair, n_param) design. The pseudo-inverse of the small normal matrix gives the
    minimum-norm solution, so sessions without a linking pair stay at 0 before centring.
    """
    w = np.asarray(weights, dtype=np.float64)
    wdy = w * dy
    if not linear:
        normal = _pair_gram(_group_sums(index, w, n_session))
        rhs = _pair_moment(_group_sums(index, wdy, n_session))
    else:
        # A row is d (e_kj - e_ki) + (e_bj - e_bi) with d = LINEAR_SCALE * depth, so the
        # k-k, k-b and b-b blocks of N are Laplacians weighted by w d^2, w d and w.
        d = LINEAR_SCALE * depth
        wd = w * d
        kb = _pair_gram(_group_sums(index, wd, n_session))
        normal = np.block(
            [
                [_pair_gram(_group_sums(index, wd * d, n_session)), kb],
                [kb, _pair_gram(_group_sums(index, w, n_session))],
            ]
        )
        rhs = np.r_[
            _pair_moment(_group_sums(index, wd * dy, n_session)),
            _pair_moment(_group_sums(index, wdy, n_session)),
        ]
        keep = _keep_columns(n_session)
        normal = normal[np.ix_(keep, keep)]
        rhs = rhs[keep]
    params = np.linalg.pinv(normal, rcond=1e-10, hermitian=True) @ rhs
    mean_depth = float(np.average(depth, weights=w)) if linear else 0.0
    return _centre(params, mean_depth, n_session, linear)


def _solve(session_pairs, dy, depth, n_session: int, linear: bool):
    """Exact least-squares motion; sessions without a linking pair stay at 0 before centring.

    Pairs of the same session pair share a design row up to their depth, so the problem is
    reduced exactly to a few rows per session pair with the same normal equations (and so the
    same minimum-norm solution): sqrt(n) * the mean row with target sqrt(n) * mean dy, plus,
    for linear motion, the depth spread sqrt(S_dd) (e_kj - e_ki) with target S_dy / sqrt(S_dd)
    (S_dd, S_dy: centred sums of squares and products within the session pair). The
    singular-value cutoff of `np.linalg.lstsq(design, dy, rcond=None)` on the full design is
    kept, so the result equals that fit to rounding.
    """
    n = dy.size
    index = _session_pair_index(session_pairs, n_session)
    count = np.bincount(index, minlength=n_session * n_session)
    groups = np.flatnonzero(count)
    n_g = count[groups].astype(np.float64)
    mean_dy = np.bincount(index, dy, minlength=count.size)[groups] / n_g
    si, sj = np.divmod(groups, n_session)
    root_n = np.sqrt(n_g)
    if not linear:
        a = _design(si, sj, np.zeros_like(n_g), root_n, n_session, linear)
        target = root_n * mean_dy
        n_param = n_session
    else:
        d = LINEAR_SCALE * depth
        mean_d = np.bincount(index, d, minlength=count.size)[groups] / n_g
        position = np.searchsorted(groups, index)
        cd = d - mean_d[position]
        cy = dy - mean_dy[position]
        s_dd = np.bincount(position, cd * cd, minlength=groups.size)
        s_dy = np.bincount(position, cd * cy, minlength=groups.size)
        spread = s_dd > 0
        root_dd = np.sqrt(s_dd[spread])
        a = np.vstack(
            (
                _design(si, sj, root_n * mean_d, root_n, n_session, linear),
                _design(si[spread], sj[spread], root_dd, np.zeros_like(root_dd), n_session, linear),
            )
        )
        target = np.r_[root_n * mean_dy, s_dy[spread] / root_dd]
        n_param = 2 * (n_session - 1)
    rcond = np.finfo(np.float64).eps * max(n, n_param)
    params = np.linalg.lstsq(a, target, rcond=rcond)[0]
    return _centre(params, float(depth.mean()) if linear else 0.0, n_session, linear)


def estimate_motion(
    locations_y: np.ndarray,
    sessions: np.ndarray,
    pairs: np.ndarray,
    n_session: int,
    linear: bool,
    seed: int = 0,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    groups: np.ndarray | None = None,
    interior: np.ndarray | None = None,
) -> Motion:
    """Motion from matched pairs (n_pair, 2) of units in different sessions, with bootstrap CI.

    locations_y: (n_unit,) raw depths (µm); sessions: (n_unit,) 1-based.
    groups: (n_pair,) the independent sampling unit of each pair, e.g. the cluster (neuron)
    both its units belong to. The pairs of one cluster share units, and so share each unit's
    location error: the bootstrap draws whole groups, with all their pairs, so the interval
    reflects how many neurons the motion rests on, not how many pairs they make (a cluster of
    n units gives up to n(n-1)/2 pairs but only n - 1 independent differences). None: every
    pair is its own group (only right when pairs share no unit).
    interior: (n_pair,) bool, the pairs whose units both lie away from the probe's ends,
    where the locator sees channels on both sides. Near an end it pulls units inwards, by
    an amount that changes as the probe moves past them, so the motion from every pair
    is biased in proportion to the motion (1-3 % on the demo data), alike in every
    resample. The bounds then also hold the bootstrap interval moved to the motion from
    the interior pairs (`Motion.edge_shift`), when those pairs link the same sessions.
    The motion itself is always the fit to every pair.
    """
    if pairs.shape[0] == 0:
        motion = Motion.zero(n_session)
        motion.unlinked_sessions = tuple(range(1, n_session + 1))
        return motion
    i, j = pairs[:, 0], pairs[:, 1]
    dy = locations_y[j] - locations_y[i]
    depth = 0.5 * (locations_y[i] + locations_y[j])
    session_pairs = np.column_stack((sessions[i], sessions[j]))
    k, b = _solve(session_pairs, dy, depth, n_session, linear)
    motion = Motion(k, b, n_pairs=int(pairs.shape[0]))
    motion.depths = (float(depth.mean()), float(depth.min()), float(depth.max()))
    linked = np.unique(session_pairs)
    motion.unlinked_sessions = tuple(int(s) for s in range(1, n_session + 1) if s not in linked)

    # Bootstrap: a resample is the same design with each pair weighted by how often its group
    # was drawn.
    if groups is None:
        group_of_pair = np.arange(dy.size)
    else:
        if np.shape(groups) != (dy.size,):
            raise ValueError(f"groups: expected shape ({dy.size},), got {np.shape(groups)}")
        group_of_pair = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    n = int(group_of_pair.max()) + 1
    rng = np.random.default_rng(seed)
    boot = np.zeros((N_BOOTSTRAP, 3, n_session))
    index = _session_pair_index(session_pairs, n_session)
    for r in range(N_BOOTSTRAP):
        if cancel is not None and r % 20 == 0:
            cancel.check()
        drawn = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        counts = drawn[group_of_pair]
        kb, bb = _solve_weighted(index, dy, depth, counts, n_session, linear)
        d = depth[counts > 0]
        for row, at in enumerate((np.average(depth, weights=counts), d.min(), d.max())):
            boot[r, row] = LINEAR_SCALE * kb * at + bb
    motion.ci_low = np.percentile(boot, 2.5, axis=0)
    motion.ci_high = np.percentile(boot, 97.5, axis=0)
    if interior is not None:
        _add_edge_shift(motion, interior, session_pairs, dy, depth, n_session, linear)
    progress("Motion bootstrap", N_BOOTSTRAP, N_BOOTSTRAP)
    return motion


def _add_edge_shift(motion: Motion, interior, session_pairs, dy, depth, n_session, linear):
    """Widen `motion`'s bounds to hold the bootstrap interval moved by the difference to
    the motion from the `interior` pairs alone (see `estimate_motion`); nothing when those
    pairs leave a session unlinked that every pair links."""
    interior = np.asarray(interior, dtype=bool)
    if np.shape(interior) != (dy.size,):
        raise ValueError(f"interior: expected shape ({dy.size},), got {np.shape(interior)}")
    linked = np.unique(session_pairs)
    if not interior.any() or np.setdiff1d(linked, session_pairs[interior]).size:
        return
    k, b = _solve(session_pairs[interior], dy[interior], depth[interior], n_session, linear)
    mean_depth = motion.depths[0]
    b = b - np.mean(LINEAR_SCALE * k * mean_depth + b)  # centred as the motion is
    shift = np.array([LINEAR_SCALE * k * at + b - motion.at_depth(at) for at in motion.depths])
    motion.edge_shift = shift
    motion.ci_low = np.minimum(motion.ci_low, motion.ci_low + shift)
    motion.ci_high = np.maximum(motion.ci_high, motion.ci_high + shift)


def away_from_ends(depth: np.ndarray, channel_locations: np.ndarray, n_nearest: int) -> np.ndarray:
    """(n_unit,) bool: units at raw `depth` (µm) far enough from the probe's ends that the
    locator's `n_nearest` channels lie on both sides of them: more than half the depth span
    of the channels nearest the probe's middle channel inside the channels' depth range."""
    y = channel_locations[:, 1]
    middle = int(np.argmin(np.abs(y - np.median(y))))
    margin = 0.5 * np.ptp(y[nearest_channels(channel_locations, middle, n_nearest)])
    depth = np.asarray(depth)
    return (depth > y.min() + margin) & (depth < y.max() - margin)


def kriging_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """K(a, b) = exp(-|dx|/20 - |dy|/30) between positions a (n, 2) and b (m, 2)."""
    dx = np.abs(a[:, None, 0] - b[None, :, 0])
    dy = np.abs(a[:, None, 1] - b[None, :, 1])
    return np.exp(-dx / KRIGING_SIGMA_X - dy / KRIGING_SIGMA_Y)


def template_offsets(motion: Motion, channel_locations: np.ndarray, n_templates: int) -> np.ndarray:
    """Reference offsets tau (n_templates,): 0, or spread over the motion range of the probe."""
    if n_templates == 1:
        return np.zeros(1)
    y = channel_locations[:, 1]
    ends = np.concatenate((motion.at_depth(y.min()), motion.at_depth(y.max())))
    return np.linspace(ends.min(), ends.max(), n_templates)


def correct_waveforms(
    waveforms: np.ndarray,
    locations_y: np.ndarray,
    sessions: np.ndarray,
    motion: Motion,
    channel_locations: np.ndarray,
    n_templates: int,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Kriging-corrected waveforms, template-major: (n_templates, n_unit, n_channel, n_sample)
    float32.

    The ridge-regularised kernel inverse is the same for every unit, so it is formed once.
    Units that move by the same amount (under rigid motion, all units of one session) share
    one interpolation matrix (kernel to the shifted positions times the inverse), applied to
    all of them in a single matrix product.
    """
    n_unit, n_channel, n_sample = waveforms.shape
    taus = template_offsets(motion, channel_locations, n_templates)
    k_inv = np.linalg.inv(
        kriging_kernel(channel_locations, channel_locations) + KRIGING_RIDGE * np.eye(n_channel)
    )
    out = np.empty((len(taus), n_unit, n_channel, n_sample), dtype=np.float32)
    shift = motion.at(sessions, locations_y)
    x = channel_locations[:, 0]
    y = channel_locations[:, 1]
    kx = np.exp(-np.abs(x[:, None] - x[None, :]) / KRIGING_SIGMA_X)
    dy0 = y[:, None] - y[None, :]
    values, group = np.unique(shift, return_inverse=True)
    order = np.argsort(group.ravel(), kind="stable")
    starts = np.searchsorted(group.ravel()[order], np.arange(values.size + 1))
    done = 0
    progress("Correcting waveforms", 0, n_unit)
    for g, value in enumerate(values):
        if cancel is not None:
            cancel.check()
        units = order[starts[g] : starts[g + 1]]
        block = waveforms[units]
        # A shared interpolation matrix pays off from a few units on; a lone unit (linear
        # motion moves every unit differently) is cheaper as two thin products.
        shared = units.size * n_sample >= n_channel
        if shared:
            for t, tau in enumerate(taus):
                ky = np.exp(-np.abs(dy0 + (value - tau)) / KRIGING_SIGMA_Y)
                interp = ((kx * ky) @ k_inv).astype(np.float32)
                # float32 products (the result is stored as float32): 4x faster than float64
                # with its transposes, and within 1e-5 of the peak amplitude (tested).
                out[t, units] = np.matmul(interp, block)
        else:
            weights = k_inv @ block.astype(np.float64)
            for t, tau in enumerate(taus):
                ky = np.exp(-np.abs(dy0 + (value - tau)) / KRIGING_SIGMA_Y)
                out[t, units] = np.matmul(kx * ky, weights)
        done += units.size
        if g % 64 == 0:
            progress("Correcting waveforms", done, n_unit)
    progress("Correcting waveforms", n_unit, n_unit)
    return out
