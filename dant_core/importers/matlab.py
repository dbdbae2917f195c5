"""MATLAB DANT's spikeInfo.mat: a struct array, one element per unit, holding all sessions.

Fields read: SessionIndex (1..S), Waveform (n_channel x n_sample, µV), SpikeTimes (ms),
Xcoords / Ycoords (µm) and Kcoords (shank) of the channels, and PETH when present. v7 files
are read with scipy; v7.3 (HDF5) files need h5py (the `h5py` extra).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..progress import CancelToken, ProgressFn, no_progress
from .common import (
    ImportDataError,
    ImportOptions,
    SessionData,
    SessionPlan,
    check_microvolts,
    peak_channel_and_sign,
)

FORMAT = "MATLAB DANT spikeInfo.mat"
FILE = "spikeInfo.mat"
_REQUIRED = ("SessionIndex", "Waveform", "SpikeTimes", "Xcoords", "Ycoords")


def is_matlab_folder(folder: Path) -> bool:
    return (folder / FILE).is_file()


def _header(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(116)


def _read_v7(path: Path) -> dict[str, list]:
    from scipy.io import loadmat

    try:
        mat = loadmat(path, struct_as_record=False, squeeze_me=False)
    except (ValueError, OSError, NotImplementedError) as exc:
        raise ImportDataError(f"{path}: not a readable MATLAB file ({exc})") from None
    if "spikeInfo" not in mat:
        raise ImportDataError(f"{path}: holds no variable spikeInfo")
    units = mat["spikeInfo"].ravel()
    fields = {}
    for name in (*_REQUIRED, "Kcoords", "PETH"):
        if not all(hasattr(u, name) for u in units):
            continue
        fields[name] = [np.asarray(getattr(u, name)) for u in units]
    return fields


def _read_v73(path: Path) -> dict[str, list]:
    try:
        import h5py
    except ImportError:
        raise ImportDataError(
            f"{path}: is a MATLAB v7.3 file; reading it needs h5py: "
            'pip install "dant-desktop[h5py]"'
        ) from None
    fields: dict[str, list] = {}
    with h5py.File(path, "r") as f:
        if "spikeInfo" not in f:
            raise ImportDataError(f"{path}: holds no variable spikeInfo")
        group = f["spikeInfo"]
        for name in (*_REQUIRED, "Kcoords", "PETH"):
            if name not in group:
                continue
            refs = np.asarray(group[name]).ravel()
            # HDF5 stores MATLAB matrices transposed: (n_sample, n_channel) for Waveform.
            fields[name] = [np.asarray(f[r]).T for r in refs]
    return fields


@dataclass
class MatlabPlan(SessionPlan):
    fields: dict = field(default_factory=dict)
    session_numbers: list[int] = field(default_factory=list)

    def load(self, progress=no_progress, cancel=None) -> SessionData:
        raise ImportDataError(f"{self.folder / FILE}: holds several sessions; use load_all")

    def load_all(
        self, progress: ProgressFn = no_progress, cancel: CancelToken | None = None
    ) -> list[SessionData]:
        f = self.fields
        sessions = np.array([int(np.asarray(s).ravel()[0]) for s in f["SessionIndex"]])
        x = np.asarray(f["Xcoords"][0], float).ravel()
        y = np.asarray(f["Ycoords"][0], float).ravel()
        positions = np.c_[x, y]
        shanks = (
            np.asarray(f["Kcoords"][0], float).ravel().astype(np.int64)
            if "Kcoords" in f
            else np.ones(x.size, np.int64)
        )
        out = []
        for s in self.session_numbers:
            rows = np.flatnonzero(sessions == s)
            waveforms = np.stack([np.asarray(f["Waveform"][r], np.float32) for r in rows])
            if waveforms.shape[1] != x.size:
                raise ImportDataError(
                    f"{self.folder / FILE}: Waveform has {waveforms.shape[1]} channels but "
                    f"Xcoords {x.size}"
                )
            warnings = check_microvolts(waveforms, str(self.folder / FILE), "spikeInfo.mat (µV)")
            _, ptp, positive = peak_channel_and_sign(waveforms)
            times = [np.asarray(f["SpikeTimes"][r], np.float64).ravel() for r in rows]
            units = [
                {
                    "cluster_id": int(r),
                    "label": "",
                    "n_spikes": int(t.size),
                    "spikes_used": "",
                    "amplitude_uv": round(float(a), 2),
                    "positive_spike": bool(p),
                }
                for r, t, a, p in zip(rows, times, ptp, positive, strict=True)
            ]
            peth = None
            if "PETH" in f:
                peth = np.stack([np.asarray(f["PETH"][r], float).ravel() for r in rows])
            out.append(
                SessionData(
                    folder=self.folder,
                    format=self.format,
                    sample_rate=0.0,
                    waveforms=waveforms,
                    positions=positions,
                    shanks=shanks,
                    spike_times=times,
                    units=units,
                    info={**self.summary(), "spikeInfo_session": int(s)},
                    warnings=warnings,
                    peth=peth,
                    name_suffix=f"session {s}",
                )
            )
        return out


def plan_matlab(folder: Path, index: int, options: ImportOptions) -> MatlabPlan:
    path = folder / FILE
    fields = _read_v73(path) if b"MATLAB 7.3" in _header(path) else _read_v7(path)
    missing = [n for n in _REQUIRED if n not in fields]
    if missing:
        raise ImportDataError(f"{path}: spikeInfo lacks the field(s) {', '.join(missing)}")
    sessions = sorted({int(np.asarray(s).ravel()[0]) for s in fields["SessionIndex"]})
    n_unit = len(fields["SessionIndex"])
    return MatlabPlan(
        folder=folder,
        format=FORMAT,
        sample_rate=0.0,
        scaling="µV as stored",
        waveform_source="spikeInfo.Waveform",
        label_counts={"(no labels)": n_unit},
        n_units=n_unit,
        warnings=[],
        fields=fields,
        session_numbers=sessions,
    )
