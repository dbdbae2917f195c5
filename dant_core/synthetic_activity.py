"""Activity of the synthetic neurons: spike trains and stimulus responses (PETHs).

Used by `dant_core.synthetic`. Each neuron gets properties that are its own and the same
every day, so the spike-train features (ACG, ISI) and PETHs identify it as they do a real
neuron; a session only draws a new realisation (and changes rate and gain a little).

* Spike trains: a hazard model with an absolute refractory period and a relative one
  (recovery 1 - exp(-t / tau_rel)), a slow log-normal fluctuation of the rate (which gives
  the autocorrelogram its smooth decay over tens to hundreds of ms), and, for about a third
  of the regular-spiking neurons, bursts with a longer recovery after them. Mean rates are
  log-normal across neurons. Times in ms.
* PETHs: 120 bins of 10 ms from -200 ms around a 500 ms stimulus; the trial average of
  Poisson counts of a baseline plus an onset transient and a sustained component (or a
  suppression, sometimes an offset response), smoothed as PETHs are shown. Spikes/s.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.signal import lfilter

SESSION_DURATION_S = 450.0  # with rates <= 40 Hz this keeps units below 20,000 spikes
MAX_SPIKES = 19_999

# PETH: 120 bins of 10 ms from -200 ms, the stimulus on from 0 to 500 ms
PETH_POINTS = 120
PETH_BIN_MS = 10.0
PETH_START_MS = -200.0
STIMULUS_MS = 500.0
PETH_TRIALS = 100
PETH_SMOOTH_BINS = 1.5


# ------------------------------------------------------------------------------------------
# each neuron's properties
# ------------------------------------------------------------------------------------------


def lognormal(rng: np.random.Generator, median, sd_log, n: int, clip_sd: float = 2.0):
    """Log-normal draws with the tails cut at `clip_sd` standard deviations."""
    return median * np.exp(sd_log * np.clip(rng.normal(0.0, 1.0, n), -clip_sd, clip_sd))


def draw_firing(rng: np.random.Generator, narrow: np.ndarray) -> dict[str, np.ndarray]:
    """Spike-train properties of each neuron (see hazard_train for their meaning)."""
    n = len(narrow)

    def pick(narrow_value, wide_value):
        return np.where(narrow, narrow_value, wide_value)

    bursty = ~narrow & (rng.random(n) < 0.35)
    rate = pick(lognormal(rng, 12.0, 0.45, n), lognormal(rng, 5.0, 0.5, n, clip_sd=1.6))
    # slowly firing neurons fire in clusters (a stronger slow fluctuation), as in cortex
    clustered = np.clip((6.0 - rate) / 3.0, 0.0, 1.0)
    return {
        "rate": rate,  # Hz
        "t_abs": pick(rng.uniform(1.5, 1.9, n), rng.uniform(1.6, 2.5, n)),  # ms
        "tau_rel": pick(rng.uniform(1.0, 4.0, n), rng.uniform(3.0, 15.0, n)),  # ms
        "slow_sd": rng.uniform(0.4, 0.9, n) + 0.35 * clustered,  # SD of the log rate
        "slow_tau": lognormal(rng, 110.0, 0.65, n),  # ms
        "burst_prob": np.where(bursty, rng.uniform(0.15, 0.5, n), 0.0),
        "burst_extra": rng.uniform(1.0, 3.0, n),  # mean extra spikes in a burst
        "burst_isi": rng.uniform(2.5, 6.0, n),  # ms
        "post_burst_tau": rng.uniform(15.0, 60.0, n),  # ms, recovery after a burst
    }


def draw_responses(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Stimulus-response properties of each neuron (see response_rates)."""
    kind = rng.choice(4, n, p=[0.65, 0.1, 0.15, 0.1])  # transient+sustained, ramp, sup., weak
    transient = rng.uniform(3.0, 25.0, n) * np.select([kind == 1, kind >= 2], [0.2, 0.1], 1.0)
    sustained = transient * rng.uniform(0.1, 0.6, n) + np.where(
        kind == 1, rng.uniform(3.0, 12.0, n), 0.0
    )
    return {
        "latency": lognormal(rng, 60.0, 0.4, n, clip_sd=1.8),  # ms, 30-120 ms
        "transient": transient,  # Hz at the peak
        "tau_transient": rng.uniform(8.0, 30.0, n),  # ms, time to the transient's peak
        "sustained": sustained,  # Hz
        "tau_sustained": np.where(kind == 1, rng.uniform(80.0, 250.0, n), rng.uniform(15, 50, n)),
        "suppression": np.where(kind == 2, rng.uniform(0.4, 0.9, n), 0.0),  # fraction of base
        "offset": np.where(rng.random(n) < 0.3, rng.uniform(0.2, 0.8, n), 0.0) * transient,
        "offset_delay": rng.uniform(0.0, 40.0, n),  # ms after latency + stimulus end
        "tau_off": rng.uniform(30.0, 90.0, n),  # ms, decay after the stimulus
        "base_scale": rng.uniform(0.7, 1.3, n),  # baseline / the neuron's mean rate
        # a late component (a second wave of activity) in about a third of the neurons
        "late": np.where(rng.random(n) < 0.35, rng.uniform(0.3, 1.0, n), 0.0) * transient,
        "late_delay": rng.uniform(100.0, 350.0, n),  # ms after the latency
        "tau_late": rng.uniform(30.0, 100.0, n),  # ms, time to its peak
    }


