"""The tracking result: what viewers need, and the output folder in pyDANT's format (SPEC §8)."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .autocuration import CURATION_TYPE_NAMES, AutoCuration
from .clustering import ClusteringRun
from .errors import DantError, DatasetError
from .features import UnitFeatures
from .motion import LINEAR_SCALE, Motion
from .similarity import MAX_SIMILARITY, SimilarityComputer

# Up to this many units the pyDANT-compatible dense n x n matrices are written too.
DENSE_OUTPUT_MAX_UNITS = 3000
RESULT_FILE = "dant_result.npz"


@dataclass
class ShankTracking:
    """Everything tracking produced for the units of one shank (local unit indices inside)."""

    shank_id: int
    units: np.ndarray  # (n_local,) global unit indices
    initial_motion: Motion
    motion: Motion  # the last estimated motion: saved, used for the final candidate pairs
    restored_motion: Motion | None  # what an early stop went back to (corrects the waveforms)
    passes: list
    final: ClusteringRun
    curation: AutoCuration
    corrected_waveforms: np.ndarray  # (n_template, n_local, n_channel, n_sample) float32
    computer: SimilarityComputer | None = None


@dataclass
class TrackingResult:
    """The outcome of a run, in global unit indices.

    idx_cluster: (n_unit,) curated clusters 1..K, -1 unmatched (THE result);
    idx_cluster_auto: (n_unit,) HDBSCAN clusters before auto-curation;
    pairs / scores / candidate: the final similarity graph (n_pair, 2), (n_pair, n_feature),
    (n_pair,); a run's pairs are int32 in depth order (clustering.depth_neighbour_pairs);
    motion_linear / motion_constant: (n_shank, n_session); locations (n_unit, 3) µm.
    """

    n_units: int
    n_sessions: int
    sessions: np.ndarray
    channel_locations: np.ndarray
    shank_ids: list[int]
    features: UnitFeatures
    feature_names: tuple[str, ...]
    idx_cluster: np.ndarray
    idx_cluster_auto: np.ndarray
    pairs: np.ndarray
    scores: np.ndarray
    candidate: np.ndarray
    pair_shank: np.ndarray
    weights: np.ndarray  # (n_shank, n_feature)
    thresholds: np.ndarray  # (n_shank,)
    leaf_order: np.ndarray
    curation_pairs: np.ndarray
    curation_types: np.ndarray
    shanks: list[ShankTracking]
    settings_dict: dict
    run_time_sec: float = 0.0
    source: str = "dant"
    dense_similarity: np.ndarray | None = None  # set when loaded from pyDANT's output
    dense_features: dict[str, np.ndarray] = field(default_factory=dict)  # pyDANT's per-feature
    data_folder: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    # ----- what viewers ask for -------------------------------------------------------

    @property
    def locations(self) -> np.ndarray:
        return self.features.locations

    @property
    def n_clusters(self) -> int:
        return int(self.idx_cluster.max(initial=0))

    @property
    def similarity(self) -> np.ndarray:
        """Weighted similarity of each graph pair (n_pair,), with its shank's weights."""
        if "similarity" not in self.extra:
            if self.weights.shape[0] == 1:
                sim = self.scores @ self.weights[0]
            else:
                sim = np.zeros(self.scores.shape[0])
                for s, weights in enumerate(self.weights):
                    sel = self.pair_shank == s
                    sim[sel] = self.scores[sel] @ weights
            self.extra["similarity"] = sim
        return self.extra["similarity"]

    def motion(self, shank_index: int = 0) -> Motion:
        return self.shanks[shank_index].motion

    def cluster_units(self, cluster: int) -> np.ndarray:
        return np.flatnonzero(self.idx_cluster == cluster)

    def corrected_waveform(self, unit: int, template: int = 0) -> np.ndarray:
        """Motion-corrected waveform (n_channel, n_sample) of one unit."""
        shank, local = self._locate(unit)
        templates = shank.corrected_waveforms
        return templates[min(template, templates.shape[0] - 1), local]

    def threshold_of(self, unit: int) -> float:
        return float(self.thresholds[self._shank_index(unit)])

    def similarity_block(self, rows, cols, feature: str | None = None) -> np.ndarray:
        """Exact similarity (len(rows), len(cols)); cross-shank entries 0, self 6.

        feature None gives the weighted similarity, else that feature's score.
        """
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if self.dense_similarity is not None and feature is None:
            return self.dense_similarity[np.ix_(rows, cols)]
        if feature in self.dense_features:
            return self.dense_features[feature][np.ix_(rows, cols)]
        names = self.feature_names if feature is None else (feature,)
        if len(self.shanks) == 1 and _holds_every_unit(self.shanks[0].units, self.n_units):
            shank = self.shanks[0]  # local indices are global ones: no gathers, no copies
            if shank.computer is not None:
                sc = shank.computer.block_scores(rows, cols, names)
                return sc @ self.weights[0] if feature is None else sc[..., 0]
        out = np.zeros((rows.size, cols.size))
        shank_of = self.unit_shank_index
        for s, shank in enumerate(self.shanks):
            if shank.computer is None:
                continue
            r = np.flatnonzero(shank_of[rows] == s)
            c = np.flatnonzero(shank_of[cols] == s)
            if r.size == 0 or c.size == 0:
                continue
            local = self._local_index
            sc = shank.computer.block_scores(local[rows[r]], local[cols[c]], names)
            vals = sc @ self.weights[s] if feature is None else sc[..., 0]
            out[np.ix_(r, c)] = vals.reshape(r.size, c.size)
        return out

    @property
    def unit_shank_index(self) -> np.ndarray:
        """Index into `shanks` of every unit (n_unit,)."""
        if "unit_shank_index" not in self.extra:
            idx = np.zeros(self.n_units, dtype=np.int64)
            local = np.zeros(self.n_units, dtype=np.int64)
            for s, shank in enumerate(self.shanks):
                idx[shank.units] = s
                local[shank.units] = np.arange(shank.units.size)
            self.extra["unit_shank_index"] = idx
            self.extra["local_index"] = local
        return self.extra["unit_shank_index"]

    @property
    def _local_index(self) -> np.ndarray:
        """Index of every unit within its shank's units (n_unit,)."""
        _ = self.unit_shank_index  # fills both lookups
        return self.extra["local_index"]

    def _shank_index(self, unit: int) -> int:
        return int(self.unit_shank_index[unit])

    def _locate(self, unit: int):
        s = self._shank_index(unit)
        return self.shanks[s], int(self._local_index[unit])

    def matched_pairs(self, idx_cluster: np.ndarray | None = None) -> np.ndarray:
        """All unit pairs (i < j) in the same cluster, (n_pair, 2) int64."""
        return matched_pairs(self.idx_cluster if idx_cluster is None else idx_cluster)

    def summary(self) -> dict:
        y = [sh.motion.at_depth(float(np.mean(self.locations[sh.units, 1]))) for sh in self.shanks]
        span = float(np.ptp(np.concatenate(y))) if y else 0.0
        return {
            "units": self.n_units,
            "sessions": self.n_sessions,
            "clusters": self.n_clusters,
            "matched_pairs": int(self.matched_pairs().shape[0]),
            "tracked_units": int((self.idx_cluster > 0).sum()),
            "motion_range_um": span,
            "run_time_sec": self.run_time_sec,
        }

    def summary_text(self) -> str:
        s = self.summary()
        return (
            f"{s['units']} units, {s['sessions']} sessions: {s['clusters']} clusters, "
            f"{s['matched_pairs']} matched pairs, {s['tracked_units']} units tracked; "
            f"motion range {s['motion_range_um']:.1f} µm; {s['run_time_sec']:.1f} s"
        )

    # ----- writing ---------------------------------------------------------------------

    def save(self, output_folder, force: bool = False) -> Path:
        """Write every output file into `output_folder` as one transaction.

        Files go to a hidden sibling folder first; only a complete set replaces the old
        folder (by rename), so a cancelled or killed run never leaves a half-written
        `IdxCluster.npy`. The previous run's small files (its IdxCluster, curation log,
        summary, settings) are kept in `previous_runs/<time>/` inside the new folder.
        A folder that must not be replaced is refused first (`check_output_folder`;
        `force` allows replacing another dataset's results); any OSError while writing
        becomes a DantError naming the folder, with the folder left as it was.
        """
        output_folder = _absolute(output_folder)
        check_output_folder(output_folder, self.n_units, self.data_folder or None, force)
        tmp = None
        try:
            output_folder.parent.mkdir(parents=True, exist_ok=True)
            # The pid in the name lets a later save tell a killed run's leftovers from a
            # save in progress (`finish_interrupted_saves`).
            tmp = Path(
                tempfile.mkdtemp(
                    prefix=f".{output_folder.name}.tmp-{os.getpid()}-", dir=output_folder.parent
                )
            )
            self._write_files(tmp)
            _swap_in(tmp, output_folder)
        except OSError as exc:
            raise save_error(output_folder, exc) from exc
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        return output_folder

    def _write_files(self, folder: Path) -> None:
        n = self.n_units
        f = self.features
        save = lambda name, arr: np.save(folder / name, arr)  # noqa: E731
        save("IdxCluster.npy", self.idx_cluster.astype(np.int64))
        save("MatchedPairs.npy", self.matched_pairs())
        cand = self.pairs[self.candidate]
        # The graph is in depth order; the file lists pairs as pyDANT does, by (i, j).
        cand = cand[np.lexsort((cand[:, 1], cand[:, 0]))]
        save("SimilarityPairs.npy", cand.astype(np.int64))
        single = len(self.shanks) == 1
        save("SimilarityWeights.npy", self.weights[0] if single else self.weights)
        save("SimilarityThreshold.npy", self.thresholds[0] if single else self.thresholds)
        save("locations.npy", f.locations)
        save("amplitude.npy", f.amplitude)
        save("peak_channels.npy", f.peak_channels)
        save("unit_shanks.npy", f.unit_shanks)
        if f.auto_corr is not None:
            save("auto_corr.npy", f.auto_corr)
        if f.isi is not None:
            save("isi.npy", f.isi)
        lin = np.array([sh.motion.linear for sh in self.shanks])
        const = np.array([sh.motion.constant for sh in self.shanks])
        save("motion_linear_scale.npy", np.array(LINEAR_SCALE))
        save("motion_linear.npy", lin[0] if single else lin)
        save("motion_constant.npy", const[0] if single else const)
        self._write_corrected_waveforms(folder / "waveforms_corrected.npy")
        save("CurationPairs.npy", self.curation_pairs)
        save("CurationTypes.npy", self.curation_types)
        save("CurationTypeNames.npy", np.array(CURATION_TYPE_NAMES))
        save("RunTimeSec.npy", np.array(self.run_time_sec))
        if n <= DENSE_OUTPUT_MAX_UNITS:
            self._write_dense(folder)
        np.savez(folder / RESULT_FILE, **self._state_arrays())
        (folder / "settings.json").write_text(json.dumps(self.settings_dict, indent=2))

    def _write_corrected_waveforms(self, path: Path, chunk: int = 256) -> None:
        """waveforms_corrected.npy: (n_unit, n_channel, n_sample, n_template) float32, as
        pyDANT lays it out (template last). Written `chunk` units at a time from the
        template-major arrays: no file mapping and no n-sized copy."""
        n_t = max(sh.corrected_waveforms.shape[0] for sh in self.shanks) if self.shanks else 1
        shape = (self.n_units, *self.features.waveforms.shape[1:], n_t)
        header = {"descr": "<f4", "fortran_order": False, "shape": shape}
        shank_of, local = self.unit_shank_index, self._local_index
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            for start in range(0, self.n_units, chunk):
                units = np.arange(start, min(self.n_units, start + chunk))
                block = np.zeros((units.size, *shape[1:]), dtype=np.float32)
                for s, sh in enumerate(self.shanks):
                    at = np.flatnonzero(shank_of[units] == s)
                    if at.size == 0:
                        continue
                    templates = sh.corrected_waveforms  # (n_template, n_local, C, S)
                    for t in range(n_t):
                        block[at, ..., t] = templates[min(t, templates.shape[0] - 1)][
                            local[units[at]]
                        ]
                block.tofile(f)

    def _write_dense(self, folder: Path) -> None:
        units = np.arange(self.n_units)
        per_feature = {
            "Waveform": "waveform_similarity_matrix.npy",
            "AutoCorr": "AutoCorr_similarity_matrix.npy",
            "ISI": "ISI_similarity_matrix.npy",
            "PETH": "PETH_similarity_matrix.npy",
        }
        total = np.zeros((self.n_units, self.n_units))
        for name, file in per_feature.items():
            if name in self.feature_names and self.dense_similarity is None:
                m = self.similarity_block(units, units, name)
                np.fill_diagonal(m, MAX_SIMILARITY)
                k = self.feature_names.index(name)
                for s, sh in enumerate(self.shanks):
                    if _holds_every_unit(sh.units, self.n_units):
                        total += self.weights[s, k] * m
                    else:
                        within = np.ix_(sh.units, sh.units)
                        total[within] += self.weights[s, k] * m[within]
            else:
                m = np.zeros((self.n_units, self.n_units))
            np.save(folder / file, m)
        if self.dense_similarity is not None:
            total = self.dense_similarity
        np.save(folder / "SimilarityMatrix.npy", total)
        np.save(folder / "ClusterMatrix.npy", cluster_matrix(self.idx_cluster))

    def _state_arrays(self) -> dict:
        """Our own record: the graph, the pre-curation clusters, motion history and CIs."""
        out = {
            "feature_names": np.array(self.feature_names),
            "pairs": self.pairs.astype(np.int32),
            "scores": self.scores.astype(np.float32),
            "candidate": self.candidate,
            "pair_shank": self.pair_shank.astype(np.int16),
            "weights": self.weights,
            "thresholds": self.thresholds,
            "idx_cluster_auto": self.idx_cluster_auto,
            "leaf_order": self.leaf_order,
            "shank_ids": np.array(self.shank_ids),
            "sessions": self.sessions,
            "data_folder": np.array(self.data_folder),
            "source": np.array(self.source),
        }
        for s, sh in enumerate(self.shanks):
            p = f"shank{s}_"
            out[p + "units"] = sh.units
            for name, m in (
                ("motion", sh.motion),
                ("initial_motion", sh.initial_motion),
                ("restored_motion", sh.restored_motion),
            ):
                if m is None:
                    continue
                out[p + name + "_linear"] = m.linear
                out[p + name + "_constant"] = m.constant
                if m.ci_low is not None:
                    out[p + name + "_ci_low"] = m.ci_low
                    out[p + name + "_ci_high"] = m.ci_high
                if m.depths is not None:
                    out[p + name + "_pair_depths"] = np.array(m.depths)
                out[p + name + "_n_pairs"] = np.array(m.n_pairs)
            out[p + "pass_matches"] = np.array([ps.n_matched_pairs for ps in sh.passes], dtype=int)
            out[p + "pass_constant"] = np.array(
                [
                    ps.motion.constant
                    if ps.motion is not None
                    else np.full(self.n_sessions, np.nan)
                    for ps in sh.passes
                ]
            ).reshape(len(sh.passes), self.n_sessions)
            out[p + "pass_features"] = np.array(["+".join(ps.feature_set) for ps in sh.passes])
        return out


