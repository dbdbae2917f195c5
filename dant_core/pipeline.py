"""The tracking pipeline as named stages (docs/method.md §2-8), with progress and cancellation.

`run_tracking` preprocesses every unit (`compute_unit_features`), then tracks each shank on
its own (`track_shank`): `start_motion` -> `run_motion_loop` -> `cluster_final` ->
`curate_shank`, and `merge_shanks` puts the shanks back in global unit order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from .adaptive_curation import curate_run, curation_summary
from .autocuration import AutoCuration, auto_curate
from .clustering import ClusteringRun, iterative_clustering
from .dataset import Dataset, check_dataset_for_settings, load_manual_motion
from .engine_settings import EngineSettings
from .features import UnitFeatures, compute_unit_features, kernels_are_cached, peak_to_trough
from .motion import Motion, away_from_ends, correct_waveforms, estimate_motion
from .motion_start import (
    StartEvidence,
    evidence_start,
    start_evidence,
    start_explains_better,
    start_record_evidence,
)
from .progress import CancelToken, ProgressFn, no_progress
from .registration import register_sessions
from .settings import Settings
from .similarity import ChannelNeighbourhoods, SimilarityComputer, SpikeTrainVectors
from .tracking_result import MotionPass, ShankTracking, TrackingResult

LogFn = Callable[[str], None]

# An early stop goes back to the motion of the pass before, whose waveforms were corrected
# with exactly that motion; the final clustering reuses that pass's waveform scores (about
# 10 % of a 1,200-unit run) when its graph and a dense n x n score table take less memory
# than this. At 20k units they take GBs: recomputed there instead. Its corrected waveforms
# are not kept: made again (the same bytes), they are the size of the next pass's and would
# double the run's peak (0.33 GB more at 1,200 units on 384 channels).
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


@dataclass(frozen=True)
class RunContext:
    """What every stage of a run reads besides its own inputs."""

    settings: EngineSettings
    channel_locations: np.ndarray  # (n_channel, 2) µm
    neighbourhoods: ChannelNeighbourhoods
    progress: ProgressFn
    cancel: CancelToken
    log: LogFn


@dataclass(frozen=True)
class ShankUnits:
    """One shank's units and their features, in local order (index 0..n_local-1)."""

    shank_id: int
    units: np.ndarray  # (n_local,) global unit indices
    sessions: np.ndarray  # (n_local,) session of each unit, 1..n_sessions
    n_sessions: int
    locations: np.ndarray  # (n_local, 3) µm
    waveforms: np.ndarray  # (n_local, n_channel, n_sample) float32, uncorrected
    trains: SpikeTrainVectors  # spike-train features, prepared once for every pass

    @property
    def depth(self) -> np.ndarray:
        """(n_local,) µm along the probe, before motion correction."""
        return self.locations[:, 1]


def run_tracking(
    dataset: Dataset,
    settings: Settings,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    log: LogFn = _no_log,
) -> TrackingResult:
    """Track units across sessions: preprocess, estimate motion, cluster, curate."""
    started = time.perf_counter()
    settings.validate()
    params = settings.typed()
    with engine_threads(params.n_jobs):
        result = _track(dataset, settings, params, progress, cancel or CancelToken(), log)
    result.run_time_sec = time.perf_counter() - started
    log(result.summary_text())
    if result.n_clusters == 0:
        log(_nothing_tracked(dataset.n_sessions))
    return result


