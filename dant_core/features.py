"""Per-unit features: peak channel, location, centred waveforms, ACG, ISI (docs/method.md §2)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit

from .progress import CancelToken, ProgressFn, no_progress


@dataclass(frozen=True)
class UnitFeatures:
    """What the preprocessing stage derives from each unit.

    locations: (n_unit, 3) x, y (depth), z in µm; amplitude: (n_unit,) µV;
    peak_channels / unit_shanks: (n_unit,) int64; waveforms: (n_unit, n_channel,
    n_sample) float32, centred when asked; auto_corr: (n_unit, 2*n_bins-1) or None;
    isi: (n_unit, n_isi_bins) or None; peth: (n_unit, n_point) or None.
    """

    locations: np.ndarray
    amplitude: np.ndarray
    peak_channels: np.ndarray
    unit_shanks: np.ndarray
    waveforms: np.ndarray
    auto_corr: np.ndarray | None
    isi: np.ndarray | None
    peth: np.ndarray | None
    warnings: tuple[str, ...] = ()


def peak_to_trough(waveforms: np.ndarray) -> np.ndarray:
    """Peak-to-trough amplitude (n_unit, n_channel) of waveforms (n_unit, n_channel, n_sample):
    max - min over the samples, in the waveforms' dtype (finite values, as loaded)."""
    w = np.asarray(waveforms)
    if w.ndim != 3 or w.shape[2] == 0 or w.dtype != np.float32:
        return w.max(axis=-1) - w.min(axis=-1)
    out = np.empty(w.shape[:2], dtype=np.float32)
    _peak_to_trough_into(np.ascontiguousarray(w), out)
    return out


@njit(cache=True, nogil=True)
def _peak_to_trough_into(w, out) -> None:
    """One pass per channel for both extremes; ~4x faster than numpy's two reductions over
    a short last axis (this runs for every unit and template several times a run)."""
    for u in range(w.shape[0]):
        for c in range(w.shape[1]):
            high = w[u, c, 0]
            low = high
            for k in range(1, w.shape[2]):
                high = max(high, w[u, c, k])
                low = min(low, w[u, c, k])
            out[u, c] = high - low


def nearest_channels(channel_locations: np.ndarray, channel: int, n: int) -> np.ndarray:
    """The n channels nearest to `channel` (itself included), nearest first.

    Ties are broken as numpy's default argsort does, as pyDANT's localisation does, so
    the same channels enter the fit.
    """
    d2 = np.sum((channel_locations - channel_locations[channel]) ** 2, axis=1)
    return np.argsort(d2)[:n]


@njit(cache=True, nogil=True)
def _cost_monopole(p, ptt, pos):
    c = 0.0
    for k in range(ptt.shape[0]):
        r = np.sqrt((pos[k, 0] - p[0]) ** 2 + (pos[k, 1] - p[1]) ** 2 + p[2] ** 2)
        d = ptt[k] - p[3] / r
        c += d * d
    return 0.5 * c