# ------------------------------------------------------------------------------------------
# spike trains
# ------------------------------------------------------------------------------------------

SLOW_GRID_MS = 10.0  # the slow rate fluctuation is drawn on this grid


def slow_fluctuation(
    rng: np.random.Generator, duration_ms: float, slow_sd: float, slow_tau: float
) -> np.ndarray:
    """(n_grid,) log-normal factors of mean 1 on a SLOW_GRID_MS grid covering duration_ms:
    exp of a stationary AR(1) process with SD slow_sd and time constant slow_tau ms."""
    n_grid = int(duration_ms / SLOW_GRID_MS) + 2
    a = math.exp(-SLOW_GRID_MS / slow_tau)
    drive = rng.standard_normal(n_grid)
    drive[1:] *= math.sqrt(1.0 - a * a)  # the first value has the stationary SD already
    x = lfilter([1.0], [1.0, -a], drive)
    return np.exp(slow_sd * x - 0.5 * slow_sd * slow_sd)


@njit(cache=True, nogil=True)
def _next_candidate(t, rate_ms, g, duration_ms):
    """The next event after t (ms) of a Poisson process of rate rate_ms * g(t) per ms, g
    constant on each SLOW_GRID_MS cell (time rescaling); duration_ms if none before it."""
    e = np.random.exponential(1.0)
    c = int(t / SLOW_GRID_MS)
    while t < duration_ms:
        lam = rate_ms * g[c]
        room = ((c + 1) * SLOW_GRID_MS - t) * lam
        if e < room:
            return t + e / lam
        e -= room
        c += 1
        t = c * SLOW_GRID_MS
    return duration_ms


@njit(cache=True, nogil=True)
def hazard_train(
    seed, rate_hz, g, duration_ms, t_abs, tau_rel, burst_prob, burst_extra, burst_isi,
    post_burst_tau, max_spikes,
):  # fmt: skip
    """Sorted spike times (n,) in ms, n <= max_spikes, of a neuron whose firing hazard is

        rate * g(t) * (1 - exp(-(d - t_abs) / tau)) for d > t_abs, 0 before,

    d the time since the last spike (ms) and g a slow fluctuation of mean 1 (constant on each
    SLOW_GRID_MS cell, see slow_fluctuation). After a spike, with probability burst_prob,
    1 + Poisson(burst_extra - 1) more spikes follow about burst_isi ms apart, and the
    recovery after them takes post_burst_tau instead of tau_rel. Candidates come at
    rate * g(t) from the end of the absolute refractory period and are kept with the
    recovery's probability; numba's generator is seeded with `seed`.
    """
    np.random.seed(seed)
    out = np.empty(max_spikes)
    n = 0
    t = 0.0
    last = -1e9
    tau = tau_rel
    while n < max_spikes:
        t = _next_candidate(max(t, last + t_abs), rate_hz / 1000.0, g, duration_ms)
        if t >= duration_ms:
            break
        if np.random.random() >= 1.0 - math.exp(-(t - last - t_abs) / tau):
            continue
        out[n] = t
        n += 1
        last = t
        tau = tau_rel
        if burst_prob > 0.0 and np.random.random() < burst_prob:
            for _ in range(1 + np.random.poisson(burst_extra - 1.0)):
                t += max(burst_isi * np.random.gamma(8.0, 1.0 / 8.0), t_abs + 0.2)
                if t >= duration_ms or n >= max_spikes:
                    break
                out[n] = t
                n += 1
                last = t
            tau = post_burst_tau
    return out[:n]