def _track(
    dataset: Dataset,
    settings: Settings,
    params: EngineSettings,
    progress: ProgressFn,
    cancel: CancelToken,
    log: LogFn,
) -> TrackingResult:
    """run_tracking's stages, in numba's thread limit."""
    _prepare(dataset, settings, log)
    shank_ids = [int(s) for s in np.unique(dataset.channel_shanks)]
    passes = params.motion.n_passes
    stages = _Stages(progress, 1 + len(shank_ids) * (passes + 2))

    log(f"Preprocessing {dataset.n_units} units from {dataset.n_sessions} sessions")
    features = compute_unit_features(dataset, params, progress, cancel)
    # features.warnings (units with < 2 spikes) were already logged, once, by
    # check_dataset_for_settings, and only when a spike-train feature is used.
    stages.step()

    neighbourhoods = ChannelNeighbourhoods(
        dataset.channel_locations,
        dataset.channel_shanks,
        params.waveform_correction.n_nearest_channels,
    )
    ctx = RunContext(params, dataset.channel_locations, neighbourhoods, progress, cancel, log)
    manual = _manual_motion(params.waveform_correction.path_to_motion, dataset.n_sessions, log)
    shanks = []
    for shank in shank_ids:
        units = np.flatnonzero(features.unit_shanks == shank)
        if units.size == 0:
            stages.step(passes + 2)
            continue
        if len(shank_ids) > 1:
            log(f"Shank {shank}: {units.size} units")
        shank_units = select_shank(dataset, features, shank, units)
        shanks.append(track_shank(shank_units, manual, ctx, stages))
    result = merge_shanks(dataset, settings, params.clustering.features, features, shanks)
    progress("Overall", stages.total, stages.total)
    return result


def _prepare(dataset: Dataset, settings: Settings, log: LogFn) -> None:
    """Say what the run will meet: a first compilation, the dataset's problems."""
    if not kernels_are_cached():
        log("First run after installing: compiling the engine (about 20 s more, this time only)")
    for note in check_dataset_for_settings(dataset, settings):
        log(f"warning: {note}")


def _manual_motion(motion_path: Path | None, n_sessions: int, log: LogFn) -> Motion | None:
    """The motion in the file `waveformCorrection.path_to_motion`, if one is given."""
    if motion_path is None:
        return None
    k, b = load_manual_motion(motion_path, n_sessions)
    log(f"Starting from the manual motion in {motion_path}")
    return Motion(np.asarray(k, float), np.asarray(b, float))


def _nothing_tracked(n_sessions: int) -> str:
    if n_sessions == 1:
        return (
            "warning: only one session, so there is nothing to track across sessions; "
            "every unit is unmatched"
        )
    return (
        "warning: no unit was matched across sessions; every unit is unmatched "
        "(are the sessions from the same probe and position? is clustering.max_distance "
        "large enough for the drift?)"
    )


@contextlib.contextmanager
def engine_threads(n_jobs: int):
    """Run the block with numba's threads limited by `n_jobs` (joblib's convention: -1 all
    cores, -2 all but one), never above the limit the calling thread already has.

    numba's limit belongs to the calling thread: the GUI's worker thread sets it to every core
    but one (to keep the window responsive) before calling run_tracking, and "all cores" here
    must not undo that. The caller's limit is restored afterwards.
    """
    previous = numba.get_num_threads()
    available = numba.config.NUMBA_NUM_THREADS
    n = n_jobs if n_jobs > 0 else available + 1 + n_jobs
    numba.set_num_threads(int(min(max(n, 1), previous)))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def select_shank(dataset: Dataset, features: UnitFeatures, shank_id: int, units) -> ShankUnits:
    """The units of one shank (`units`: their global indices) and their features."""

    def sub(x):
        return None if x is None else x[units]

    return ShankUnits(
        shank_id=shank_id,
        units=units,
        sessions=dataset.sessions[units],
        n_sessions=dataset.n_sessions,
        locations=features.locations[units],
        waveforms=_rows(features.waveforms, units),
        trains=SpikeTrainVectors(sub(features.auto_corr), sub(features.isi), sub(features.peth)),
    )


def _rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """x[rows]; a view, not a copy, when `rows` is a run of consecutive indices (a shank's
    units are every unit on a single-shank probe: its waveforms, the run's largest input,
    are then not copied)."""
    rows = np.asarray(rows)
    if rows.size and rows[-1] - rows[0] == rows.size - 1 and np.all(np.diff(rows) == 1):
        return x[int(rows[0]) : int(rows[-1]) + 1]
    return x[rows]


