"""The one owner of GUI state: dataset, settings, result, selection, curation and the job.

Views call the intents (`select_cluster`, `select_units`, `select_pair`, `open_folder`,
`start_run`, `reject_units`, `merge_clusters`, `undo`, ...) and redraw from the signals;
they never talk to each other. Curation itself (the actions, undo/redo, the log) is
`dant_core.curation.Curator`; the controller only chooses what the actions apply to and
what is selected afterwards.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QObject, QSettings, pyqtSignal

from dant_core.curation import (
    LABELS_FILE,
    LOG_FILE,
    REVIEWED_LABELS,
    CurationError,
    Curator,
    UpdateInfo,
    renumber_by_first_unit,
    review_order,
    reviewed_count,
)
from dant_core.dataset import Dataset, load_dataset
from dant_core.errors import DantError, DatasetError, SettingsError
from dant_core.export import export_curated
from dant_core.settings import Settings

RESULTS_SUBFOLDER = "DANT_Output"
MAX_RECENT = 10


def _empty_units() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


class SelectionNeeded(Exception):
    """A curation intent was asked for without the selection it acts on; says what to select."""


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the curation history: `done` False for an undone action redo can restore."""

    text: str
    time: str  # "HH:MM:SS" or ""
    done: bool
    action: dict


@dataclass(frozen=True)
class _SelectionMemory:
    """The selection before an edit, to choose a sensible one after it."""

    cluster: int | None
    clusters: tuple[int, ...]
    members: np.ndarray  # units of the selected cluster(s) before the edit
    units: np.ndarray
    chosen: bool
    pair: tuple[int, int] | None
    order: np.ndarray  # cluster ids in the table's order before the edit