def matched_pairs(idx_cluster: np.ndarray) -> np.ndarray:
    """All unit pairs (i < j) sharing a cluster, (n_pair, 2) int64, sorted."""
    out = []
    for k in np.unique(idx_cluster[idx_cluster > 0]):
        units = np.flatnonzero(idx_cluster == k)
        i, j = np.triu_indices(units.size, 1)
        out.append(np.column_stack((units[i], units[j])))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(out).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def cluster_matrix(idx_cluster: np.ndarray) -> np.ndarray:
    """Dense boolean (n_unit, n_unit): same cluster, diagonal true."""
    m = (idx_cluster[:, None] == idx_cluster[None, :]) & (idx_cluster[:, None] > 0)
    np.fill_diagonal(m, True)
    return m


# Files of a previous run larger than this are not kept (they can be recomputed).
KEEP_PREVIOUS_MAX_BYTES = 20_000_000
PREVIOUS_RUNS = "previous_runs"


def _absolute(folder) -> Path:
    """Absolute, normalised path (so `.` or `out/..` has a real name and parent)."""
    return Path(os.path.normpath(Path(folder).expanduser().absolute()))


def _swap_in(new: Path, dst: Path) -> None:
    """Replace folder `dst` by the complete folder `new`, keeping the old run's small files."""
    if not dst.exists():
        os.replace(new, dst)
        return
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = dst.parent / f".{dst.name}.previous-{stamp}-{os.getpid()}"
    os.replace(dst, backup)
    try:
        os.replace(new, dst)
    except OSError:
        os.replace(backup, dst)  # put the previous results back before reporting
        raise
    try:
        _keep_previous(backup, dst, stamp)
    except OSError:
        pass  # the new results are in place; a later save finishes moving the old files


