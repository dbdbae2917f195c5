"""The curation log `curation.jsonl`: reading it, appending to it, replaying it.

One JSON object per line, appended and fsync'd before the action takes effect (format:
docs/curation_format.md). Every reader replays a log through `replay_log`, with one of two
error policies: `strict` (export: a bad line is an error naming it) or lenient (the window:
a bad line is skipped and described in a warning). A `Curator` is a `CurationState` kept in
step with its log file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from .atomic_file import fsync_folder
from .curation import CurationError, CurationState, SimilarityFn, UpdateInfo
from .errors import DantError
from .log_lock import lock_folder
from .npy_files import load_npy

LOG_FILE = "curation.jsonl"
AUTO_LABELS_FILE = "IdxCluster_auto.npy"
LABELS_FILE = "IdxCluster.npy"
INCOMPLETE_SUFFIX = ".incomplete"  # where an unfinished last log line is moved before appending


@dataclass(frozen=True)
class LogLine:
    """One non-empty line of a curation log: the action, or why it could not be read."""

    number: int  # 1-based line number in the file
    action: object | None  # the parsed JSON value (normally a dict); None if unreadable
    error: str | None = None
    last: bool = False  # the last non-empty line of the file
    complete: bool = True  # ended with a newline
    text: str = ""  # the line as written (undecodable bytes replaced)


@dataclass(frozen=True)
class SkippedLine:
    """A line of a log the window skipped and an export would refuse."""

    number: int  # 1-based line number in the file
    text: str  # the line as written
    problem: str  # why it cannot be used


def parse_log(path) -> list[LogLine]:
    """Every non-empty line of a log (missing file: none); unreadable lines carry `error`."""
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    # A byte-order mark (Notepad and other Windows editors write one) is not part of line 1.
    data = data.removeprefix(b"\xef\xbb\xbf")
    raw = data.split(b"\n")
    lines = []
    for i, chunk in enumerate(raw):
        if not chunk.strip():
            continue
        complete = i < len(raw) - 1
        text = chunk.decode("utf-8", errors="replace").strip()
        try:
            action = json.loads(chunk.decode("utf-8"))
            lines.append(LogLine(i + 1, action, complete=complete, text=text))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            lines.append(LogLine(i + 1, None, str(exc), complete=complete, text=text))
    if lines:
        lines[-1] = replace(lines[-1], last=True)
    return lines


def unreadable_warning(path, line: LogLine) -> str:
    name = Path(path).name
    if line.last and not line.complete:
        return (
            f"{name} line {line.number} is incomplete (the program probably stopped while "
            "writing it) and was ignored"
        )
    return f"{name} line {line.number} is not valid JSON and was ignored ({line.error})"


def read_log(path) -> tuple[list[dict], list[str]]:
    """The actions of a curation log, oldest first, and a warning per unreadable line."""
    actions, warnings = [], []
    for line in parse_log(path):
        if line.action is None:
            warnings.append(unreadable_warning(path, line))
        else:
            actions.append(line.action)
    return actions, warnings


def replay(
    auto_labels: np.ndarray,
    sessions: np.ndarray,
    similarity: SimilarityFn,
    log_lines: Iterable[dict],
    on_error=None,
) -> CurationState:
    """The state after applying `log_lines` (actions, undo/redo included) to the automatic
    labels. An action that is refused raises CurationError, or goes to on_error(index,
    action, error) (index 1-based) and is skipped."""
    state = CurationState(auto_labels, sessions, similarity)
    for i, action in enumerate(log_lines, 1):
        try:
            state.apply(action)
        except CurationError as exc:
            if on_error is None:
                raise CurationError(f"action {i} ({_short(action)}): {exc}") from exc
            on_error(i, action, exc)
    return state


def replay_log(
    state: CurationState, log_path, strict: bool, skipped: list | None = None
) -> tuple[list[dict], list[str]]:
    """Apply every line of a log file to `state`: the one way every reader replays a log.

    strict (export): a line that is unreadable or refused is a DantError naming it, except
    an unfinished last line (a crash while writing it), which is a warning. Lenient (the
    window): such lines are skipped, each described in a warning, and those strict would
    refuse are added to `skipped` (SkippedLine) when given. Returns the actions applied
    (undo/redo included) and the warnings.
    """
    log_path = Path(log_path)
    applied, warnings = [], []
    for line in parse_log(log_path):
        if line.action is None:
            if strict and not (line.last and not line.complete):
                raise DantError(
                    f"{log_path} line {line.number}: not a valid JSON line "
                    f"({line.error}); fix or delete that line"
                )
            warnings.append(unreadable_warning(log_path, line))
            if skipped is not None and not (line.last and not line.complete):
                problem = f"not valid JSON ({line.error})"
                skipped.append(SkippedLine(line.number, line.text, problem))
            continue
        try:
            state.apply(line.action)
        except CurationError as exc:
            if strict:
                raise DantError(f"{log_path} line {line.number}: {exc}") from exc
            warnings.append(f"{log_path.name} line {line.number} was skipped: {exc}")
            if skipped is not None:
                skipped.append(SkippedLine(line.number, line.text, str(exc)))
            continue
        applied.append(line.action)
    return applied, warnings


def _short(action) -> str:
    return json.dumps(action)[:120] if isinstance(action, dict) else repr(action)[:120]


def now_iso() -> str:
    """Local time with its UTC offset, ISO 8601, to the millisecond."""
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def append_log_line(path, record: dict) -> None:
    """Append one JSON line to the log and fsync it before returning.

    If the file ends in an unfinished line (a crash while writing it), that line is moved
    to `<log>.incomplete` and cut off first, so the new line starts on a fresh line and the
    log keeps only whole lines.
    """
    path = Path(path)
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    created = not path.exists()
    try:
        with open(path, "a+b") as f:
            size = f.seek(0, os.SEEK_END)
            if size:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    data = _repair_tail(path, f, size) + data
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise DantError(f"cannot write the curation log {path}: {exc}") from exc
    if created:
        fsync_folder(path.parent)


def _repair_tail(path: Path, f, size: int) -> bytes:
    """Deal with a log not ending in a newline; returns bytes to write before the new line."""
    f.seek(0)
    content = f.read(size)
    start = content.rfind(b"\n") + 1
    tail = content[start:]
    try:
        json.loads(tail.decode("utf-8"))
        return b"\n"  # a whole line that only lacks its newline (written by hand)
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    with open(str(path) + INCOMPLETE_SUFFIX, "ab") as g:
        g.write(tail + b"\n")
        g.flush()
        os.fsync(g.fileno())
    f.truncate(start)
    f.flush()
    os.fsync(f.fileno())
    return b""


# ------------------------------------------------------------------------------------------
# state + log
# ------------------------------------------------------------------------------------------


def auto_labels(output_folder, result=None) -> np.ndarray:
    """The automatic clusters that curation starts from (n_unit,) int64.

    IdxCluster_auto.npy when it exists (IdxCluster.npy may then be a curated export), else
    IdxCluster.npy, else `result.idx_cluster`.
    """
    folder = Path(output_folder)
    for name in (AUTO_LABELS_FILE, LABELS_FILE):
        path = folder / name
        if path.is_file():
            labels = load_npy(path).astype(np.int64).ravel()
            if result is not None and labels.size != result.n_units:
                raise DantError(
                    f"{name} in {folder}: holds {labels.size} units but the result "
                    f"has {result.n_units}"
                )
            return labels
    if result is None:
        raise DantError(f"{folder}: no {LABELS_FILE} (not the output folder of a tracking run?)")
    return np.asarray(result.idx_cluster, dtype=np.int64).copy()


def result_similarity(result) -> SimilarityFn:
    """similarity(units) -> (k, k) exact weighted similarity, from a TrackingResult."""
    return lambda units: result.similarity_block(units, units)


class ResultReplaced(DantError):
    """The result under a curating window was replaced by a program that ignored the lock."""


def replaced_message(output_folder, changed: list[str]) -> str:
    """The window's refusal to curate on (docs/errors.md GW02)."""
    return (
        f"{output_folder}: the result in this folder was replaced by another program since "
        f"this window opened it ({', '.join(changed)} changed; pyDANT or a file copy, which "
        "do not ask for the curation lock). The curation shown belongs to the result as it "
        "was, so this window curates it no more; reopen the folder to see and curate the "
        "result there now"
    )


