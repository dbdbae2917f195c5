"""Synthetic ground-truth data folders for demos, tests and benchmarks.

`make_demo` writes a data folder in the engine's input format (see the table below) for a
simulated chronic Neuropixels 1.0 recording, and the ground truth beside it in
`truth_folder(out)`:

| file                     | shape                        | dtype   |
| `waveform_all.npy`       | (n_unit, n_channel, 90)      | float32 |
| `session_index.npy`      | (n_unit,) values 1..S        | int64   |
| `channel_locations.npy`  | (n_channel, 2) x, y µm       | float64 |
| `channel_shanks.npy`     | (n_channel,) ids 1..n_shanks | int64   |  only if n_shanks > 1
| `peth.npy`               | (n_unit, 120)                | float64 |  only if with_peth
| `spike_times/Unit{k}.npy`| (n_spike,) ms                | float64 |

Truth (`<out>_truth/`): `gt_neuron_id.npy` (n_unit,) int64, `gt_motion.npy` (2, S) float64
with row 0 the linear coefficients k_s and row 1 the constants b_s of the motion model
m(s, y) = 0.001 * k_s * y + b_s µm (the apparent depth of a neuron in session s is its
true depth + m(s, y)), and `neuron_positions.npy` (n_neuron, 3) float64 x, y, z in µm.

The model:

* Probe: Neuropixels 1.0 columns at x = 43, 11, 59, 27 µm (staggered pairs), 20 µm row
  pitch, two channels per row; several shanks are copies of the column set 250 µm apart.
* Neurons sit beside a shank (x over the column span, 10-80 µm from the probe plane, depth
  within the probe span).  Each has its own spike shape (asymmetric trough, repolarisation
  peak, small pre-trough bump), amplitude 50-300 µV at the nearest site, a monopole decay
  alpha / r, and a footprint that changes with distance (delays along the probe and with
  distance, broadening and a changing peak/trough ratio).
* Motion: a rigid random walk (step N(0, drift_um)) per session, optionally plus a linear
  term across depth, centred to mean 0 over sessions.
* Each neuron has a lifetime window of sessions (about 15 % are short-lived) and is present
  in each session of it with probability 0.85.  Units are ordered by session, then neuron.
* Spike trains are renewal (gamma) processes with an absolute refractory period (1.5-3 ms),
  rates 1-20 Hz and, for about a third of the neurons, bursts with 3-8 ms intra-burst
  intervals; each session lasts `SESSION_DURATION_S` and rates change a little between
  sessions.
* PETHs are a baseline plus 1-3 Gaussian bumps (120 points) observed through Poisson noise.

Everything is drawn from independent streams of `numpy.random.SeedSequence(seed)`, so a seed
gives the same folder whatever the options that do not change the model (e.g. with_peth).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DatasetError

__all__ = ["DemoTruth", "truth_folder", "make_demo", "load_truth", "SESSION_DURATION_S"]

ProgressFn = Callable[[str, int, int], None]

# --- recording conventions (as in the example data sets) ----------------------------------
N_SAMPLES = 90  # samples per waveform (3 ms at 30 kHz)
TROUGH_SAMPLE = 30  # the trough on the peak channel sits at this sample
SAMPLE_RATE_KHZ = 30.0
PETH_POINTS = 120
SESSION_DURATION_S = 450.0  # with rates <= 20 Hz this keeps units below 10,000 spikes
MAX_SPIKES = 9_999

# --- probe geometry -----------------------------------------------------------------------
COLUMN_X = (43.0, 11.0, 59.0, 27.0)  # row 0: 43, 11; row 1: 59, 27; then repeat
ROW_PITCH_UM = 20.0
SHANK_PITCH_UM = 250.0

# --- model constants ----------------------------------------------------------------------
PRESENCE_PROB = 0.85
SHORT_LIVED_FRACTION = 0.15
NOISE_SD_UV = 1.5  # per-session noise on the mean waveforms
_NOISE_KERNEL = np.array([0.25, 0.5, 0.25], dtype=np.float32)


@dataclass(frozen=True)
class DemoTruth:
    """Ground truth of a synthetic data folder."""

    neuron_id: np.ndarray  # (n_unit,) int64, true neuron of each unit (0-based)
    motion: np.ndarray  # (2, S) float64, row 0 k_s, row 1 b_s
    neuron_positions: np.ndarray  # (n_neuron, 3) float64, x, y, z in µm

    @property
    def n_sessions(self) -> int:
        return int(self.motion.shape[1])

    def motion_at(self, session: np.ndarray | int, y: np.ndarray | float) -> np.ndarray:
        """m(s, y) in µm for 1-based session(s) `session` at depth(s) `y`."""
        s = np.asarray(session, dtype=np.int64) - 1
        return 0.001 * self.motion[0, s] * np.asarray(y, dtype=np.float64) + self.motion[1, s]


def truth_folder(data_folder: Path) -> Path:
    """The folder holding the ground truth of `data_folder`: a sibling named `<name>_truth`."""
    data_folder = Path(data_folder)
    return data_folder.parent / (data_folder.name + "_truth")


def load_truth(data_folder: Path) -> DemoTruth:
    """Read the ground truth written by `make_demo` for `data_folder`."""
    folder = truth_folder(Path(data_folder))
    arrays = {}
    for name in ("gt_neuron_id", "gt_motion", "neuron_positions"):
        path = folder / f"{name}.npy"
        if not path.is_file():
            raise DatasetError(f"{path}: ground-truth file not found")
        arrays[name] = np.load(path)
    motion = np.asarray(arrays["gt_motion"], dtype=np.float64)
    if motion.ndim != 2 or motion.shape[0] != 2:
        raise DatasetError(f"{folder / 'gt_motion.npy'}: expected shape (2, S), got {motion.shape}")
    return DemoTruth(
        neuron_id=np.asarray(arrays["gt_neuron_id"], dtype=np.int64),
        motion=motion,
        neuron_positions=np.asarray(arrays["neuron_positions"], dtype=np.float64),
    )


# ------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------


def probe_geometry(n_channels: int, n_shanks: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Channel locations (n_channels, 2) and shank ids (n_channels,) of a Neuropixels 1.0
    style probe with `n_channels` channels in total split evenly over `n_shanks` shanks."""
    per_shank = n_channels // n_shanks
    k = np.arange(per_shank)
    row = k // 2
    x = np.asarray(COLUMN_X)[(row % 2) * 2 + (k % 2)]
    y = row * ROW_PITCH_UM
    locs = np.concatenate(
        [np.column_stack([x + SHANK_PITCH_UM * sh, y]) for sh in range(n_shanks)]
    ).astype(np.float64)
    shanks = np.repeat(np.arange(1, n_shanks + 1, dtype=np.int64), per_shank)
    return locs, shanks