def _keep_previous(backup: Path, dst: Path, stamp: str) -> None:
    """Move the old run's small files from `backup` into `dst/previous_runs/<stamp>/`.

    Older runs' `previous_runs/` entries move along; the user's own subfolders are kept
    too. Files over KEEP_PREVIOUS_MAX_BYTES (recomputable arrays) are dropped with `backup`.
    """
    runs = dst / PREVIOUS_RUNS
    runs.mkdir(exist_ok=True)
    old_runs = backup / PREVIOUS_RUNS
    if old_runs.is_dir() and not old_runs.is_symlink():
        for old in old_runs.iterdir():
            os.replace(old, _unused(runs / old.name))
    keep = _unused(runs / stamp)
    keep.mkdir()
    for item in backup.iterdir():
        if item.name == PREVIOUS_RUNS:
            continue
        if item.is_dir() and not item.is_symlink():
            os.replace(item, keep / item.name)
        elif item.is_file() and item.stat().st_size <= KEEP_PREVIOUS_MAX_BYTES:
            os.replace(item, keep / item.name)
    shutil.rmtree(backup, ignore_errors=True)


def _unused(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, ... : the first name not taken."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _process_alive(pid: int, started: float) -> bool:
    """Whether the process that made a temp folder may still be writing it."""
    if pid == os.getpid():
        return True
    if os.name != "posix":  # no cheap liveness test: trust an age of a day instead
        return time.time() - started < 86400
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


_TMP_SUFFIX = re.compile(r"(?:(\d+)-)?[A-Za-z0-9_]{8}")
_PREVIOUS_SUFFIX = re.compile(r"(\d{8}-\d{6})-(\d+)")


def finish_interrupted_saves(output_folder) -> list[str]:
    """Clean up after saves into `output_folder` that a killed process left unfinished.

    A hidden `.<name>.tmp-<pid>-*` folder of a process that is gone is deleted (an
    incomplete set of files). A hidden `.<name>.previous-<time>-<pid>` folder (the old
    results, moved aside for the swap) is put back when the output folder is missing, else
    its small files go to `previous_runs/` as a finished save would have done.
    Returns what was done, one line each.
    """
    out = _absolute(output_folder)
    parent = out.parent
    done: list[str] = []
    if not parent.is_dir():
        return done
    tmp_prefix = f".{out.name}.tmp-"
    previous_prefix = f".{out.name}.previous-"
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return done
    for entry in entries:
        try:
            if not entry.is_dir() or entry.is_symlink():
                continue
            started = entry.stat().st_mtime
            if entry.name.startswith(tmp_prefix):
                match = _TMP_SUFFIX.fullmatch(entry.name[len(tmp_prefix) :])
                if match is None:
                    continue
                pid = match.group(1)
                if pid is None or not _process_alive(int(pid), started):
                    shutil.rmtree(entry)
                    done.append(f"removed the unfinished results {entry.name} of a stopped run")
            elif entry.name.startswith(previous_prefix):
                match = _PREVIOUS_SUFFIX.fullmatch(entry.name[len(previous_prefix) :])
                if match is None or _process_alive(int(match.group(2)), started):
                    continue
                if not out.exists():
                    os.replace(entry, out)
                    done.append(f"restored the results in {out} that a stopped run had moved aside")
                else:
                    _keep_previous(entry, out, match.group(1))
                    done.append(f"moved the files of an earlier run into {out / PREVIOUS_RUNS}")
        except OSError:
            continue  # best effort: a folder we cannot tidy is left for the next save
    return done


def check_output_folder(output_folder, n_units: int, data_folder=None, force: bool = False):
    """Refuse an output folder that saving would wrongly replace; DantError says why.

    Refused: a path that is a file or lies under one; the data folder itself or a folder
    holding it; an existing folder holding other files but no tracking results; another
    dataset's results (a different number of units in its IdxCluster.npy, or one that
    cannot be read) unless `force`. Finishes saves a killed run left unfinished first.
    """
    out = _absolute(output_folder)
    if out.parent == out:
        raise DantError(f"output folder {out} is the root of the file system; choose a folder")
    for ancestor in [out, *out.parents]:
        if ancestor.exists():
            if not ancestor.is_dir():
                if ancestor == out:
                    raise DantError(
                        f"output folder {out} is a file, not a folder; choose another output folder"
                    )
                raise DantError(
                    f"output folder {out} cannot be created: {ancestor} is a file, not a folder"
                )
            break
    if data_folder:
        data = _absolute(data_folder)
        if data == out or out in data.parents:
            where = "is the data folder" if data == out else f"contains the data folder {data}"
            raise DantError(
                f"output folder {out} {where}; saving there would replace the data; "
                f"choose another output folder, e.g. {data / 'DANT_Output'}"
            )
    finish_interrupted_saves(out)
    if not out.is_dir():
        return
    idx = out / "IdxCluster.npy"
    if idx.exists():
        try:
            held = int(np.load(idx, mmap_mode="r", allow_pickle=False).size)
        except Exception:  # noqa: BLE001 - any unreadable file is the same user problem
            held = None
        if held != n_units and not force:
            what = (
                "an unreadable IdxCluster.npy"
                if held is None
                else f"the results of another dataset ({held} units in its IdxCluster.npy, "
                f"this data has {n_units})"
            )
            raise DantError(
                f"output folder {out} holds {what}; choose another output folder, or "
                f"replace {'it' if held is None else 'them'} with dant track --force"
            )
        return
    try:
        others = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    except OSError as exc:  # e.g. a folder we may not list
        raise save_error(out, exc) from exc
    if others and not (out / RESULT_FILE).is_file():
        raise DantError(
            f"output folder {out} already holds {len(others)} other item(s) (e.g. "
            f"{others[0]!r}) and no tracking results; choose a new or empty folder"
        )


def save_error(folder: Path, exc: OSError) -> DantError:
    """A one-line DantError for an OSError met while saving into `folder`."""
    prefix = f"cannot save the results to {folder}"
    unchanged = "the folder was left as it was"
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return DantError(
            f"{prefix}: the disk is full; free some space or choose another output folder "
            f"({unchanged})"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return DantError(
            f"{prefix}: no permission to write in {folder.parent} (results are written "
            f"beside the output folder, then renamed into place); choose a folder you can "
            f"write to ({unchanged})"
        )
    if exc.errno == errno.EROFS:
        return DantError(f"{prefix}: the disk is read-only; choose another output folder")
    reason = exc.strerror or str(exc)
    return DantError(f"{prefix}: {reason} ({unchanged})")


def _holds_every_unit(units: np.ndarray, n: int) -> bool:
    """Whether a shank's units are 0..n-1 in order, so its local indices are global ones."""
    return units.size == n and np.array_equal(units, np.arange(n))


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
        pairs.append(sh.final.pairs if _holds_every_unit(u, n) else u[sh.final.pairs])
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


def has_results(folder) -> bool:
    """Whether `folder` holds a tracking result (put back first if a killed save moved it)."""
    path = Path(folder) / "IdxCluster.npy"
    if not path.is_file():
        finish_interrupted_saves(folder)
    return path.is_file()


def _require(folder: Path, name: str) -> np.ndarray:
    path = folder / name
    if not path.is_file():
        raise DatasetError(f"{name}: missing from the output folder {folder}")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise DatasetError(f"{name}: cannot be read ({exc})") from exc


def find_results(data_folder) -> Path | None:
    """The output folder of a previous run for `data_folder`, ours or pyDANT's, if any."""
    folder = Path(data_folder)
    candidates = [folder / "DANT_Output"]
    settings_file = folder / "settings.json"
    if settings_file.is_file():
        try:
            from .settings import Settings

            out = Settings.load(settings_file).resolve_path("output_folder")
            if out is not None:
                candidates.insert(0, out)
        except DantError:
            pass
    for c in candidates:
        if has_results(c):
            return c
    return None


def load_result(output_folder, dataset=None) -> TrackingResult:
    """Read a finished run back: ours (with `dant_result.npz`) or pyDANT's `DANT_Output`.

    `dataset` is the data folder's Dataset; without it, the folder recorded in the run is loaded.
    """
    from .dataset import load_dataset
    from .settings import Settings

    folder = Path(output_folder)
    idx_cluster = _require(folder, "IdxCluster.npy").astype(np.int64).ravel()
    state_path = folder / RESULT_FILE
    state = dict(np.load(state_path, allow_pickle=False)) if state_path.is_file() else None
    if dataset is None:
        recorded = str(state["data_folder"]) if state is not None and "data_folder" in state else ""
        if not recorded:
            raise DatasetError(
                f"{folder}: this output folder does not say which data folder it belongs to; "
                "open the data folder instead"
            )
        try:
            dataset = load_dataset(recorded)
        except DatasetError as exc:
            raise DatasetError(
                f"{folder}: the data folder this run was made from cannot be read ({exc}); "
                "put it back where it was"
            ) from exc
    if idx_cluster.size != dataset.n_units:
        raise DatasetError(
            f"IdxCluster.npy in {folder}: holds {idx_cluster.size} units but the data folder "
            f"{dataset.folder} has {dataset.n_units}; these results belong to another dataset"
        )
    settings_file = folder / "settings.json"
    settings = Settings.defaults()
    if settings_file.is_file():
        try:
            settings = Settings.load(settings_file)
        except DantError:
            pass
    n = dataset.n_units
    locations = _require(folder, "locations.npy").reshape(n, -1)
    peak = (
        np.load(folder / "peak_channels.npy").astype(np.int64)
        if (folder / "peak_channels.npy").is_file()
        else np.argmax(dataset.waveforms.max(-1) - dataset.waveforms.min(-1), axis=1)
    )
    optional = {
        name: np.load(folder / f"{name}.npy") if (folder / f"{name}.npy").is_file() else None
        for name in ("amplitude", "unit_shanks", "auto_corr", "isi")
    }
    waveforms = np.asarray(dataset.waveforms, dtype=np.float32)
    if settings.get("centering_waveforms"):
        from .features import center_waveforms

        waveforms = center_waveforms(waveforms, peak)
    features = UnitFeatures(
        locations=locations,
        amplitude=optional["amplitude"] if optional["amplitude"] is not None else np.zeros(n),
        peak_channels=peak,
        unit_shanks=(
            optional["unit_shanks"].astype(np.int64)
            if optional["unit_shanks"] is not None
            else dataset.channel_shanks[peak]
        ),
        waveforms=waveforms,
        auto_corr=optional["auto_corr"],
        isi=optional["isi"]
        if optional["isi"] is not None and np.isfinite(optional["isi"]).all()
        else None,
        peth=dataset.peth,
    )
    names = tuple(settings.get("clustering.features"))
    shank_ids = [int(s) for s in np.unique(features.unit_shanks)]
    lin = np.atleast_2d(_require(folder, "motion_linear.npy"))
    const = np.atleast_2d(_require(folder, "motion_constant.npy"))
    wf_path = folder / "waveforms_corrected.npy"
    corrected_all = np.load(wf_path, mmap_mode="r") if wf_path.is_file() else None
    weights = np.atleast_2d(np.load(folder / "SimilarityWeights.npy")).reshape(-1, len(names))
    thresholds = np.atleast_1d(np.load(folder / "SimilarityThreshold.npy")).astype(float)

    from .similarity import ChannelNeighbourhoods

    neighbourhoods = None
    if corrected_all is not None:
        neighbourhoods = ChannelNeighbourhoods(
            dataset.channel_locations,
            dataset.channel_shanks,
            int(settings.get("waveformCorrection.n_nearest_channels")),
        )
    if state is not None:
        # Saved as int32 / float32 / int16; only the scores are widened (the graph can hold
        # tens of millions of pairs, so no other copy is made).
        pairs = state["pairs"]
        pairs = pairs if pairs.dtype in (np.int32, np.int64) else pairs.astype(np.int64)
        scores = state["scores"].astype(np.float64)
        candidate = state["candidate"].astype(bool, copy=False)
        pair_shank = state["pair_shank"]
        idx_auto = state["idx_cluster_auto"].astype(np.int64)
        leaf = state["leaf_order"].astype(np.int64)
    else:
        pairs, scores, idx_auto, leaf = _pydant_graph(folder, n, names)
        candidate = np.ones(pairs.shape[0], dtype=bool)
        pair_shank = (
            np.searchsorted(shank_ids, features.unit_shanks[pairs[:, 0]])
            if pairs.size
            else (np.zeros(0, dtype=np.int64))
        )
    shanks = []
    for s, shank_id in enumerate(shank_ids):
        units = (
            state[f"shank{s}_units"].astype(np.int64)
            if state is not None and f"shank{s}_units" in state
            else np.flatnonzero(features.unit_shanks == shank_id)
        )
        local = np.full(n, -1, dtype=np.int64)
        local[units] = np.arange(units.size)

        row = min(s, lin.shape[0] - 1)

        def motion_from(prefix, s=s, row=row):
            if state is None:
                return (
                    Motion(lin[row].astype(float), const[row].astype(float))
                    if prefix == "motion"
                    else None
                )
            key = f"shank{s}_{prefix}"
            if key + "_constant" not in state:
                return None
            m = Motion(state[key + "_linear"], state[key + "_constant"])
            if key + "_ci_low" in state:
                m.ci_low, m.ci_high = state[key + "_ci_low"], state[key + "_ci_high"]
            if key + "_pair_depths" in state:
                m.depths = tuple(float(v) for v in state[key + "_pair_depths"])
            if key + "_n_pairs" in state:
                m.n_pairs = int(state[key + "_n_pairs"])
            return m

        motion = motion_from("motion")
        passes = []
        if state is not None and f"shank{s}_pass_matches" in state:
            from .pipeline import MotionPass

            for k, n_match in enumerate(state[f"shank{s}_pass_matches"]):
                c = state[f"shank{s}_pass_constant"][k]
                pm = None if np.isnan(c).any() else Motion(np.zeros_like(c), c)
                feats = tuple(str(state[f"shank{s}_pass_features"][k]).split("+"))
                passes.append(MotionPass(feats, int(n_match), pm))
        if len(shank_ids) == 1 and _holds_every_unit(units, n):
            # One shank holding every unit: its graph is the whole graph (no copies).
            lp, shank_scores, shank_candidate = pairs, scores, candidate
        else:
            sel = pair_shank == s
            lp = local[pairs[sel]] if pairs.size else np.zeros((0, 2), dtype=np.int64)
            shank_scores, shank_candidate = scores[sel], candidate[sel]
        final = ClusteringRun(
            feature_names=names,
            pairs=lp,
            scores=shank_scores,
            candidate=shank_candidate,
            weights=weights[min(s, weights.shape[0] - 1)],
            threshold=float(thresholds[min(s, thresholds.size - 1)]),
            labels=np.where(idx_auto[units] > 0, idx_auto[units], -1),
            leaf_order=np.arange(units.size),
            n_iterations=0,
        )
        # Template-major in memory, as the engine makes it (the file is template-last).
        corrected = (
            np.ascontiguousarray(np.moveaxis(corrected_all[units], -1, 0), dtype=np.float32)
            if corrected_all is not None
            else waveforms[units][None]
        )
        computer = None
        if neighbourhoods is not None:

            def sub(x, units=units):
                return None if x is None else x[units]

            computer = SimilarityComputer(
                corrected,
                neighbourhoods,
                sub(features.auto_corr),
                sub(features.isi),
                sub(features.peth),
            )
        shanks.append(
            ShankTracking(
                shank_id=shank_id,
                units=units,
                initial_motion=motion_from("initial_motion") or Motion.zero(dataset.n_sessions),
                motion=motion if motion is not None else Motion.zero(dataset.n_sessions),
                restored_motion=motion_from("restored_motion"),
                passes=passes,
                final=final,
                curation=AutoCuration(
                    idx_cluster[units], np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
                ),
                corrected_waveforms=corrected,
                computer=computer,
            )
        )
    result = TrackingResult(
        n_units=n,
        n_sessions=dataset.n_sessions,
        sessions=dataset.sessions,
        channel_locations=dataset.channel_locations,
        shank_ids=shank_ids,
        features=features,
        feature_names=names,
        idx_cluster=idx_cluster,
        idx_cluster_auto=idx_auto,
        pairs=pairs,
        scores=scores,
        candidate=candidate,
        pair_shank=pair_shank,
        weights=weights,
        thresholds=thresholds,
        leaf_order=leaf,
        curation_pairs=np.load(folder / "CurationPairs.npy").reshape(-1, 2)
        if (folder / "CurationPairs.npy").is_file()
        else np.zeros((0, 2), np.int64),
        curation_types=np.load(folder / "CurationTypes.npy").ravel()
        if (folder / "CurationTypes.npy").is_file()
        else np.zeros(0, np.int64),
        shanks=shanks,
        settings_dict=settings.to_dict(),
        run_time_sec=float(np.load(folder / "RunTimeSec.npy"))
        if (folder / "RunTimeSec.npy").is_file()
        else 0.0,
        source="dant" if state is not None else "pyDANT",
        data_folder=str(Path(dataset.folder).resolve()),
    )
    if state is None:
        if (folder / "SimilarityMatrix.npy").is_file():
            result.dense_similarity = np.load(folder / "SimilarityMatrix.npy")
        files = {
            "Waveform": "waveform_similarity_matrix.npy",
            "AutoCorr": "AutoCorr_similarity_matrix.npy",
            "ISI": "ISI_similarity_matrix.npy",
            "PETH": "PETH_similarity_matrix.npy",
        }
        for name, file in files.items():
            if (folder / file).is_file():
                result.dense_features[name] = np.load(folder / file, mmap_mode="r")
    return result


def _pydant_graph(folder: Path, n: int, names):
    """pyDANT's candidate pairs, their per-feature scores, pre-curation clusters, leaf order."""
    path = folder / "ClusteringResults.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            pairs = np.asarray(z["idx_unit_pairs"]).reshape(-1, 2).astype(np.int64)
            scores = np.asarray(z["similarity_all"]).reshape(pairs.shape[0], -1).astype(float)
            idx_auto = np.asarray(z["idx_cluster_hdbscan"]).astype(np.int64)
            leaf = np.asarray(z["leafOrder"]).astype(np.int64)
        return pairs, scores, idx_auto, leaf if leaf.size == n else np.arange(n)
    pairs = np.load(folder / "SimilarityPairs.npy").reshape(-1, 2).astype(np.int64)
    return pairs, np.zeros((pairs.shape[0], len(names))), np.full(n, -1, np.int64), np.arange(n)
