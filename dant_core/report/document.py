"""The report as numbers (report.json) and as a self-contained page (report.html).

`build_report` computes every number; `figures` draws them as SVG (the same SVG the GUI's
Report tab shows); `report_html` puts both on one page that needs nothing else.
"""

from __future__ import annotations

import json
import time
from html import escape

import numpy as np

from . import stats
from .figure import PALETTE, Figure

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"

ASSUMPTIONS = (
    "Two units of one session are different neurons (the sorter separated them); their "
    "similarity, at the same depth distance and amplitude, is what different neurons look "
    "like across sessions too (after motion correction).",
    "Among the candidate pairs (within clustering.max_distance after motion correction), the "
    "share of different neurons is estimated from the pairs below the threshold (Storey).",
    "Each link of a track's spanning tree is wrong with the local false discovery rate of its "
    "similarity bin in its stratum; links are independent; a pair of units in a track is "
    "wrong when a link between them is.",
    "The interval resamples the pair counts (bootstrap); it does not cover a null that "
    "differs from cross-session pairs of different neurons.",
)


def build_report(
    result, labels: np.ndarray | None = None, units_table=None, unitmatch: dict | None = None
) -> dict:
    """Every number of the report (JSON-ready). labels: default the result's IdxCluster."""
    from ..tracks import track_confidence

    labels = np.asarray(result.idx_cluster if labels is None else labels, dtype=np.int64)
    sessions = np.asarray(result.sessions)
    confidence = track_confidence(result, labels)
    groups = stats.pair_groups(result, labels)
    links = stats.track_links(result, labels)
    fp = stats.false_positive_estimate(groups, links)
    surv = stats.survival(labels, sessions, result.n_sessions)
    report = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "data_folder": result.data_folder,
        "run": {
            "units": int(result.n_units),
            "sessions": int(result.n_sessions),
            "tracks": surv["tracks"],
            "units_tracked": int((labels > 0).sum()),
            "neurons_tracked_over_2_sessions": surv["tracked_over_2"],
            "neurons_tracked_over_half_of_sessions": surv["tracked_over_half"],
            "neurons_tracked_over_all_sessions": surv["tracked_over_all"],
            "features_used": list(result.feature_names),
            "thresholds": [float(t) for t in np.atleast_1d(result.thresholds)],
        },
        "survival": surv,
        "drift": stats.drift(result),
        "estimated_false_positive_rate": fp["estimated_false_positive_rate"],
        "estimated_false_positive_rate_interval_95": fp["interval_95"],
        "false_positive_estimate": {**fp, "assumptions": list(ASSUMPTIONS)},
        "similarity_groups": _similarity_groups(groups),
        "held_out_validation": stats.held_out_validation(result, groups),
        "least_certain_tracks": stats.least_certain_tracks(result, labels, confidence),
        "example_tracks": stats.example_tracks(result, labels, confidence),
    }
    if unitmatch is not None:
        report["unitmatch"] = unitmatch
    return report


def _similarity_groups(groups: stats.PairGroups) -> dict:
    """Histograms of similarity minus the threshold for the three pair groups."""
    edges = np.linspace(*_range(groups.relative), 41)
    out = {"edges": edges.tolist()}
    for kind, name in ((2, "matched"), (1, "unmatched_nearby"), (0, "same_session")):
        values = groups.relative[groups.kind == kind]
        out[name] = {
            "n": int(values.size),
            "counts": np.histogram(np.clip(values, edges[0], edges[-1]), edges)[0].tolist(),
            "fraction_above_threshold": float((values >= 0).mean()) if values.size else 0.0,
        }
    return out


def _range(values: np.ndarray) -> tuple[float, float]:
    if values.size == 0:
        return -1.0, 1.0
    lo, hi = np.quantile(values, [0.001, 1.0])
    return float(min(lo, -0.5)), float(max(hi, 0.5))


def figures(report: dict) -> dict[str, str]:
    """name -> SVG text of every figure in the report."""
    out = {}
    s = report["survival"]
    out["survival"] = (
        Figure("Neurons seen in at least k sessions", "k (sessions)", "neurons")
        .line(s["k"], s["neurons_seen_in_at_least_k"], color=PALETTE[0])
        .svg()
    )
    fig = Figure("Drift (motion at the mean unit depth)", "session", "motion (µm)")
    for k, d in enumerate(report["drift"]):
        x = np.arange(1, len(d["motion_um"]) + 1)
        c = PALETTE[k % len(PALETTE)]
        if "ci_low_um" in d:
            fig.band(x, d["ci_low_um"], d["ci_high_um"], color=c)
        fig.line(x, d["motion_um"], label=f"shank {d['shank']}", color=c)
    out["drift"] = fig.svg()
    g = report["similarity_groups"]
    fig = Figure("Similarity of pair groups", "similarity − threshold", "fraction of pairs")
    for name, label, c in (
        ("matched", "matched", PALETTE[2]),
        ("unmatched_nearby", "unmatched nearby", PALETTE[1]),
        ("same_session", "same session (different)", PALETTE[3]),
    ):
        counts = np.asarray(g[name]["counts"], float)
        fig.step(g["edges"], counts / max(counts.sum(), 1), label=label, color=c)
    fig.vline(0.0, "threshold")
    out["similarity"] = fig.svg()
    for k, ex in enumerate(report["example_tracks"]):
        fig = Figure(
            f"Track {ex['track']}: waveform on the peak channel",
            "sample",
            "µV",
            width=340,
            height=240,
        )
        for w, session in zip(ex["waveforms"], ex["sessions"], strict=True):
            fig.line(np.arange(len(w)), w, color=PALETTE[(session - 1) % len(PALETTE)])
        out[f"example_{k}"] = fig.svg()
    return out


