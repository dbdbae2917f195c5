"""Synthetic ground-truth data folders for demos, tests and benchmarks.

`make_demo` writes a data folder in the engine's input format (see the table below) for a
simulated chronic Neuropixels 1.0 recording, and the ground truth beside it in
`truth_folder(out)`:

| file                     | shape                        | dtype   |
| `waveform_all.npy`       | (n_unit, n_channel, 90)      | float32 |
| `session_index.npy`      | (n_unit,) values 1..S        | int64   |
| `channel_locations.npy`  | (n_channel, 2) x, y µm       | float64 |
| `channel_shanks.npy`     | (n_channel,) ids 1..n_shanks | int64   |  only if n_shanks > 1
| `peth.npy`               | (n_unit, 120) spikes/s       | float64 |  only if with_peth
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
  distance, broadening and a changing peak/trough ratio).  About a quarter are narrow,
  fast-spiking-like units.
* Motion: a rigid random walk (step N(0, drift_um)) per session, optionally plus a linear
  term across depth, centred to mean 0 over sessions.
* Each neuron has a lifetime window of sessions (about 15 % are short-lived) and is present
  in each session of it with probability 0.85.  Units are ordered by session, then neuron.
* Spike trains (`SESSION_DURATION_S` per session) come from a hazard model, as real
  neurons' do: an absolute refractory period (1.5-2.5 ms), then a relative one (the hazard
  recovers as 1 - exp(-t / tau_rel), tau_rel 1-4 ms for fast-spiking units, 3-15 ms
  otherwise); a slow log-normal fluctuation of the rate (log SD 0.3-0.9, time constant
  30-400 ms), which gives the autocorrelogram its smooth decay over tens to hundreds of ms;
  and, for about a third of the regular neurons, bursts of 2-5 spikes 2.5-6 ms apart
  followed by a longer recovery.  Mean rates are log-normal across neurons (median 4 Hz,
  fast-spiking units 12 Hz).  These are properties of the neuron, the same every day; a
  session changes the rate by a few per cent.
* PETHs (120 bins of 10 ms, -200 to 1000 ms around a 500 ms stimulus) are trial averages
  (100 trials, Poisson counts, smoothed with a 15 ms Gaussian) of a neuron-specific response:
  a baseline at the neuron's rate, then after an onset latency (30-120 ms) a transient and
  a sustained component (excited neurons), a sustained suppression (about 15 %), sometimes
  an offset response; about 10 % barely respond.  Across days only the gain (about 10 %)
  and the latency (about 2 ms) vary.

Everything is drawn from independent streams of `numpy.random.SeedSequence(seed)`, so a seed
gives the same folder whatever the options that do not change the model (e.g. with_peth).
`make_demo` writes into a new or empty folder only (or replaces an earlier demo when asked),
and the folder appears complete or not at all: it is written beside its place, then renamed.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DantError, DatasetError
from .synthetic_activity import (
    MAX_SPIKES,
    PETH_POINTS,
    SESSION_DURATION_S,
    base_hazard,
    draw_firing,
    draw_responses,
    hazard_train,
    make_peth,
    slow_fluctuation,
)

__all__ = [
    "DemoError",
    "DemoTruth",
    "truth_folder",
    "make_demo",
    "load_truth",
    "check_demo_arguments",
    "SESSION_DURATION_S",
]

ProgressFn = Callable[[str, int, int], None]

# --- recording conventions (as in the example data sets) ----------------------------------
N_SAMPLES = 90  # samples per waveform (3 ms at 30 kHz)
TROUGH_SAMPLE = 30  # the trough on the peak channel sits at this sample
SAMPLE_RATE_KHZ = 30.0

# --- probe geometry -----------------------------------------------------------------------
COLUMN_X = (43.0, 11.0, 59.0, 27.0)  # row 0: 43, 11; row 1: 59, 27; then repeat
ROW_PITCH_UM = 20.0
SHANK_PITCH_UM = 250.0

# --- model constants ----------------------------------------------------------------------
PRESENCE_PROB = 0.85
SHORT_LIVED_FRACTION = 0.15
NOISE_SD_UV = 1.5  # per-session noise on the mean waveforms
_NOISE_KERNEL = np.array([0.25, 0.5, 0.25], dtype=np.float32)

# --- what the demo accepts (bad values are refused with a DemoError naming the option) ----
MAX_UNITS = 100_000  # about 6.5 GB with 96 channels
MAX_SESSIONS = 500
MAX_SHANKS = 8
MAX_CHANNELS = 1536  # four 384-channel shanks
MAX_DRIFT_UM = 100.0  # a larger step per session moves neurons off a 960 µm section
MAX_JUMP_UM = 500.0
# the files of a data folder: a demo never writes over them unless asked to replace a demo
DATA_FILES = (
    "waveform_all.npy",
    "session_index.npy",
    "channel_locations.npy",
    "channel_shanks.npy",
    "peth.npy",
    "spike_times",
)
TRUTH_FILES = ("gt_neuron_id.npy", "gt_motion.npy", "neuron_positions.npy")


def generator_fingerprint() -> str:
    """A short hash of the demo generator's source (this module and synthetic_activity.py):
    a cached demo made by another version of the generator is stale even with the same
    arguments, because the same seed then gives other data."""
    from . import synthetic_activity

    digest = hashlib.sha256()
    for module in (__file__, synthetic_activity.__file__):
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()[:16]


class DemoError(DantError, ValueError):
    """A `make_demo` / `dant demo` argument or destination is unusable (the message says
    which and why). A ValueError too, as the bad arguments were before."""


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
# arguments and destination
# ------------------------------------------------------------------------------------------


def _whole(name: str, value, lo: int, hi: int | None) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < lo or (hi is not None and value > hi):
        what = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
        raise DemoError(f"{name}: must be a whole number {what}, got {value!r}")
    return int(value)


def _real(name: str, value, lo: float, hi: float, unit: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if not (lo <= x <= hi):  # also refuses NaN
        shown = f"{x:g}" if not math.isnan(x) or isinstance(value, float) else repr(value)
        raise DemoError(f"{name}: must be a number from {lo:g} to {hi:g} ({unit}), got {shown}")
    return x


def check_demo_arguments(
    n_units: int,
    n_sessions: int,
    seed: int,
    n_shanks: int,
    drift_um: float,
    jump_um: float,
    n_channels: int | None,
    names: dict[str, str] | None = None,
) -> int:
    """Refuse values `make_demo` cannot turn into sensible data (DemoError naming the
    argument, as `names` spells it, e.g. {"n_units": "--units"}); returns n_channels with
    its default filled in."""
    name = {k: k for k in ("n_units", "n_sessions", "seed", "n_shanks", "drift_um",
                           "jump_um", "n_channels")}  # fmt: skip
    name.update(names or {})
    n_sessions = _whole(name["n_sessions"], n_sessions, 1, MAX_SESSIONS)
    n_units = _whole(name["n_units"], n_units, 1, MAX_UNITS)
    if n_units < n_sessions:
        raise DemoError(
            f"{name['n_units']}: must be at least {name['n_sessions']} ({n_sessions}) so that "
            f"every session holds a unit, got {n_units}"
        )
    _whole(name["seed"], seed, 0, None)
    n_shanks = _whole(name["n_shanks"], n_shanks, 1, MAX_SHANKS)
    _real(name["drift_um"], drift_um, 0.0, MAX_DRIFT_UM, "µm per session")
    _real(name["jump_um"], jump_um, -MAX_JUMP_UM, MAX_JUMP_UM, "µm")
    if n_channels is None:
        return max(96, 48 * n_shanks)
    n_channels = _whole(name["n_channels"], n_channels, 2 * n_shanks, MAX_CHANNELS)
    if n_channels % (2 * n_shanks):
        raise DemoError(
            f"{name['n_channels']}: must be a multiple of 2 * {name['n_shanks']} "
            f"({2 * n_shanks}), got {n_channels}"
        )
    return n_channels


def _contents(folder: Path) -> str:
    items = sorted(p.name for p in folder.iterdir())
    data = [n for n in items if n in DATA_FILES]
    if data:
        return f"already holds a data folder ({', '.join(data)})"
    return f"is not empty (it holds {len(items)} item(s), e.g. '{items[0]}')"


def _existing(path: Path, role: str) -> None:
    """Refuse `path` unless it is missing or an empty folder (or can be made one)."""
    if path.is_dir():
        if any(path.iterdir()):
            raise DemoError(
                f"{role} {path} {_contents(path)}; the demo never writes over files: choose "
                "a new or empty folder"
            )
    elif path.exists() or path.is_symlink():
        raise DemoError(f"{role} {path} is a file, not a folder; choose a new or empty folder")
    else:
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise DemoError(
                    f"{role} {path} cannot be created: {parent} is a file, not a folder"
                )


def _is_demo(out: Path) -> bool:
    """True when `out` looks like a folder written by make_demo: its truth is beside it and
    it holds nothing but the files of a data folder (and what tracking added into it)."""
    return (
        all((truth_folder(out) / n).is_file() for n in TRUTH_FILES)
        and (out / "waveform_all.npy").is_file()
    )


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e9 else f"{n_bytes / 1e6:.0f} MB"


def _check_destination(out: Path, replace: bool, n_units: int, n_channels: int) -> None:
    """Refuse a destination that holds anything (unless `replace` and it holds a demo) or a
    disk without room for the demo."""
    if replace and _is_demo(out):
        pass
    else:
        _existing(out, "demo folder")
        _existing(truth_folder(out), f"demo folder {out}: its truth folder")
    # spike times ~ 8 Hz * 450 s * 8 bytes; waveforms float32; small files
    need = n_units * (n_channels * N_SAMPLES * 4 + 8 * 8 * SESSION_DURATION_S + PETH_POINTS * 8)
    anchor = next(p for p in (out, *out.parents) if p.exists())
    free = shutil.disk_usage(anchor).free
    if need > free:
        raise DemoError(
            f"demo folder {out}: {n_units} units need about {_size(need)}, but the disk has "
            f"{_size(free)} free; choose fewer units or another disk"
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
    """Per-neuron properties, arrays of length n_neuron (stable across sessions)."""

    pos: np.ndarray  # (N, 3)
    shank: np.ndarray  # (N,) 1-based
    narrow: np.ndarray  # bool, fast-spiking-like narrow spike
    # spike shape
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
    firing: dict[str, np.ndarray]  # spike-train model, see draw_firing
    response: dict[str, np.ndarray]  # stimulus response, see draw_responses


def _nearest_site_distance(pos: np.ndarray, locs: np.ndarray) -> np.ndarray:
    """(N,) distance in µm from each neuron (N, 3) to its nearest site (locs (C, 2), z = 0)."""
    r0 = np.empty(len(pos))
    for i0 in range(0, len(pos), 4096):
        p = pos[i0 : i0 + 4096]
        d2 = (locs[None, :, 0] - p[:, None, 0]) ** 2 + (locs[None, :, 1] - p[:, None, 1]) ** 2
        r0[i0 : i0 + 4096] = np.sqrt(d2.min(axis=1) + p[:, 2] ** 2)
    return r0


def _draw_neurons(
    rng: np.random.Generator, n: int, n_shanks: int, locs: np.ndarray, y_span: tuple[float, float]
) -> _Neurons:
    shank = rng.integers(1, n_shanks + 1, n).astype(np.int64)
    x = SHANK_PITCH_UM * (shank - 1) + rng.uniform(0.0, 70.0, n)
    y = rng.uniform(y_span[0], y_span[1], n)
    z = rng.uniform(10.0, 80.0, n)
    pos = np.column_stack([x, y, z])
    amp = np.exp(rng.uniform(np.log(50.0), np.log(300.0), n))
    narrow = rng.random(n) < 0.25  # fast-spiking-like narrow units

    def pick(narrow_range, wide_range):
        return np.where(narrow, rng.uniform(*narrow_range, n), rng.uniform(*wide_range, n))

    sig_l = rng.uniform(1.0, 2.2, n)
    sig_r = pick((1.5, 2.8), (2.5, 5.5))
    t_peak = pick((6.0, 10.0), (10.0, 22.0))
    sig_p1 = pick((2.0, 4.0), (3.0, 7.0))
    sig_p2 = pick((3.0, 6.0), (6.0, 16.0))
    rho = pick((0.35, 0.7), (0.12, 0.45))
    return _Neurons(
        pos=pos, shank=shank, narrow=narrow, amp=amp, r0=_nearest_site_distance(pos, locs),
        sig_l=sig_l, sig_r=sig_r, t_peak=t_peak, sig_p1=sig_p1, sig_p2=sig_p2, rho=rho,
        pre=rng.uniform(0.0, 0.15, n), v_y=rng.uniform(-0.025, 0.025, n),
        v_r=rng.uniform(0.0, 0.012, n), widen=rng.uniform(0.05, 0.4, n),
        rho_slope=rng.uniform(-0.3, 0.9, n),
        firing=draw_firing(rng, narrow), response=draw_responses(rng, n),
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


def _write_spike_times(
    folder: Path, neuron: np.ndarray, firing: dict, rng: np.random.Generator, report: ProgressFn
) -> np.ndarray:
    """spike_times/Unit{k}.npy for every unit; returns (n_unit,) the session's rate factor
    of each unit (a few per cent around 1), which the PETH baseline follows too."""
    n_units = len(neuron)
    rate_change = np.exp(np.clip(rng.normal(0.0, 0.08, n_units), -0.2, 0.2))
    base = base_hazard(firing, neuron, firing["rate"][neuron] * rate_change)
    seeds = rng.integers(0, 2**31 - 1, n_units)
    spike_dir = folder / "spike_times"
    spike_dir.mkdir()
    duration_ms = SESSION_DURATION_S * 1000.0
    step = max(1, n_units // 50)
    f = firing
    for k in range(n_units):
        n = neuron[k]
        g = slow_fluctuation(rng, duration_ms, f["slow_sd"][n], f["slow_tau"][n])
        times = hazard_train(
            seeds[k], base[k], g, duration_ms, f["t_abs"][n], f["tau_rel"][n],
            f["burst_prob"][n], f["burst_extra"][n], f["burst_isi"][n], f["post_burst_tau"][n],
            MAX_SPIKES,
        )  # fmt: skip
        np.save(spike_dir / f"Unit{k}.npy", times)
        if (k + 1) % step == 0 or k + 1 == n_units:
            report("spike times", k + 1, n_units)
    return rate_change


# ------------------------------------------------------------------------------------------
# the folder
# ------------------------------------------------------------------------------------------


@dataclass
class _Model:
    """Everything drawn before any file is written."""

    locs: np.ndarray  # (C, 2) channel x, y µm
    shanks: np.ndarray  # (C,) 1-based
    neuron: np.ndarray  # (U,) int64, true neuron of each unit
    session_index: np.ndarray  # (U,) int64, 1..S
    y_app: np.ndarray  # (U,) apparent depth of each unit, µm
    motion: np.ndarray  # (2, S)
    neurons: _Neurons


def _draw_model(
    streams: list[np.random.Generator], seed: int, n_units: int, n_sessions: int,
    n_shanks: int, n_channels: int, drift_um: float, jump_um: float, depth_dependent: bool,
) -> _Model:  # fmt: skip
    """Who is recorded when, the neurons, the motion and where each unit appears."""
    rng_presence, rng_neuron, rng_motion = streams[:3]
    locs, shanks = probe_geometry(n_channels, n_shanks)
    y_lo, y_hi = float(locs[:, 1].min()), float(locs[:, 1].max())
    presence = _draw_presence(rng_presence, n_units, n_sessions)
    sess0, neuron = np.nonzero(presence.T)  # ordered by session, then neuron
    nr = _draw_neurons(rng_neuron, presence.shape[0], n_shanks, locs, (y_lo, y_hi))
    motion = _draw_motion(rng_motion, n_sessions, drift_um, depth_dependent, y_hi - y_lo)
    if jump_um and n_sessions > 1:
        at = int(np.random.default_rng([seed, 7]).integers(1, n_sessions))
        motion[1, at:] += jump_um
        motion[1] -= motion[1].mean()
    y_true = nr.pos[neuron, 1]
    y_app = y_true + 0.001 * motion[0, sess0] * y_true + motion[1, sess0]
    return _Model(
        locs=locs, shanks=shanks, neuron=neuron.astype(np.int64),
        session_index=(sess0 + 1).astype(np.int64), y_app=y_app, motion=motion, neurons=nr,
    )  # fmt: skip


def _write_waveforms(
    folder: Path, model: _Model, rng: np.random.Generator, report: ProgressFn
) -> None:
    """waveform_all.npy (U, C, 90) float32, written chunk by chunk into a memory map."""
    n_units, n_channels = len(model.neuron), len(model.locs)
    waveforms = np.lib.format.open_memmap(
        folder / "waveform_all.npy", mode="w+", dtype=np.float32,
        shape=(n_units, n_channels, N_SAMPLES),
    )  # fmt: skip
    gain = np.exp(rng.normal(0.0, 0.03, n_units))  # small per-session amplitude change
    chunk = max(1, 2_000_000 // (n_channels * N_SAMPLES))
    for i0 in range(0, n_units, chunk):
        i1 = min(n_units, i0 + chunk)
        # smoothed uniform noise (3-tap kernel): near-Gaussian, cheaper than normal draws
        raw = rng.random((i1 - i0, n_channels, N_SAMPLES + 2), dtype=np.float32)
        raw -= np.float32(0.5)
        noise = raw[:, :, 1:-1] * _NOISE_KERNEL[1]
        noise += raw[:, :, :-2] * _NOISE_KERNEL[0]
        noise += raw[:, :, 2:] * _NOISE_KERNEL[2]
        noise *= np.float32(NOISE_SD_UV / math.sqrt(float((_NOISE_KERNEL**2).sum()) / 12.0))
        waveforms[i0:i1] = _waveforms_chunk(
            model.neurons, model.neuron[i0:i1], model.y_app[i0:i1], gain[i0:i1], model.locs, noise
        )
        report("waveforms", i1, n_units)
    waveforms.flush()
    del waveforms


def _write_folder(
    folder: Path, model: _Model, streams: list[np.random.Generator], with_peth: bool,
    report: ProgressFn,
) -> None:  # fmt: skip
    """Every file of the data folder into the (new, empty) `folder`."""
    rng_wave, rng_spike, rng_peth = streams[3:]
    np.save(folder / "session_index.npy", model.session_index)
    np.save(folder / "channel_locations.npy", model.locs)
    if model.shanks.max() > 1:
        np.save(folder / "channel_shanks.npy", model.shanks)
    _write_waveforms(folder, model, rng_wave, report)
    firing = model.neurons.firing
    rate_change = _write_spike_times(folder, model.neuron, firing, rng_spike, report)
    if with_peth:
        report("PETH", 0, 1)
        peth = make_peth(
            model.neurons.response, firing["rate"], model.neuron, rate_change, rng_peth
        )
        np.save(folder / "peth.npy", peth)
        report("PETH", 1, 1)


def _write_truth(folder: Path, truth: DemoTruth) -> None:
    folder.mkdir()
    np.save(folder / "gt_neuron_id.npy", truth.neuron_id)
    np.save(folder / "gt_motion.npy", truth.motion)
    np.save(folder / "neuron_positions.npy", truth.neuron_positions)


def _move_into(src: Path, dst: Path, names: tuple[str, ...]) -> None:
    """Replace the items `names` of the earlier demo in `dst` by those in `src` (an item not
    in `src` is removed from `dst`); only Unit*.npy files are removed from spike_times/."""
    for name in names:
        old, new = dst / name, src / name
        if name == "spike_times" and old.is_dir():
            for f in old.glob("Unit*.npy"):
                f.unlink()
            if new.is_dir():
                for f in new.iterdir():
                    os.replace(f, old / f.name)
            continue
        if old.is_file():
            old.unlink()
        if new.exists():
            os.replace(new, old)


def _publish(stage: Path, out: Path) -> None:
    """Rename the staged data and truth folders to their places (replacing an earlier demo
    there item by item, other files kept)."""
    for src, dst, names in (
        (stage / "data", out, DATA_FILES),
        (stage / "truth", truth_folder(out), TRUTH_FILES),
    ):
        if dst.is_dir() and any(dst.iterdir()):  # an earlier demo (replace=True)
            _move_into(src, dst, names)
        else:
            if dst.is_dir():
                dst.rmdir()
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)


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
    replace: bool = False,
    progress: ProgressFn | None = None,
    option_names: dict[str, str] | None = None,
) -> DemoTruth:
    """Write a ground-truth data folder to `out` and its truth beside it (truth_folder(out)).

    n_units      total number of units over all sessions (exact; about n_units / n_sessions
                 per session), 1..MAX_UNITS and at least n_sessions.
    n_sessions   number of sessions S; session_index holds 1..S, every value present.
    seed         seed (>= 0) of every random draw; the same arguments give identical files.
    n_shanks     shanks 250 µm apart; > 1 also writes channel_shanks.npy (ids 1..n_shanks).
    drift_um     standard deviation of the per-session step of the rigid probe motion, µm.
    jump_um      one extra rigid jump of this size between two consecutive sessions (at a
                 random session), as when a probe settles suddenly.
    depth_dependent  add a linear-in-depth motion term (about 0.4 * drift_um across the probe).
    with_peth    write peth.npy (n_unit, 120).
    n_channels   total number of channels over all shanks (a multiple of 2 * n_shanks);
                 default 96 (a 960 µm section), or 48 per shank when n_shanks > 2.
    replace      allow `out` to hold an earlier demo (its truth beside it): its data-folder
                 files are replaced, anything else there is kept. Otherwise `out` and its
                 truth folder must be new or empty.
    progress     optional progress(stage, done, total) callback.
    option_names how messages name the arguments (e.g. {"n_units": "--units"}).

    Raises DemoError (naming the argument or folder) for values it cannot use, a folder that
    holds anything, or a disk without room. The data appears in `out` only when complete.
    """
    out = Path(out)
    report = progress or (lambda stage, done, total: None)
    n_channels = check_demo_arguments(
        n_units, n_sessions, seed, n_shanks, drift_um, jump_um, n_channels, option_names
    )
    _check_destination(out, replace, n_units, n_channels)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    report("neurons", 0, 1)
    model = _draw_model(
        streams, seed, n_units, n_sessions, n_shanks, n_channels, float(drift_um),
        float(jump_um), depth_dependent,
    )  # fmt: skip
    report("neurons", 1, 1)
    truth = DemoTruth(model.neuron, model.motion, model.neurons.pos)
    out.parent.mkdir(parents=True, exist_ok=True)
    # a short hidden name beside `out` (a long folder name must still fit)
    stage = out.parent / f".dant-demo-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        (stage / "data").mkdir(parents=True)
        _write_folder(stage / "data", model, streams, with_peth, report)
        _write_truth(stage / "truth", truth)
        _publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # our own staging folder only
    return truth