def base_hazard(firing: dict[str, np.ndarray], k: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """The hazard's rate (Hz) that gives about `rate` Hz once refractoriness and bursts are
    counted: the mean interval between first spikes is about t_abs + tau + 1 / base."""
    extra = firing["burst_prob"][k] * firing["burst_extra"][k]
    first = rate / (1.0 + extra)  # spikes that are not inside a burst
    dead = firing["t_abs"][k] + np.where(
        firing["burst_prob"][k] > 0,
        firing["burst_prob"][k] * firing["post_burst_tau"][k]
        + (1 - firing["burst_prob"][k]) * firing["tau_rel"][k],
        firing["tau_rel"][k],
    )
    return 1000.0 / np.maximum(1000.0 / first - dead, 1.0)


# ------------------------------------------------------------------------------------------
# PETH
# ------------------------------------------------------------------------------------------


def _alpha(u: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """(u / tau) exp(1 - u / tau) for u > 0, else 0: rises to 1 at u = tau, then decays."""
    v = np.maximum(u, 0.0) / tau
    return v * np.exp(1.0 - v)


def response_rates(
    resp: dict[str, np.ndarray], neuron: np.ndarray, base: np.ndarray, latency_shift: np.ndarray
) -> np.ndarray:
    """(U, PETH_POINTS) expected rate in spikes/s around the stimulus of units of `neuron`
    with baseline `base` (U,) Hz: baseline, then from the onset latency a transient (alpha
    function) and a sustained component (rising with tau_sustained, decaying with tau_off
    after the stimulus ends), or a sustained suppression of the baseline; in some neurons a
    late component and an offset response after the stimulus."""
    t = PETH_START_MS + (np.arange(PETH_POINTS) + 0.5) * PETH_BIN_MS

    def p(key: str) -> np.ndarray:
        return resp[key][neuron][:, None]

    u = t[None, :] - (p("latency") + latency_shift[:, None])
    on = np.minimum(u, STIMULUS_MS)
    sustained = np.where(u > 0, 1.0 - np.exp(-np.maximum(on, 0.0) / p("tau_sustained")), 0.0)
    sustained *= np.exp(-np.maximum(u - STIMULUS_MS, 0.0) / p("tau_off"))
    rates = base[:, None] * (1.0 - p("suppression") * sustained)
    rates += p("transient") * _alpha(u, p("tau_transient"))
    rates += p("sustained") * sustained
    rates += p("offset") * _alpha(u - STIMULUS_MS - p("offset_delay"), p("tau_transient"))
    rates += p("late") * _alpha(u - p("late_delay"), p("tau_late"))
    return rates


def _smooth_bins(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along the last axis (edges reflected), as PETHs are shown."""
    r = int(math.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([x[:, r:0:-1], x, x[:, -2 : -r - 2 : -1]], axis=1)
    out = np.zeros_like(x)
    for i, w in enumerate(kernel):
        out += w * padded[:, i : i + x.shape[1]]
    return out


def make_peth(
    resp: dict, rate: np.ndarray, neuron: np.ndarray, rate_change: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """(n_unit, PETH_POINTS) float64 trial-averaged rates (spikes/s): Poisson counts of
    PETH_TRIALS trials per bin, smoothed. A session changes the response's gain by about
    10 % and its latency by about 2 ms; the baseline follows the unit's rate."""
    n_units = len(neuron)
    gain = np.exp(rng.normal(0.0, 0.1, n_units))
    shift = rng.normal(0.0, 2.0, n_units)
    base = rate[neuron] * resp["base_scale"][neuron] * rate_change
    expected = response_rates(resp, neuron, base / gain, shift) * gain[:, None]
    per_trial_bin = PETH_TRIALS * PETH_BIN_MS / 1000.0
    counts = rng.poisson(np.maximum(expected, 0.0) * per_trial_bin)
    return _smooth_bins(counts / per_trial_bin, PETH_SMOOTH_BINS)
