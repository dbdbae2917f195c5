"""What the window checks before it writes curation, and what it offers when a check fails.

- A curation log with lines an export refuses: the window skips them when it opens the log
  and says so once (warn_skipped_lines); at export, a dialog lists them and offers to set
  them aside, the log kept whole as a copy beside it (named in the dialog, never deleted),
  and export; or to cancel.
- A result replaced under the window by a program that ignored the curation lock (pyDANT, a
  file copy): before every curation write and export the Curator compares the folder's
  result with the one it opened (`ResultReplaced`); the window then stops curating, says so
  and offers to reopen the folder.
- Data changed since the result was made: the export (on its worker) refuses, naming the
  files, as `dant export` does.
The messages are in docs/errors.md (GW01-GW03).
"""

from __future__ import annotations

from pathlib import Path

from dant_core.curation_log import ResultReplaced, kept_copy_path

from . import dialogs

SKIPPED_TITLE = "Lines of the curation log cannot be used"
REPLACED_TITLE = "Result replaced"
_SHOWN_LINES = 10  # lines listed in the dialog's text; all of them in its details
_SHOWN_CHARS = 160


def skipped_lines_text(log_path, skipped, copy_path) -> str:
    """The question of the set-aside dialog (docs/errors.md GW01)."""
    n = len(skipped)
    listed = "\n".join(
        f"line {s.number}: {_cut(s.text)}\n    ({s.problem})" for s in skipped[:_SHOWN_LINES]
    )
    more = f"\n... and {n - _SHOWN_LINES} more lines" if n > _SHOWN_LINES else ""
    return (
        f"{log_path}: {n} line{'s' if n != 1 else ''} cannot be used, so the curation cannot be "
        f"exported as it is:\n\n{listed}{more}\n\n"
        f"Set {'them' if n != 1 else 'it'} aside and export? The log as it is now is kept whole "
        f"as {copy_path}. The clusters shown stay as they are: they already leave "
        f"{'these lines' if n != 1 else 'this line'} out."
    )


def _curator(window):
    """The curation of the session shown (None: no session, or not curated)."""
    session = window.controller.session
    return None if session is None else session.curator


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def warn_skipped_lines(window, warned: set[int]) -> None:
    """When a log is opened: say once per curator which lines were skipped (the clusters
    shown leave them out); Export then offers to set them aside. `warned`: curator ids."""
    curator = _curator(window)
    if curator is None or not curator.warnings or id(curator) in warned:
        return
    warned.add(id(curator))
    n = len(curator.warnings)
    dialogs.warning(
        window,
        "Curation log",
        f"{n} line{'s' if n != 1 else ''} of {curator.log_path.name} could not be used and "
        "were skipped; the clusters shown leave them out:\n\n" + "\n".join(curator.warnings[:5]),
        detail="\n".join(curator.warnings),
    )


def set_aside_skipped_lines(window) -> bool:
    """Before an export: when the log has lines an export refuses, ask to set them aside
    (then do it). True: the export may go on."""
    c = window.controller
    curator = _curator(window)
    if curator is None or not curator.skipped:
        return True
    copy_path = kept_copy_path(curator.log_path)
    text = skipped_lines_text(curator.log_path, curator.skipped, copy_path)
    detail = "\n".join(f"line {s.number}: {s.text}\n    {s.problem}" for s in curator.skipped)
    if not dialogs.ask(window, dialogs.DialogRequest("question", SKIPPED_TITLE, text, detail)):
        return False
    n = len(curator.skipped)
    try:
        curator.set_aside_skipped(copy_path)
    except OSError as exc:
        dialogs.error(window, SKIPPED_TITLE, f"{curator.log_path}: cannot be rewritten ({exc})")
        return False
    c.run_log.emit(
        f"Set {n} unusable line(s) of {curator.log_path} aside; the log as it was is kept "
        f"as {copy_path}"
    )
    return True


def stop_curating(window, exc: ResultReplaced) -> None:
    """The result under the window was replaced: curate no more, say so, offer to reopen."""
    c = window.controller
    session = c.session
    folder = c.output_folder
    if session is not None:
        session.close()  # releases the folder's lock; nothing more is logged here
        session.read_only_reason = str(exc)
    c.curation_changed.emit()
    window.statusBar().showMessage("Curation stopped: the result was replaced by another program")
    text = f"{exc}.\n\nReopen {folder} now?"
    if dialogs.question(window, REPLACED_TITLE, text) and folder is not None:
        window.open_folder(Path(folder))


def ready_to_export(window) -> bool:
    """On the UI thread, before the export's worker starts: the result is the one opened
    and the log holds no line the export refuses (or the user set them aside)."""
    curator = _curator(window)
    if curator is None:
        return True  # the controller says what to do first
    try:
        curator.check_result_unchanged()
    except ResultReplaced as exc:
        stop_curating(window, exc)
        return False
    return set_aside_skipped_lines(window)


def changed_data_message(output_folder, data_folder, files) -> str:
    """The export's refusal when the data folder changed (docs/errors.md GW03)."""
    from dant_core.data_fingerprint import stale_text

    return (
        f"{stale_text(output_folder, data_folder, files)}. These clusters were made from the "
        "data as it was, so they are not exported: run the tracking again (Run) and curate "
        "the new clusters"
    )


def export_checked(session) -> str:
    """On the export's worker: refuse (StaleResultError) when the data folder changed since
    the result was made, or (ResultReplaced) when the result was replaced; else export."""
    from dant_core.data_fingerprint import StaleResultError, stale_files

    curator = session.require_curator()
    changed = stale_files(session.result)
    if changed:
        raise StaleResultError(
            changed_data_message(curator.output_folder, session.result.data_folder, changed)
        )
    curator.check_result_unchanged()
    return session.export_files()
