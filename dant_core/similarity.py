"""Similarity between units, feature by feature, for any list of unit pairs (docs/method.md §3).

Scores are Fisher z of Pearson correlations, clipped to [-6, 6]; an undefined correlation
counts as 0. Nothing here builds an n x n matrix: callers pass the pairs they need (the
depth-neighbourhood graph during tracking, a block of units for a viewer).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .errors import DatasetError
from .features import nearest_channels, peak_to_trough

MAX_SIMILARITY = 6.0
MAX_CORRELATION = float(np.tanh(MAX_SIMILARITY))


def fisher_z(r, out: np.ndarray | None = None) -> np.ndarray:
    """Correlation -> similarity score in [-6, 6]; NaN (undefined) -> 0.

    out: where to write (any array of r's shape, e.g. a column of a score table); r may
    be out itself. numpy's vectorised arctanh is several times faster than a compiled loop.
    """
    r = np.asarray(r, dtype=np.float64)
    if out is None:
        out = np.empty(r.shape)
    np.clip(r, -MAX_CORRELATION, MAX_CORRELATION, out=out)
    np.arctanh(out, out=out)
    np.copyto(out, 0.0, where=np.isnan(out))
    return out


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (float64), so a dot product is Pearson r.

    A constant row becomes all zeros: its correlation with anything is then 0.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.sqrt(np.einsum("ij,ij->i", x, x))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = x / norm[:, None]
    out[~(norm > 1e-12 * max(1.0, float(np.abs(x).max(initial=0.0))))] = 0.0
    return out


# Two definitions of one loop on purpose: numba's on-disk cache keys a function by its
# source location, so one Python function compiled twice would share cache entries.
# fastmath lets the sums vectorise (their order changes only in the last bits).
@njit(cache=True, nogil=True, parallel=True, fastmath=True)
def _paired_dot_parallel(x: np.ndarray, y: np.ndarray, ia: np.ndarray, ib: np.ndarray):
    out = np.empty(ia.shape[0])
    for k in prange(ia.shape[0]):
        a = ia[k]
        b = ib[k]
        s = 0.0
        for j in range(x.shape[1]):
            s += x[a, j] * y[b, j]
        out[k] = s
    return out


@njit(cache=True, nogil=True, fastmath=True)
def _paired_dot_serial(x: np.ndarray, y: np.ndarray, ia: np.ndarray, ib: np.ndarray):
    out = np.empty(ia.shape[0])
    for k in range(ia.shape[0]):
        a = ia[k]
        b = ib[k]
        s = 0.0
        for j in range(x.shape[1]):
            s += x[a, j] * y[b, j]
        out[k] = s
    return out


# Below this much work (pairs x vector length) waking a thread pool costs more than it saves.
PARALLEL_MIN_WORK = 2_000_000
# Blocks of up to this many pairs are scored pair by pair (no BLAS set-up, no gathers).
SMALL_BLOCK_PAIRS = 20_000


def _paired_dot(x: np.ndarray, y: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """x[ia[k]] . y[ib[k]] for every k (n_pair,)."""
    if ia.shape[0] * x.shape[1] < PARALLEL_MIN_WORK:
        return _paired_dot_serial(x, y, ia, ib)
    return _paired_dot_parallel(x, y, ia, ib)


@njit(cache=True, nogil=True, parallel=True)
def _paired_nan_corr(p: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """Pearson r of rows a, b over the bins valid (not NaN) in both; -2 marks no common bin."""
    out = np.empty(ia.shape[0])
    for k in prange(ia.shape[0]):
        a = ia[k]
        b = ib[k]
        n = 0
        sa = 0.0
        sb = 0.0
        for j in range(p.shape[1]):
            if not (np.isnan(p[a, j]) or np.isnan(p[b, j])):
                n += 1
                sa += p[a, j]
                sb += p[b, j]
        if n == 0:
            out[k] = -2.0
            continue
        ma = sa / n
        mb = sb / n
        saa = 0.0
        sbb = 0.0
        sab = 0.0
        for j in range(p.shape[1]):
            if not (np.isnan(p[a, j]) or np.isnan(p[b, j])):
                da = p[a, j] - ma
                db = p[b, j] - mb
                saa += da * da
                sbb += db * db
                sab += da * db
        if saa <= 0.0 or sbb <= 0.0:
            out[k] = np.nan
        else:
            out[k] = sab / np.sqrt(saa * sbb)
    return out


class ChannelNeighbourhoods:
    """For every channel, the `n_nearest` channels of its shank nearest to it.

    Channels whose neighbourhoods hold the same set share a group, so units are
    compared on identical channel sets group by group.
    """

    def __init__(self, channel_locations: np.ndarray, channel_shanks: np.ndarray, n_nearest: int):
        n_channel = channel_locations.shape[0]
        sets = np.zeros((n_channel, n_nearest), dtype=np.int64)
        for shank in np.unique(channel_shanks):
            members = np.flatnonzero(channel_shanks == shank)
            if members.size < n_nearest:
                raise DatasetError(
                    f"channel_shanks.npy: shank {shank} has {members.size} channels, fewer than "
                    f"waveformCorrection.n_nearest_channels = {n_nearest}"
                )
            local = channel_locations[members]
            for i, ch in enumerate(members):
                sets[ch] = members[nearest_channels(local, i, n_nearest)]
        sets.sort(axis=1)
        self.channel_sets, self.group_of_channel = np.unique(sets, axis=0, return_inverse=True)
        self.group_of_channel = self.group_of_channel.ravel()

    def channels(self, group: int) -> np.ndarray:
        return self.channel_sets[group]


@njit(cache=True, nogil=True, fastmath=True)
def _dot32(x: np.ndarray, y: np.ndarray) -> float:
    """Dot product of two float32 vectors, accumulated in float64 (products are exact)."""
    s = 0.0
    for k in range(x.shape[0]):
        s += np.float64(x[k]) * np.float64(y[k])
    return s


@njit(cache=True, nogil=True)
def _pearson_r(dot, total_a, sq_a, total_b, sq_b, n_el):
    """Pearson r from raw sums; an undefined r (a flat waveform) counts as 0."""
    spread_a = np.sqrt(max(sq_a - total_a * total_a / n_el, 0.0))
    spread_b = np.sqrt(max(sq_b - total_b * total_b / n_el, 0.0))
    denom = spread_a * spread_b
    tiny = 1e-9 * (1.0 + abs(total_a) / n_el) * (1.0 + abs(total_b) / n_el)
    if not denom > tiny:
        return 0.0
    return (dot - total_a * total_b / n_el) / denom


@njit(cache=True, nogil=True, parallel=True)
def _waveform_pair_r(
    w, n_sample, sums, sumsq, own_total, own_sq, member, span, group, ia, ib, n_el
):
    """Pearson r behind S_wf for pairs (ia[k], ib[k]): the largest over templates and both
    directions (docs/method.md §3); S_wf is its Fisher z, which is increasing in r.

    w (T, U, C * S) float32, each unit's channels one after another; sums / sumsq (T, U, C)
    per-channel sums over samples; own_total / own_sq (T, U) the same summed over each
    unit's own neighbourhood; member (G, C) channel-set membership of each neighbourhood
    group, span (G, 2) the first and one-past-last channel index of each set; group (T, U).

    Every channel in either unit's neighbourhood is visited once: its dot product counts
    towards the direction(s) whose channel set holds it. Consecutive channels that belong
    to the same set(s) (on most probes, each neighbourhood is one run of channels) are
    taken as one long dot product, which vectorises far better than one per channel.
    """
    n_template = w.shape[0]
    out = np.empty(ia.shape[0])
    for k in prange(ia.shape[0]):
        i = ia[k]
        j = ib[k]
        best = -np.inf
        for t in range(n_template):
            gi = group[t, i]
            gj = group[t, j]
            dot_i = 0.0  # on C_i
            dot_j = 0.0  # on C_j
            total_j_on_i = 0.0
            sq_j_on_i = 0.0
            total_i_on_j = 0.0
            sq_i_on_j = 0.0
            c = min(span[gi, 0], span[gj, 0])
            end = max(span[gi, 1], span[gj, 1])
            while c < end:
                in_i = member[gi, c]
                in_j = member[gj, c]
                stop = c + 1  # channels c..stop-1 share the membership of channel c
                while stop < end and member[gi, stop] == in_i and member[gj, stop] == in_j:
                    stop += 1
                if in_i or in_j:
                    lo = c * n_sample
                    hi = stop * n_sample
                    d = _dot32(w[t, i, lo:hi], w[t, j, lo:hi])
                    if in_i:
                        dot_i += d
                        for ch in range(c, stop):
                            total_j_on_i += sums[t, j, ch]
                            sq_j_on_i += sumsq[t, j, ch]
                    if in_j:
                        dot_j += d
                        for ch in range(c, stop):
                            total_i_on_j += sums[t, i, ch]
                            sq_i_on_j += sumsq[t, i, ch]
                c = stop
            r_ij = _pearson_r(dot_i, own_total[t, i], own_sq[t, i], total_j_on_i, sq_j_on_i, n_el)
            r_ji = _pearson_r(dot_j, own_total[t, j], own_sq[t, j], total_i_on_j, sq_i_on_j, n_el)
            best = max(best, r_ij, r_ji)
        out[k] = best
    return out


# Serial on purpose: it is cheap, and right after a BLAS call a parallel region would wait
# for cores that OpenBLAS's threads are still spinning on.
@njit(cache=True, nogil=True)
def _max_r_into(dots, total_r, spread_r, total_c, spread_c, n_el, best, at, transpose):
    """Pearson r from raw dot products and per-unit sums, folded into `best` by maximum."""
    for a in range(dots.shape[0]):
        row = at[a]
        for b in range(dots.shape[1]):
            denom = spread_r[a] * spread_c[b]
            tiny = 1e-9 * (1.0 + abs(total_r[a]) / n_el) * (1.0 + abs(total_c[b]) / n_el)
            r = 0.0
            if denom > tiny:
                r = (np.float64(dots[a, b]) - total_r[a] * total_c[b] / n_el) / denom
            if transpose:
                best[b, row] = max(best[b, row], r)
            else:
                best[row, b] = max(best[row, b], r)


@njit(cache=True, nogil=True, parallel=True)
def _channel_sums(w, sums, sumsq) -> None:
    """Sum and sum of squares over samples of every (template, unit, channel) waveform."""
    for u in prange(w.shape[1]):
        for t in range(w.shape[0]):
            for c in range(w.shape[2]):
                s = 0.0
                q = 0.0
                for k in range(w.shape[3]):
                    x = np.float64(w[t, u, c, k])
                    s += x
                    q += x * x
                sums[t, u, c] = s
                sumsq[t, u, c] = q


class SpikeTrainVectors:
    """The spike-train features (AutoCorr, ISI, PETH) ready for correlation: rows centred
    and scaled to unit norm. They do not change with motion, so one instance serves every
    pass of a run.

    A PETH with NaN bins is kept raw: its r is taken over the bins valid in both units.
    """

    def __init__(self, auto_corr=None, isi=None, peth=None):
        self.vectors = {}
        if auto_corr is not None:
            self.vectors["AutoCorr"] = normalize_rows(auto_corr)
        if isi is not None:
            self.vectors["ISI"] = normalize_rows(isi)
        self.peth_with_gaps = None
        if peth is not None:
            if np.isnan(peth).any():
                self.peth_with_gaps = np.ascontiguousarray(peth, dtype=np.float64)
            else:
                self.vectors["PETH"] = normalize_rows(peth)

    def correlation(self, name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Pearson r (n_pair,) of pairs (a[k], b[k]) for a feature in `vectors`."""
        v = self.vectors[name]
        return _paired_dot(v, v, a, b)

    def correlation_block(self, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Pearson r (len(rows), len(cols)) of every (row, col) pair."""
        v = self.vectors[name]
        return v[rows] @ v[cols].T


class SimilarityComputer:
    """Per-feature similarity scores for arbitrary unit pairs.

    waveforms: corrected waveforms, template-major (n_template, n_unit, n_channel, n_sample)
    float32 (a 3-D array is one template); auto_corr / isi / peth: (n_unit, n_point) or None,
    or instead `trains`, a SpikeTrainVectors of them shared between computers.
    """

    def __init__(self, waveforms, neighbourhoods, auto_corr=None, isi=None, peth=None, trains=None):
        w = np.ascontiguousarray(waveforms, dtype=np.float32)
        if w.ndim == 3:
            w = w[None]
        self.waveforms = w
        self.neighbourhoods = neighbourhoods
        n_template, self.n_units, n_channel, n_sample = w.shape
        self.n_el = float(neighbourhoods.channel_sets.shape[1] * n_sample)
        # Per template, unit and channel: sum and sum of squares over samples (float64).
        self._sums = np.empty(w.shape[:3])
        self._sumsq = np.empty(w.shape[:3])
        _channel_sums(w, self._sums, self._sumsq)
        self.peak_groups = np.empty((n_template, self.n_units), dtype=np.int64)
        for t in range(n_template):
            peaks = np.argmax(peak_to_trough(w[t]), axis=1)
            self.peak_groups[t] = neighbourhoods.group_of_channel[peaks]
        self._member = np.zeros((neighbourhoods.channel_sets.shape[0], n_channel), dtype=np.bool_)
        for g, channels in enumerate(neighbourhoods.channel_sets):
            self._member[g, channels] = True
        sets = neighbourhoods.channel_sets
        self._span = np.column_stack((sets.min(axis=1), sets.max(axis=1) + 1)).astype(np.int64)
        own = self._member[self.peak_groups]  # (T, U, C): channel in the unit's own set
        self._own_total = np.einsum("tuc,tuc->tu", self._sums, own)
        self._own_sq = np.einsum("tuc,tuc->tu", self._sumsq, own)
        self._known_waveform = None  # see remember_waveform_scores
        self.trains = trains if trains is not None else SpikeTrainVectors(auto_corr, isi, peth)
        self._vectors = self.trains.vectors
        self.peth = self.trains.peth_with_gaps

    def scores(self, a: np.ndarray, b: np.ndarray, names) -> np.ndarray:
        """Scores (n_pair, len(names)) float64 for pairs (a[k], b[k]); 6 where a == b."""
        # int32 indices always: one compiled version of each kernel, and half the memory.
        a = np.ascontiguousarray(a, dtype=np.int32)
        b = np.ascontiguousarray(b, dtype=np.int32)
        out = np.zeros((a.size, len(names)))
        for f, name in enumerate(names):
            if name == "Waveform":
                out[:, f] = self.waveform_scores(a, b)
            elif name == "PETH" and self.peth is not None:
                r = _paired_nan_corr(self.peth, a, b)
                # No bin valid in both (a unit whose PETH is all NaN): the similarity is
                # undefined, which counts as r = 0 (no evidence either way) as everywhere
                # else, and as pyDANT does; check_dataset_for_settings warns about them.
                r[r == -2.0] = np.nan
                fisher_z(r, out=out[:, f])
            elif name in self._vectors:
                fisher_z(self.trains.correlation(name, a, b), out=out[:, f])
            else:
                raise DatasetError(f"the feature {name!r} has no data in this data folder")
        out[a == b] = MAX_SIMILARITY
        return out

    def block_scores(self, rows: np.ndarray, cols: np.ndarray, names) -> np.ndarray:
        """Scores of every (row, col) unit pair: (len(rows), len(cols), len(names)).

        The same values as `scores` on the pairs; a large block goes through BLAS, which is
        much faster when every pair of many units is wanted (viewers, dense outputs).
        """
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if rows.size * cols.size <= SMALL_BLOCK_PAIRS:
            ia, ib = np.meshgrid(rows, cols, indexing="ij")
            return self.scores(ia.ravel(), ib.ravel(), names).reshape(rows.size, cols.size, -1)
        blocks = [self._feature_block(name, rows, cols) for name in names]
        # One feature (the dense output files ask one at a time): no copy into a stack.
        out = blocks[0][:, :, None] if len(blocks) == 1 else np.stack(blocks, axis=-1)
        out[rows[:, None] == cols[None, :]] = MAX_SIMILARITY
        return out

    def _feature_block(self, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if name == "Waveform":
            return self._waveform_block(rows, cols)
        if name in self._vectors:
            return fisher_z(self.trains.correlation_block(name, rows, cols))
        ia, ib = np.meshgrid(rows, cols, indexing="ij")
        return self.scores(ia.ravel(), ib.ravel(), (name,)).reshape(rows.size, cols.size)

    def _waveform_block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        # z is increasing in r (and an undefined r counts as r = 0, z = 0), so the largest r
        # over templates and directions is kept and turned into z once at the end.
        best = np.full((rows.size, cols.size), -np.inf)
        square = np.array_equal(rows, cols)
        directions = [(rows, cols, False)] if square else [(rows, cols, False), (cols, rows, True)]
        for t in range(self.waveforms.shape[0]):
            # Direction row -> col: correlate on each row unit's own channel neighbourhood.
            for first, second, transpose in directions:
                groups = self.peak_groups[t, first]
                for g in np.unique(groups):
                    sel = np.flatnonzero(groups == g)
                    self._max_correlation_into(
                        best, self.neighbourhoods.channels(g), first[sel], sel, second, t, transpose
                    )
        if square:  # a square block holds both directions of every pair: take the larger
            best = np.maximum(best, best.T)
        return fisher_z(best, out=best)

    def _max_correlation_into(self, best, channels, units_r, at, units_c, t, transpose) -> None:
        """best[at[a], b] = max(best[at[a], b], r(units_r[a], units_c[b])) (r on `channels`,
        template t; undefined r as 0); with transpose, best[b, at[a]] instead."""
        n_el = float(channels.size * self.waveforms.shape[3])
        sums, sumsq = self._sums[t], self._sumsq[t]

        def stats(units):
            total = sums[units][:, channels].sum(axis=1)
            spread = np.sqrt(np.maximum(sumsq[units][:, channels].sum(axis=1) - total**2 / n_el, 0))
            return total, spread

        total_r, spread_r = stats(units_r)
        total_c, spread_c = stats(units_c)
        # float32 products through BLAS (sgemm): blocks are for viewers and dense output
        # files; graph scores come from the float64-accumulating pair kernel.
        dots = self._on_channels(units_r, channels, t) @ self._on_channels(units_c, channels, t).T
        _max_r_into(dots, total_r, spread_r, total_c, spread_c, n_el, best, at, transpose)

    def remember_waveform_scores(self, a: np.ndarray, b: np.ndarray, values: np.ndarray) -> None:
        """Keep waveform scores already computed for pairs (a[k], b[k]) on these very
        waveforms (a previous clustering run's), so that waveform_scores computes only the
        pairs it has not seen. Held as a dense (n_unit, n_unit) table: for small n only."""
        known = np.full((self.n_units, self.n_units), np.nan)
        known[a, b] = values
        known[b, a] = values  # the score is symmetric
        self._known_waveform = known

    def waveform_scores(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """max over templates and both directions of z(r(W_i[C_i], W_j[C_i])) per pair."""
        if self._known_waveform is None:
            return self._computed_waveform_scores(a, b)
        out = self._known_waveform[a, b]
        missing = np.flatnonzero(np.isnan(out))
        if missing.size:
            out[missing] = self._computed_waveform_scores(a[missing], b[missing])
        return out

    def _computed_waveform_scores(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.size == 0:
            return np.zeros(0)
        n_template, n_unit, n_channel, n_sample = self.waveforms.shape
        best_r = _waveform_pair_r(
            self.waveforms.reshape(n_template, n_unit, n_channel * n_sample),
            n_sample,
            self._sums,
            self._sumsq,
            self._own_total,
            self._own_sq,
            self._member,
            self._span,
            self.peak_groups,
            a,
            b,
            self.n_el,
        )
        return fisher_z(best_r, out=best_r)

    def _on_channels(self, units, channels, t) -> np.ndarray:
        """Waveforms of `units` on `channels`, flattened: (n, n_channel_subset * n_sample)
        float32; a view (no copy) when both are contiguous runs, as on a probe whose
        channels are numbered along the shank."""
        w = self.waveforms[t]
        if _is_run(channels):
            c0, c1 = int(channels[0]), int(channels[-1]) + 1
            if _is_run(units):
                return w[int(units[0]) : int(units[-1]) + 1, c0:c1].reshape(units.size, -1)
            return w[units, c0:c1].reshape(units.size, -1)
        return w[units[:, None], channels[None, :], :].reshape(units.size, -1)


def _is_run(index: np.ndarray) -> bool:
    """Whether `index` is k, k+1, ..., k+n-1 (n >= 1)."""
    return (
        index.size > 0
        and int(index[-1]) - int(index[0]) == index.size - 1
        and (index.size == 1 or bool(np.all(np.diff(index) == 1)))
    )
