"""`dant export`: apply a curation log to a tracking result and write the curated clusters.

Writes IdxCluster.npy (1..K, -1 unmatched), MatchedPairs.npy, tracks.tsv (the curated
table, dant_core/tracks.py), pyDANT's cluster figures in Figures/ (report/pydant_figures.py),
the curated Shank<ID>/ cluster files of multi-shank runs (pydant_shanks.py) and, up to
DENSE_OUTPUT_MAX_UNITS units, ClusterMatrix.npy, each atomically; keeps the automatic
clusters in IdxCluster_auto.npy (written once) and a record in curation_summary.json.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import numpy as np

from .atomic_file import write_files_atomically
from .curation import HISTORY_ACTIONS, CurationState, renumber_by_first_unit
from .curation_log import (
    AUTO_LABELS_FILE,
    LABELS_FILE,
    LOG_FILE,
    auto_labels,
    now_iso,
    replay_log,
    result_similarity,
)
from .errors import DantError
from .log_lock import lock_folder

SUMMARY_FILE = "curation_summary.json"


def export_curated(output_folder, curation_log=None, result=None, lock: bool = True) -> str:
    """Replay the curation log on the automatic clusters and write the curated output files.

    curation_log: the log to apply (default OUTPUT/curation.jsonl; a missing default log
    means no actions). lock: take the folder's curation lock while exporting (False only
    for the holder of it). Returns a short summary text.
    """
    folder = Path(output_folder)
    # A run killed between the two renames of its save leaves the results moved aside
    # (hidden beside the folder): put them back, as the GUI does when it opens the data.
    from .output_folder import finish_interrupted_saves

    finish_interrupted_saves(folder)
    if not folder.is_dir():
        raise DantError(f"output folder {folder} does not exist")
    if not lock or not (folder / LABELS_FILE).is_file():
        # lock False: the caller (a window's Curator) holds the folder's curation lock; no
        # IdxCluster.npy: not an output folder (_export says so), so no lock file in it
        return _export(folder, curation_log, result)
    # One writer at a time: a window curating this folder would go on logging actions
    # the export does not see (log_lock.FolderInUse names it).
    with lock_folder(folder, "dant export"):
        return _export(folder, curation_log, result)


def _export(folder: Path, curation_log, result) -> str:
    if curation_log is not None:
        log_path = Path(curation_log)
        if not log_path.is_file():
            raise DantError(f"curation log {log_path} does not exist")
    else:
        log_path = folder / LOG_FILE
    if result is None:
        from .results import load_result

        result = load_result(folder)
    auto = auto_labels(folder, result)
    state = CurationState(auto, result.sessions, result_similarity(result))
    applied, warnings = replay_log(state, log_path, strict=True)
    kinds = Counter(a["action"] for a in applied)
    labels = state.export_labels()

    from .pydant_output import DENSE_OUTPUT_MAX_UNITS, cluster_matrix, matched_pairs

    if not (folder / AUTO_LABELS_FILE).is_file():
        # before IdxCluster.npy is replaced: from now on it may hold a curated export
        write_files_atomically(folder, {AUTO_LABELS_FILE: _npy_bytes(auto)})
    files = {LABELS_FILE: _npy_bytes(labels), "MatchedPairs.npy": _npy_bytes(matched_pairs(labels))}
    if labels.size <= DENSE_OUTPUT_MAX_UNITS:
        files["ClusterMatrix.npy"] = _npy_bytes(cluster_matrix(labels))
    from .tracks import TRACKS_FILE, tracks_file_bytes

    files[TRACKS_FILE] = tracks_file_bytes(result, labels)
    from .pydant_extras import curated_output_bytes

    files["Output.npz"] = curated_output_bytes(result, folder, labels)

    before = renumber_by_first_unit(auto)
    summary = {
        "curation_log": str(log_path.resolve()),
        "log_lines_applied": len(applied),
        "actions_applied": sum(n for k, n in kinds.items() if k not in HISTORY_ACTIONS),
        "undo": kinds["undo"],
        "redo": kinds["redo"],
        "actions_in_effect": len(state.history),
        "actions_by_kind": dict(Counter(a["action"] for a in state.history)),
        "clusters_before": int(before.max(initial=0)),
        "clusters_after": int(labels.max(initial=0)),
        "units_tracked_before": int((before > 0).sum()),
        "units_tracked_after": int((labels > 0).sum()),
        "labelled_clusters": _exported_cluster_labels(state, labels),
        "warnings": warnings,
        "time": now_iso(),
    }
    files[SUMMARY_FILE] = (json.dumps(summary, indent=2) + "\n").encode("utf-8")
    from .pydant_shanks import curated_shank_files
    from .report.pydant_figures import CLUSTER_FIGURES, figure_files, write_figure_files

    figures = figure_files(result, labels, CLUSTER_FIGURES)  # of the curated clusters
    figures.update(curated_shank_files(result, folder, labels))  # multi-shank: Shank<ID>/
    write_files_atomically(folder, files)
    write_figure_files(folder, figures)

    text = (
        f"Exported {folder}: {summary['actions_in_effect']} curation actions in effect "
        f"({len(applied)} log lines applied from {log_path if applied else 'no log'}); "
        f"clusters {summary['clusters_before']} -> {summary['clusters_after']}, units tracked "
        f"{summary['units_tracked_before']} -> {summary['units_tracked_after']}. "
        f"Automatic clusters kept in {AUTO_LABELS_FILE}."
    )
    return "\n".join([text] + [f"warning: {w}" for w in warnings])


def _exported_cluster_labels(state: CurationState, labels: np.ndarray) -> dict[str, list[int]]:
    """label -> exported cluster numbers (1..K) carrying it."""
    out: dict[str, list[int]] = {}
    for cid, label in state.cluster_labels.items():
        units = state.members(cid)
        if units.size and labels[units[0]] > 0:
            out.setdefault(label, []).append(int(labels[units[0]]))
    return {k: sorted(v) for k, v in sorted(out.items())}


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()
