"""Reading a result folder back: ours (with `dant_result.npz`) or pyDANT's `DANT_Output`.

The folder's files are those of docs/method.md §8; pyDANT's folders lack our record, so
their graph comes from `ClusteringResults.npz` (or only the candidate pairs) and their
dense matrices are kept for the viewers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .autocuration import AutoCuration
from .centered_waveforms import CenteredWaveforms
from .clustering import ClusteringRun
from .data_fingerprint import FINGERPRINT_KEY, parse_fingerprint
from .dataset import Dataset, load_dataset
from .engine_settings import EngineSettings
from .errors import DantError, DatasetError
from .features import UnitFeatures
from .lazy_similarity import LazySimilarityComputer, UnitRowsFile
from .mapped_npz import load_npz_mapped
from .motion import Motion
from .npy_files import load_npy, load_npz
from .output_folder import finish_interrupted_saves
from .pydant_output import FEATURE_MATRIX_FILES, RESULT_FILE
from .result_folder import data_folder_of
from .settings import Settings
from .similarity import ChannelNeighbourhoods, SimilarityComputer
from .tracking_result import MotionPass, ShankTracking, TrackingResult, holds_every_unit

CORRECTED_FILE = "waveforms_corrected.npy"  # (n_unit, n_channel, n_sample, n_template)


def has_results(folder) -> bool:
    """Whether `folder` holds a tracking result (put back first if a killed save moved it)."""
    path = Path(folder) / "IdxCluster.npy"
    if not path.is_file():
        finish_interrupted_saves(folder)
    return path.is_file()


def load_result(output_folder, dataset: Dataset | None = None) -> TrackingResult:
    """Read a finished run back: ours (with `dant_result.npz`) or pyDANT's `DANT_Output`.

    `dataset` is the data folder's Dataset; without it, the folder recorded in the run is loaded.
    """
    folder = Path(output_folder)
    idx_cluster = _require(folder, "IdxCluster.npy").astype(np.int64).ravel()
    state_path = folder / RESULT_FILE
    # The graph's arrays (the bulk of the record) are mapped, not read: see mapped_npz.py.
    state = load_npz_mapped(state_path) if state_path.is_file() else None
    if dataset is None:
        dataset = _recorded_dataset(folder, state)
    if idx_cluster.size != dataset.n_units:
        raise DatasetError(
            f"IdxCluster.npy in {folder}: holds {idx_cluster.size} units but the data folder "
            f"{dataset.folder} has {dataset.n_units}; these results belong to another dataset"
        )
    settings = _saved_settings(folder)
    saved = _read_saved(folder, state, dataset, settings.typed(), idx_cluster)
    shanks = [_load_shank(saved, s, shank_id) for s, shank_id in enumerate(saved.shank_ids)]
    result = _assemble(saved, dataset, settings, shanks)
    if state is None:
        _attach_pydant_matrices(result, folder)
    elif FINGERPRINT_KEY in state:
        result.data_fingerprint = parse_fingerprint(str(state[FINGERPRINT_KEY]))
    return result


@dataclass
class _Saved:
    """What a result folder holds, read once and shared by its shanks."""

    folder: Path
    state: dict | None  # our record (RESULT_FILE); None for pyDANT's folders
    n_units: int
    n_sessions: int
    idx_cluster: np.ndarray  # (n_unit,)
    features: UnitFeatures
    names: tuple[str, ...]
    shank_ids: list[int]
    motion_linear: np.ndarray  # (n_shank or 1, n_session)
    motion_constant: np.ndarray
    corrected_all: np.ndarray | None  # waveforms_corrected.npy, mapped; template last
    weights: np.ndarray  # (n_shank or 1, n_feature)
    thresholds: np.ndarray  # (n_shank or 1,)
    neighbourhoods: ChannelNeighbourhoods | None
    pairs: np.ndarray
    scores: np.ndarray
    candidate: np.ndarray
    pair_shank: np.ndarray
    idx_auto: np.ndarray
    leaf: np.ndarray


def _require(folder: Path, name: str) -> np.ndarray:
    path = folder / name
    if not path.is_file():
        raise DatasetError(f"{name}: missing from the output folder {folder}")
    return load_npy(path)


def _optional(folder: Path, name: str, mmap: bool = False) -> np.ndarray | None:
    path = folder / name
    return load_npy(path, mmap=mmap) if path.is_file() else None


def _recorded_dataset(folder: Path, state: dict | None) -> Dataset:
    """The data folder the run was made from (result_folder.py), loaded; else DatasetError."""
    data_folder = data_folder_of(folder, state)
    try:
        return load_dataset(data_folder)
    except DatasetError as exc:
        raise DatasetError(
            f"{folder}: the data folder this run was made from cannot be read ({exc}); "
            "put it back where it was"
        ) from exc


def _saved_settings(folder: Path) -> Settings:
    """The run's settings.json, or the defaults when it is missing or unreadable."""
    settings_file = folder / "settings.json"
    if settings_file.is_file():
        try:
            return Settings.load(settings_file)
        except DantError:
            pass
    return Settings.defaults()