def track_shank(
    shank: ShankUnits, manual: Motion | None, ctx: RunContext, stages: _Stages
) -> ShankTracking:
    """Motion loop, final clustering and auto-curation of one shank (docs/method.md §5-7)."""
    initial, start_record = start_motion(shank, manual, ctx)
    # A start at zero motion (not a manual one) needs no correction: the raw waveforms.
    correct_start = manual is not None or bool(np.any(initial.constant))
    loop = run_motion_loop(
        shank, initial, correct_start, ctx, stages, start_record_evidence(start_record)
    )
    final, computer = cluster_final(shank, loop, ctx)
    stages.step()
    curated = curate_shank(shank, final, computer, ctx)
    curated = dataclasses.replace(curated, motion_start=start_record)
    stages.step()
    return ShankTracking(
        shank_id=shank.shank_id,
        units=shank.units,
        initial_motion=initial,
        motion=loop.motion,
        restored_motion=loop.restored,
        passes=loop.history,
        final=final,
        curation=curated,
        corrected_waveforms=loop.corrected,
        computer=computer,
    )


def start_motion(shank: ShankUnits, manual: Motion | None, ctx: RunContext):
    """(the motion the loop starts from, the evidence record or None): chosen by evidence
    among manual, zero and registered (`initial_motion` "evidence", motion_start.py), else
    manual, registered (when it finds enough drift) or zero (docs/method.md §5)."""
    n_session = shank.n_sessions
    method = ctx.settings.motion.initial_motion
    amplitude = peak_to_trough(shank.waveforms).max(axis=1)
    if method == "evidence":
        return evidence_start(
            (shank.locations, amplitude, shank.sessions, n_session),
            manual,
            (ctx.settings.motion.features, ctx.settings.clustering.features),
            lambda m: shank.waveforms[None] if _is_zero(m) else correct(shank, m, ctx),
            lambda names, corrected, m: cluster(shank, names, corrected, m, ctx)[0],
            ctx.log,
        )
    if manual is not None:
        return manual.copy(), None
    if method != "registration":
        return Motion.zero(n_session), None
    initial = register_sessions(shank.locations, amplitude, shank.sessions, n_session)
    span = float(np.ptp(initial.constant))
    if span > REGISTRATION_MIN_SPAN * ctx.settings.clustering.max_distance:
        ctx.log(f"Initial motion from registering the sessions' unit distributions: {span:.1f} µm")
        return initial, None
    # Drift this small leaves every true partner among the candidate pairs, and the
    # match-based loop refines it best from zero (pyDANT's start).
    ctx.log(f"Registration finds little drift ({span:.1f} µm); starting from zero motion")
    return Motion.zero(n_session), None


def _is_zero(motion: Motion) -> bool:
    return not np.any(motion.constant) and not np.any(motion.linear)


def correct(shank: ShankUnits, motion: Motion, ctx: RunContext) -> np.ndarray:
    """Kriging-corrected waveforms (n_template, n_local, n_channel, n_sample) float32."""
    return correct_waveforms(
        shank.waveforms,
        shank.depth,
        shank.sessions,
        motion,
        ctx.channel_locations,
        ctx.settings.waveform_correction.n_templates,
        ctx.progress,
        ctx.cancel,
    )


def cluster(
    shank: ShankUnits,
    names: tuple[str, ...],
    corrected: np.ndarray,
    motion: Motion,
    ctx: RunContext,
    leaf_order: bool = False,
    reuse: KeptPass | None = None,
) -> tuple[ClusteringRun, SimilarityComputer]:
    """One iterative clustering run on `corrected` waveforms at depths corrected by `motion`.

    reuse: a kept pass on the same corrected waveforms; its waveform scores are used
    instead of computing them again.
    """
    computer = SimilarityComputer(corrected, ctx.neighbourhoods, trains=shank.trains)
    if reuse is not None:
        if "Waveform" in reuse.run.feature_names:
            k = reuse.run.feature_names.index("Waveform")
            pairs = reuse.run.pairs
            computer.remember_waveform_scores(pairs[:, 0], pairs[:, 1], reuse.run.scores[:, k])
    s = ctx.settings.clustering
    run = iterative_clustering(
        computer,
        names,
        shank.depth - motion.at(shank.sessions, shank.depth),
        shank.n_sessions,
        s.max_distance,
        s.n_iter,
        s.weight_tol,
        ctx.progress,
        ctx.cancel,
        with_leaf_order=leaf_order,
    )
    for note in run.notes:
        ctx.log(note)
    return run, computer


