"""pyDANT's Figures/ folder: the same PNG file names, drawn by our plotting code.

pyDANT 1.1.4 writes these PNGs (read from its source; its single-shank runs put all seven
in OUTPUT/Figures/, its multi-shank runs put unitLocations.png there and the six others,
per shank, in OUTPUT/Shank<ID>/Figures/):
- unitLocations.png: units per session, and every unit's depth by session;
- SimilarityThresholdForCorrection.png: the similarity of the candidate pairs, with the
  threshold, titled with the number of pairs the motion estimate used;
- Motion.png: the motion of each session with its 95% interval (at the smallest and largest
  depth too when the motion is linear in depth);
- AllSimilarity.png: per feature, the distribution of the candidate pairs' similarity;
- MatchedProbability.png: the fraction of a session's units matched in another session, as
  a session x session matrix and against the session distance;
- SimilarityDistribution.png: matched against unmatched candidate pairs, for the weighted
  similarity and per feature (with its weight);
- FeatureScatter.png: every two features against each other, matched and unmatched pairs.
The last three depend on the clusters: `dant export` redraws them for the curated ones.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ..atomic_file import write_files_atomically
from ..errors import DantError
from .figure import PALETTE, Figure, FigureRow

FIGURES_DIR = "Figures"
# A run-wide figure (in OUTPUT/Figures/ also for multi-shank runs) and the per-shank ones.
RUN_FIGURES = ("unitLocations.png",)
SHANK_FIGURES = (
    "SimilarityThresholdForCorrection.png",
    "Motion.png",
    "AllSimilarity.png",
    "MatchedProbability.png",
    "SimilarityDistribution.png",
    "FeatureScatter.png",
)
CLUSTER_FIGURES = ("MatchedProbability.png", "SimilarityDistribution.png", "FeatureScatter.png")
PNG_SCALE = 2  # pixels per figure unit: sharp enough to zoom, small files
MAX_SCATTER_POINTS = 5000  # per group (matched / unmatched) in FeatureScatter, as pyDANT
MATCHED, UNMATCHED = PALETTE[0], "#000000"


class ShankView:
    """What one shank's figures need: its units, candidate pairs and motion (global unit
    indices; all shanks together for a single-shank run)."""

    def __init__(self, result, index: int, labels: np.ndarray):
        sh = result.shanks[index]
        self.shank = sh
        self.units = np.asarray(sh.units)
        self.sessions = np.asarray(result.sessions)
        self.n_sessions = int(result.n_sessions)
        keep = np.asarray(result.candidate, bool)
        if len(result.shanks) > 1:
            keep = keep & (np.asarray(result.pair_shank) == index)
        self.pairs = np.asarray(result.pairs)[keep]
        self.scores = np.asarray(result.scores, float)[keep]
        self.weights = np.asarray(result.weights, float)[index]
        self.threshold = float(np.atleast_1d(result.thresholds)[index])
        self.features = list(result.feature_names)
        y = np.asarray(result.locations)[self.units, 1]
        self.mean_depth = float(y.mean()) if y.size else 0.0
        a, b = labels[self.pairs[:, 0]], labels[self.pairs[:, 1]]
        self.matched = (a == b) & (a > 0)
        self.labels = labels


def figure_descriptions(result, labels=None, names=None) -> dict[str, object]:
    """Relative path (e.g. 'Figures/Motion.png', 'Shank2/Figures/Motion.png') -> Figure or
    FigureRow; names: only these file names (default all)."""
    labels = np.asarray(result.idx_cluster if labels is None else labels, dtype=np.int64)
    wanted = set(names) if names is not None else set(RUN_FIGURES + SHANK_FIGURES)
    out: dict[str, object] = {}
    if "unitLocations.png" in wanted:
        out[f"{FIGURES_DIR}/unitLocations.png"] = unit_locations(result)
    multi = len(result.shanks) > 1
    for s, sh in enumerate(result.shanks):
        view = ShankView(result, s, labels)
        prefix = f"Shank{sh.shank_id}/{FIGURES_DIR}" if multi else FIGURES_DIR
        makers = {
            "SimilarityThresholdForCorrection.png": threshold_figure,
            "Motion.png": motion_figure,
            "AllSimilarity.png": all_similarity,
            "MatchedProbability.png": matched_probability,
            "SimilarityDistribution.png": similarity_distribution,
            "FeatureScatter.png": feature_scatter,
        }
        for name in SHANK_FIGURES:
            if name in wanted:
                out[f"{prefix}/{name}"] = makers[name](view)
    return out


def figure_files(result, labels=None, names=None, scale: int = PNG_SCALE) -> dict[str, bytes]:
    """Relative path -> PNG bytes of the figures (see figure_descriptions)."""
    return {
        path: fig.png(scale) for path, fig in figure_descriptions(result, labels, names).items()
    }


# ----- the figures ---------------------------------------------------------------------


def unit_locations(result) -> FigureRow:
    sessions = np.asarray(result.sessions)
    n = int(result.n_sessions)
    k = np.arange(1, n + 1)
    counts = np.bincount(sessions, minlength=n + 1)[1:]
    left = Figure("Units per session", "Sessions", "Number of units", 420, 380)
    left.line(k, counts, color=UNMATCHED, markers=True)
    left.xlim = (0.5, n + 0.5)
    jitter = np.random.default_rng(0).uniform(-0.4, 0.4, sessions.size)
    right = Figure("Unit locations", "Sessions", "Y location (µm)", 420, 380)
    right.scatter(
        sessions + jitter,
        np.asarray(result.locations)[:, 1],
        color=UNMATCHED,
        radius=0.8,
        opacity=0.5,
    )
    right.xlim = (0.5, n + 0.5)
    return FigureRow([left, right])


def threshold_figure(v: ShankView) -> Figure:
    similarity = v.scores @ v.weights
    n_used = int(v.shank.motion.n_pairs)
    fig = Figure(f"{n_used} pairs used for the motion estimate", "Similarity", "Counts", 440, 400)
    fig.hist(similarity, bins=100, color=PALETTE[0], density=False, opacity=0.9)
    fig.vline(v.threshold, "threshold")
    return fig


def motion_figure(v: ShankView) -> Figure:
    m = v.shank.motion
    k = np.arange(1, v.n_sessions + 1)
    fig = Figure("Motion", "Sessions", "Motion (µm)", 440, 400)
    fig.xlim = (0.5, v.n_sessions + 0.5)
    depths = m.depths if m.depths is not None else (v.mean_depth,) * 3
    rows = [(0, "mean depth", "#000000")]
    if np.any(np.asarray(m.linear) != 0):
        rows += [(1, "smallest depth", "#0072B2"), (2, "largest depth", "#D55E00")]
    for row, label, color in rows:
        if m.ci_low is not None and m.ci_high is not None and np.asarray(m.ci_low).ndim == 2:
            low, high = np.asarray(m.ci_low)[row], np.asarray(m.ci_high)[row]
            fig.band(k, low, high, color=color, opacity=0.3)
        fig.line(k, m.at_depth(depths[row]), label=f"at the {label}", color=color)
    return fig


def all_similarity(v: ShankView) -> FigureRow:
    panels = []
    for k, name in enumerate(v.features):
        fig = Figure(name, f"{name} similarity", "Density", 360, 340)
        fig.hist(v.scores[:, k], bins=50, color=PALETTE[0], opacity=0.9)
        panels.append(fig)
    return FigureRow(panels)


def matched_probability(v: ShankView) -> FigureRow:
    n = v.n_sessions
    p = session_match_fractions(v.labels[v.units], v.sessions[v.units], n)
    left = Figure("Matched fraction between sessions", "Sessions", "Sessions", 460, 380)
    left.matrix(p, "Prob. of matched")
    d = np.arange(-n + 1, n)
    rows, cols = np.indices((n, n))
    mean = np.array([p[(rows - cols) == k].mean() if k != 0 else np.nan for k in d])
    right = Figure("Against the session distance", "Δ session", "Prob. of matched", 440, 380)
    right.line(d, mean, color=UNMATCHED, markers=True)
    return FigureRow([left, right])


def session_match_fractions(labels: np.ndarray, sessions: np.ndarray, n: int) -> np.ndarray:
    """(n, n): [a, b] = matched pairs of units between sessions a+1 and b+1 (same
    cluster), over the units of session a+1; 0 on the diagonal."""
    from ..pydant_output import matched_pairs

    pairs = matched_pairs(labels)
    counts = np.zeros((n, n))
    sa, sb = sessions[pairs[:, 0]] - 1, sessions[pairs[:, 1]] - 1
    np.add.at(counts, (sa, sb), 1)
    np.add.at(counts, (sb, sa), 1)
    np.fill_diagonal(counts, 0)
    units = np.bincount(sessions - 1, minlength=n).astype(float)
    return counts / np.maximum(units, 1)[:, None]


def similarity_distribution(v: ShankView) -> FigureRow:
    weighted = v.scores @ v.weights
    columns = [("Weighted sum", "Similarity", weighted)] + [
        (f"weight = {v.weights[k]:.2f}", name, v.scores[:, k]) for k, name in enumerate(v.features)
    ]
    panels = []
    for title, xlabel, values in columns:
        fig = Figure(title, xlabel, "Density", 360, 340)
        fig.hist(values[~v.matched], bins=50, color=UNMATCHED, label="unmatched", opacity=0.5)
        fig.hist(values[v.matched], bins=50, color=MATCHED, label="matched", opacity=0.6)
        panels.append(fig)
    return FigureRow(panels)


def feature_scatter(v: ShankView) -> FigureRow:
    rng = np.random.default_rng(0)
    groups = []
    for sel, color in ((~v.matched, UNMATCHED), (v.matched, MATCHED)):
        idx = np.flatnonzero(sel)
        if idx.size > MAX_SCATTER_POINTS:
            idx = np.sort(rng.choice(idx, MAX_SCATTER_POINTS, replace=False))
        groups.append((idx, color))
    panels = []
    f = len(v.features)
    for a in range(f):
        for b in range(a + 1, f):
            fig = Figure(
                f"{v.features[a]} vs {v.features[b]}", v.features[a], v.features[b], 360, 340
            )
            for idx, color in groups:
                fig.scatter(
                    v.scores[idx, a], v.scores[idx, b], color=color, radius=0.9, opacity=0.3
                )
            panels.append(fig)
    if not panels:
        panels.append(Figure("One feature: no pair of features to compare", "", "", 360, 340))
    return FigureRow(panels)


# ----- writing -------------------------------------------------------------------------


def write_figures(result, folder: Path, labels=None, names=None) -> list[Path]:
    """Draw the figures and write them into the tracking output `folder` (its Figures/ and,
    for several shanks, Shank<ID>/Figures/); see write_figure_files."""
    return write_figure_files(folder, figure_files(result, labels, names))


def write_figure_files(folder: Path, files: dict[str, bytes]) -> list[Path]:
    """Write files of the output folder (relative path -> bytes: the figures, and for
    `dant export` the curated Shank<ID>/ files) into `folder`, each atomically (a temp file
    renamed over it). A file there that we did not write (or that was changed
    since) is not overwritten: it moves to previous_runs/<time>/<its relative path> first.
    Returns the paths written."""
    from ..output_folder import PREVIOUS_RUNS, is_ours_and_unchanged, record_written_files

    by_dir: dict[Path, dict[str, bytes]] = {}
    for rel, data in files.items():
        path = folder / rel
        by_dir.setdefault(path.parent, {})[path.name] = data
    stamp = time.strftime("%Y%m%d-%H%M%S")
    written = []
    for directory, group in by_dir.items():
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for name in group:
                old = directory / name
                if old.exists() and not is_ours_and_unchanged(directory, old):
                    keep = folder / PREVIOUS_RUNS / stamp / directory.relative_to(folder) / name
                    keep.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(old, _unused(keep))
        except OSError as exc:
            # the same message as atomic_file.write_files_atomically's
            raise DantError(f"cannot write {directory}: {exc}") from exc
        write_files_atomically(directory, group)
        try:
            record_written_files(directory, list(group))
        except OSError:
            pass  # without the record a later save keeps these files as the user's: safe
        written += [directory / name for name in group]
    return written


def _unused(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate
