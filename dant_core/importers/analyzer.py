"""SpikeInterface SortingAnalyzer folders with a `templates` extension (µV, never whitened).

A binary-folder analyzer is read directly (its layout: `sorting/spikes.npy`,
`recording_info/`, `extensions/templates/average.npy`), so no SpikeInterface is needed; a
zarr analyzer is read through SpikeInterface (the `spikeinterface` extra).
"""

from __future__ import annotations

import json
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
    peak_channel_and_sign,
    resample_to_output,
)
from .labels import UNLABELLED

FORMAT = "SpikeInterface SortingAnalyzer"
_LABEL_PROPERTIES = ("quality", "KSLabel", "group_label")


def is_analyzer_folder(folder: Path) -> bool:
    info = folder / "spikeinterface_info.json"
    if info.is_file():
        try:
            return json.loads(info.read_text()).get("object") == "SortingAnalyzer"
        except ValueError:
            return False
    return folder.suffix == ".zarr" and (
        (folder / ".zattrs").is_file() or (folder / "zarr.json").is_file()
    )


@dataclass
class AnalyzerContent:
    """What an analyzer holds: templates (n_unit, n_time, n_channel) µV with the spike at
    n_before; spikes per unit (samples, segments concatenated); positions (n_channel, 2);
    shanks (n_channel,); labels per unit."""

    unit_ids: list
    templates: np.ndarray
    n_before: int
    sample_rate: float
    spikes: list[np.ndarray]
    positions: np.ndarray
    shanks: np.ndarray
    labels: list[str]
    sparse: bool
    in_uv: bool


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportDataError(f"{path}: file is missing") from None
    except ValueError as exc:
        raise ImportDataError(f"{path}: not readable JSON ({exc})") from None