def _unit_features(folder: Path, dataset: Dataset, params: EngineSettings) -> UnitFeatures:
    """The saved per-unit features; what pyDANT does not save is taken from the data."""
    n = dataset.n_units
    locations = _require(folder, "locations.npy").reshape(n, -1)
    peak = _optional(folder, "peak_channels.npy")
    if peak is None:
        peak = np.argmax(dataset.waveforms.max(-1) - dataset.waveforms.min(-1), axis=1)
    peak = peak.astype(np.int64)
    amplitude, unit_shanks, auto_corr, isi = (
        _optional(folder, f"{name}.npy")
        for name in ("amplitude", "unit_shanks", "auto_corr", "isi")
    )
    waveforms = np.asarray(dataset.waveforms, dtype=np.float32)
    if params.centering_waveforms:
        waveforms = CenteredWaveforms(waveforms, peak)  # centred when read, not copied
    return UnitFeatures(
        locations=locations,
        amplitude=amplitude if amplitude is not None else np.zeros(n),
        peak_channels=peak,
        unit_shanks=(
            unit_shanks.astype(np.int64)
            if unit_shanks is not None
            else dataset.channel_shanks[peak]
        ),
        waveforms=waveforms,
        auto_corr=auto_corr,
        isi=isi if isi is not None and np.isfinite(isi).all() else None,
        peth=dataset.peth,
    )


def _read_saved(folder, state, dataset: Dataset, params: EngineSettings, idx_cluster) -> _Saved:
    """Everything the folder holds besides the data, in the order it is checked."""
    features = _unit_features(folder, dataset, params)
    names = params.clustering.features
    shank_ids = [int(s) for s in np.unique(features.unit_shanks)]
    lin = np.atleast_2d(_require(folder, "motion_linear.npy"))
    const = np.atleast_2d(_require(folder, "motion_constant.npy"))
    corrected_all = _optional(folder, CORRECTED_FILE, mmap=True)
    weights = np.atleast_2d(_require(folder, "SimilarityWeights.npy")).reshape(-1, len(names))
    thresholds = np.atleast_1d(_require(folder, "SimilarityThreshold.npy")).astype(float)
    neighbourhoods = None
    if corrected_all is not None:
        neighbourhoods = ChannelNeighbourhoods(
            dataset.channel_locations,
            dataset.channel_shanks,
            params.waveform_correction.n_nearest_channels,
        )
    graph = _saved_graph(folder, state, dataset.n_units, names, features, shank_ids)
    return _Saved(
        folder, state, dataset.n_units, dataset.n_sessions, idx_cluster, features, names,
        shank_ids, lin, const, corrected_all, weights, thresholds, neighbourhoods, *graph,
    )  # fmt: skip


def _saved_graph(folder, state, n: int, names, features: UnitFeatures, shank_ids):
    """(pairs, scores, candidate, pair_shank, idx_auto, leaf) of the final clustering."""
    if state is not None:
        # Saved as int32 / float32 / int16 and memory-mapped as saved: the graph can hold
        # tens of millions of pairs, so no copy is made (the scores stay float32: every use
        # widens them to float64 exactly, e.g. scores @ weights).
        pairs = state["pairs"]
        pairs = pairs if pairs.dtype in (np.int32, np.int64) else pairs.astype(np.int64)
        scores = state["scores"]
        candidate = state["candidate"].astype(bool, copy=False)
        idx_auto = state["idx_cluster_auto"].astype(np.int64)
        leaf = state["leaf_order"].astype(np.int64)
        return pairs, scores, candidate, state["pair_shank"], idx_auto, leaf
    pairs, scores, idx_auto, leaf = _pydant_graph(folder, n, names)
    candidate = np.ones(pairs.shape[0], dtype=bool)
    pair_shank = (
        np.searchsorted(shank_ids, features.unit_shanks[pairs[:, 0]])
        if pairs.size
        else (np.zeros(0, dtype=np.int64))
    )
    return pairs, scores, candidate, pair_shank, idx_auto, leaf