def kept_copy_path(path) -> Path:
    """`<name>.<time>.bak` beside `path` (`-2`, `-3`, ... when taken): where a file is kept
    before it is changed; a name that no reader of the folder loads."""
    path = Path(path)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = path.with_name(f"{path.name}.{stamp}.bak"), 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{stamp}-{n}.bak")
    return candidate


def set_aside_lines(log_path, numbers, copy_path) -> None:
    """Keep the log as it is in `copy_path` (a copy; never deleted), then rewrite the log
    without the lines `numbers` (1-based), the other lines byte for byte. Both are fsync'd;
    the log is replaced by a rename, so it is whole at every moment."""
    from .atomic_file import create_temp_beside

    log_path, copy_path = Path(log_path), Path(copy_path)
    data = log_path.read_bytes()
    drop = set(numbers)
    kept = b"\n".join(ln for i, ln in enumerate(data.split(b"\n"), 1) if i not in drop)
    for target, content in ((copy_path, data), (log_path, kept)):
        fd, tmp = create_temp_beside(target)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            if target == copy_path and copy_path.exists():
                raise FileExistsError(f"{copy_path} exists")
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    fsync_folder(log_path.parent)


class Curator:
    """A CurationState kept in step with `curation.jsonl` in the output folder.

    Opening takes the folder's curation lock (FolderInUse, a DantError, if another writer
    holds it; `close` releases it) and replays the log; lines that cannot be read or applied
    are skipped and described in `warnings` (those an export refuses in `skipped`). Every
    action is logged (fsync'd) before it takes effect, so a crash loses at most the action
    in progress; before each, the folder's result is checked to be the one opened
    (ResultReplaced otherwise: another program replaced it without the lock).
    """

    def __init__(self, output_folder, result=None, log_path=None, who: str = "a DANT window"):
        from .output_folder import result_identity

        self.output_folder = Path(output_folder)
        self.lock = lock_folder(self.output_folder, who)
        self.identity = result_identity(self.output_folder)
        try:
            self._open(result, log_path)
        except BaseException:
            self.lock.release()
            raise

    def close(self) -> None:
        """Release the folder for other writers; this Curator must not write any more."""
        self.lock.release()

    def _open(self, result, log_path) -> None:
        if result is None:
            from .results import load_result

            result = load_result(self.output_folder)
        self.result = result
        self.log_path = Path(log_path) if log_path is not None else self.output_folder / LOG_FILE
        self.state = CurationState(
            auto_labels(self.output_folder, result), result.sessions, result_similarity(result)
        )
        self.skipped: list[SkippedLine] = []
        _, self.warnings = replay_log(self.state, self.log_path, strict=False, skipped=self.skipped)

    def check_result_unchanged(self) -> None:
        """ResultReplaced when the folder's result is not the one this Curator opened."""
        from .output_folder import identity_changes, result_identity

        changed = identity_changes(self.identity, result_identity(self.output_folder))
        if changed:
            raise ResultReplaced(replaced_message(self.output_folder, changed))

    def set_aside_skipped(self, copy_path) -> None:
        """Take the skipped lines out of the log (kept whole in `copy_path` first), so that
        an export replays what the window shows; the clusters shown do not change."""
        if self.skipped:
            set_aside_lines(self.log_path, [s.number for s in self.skipped], copy_path)
        self.skipped, self.warnings = [], []

    def do(self, action: str, **fields) -> UpdateInfo:
        """Apply one edit action (CurationError if refused, nothing logged) and log it."""
        self.check_result_unchanged()
        change = self.state.prepare({"action": action, **fields, "time": now_iso()})
        append_log_line(self.log_path, change.action)
        return self.state.commit(change)

    def undo(self) -> UpdateInfo | None:
        """Undo the last action in effect and log it (naming the action it takes back);
        None (nothing logged) if there is none."""
        return self._history("undo")

    def redo(self) -> UpdateInfo | None:
        """Redo the last undone action and log it; None (nothing logged) if there is none."""
        return self._history("redo")

    def _history(self, name: str) -> UpdateInfo | None:
        record = self.state.history_record(name)
        if record is None:
            return None
        self.check_result_unchanged()
        append_log_line(self.log_path, {**record, "time": now_iso()})
        return self.state.undo() if name == "undo" else self.state.redo()