@dataclass(frozen=True)
class KeptPass:
    """A motion pass kept so that the final clustering can reuse it.

    An early stop goes back to the motion of the pass before the last. When that pass's
    waveforms were corrected with exactly that motion, the final clustering, on those
    waveforms made again, reuses its waveform scores.

    corrected_with: the motion its waveforms were corrected with (None: not corrected);
    run: its clustering run (its graph pairs and their scores).
    """

    corrected_with: Motion | None
    run: ClusteringRun
    n_units: int

    @property
    def nbytes(self) -> int:
        """What keeping it costs, with the dense score table remember_waveform_scores makes."""
        graph = self.run.pairs.nbytes + self.run.scores.nbytes
        return graph + 8 * self.n_units * self.n_units


@dataclass
class MotionLoopOutcome:
    """What the motion loop hands to the final clustering (docs/method.md §6).

    motion: the last estimated motion (the final clustering's depths; saved);
    history: one MotionPass per pass made; restored: the motion an early stop went back to;
    corrected: the waveforms for the final clustering, corrected with `restored` after an
    early stop, else with `motion`; reuse: the kept pass whose scores fit `corrected`, if any.
    """

    motion: Motion
    history: list[MotionPass]
    restored: Motion | None
    corrected: np.ndarray  # (n_template, n_local, n_channel, n_sample) float32
    reuse: KeptPass | None


def run_motion_loop(
    shank: ShankUnits,
    initial: Motion,
    correct_start: bool,
    ctx: RunContext,
    stages: _Stages,
    start_check: tuple[tuple[str, ...], StartEvidence] | None = None,
    first_pass: int = 0,
) -> MotionLoopOutcome:
    """Cluster, estimate the motion from the good matches, correct, and again.

    Each pass clusters with its feature set and estimates a new motion from the matches; with
    `motionEstimation.stop_early`, a pass that matches no more pairs than the one before ends
    the loop and the motion goes back to the one before that pass (docs/method.md §6).
    start_check: (features, evidence) of the start's evidence pass (motion_start.py): the
    first later pass with those features is compared with it, and when the start explains
    the data better the loop starts again from the start at that pass (`first_pass`).
    """
    plan = ctx.settings.motion
    n_pass = plan.n_passes
    corrected = correct(shank, initial, ctx) if correct_start else shank.waveforms[None]
    corrected_with = initial if correct_start else None  # the motion `corrected` has
    kept = None  # the previous pass, while small (see KEEP_PREVIOUS_PASS_BYTES)
    motion = initial.copy()
    history: list[MotionPass] = []
    for i in range(first_pass, n_pass):
        k = i - first_pass  # passes made from `initial`
        names = plan.feature_set(i)
        run, computer = cluster(shank, names, corrected, motion, ctx)
        n_matched = run.n_matched_pairs
        ctx.log(
            f"Motion pass {i + 1}/{n_pass} ({', '.join(names)}): {n_matched} matched unit pairs"
        )
        stages.step()
        if start_check is not None and names == start_check[0]:
            worse = k > 0 and start_explains_better(
                start_evidence("pass", motion, run, shank.sessions), start_check[1]
            )
            start_check = None  # judged once: later passes refine a motion it accepted
            if worse:
                ctx.log(f"Motion pass {i + 1}: {worse}")
                del run, computer, corrected, kept
                again = run_motion_loop(shank, initial, correct_start, ctx, stages, None, i)
                again.history[:0] = [*history, MotionPass(names, n_matched, None)]
                return again
        if plan.stop_early and k > 0 and n_matched <= history[k - 1].n_matched_pairs:
            restored = initial if k == 1 else history[k - 2].motion
            ctx.log(_stop_message(i, k, history[k - 1].n_matched_pairs, n_matched))
            history.append(MotionPass(names, n_matched, None))
            del run, computer, corrected  # free them before their successors (large n)
            reuse = kept if kept is not None and kept.corrected_with is restored else None
            kept = None  # not reused: freed before the restored waveforms are made
            corrected = correct(shank, restored, ctx)
            stages.step(n_pass - i - 1)
            return MotionLoopOutcome(motion, history, restored, corrected, reuse)
        motion = estimate_shank_motion(shank, run, i, ctx)
        history.append(MotionPass(names, n_matched, motion))
        kept = KeptPass(corrected_with, run, computer.n_units)
        if kept.nbytes > KEEP_PREVIOUS_PASS_BYTES:
            kept = None
        del run, computer, corrected  # free them before their successors (large n)
        corrected = correct(shank, motion, ctx)
        corrected_with = motion
    return MotionLoopOutcome(motion, history, None, corrected, None)