def _pydant_graph(folder: Path, n: int, names):
    """pyDANT's candidate pairs, their per-feature scores, pre-curation clusters, leaf order."""
    path = folder / "ClusteringResults.npz"
    if path.is_file():
        keys = ("idx_unit_pairs", "similarity_all", "idx_cluster_hdbscan", "leafOrder")
        z = load_npz(path, keys=keys)
        pairs = np.asarray(z["idx_unit_pairs"]).reshape(-1, 2).astype(np.int64)
        scores = np.asarray(z["similarity_all"]).reshape(pairs.shape[0], -1).astype(float)
        idx_auto = np.asarray(z["idx_cluster_hdbscan"]).astype(np.int64)
        leaf = np.asarray(z["leafOrder"]).astype(np.int64)
        return pairs, scores, idx_auto, leaf if leaf.size == n else np.arange(n)
    pairs = _require(folder, "SimilarityPairs.npy").reshape(-1, 2).astype(np.int64)
    return pairs, np.zeros((pairs.shape[0], len(names))), np.full(n, -1, np.int64), np.arange(n)


def _saved_motion(saved: _Saved, s: int, prefix: str) -> Motion | None:
    """Shank `s`'s motion `prefix` ("motion", "initial_motion", "restored_motion"), if saved."""
    state = saved.state
    if state is None:
        if prefix != "motion":
            return None
        row = min(s, saved.motion_linear.shape[0] - 1)
        return Motion(
            saved.motion_linear[row].astype(float), saved.motion_constant[row].astype(float)
        )
    key = f"shank{s}_{prefix}"
    if key + "_constant" not in state:
        return None
    m = Motion(state[key + "_linear"], state[key + "_constant"])
    if key + "_ci_low" in state:
        m.ci_low, m.ci_high = state[key + "_ci_low"], state[key + "_ci_high"]
    if key + "_edge_shift" in state:
        m.edge_shift = state[key + "_edge_shift"]
    if key + "_pair_depths" in state:
        m.depths = tuple(float(v) for v in state[key + "_pair_depths"])
    if key + "_n_pairs" in state:
        m.n_pairs = int(state[key + "_n_pairs"])
    return m


def _saved_passes(saved: _Saved, s: int) -> list[MotionPass]:
    """Shank `s`'s motion loop history (only the rigid part of each pass's motion is kept)."""
    state = saved.state
    if state is None or f"shank{s}_pass_matches" not in state:
        return []
    passes = []
    for k, n_match in enumerate(state[f"shank{s}_pass_matches"]):
        c = state[f"shank{s}_pass_constant"][k]
        pm = None if np.isnan(c).any() else Motion(np.zeros_like(c), c)
        feats = tuple(str(state[f"shank{s}_pass_features"][k]).split("+"))
        passes.append(MotionPass(feats, int(n_match), pm))
    return passes


def _shank_final(saved: _Saved, s: int, units: np.ndarray) -> ClusteringRun:
    """Shank `s`'s final clustering, in local unit indices, as far as the folder tells it."""
    n = saved.n_units
    if len(saved.shank_ids) == 1 and holds_every_unit(units, n):
        # One shank holding every unit: its graph is the whole graph (no copies).
        lp, scores, candidate = saved.pairs, saved.scores, saved.candidate
    else:
        local = np.full(n, -1, dtype=np.int64)
        local[units] = np.arange(units.size)
        sel = saved.pair_shank == s
        lp = local[saved.pairs[sel]] if saved.pairs.size else np.zeros((0, 2), dtype=np.int64)
        scores, candidate = saved.scores[sel], saved.candidate[sel]
    labels = saved.idx_auto[units]
    return ClusteringRun(
        feature_names=saved.names,
        pairs=lp,
        scores=scores,
        candidate=candidate,
        weights=saved.weights[min(s, saved.weights.shape[0] - 1)],
        threshold=float(saved.thresholds[min(s, saved.thresholds.size - 1)]),
        labels=np.where(labels > 0, labels, -1),
        leaf_order=np.arange(units.size),
        n_iterations=0,
    )


def _shank_waveforms(saved: _Saved, units: np.ndarray):
    """(corrected waveforms, template-major as the engine makes them; similarity computer).

    The waveforms stay in their file: a view of the map when the shank's units are one
    run of rows (always for one shank), and the computer reads the units it is asked about
    (lazy_similarity.py) instead of holding every waveform."""
    f = saved.features
    if saved.corrected_all is None:
        return f.waveforms[units][None], None
    rows = saved.corrected_all
    if rows.dtype != np.float32:  # not as we write it (pyDANT's?): read as before
        return _eager_waveforms(saved, units)
    if units.size and np.all(np.diff(units) == 1):
        rows = rows[int(units[0]) : int(units[-1]) + 1]  # one run of rows: a view
    else:
        rows = rows[units]
    corrected = np.moveaxis(rows, -1, 0)  # the file is template-last
    try:
        file = UnitRowsFile(saved.folder / CORRECTED_FILE)
    except (OSError, ValueError):
        return _eager_waveforms(saved, units)
    computer = LazySimilarityComputer(file, units, saved.neighbourhoods, _unit_rows(f, units))
    return corrected, computer


