"""The output folder as a transaction: a hidden temp folder, swapped in by rename.

A save writes into `.<name>.tmp-<pid>-*` beside the output folder; only a complete set
replaces the old folder, whose small files move to `previous_runs/<time>/`. A save a killed
process left unfinished is tidied up by the next one (`finish_interrupted_saves`), and
`check_output_folder` refuses folders a save must not replace.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import DantError
from .pydant_output import RESULT_FILE

# Files of a previous run larger than this are not kept when we wrote them and they are
# unchanged since (they can be recomputed); anything else is kept, whatever its size.
KEEP_PREVIOUS_MAX_BYTES = 20_000_000
PREVIOUS_RUNS = "previous_runs"
# What a save wrote: {name: [size, mtime_ns]} of each file, so a later save can tell our
# own recomputable arrays from files the user (or pyDANT) put there.
WRITTEN_FILE = ".dant_written.json"
# Hidden sibling names longer than this use a shortened output folder name (a legal
# 240-character folder name plus ".tmp-<pid>-XXXXXXXX" would pass the 255-byte limit).
_MAX_HIDDEN_STEM = 100


# Files a run's save writes and a curation export never rewrites. When one of them changes
# under a window curating the folder, another program replaced the result without asking
# for the curation lock (pyDANT, a file copy): the window's curation belongs to the old one.
RESULT_IDENTITY_FILES = (
    RESULT_FILE,
    WRITTEN_FILE,
    "locations.npy",
    "motion_linear.npy",
    "motion_constant.npy",
    "SimilarityWeights.npy",
    "SimilarityThreshold.npy",
)


def result_identity(folder) -> dict[str, tuple[int, int, int] | None]:
    """{name: (size, mtime_ns, inode) or None when absent} of RESULT_IDENTITY_FILES."""
    identity: dict[str, tuple[int, int, int] | None] = {}
    for name in RESULT_IDENTITY_FILES:
        try:
            info = os.stat(Path(folder) / name)
            identity[name] = (info.st_size, info.st_mtime_ns, info.st_ino)
        except OSError:
            identity[name] = None
    return identity


def identity_changes(before: dict, now: dict) -> list[str]:
    """Names of the files whose identity differs (added, removed or rewritten)."""
    return [name for name in RESULT_IDENTITY_FILES if before.get(name) != now.get(name)]


def previous_log_note(output_folder, had_log: bool) -> str | None:
    """What a rerun into a folder that held a curation log says about it (CLI and window):
    where the log went, or None when there was none."""
    kept = newest_previous(output_folder, "curation.jsonl") if had_log else None
    if kept is None:
        return None
    return (
        f"the curation log of the previous run belongs to its clusters, so it was moved to "
        f"{kept}; this run starts without curation"
    )


def absolute_folder(folder) -> Path:
    """Absolute, normalised path (so `.` or `out/..` has a real name and parent)."""
    return Path(os.path.normpath(Path(folder).expanduser().absolute()))


def _target_folder(folder) -> Path:
    """The folder a save writes to: a symlinked output folder means its target (the link
    stays a link)."""
    out = absolute_folder(folder)
    return Path(os.path.realpath(out)) if out.is_symlink() else out


def _hidden_stem(out: Path) -> str:
    """`.<name>` for the hidden siblings of `out`, shortened (with a hash) if long."""
    name = out.name
    if len(name.encode()) > _MAX_HIDDEN_STEM:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = name.encode()[: _MAX_HIDDEN_STEM - 12].decode(errors="ignore") + "~" + digest
    return f".{name}"


def _record_written(folder: Path) -> None:
    """Write WRITTEN_FILE listing every file just written into `folder`."""
    written = {}
    for item in folder.iterdir():
        if item.is_file() and not item.is_symlink():
            info = item.stat()
            written[item.name] = [info.st_size, info.st_mtime_ns]
    (folder / WRITTEN_FILE).write_text(json.dumps(written, indent=0))


def record_written_files(folder: Path, names) -> None:
    """Add the files `names` in `folder` (just written by us) to its WRITTEN_FILE record,
    keeping the entries of the others (e.g. Figures/, where a user may add files)."""
    try:
        written = json.loads((folder / WRITTEN_FILE).read_text())
    except (OSError, ValueError):
        written = {}
    if not isinstance(written, dict):
        written = {}
    for name in names:
        info = (folder / name).stat()
        written[name] = [info.st_size, info.st_mtime_ns]
    (folder / WRITTEN_FILE).write_text(json.dumps(written, indent=0))


def is_ours_and_unchanged(folder: Path, item: Path) -> bool:
    """Whether `item` in `folder` is listed in the folder's WRITTEN_FILE and unchanged."""
    return _ours_and_unchanged(folder, item)


def _ours_and_unchanged(backup: Path, item: Path) -> bool:
    """Whether `item` is a file a save wrote (listed in WRITTEN_FILE) and unchanged since."""
    try:
        written = json.loads((backup / WRITTEN_FILE).read_text())
        size, mtime_ns = written[item.name]
        info = item.lstat()
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return stat.S_ISREG(info.st_mode) and [info.st_size, info.st_mtime_ns] == [size, mtime_ns]