def run_rows(report: dict) -> list[tuple[str, object]]:
    """The run in numbers, as (label, value) rows: the same in report.html and the GUI."""
    run = report["run"]
    return [
        ("Units", run["units"]),
        ("Sessions", run["sessions"]),
        ("Tracks", run["tracks"]),
        ("Units in tracks", run["units_tracked"]),
        ("Neurons tracked over ≥ 2 sessions", run["neurons_tracked_over_2_sessions"]),
        ("… over ≥ half of the sessions", run["neurons_tracked_over_half_of_sessions"]),
        ("… over all sessions", run["neurons_tracked_over_all_sessions"]),
    ]


def report_html(report: dict, svgs: dict[str, str]) -> str:
    """One self-contained HTML page: the numbers, the figures inline, the assumptions."""
    fp = report["false_positive_estimate"]
    low, high = report["estimated_false_positive_rate_interval_95"]
    rows = [
        *run_rows(report),
        (
            "Estimated false-positive rate of matched pairs",
            f"{100 * report['estimated_false_positive_rate']:.1f}% "
            f"(95% interval {100 * low:.1f}–{100 * high:.1f}%; "
            f"{fp['expected_wrong_pairs']:.1f} of {fp['matched_pairs']} pairs)",
        ),
    ]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>DANT tracking report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:20px auto;color:#222}"
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;"
        "text-align:left}h2{margin-top:28px}.figs svg{margin:4px}</style></head><body>",
        "<h1>DANT tracking report</h1>",
        f"<p>{escape(report['data_folder'])} — {escape(report['created'])}</p>",
        "<h2>The run in numbers</h2>",
        _table(rows),
        "<div class='figs'>",
        svgs["survival"],
        svgs["drift"],
        "</div>",
        "<h2>How many matches are wrong?</h2>",
        "<div class='figs'>",
        svgs["similarity"],
        "</div>",
        "<p>Assumptions of the estimate:</p><ul>",
        *[f"<li>{escape(a)}</li>" for a in ASSUMPTIONS],
        "</ul>",
        "<h2>Functional validation with held-out features</h2>",
        _table(
            [
                (
                    v["feature"]
                    + (
                        " (used for matching: circular)"
                        if v["used_for_matching"]
                        else " (held out)"
                    ),
                    f"AUC {v['auc']:.3f} ({v['matched_pairs']} matched vs "
                    f"{v['unmatched_pairs']} unmatched nearby pairs)",
                )
                for v in report["held_out_validation"]
            ]
        ),
        "<h2>Example tracks across days</h2><div class='figs'>",
        *[svgs[k] for k in sorted(svgs) if k.startswith("example_")],
        "</div>",
        "<h2>Least certain tracks</h2>",
        _table(
            [("track", "confidence", "sessions", "units")]
            + [
                (
                    t["track"],
                    f"{t['confidence']:.2f}",
                    ", ".join(map(str, t["sessions"])),
                    ", ".join(map(str, t["units"])),
                )
                for t in report["least_certain_tracks"]
            ]
        ),
    ]
    if "unitmatch" in report:
        um = report["unitmatch"]
        parts += [
            "<h2>Agreement with UnitMatch</h2>",
            _table(
                [
                    ("Units compared", um["units_compared"]),
                    ("Pair precision (DANT pairs also in UnitMatch)", f"{um['precision']:.3f}"),
                    ("Pair recall (UnitMatch pairs also in DANT)", f"{um['recall']:.3f}"),
                    ("Adjusted Rand index", f"{um['adjusted_rand_index']:.3f}"),
                    ("Tracks that disagree", um["n_disagreeing_tracks"]),
                ]
            ),
        ]
    parts.append("</body></html>")
    return "\n".join(str(p) for p in parts)


def _table(rows) -> str:
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table>{body}</table>"


def report_files(report: dict) -> dict[str, bytes]:
    """report.json and report.html as bytes, ready to be written atomically."""
    svgs = figures(report)
    return {
        REPORT_JSON: (json.dumps(report, indent=1, default=_json_default) + "\n").encode(),
        REPORT_HTML: report_html(report, svgs).encode("utf-8"),
    }


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)