# ------------------------------------------------------------------------------------------
# sessions of each neuron
# ------------------------------------------------------------------------------------------


def _draw_presence(rng: np.random.Generator, n_units: int, n_sessions: int) -> np.ndarray:
    """(n_neuron, S) bool presence, exactly `n_units` True in total, every session non-empty."""
    S = n_sessions
    short_max = max(1, int(math.ceil(0.25 * S)))
    blocks: list[np.ndarray] = []
    total = 0
    batch = max(64, n_units // max(1, S // 2))
    while total < n_units:
        short = rng.random(batch) < SHORT_LIVED_FRACTION
        # long-lived neurons: about half span the recording from its start / to its end
        start = np.where(rng.random(batch) < 0.5, 0, rng.integers(0, S, batch))
        end = np.where(rng.random(batch) < 0.5, S - 1, rng.integers(0, S, batch))
        start, end = np.minimum(start, end), np.maximum(start, end)
        length = rng.integers(1, short_max + 1, batch)
        s_start = rng.integers(0, S - length + 1)
        start = np.where(short, s_start, start)
        end = np.where(short, s_start + length - 1, end)
        sess = np.arange(S)
        window = (sess >= start[:, None]) & (sess <= end[:, None])
        present = window & (rng.random((batch, S)) < PRESENCE_PROB)
        # at least one session per neuron
        empty = ~present.any(axis=1)
        if empty.any():
            pick = start[empty] + (
                rng.random(empty.sum()) * (end[empty] - start[empty] + 1)
            ).astype(np.int64)
            present[np.flatnonzero(empty), pick] = True
        blocks.append(present)
        total += int(present.sum())
    presence = np.concatenate(blocks)
    counts = presence.sum(axis=1)
    cum = np.cumsum(counts)
    n_neuron = int(np.searchsorted(cum, n_units) + 1)
    presence = presence[:n_neuron].copy()
    excess = int(cum[n_neuron - 1] - n_units)
    if excess:
        last = np.flatnonzero(presence[-1])
        presence[-1, last[len(last) - excess :]] = False
    # every session must hold a unit: move units out of crowded sessions
    per_session = presence.sum(axis=0)
    for s in np.flatnonzero(per_session == 0):
        donor_s = int(np.argmax(per_session))
        n = int(np.flatnonzero(presence[:, donor_s])[0])
        presence[n, donor_s] = False
        presence[n, s] = True
        per_session[donor_s] -= 1
        per_session[s] += 1
    return presence


# ------------------------------------------------------------------------------------------
# neurons
# ------------------------------------------------------------------------------------------


@dataclass
class _Neurons:
    pos: np.ndarray  # (N, 3)
    shank: np.ndarray  # (N,) 1-based
    amp: np.ndarray  # trough amplitude at the nearest site, µV
    r0: np.ndarray  # distance to the nearest site at the true position, µm
    sig_l: np.ndarray  # trough rise width, samples
    sig_r: np.ndarray  # trough decay width, samples
    t_peak: np.ndarray  # trough-to-peak, samples
    sig_p1: np.ndarray  # repolarisation peak rise width
    sig_p2: np.ndarray  # repolarisation peak decay width
    rho: np.ndarray  # peak / trough ratio at the nearest site
    pre: np.ndarray  # pre-trough bump / trough ratio
    v_y: np.ndarray  # delay per µm along the probe, samples / µm (signed)
    v_r: np.ndarray  # delay per µm of distance, samples / µm
    widen: np.ndarray  # relative widening per 100 µm of distance
    rho_slope: np.ndarray  # relative change of rho per 100 µm of distance
    # spike-train statistics
    rate: np.ndarray  # Hz
    refractory: np.ndarray  # ms
    gamma_shape: np.ndarray
    bursty: np.ndarray  # bool
    burst_prob: np.ndarray
    burst_extra: np.ndarray  # mean extra spikes per burst
    burst_isi: np.ndarray  # ms
    # PETH
    peth_profile: np.ndarray  # (N, 120)


def _draw_neurons(
    rng: np.random.Generator, n: int, n_shanks: int, locs: np.ndarray, y_span: tuple[float, float]
) -> _Neurons:
    shank = rng.integers(1, n_shanks + 1, n).astype(np.int64)
    x = SHANK_PITCH_UM * (shank - 1) + rng.uniform(0.0, 70.0, n)
    y = rng.uniform(y_span[0], y_span[1], n)
    z = rng.uniform(10.0, 80.0, n)
    pos = np.column_stack([x, y, z])
    r0 = np.empty(n)
    for i0 in range(0, n, 4096):
        p = pos[i0 : i0 + 4096]
        d2 = (locs[None, :, 0] - p[:, None, 0]) ** 2 + (locs[None, :, 1] - p[:, None, 1]) ** 2
        r0[i0 : i0 + 4096] = np.sqrt(d2.min(axis=1) + p[:, 2] ** 2)

    amp = np.exp(rng.uniform(np.log(50.0), np.log(300.0), n))
    narrow = rng.random(n) < 0.25  # fast-spiking-like narrow units
    sig_l = rng.uniform(1.0, 2.2, n)
    sig_r = np.where(narrow, rng.uniform(1.5, 2.8, n), rng.uniform(2.5, 5.5, n))
    t_peak = np.where(narrow, rng.uniform(6.0, 10.0, n), rng.uniform(10.0, 22.0, n))
    sig_p1 = np.where(narrow, rng.uniform(2.0, 4.0, n), rng.uniform(3.0, 7.0, n))
    sig_p2 = np.where(narrow, rng.uniform(3.0, 6.0, n), rng.uniform(6.0, 16.0, n))
    rho = np.where(narrow, rng.uniform(0.35, 0.7, n), rng.uniform(0.12, 0.45, n))
    pre = rng.uniform(0.0, 0.15, n)
    v_y = rng.uniform(-0.025, 0.025, n)
    v_r = rng.uniform(0.0, 0.012, n)
    widen = rng.uniform(0.05, 0.4, n)
    rho_slope = rng.uniform(-0.3, 0.9, n)

    rate = np.exp(rng.uniform(np.log(1.0), np.log(20.0), n))
    refractory = rng.uniform(1.5, 3.0, n)
    bursty = rng.random(n) < 0.3
    gamma_shape = np.where(bursty, rng.uniform(0.6, 1.2, n), rng.uniform(0.7, 4.0, n))
    burst_prob = np.where(bursty, rng.uniform(0.3, 0.8, n), 0.0)
    burst_extra = np.where(bursty, rng.uniform(1.0, 3.0, n), 0.0)
    burst_isi = rng.uniform(3.0, 8.0, n)

    # PETH: baseline plus 1-3 Gaussian bumps (some of them suppressions)
    tt = np.arange(PETH_POINTS, dtype=np.float64)
    base = rate * rng.uniform(0.6, 1.4, n)
    profile = np.repeat(base[:, None], PETH_POINTS, axis=1)
    n_bumps = rng.integers(1, 4, n)
    for j in range(3):
        on = n_bumps > j
        centre = rng.uniform(10.0, PETH_POINTS - 10.0, n)
        width = rng.uniform(3.0, 20.0, n)
        height = rng.uniform(-0.7, 3.0, n) * base
        profile += (on * height)[:, None] * np.exp(
            -0.5 * ((tt - centre[:, None]) / width[:, None]) ** 2
        )
    profile = np.maximum(profile, 0.05 * base[:, None])

    return _Neurons(
        pos=pos, shank=shank, amp=amp, r0=r0, sig_l=sig_l, sig_r=sig_r, t_peak=t_peak,
        sig_p1=sig_p1, sig_p2=sig_p2, rho=rho, pre=pre, v_y=v_y, v_r=v_r, widen=widen,
        rho_slope=rho_slope, rate=rate, refractory=refractory, gamma_shape=gamma_shape,
        bursty=bursty, burst_prob=burst_prob, burst_extra=burst_extra, burst_isi=burst_isi,
        peth_profile=profile,
    )  # fmt: skip


def _draw_motion(
    rng: np.random.Generator, S: int, drift_um: float, depth_dependent: bool, span_um: float
) -> np.ndarray:
    steps = rng.normal(0.0, 1.0, (2, S))
    steps[:, 0] = 0.0
    b = np.cumsum(steps[1]) * drift_um
    b -= b.mean()
    k = np.zeros(S)
    if depth_dependent:
        # the linear term changes m by about 0.4 * drift_um across the probe span
        k = np.cumsum(steps[0]) * (0.4 * drift_um * 1000.0 / max(span_um, ROW_PITCH_UM))
        k -= k.mean()
    return np.vstack([k, b])


# ------------------------------------------------------------------------------------------
# waveforms
# ------------------------------------------------------------------------------------------


def _waveforms_chunk(
    nr: _Neurons,
    neuron: np.ndarray,
    y_app: np.ndarray,
    gain: np.ndarray,
    locs: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """(U, C, T) float32 waveforms of units of neurons `neuron` seen at depths `y_app`."""
    f32 = np.float32
    cx = locs[:, 0].astype(f32)
    cy = locs[:, 1].astype(f32)
    x = nr.pos[neuron, 0].astype(f32)[:, None]
    z = nr.pos[neuron, 2].astype(f32)[:, None]
    dy = cy[None, :] - y_app.astype(f32)[:, None]
    r = np.sqrt((cx[None, :] - x) ** 2 + dy**2 + z**2)  # (U, C)
    r0 = nr.r0[neuron].astype(f32)[:, None]
    extra = (r - r0) / f32(100.0)

    def p(a: np.ndarray) -> np.ndarray:  # per-unit parameter as (U, 1, 1)
        return a[neuron].astype(f32)[:, None, None]

    amp = (nr.amp[neuron] * nr.r0[neuron] * gain).astype(f32)[:, None] / r  # monopole
    scale = f32(1.0) + nr.widen[neuron].astype(f32)[:, None] * np.maximum(extra, 0)
    v_y = nr.v_y[neuron].astype(f32)[:, None]
    v_r = nr.v_r[neuron].astype(f32)[:, None]
    delay = v_y * dy + v_r * (r - r0)
    rho = nr.rho[neuron].astype(f32)[:, None] * np.clip(
        1.0 + nr.rho_slope[neuron].astype(f32)[:, None] * extra, 0.2, 3.0
    )

    t = np.arange(N_SAMPLES, dtype=f32) - f32(TROUGH_SAMPLE)
    u = t[None, None, :] - delay[:, :, None]
    u /= scale[:, :, None]
    # trough: asymmetric Gaussian
    tmp = u / np.where(u < 0, p(nr.sig_l), p(nr.sig_r))
    np.square(tmp, out=tmp)
    tmp *= f32(-0.5)
    wave = np.exp(tmp, out=tmp)
    np.negative(wave, out=wave)
    # repolarisation peak: asymmetric Gaussian, its size changing with distance
    up = u - p(nr.t_peak)
    up /= np.where(up < 0, p(nr.sig_p1), p(nr.sig_p2))
    np.square(up, out=up)
    up *= f32(-0.5)
    np.exp(up, out=up)
    up *= rho[:, :, None]
    wave += up
    # small pre-trough bump
    u += f32(3.0) * p(nr.sig_l) + f32(1.5)
    u /= f32(1.3) * p(nr.sig_l)
    np.square(u, out=u)
    u *= f32(-0.5)
    np.exp(u, out=u)
    u *= p(nr.pre)
    wave += u
    wave *= amp[:, :, None]
    wave += noise
    return wave


# ------------------------------------------------------------------------------------------
# spike trains
# ------------------------------------------------------------------------------------------


def _spike_train(
    rng: np.random.Generator,
    rate: float,
    refractory_ms: float,
    gamma_shape: float,
    burst_prob: float,
    burst_extra: float,
    burst_isi_ms: float,
    duration_ms: float,
) -> np.ndarray:
    """Sorted spike times in ms of a gamma renewal process with bursts and refractoriness."""
    spikes_per_event = 1.0 + burst_prob * burst_extra
    mean_isi = 1000.0 / (rate / spikes_per_event)
    free = max(mean_isi - refractory_ms, 0.5)
    n_draw = int(duration_ms / mean_isi * 1.15 + 5.0 * math.sqrt(duration_ms / mean_isi) + 10)
    isi = refractory_ms + rng.gamma(gamma_shape, free / gamma_shape, n_draw)
    events = rng.uniform(0.0, mean_isi) + np.cumsum(isi)
    while events[-1] < duration_ms:  # rare: draw more
        more = refractory_ms + rng.gamma(gamma_shape, free / gamma_shape, n_draw)
        events = np.concatenate([events, events[-1] + np.cumsum(more)])
    events = events[events < duration_ms]
    if burst_prob > 0 and len(events):
        n_extra = np.where(
            rng.random(len(events)) < burst_prob, 1 + rng.poisson(burst_extra - 1.0, len(events)), 0
        )
        total = int(n_extra.sum())
        if total:
            gaps = np.maximum(rng.gamma(8.0, burst_isi_ms / 8.0, total), refractory_ms + 0.2)
            owner = np.repeat(np.arange(len(events)), n_extra)
            cs = np.cumsum(gaps)
            first = np.cumsum(n_extra) - n_extra  # index of each burst's first extra spike
            base = (cs - gaps)[first[n_extra > 0]]
            offset = cs - np.repeat(base, n_extra[n_extra > 0])
            events = np.sort(np.concatenate([events, events[owner] + offset]))
            keep = np.ones(len(events), dtype=bool)
            keep[1:] = np.diff(events) >= refractory_ms
            events = events[keep & (events < duration_ms)]
    return events[:MAX_SPIKES]


# ------------------------------------------------------------------------------------------
# the folder
# ------------------------------------------------------------------------------------------


def make_demo(
    out: Path,
    *,
    n_units: int = 600,
    n_sessions: int = 8,
    seed: int = 0,
    n_shanks: int = 1,
    drift_um: float = 10.0,
    jump_um: float = 0.0,
    depth_dependent: bool = False,
    with_peth: bool = True,
    n_channels: int | None = None,
    progress: ProgressFn | None = None,
) -> DemoTruth:
    """Write a ground-truth data folder to `out` and its truth beside it (truth_folder(out)).

    n_units      total number of units over all sessions (exact; about n_units / n_sessions
                 per session).
    n_sessions   number of sessions S; session_index holds 1..S, every value present.
    seed         seed of every random draw; the same arguments give identical files.
    n_shanks     shanks 250 µm apart; > 1 also writes channel_shanks.npy (ids 1..n_shanks).
    drift_um     standard deviation of the per-session step of the rigid probe motion.
    jump_um      one extra rigid jump of this size between two consecutive sessions (at a
                 random session), as when a probe settles suddenly.
    depth_dependent  add a linear-in-depth motion term (about 0.4 * drift_um across the probe).
    with_peth    write peth.npy (n_unit, 120).
    n_channels   total number of channels over all shanks (a multiple of 2 * n_shanks);
                 default 96 (a 960 µm section), or 48 per shank when n_shanks > 2.
    progress     optional progress(stage, done, total) callback.

    Files of the format left in `out` by an earlier call (stale Unit files, channel_shanks.npy,
    peth.npy) are removed so the folder stays consistent.
    """
    out = Path(out)
    report = progress or (lambda stage, done, total: None)
    if n_sessions < 1:
        raise ValueError(f"n_sessions must be >= 1, got {n_sessions}")
    if n_units < n_sessions:
        raise ValueError(f"n_units ({n_units}) must be at least n_sessions ({n_sessions})")
    if n_shanks < 1:
        raise ValueError(f"n_shanks must be >= 1, got {n_shanks}")
    if n_channels is None:
        n_channels = max(96, 48 * n_shanks)
    if n_channels < 2 * n_shanks or n_channels % (2 * n_shanks):
        raise ValueError(
            f"n_channels ({n_channels}) must be a positive multiple of "
            f"2 * n_shanks ({2 * n_shanks})"
        )
    if drift_um < 0:
        raise ValueError(f"drift_um must be >= 0, got {drift_um}")

    ss = np.random.SeedSequence(seed)
    rng_presence, rng_neuron, rng_motion, rng_wave, rng_spike, rng_peth = (
        np.random.default_rng(s) for s in ss.spawn(6)
    )
    S = n_sessions
    locs, shanks = probe_geometry(n_channels, n_shanks)
    y_lo, y_hi = float(locs[:, 1].min()), float(locs[:, 1].max())

    # --- who is recorded when -------------------------------------------------------------
    report("neurons", 0, 1)
    presence = _draw_presence(rng_presence, n_units, S)
    n_neuron = presence.shape[0]
    sess0, neuron = np.nonzero(presence.T)  # ordered by session, then neuron
    session_index = (sess0 + 1).astype(np.int64)
    neuron = neuron.astype(np.int64)
    nr = _draw_neurons(rng_neuron, n_neuron, n_shanks, locs, (y_lo, y_hi))
    motion = _draw_motion(rng_motion, S, drift_um, depth_dependent, y_hi - y_lo)
    if jump_um and S > 1:
        at = int(np.random.default_rng([seed, 7]).integers(1, S))
        motion[1, at:] += jump_um
        motion[1] -= motion[1].mean()
    y_true = nr.pos[neuron, 1]
    y_app = y_true + 0.001 * motion[0, sess0] * y_true + motion[1, sess0]
    report("neurons", 1, 1)

    # --- files ----------------------------------------------------------------------------
    out.mkdir(parents=True, exist_ok=True)
    spike_dir = out / "spike_times"
    spike_dir.mkdir(exist_ok=True)
    for old in spike_dir.glob("Unit*.npy"):
        old.unlink()
    for name in ("channel_shanks.npy", "peth.npy"):
        if (out / name).exists():
            (out / name).unlink()
    np.save(out / "session_index.npy", session_index)
    np.save(out / "channel_locations.npy", locs)
    if n_shanks > 1:
        np.save(out / "channel_shanks.npy", shanks)

    # --- waveforms (written chunk by chunk into a memory-mapped .npy) ---------------------
    wf_path = out / "waveform_all.npy"
    if wf_path.exists():
        wf_path.unlink()
    waveforms = np.lib.format.open_memmap(
        wf_path, mode="w+", dtype=np.float32, shape=(n_units, n_channels, N_SAMPLES)
    )
    gain = np.exp(rng_wave.normal(0.0, 0.03, n_units))  # small per-session amplitude change
    chunk = max(1, 2_000_000 // (n_channels * N_SAMPLES))
    for i0 in range(0, n_units, chunk):
        i1 = min(n_units, i0 + chunk)
        # smoothed uniform noise (3-tap kernel): near-Gaussian, cheaper than normal draws
        raw = rng_wave.random((i1 - i0, n_channels, N_SAMPLES + 2), dtype=np.float32)
        raw -= np.float32(0.5)
        noise = raw[:, :, 1:-1] * _NOISE_KERNEL[1]
        noise += raw[:, :, :-2] * _NOISE_KERNEL[0]
        noise += raw[:, :, 2:] * _NOISE_KERNEL[2]
        noise *= np.float32(NOISE_SD_UV / math.sqrt(float((_NOISE_KERNEL**2).sum()) / 12.0))
        waveforms[i0:i1] = _waveforms_chunk(
            nr, neuron[i0:i1], y_app[i0:i1], gain[i0:i1], locs, noise
        )
        report("waveforms", i1, n_units)
    waveforms.flush()
    del waveforms

    # --- spike trains -----------------------------------------------------------------------
    rate_change = np.exp(np.clip(rng_spike.normal(0.0, 0.08, n_units), -0.2, 0.2))
    duration_ms = SESSION_DURATION_S * 1000.0
    step = max(1, n_units // 50)
    for k in range(n_units):
        n = neuron[k]
        times = _spike_train(
            rng_spike,
            rate=float(nr.rate[n] * rate_change[k]),
            refractory_ms=float(nr.refractory[n]),
            gamma_shape=float(nr.gamma_shape[n]),
            burst_prob=float(nr.burst_prob[n]),
            burst_extra=float(nr.burst_extra[n]),
            burst_isi_ms=float(nr.burst_isi[n]),
            duration_ms=duration_ms,
        )
        np.save(spike_dir / f"Unit{k}.npy", times)
        if (k + 1) % step == 0 or k + 1 == n_units:
            report("spike times", k + 1, n_units)

    # --- PETH -------------------------------------------------------------------------------
    if with_peth:
        report("PETH", 0, 1)
        n_trials = 20
        lam = nr.peth_profile[neuron] * np.exp(rng_peth.normal(0.0, 0.1, n_units))[:, None]
        peth = rng_peth.poisson(lam * n_trials).astype(np.float64) / n_trials
        np.save(out / "peth.npy", peth)
        report("PETH", 1, 1)

    # --- truth ------------------------------------------------------------------------------
    truth = DemoTruth(neuron_id=neuron, motion=motion, neuron_positions=nr.pos)
    tf = truth_folder(out)
    tf.mkdir(parents=True, exist_ok=True)
    np.save(tf / "gt_neuron_id.npy", truth.neuron_id)
    np.save(tf / "gt_motion.npy", truth.motion)
    np.save(tf / "neuron_positions.npy", truth.neuron_positions)
    return truth
