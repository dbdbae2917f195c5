"""Motion before any match: register sessions by their unit distributions (large drift).

DANT estimates motion from matched units and matches units on motion-corrected
waveforms; with tens of µm of drift and no PETH that loop can start from nothing. This
initialiser needs no identity: each session's units form a density over depth, lateral
position and log amplitude; every pair of sessions is compared over a range of depth
shifts, and one offset per session is solved jointly and robustly from all pairwise
shifts (decentralised registration in the spirit of DREDge, Windolf et al. 2023).
"""

from __future__ import annotations

import numpy as np

from .motion import Motion

DEPTH_STEP = 1.0  # µm, grid step along depth
DEPTH_SIGMA = 6.0  # µm, blur of each unit along depth
LATERAL_CENTRES = np.arange(-8.0, 80.0, 8.0)  # µm: x grid over a Neuropixels column set
LATERAL_SIGMA = 10.0
LOG_AMPLITUDE_SIGMA = 0.15
N_LOG_AMPLITUDE = 12
HUBER_DELTA = 5.0  # µm: pairwise shifts further than this from the fit count less
MIN_CORRELATION = 0.2  # pairs of sessions whose best alignment is this poor are ignored
DEPTH_REACH = 8.0  # sigmas: how far along depth a unit's Gaussian is evaluated


def _session_densities(y, x, log_amp, sessions, n_session, y_grid, max_shift):
    """Per session, unit density on (depth, lateral x log-amplitude) grids, FFT along depth."""
    amp_centres = np.linspace(log_amp.min(), log_amp.max() + 1e-9, N_LOG_AMPLITUDE)
    x_rel = x - np.median(x)
    lateral = np.exp(
        -0.5 * ((x_rel[:, None] - (LATERAL_CENTRES - 36.0)[None, :]) / LATERAL_SIGMA) ** 2
    )
    amp = np.exp(-0.5 * ((log_amp[:, None] - amp_centres[None, :]) / LOG_AMPLITUDE_SIGMA) ** 2)
    profile = (lateral[:, :, None] * amp[:, None, :]).reshape(y.size, -1)  # (n_unit, n_col)
    n_fft = int(2 ** np.ceil(np.log2(y_grid.size + 2 * max_shift / DEPTH_STEP + 1)))
    spectra = []
    energy = np.zeros(n_session)
    # Each unit's Gaussian along depth is evaluated within DEPTH_REACH sigmas only (beyond,
    # it is below 1e-14 of its peak): a banded kernel instead of n_depth exps per unit.
    reach = int(np.ceil(DEPTH_REACH * DEPTH_SIGMA / DEPTH_STEP))
    window = np.arange(-reach, reach + 1)
    for s in range(1, n_session + 1):
        units = np.flatnonzero(sessions == s)
        nearest = np.rint((y[units] - y_grid[0]) / DEPTH_STEP).astype(np.int64)
        rows = nearest[None, :] + window[:, None]  # (n_window, n_unit) grid indices
        inside = (rows >= 0) & (rows < y_grid.size)
        cols = np.broadcast_to(np.arange(units.size), rows.shape)
        depth_kernel = np.zeros((y_grid.size, units.size))
        gap = (y_grid[rows[inside]] - y[units][cols[inside]]) / DEPTH_SIGMA
        depth_kernel[rows[inside], cols[inside]] = np.exp(-0.5 * gap**2)
        density = depth_kernel @ profile[units]  # (n_depth, n_col)
        energy[s - 1] = np.sum(density**2)
        spectra.append(np.fft.rfft(density, n=n_fft, axis=0))
    return np.array(spectra), energy, n_fft


def pairwise_shifts(y, x, log_amp, sessions, n_session, max_shift):
    """Best depth shift d_ij (session j relative to i, µm) and its correlation, all pairs."""
    y_grid = np.arange(y.min() - 3 * DEPTH_SIGMA, y.max() + 3 * DEPTH_SIGMA, DEPTH_STEP)
    spectra, energy, n_fft = _session_densities(
        y, x, log_amp, sessions, n_session, y_grid, max_shift
    )
    max_lag = int(round(max_shift / DEPTH_STEP))
    lags = np.r_[0 : max_lag + 1, -max_lag:0]
    # Cross-spectra of every pair of sessions at once: per frequency, the Gram matrix of
    # the sessions' spectra over the grid columns; then all cross-correlations in one go.
    by_frequency = spectra.transpose(1, 0, 2)  # (n_freq, n_session, n_col)
    gram = np.conj(by_frequency) @ by_frequency.transpose(0, 2, 1)
    correlations = np.fft.irfft(gram, n=n_fft, axis=0)  # (n_fft, n_session, n_session)
    shifts, strength, pairs = [], [], []
    for i in range(n_session):
        for j in range(i + 1, n_session):
            if energy[i] == 0 or energy[j] == 0:
                continue
            xc = correlations[:, i, j]
            xc = np.concatenate((xc[: max_lag + 1], xc[n_fft - max_lag :])) / np.sqrt(
                energy[i] * energy[j]
            )
            k = int(np.argmax(xc))
            # Sub-step peak by a parabola through the neighbours.
            offset = 0.0
            if 0 < k < xc.size - 1 and k != max_lag and k != max_lag + 1:
                a, b, c = xc[k - 1], xc[k], xc[k + 1]
                denom = a - 2 * b + c
                if denom < 0:
                    offset = 0.5 * (a - c) / denom
            shifts.append((lags[k] + offset) * DEPTH_STEP)
            strength.append(xc[k])
            pairs.append((i, j))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(shifts), np.array(strength)


def register_sessions(
    locations: np.ndarray,
    amplitude: np.ndarray,
    sessions: np.ndarray,
    n_session: int,
    max_shift: float = 150.0,
) -> Motion:
    """Rigid motion per session (n_session,) from unit distributions alone.

    locations: (n_unit, >=2) x, y in µm; amplitude: (n_unit,) peak-to-trough µV (> 0).
    Sessions that no other session aligns with stay at 0 before centring.
    """
    y = locations[:, 1].astype(float)
    x = locations[:, 0].astype(float)
    log_amp = np.log(np.maximum(amplitude, 1e-3))
    pairs, d, c = pairwise_shifts(y, x, log_amp, sessions, n_session, max_shift)
    keep = c >= MIN_CORRELATION
    pairs, d, c = pairs[keep], d[keep], c[keep]
    if pairs.size == 0:
        return Motion.zero(n_session)
    a = np.zeros((pairs.shape[0], n_session))
    rows = np.arange(pairs.shape[0])
    a[rows, pairs[:, 1]] = 1.0
    a[rows, pairs[:, 0]] = -1.0
    base = c**2
    weights = base.copy()
    b = np.zeros(n_session)
    for _ in range(20):  # iteratively reweighted least squares with a Huber loss
        aw = a * weights[:, None]
        b_new = np.linalg.pinv(aw.T @ a, hermitian=True) @ (aw.T @ d)
        residual = np.abs(a @ b_new - d)
        weights = base * np.minimum(1.0, HUBER_DELTA / np.maximum(residual, HUBER_DELTA))
        converged = np.abs(b_new - b).max() < 1e-3
        b = b_new
        if converged:
            break
    return Motion(np.zeros(n_session), b - b.mean())
