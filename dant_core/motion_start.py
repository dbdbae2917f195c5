"""The motion start chosen by evidence (`motionEstimation.initial_motion` "evidence", issue 15).

The motion loop (docs/method.md §6) refines a starting motion from the matches it finds, and an
early stop at the second pass goes back to that start; a wrong start can therefore
stick. Candidates: zero (pyDANT's start), the registration of the sessions' unit
distributions (registration.py) and a user's manual motion when given. Each is judged by
one clustering pass on the waveforms corrected with it; the loop continues from the one
that explains the data better.

Criterion. The motion estimate is built from the *motion pairs* of a clustering: candidate
pairs from different sessions, in one cluster, above the threshold (pipeline's
_motion_pairs). A start that aligns the sessions better makes more recordings of one
neuron look alike, so more such pairs, and separates the matched and unmatched similarity
distributions better (d' = difference of their means over the pooled standard
deviation). A start replaces the default (the manual motion when given, else zero) only
when both agree: more motion pairs AND a d' at least as high. One piece of evidence alone
is not enough: more but weaker matches (lower d') is what a start that merges neighbours
gives, and a higher d' from fewer matches is what a start that loses the hard ones gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .clustering import ClusteringRun, same_cluster
from .motion import Motion
from .registration import register_sessions


@dataclass(frozen=True)
class StartEvidence:
    """What one candidate start's evidence pass found.

    name: "zero", "registration" or "manual"; span_um: the spread of its per-session
    offsets (µm); n_motion_pairs: motion pairs of the pass; separation: d' of the matched
    against the unmatched candidate pairs' weighted similarity (0 when undefined).
    """

    name: str
    span_um: float
    n_motion_pairs: int
    separation: float

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "span_um": round(self.span_um, 3),
            "n_motion_pairs": self.n_motion_pairs,
            "separation": round(self.separation, 4),
        }


def separation(similarity: np.ndarray, matched: np.ndarray) -> float:
    """d' of two classes of a score: (mean True - mean False) / pooled std (1/n); 0 when a
    class is empty or there is no spread."""
    similarity = np.asarray(similarity, dtype=np.float64)
    matched = np.asarray(matched, dtype=bool)
    if matched.all() or not matched.any():
        return 0.0
    m1, m0 = similarity[matched].mean(), similarity[~matched].mean()
    var = (
        ((similarity[matched] - m1) ** 2).sum() + ((similarity[~matched] - m0) ** 2).sum()
    ) / similarity.size
    return float((m1 - m0) / np.sqrt(var)) if var > 0 else 0.0


def start_evidence(name: str, motion: Motion, run: ClusteringRun, sessions) -> StartEvidence:
    """The evidence of one pass `run` made from the start `motion` (sessions: (n,) of the
    units the run clustered)."""
    pairs = run.pairs[run.candidate]
    similarity = run.similarity[run.candidate]
    matched = same_cluster(run.labels, pairs)
    cross = sessions[pairs[:, 0]] != sessions[pairs[:, 1]]
    n_motion = int(np.sum(matched & cross & (similarity > run.threshold)))
    return StartEvidence(
        name, float(np.ptp(motion.constant)), n_motion, separation(similarity, matched)
    )


def choose(evidence: list[StartEvidence], default: str) -> tuple[int, str]:
    """Index of the winning start among `evidence` and a sentence saying why."""
    names = [e.name for e in evidence]
    d = names.index(default)
    base = evidence[d]
    better = [
        i
        for i, e in enumerate(evidence)
        if i != d and e.n_motion_pairs > base.n_motion_pairs and e.separation >= base.separation
    ]
    summary = "; ".join(
        f"{e.name}: {e.n_motion_pairs} motion pairs, d' {e.separation:.2f}" for e in evidence
    )
    if not better:
        return (
            d,
            f"{default} start kept (no other start gives more motion pairs with at "
            f"least its separation; {summary})",
        )
    win = max(better, key=lambda i: (evidence[i].n_motion_pairs, evidence[i].separation))
    return win, (
        f"{evidence[win].name} start chosen: more motion pairs and at least the separation of "
        f"the {default} start ({summary})"
    )


def choose_motion_start(
    candidates: list[tuple[str, Motion]],
    default: str,
    evaluate: Callable[[Motion], ClusteringRun],
    sessions: np.ndarray,
) -> tuple[int, list[StartEvidence], str]:
    """Run `evaluate` (one clustering pass from a start) for each (name, motion) candidate;
    return the winner's index, every candidate's evidence and the reason."""
    evidence = [start_evidence(n, m, evaluate(m), sessions) for n, m in candidates]
    win, reason = choose(evidence, default)
    return win, evidence, reason


def evidence_start(units, manual, feature_sets, corrected_with, cluster_pass, log):
    """The start of one shank's motion loop chosen by evidence: (motion, record).

    units: (locations (n, 3) µm, amplitude (n,) µV, sessions (n,) 1-based, n_session);
    manual: the manual motion or None; feature_sets: (motionEstimation feature sets,
    clustering.features) — the evidence pass uses the first motion set that compares
    waveforms, else the final one; corrected_with(motion): the waveforms corrected with
    a start; cluster_pass(names, corrected, motion): one clustering run; log(str).
    record: the winner, the reason and every candidate's evidence (saved with the result).
    """
    locations, amplitude, sessions, n_session = units
    candidates = [("manual", manual.copy())] if manual is not None else []
    candidates.append(("zero", Motion.zero(n_session)))
    registered = register_sessions(locations, amplitude, sessions, n_session)
    if np.ptp(registered.constant) > 0:
        candidates.append(("registration", registered))
    default = candidates[0][0]
    if len(candidates) == 1:
        log("Motion start: zero (registration finds no drift)")
        return candidates[0][1], {"chosen": default, "reason": "the only candidate"}
    motion_sets, final_names = feature_sets
    sets = [tuple(f) for f in motion_sets]
    names = next((f for f in sets if "Waveform" in f), tuple(final_names))

    def evaluate(motion: Motion) -> ClusteringRun:
        return cluster_pass(names, corrected_with(motion), motion)

    win, evidence, reason = choose_motion_start(candidates, default, evaluate, sessions)
    log(f"Motion start: {reason}")
    record = {
        "chosen": candidates[win][0],
        "reason": reason,
        "feature_set": list(names),
        "candidates": [e.to_dict() for e in evidence],
    }
    return candidates[win][1], record


def start_record_evidence(record: dict | None) -> tuple[tuple[str, ...], StartEvidence] | None:
    """(feature set, evidence) of the chosen start in an evidence record, or None when no
    evidence pass was made (a single candidate, or a start not chosen by evidence)."""
    if not record or "candidates" not in record:
        return None
    chosen = next(c for c in record["candidates"] if c["name"] == record["chosen"])
    return tuple(record["feature_set"]), StartEvidence(**chosen)


def start_explains_better(pass_evidence: StartEvidence, start: StartEvidence) -> str | None:
    """Why the motion loop should go back to its start, or None to keep the pass's motion.

    The loop's first passes may compare features that do not depend on position (AutoCorr,
    ISI, PETH). Where those carry no identity (spike trains that all look alike), their
    matches are chance and the motion estimated from them is noise, which the next,
    waveform, pass then follows. The evidence pass already judged the start with the same
    features as that waveform pass, so the two are comparable. The start wins when it
    explains the data clearly better: more motion pairs by more than a count's own noise
    (√n, n the start's motion pairs) AND at least the separation d′. A pass that only
    refined the start (a few pairs more or less) keeps its motion."""
    margin = np.sqrt(max(start.n_motion_pairs, 0))
    if not (
        start.n_motion_pairs > pass_evidence.n_motion_pairs + margin
        and start.separation >= pass_evidence.separation
    ):
        return None
    return (
        f"the motion of the passes before explains the waveforms worse than the "
        f"{start.name} start ({pass_evidence.n_motion_pairs} motion pairs, d' "
        f"{pass_evidence.separation:.2f}, against {start.n_motion_pairs}, d' "
        f"{start.separation:.2f}); the loop goes back to the start"
    )