def _stop_message(i: int, k: int, before: int, now: int) -> str:
    """The log line of an early stop at pass index `i` (0-based), the k-th pass made from
    the loop's start."""
    where = f"the motion of pass {i - 1}" if k > 1 else "the starting motion"
    return (
        f"Matches did not increase ({before} -> {now}); "
        f"motion correction stops and goes back to {where}"
    )


def estimate_shank_motion(shank: ShankUnits, run: ClusteringRun, seed: int, ctx: RunContext):
    """The motion that best explains a run's good matches (docs/method.md §5)."""
    good = _motion_pairs(run, shank.sessions)
    inner = away_from_ends(
        shank.depth, ctx.channel_locations, ctx.settings.spike_location.n_nearest_channels
    )
    motion = estimate_motion(
        shank.depth,
        shank.sessions,
        good,
        shank.n_sessions,
        ctx.settings.waveform_correction.linear_correction,
        seed=seed,
        progress=ctx.progress,
        cancel=ctx.cancel,
        groups=run.labels[good[:, 0]],  # clusters, the independent units (neurons)
        interior=inner[good].all(axis=1),  # the band also holds the locator's edge bias
    )
    if motion.unlinked_sessions:
        ctx.log(
            "warning: no matched pair links session(s) "
            + ", ".join(map(str, motion.unlinked_sessions))
            + "; their motion is left at 0"
        )
    return motion


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


def cluster_final(shank: ShankUnits, loop: MotionLoopOutcome, ctx: RunContext):
    """The final clustering with `clustering.features`, with its leaf order (§6).

    Returns (run, similarity computer).
    """
    names = ctx.settings.clustering.features
    final, computer = cluster(
        shank, names, loop.corrected, loop.motion, ctx, leaf_order=True, reuse=loop.reuse
    )
    loop.reuse = None  # its scores are in `computer` now; the rest can go
    ctx.log(
        f"Final clustering ({', '.join(names)}): {final.n_matched_pairs} matched pairs, "
        f"weights {np.round(final.weights, 3).tolist()}, threshold {final.threshold:.3f}"
    )
    return final, computer


def curate_shank(
    shank: ShankUnits, final: ClusteringRun, computer: SimilarityComputer, ctx: RunContext
) -> AutoCuration:
    """Auto-curation of the final clusters: adaptive (docs/auto_curation.md) or pyDANT's
    (docs/method.md §7), by `autoCuration.method`."""
    names = final.feature_names

    def block(local_units: np.ndarray) -> np.ndarray:
        return computer.block_scores(local_units, local_units, names) @ final.weights

    split = ctx.settings.auto_curation.auto_split
    if ctx.settings.auto_curation.method == "adaptive":
        amplitude = peak_to_trough(shank.waveforms).max(axis=1)  # µV at the peak channel
        curated = curate_run(final, shank.sessions, amplitude, block, split)
        ctx.log(curation_summary(curated))
        return curated
    return auto_curate(final.labels, shank.sessions, block, final.threshold, split)


def _joined(parts: list, empty: np.ndarray) -> np.ndarray:
    """The parts one after another; a single part as it is (no copy)."""
    if not parts:
        return empty
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def merge_shanks(
    dataset, settings: Settings, names, features: UnitFeatures, shanks: list[ShankTracking]
):
    """Put per-shank results back in global unit order, offsetting cluster ids shank by shank.

    names: the final clustering's features (`clustering.features`).
    """
    n = dataset.n_units
    idx_cluster = np.full(n, -1, dtype=np.int64)
    idx_auto = np.full(n, -1, dtype=np.int64)
    pairs, scores, candidate, pair_shank, leaf, cur_pairs, cur_types = [], [], [], [], [], [], []
    offset = offset_auto = 0
    names = tuple(names)
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
        data_fingerprint=dataset.fingerprint,
    )