def _folder_mode(inside: Path) -> int:
    """The mode a new folder gets under this process's umask (e.g. 0o755 for umask 022),
    read by making one in `inside` (os.umask would change it process-wide meanwhile)."""
    probe = inside / ".mode-probe"
    os.mkdir(probe)
    try:
        return stat.S_IMODE(probe.stat().st_mode)
    finally:
        os.rmdir(probe)


def _check_writable(out: Path) -> None:
    """Raise save_error now if the save could not create its hidden folder beside `out`
    (before a run, not after it)."""
    place = out.parent
    while not place.exists() and place.parent != place:
        place = place.parent
    try:
        shutil.rmtree(tempfile.mkdtemp(prefix=f"{_hidden_stem(out)}.tmp-{os.getpid()}-", dir=place))
    except OSError as exc:
        raise save_error(out, exc) from exc


def _swap_in(new: Path, dst: Path) -> None:
    """Replace folder `dst` by the complete folder `new`, keeping the old run's small files."""
    if not dst.exists():
        os.replace(new, dst)
        return
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = dst.parent / f"{_hidden_stem(dst)}.previous-{stamp}-{os.getpid()}"
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
    """Move what the old folder held from `backup` into `dst/previous_runs/<stamp>/`.

    Older runs' `previous_runs/` entries move along. Everything is kept (files, folders,
    links of the user or of pyDANT, whatever their size) except files over
    KEEP_PREVIOUS_MAX_BYTES that a save of ours wrote and nobody changed since
    (recomputable arrays): those are dropped with `backup`.
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
        if item.name in (PREVIOUS_RUNS, WRITTEN_FILE):
            continue
        if item.lstat().st_size > KEEP_PREVIOUS_MAX_BYTES and _ours_and_unchanged(backup, item):
            continue
        if item.is_dir() and not item.is_symlink() and (item / WRITTEN_FILE).is_file():
            _drop_recomputable(item)  # a folder we write (Shank<ID>/): the same rule inside
        os.replace(item, keep / item.name)
    shutil.rmtree(backup, ignore_errors=True)


def _drop_recomputable(folder: Path) -> None:
    """Delete the files over KEEP_PREVIOUS_MAX_BYTES in `folder` that a save wrote (its
    WRITTEN_FILE lists them) and nobody changed since; keep everything else."""
    for item in folder.iterdir():
        if item.lstat().st_size > KEEP_PREVIOUS_MAX_BYTES and _ours_and_unchanged(folder, item):
            item.unlink()


def newest_previous(output_folder, name: str) -> Path | None:
    """`previous_runs/<time>/<name>` of the latest earlier run that had `name`, or None."""
    runs = _target_folder(output_folder) / PREVIOUS_RUNS
    found = sorted(runs.glob(f"*/{name}")) if runs.is_dir() else []
    return found[-1] if found else None


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
    out = _target_folder(output_folder)
    parent = out.parent
    done: list[str] = []
    if not parent.is_dir():
        return done
    tmp_prefix = f"{_hidden_stem(out)}.tmp-"
    previous_prefix = f"{_hidden_stem(out)}.previous-"
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
    out = _target_folder(output_folder)
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
        data = absolute_folder(data_folder)
        if data == out or out in data.parents:
            where = "is the data folder" if data == out else f"contains the data folder {data}"
            raise DantError(
                f"output folder {out} {where}; saving there would replace the data; "
                f"choose another output folder, e.g. {data / 'DANT_Output'}"
            )
    finish_interrupted_saves(out)
    _check_writable(out)
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


def write_atomically(
    output_folder,
    n_units: int,
    data_folder,
    force: bool,
    write_files: Callable[[Path], None],
) -> Path:
    """Fill a new folder with `write_files(folder)` and make it `output_folder`, atomically.

    Files go to a hidden sibling folder first; only a complete set replaces the old
    folder (by rename), so a cancelled or killed run never leaves a half-written
    `IdxCluster.npy`. The previous run's small files (its IdxCluster, curation log,
    summary, settings) are kept in `previous_runs/<time>/` inside the new folder.
    A folder that must not be replaced is refused first (`check_output_folder`;
    `force` allows replacing another dataset's results); any OSError while writing
    becomes a DantError naming the folder, with the folder left as it was.
    Returns the absolute output folder.
    """
    output_folder = _target_folder(output_folder)
    check_output_folder(output_folder, n_units, data_folder, force)
    tmp = None
    try:
        output_folder.parent.mkdir(parents=True, exist_ok=True)
        # The pid in the name lets a later save tell a killed run's leftovers from a
        # save in progress (`finish_interrupted_saves`).
        tmp = Path(
            tempfile.mkdtemp(
                prefix=f"{_hidden_stem(output_folder)}.tmp-{os.getpid()}-",
                dir=output_folder.parent,
            )
        )
        # mkdtemp makes a private (0700) folder; the results get the usual umask mode.
        os.chmod(tmp, _folder_mode(tmp))
        write_files(tmp)
        _record_written(tmp)
        _swap_in(tmp, output_folder)
    except OSError as exc:
        raise save_error(output_folder, exc) from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return output_folder
