"""Kilosort 2.5 / 3 / 4 and phy output folders.

Mean waveforms come, in this order, from the raw recording params.py names (found where the
user keeps it, or given), from UnitMatch's RawWaveforms/Unit<id>_RawSpikes.npy, or (Kilosort 4
only, approximate) from the templates un-whitened with whitening_mat_dat.npy. Kilosort 2.5/3
templates are refused: their saved inverse whitening is a scaled identity, so they cannot be
turned back into µV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..npy_files import load_npy
from ..progress import CancelToken, ProgressFn, no_progress
from .common import (
    ImportDataError,
    ImportOptions,
    SessionData,
    SessionPlan,
    check_microvolts,
    choose_spikes,
    peak_channel_and_sign,
    resample_to_output,
)
from .extract import HIGHPASS_HZ, HIGHPASS_ORDER, finish_waveforms, mean_windows
from .labels import UNLABELLED, folder_labels
from .rawfile import (
    PARAMS,
    RawRecording,
    dat_path_of,
    file_name,
    locate_raw,
    raw_recording,
    read_params,
)
from .scaling import meta_beside, read_meta, spikeglx_uv_per_bit, uv_per_bit

FORMAT = "Kilosort/phy"
UNITMATCH_DIR = "RawWaveforms"
UNITMATCH_SPIKE_SAMPLE = 42  # UnitMatch reads data[t - 42 : t + 40]
MAX_HOURS = 48.0  # longer recordings are taken for a wrong sample rate
_STATS = ("cluster_ContamPct.tsv", "cluster_Amplitude.tsv", "cluster_info.tsv")


def is_kilosort_folder(folder: Path) -> bool:
    return (folder / "spike_times.npy").is_file() and (
        (folder / "spike_clusters.npy").is_file() or (folder / "spike_templates.npy").is_file()
    )


def _load(folder: Path, name: str, what: str) -> np.ndarray:
    path = folder / name
    if not path.is_file():
        raise ImportDataError(f"{path}: file is missing (expected {what})")
    return load_npy(path)  # a damaged file: DatasetError naming it


def _vector(array: np.ndarray, path: Path) -> np.ndarray:
    """(N,) from Kilosort 4's (N,) or Kilosort 2.5/3's (N, 1)."""
    if array.ndim == 2 and 1 in array.shape:
        return array.reshape(-1)
    if array.ndim != 1:
        raise ImportDataError(f"{path}: expected shape (N,) or (N, 1), got {array.shape}")
    return array


def _whole(array: np.ndarray, path: Path) -> np.ndarray:
    if array.dtype.kind == "f":
        if not (np.isfinite(array).all() and (array == np.round(array)).all()):
            raise ImportDataError(f"{path}: must hold whole sample numbers")
    elif array.dtype.kind not in "iu":
        raise ImportDataError(f"{path}: must hold numbers, got dtype {array.dtype}")
    return array.astype(np.int64)


def _cluster_stats(folder: Path) -> dict[int, dict[str, str]]:
    """Extra per-cluster columns Kilosort or phy wrote (ContamPct, Amplitude, ...)."""
    stats: dict[int, dict[str, str]] = {}
    for name in _STATS:
        path = folder / name
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if not lines:
            continue
        header = lines[0].split("\t")
        if "cluster_id" not in header:
            continue
        key = header.index("cluster_id")
        keep = [i for i, h in enumerate(header) if h in ("ContamPct", "Amplitude", "fr", "amp")]
        for line in lines[1:]:
            parts = line.split("\t")
            try:
                cid = int(parts[key])
            except (ValueError, IndexError):
                continue
            row = stats.setdefault(cid, {})
            for i in keep:
                if i < len(parts):
                    row[f"sorter_{header[i]}"] = parts[i]
    return stats


@dataclass
class KilosortPlan(SessionPlan):
    index: int = 0
    options: ImportOptions = field(default_factory=ImportOptions)
    params: dict | None = None
    raw: RawRecording | None = None
    uv: np.ndarray | None = None
    cluster_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    unit_labels: list[str] = field(default_factory=list)
    unit_spikes: list[np.ndarray] = field(default_factory=list)
    channel_map: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    positions: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    shanks: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    info: dict = field(default_factory=dict)

    def load(
        self, progress: ProgressFn = no_progress, cancel: CancelToken | None = None
    ) -> SessionData:
        rng = np.random.default_rng(self.options.seed)
        if self.waveform_source == "raw recording":
            used = [choose_spikes(s, self.options.max_spikes, rng) for s in self.unit_spikes]
            highpass = not bool(self.params.get("hp_filtered", False))
            means, counts = mean_windows(
                self.raw.memmap(),
                used,
                self.channel_map,
                self.sample_rate,
                progress,
                cancel,
                padded=highpass,
            )
            waveforms = finish_waveforms(
                means, self.sample_rate, self.uv[self.channel_map], highpass
            )
            self.info["filter"] = (
                f"high-pass Butterworth order {HIGHPASS_ORDER} at {HIGHPASS_HZ:g} Hz, zero phase"
                if highpass
                else "none (params.py: hp_filtered = True)"
            )
        elif self.waveform_source.startswith("UnitMatch"):
            waveforms = self._unitmatch_waveforms()
            counts = np.full(len(self.unit_spikes), -1)
            self.info["filter"] = "as UnitMatch extracted them (smoothed, baseline removed)"
        else:
            waveforms = self._kilosort4_templates()
            counts = np.full(len(self.unit_spikes), -1)
            self.info["filter"] = "Kilosort 4's own (templates)"
        return self._session(waveforms, counts)

    def _session(self, waveforms: np.ndarray, counts: np.ndarray) -> SessionData:
        warnings = list(self.warnings)
        warnings += check_microvolts(waveforms, str(self.folder), self.scaling)
        _, ptp, positive = peak_channel_and_sign(waveforms)
        stats = _cluster_stats(self.folder)
        units = []
        for k, cid in enumerate(self.cluster_ids):
            row = {
                "cluster_id": int(cid),
                "label": self.unit_labels[k],
                "n_spikes": int(self.unit_spikes[k].size),
                "spikes_used": int(counts[k]) if counts[k] >= 0 else "",
                "amplitude_uv": round(float(ptp[k]), 2),
                "positive_spike": bool(positive[k]),
            }
            row.update(stats.get(int(cid), {}))
            units.append(row)
        if positive.any():
            warnings.append(
                f"{self.folder}: {int(positive.sum())} unit(s) have positive-going spikes "
                "(flagged positive_spike in units.tsv; the engine centres on the trough)"
            )
        self.info["spikes_used_per_unit"] = {
            "max": self.options.max_spikes,
            "min_used": int(counts.min()) if counts.size and counts.min() >= 0 else None,
        }
        times = [s.astype(np.float64) * (1000.0 / self.sample_rate) for s in self.unit_spikes]
        return SessionData(
            folder=self.folder,
            format=self.format,
            sample_rate=self.sample_rate,
            waveforms=waveforms,
            positions=self.positions,
            shanks=self.shanks,
            spike_times=times,
            units=units,
            info={**self.info, **self.summary()},
            warnings=warnings,
        )

    def _unitmatch_waveforms(self) -> np.ndarray:
        folder = self.folder / UNITMATCH_DIR
        out = []
        n_map = self.channel_map.size
        for cid in self.cluster_ids:
            path = folder / f"Unit{int(cid)}_RawSpikes.npy"
            w = _load(folder, path.name, "UnitMatch's (time, channels, 2) raw waveform")
            if w.ndim != 3 or w.shape[2] != 2:
                raise ImportDataError(f"{path}: expected shape (time, channels, 2), got {w.shape}")
            mean = w.mean(axis=2).T  # (channels, time)
            if mean.shape[0] == n_map:
                uv = self.uv[self.channel_map] if self.uv.size > n_map else self.uv[:n_map]
            elif mean.shape[0] > self.channel_map.max():
                mean = mean[self.channel_map]
                uv = self.uv[self.channel_map]
            else:
                raise ImportDataError(
                    f"{path}: has {mean.shape[0]} channels but channel_map.npy names "
                    f"{n_map} (up to file channel {int(self.channel_map.max())})"
                )
            out.append(mean * uv[:, None])
        stack = np.stack(out) if out else np.zeros((0, n_map, 82))
        return resample_to_output(stack, self.sample_rate, UNITMATCH_SPIKE_SAMPLE)

    def _kilosort4_templates(self) -> np.ndarray:
        folder = self.folder
        templates = _load(folder, "templates.npy", "templates (n_template, time, channel)")
        w_dat = _load(folder, "whitening_mat_dat.npy", "Kilosort 4's whitening matrix")
        spike_templates = _vector(
            _load(folder, "spike_templates.npy", "template of each spike"),
            folder / "spike_templates.npy",
        )
        clusters = _vector(
            _load(folder, "spike_clusters.npy", "cluster of each spike"),
            folder / "spike_clusters.npy",
        )
        amplitudes = None
        if (folder / "amplitudes.npy").is_file():
            amplitudes = _vector(load_npy(folder / "amplitudes.npy"), folder / "amplitudes.npy")
        unwhiten = np.linalg.inv(w_dat.astype(np.float64))
        out = []
        for cid in self.cluster_ids:
            mine = clusters == cid
            template_id = int(np.bincount(spike_templates[mine].astype(np.int64)).argmax())
            t = templates[template_id].astype(np.float64) @ unwhiten.T  # (time, channel)
            scale = float(np.mean(amplitudes[mine])) if amplitudes is not None else 1.0
            out.append(t.T * scale * self.uv[self.channel_map][:, None])
        nt = templates.shape[1]
        stack = np.stack(out) if out else np.zeros((0, self.channel_map.size, nt))
        trough = int(np.median(np.argmin(stack.min(axis=1), axis=1))) if out else nt // 3
        return resample_to_output(stack, self.sample_rate, trough)


def _sample_rate(params: dict | None, folder: Path, options: ImportOptions) -> float:
    if params is not None and "sample_rate" in params:
        try:
            rate = float(params["sample_rate"])
        except (TypeError, ValueError):
            raise ImportDataError(f"{folder / PARAMS}: sample_rate is not a number") from None
    elif options.sample_rate is not None:
        rate = float(options.sample_rate)
    else:
        raise ImportDataError(
            f"{folder}: no {PARAMS} with sample_rate; pass --sample-rate (Hz), and --raw for "
            "the recording"
        )
    if not 1000.0 <= rate <= 1e6:
        raise ImportDataError(f"{folder / PARAMS}: sample_rate {rate:g} Hz is not plausible")
    return rate


def _channels(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    channel_map = _whole(
        _vector(
            _load(folder, "channel_map.npy", "file channel of each sorted channel"),
            folder / "channel_map.npy",
        ),
        folder / "channel_map.npy",
    )
    positions = _load(folder, "channel_positions.npy", "x, y of each channel in µm")
    if positions.ndim != 2 or positions.shape != (channel_map.size, 2):
        raise ImportDataError(
            f"{folder / 'channel_positions.npy'}: expected shape ({channel_map.size}, 2) "
            f"(one row per channel_map.npy entry), got {positions.shape}"
        )
    shanks = np.ones(channel_map.size, dtype=np.int64)
    for name in ("channel_shanks.npy", "channel_groups.npy"):
        if (folder / name).is_file():
            s = _vector(_load(folder, name, "shank of each channel"), folder / name)
            if s.size != channel_map.size:
                raise ImportDataError(
                    f"{folder / name}: has {s.size} entries, channel_map.npy {channel_map.size}"
                )
            shanks = _whole(s, folder / name)
            break
    return channel_map, positions.astype(np.float64), shanks


def _spikes(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    p_times = folder / "spike_times.npy"
    times = _whole(_vector(_load(folder, p_times.name, "spike samples"), p_times), p_times)
    name = (
        "spike_clusters.npy"
        if (folder / "spike_clusters.npy").is_file()
        else ("spike_templates.npy")
    )
    clusters = _whole(
        _vector(_load(folder, name, "cluster of each spike"), folder / name), folder / name
    )
    if clusters.size != times.size:
        raise ImportDataError(
            f"{folder}: spike_times.npy has {times.size} spikes but {name} has {clusters.size}"
        )
    if times.size and times.min() < 0:
        raise ImportDataError(f"{p_times}: holds negative sample numbers")
    return times, clusters


def _uv_beside_folder(
    folder: Path, params: dict | None, options: ImportOptions, n_channels: int
) -> tuple[np.ndarray, str]:
    """µV per bit without the raw file (for UnitMatch's waveforms or templates)."""
    if options.uv_per_bit is not None:
        return np.full(n_channels, float(options.uv_per_bit)), (
            f"given explicitly: {options.uv_per_bit:g} µV per bit"
        )
    if params is not None and params.get("dat_path"):
        name = file_name(dat_path_of(params, folder))
        for place in (folder, folder.parent):
            meta = meta_beside(place / name)
            if meta is not None:
                return spikeglx_uv_per_bit(meta, n_channels)
    raise ImportDataError(
        f"{folder}: cannot tell µV per bit without the raw recording's .meta; pass "
        "--uv-per-bit (2.34375 for Neuropixels 1.0 at gain 500, 0.7629 for 2.0)"
    )


def _select_units(folder, times, clusters, options, warnings):
    labels, label_files = folder_labels(folder)
    ids, counts = np.unique(clusters, return_counts=True)
    label_of = {int(c): labels.get(int(c), UNLABELLED) for c in ids}
    label_counts: dict[str, int] = {}
    for lab in label_of.values():
        label_counts[lab] = label_counts.get(lab, 0) + 1
    chosen = [int(c) for c in ids if options.keeps(label_of[int(c)])]
    few = [c for c, n in zip(ids, counts, strict=True) if n < 2 and int(c) in chosen]
    if few:
        warnings.append(
            f"{folder}: {len(few)} unit(s) with fewer than 2 spikes left out "
            f"(cluster {', '.join(str(int(c)) for c in few[:5])})"
        )
        chosen = [c for c in chosen if c not in set(int(f) for f in few)]
    if not chosen:
        found = ", ".join(f"{k} {v}" for k, v in sorted(label_counts.items())) or "no units"
        raise ImportDataError(
            f"{folder}: no unit labelled {' or '.join(options.labels)} (units by label: "
            f"{found}; label files: {', '.join(label_files) or 'none'}); choose labels with "
            "--labels, e.g. --labels good,mua or --labels all"
        )
    order = np.argsort(clusters, kind="stable")
    sorted_clusters = clusters[order]
    spikes = []
    for c in chosen:
        lo, hi = np.searchsorted(sorted_clusters, [c, c + 1])
        spikes.append(np.sort(times[order[lo:hi]]))
    return (
        np.array(chosen, dtype=np.int64),
        [label_of[c] for c in chosen],
        spikes,
        label_counts,
        label_files,
    )


def plan_kilosort(folder: Path, index: int, options: ImportOptions) -> KilosortPlan:
    """Read everything but the waveforms; decide the waveform source; check the traps."""
    warnings: list[str] = []
    params = read_params(folder)
    rate = _sample_rate(params, folder, options)
    times, clusters = _spikes(folder)
    channel_map, positions, shanks = _channels(folder)
    chosen, labels, spikes, label_counts, label_files = _select_units(
        folder, times, clusters, options, warnings
    )
    kilosort4 = (folder / "whitening_mat_dat.npy").is_file()
    info: dict = {
        "label_files": label_files,
        "labels_kept": list(options.labels),
        "sorter": "Kilosort 4" if kilosort4 else "Kilosort 2.5/3 or phy",
    }
    explicit = options.raw_path(index)
    raw_path, how = (None, "no params.py")
    if params is not None and params.get("dat_path"):
        raw_path, how = locate_raw(folder, dat_path_of(params, folder), explicit)
    elif explicit is not None:
        raw_path, how = locate_raw(folder, "", explicit)
    info["raw_file"] = {"path": str(raw_path) if raw_path else None, "how": how}
    if raw_path is not None and "found by name" in how:
        warnings.append(f"{folder}: raw file {how}")
    raw = uv = None
    last = int(times.max()) if times.size else 0
    if raw_path is not None:
        if params is None:
            raise ImportDataError(
                f"{folder}: no {PARAMS}, so the raw file's n_channels_dat and dtype are unknown"
            )
        raw = raw_recording(params, folder, raw_path)
        if last >= raw.n_samples:
            raise ImportDataError(
                f"{folder / 'spike_times.npy'}: spikes reach sample {last} but {raw_path} "
                f"holds {raw.n_samples} samples ({raw.n_samples / rate:.1f} s at {rate:g} Hz); "
                "wrong sample_rate, n_channels_dat or raw file"
            )
        if channel_map.max() >= raw.n_channels:
            raise ImportDataError(
                f"{folder / 'channel_map.npy'}: names file channel {int(channel_map.max())} "
                f"but {PARAMS} says n_channels_dat = {raw.n_channels}"
            )
        uv, scaling = uv_per_bit(raw_path, raw.n_channels, options.uv_per_bit)
        _check_meta_rate(raw_path, rate, folder)
        source = "raw recording"
    else:
        if last / rate > MAX_HOURS * 3600:
            raise ImportDataError(
                f"{folder / 'spike_times.npy'}: the last spike is at {last / rate / 3600:.0f} h "
                f"at {rate:g} Hz; wrong sample_rate"
            )
        source, scaling, uv = _fallback_source(
            folder, params, options, chosen, how, kilosort4, int(channel_map.max()) + 1, warnings
        )
    return KilosortPlan(
        folder=folder,
        format=FORMAT,
        sample_rate=rate,
        scaling=scaling,
        waveform_source=source,
        label_counts=label_counts,
        n_units=int(chosen.size),
        warnings=warnings,
        index=index,
        options=options,
        params=params,
        raw=raw,
        uv=uv,
        cluster_ids=chosen,
        unit_labels=labels,
        unit_spikes=spikes,
        channel_map=channel_map,
        positions=positions,
        shanks=shanks,
        info=info,
    )


def _check_meta_rate(raw_path: Path, rate: float, folder: Path) -> None:
    meta = meta_beside(raw_path)
    if meta is None:
        return
    values = read_meta(meta)
    if "imSampRate" in values:
        meta_rate = float(values["imSampRate"])
        if abs(meta_rate - rate) > 0.01 * rate:
            raise ImportDataError(
                f"{folder / PARAMS}: sample_rate {rate:g} Hz but {meta.name} says imSampRate "
                f"{meta_rate:g} Hz"
            )


def _fallback_source(folder, params, options, chosen, how, kilosort4, n_channels, warnings):
    """Waveforms without the raw recording: UnitMatch's, Kilosort 4's templates, or refusal."""
    um = folder / UNITMATCH_DIR
    if um.is_dir():
        missing = [int(c) for c in chosen if not (um / f"Unit{int(c)}_RawSpikes.npy").is_file()]
        if missing:
            raise ImportDataError(
                f"{um}: no Unit<id>_RawSpikes.npy for {len(missing)} unit(s) (cluster "
                f"{', '.join(map(str, missing[:5]))}); extract them all or give the raw file"
            )
        uv, scaling = _uv_beside_folder(folder, params, options, n_channels)
        return "UnitMatch RawWaveforms (mean of the two halves)", scaling, uv
    if kilosort4:
        uv, scaling = _uv_beside_folder(folder, params, options, n_channels)
        warnings.append(
            f"{folder}: raw recording {how}; waveforms are Kilosort 4's templates un-whitened "
            "with whitening_mat_dat.npy: approximate (no raw average), scaled by the mean "
            "spike amplitude"
        )
        return "Kilosort 4 templates un-whitened (approximate)", scaling, uv
    raise ImportDataError(
        f"{folder}: raw recording {how}, and Kilosort 2.5/3's templates.npy are whitened; "
        "their whitening_mat_inv.npy is a scaled identity (saved so for phy), so they cannot "
        "be turned into µV waveforms. Give the raw file (--raw) or extract UnitMatch's "
        "RawWaveforms"
    )