def _positions_binary(folder: Path, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    probegroup = _json(folder / "recording_info" / "probegroup.json")
    positions = np.full((n_channels, 2), np.nan)
    shanks = np.zeros(n_channels, dtype=np.int64)
    for p_index, probe in enumerate(probegroup.get("probes", [])):
        pos = np.asarray(probe["contact_positions"], dtype=np.float64)[:, :2]
        channels = probe.get("device_channel_indices") or list(range(pos.shape[0]))
        shank_ids = probe.get("shank_ids") or [""] * pos.shape[0]
        for c, (chan, shank) in enumerate(zip(channels, shank_ids, strict=True)):
            if 0 <= int(chan) < n_channels:
                positions[int(chan)] = pos[c]
                shanks[int(chan)] = p_index * 1000 + (int(shank) if str(shank).isdigit() else 0)
    if np.isnan(positions).any():
        raise ImportDataError(
            f"{folder / 'recording_info' / 'probegroup.json'}: not every channel has a contact "
            "position"
        )
    return positions, shanks


def _read_binary(folder: Path) -> AnalyzerContent:
    settings = _json(folder / "settings.json")
    in_uv = bool(settings.get("return_in_uV", settings.get("return_scaled", True)))
    rec = _json(folder / "recording_info" / "recording_attributes.json")
    rate = float(rec["sampling_frequency"])
    n_channels = int(rec["num_channels"])
    num_samples = [int(n) for n in rec.get("num_samples", [0])]
    tdir = folder / "extensions" / "templates"
    if not (tdir / "average.npy").is_file():
        raise ImportDataError(
            f"{folder}: the SpikeInterface analyzer has no templates extension; compute it "
            'first (analyzer.compute("templates"))'
        )
    templates = load_npy(tdir / "average.npy")
    params = _json(tdir / "params.json")
    n_before = int(round(float(params.get("ms_before", 1.0)) * rate / 1000.0))
    sorting_info = _json(folder / "sorting" / "numpysorting_info.json")
    unit_ids = list(sorting_info["unit_ids"])
    spikes_array = load_npy(folder / "sorting" / "spikes.npy")
    offsets = np.concatenate(([0], np.cumsum(num_samples)))
    samples = spikes_array["sample_index"] + offsets[spikes_array["segment_index"]]
    spikes = [np.sort(samples[spikes_array["unit_index"] == u]) for u in range(len(unit_ids))]
    labels = [UNLABELLED] * len(unit_ids)
    for prop in _LABEL_PROPERTIES:
        path = folder / "sorting" / "properties" / f"{prop}.npy"
        if path.is_file():
            values = load_npy(path)
            labels = [str(v) if str(v) else UNLABELLED for v in values]
            break
    positions, shanks = _positions_binary(folder, n_channels)
    if not in_uv:
        gains = np.asarray(rec["properties"].get("gain_to_uV", [1.0] * n_channels), float)
        templates = templates * gains[None, None, :]
    return AnalyzerContent(
        unit_ids,
        templates,
        n_before,
        rate,
        spikes,
        positions,
        shanks,
        labels,
        (folder / "sparsity_mask.npy").is_file(),
        in_uv,
    )


def _read_with_spikeinterface(folder: Path) -> AnalyzerContent:
    try:
        import spikeinterface.core as si
    except ImportError:
        raise ImportDataError(
            f"{folder}: reading a zarr SortingAnalyzer needs SpikeInterface: "
            'pip install "dant-desktop[spikeinterface]"'
        ) from None
    analyzer = si.load_sorting_analyzer(folder, load_extensions=True)
    ext = analyzer.get_extension("templates")
    if ext is None:
        raise ImportDataError(
            f"{folder}: the SpikeInterface analyzer has no templates extension; compute it "
            'first (analyzer.compute("templates"))'
        )
    templates = ext.get_data(operator="average")
    rate = float(analyzer.sampling_frequency)
    n_before = int(ext.nbefore)
    sorting = analyzer.sorting
    lengths = [analyzer.get_num_samples(s) for s in range(analyzer.get_num_segments())]
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    spikes = []
    for u in sorting.unit_ids:
        trains = [
            sorting.get_unit_spike_train(u, segment_index=s) + offsets[s]
            for s in range(len(lengths))
        ]
        spikes.append(np.sort(np.concatenate(trains)))
    labels = [UNLABELLED] * len(sorting.unit_ids)
    for prop in _LABEL_PROPERTIES:
        values = sorting.get_property(prop)
        if values is not None:
            labels = [str(v) or UNLABELLED for v in values]
            break
    positions = np.asarray(analyzer.get_channel_locations(), np.float64)[:, :2]
    groups = analyzer.get_recording_property("group")
    shanks = np.zeros(len(positions), np.int64) if groups is None else np.asarray(groups, int)
    in_uv = bool(analyzer.return_in_uV)
    return AnalyzerContent(
        list(sorting.unit_ids),
        templates,
        n_before,
        rate,
        spikes,
        positions,
        shanks,
        labels,
        analyzer.is_sparse(),
        in_uv,
    )


@dataclass
class AnalyzerPlan(SessionPlan):
    content: AnalyzerContent | None = None
    chosen: list[int] = field(default_factory=list)

    def load(
        self, progress: ProgressFn = no_progress, cancel: CancelToken | None = None
    ) -> SessionData:
        c = self.content
        progress("Reading templates", 0, 1)
        t = np.transpose(c.templates[self.chosen], (0, 2, 1)).astype(np.float64)
        waveforms = resample_to_output(t, c.sample_rate, c.n_before)
        progress("Reading templates", 1, 1)
        warnings = list(self.warnings)
        warnings += check_microvolts(waveforms, str(self.folder), self.scaling)
        _, ptp, positive = peak_channel_and_sign(waveforms)
        units = [
            {
                "cluster_id": c.unit_ids[i],
                "label": c.labels[i],
                "n_spikes": int(c.spikes[i].size),
                "spikes_used": "",
                "amplitude_uv": round(float(ptp[k]), 2),
                "positive_spike": bool(positive[k]),
            }
            for k, i in enumerate(self.chosen)
        ]
        if positive.any():
            warnings.append(
                f"{self.folder}: {int(positive.sum())} unit(s) have positive-going spikes "
                "(flagged positive_spike in units.tsv; the engine centres on the trough)"
            )
        return SessionData(
            folder=self.folder,
            format=self.format,
            sample_rate=c.sample_rate,
            waveforms=waveforms,
            positions=c.positions,
            shanks=c.shanks,
            spike_times=[c.spikes[i] * (1000.0 / c.sample_rate) for i in self.chosen],
            units=units,
            info={**self.summary(), "filter": "as the analyzer's recording"},
            warnings=warnings,
        )


def plan_analyzer(folder: Path, index: int, options: ImportOptions) -> AnalyzerPlan:
    binary = (folder / "spikeinterface_info.json").is_file() and not folder.suffix == ".zarr"
    content = _read_binary(folder) if binary else _read_with_spikeinterface(folder)
    warnings: list[str] = []
    counts: dict[str, int] = {}
    for lab in content.labels:
        counts[lab] = counts.get(lab, 0) + 1
    chosen = [i for i, lab in enumerate(content.labels) if options.keeps(lab)]
    few = [i for i in chosen if content.spikes[i].size < 2]
    if few:
        warnings.append(
            f"{folder}: {len(few)} unit(s) with fewer than 2 spikes left out "
            f"(unit {', '.join(str(content.unit_ids[i]) for i in few[:5])})"
        )
        chosen = [i for i in chosen if i not in few]
    if not chosen:
        found = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no units"
        raise ImportDataError(
            f"{folder}: no unit labelled {' or '.join(options.labels)} (units by label: "
            f"{found}; labels from the sorting's quality/KSLabel property); choose labels "
            "with --labels, e.g. --labels all"
        )
    if content.sparse:
        warnings.append(
            f"{folder}: the analyzer is sparse: channels outside each unit's sparsity are zero"
        )
    scaling = (
        "the analyzer's templates (µV)"
        if content.in_uv
        else ("the analyzer's templates times the recording's gain_to_uV")
    )
    return AnalyzerPlan(
        folder=folder,
        format=FORMAT,
        sample_rate=content.sample_rate,
        scaling=scaling,
        waveform_source="templates extension (average)",
        label_counts=counts,
        n_units=len(chosen),
        warnings=warnings,
        content=content,
        chosen=chosen,
    )