class Controller(QObject):
    """State of one window. Signals carry no payload: read the state from the controller."""

    dataset_changed = pyqtSignal()  # a data folder was loaded
    result_changed = pyqtSignal()  # a new TrackingResult (run finished or loaded), or None
    clusters_changed = pyqtSignal()  # cluster assignment or cluster labels changed (curation)
    curation_changed = pyqtSignal()  # curation history, undo/redo or export state changed
    selection_changed = pyqtSignal()  # selected cluster(s) / units / pair changed
    settings_changed = pyqtSignal()  # the settings object was replaced (loaded, reset)
    problems_changed = pyqtSignal()  # the settings form found / cleared problems

    # run lifecycle (relayed from the job on the UI thread)
    run_started = pyqtSignal()
    run_progress = pyqtSignal(str, int, int)  # stage, done, total (throttled)
    run_log = pyqtSignal(str)  # one log line; also used for load messages
    run_finished = pyqtSignal()  # after result_changed
    run_failed = pyqtSignal(str, str)  # message, traceback text
    run_cancelled = pyqtSignal()
    busy_changed = pyqtSignal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.result = None  # dant_core.tracking_result.TrackingResult | None
        self.settings: Settings = Settings.defaults()
        self.settings_path: Path | None = None  # the settings file the values came from
        self.data_folder: Path | None = None
        self.output_folder: Path | None = None
        self.selected_cluster: int | None = None
        self.selected_clusters: tuple[int, ...] = ()  # all selected clusters (table rows)
        self.selected_units: np.ndarray = _empty_units()
        self.selected_pair: tuple[int, int] | None = None
        self.form_problems: list[str] = []  # values the settings form could not accept
        self.curator: Curator | None = None  # curation of the result, when it has a folder
        self._exported_labels: np.ndarray | None = None  # IdxCluster.npy on disk, renumbered
        self._units_chosen = False  # selected_units were picked one by one (not a cluster)
        self._navigation_order = None  # cluster ids as the table lists them (or a function)
        self._review_cache: dict[int, float] = {}  # cluster id -> margin (ids never reused)
        self._undo_groups: list[int] = []  # actions per user gesture, newest last
        self._redo_groups: list[int] = []
        self._redo_texts: list[str] = []  # descriptions of the undone actions, next first
        self._job = None  # dant_gui.jobs.TrackingJob while running

    # ----- cluster labels ------------------------------------------------------------

    @property
    def idx_cluster(self) -> np.ndarray | None:
        """Current cluster of every unit (n_unit,) int64, > 0 or -1; None without a result.

        With curation these are the curated clusters (a live read-only view): ids are not
        renumbered and never reused, so they may have gaps.
        """
        if self.curator is not None:
            return self.curator.state.labels
        return None if self.result is None else self.result.idx_cluster

    def cluster_label(self, cluster: int) -> str:
        """The curation label of a cluster ("good", "reviewed", ...) or ""."""
        if self.curator is None or cluster is None:
            return ""
        return self.curator.state.cluster_labels.get(int(cluster), "")

    def cluster_ids(self) -> np.ndarray:
        """Sorted cluster ids > 0 present in the current labels (int64)."""
        labels = self.idx_cluster
        if labels is None:
            return _empty_units()
        return np.unique(labels[labels > 0]).astype(np.int64)

    def units_of(self, cluster: int) -> np.ndarray:
        """Units (int64, ascending) of one cluster; empty when absent."""
        labels = self.idx_cluster
        if labels is None or cluster is None:
            return _empty_units()
        return np.flatnonzero(labels == int(cluster)).astype(np.int64)

    def cluster_of(self, unit: int) -> int | None:
        labels = self.idx_cluster
        if labels is None or not 0 <= int(unit) < labels.size:
            return None
        k = int(labels[int(unit)])
        return k if k > 0 else None

    # ----- selection intents ------------------------------------------------------------

    @property
    def chosen_units(self) -> np.ndarray:
        """Units the user picked one by one (detail table, matrix, plots); empty when the
        selection is a whole cluster picked from the table. What reject / split act on."""
        return self.selected_units if self._units_chosen else _empty_units()

    def select_cluster(self, cluster: int | None) -> None:
        """Select one cluster (None clears); selected_units become its units."""
        cluster = None if cluster is None else int(cluster)
        units = self.units_of(cluster) if cluster is not None else _empty_units()
        if cluster is not None and units.size == 0:
            cluster, units = None, _empty_units()
        clusters = () if cluster is None else (cluster,)
        if (
            cluster == self.selected_cluster
            and clusters == self.selected_clusters
            and self.selected_pair is None
            and not self._units_chosen
            and np.array_equal(units, self.selected_units)
        ):
            return
        self._set_selection(cluster, clusters, units, None, chosen=False)

    def select_clusters(self, clusters) -> None:
        """Select several clusters (table rows, e.g. to merge them); one behaves as
        select_cluster. selected_units are all their units and selected_cluster None."""
        ids = []
        for k in clusters:
            k = int(k)
            if k not in ids and self.units_of(k).size:
                ids.append(k)
        if len(ids) < 2:
            self.select_cluster(ids[0] if ids else None)
            return
        units = np.unique(np.concatenate([self.units_of(k) for k in ids]))
        if tuple(ids) == self.selected_clusters and self.selected_cluster is None:
            return
        self._set_selection(None, tuple(ids), units, None, chosen=False)

    def select_units(self, units) -> None:
        """Select units; selected_cluster becomes their common cluster when they share one."""
        units = np.unique(np.asarray(units, dtype=np.int64).ravel())
        cluster = None
        labels = self.idx_cluster
        if labels is not None and units.size:
            units = units[(units >= 0) & (units < labels.size)]
            ks = np.unique(labels[units]) if units.size else np.zeros(0)
            if ks.size == 1 and ks[0] > 0:
                cluster = int(ks[0])
        chosen = bool(units.size)
        if (
            cluster == self.selected_cluster
            and self.selected_pair is None
            and chosen == self._units_chosen
            and np.array_equal(units, self.selected_units)
        ):
            return
        self._set_selection(cluster, () if cluster is None else (cluster,), units, None, chosen)

    def select_pair(self, a: int, b: int) -> None:
        """Select a unit pair; selects the cluster of a (else of b) if any; units = (a, b)."""
        pair = (int(a), int(b))
        if pair == self.selected_pair:
            return
        cluster = self.cluster_of(pair[0])
        if cluster is None:
            cluster = self.cluster_of(pair[1])
        units = np.unique(np.array(pair, dtype=np.int64))
        self._set_selection(cluster, () if cluster is None else (cluster,), units, pair, True)

    def clear_selection(self) -> None:
        if (
            self.selected_cluster is None
            and not self.selected_clusters
            and self.selected_pair is None
            and not self.selected_units.size
        ):
            return
        self._set_selection(None, (), _empty_units(), None, chosen=False)

    def _set_selection(self, cluster, clusters, units, pair, chosen: bool, emit=True) -> None:
        self.selected_cluster = cluster
        self.selected_clusters = tuple(clusters)
        self.selected_units = units
        self.selected_pair = pair
        self._units_chosen = chosen
        if emit:
            self.selection_changed.emit()

    # ----- moving through the clusters ---------------------------------------------------

    def set_navigation_order(self, order) -> None:
        """How the cluster table lists the clusters (sorted, filtered): an array of ids, or a
        function returning them (asked only when needed). Next / previous and "the next
        cluster" after an edit follow it."""
        self._navigation_order = order

    def navigation_order(self) -> np.ndarray:
        """Current cluster ids in table order (ascending id when the table has not said)."""
        present = self.cluster_ids()
        order = self._navigation_order
        if callable(order):
            order = order()
        if order is None:
            return present
        order = np.asarray(order, dtype=np.int64).ravel()
        return order[np.isin(order, present)]

    def select_next(self, step: int = 1) -> int | None:
        """Select the cluster `step` rows below (above, if negative) the selected one in
        table order; from no selection, the first (or last). Returns the cluster or None."""
        order = self.navigation_order()
        if order.size == 0:
            return None
        anchor = self.selected_cluster
        if anchor is None and self.selected_clusters:
            anchor = self.selected_clusters[0 if step > 0 else -1]
        hits = np.flatnonzero(order == anchor) if anchor is not None else np.zeros(0, int)
        if hits.size:
            i = int(np.clip(hits[0] + step, 0, order.size - 1))
        else:
            i = 0 if step > 0 else order.size - 1
        self.select_cluster(int(order[i]))
        return int(order[i])

    def select_previous(self) -> int | None:
        return self.select_next(-1)

    # ----- curation ------------------------------------------------------------------------

    @property
    def can_curate(self) -> bool:
        return self.curator is not None and not self.is_running

    def _require_curator(self) -> Curator:
        if self.curator is None:
            raise SelectionNeeded(
                "Nothing to curate yet: run tracking, or open a data folder that has results"
            )
        if self.is_running:
            raise SelectionNeeded("A run is in progress: curate when it has finished")
        return self.curator

    def _open_curator(self) -> None:
        """Curate the current result in its output folder: replay curation.jsonl (if any)."""
        self.curator = None
        self._review_cache = {}
        self._undo_groups, self._redo_groups, self._redo_texts = [], [], []
        self._exported_labels = None
        folder = self.output_folder
        if self.result is None or folder is None or not (folder / LABELS_FILE).is_file():
            return
        try:
            curator = Curator(folder, self.result)
        except (DantError, OSError) as exc:
            self.run_log.emit(f"warning: curation is not available for {folder}: {exc}")
            return
        self.curator = curator
        self._redo_texts = self._describe_redo_stack()
        self._exported_labels = self._labels_on_disk()
        state = curator.state
        if state.history or state.can_redo:
            self.run_log.emit(
                f"Curation: {len(state.history)} action(s) in effect, replayed from "
                f"{curator.log_path}"
            )
        for w in curator.warnings:
            self.run_log.emit(f"warning: {w}")

    def _describe_redo_stack(self) -> list[str]:
        """Descriptions of the undone actions (a log may end in undos), next first.

        Redoing and undoing on the in-memory state is exact (same ids, same members) and
        writes nothing to the log; it is the only public way to get those descriptions.
        """
        state = self.curator.state
        texts = []
        while state.can_redo:
            texts.append(state.redo().description.removeprefix("Redo: "))
        for _ in texts:
            state.undo()
        return texts

    def _labels_on_disk(self) -> np.ndarray | None:
        """The output folder's IdxCluster.npy renumbered like an export; None if unreadable."""
        try:
            labels = np.load(self.curator.output_folder / LABELS_FILE, allow_pickle=False)
        except Exception:  # noqa: BLE001 - missing or damaged: simply "not exported"
            return None
        return renumber_by_first_unit(labels)

    @property
    def exported(self) -> bool:
        """The output folder's IdxCluster.npy holds the clusters shown now."""
        if self.curator is None or self._exported_labels is None:
            return self.curator is None
        return np.array_equal(self._exported_labels, self.curator.state.export_labels())

    def history_entries(self) -> list[HistoryEntry]:
        """The curation history, oldest first: actions in effect, then undone ones."""
        if self.curator is None:
            return []
        state = self.curator.state
        done = [
            HistoryEntry(text, _clock(a), True, a)
            for a, text in zip(state.history, state.descriptions(), strict=True)
        ]
        undone = [
            HistoryEntry(text, _clock(a), False, a)
            for a, text in zip(state.redo_history, self._redo_texts, strict=False)
        ]
        return done + undone

    def can_undo(self) -> bool:
        return self.can_curate and self.curator.state.can_undo

    def can_redo(self) -> bool:
        return self.can_curate and self.curator.state.can_redo

    def review_queue(self) -> list[int]:
        """Current cluster ids to review, least certain first; reviewed ones last."""
        if self.curator is None:
            return []
        return review_order(self.curator.state, self.result, self._review_cache)

    def review_margins_missing(self) -> list[tuple[int, np.ndarray]]:
        """(cluster id, its units) of the clusters whose review margin is not known yet,
        for a worker to compute (`dant_core.curation.cluster_margin`)."""
        if self.curator is None:
            return []
        labels = self.idx_cluster
        pos = np.flatnonzero(labels > 0)
        order = pos[np.argsort(labels[pos], kind="stable")]
        ids, starts = np.unique(labels[order], return_index=True)
        groups = np.split(order, starts[1:])
        cache = self._review_cache
        return [(k, g) for k, g in zip(ids.tolist(), groups, strict=True) if k not in cache]

    def store_review_margins(self, margins: dict, curator) -> None:
        """Keep margins computed elsewhere for `curator`'s clusters (ids are never reused)."""
        if curator is self.curator:
            self._review_cache.update(margins)

    def review_margin(self, cluster: int) -> float | None:
        """Weakest link minus threshold of a cluster, once the review queue has worked it out."""
        return self._review_cache.get(int(cluster))

    def review_progress(self) -> tuple[int, int]:
        """(clusters labelled reviewed or good, current clusters)."""
        if self.curator is None:
            return 0, 0
        state = self.curator.state
        return reviewed_count(state), int(state.cluster_ids().size)

    # ----- what the curation keys do with the current selection ---------------------------

    SELECTION_ACTIONS = ("reject", "reject_pair", "split", "merge", "add")

    def describe_selected(self, name: str) -> str:
        """What `apply_to_selection(name)` would do now, or what to select first."""
        try:
            return self._plan(name)[2]
        except (SelectionNeeded, CurationError) as exc:
            return str(exc)

    def apply_to_selection(self, name: str) -> list[UpdateInfo]:
        """Run one of SELECTION_ACTIONS on the current selection:

        reject: the chosen units become unmatched; reject_pair: the selected pair's units
        are separated; split: the chosen units become a cluster of their own; merge: the
        two selected clusters (table) or the clusters of the selected pair become one;
        add: the unit of the selected pair outside the selected cluster joins it.
        """
        self._require_curator()
        intent, args, _ = self._plan(name)
        return intent(*args)

    def _plan(self, name: str):
        """(intent, args, description) for a selection action; SelectionNeeded if none."""
        units = self.chosen_units
        pair = self.selected_pair
        if name == "reject":
            if not units.size:
                raise SelectionNeeded(
                    "No units selected to reject: click them in the cluster detail table "
                    "(Ctrl+click for several) or pick a pair in the similarity matrix"
                )
            text = f"unit {units[0]}" if units.size == 1 else f"units {_list(units)}"
            return self.reject_units, (units,), f"Reject {text} (make unmatched)"
        if name == "reject_pair":
            if pair is None:
                raise SelectionNeeded(
                    "No pair selected: click a cell of the similarity matrix (two units of "
                    "one cluster) to separate them"
                )
            a, b = pair
            return self.reject_pair, (a, b), f"Separate units {a} and {b} (not one neuron)"
        if name == "split":
            if not units.size:
                raise SelectionNeeded(
                    "No units selected to split off: pick them in the cluster detail table"
                )
            cluster = self.cluster_of(int(units[0]))
            where = f" off cluster {cluster}" if cluster is not None else ""
            return self.split, (units,), f"Split units {_list(units)}{where} into a new cluster"
        if name == "merge":
            clusters = self.selected_clusters
            if len(clusters) == 2:
                a, b = clusters
                return self.merge_clusters, (a, b), f"Merge clusters {a} and {b}"
            if len(clusters) > 2:
                raise SelectionNeeded(
                    f"{len(clusters)} clusters selected: select exactly two to merge"
                )
            if pair is not None:
                a, b = pair
                ca, cb = self.cluster_of(a), self.cluster_of(b)
                if ca is None or ca != cb:
                    what = " and ".join(
                        f"cluster {c}" if c is not None else f"unit {u}"
                        for u, c in ((a, ca), (b, cb))
                    )
                    return self.merge_units, (a, b), f"Merge {what}"
            raise SelectionNeeded(
                "Nothing to merge: Ctrl+click two clusters in the cluster table, or pick a "
                "pair of units from two clusters in the similarity matrix"
            )
        if name == "add":
            if pair is None:
                raise SelectionNeeded(
                    "Nothing to add: pick a pair in the similarity matrix; the unit outside "
                    "the selected cluster joins it"
                )
            a, b = pair
            target = self.selected_cluster
            if target is None:
                return self.add_unit, (a, b), f"Put units {a} and {b} together in a new cluster"
            outside = [u for u in (a, b) if self.cluster_of(u) != target]
            if not outside:
                raise SelectionNeeded(f"Units {a} and {b} are both in cluster {target} already")
            inside = b if outside[0] == a else a
            mover = outside[0]
            return self.add_unit, (mover, inside), f"Add unit {mover} to cluster {target}"
        raise ValueError(f"unknown selection action {name!r}")

    def label_selected(self, label: str) -> list[UpdateInfo]:
        """Label the selected cluster."""
        self._require_curator()
        if self.selected_cluster is None:
            raise SelectionNeeded("Select one cluster to label it")
        return self.label_cluster(self.selected_cluster, label)

    # The edits. Each raises SelectionNeeded (nothing to act on), CurationError (refused:
    # the message names the units and sessions) or DantError (the log cannot be written);
    # then nothing has changed.

    def reject_units(self, units) -> list[UpdateInfo]:
        """Make each unit unmatched (one undo takes them all back)."""
        units = np.unique(np.asarray(units, dtype=np.int64).ravel())
        self._require_curator()
        if units.size == 0:
            raise SelectionNeeded(
                "No units selected: pick the units to reject in the cluster detail table "
                "(Ctrl+click for several) or a pair in the similarity matrix"
            )
        labels = np.array(self.idx_cluster)
        steps = []
        for u in units.tolist():
            c = labels[u]
            if c <= 0:
                continue
            steps.append(("reject_unit", {"unit": u}))
            labels[u] = -1
            rest = np.flatnonzero(labels == c)
            if rest.size == 1:  # a one-unit cluster is dissolved
                labels[rest] = -1
        if not steps:
            what = f"unit {units[0]} is" if units.size == 1 else f"units {_list(units)} are"
            raise CurationError(f"reject: {what} not in a cluster (already unmatched)")
        return self._edit(steps)

    def reject_pair(self, a: int, b: int) -> list[UpdateInfo]:
        """Units a and b are not one neuron: their cluster splits between them."""
        self._require_curator()
        return self._edit([("reject_pair", {"units": [int(a), int(b)]})])

    def split(self, units) -> list[UpdateInfo]:
        """The units (all of one cluster, not all of it) become a cluster of their own."""
        units = np.unique(np.asarray(units, dtype=np.int64).ravel())
        self._require_curator()
        if units.size == 0:
            raise SelectionNeeded(
                "No units selected: pick the units to split off in the cluster detail table"
            )
        return self._edit([("split", {"units": units.tolist()})])

    def merge_clusters(self, c1: int, c2: int) -> list[UpdateInfo]:
        """Clusters c1 and c2 become one (refused if they share a session)."""
        self._require_curator()
        return self.merge_units(self._representative(c1), self._representative(c2))

    def merge_units(self, a: int, b: int) -> list[UpdateInfo]:
        """The clusters of units a and b (an unmatched unit on its own) become one."""
        self._require_curator()
        return self._edit([("merge", {"units": [int(a), int(b)]})])

    def add_unit(self, unit: int, to_unit: int) -> list[UpdateInfo]:
        """Unit `unit` joins the cluster of `to_unit`."""
        self._require_curator()
        return self._edit([("add_unit", {"unit": int(unit), "to_unit": int(to_unit)})])

    def label_cluster(self, cluster: int, label: str) -> list[UpdateInfo]:
        """Label a cluster ("good", "reviewed"; "" removes the label)."""
        self._require_curator()
        return self._edit([("label", {"unit": self._representative(cluster), "label": label})])

    def mark_reviewed_and_next(self) -> tuple[list[UpdateInfo], int | None]:
        """Label the selected cluster "reviewed" (unless already reviewed or good) and select
        the next unreviewed one in the review queue (wrapping); from no selection, the first.
        Returns the edits and the cluster now selected (None: every cluster is reviewed)."""
        state = self._require_curator().state
        if len(self.selected_clusters) > 1:
            raise SelectionNeeded(
                f"{len(self.selected_clusters)} clusters selected: select one to mark it reviewed"
            )
        queue = self.review_queue()
        current = self.selected_cluster
        infos = []
        if current is not None and self.cluster_label(current) not in REVIEWED_LABELS:
            infos = self.label_cluster(current, "reviewed")
        start = queue.index(current) + 1 if current in queue else 0
        for k in queue[start:] + queue[:start]:
            if k != current and state.cluster_labels.get(k) not in REVIEWED_LABELS:
                if self.units_of(k).size:
                    self.select_cluster(k)
                    return infos, k
        return infos, None

    def undo(self) -> list[UpdateInfo]:
        """Take back the last edit (all the actions of one gesture)."""
        curator = self._require_curator()
        if not curator.state.can_undo:
            raise SelectionNeeded("Nothing to undo")
        n = self._undo_groups.pop() if self._undo_groups else 1
        memory = self._remember_selection()
        infos = []
        for _ in range(n):
            info = curator.undo()
            if info is None:
                break
            infos.append(info)
            self._redo_texts.insert(0, info.description.removeprefix("Undo: "))
        self._redo_groups.append(len(infos))
        self._after_edit(memory)
        return infos

    def redo(self) -> list[UpdateInfo]:
        """Bring back the last undone edit."""
        curator = self._require_curator()
        if not curator.state.can_redo:
            raise SelectionNeeded("Nothing to redo")
        n = self._redo_groups.pop() if self._redo_groups else 1
        memory = self._remember_selection()
        infos = []
        for _ in range(n):
            info = curator.redo()
            if info is None:
                break
            infos.append(info)
            if self._redo_texts:
                self._redo_texts.pop(0)
        self._undo_groups.append(len(infos))
        self._after_edit(memory)
        return infos

    def export(self) -> str:
        """Write the curated IdxCluster.npy (and friends) to the output folder; the summary."""
        curator = self._require_curator()
        default_log = curator.output_folder / LOG_FILE
        log = None if curator.log_path == default_log else curator.log_path
        summary = export_curated(curator.output_folder, log, result=self.result)
        self._exported_labels = self._labels_on_disk()
        if not self.exported:  # the export replays the log on its own: say if it disagrees
            summary += (
                "\nwarning: the exported IdxCluster.npy differs from the clusters shown; "
                "reopen the folder to see what the log gives"
            )
        self.run_log.emit(summary)
        self.curation_changed.emit()
        return summary

    def _representative(self, cluster) -> int:
        units = self.units_of(cluster) if cluster is not None else _empty_units()
        if units.size == 0:
            raise CurationError(f"cluster {cluster} does not exist (any more)")
        return int(units[0])

    def _edit(self, steps: list[tuple[str, dict]]) -> list[UpdateInfo]:
        """Apply actions as one gesture (one undo), then choose the selection and tell views."""
        curator = self._require_curator()
        memory = self._remember_selection()
        infos = []
        try:
            for name, fields in steps:
                infos.append(curator.do(name, **fields))
        finally:
            if infos:  # a later step refused: what was done stays done (and logged)
                self._undo_groups.append(len(infos))
                self._redo_groups.clear()
                self._redo_texts = []
                self._after_edit(memory)
        return infos

    def _after_edit(self, memory: _SelectionMemory) -> None:
        self._restore_selection(memory)
        self.clusters_changed.emit()
        self.curation_changed.emit()
        self.selection_changed.emit()

    def _remember_selection(self) -> _SelectionMemory:
        clusters = self.selected_clusters
        if not clusters and self.selected_cluster is not None:
            clusters = (self.selected_cluster,)
        members = (
            np.unique(np.concatenate([self.units_of(k) for k in clusters]))
            if clusters
            else _empty_units()
        )
        return _SelectionMemory(
            cluster=self.selected_cluster,
            clusters=tuple(clusters),
            members=members,
            units=self.selected_units.copy(),
            chosen=self._units_chosen,
            pair=self.selected_pair,
            order=self.navigation_order().copy(),
        )

    def _restore_selection(self, m: _SelectionMemory) -> None:
        """After an edit: the same cluster(s) if they still exist (an id that still exists has
        the same units), else the new cluster holding most of their units, else the next
        cluster in table order; a selection of loose units is kept. Sets, does not emit."""
        present = set(self.cluster_ids().tolist())
        if not m.clusters:
            units = m.units
            ks = np.unique(self.idx_cluster[units]) if units.size else np.zeros(0)
            cluster = int(ks[0]) if ks.size == 1 and ks[0] > 0 else None
            clusters = () if cluster is None else (cluster,)
            self._set_selection(cluster, clusters, units, m.pair, m.chosen, emit=False)
            return
        if all(k in present for k in m.clusters):
            self._set_selection(m.cluster, m.clusters, m.units, m.pair, m.chosen, emit=False)
            return
        target = None
        ks = self.idx_cluster[m.members]
        ks = ks[ks > 0]
        if ks.size:
            ids, counts = np.unique(ks, return_counts=True)
            target = int(ids[np.argmax(counts)])
        else:
            order = m.order.tolist()
            anchor = m.clusters[0]
            i = order.index(anchor) if anchor in order else 0
            for k in order[i + 1 :] + order[:i][::-1]:
                if k in present:
                    target = int(k)
                    break
            if target is None and present:
                target = min(present)
        units = self.units_of(target) if target is not None else _empty_units()
        clusters = () if target is None else (target,)
        self._set_selection(target, clusters, units, None, chosen=False, emit=False)

    # ----- data ------------------------------------------------------------------------------

    def open_folder(self, folder) -> None:
        """Load a data folder (DantError on bad input, state unchanged) and any results in it."""
        if self.is_running:
            raise DantError("a run is in progress; cancel it before opening another folder")
        folder = Path(folder).expanduser().absolute()
        if not folder.exists():
            raise DatasetError(f"{folder}: folder does not exist")
        if not folder.is_dir():
            raise DatasetError(f"{folder.name}: is a file, expected a data folder")
        dataset = load_dataset(folder)
        settings = self.settings.copy()
        settings_path = self.settings_path
        notes: list[str] = []
        local = folder / "settings.json"
        if local.is_file():
            try:
                settings = Settings.load(local)
                settings_path = local
                notes.append(f"Using the settings in {local}")
                notes.extend(f"warning: {w}" for w in settings.warnings)
            except SettingsError as exc:
                notes.append(f"warning: settings.json in the data folder ignored: {exc}")
                settings.base_dir = folder
        else:
            # Relative paths (output_folder "./DANT_Output") then live in the data folder.
            settings.base_dir = folder
            settings_path = None

        self.dataset = dataset
        self.data_folder = folder
        self.settings = settings
        self.settings_path = settings_path
        self.output_folder = self._resolve_output_folder()
        self.result = None
        self.curator = None
        self._reset_selection()
        self._remember_recent(folder)
        for n in notes:
            self.run_log.emit(n)
        s = dataset.summary()
        self.run_log.emit(
            f"Loaded {folder}: {s['units']} units, {s['sessions']} sessions, "
            f"{s['channels']} channels, {s['shanks']} shank(s)"
        )
        self.settings_changed.emit()
        self.dataset_changed.emit()
        self._load_existing_results()
        self._open_curator()
        self.result_changed.emit()
        self.curation_changed.emit()
        self.selection_changed.emit()

    def _resolve_output_folder(self) -> Path | None:
        if self.data_folder is None:
            return None
        try:
            out = self.settings.resolve_path("output_folder")
        except DantError:
            out = None
        return out if out is not None else self.data_folder / RESULTS_SUBFOLDER

    def _load_existing_results(self) -> None:
        """Load our (or pyDANT's) output for this dataset when present; failures only logged."""
        try:
            from dant_core import results as results_module
        except Exception:  # noqa: BLE001 - the engine may be mid-update; results are optional
            return
        load_result = getattr(results_module, "load_result", None)
        has_results = getattr(results_module, "has_results", None)
        if load_result is None or has_results is None:
            return
        candidates = []
        for c in (self.output_folder, self.data_folder / RESULTS_SUBFOLDER):
            if c is not None and c not in candidates:
                candidates.append(c)
        for out in candidates:
            if not has_results(out):
                continue
            try:
                self.result = load_result(out, self.dataset)
            except Exception as exc:  # noqa: BLE001 - a stale output must not block loading data
                self.run_log.emit(f"warning: could not load the results in {out}: {exc}")
                continue
            self.output_folder = out
            self.run_log.emit(f"Loaded existing results from {out}: {self.result.summary_text()}")
            return

    def set_settings(self, settings: Settings, path: Path | None = None) -> None:
        """Replace the settings (loaded from `path`, or reset); output folder follows them."""
        if path is None and self.data_folder is not None and settings.base_dir is None:
            settings.base_dir = self.data_folder
        self.settings = settings
        self.settings_path = None if path is None else Path(path)
        if self.data_folder is not None:
            self.output_folder = self._resolve_output_folder()
        self.settings_changed.emit()

    def load_settings(self, path) -> None:
        """Read a settings file (SettingsError on bad values) and use it."""
        settings = Settings.load(path)
        for w in settings.warnings:
            self.run_log.emit(f"warning: {w}")
        self.set_settings(settings, Path(path))
        self.run_log.emit(f"Settings loaded from {path}")

    def save_settings(self, path) -> None:
        self.settings.save(path)
        self.run_log.emit(f"Settings saved to {path}")

    def reset_settings(self) -> None:
        settings = Settings.defaults()
        settings.base_dir = self.data_folder
        self.set_settings(settings)

    def setting_changed(self) -> None:
        """The form changed one value in place: keep the output folder in step."""
        if self.data_folder is not None:
            self.output_folder = self._resolve_output_folder()

    def set_result(self, result) -> None:
        """Use a new TrackingResult (or None); the selection is cleared. A result saved in
        the output folder is curated there (its curation.jsonl replayed)."""
        self.result = result
        self._reset_selection()
        self._open_curator()
        self.result_changed.emit()
        self.curation_changed.emit()
        self.selection_changed.emit()

    def _reset_selection(self) -> None:
        self.selected_cluster = None
        self.selected_clusters = ()
        self.selected_units = _empty_units()
        self.selected_pair = None
        self._units_chosen = False

    # ----- recent folders ----------------------------------------------------------------

    def recent_folders(self) -> list[str]:
        value = QSettings().value("recent_folders", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember_recent(self, folder: Path) -> None:
        items = [str(folder)] + [f for f in self.recent_folders() if f != str(folder)]
        QSettings().setValue("recent_folders", items[:MAX_RECENT])

    # ----- running ---------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._job is not None

    def set_form_problems(self, problems: list[str]) -> None:
        if list(problems) != self.form_problems:
            self.form_problems = list(problems)
            self.problems_changed.emit()

    def can_run(self) -> bool:
        return (
            self.dataset is not None
            and not self.is_running
            and not self.form_problems
            and not self.settings.problems()
        )

    def start_run(self) -> None:
        """Start tracking on a worker thread; DantError when it cannot start."""
        from .jobs import TrackingJob

        if self.is_running:
            raise DantError("a run is already in progress")
        if self.dataset is None:
            raise DantError("open a data folder first")
        problems = self.form_problems or self.settings.problems()
        if problems:
            raise DantError("the settings have problems:\n" + "\n".join(problems))
        self.output_folder = self._resolve_output_folder()
        job = TrackingJob(self.dataset, self.settings.copy(), self.output_folder, parent=self)
        job.progress.connect(self.run_progress)
        job.log.connect(self.run_log)
        job.finished.connect(self._on_job_finished)
        job.failed.connect(self._on_job_failed)
        job.cancelled.connect(self._on_job_cancelled)
        self._job = job
        self.busy_changed.emit(True)
        self.curation_changed.emit()  # no curating while the output folder is rewritten
        self.run_started.emit()
        self.run_log.emit(f"Run started; output folder {self.output_folder}")
        job.start()

    def cancel_run(self) -> None:
        if self._job is not None:
            self.run_log.emit("Cancelling ...")
            self._job.cancel()

    def wait_for_job(self, msecs: int = 10_000) -> None:
        """Block until the worker thread has ended (used on close)."""
        if self._job is not None:
            self._job.cancel()
            self._job.wait(msecs)

    def _end_job(self) -> None:
        self._job = None
        self.busy_changed.emit(False)
        self.curation_changed.emit()

    def _on_job_finished(self, result) -> None:
        self._end_job()
        self.run_log.emit(f"Results saved to {self.output_folder}")
        self.set_result(result)
        self.run_finished.emit()

    def _on_job_failed(self, message: str, tb: str) -> None:
        self._end_job()
        self.run_log.emit(f"Run failed: {message}")
        self.run_failed.emit(message, tb)

    def _on_job_cancelled(self) -> None:
        self._end_job()
        self.run_log.emit("Run cancelled; no result was written")
        self.run_cancelled.emit()


def _clock(action: dict) -> str:
    """HH:MM:SS of an action's ISO time ("" when absent)."""
    t = str(action.get("time", ""))
    return t[11:19] if len(t) >= 19 else ""


def _list(units) -> str:
    units = [int(u) for u in units]
    return ", ".join(str(u) for u in units[:5]) + (
        f", ... ({len(units)} in all)" if len(units) > 5 else ""
    )


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
