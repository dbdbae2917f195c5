"""One channel set for all sessions: the union of their channels (matched by position), each
session's missing channels filled by the engine's Kriging from its own neighbours.

Sorters drop bad channels, so one session's channels are often a subset of another's. A
session lacking more than MAX_MISSING of the union is a different probe geometry (another
bank or IMRO table), which no interpolation fixes: it is refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..motion import KRIGING_RIDGE, kriging_kernel
from .common import ImportDataError, SessionData

MAX_MISSING = 0.25  # fraction of the union a session may lack and still be filled
_DECIMALS = 1  # positions matched to 0.1 µm


@dataclass
class ChannelUnion:
    """positions (n_channel, 2) µm, shanks (n_channel,) int64; index[s] (n_channel_s,): the
    union row of each channel of session s; filled[s]: how many union channels session s
    lacked (filled by Kriging)."""

    positions: np.ndarray
    shanks: np.ndarray
    index: list[np.ndarray]
    filled: list[int]


def _keys(positions: np.ndarray) -> list[tuple[float, float]]:
    rounded = np.round(positions, _DECIMALS)
    return [(float(x), float(y)) for x, y in rounded]


def channel_union(sessions: list[SessionData]) -> ChannelUnion:
    """The union of the sessions' channels, sorted by shank, depth, x; refuses duplicates and
    sessions whose geometry differs."""
    shank_of: dict[tuple[float, float], int] = {}
    for s in sessions:
        keys = _keys(s.positions)
        if len(set(keys)) != len(keys):
            raise ImportDataError(
                f"{s.folder}: two channels share a position in channel_positions; "
                "cannot match channels between sessions"
            )
        for key, shank in zip(keys, s.shanks, strict=True):
            shank_of.setdefault(key, int(shank))
    union = sorted(shank_of, key=lambda k: (shank_of[k], k[1], k[0]))
    row = {k: i for i, k in enumerate(union)}
    index, filled = [], []
    for n, s in enumerate(sessions):
        own = np.array([row[k] for k in _keys(s.positions)], dtype=np.int64)
        missing = len(union) - own.size
        if missing > MAX_MISSING * len(union):
            others = [
                f"session {m + 1} ({o.folder})"
                for m, o in enumerate(sessions)
                if m != n and not set(_keys(o.positions)) <= set(_keys(s.positions))
            ]
            raise ImportDataError(
                f"probe geometry differs: session {n + 1} ({s.folder}) lacks {missing} of the "
                f"{len(union)} channel positions that {', '.join(others[:3])} recorded "
                "(another bank or IMRO table?); import sessions with different geometry "
                "separately"
            )
        index.append(own)
        filled.append(missing)
    positions = np.array(union, dtype=np.float64).reshape(-1, 2)
    shanks = np.array([shank_of[k] for k in union], dtype=np.int64)
    return ChannelUnion(positions, shanks, index, filled)


def fill_channels(
    waveforms: np.ndarray, own: np.ndarray, union_positions: np.ndarray
) -> np.ndarray:
    """Waveforms on the union's channels: (n_unit, n_own, n_sample) known at union rows `own`
    -> (n_unit, n_union, n_sample) float32, the other rows interpolated by Kriging (the
    engine's kernel and ridge) from this session's channels."""
    n_unit, _, n_sample = waveforms.shape
    out = np.empty((n_unit, union_positions.shape[0], n_sample), dtype=np.float32)
    out[:, own] = waveforms
    missing = np.setdiff1d(np.arange(union_positions.shape[0]), own)
    if missing.size and n_unit:
        p_own = union_positions[own]
        k_own = kriging_kernel(p_own, p_own) + KRIGING_RIDGE * np.eye(own.size)
        interp = kriging_kernel(union_positions[missing], p_own) @ np.linalg.inv(k_own)
        out[:, missing] = np.matmul(interp.astype(np.float32), waveforms.astype(np.float32))
    return out
