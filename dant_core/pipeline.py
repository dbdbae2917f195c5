"""The tracking pipeline, stage by stage (docs/method.md §2-8), with progress and cancellation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from .autocuration import auto_curate
from .clustering import ClusteringRun, iterative_clustering
from .dataset import Dataset, check_dataset_for_settings, load_manual_motion
from .features import UnitFeatures, compute_unit_features, kernels_are_cached, peak_to_trough
from .motion import Motion, correct_waveforms, estimate_motion
from .progress import CancelToken, ProgressFn, no_progress
from .registration import register_sessions
from .settings import Settings
from .similarity import ChannelNeighbourhoods, SimilarityComputer, SpikeTrainVectors
from .tracking_result import MotionPass, ShankTracking, TrackingResult

LogFn = Callable[[str], None]

# An early stop goes back to the motion of the pass before, whose waveforms were corrected
# with exactly that motion; the final clustering reuses them and their waveform scores
# (about 10 % of a 1,200-unit run) when that pass's waveforms, graph and a dense n x n score
# table take less memory than this. At 20k units they take GBs: recomputed there instead.
KEEP_PREVIOUS_PASS_BYTES = 1 << 30

# The registration initialiser is used when the drift it finds spans more than this
# fraction of `clustering.max_distance` (below that, zero is as good a start).
REGISTRATION_MIN_SPAN = 0.5


def _no_log(message: str) -> None:
    pass


class _Stages:
    """Turns the pipeline's steps into an overall progress report."""

    def __init__(self, progress: ProgressFn, total: int):
        self.progress = progress
        self.total = total
        self.done = 0

    def step(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        self.progress("Overall", self.done, self.total)


def run_tracking(
    dataset: Dataset,
    settings: Settings,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    log: LogFn = _no_log,
) -> TrackingResult:
    """Track units across sessions: preprocess, estimate motion, cluster, curate."""
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    settings.validate()
    _limit_numba_threads(int(settings.get("n_jobs")))
    if not kernels_are_cached():
        log("First run after installing: compiling the engine (about 20 s more, this time only)")
    for note in check_dataset_for_settings(dataset, settings):
        log(f"warning: {note}")

    shank_ids = [int(s) for s in np.unique(dataset.channel_shanks)]
    passes = _n_motion_passes(settings)
    stages = _Stages(progress, 1 + len(shank_ids) * (passes + 2))

    log(f"Preprocessing {dataset.n_units} units from {dataset.n_sessions} sessions")
    features = compute_unit_features(dataset, settings, progress, cancel)
    # features.warnings (units with < 2 spikes) were already logged, once, by
    # check_dataset_for_settings above, and only when a spike-train feature is used.
    stages.step()

    neighbourhoods = ChannelNeighbourhoods(
        dataset.channel_locations,
        dataset.channel_shanks,
        int(settings.get("waveformCorrection.n_nearest_channels")),
    )
    manual = None
    motion_path = settings.resolve_path("waveformCorrection.path_to_motion")
    if motion_path is not None:
        k, b = load_manual_motion(motion_path, dataset.n_sessions)
        manual = Motion(np.asarray(k, float), np.asarray(b, float))
        log(f"Starting from the manual motion in {motion_path}")

    shanks = []
    for shank in shank_ids:
        units = np.flatnonzero(features.unit_shanks == shank)
        if units.size == 0:
            stages.step(passes + 2)
            continue
        if len(shank_ids) > 1:
            log(f"Shank {shank}: {units.size} units")
        shanks.append(
            _track_shank(
                dataset,
                settings,
                features,
                neighbourhoods,
                shank,
                units,
                manual,
                progress,
                cancel,
                log,
                stages,
            )
        )
    result = merge_shanks(dataset, settings, features, shanks)
    result.run_time_sec = time.perf_counter() - started
    progress("Overall", stages.total, stages.total)
    log(result.summary_text())
    if result.n_clusters == 0:
        log(
            "warning: only one session, so there is nothing to track across sessions; "
            "every unit is unmatched"
            if dataset.n_sessions == 1
            else "warning: no unit was matched across sessions; every unit is unmatched "
            "(are the sessions from the same probe and position? is clustering.max_distance "
            "large enough for the drift?)"
        )
    return result


def _limit_numba_threads(n_jobs: int) -> None:
    """Honour `n_jobs` (joblib's convention: -1 all cores, -2 all but one) for numba kernels.

    The limit applies to the calling thread only, so a GUI worker thread can use fewer
    cores than a command-line run.
    """
    available = numba.config.NUMBA_NUM_THREADS
    n = n_jobs if n_jobs > 0 else available + 1 + n_jobs
    numba.set_num_threads(int(min(max(n, 1), available)))


def _n_motion_passes(settings: Settings) -> int:
    sets = settings.motion_feature_sets()
    max_iter = int(settings.get("motionEstimation.max_iter"))
    if settings.get("motionEstimation.repeat_last_feature_set"):
        return max_iter
    return min(max_iter, len(sets))


def _track_shank(
    dataset: Dataset,
    settings: Settings,
    features: UnitFeatures,
    neighbourhoods: ChannelNeighbourhoods,
    shank: int,
    units: np.ndarray,
    manual: Motion | None,
    progress: ProgressFn,
    cancel: CancelToken,
    log: LogFn,
    stages: _Stages,
) -> ShankTracking:
    """Motion loop, final clustering and auto-curation of one shank (docs/method.md §5-7)."""
    n_session = dataset.n_sessions
    sessions = dataset.sessions[units]
    depth = features.locations[units, 1]
    waveforms = features.waveforms[units]
    channel_locations = dataset.channel_locations
    n_templates = int(settings.get("waveformCorrection.n_templates"))
    linear = bool(settings.get("waveformCorrection.linear_correction"))
    max_distance = float(settings.get("clustering.max_distance"))
    n_iter = int(settings.get("clustering.n_iter"))
    weight_tol = float(settings.get("clustering.weight_tol"))

    def sub(x):
        return None if x is None else x[units]

    # The spike-train features do not move: prepared once for every pass.
    trains = SpikeTrainVectors(sub(features.auto_corr), sub(features.isi), sub(features.peth))

    def correct(motion: Motion) -> np.ndarray:
        return correct_waveforms(
            waveforms, depth, sessions, motion, channel_locations, n_templates, progress, cancel
        )

    def cluster(names, corrected, motion: Motion, leaf_order=False, reuse=None):
        """(run, computer); reuse: a _KeptPass on the same corrected waveforms, or None."""
        if reuse is None:
            computer = SimilarityComputer(corrected, neighbourhoods, trains=trains)
        else:
            computer = reuse.computer
            if "Waveform" in reuse.run.feature_names:
                k = reuse.run.feature_names.index("Waveform")
                pairs = reuse.run.pairs
                computer.remember_waveform_scores(pairs[:, 0], pairs[:, 1], reuse.run.scores[:, k])
        run = iterative_clustering(
            computer,
            names,
            depth - motion.at(sessions, depth),
            n_session,
            max_distance,
            n_iter,
            weight_tol,
            progress,
            cancel,
            with_leaf_order=leaf_order,
        )
        for note in run.notes:
            log(note)
        return run, computer

    if manual is not None:
        initial = manual.copy()
    elif settings.get("motionEstimation.initial_motion") == "registration":
        initial = register_sessions(
            features.locations[units], peak_to_trough(waveforms).max(axis=1), sessions, n_session
        )
        span = float(np.ptp(initial.constant))
        if span > REGISTRATION_MIN_SPAN * max_distance:
            log(f"Initial motion from registering the sessions' unit distributions: {span:.1f} µm")
        else:
            # Drift this small leaves every true partner among the candidate pairs, and
            # the match-based loop refines it best from zero (pyDANT's start).
            log(f"Registration finds little drift ({span:.1f} µm); starting from zero motion")
            initial = Motion.zero(n_session)
    else:
        initial = Motion.zero(n_session)
    started_from_zero = manual is None and not np.any(initial.constant)
    corrected = waveforms[None] if started_from_zero else correct(initial)
    corrected_with = None if started_from_zero else initial  # the motion `corrected` has
    kept = None  # the previous pass, while small (see KEEP_PREVIOUS_PASS_BYTES)
    reuse = None
    motion = initial.copy()
    history: list[MotionPass] = []
    feature_sets = settings.motion_feature_sets()
    n_pass = _n_motion_passes(settings)
    stop_early = bool(settings.get("motionEstimation.stop_early"))
    restored = None
    for i in range(n_pass):
        names = tuple(feature_sets[min(i, len(feature_sets) - 1)])
        run, computer = cluster(names, corrected, motion)
        n_matched = run.n_matched_pairs
        log(f"Motion pass {i + 1}/{n_pass} ({', '.join(names)}): {n_matched} matched unit pairs")
        stages.step()
        if stop_early and i > 0 and n_matched <= history[i - 1].n_matched_pairs:
            restored = initial if i == 1 else history[i - 2].motion
            log(
                f"Matches did not increase ({history[i - 1].n_matched_pairs} -> {n_matched}); "
                f"motion correction stops and goes back to the motion of pass {i - 1}"
                if i > 1
                else f"Matches did not increase ({history[i - 1].n_matched_pairs} -> {n_matched}); "
                "motion correction stops and goes back to the starting motion"
            )
            history.append(MotionPass(names, n_matched, None))
            del run, computer, corrected  # free them before their successors (large n)
            if kept is not None and kept.corrected_with is restored:
                reuse = kept
                corrected = kept.computer.waveforms
            else:
                kept = None
                corrected = correct(restored)
            stages.step(n_pass - i - 1)
            break
        good = _motion_pairs(run, sessions)
        motion = estimate_motion(
            depth, sessions, good, n_session, linear, seed=i, progress=progress, cancel=cancel
        )
        if motion.unlinked_sessions:
            log(
                "warning: no matched pair links session(s) "
                + ", ".join(map(str, motion.unlinked_sessions))
                + "; their motion is left at 0"
            )
        history.append(MotionPass(names, n_matched, motion))
        kept = _KeptPass(corrected_with, computer, run)
        if kept.nbytes > KEEP_PREVIOUS_PASS_BYTES:
            kept = None
        del run, computer, corrected  # free them before their successors (large n)
        corrected = correct(motion)
        corrected_with = motion

    final_names = tuple(settings.get("clustering.features"))
    final, computer = cluster(final_names, corrected, motion, leaf_order=True, reuse=reuse)
    del kept, reuse
    log(
        f"Final clustering ({', '.join(final_names)}): {final.n_matched_pairs} matched pairs, "
        f"weights {np.round(final.weights, 3).tolist()}, threshold {final.threshold:.3f}"
    )
    stages.step()

    def block(local_units: np.ndarray) -> np.ndarray:
        return computer.block_scores(local_units, local_units, final_names) @ final.weights

    curated = auto_curate(
        final.labels,
        sessions,
        block,
        final.threshold,
        bool(settings.get("autoCuration.auto_split")),
    )
    stages.step()
    return ShankTracking(
        shank_id=shank,
        units=units,
        initial_motion=initial,
        motion=motion,
        restored_motion=restored,
        passes=history,
        final=final,
        curation=curated,
        corrected_waveforms=corrected,
        computer=computer,
    )


@dataclass(frozen=True)
class _KeptPass:
    """A motion pass kept for the final clustering: the motion its waveforms were corrected
    with (None: not corrected), its similarity computer (holding those waveforms), its run."""

    corrected_with: Motion | None
    computer: SimilarityComputer
    run: ClusteringRun

    @property
    def nbytes(self) -> int:
        """What keeping it costs, with the dense score table remember_waveform_scores makes."""
        n = self.computer.n_units
        graph = self.run.pairs.nbytes + self.run.scores.nbytes
        return self.computer.waveforms.nbytes + graph + 8 * n * n


def _motion_pairs(run: ClusteringRun, sessions: np.ndarray) -> np.ndarray:
    """Candidate pairs that are good matches, in one cluster, from different sessions."""
    pairs = run.pairs[run.candidate]
    similarity = run.similarity[run.candidate]
    la, lb = run.labels[pairs[:, 0]], run.labels[pairs[:, 1]]
    keep = (
        (similarity > run.threshold)
        & (la == lb)
        & (la > 0)
        & (sessions[pairs[:, 0]] != sessions[pairs[:, 1]])
    )
    return pairs[keep]


def _joined(parts: list, empty: np.ndarray) -> np.ndarray:
    """The parts one after another; a single part as it is (no copy)."""
    if not parts:
        return empty
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def merge_shanks(dataset, settings, features: UnitFeatures, shanks: list[ShankTracking]):
    """Put per-shank results back in global unit order, offsetting cluster ids shank by shank."""
    n = dataset.n_units
    idx_cluster = np.full(n, -1, dtype=np.int64)
    idx_auto = np.full(n, -1, dtype=np.int64)
    pairs, scores, candidate, pair_shank, leaf, cur_pairs, cur_types = [], [], [], [], [], [], []
    offset = offset_auto = 0
    names = tuple(settings.get("clustering.features"))
    for s, sh in enumerate(shanks):
        u = sh.units
        lab = sh.curation.idx_cluster
        idx_cluster[u] = np.where(lab > 0, lab + offset, -1)
        offset += int(lab.max(initial=0))
        lab = sh.final.labels
        idx_auto[u] = np.where(lab > 0, lab + offset_auto, -1)
        offset_auto += int(lab.max(initial=0))
        # One shank holding every unit (the usual case) needs no copy of the graph.
        pairs.append(sh.final.pairs if sh.holds_every_unit(n) else u[sh.final.pairs])
        scores.append(sh.final.scores)
        candidate.append(sh.final.candidate)
        pair_shank.append(np.full(sh.final.pairs.shape[0], s, dtype=np.int16))
        leaf.append(u[sh.final.leaf_order])
        cur_pairs.append(u[sh.curation.pairs])
        cur_types.append(sh.curation.types)
    n_f = len(names)
    return TrackingResult(
        n_units=n,
        n_sessions=dataset.n_sessions,
        sessions=dataset.sessions,
        channel_locations=dataset.channel_locations,
        shank_ids=[sh.shank_id for sh in shanks],
        features=features,
        feature_names=names,
        idx_cluster=idx_cluster,
        idx_cluster_auto=idx_auto,
        pairs=_joined(pairs, np.zeros((0, 2), dtype=np.int64)),
        scores=_joined(scores, np.zeros((0, n_f))),
        candidate=_joined(candidate, np.zeros(0, dtype=bool)),
        pair_shank=_joined(pair_shank, np.zeros(0, dtype=np.int16)),
        weights=np.array([sh.final.weights for sh in shanks]).reshape(len(shanks), n_f),
        thresholds=np.array([sh.final.threshold for sh in shanks]),
        leaf_order=np.concatenate(leaf) if leaf else np.arange(n),
        curation_pairs=np.concatenate(cur_pairs).reshape(-1, 2) if cur_pairs else np.zeros((0, 2)),
        curation_types=np.concatenate(cur_types) if cur_types else np.zeros(0, dtype=np.int64),
        shanks=shanks,
        settings_dict=settings.to_dict(),
        data_folder=str(Path(dataset.folder).resolve()),
    )