@njit(cache=True, nogil=True)
def fit_monopole(x0, lower, upper, ptt, pos):
    """Bounded least-squares fit of ptt ~ alpha / |pos - (x, y, z)|: (x, y, z, alpha).

    Levenberg-Marquardt with variables held at a bound when the gradient pushes outward.
    It reaches the same optimum as scipy's bounded trust-region solver (within 0.01 µm
    on the parity fixtures) at a fraction of the per-call overhead.
    """
    n = ptt.shape[0]
    p = x0.copy()
    for i in range(4):  # start strictly inside the box, as scipy's trf does
        span = upper[i] - lower[i]
        eps = 1e-10 * max(1.0, abs(p[i])) if span > 0 else 0.0
        if p[i] <= lower[i]:
            p[i] = lower[i] + min(eps, 0.5 * span)
        elif p[i] >= upper[i]:
            p[i] = upper[i] - min(eps, 0.5 * span)
    cost = _cost_monopole(p, ptt, pos)
    lam = 1e-3
    jac = np.empty((n, 4))
    res = np.empty(n)
    for _ in range(500):
        for k in range(n):
            dx = p[0] - pos[k, 0]
            dy = p[1] - pos[k, 1]
            r2 = dx * dx + dy * dy + p[2] * p[2]
            r = np.sqrt(r2)
            res[k] = ptt[k] - p[3] / r
            g = p[3] / (r2 * r)
            jac[k, 0] = g * dx
            jac[k, 1] = g * dy
            jac[k, 2] = g * p[2]
            jac[k, 3] = -1.0 / r
        a = jac.T @ jac
        grad = jac.T @ res
        # Variables held at a bound by the gradient stay fixed this step.
        free = np.ones(4, dtype=np.bool_)
        for i in range(4):
            if (p[i] <= lower[i] and grad[i] > 0) or (p[i] >= upper[i] and grad[i] < 0):
                free[i] = False
        improved = False
        for _ in range(60):
            m = a.copy()
            for i in range(4):
                m[i, i] += lam * max(a[i, i], 1e-12)
                if not free[i]:
                    for j in range(4):
                        m[i, j] = 0.0
                        m[j, i] = 0.0
                    m[i, i] = 1.0
            rhs = -grad.copy()
            for i in range(4):
                if not free[i]:
                    rhs[i] = 0.0
            step = np.linalg.solve(m, rhs)
            trial = np.minimum(np.maximum(p + step, lower), upper)
            c_new = _cost_monopole(trial, ptt, pos)
            if c_new < cost:
                moved = np.abs(trial - p).max()
                scale = np.abs(p).max()
                drop = cost - c_new
                p = trial
                lam = max(lam / 3.0, 1e-12)
                improved = True
                if drop < 1e-12 * cost or moved < 1e-10 * (1.0 + scale):
                    return p
                cost = c_new
                break
            lam *= 4.0
        if not improved:
            return p
    return p


def localize_unit(
    ptt: np.ndarray, channel_locations: np.ndarray, n_nearest: int, algorithm: str
) -> tuple[np.ndarray, float]:
    """Location (x, y, z) in µm and amplitude of one unit from its per-channel ptt (n_channel,)."""
    peak = int(np.argmax(ptt))
    near = nearest_channels(channel_locations, peak, n_nearest)
    weights = ptt[near]
    pos = channel_locations[near]
    ptt_max = float(ptt[peak])
    if not (ptt_max > 0 and weights.sum() > 0):
        # An all-flat waveform has no amplitude to weigh or fit: place it at its peak
        # channel (channel 0 for an all-zero one) rather than at 0/0.
        x, y = channel_locations[peak]
        return np.array([x, y, 0.0 if algorithm == "center_of_mass" else 1.0]), max(ptt_max, 0.0)
    com = (pos * weights[:, None]).sum(axis=0) / weights.sum()
    if algorithm == "center_of_mass":
        return np.array([com[0], com[1], 0.0]), ptt_max
    x0 = np.array([com[0], com[1], 1.0, ptt_max])
    lower = [com[0] - 100, com[1] - 100, 1.0, 0.0]
    upper = [com[0] + 100, com[1] + 100, 1000.0, 1000.0 * ptt_max]
    fit = fit_monopole(x0, np.array(lower), np.array(upper), weights, pos)
    return fit[:3].copy(), float(fit[3])


# Serial on purpose, as _spike_train_batch: a parallel version saves ~20 ms per 1,200 units
# but costs ~15 s of compilation on the first run after installing.
@njit(cache=True, nogil=True)
def _fit_monopoles(x0, lower, upper, weights, positions, out):
    """fit_monopole for every row: out (n, 4)."""
    for k in range(x0.shape[0]):
        out[k] = fit_monopole(x0[k], lower[k], upper[k], weights[k], positions[k])


def kernels_are_cached() -> bool:
    """Whether numba's on-disk cache holds the compiled kernels, judged by the first one a
    run needs (the localisation loop). Reads numba internals; when they cannot be read,
    says True (the caller then just does not warn about the first run's compilation)."""
    try:
        return os.path.exists(_fit_monopoles._cache._cache_file._index_path)
    except Exception:  # noqa: BLE001 - a missing hint is better than a failed run
        return True