def _unit_rows(f: UnitFeatures, units: np.ndarray):
    """(auto_corr, isi, peth) of `units` (None where absent; views for one run of units)."""
    if units.size and np.all(np.diff(units) == 1):
        units = slice(int(units[0]), int(units[-1]) + 1)
    return tuple(None if x is None else x[units] for x in (f.auto_corr, f.isi, f.peth))


def _eager_waveforms(saved: _Saved, units: np.ndarray):
    """_shank_waveforms read whole into memory (a file we cannot read row by row)."""
    corrected = np.ascontiguousarray(
        np.moveaxis(saved.corrected_all[units], -1, 0), dtype=np.float32
    )
    f = saved.features
    return corrected, SimilarityComputer(corrected, saved.neighbourhoods, *_unit_rows(f, units))


def _load_shank(saved: _Saved, s: int, shank_id: int) -> ShankTracking:
    state = saved.state
    if state is not None and f"shank{s}_units" in state:
        units = state[f"shank{s}_units"].astype(np.int64)
    else:
        units = np.flatnonzero(saved.features.unit_shanks == shank_id)
    motion = _saved_motion(saved, s, "motion")
    corrected, computer = _shank_waveforms(saved, units)
    return ShankTracking(
        shank_id=shank_id,
        units=units,
        initial_motion=_saved_motion(saved, s, "initial_motion") or Motion.zero(saved.n_sessions),
        motion=motion if motion is not None else Motion.zero(saved.n_sessions),
        restored_motion=_saved_motion(saved, s, "restored_motion"),
        passes=_saved_passes(saved, s),
        final=_shank_final(saved, s, units),
        curation=AutoCuration(
            saved.idx_cluster[units],
            np.zeros((0, 2), np.int64),
            np.zeros(0, np.int64),
            threshold_curve=_saved_curve(saved.folder, s),
        ),
        corrected_waveforms=corrected,
        computer=computer,
    )


def _saved_curve(folder: Path, s: int):
    """Shank s's amplitude-dependent threshold from the run's AutoCuration.json, or None
    (pyDANT's curation, pyDANT's folders, older runs, an unreadable record)."""
    from .adaptive_curation import load_auto_curation
    from .amplitude_threshold import ThresholdCurve

    try:
        record = load_auto_curation(folder)
        curve = record["shanks"][s].get("threshold_curve") if record else None
        return ThresholdCurve.from_dict(curve) if curve else None
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None  # the record only adds the margins' curve: the result stands without it


def _assemble(saved: _Saved, dataset: Dataset, settings: Settings, shanks) -> TrackingResult:
    folder = saved.folder
    curation_pairs = _optional(folder, "CurationPairs.npy")
    curation_types = _optional(folder, "CurationTypes.npy")
    run_time = _optional(folder, "RunTimeSec.npy")
    return TrackingResult(
        n_units=saved.n_units,
        n_sessions=dataset.n_sessions,
        sessions=dataset.sessions,
        channel_locations=dataset.channel_locations,
        shank_ids=saved.shank_ids,
        features=saved.features,
        feature_names=saved.names,
        idx_cluster=saved.idx_cluster,
        idx_cluster_auto=saved.idx_auto,
        pairs=saved.pairs,
        scores=saved.scores,
        candidate=saved.candidate,
        pair_shank=saved.pair_shank,
        weights=saved.weights,
        thresholds=saved.thresholds,
        leaf_order=saved.leaf,
        curation_pairs=curation_pairs.reshape(-1, 2)
        if curation_pairs is not None
        else np.zeros((0, 2), np.int64),
        curation_types=curation_types.ravel()
        if curation_types is not None
        else np.zeros(0, np.int64),
        shanks=shanks,
        settings_dict=settings.to_dict(),
        run_time_sec=float(run_time) if run_time is not None else 0.0,
        source="dant" if saved.state is not None else "pyDANT",
        # pyDANT saves waveforms_corrected.npy only in some runs; without it the shanks'
        # "corrected" waveforms are the raw ones and must not be shown as corrected.
        corrected_saved=saved.corrected_all is not None,
        data_folder=str(Path(dataset.folder).resolve()),
    )


def _attach_pydant_matrices(result: TrackingResult, folder: Path) -> None:
    """pyDANT's dense similarity matrices, which the viewers use instead of recomputing."""
    if (folder / "SimilarityMatrix.npy").is_file():
        result.dense_similarity = load_npy(folder / "SimilarityMatrix.npy")
    for name, file in FEATURE_MATRIX_FILES.items():
        if (folder / file).is_file():
            result.dense_features[name] = load_npy(folder / file, mmap=True)
