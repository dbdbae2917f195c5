"""µV per raw bit of a recording: SpikeGLX's .meta, Open Ephys' structure.oebin, or the user.

Never a silent guess: when none of them says it, the import stops and asks for --uv-per-bit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .common import ImportDataError

NP1_RANGE_V = 0.6  # Neuropixels 1.0: ±0.6 V over ±512 steps (10 bit), AP gain from the IMRO table
NP1_MAX_INT = 512
NP2_RANGE_V = 0.5  # Neuropixels 2.0: ±0.5 V over ±8192 steps (14 bit), fixed gain 80
NP2_MAX_INT = 8192
NP2_GAIN = 80.0
_NP1_TYPES = {0, 1020, 1030, 1100, 1120, 1121, 1122, 1123, 1200, 1300}


def read_meta(path: Path) -> dict[str, str]:
    """SpikeGLX .meta: key=value lines (a leading ~ on the key is dropped)."""
    meta: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            meta[key.strip().lstrip("~")] = value.strip()
    return meta


def meta_beside(raw: Path) -> Path | None:
    """SpikeGLX writes NAME.ap.meta beside NAME.ap.bin."""
    candidate = raw.with_suffix(".meta")
    return candidate if candidate.is_file() else None


def _imro_entries(meta: dict[str, str]) -> tuple[int, list[list[int]]]:
    text = meta.get("imroTbl", "")
    groups = re.findall(r"\(([^)]*)\)", text)
    if not groups:
        return -1, []
    head = [int(v) for v in groups[0].replace(",", " ").split()]
    entries = [[int(v) for v in g.split()] for g in groups[1:]]
    return head[0] if head else -1, entries


def spikeglx_uv_per_bit(meta_path: Path, n_channels: int) -> tuple[np.ndarray, str]:
    """µV per bit of each of the file's n_channels (sync channel included) from a .meta."""
    meta = read_meta(meta_path)
    probe_type, entries = _imro_entries(meta)
    if "imDatPrb_type" in meta:
        probe_type = int(float(meta["imDatPrb_type"]))
    np1 = probe_type in _NP1_TYPES
    range_v = float(meta.get("imAiRangeMax", NP1_RANGE_V if np1 else NP2_RANGE_V))
    max_int = float(meta.get("imMaxInt", NP1_MAX_INT if np1 else NP2_MAX_INT))
    if "imChan0apGain" in meta:
        gains = np.full(len(entries) or 1, float(meta["imChan0apGain"]))
        how = f"imChan0apGain = {gains[0]:g}"
    elif np1:
        if not entries or len(entries[0]) < 4:
            raise ImportDataError(f"{meta_path}: no AP gains in imroTbl (Neuropixels 1.0)")
        gains = np.array([float(e[3]) for e in entries])
        how = "AP gains of the imroTbl"
    else:
        gains = np.full(len(entries) or 1, NP2_GAIN)
        how = "Neuropixels 2.0 fixed gain 80"
    if (gains <= 0).any():
        raise ImportDataError(f"{meta_path}: a channel has AP gain {gains.min():g}")
    per_channel = range_v / max_int / gains * 1e6
    uv = np.full(n_channels, per_channel[0])  # the sync channel keeps the first gain
    m = min(n_channels, per_channel.size)
    uv[:m] = per_channel[:m]
    label = f"probe type {probe_type}" if probe_type >= 0 else "probe type unknown"
    how = f"{meta_path.name}: {label}, range {range_v:g} V / {max_int:g}, {how}"
    return uv, how


def oebin_above(raw: Path, levels: int = 4) -> tuple[Path, dict] | None:
    """Open Ephys' structure.oebin in a folder above the raw file, with the stream whose
    folder holds it."""
    folder = raw.parent
    for parent in [folder, *folder.parents][:levels]:
        oebin = parent / "structure.oebin"
        if not oebin.is_file():
            continue
        try:
            doc = json.loads(oebin.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ImportDataError(f"{oebin}: not readable JSON ({exc})") from None
        for stream in doc.get("continuous", []):
            name = str(stream.get("folder_name", "")).strip("/\\")
            if name and (parent / "continuous" / name) == folder or folder.name == name:
                return oebin, stream
    return None


def oebin_uv_per_bit(oebin: Path, stream: dict, n_channels: int) -> tuple[np.ndarray, str]:
    channels = stream.get("channels", [])
    if not channels:
        raise ImportDataError(f"{oebin}: stream {stream.get('folder_name')} lists no channels")
    volts = []
    for ch in channels:
        bit = float(ch.get("bit_volts", 0))
        unit = str(ch.get("units", "uV")).lower()
        volts.append(bit * (1000.0 if unit == "mv" else 1e6 if unit == "v" else 1.0))
    uv = np.full(n_channels, volts[0])
    m = min(n_channels, len(volts))
    uv[:m] = volts[:m]
    return uv, f"{oebin.name}: bit_volts of stream {stream.get('folder_name')}"


def uv_per_bit(raw: Path, n_channels: int, given: float | None) -> tuple[np.ndarray, str]:
    """(n_channels,) µV per bit and how it was found; ImportDataError when nothing says it."""
    if given is not None:
        if not given > 0:
            raise ImportDataError(f"--uv-per-bit must be positive, got {given}")
        return np.full(n_channels, float(given)), f"given explicitly: {given:g} µV per bit"
    meta = meta_beside(raw)
    if meta is not None:
        return spikeglx_uv_per_bit(meta, n_channels)
    found = oebin_above(raw)
    if found is not None:
        return oebin_uv_per_bit(found[0], found[1], n_channels)
    raise ImportDataError(
        f"{raw}: cannot tell µV per bit: no SpikeGLX .meta beside it and no Open Ephys "
        "structure.oebin above it; pass --uv-per-bit (2.34375 for Neuropixels 1.0 at gain "
        "500, 0.7629 for Neuropixels 2.0, 0.195 for Open Ephys / Intan)"
    )