def localize_units(
    ptt: np.ndarray,
    channel_locations: np.ndarray,
    n_nearest: int,
    algorithm: str,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    chunk: int = 200,
) -> tuple[np.ndarray, np.ndarray]:
    """`localize_unit` for every row of ptt (n_unit, n_channel): locations (n_unit, 3), amplitude.

    The same numbers as calling localize_unit unit by unit: the nearest channels come
    from the same argsort, the centre of mass sums in the same order, and the fits run
    the same fit_monopole, unit after unit in one compiled loop. Reports
    progress("Locating units", done, n_unit) and checks `cancel` every `chunk` units.
    """
    cancel = cancel or CancelToken()
    n_unit = ptt.shape[0]
    locations = np.zeros((n_unit, 3))
    amplitude = np.zeros(n_unit)
    if n_unit == 0:
        return locations, amplitude
    rows = np.arange(n_unit)
    peak = np.argmax(ptt, axis=1)
    # The nearest channels depend only on the peak channel: one argsort per channel used.
    used, peak_index = np.unique(peak, return_inverse=True)
    near_of_channel = np.stack([nearest_channels(channel_locations, c, n_nearest) for c in used])
    near = near_of_channel[peak_index.reshape(-1)]
    weights = np.ascontiguousarray(ptt[rows[:, None], near])
    positions = np.ascontiguousarray(channel_locations[near])
    ptt_max = ptt[rows, peak].astype(np.float64)
    weight_sum = weights.sum(axis=1)
    # Summed channel by channel, as ndarray.sum(axis=0) does for one unit's (n_near, 2).
    weighted = positions * weights[:, :, None]
    moment = weighted[:, 0, :].copy()
    for j in range(1, weighted.shape[1]):
        moment += weighted[:, j, :]
    flat = ~((ptt_max > 0) & (weight_sum > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        com = moment / weight_sum[:, None]

    fit_monopolar = algorithm != "center_of_mass"
    if fit_monopolar:
        x0 = np.column_stack((com, np.ones(n_unit), ptt_max))
        lower = np.column_stack((com - 100, np.ones(n_unit), np.zeros(n_unit)))
        upper = np.column_stack((com + 100, np.full(n_unit, 1000.0), 1000.0 * ptt_max))
    else:
        locations[:, :2] = com
        amplitude[:] = ptt_max
    fitted = np.flatnonzero(~flat)
    for start in range(0, n_unit, chunk):
        cancel.check()
        stop = min(n_unit, start + chunk)
        todo = fitted[(fitted >= start) & (fitted < stop)]
        if fit_monopolar and todo.size:
            fit = np.empty((todo.size, 4))
            _fit_monopoles(x0[todo], lower[todo], upper[todo], weights[todo], positions[todo], fit)
            locations[todo] = fit[:, :3]
            amplitude[todo] = fit[:, 3]
        progress("Locating units", stop, n_unit)

    # An all-flat waveform is placed at its peak channel, as localize_unit does.
    locations[flat, :2] = channel_locations[peak[flat]]
    locations[flat, 2] = 0.0 if algorithm == "center_of_mass" else 1.0
    amplitude[flat] = np.maximum(ptt_max[flat], 0.0)
    return locations, amplitude


def center_waveforms(waveforms: np.ndarray, peak_channels: np.ndarray) -> np.ndarray:
    """Shift each unit so its peak-channel trough sits at sample ceil(n/2)-1, edges held.

    waveforms: (n_unit, n_channel, n_sample); returns a new float32 array of the same shape.
    """
    n_unit, _, n_sample = waveforms.shape
    centre = int(np.ceil(n_sample / 2) - 1)
    out = np.empty_like(waveforms, dtype=np.float32)
    for k in range(n_unit):
        w = waveforms[k]
        delay = centre - int(np.argmin(w[peak_channels[k]]))
        if delay == 0:
            out[k] = w
        elif delay > 0:
            out[k, :, delay:] = w[:, : n_sample - delay]
            out[k, :, :delay] = w[:, :1]
        else:
            out[k, :, : n_sample + delay] = w[:, -delay:]
            out[k, :, n_sample + delay :] = w[:, -1:]
    return out


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised Gaussian weights over -r..r with r = int(truncate*sigma + 0.5).

    Computed with the same operations as scipy.ndimage's gaussian_filter1d, so the
    weights are bit for bit the ones it uses.
    """
    radius = int(truncate * float(sigma) + 0.5)
    offsets = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * offsets**2)
    return phi / phi.sum()


@njit(cache=True, nogil=True)
def _correlate_reflect(values, kernel, out):
    """out[i] = sum_j kernel[j] * values[i + j - r] for a symmetric kernel of length 2r+1.

    Beyond the ends `values` is mirrored about its edges and repeated (d c b a | a b c d
    | d c b a | ...), so lines shorter than r are handled too. Symmetric pairs are
    added before weighting, outermost first, as scipy.ndimage's correlate1d does, which
    makes the sums identical to its. `out` may be `values` itself.
    """
    n = values.shape[0]
    if n == 0:
        return
    radius = (kernel.shape[0] - 1) // 2
    period = 2 * n
    padded = np.empty(n + 2 * radius)
    for i in range(n + 2 * radius):
        m = (i - radius) % period
        padded[i] = values[m] if m < n else values[period - 1 - m]
    for i in range(n):
        centre = i + radius
        acc = padded[centre] * kernel[radius]
        for j in range(radius, 0, -1):
            acc += (padded[centre - j] + padded[centre + j]) * kernel[radius - j]
        out[i] = acc


def gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a 1-D array, sigma in samples; returns a new float64 array.

    Equal to scipy.ndimage.gaussian_filter1d(values, sigma) with its defaults (mode
    'reflect', truncate 4.0), without importing scipy.ndimage.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"gaussian_smooth takes a 1-D array, got shape {values.shape}")
    out = np.empty_like(values)
    _correlate_reflect(values, gaussian_kernel(sigma), out)
    return out


@njit(cache=True, nogil=True)
def _round_half_even(x: float) -> float:
    r = np.floor(x + 0.5)
    if r - x == 0.5 and r % 2.0 != 0.0:
        r -= 1.0
    return r


@njit(cache=True, nogil=True)
def acg_half_counts(spike_times: np.ndarray, binwidth: float, n_bins: int) -> np.ndarray:
    """Non-negative half of the autocorrelogram: counts of spike pairs j > i per lag bin.

    spike_times: sorted (n_spike,) ms; bin = round-half-even((t_j - t_i)/binwidth) < n_bins.
    """
    counts = np.zeros(n_bins)
    n = spike_times.shape[0]
    limit = (n_bins + 0.5) * binwidth
    for i in range(n):
        for j in range(i + 1, n):
            dt = spike_times[j] - spike_times[i]
            if dt > limit:
                break
            b = _round_half_even(dt / binwidth)
            if b < n_bins:
                counts[int(b)] += 1.0
    return counts


@njit(cache=True, nogil=True)
def _acg_into(spike_times, n_bins, binwidth, kernel, out):
    """ACG (2*n_bins-1,) of sorted, zero-based spike_times written to out, max-normalised;
    untouched if all zero (no pair of spikes within the window).

    Lags are mirrored from acg_half_counts; the negative and positive lags are smoothed
    separately (kernel: Gaussian weights, or empty for none) and lag 0 is left as counted.
    """
    half = acg_half_counts(spike_times, binwidth, n_bins)
    acg = np.empty(2 * n_bins - 1)
    for i in range(n_bins - 1):
        acg[i] = half[n_bins - 1 - i]
    acg[n_bins - 1 :] = half
    if kernel.shape[0] > 0 and n_bins > 1:
        _correlate_reflect(acg[: n_bins - 1], kernel, acg[: n_bins - 1])
        _correlate_reflect(acg[n_bins:], kernel, acg[n_bins:])
    peak = acg.max()
    if peak > 0:
        out[:] = acg / peak


@njit(cache=True, nogil=True)
def _isi_into(spike_times, edges, kernel, out):
    """ISI distribution (interval counts over `edges`, divided by their total, then
    smoothed) of sorted spike_times written to out; untouched if no interval fits.

    Bins are [edges[b], edges[b+1]) with the last one closed, as np.histogram counts
    with increasing edges. kernel: Gaussian weights, or empty for no smoothing.
    """
    n_bins = edges.shape[0] - 1
    counts = np.zeros(n_bins)
    first, last = edges[0], edges[n_bins]
    # A first guess assuming even edges; the comparisons below decide the bin.
    per_bin = (last - first) / n_bins
    for i in range(spike_times.shape[0] - 1):
        interval = spike_times[i + 1] - spike_times[i]
        if not (first <= interval <= last):
            continue
        if interval == last:
            counts[n_bins - 1] += 1.0
            continue
        b = min(max(int((interval - first) / per_bin), 0), n_bins - 1) if per_bin > 0 else 0
        while b > 0 and edges[b] > interval:
            b -= 1
        while edges[b + 1] <= interval:
            b += 1
        counts[b] += 1.0
    total = counts.sum()
    if total == 0:
        return
    freq = counts / total
    if kernel.shape[0] > 0:
        _correlate_reflect(freq, kernel, freq)
    out[:] = freq


# Serial on purpose: a parallel version saves ~40 ms per 1,200 units but costs ~10 s of
# compilation on the first run after installing.
@njit(cache=True, nogil=True)
def _spike_train_batch(
    times, offsets, acg_bins, acg_binwidth, acg_kernel, isi_edges, isi_kernel, auto_corr, isi
):
    """ACG and ISI rows for the units whose spike times are times[offsets[k]:offsets[k+1]].

    Units with fewer than two spikes keep their zero rows; auto_corr with no columns
    means no ACG is wanted.
    """
    for k in range(offsets.shape[0] - 1):
        t = times[offsets[k] : offsets[k + 1]]
        if t.shape[0] < 2:
            continue
        for i in range(t.shape[0] - 1):
            if t[i + 1] < t[i]:
                t = np.sort(t)
                break
        t = t - t[0]
        if auto_corr.shape[1] > 0:
            _acg_into(t, acg_bins, acg_binwidth, acg_kernel, auto_corr[k])
        _isi_into(t, isi_edges, isi_kernel, isi[k])


def spike_train_features(
    spike_times,
    acg_args: tuple[float, float, float] | None,
    isi_args: tuple[float, float, float],
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    chunk: int = 200,
    chunk_spikes: int = 2_000_000,
) -> tuple[np.ndarray | None, np.ndarray, list[str]]:
    """ACG (when acg_args is given) and ISI rows for every unit, and a note per short unit.

    acg_args / isi_args: (window, binwidth, gaussian_sigma) in ms. Each row is _acg_into /
    _isi_into of the unit's sorted, zero-based spike times: ACG lags up to the window
    (floor(window/binwidth)+1 bins a side), ISI edges 0, b, 2b, ... up to the window; zero
    rows where nothing fits or the unit has < 2 spikes. Units are processed in
    one compiled loop, in chunks of at most `chunk` units and, unless a single unit has
    more, `chunk_spikes` spikes, so a cancel is seen soon even with long recordings;
    progress("Spike-train features", done, n_unit) is reported after each chunk.
    """
    cancel = cancel or CancelToken()
    n_unit = len(spike_times)
    isi_window, isi_binwidth, isi_sigma = isi_args
    isi_edges = np.append(np.arange(0, isi_window, isi_binwidth), isi_window)
    isi = np.zeros((n_unit, len(isi_edges) - 1))
    isi_kernel = gaussian_kernel(isi_sigma / isi_binwidth) if isi_sigma > 0 else np.zeros(0)
    if acg_args is None:
        auto_corr = None
        acg_bins, acg_binwidth, acg_kernel = 1, 1.0, np.zeros(0)
    else:
        acg_window, acg_binwidth, acg_sigma = acg_args
        acg_bins = int(np.floor(acg_window / acg_binwidth)) + 1
        sigma_bins = acg_sigma / acg_binwidth
        acg_binwidth = float(acg_binwidth)
        smooth = acg_bins > 1 and sigma_bins > 0
        acg_kernel = gaussian_kernel(sigma_bins) if smooth else np.zeros(0)
        auto_corr = np.zeros((n_unit, 2 * acg_bins - 1))

    sizes = np.array([np.asarray(t).size for t in spike_times], dtype=np.int64)
    notes = [
        f"unit {k} has {sizes[k]} spike(s); its AutoCorr/ISI features are set to zero"
        for k in np.flatnonzero(sizes < 2)
    ]
    if (sizes >= 2).any():
        # np.histogram's own check of the edges, so bad edges fail as isi_histogram does.
        np.histogram(np.zeros(0), bins=isi_edges)
    edges = np.ascontiguousarray(isi_edges, dtype=np.float64)
    spikes_before = np.concatenate(([0], np.cumsum(sizes)))
    start = 0
    while start < n_unit:
        cancel.check()
        within_budget = np.searchsorted(spikes_before, spikes_before[start] + chunk_spikes, "right")
        stop = min(n_unit, start + chunk, max(start + 1, int(within_budget) - 1))
        times = np.concatenate(
            [np.asarray(spike_times[k], dtype=np.float64) for k in range(start, stop)]
        )
        offsets = np.zeros(stop - start + 1, dtype=np.int64)
        np.cumsum(sizes[start:stop], out=offsets[1:])
        acg_rows = auto_corr[start:stop] if auto_corr is not None else np.zeros((stop - start, 0))
        _spike_train_batch(
            times,
            offsets,
            acg_bins,
            acg_binwidth,
            acg_kernel,
            edges,
            isi_kernel,
            acg_rows,
            isi[start:stop],
        )
        progress("Spike-train features", stop, n_unit)
        start = stop
    return auto_corr, isi, notes


def compute_unit_features(
    dataset,
    settings,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> UnitFeatures:
    """Preprocess every unit of `dataset` (docs/method.md §2).

    settings: a Settings, or the EngineSettings a run made of it (`Settings.typed()`).
    """
    params = settings.typed() if hasattr(settings, "typed") else settings
    cancel = cancel or CancelToken()
    raw = dataset.waveforms
    ptt = peak_to_trough(raw)
    peak_channels = np.argmax(ptt, axis=1).astype(np.int64)
    unit_shanks = dataset.channel_shanks[peak_channels].astype(np.int64)

    # ISI is cheap and pyDANT always writes isi.npy; the ACG is computed only when used.
    acg_args = params.auto_corr.as_args()
    isi_args = params.isi.as_args()

    def trains():
        return spike_train_features(
            dataset.spike_times,
            acg_args if "AutoCorr" in params.features_used else None,
            isi_args,
            progress,
            cancel,
        )

    # The spike-train features and the localisation are independent serial loops that
    # release the GIL: with a second core allowed, the first runs in a helper thread
    # meanwhile (both cores busy, without the compile cost of parallel loops).
    with ThreadPoolExecutor(max_workers=1) as pool:
        spike_trains = pool.submit(trains) if numba.get_num_threads() > 1 else None
        locations, amplitude = localize_units(
            ptt,
            dataset.channel_locations,
            params.spike_location.n_nearest_channels,
            params.spike_location.location_algorithm,
            progress,
            cancel,
        )
        if params.centering_waveforms:
            waveforms = center_waveforms(raw, peak_channels)
        else:
            waveforms = np.asarray(raw, dtype=np.float32)
        auto_corr, isi, notes = trains() if spike_trains is None else spike_trains.result()
    cancel.check()  # (the spike trains may have been done before a late cancel request)

    return UnitFeatures(
        locations=locations,
        amplitude=amplitude,
        peak_channels=peak_channels,
        unit_shanks=unit_shanks,
        waveforms=waveforms,
        auto_corr=auto_corr,
        isi=isi,
        peth=dataset.peth,
        warnings=tuple(notes),
    )
