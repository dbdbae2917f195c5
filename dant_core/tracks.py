"""`tracks.tsv`: one row per unit, "session, sorter cluster id -> track", beside IdxCluster.npy.

Columns (tab-separated, one header line, rows in waveform_all.npy order):
  unit          0-based row in waveform_all.npy
  session       1-based session (session_index.npy)
  session_name  from the data folder's units.tsv, else "session<k>"
  cluster_id    the sorter's cluster id from units.tsv, else empty
  track         the cluster of IdxCluster.npy (1..K), -1 unmatched
  n_sessions    how many sessions the track spans (1 for an unmatched unit)
  confidence    the track's weakest link: its lowest margin above the match threshold,
                read at the pair's amplitude when the curation was amplitude-aware
                (similarity units, 2 decimals; empty for unmatched units)
  source        the sorter folder of the session (from units.tsv), when known

The write-back into sorter folders lives in `dant_core/write_back.py`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .errors import DantError

TRACKS_FILE = "tracks.tsv"
UNITS_FILE = "units.tsv"
TRACK_COLUMNS = (
    "unit",
    "session",
    "session_name",
    "cluster_id",
    "track",
    "n_sessions",
    "confidence",
    "source",
)
_UNITS_REQUIRED = ("unit", "session", "cluster_id")


def read_units_table(data_folder, n_units: int, sessions: np.ndarray | None = None):
    """The data folder's units.tsv as a list of row dicts (strings), or None when absent.

    DantError naming the file when a required column is missing, the rows are not one per
    unit in order, or the sessions disagree with session_index.npy.
    """
    path = Path(data_folder) / UNITS_FILE
    if not path.is_file():
        return None
    rows = read_tsv(path)
    if rows:
        missing = [c for c in _UNITS_REQUIRED if c not in rows[0]]
        if missing:
            raise DantError(f"{path}: missing column(s) {', '.join(missing)}")
    if len(rows) != n_units:
        raise DantError(
            f"{path}: has {len(rows)} rows but the data folder has {n_units} units; "
            "re-run the import that wrote it"
        )
    for k, row in enumerate(rows):
        if row["unit"].strip() != str(k):
            raise DantError(f"{path}: row {k + 1} is unit {row['unit']!r}, expected {k}")
        if sessions is not None and row["session"].strip() != str(int(sessions[k])):
            raise DantError(
                f"{path}: unit {k} is in session {row['session']!r} but session_index.npy "
                f"says {int(sessions[k])}"
            )
    return rows


def read_tsv(path) -> list[dict[str, str]]:
    """Rows of a tab-separated file with a header line, as dicts of strings."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f, delimiter="\t"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DantError(f"{path}: cannot be read ({exc})") from exc


def track_confidence(result, labels: np.ndarray) -> dict[int, float]:
    """Confidence of every track (cluster id > 0 -> float): how far the track's weakest link
    lies above the match threshold (at the link's amplitude when the run's curation was
    amplitude-aware), in similarity units (negative: a link below it).

    The one place that defines confidence, so every table, report and list agrees:
    review.cluster_margin, the margin the review queue sorts by. A track of one unit has no
    link: inf.
    """
    from .review import cluster_margin

    labels = np.asarray(labels)
    pos = np.flatnonzero(labels > 0)
    out: dict[int, float] = {}
    if pos.size == 0:
        return out
    order = pos[np.argsort(labels[pos], kind="stable")]
    ids, starts = np.unique(labels[order], return_index=True)
    for cid, units in zip(ids.tolist(), np.split(order, starts[1:]), strict=True):
        out[int(cid)] = cluster_margin(result, units) if units.size >= 2 else float("inf")
    return out


def track_session_counts(labels: np.ndarray, sessions: np.ndarray) -> dict[int, int]:
    """Track id -> number of distinct sessions it spans."""
    labels = np.asarray(labels)
    pos = labels > 0
    pairs = np.unique(np.column_stack((labels[pos], np.asarray(sessions)[pos])), axis=0)
    ids, counts = np.unique(pairs[:, 0], return_counts=True) if pairs.size else ([], [])
    return {int(i): int(c) for i, c in zip(ids, counts, strict=True)}


def tracks_rows(result, labels: np.ndarray, units_table=None, confidence=None) -> list[dict]:
    """One dict per unit with TRACK_COLUMNS (strings), for `labels` (n_unit,) 1..K / -1."""
    labels = np.asarray(labels, dtype=np.int64)
    sessions = np.asarray(result.sessions, dtype=np.int64)
    confidence = track_confidence(result, labels) if confidence is None else confidence
    spans = track_session_counts(labels, sessions)
    rows = []
    for u in range(labels.size):
        t = int(labels[u])
        given = units_table[u] if units_table is not None else {}
        conf = confidence.get(t) if t > 0 else None
        rows.append(
            {
                "unit": str(u),
                "session": str(int(sessions[u])),
                "session_name": (given.get("session_name") or "").strip()
                or f"session{int(sessions[u])}",
                "cluster_id": (given.get("cluster_id") or "").strip(),
                "track": str(t if t > 0 else -1),
                "n_sessions": str(spans.get(t, 1) if t > 0 else 1),
                "confidence": "" if conf is None or not np.isfinite(conf) else f"{conf:.2f}",
                "source": (given.get("source") or "").strip(),
            }
        )
    return rows


def tsv_bytes(rows: list[dict], columns=TRACK_COLUMNS) -> bytes:
    """Tab-separated text with a header line, '\\n' line ends, UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buffer.getvalue().encode("utf-8")


def tracks_file_bytes(result, labels: np.ndarray | None = None) -> bytes:
    """The content of tracks.tsv for `labels` (default: the result's IdxCluster)."""
    labels = result.idx_cluster if labels is None else labels
    table = None
    if result.data_folder:
        table = read_units_table(result.data_folder, result.n_units, result.sessions)
    return tsv_bytes(tracks_rows(result, labels, table))
