"""Every modal dialog of the app goes through `ask`, so tests can answer it.

Set `dialogs.hook = fn(request) -> answer` to intercept: `request` is a `DialogRequest`
(kind, title, text, detail); the answer is what the dialog would have returned
(None for a message, bool for a question, a path or None for file choosers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtWidgets import QFileDialog, QMessageBox, QWidget


@dataclass(frozen=True)
class DialogRequest:
    kind: (
        str  # "error" | "warning" | "info" | "question" | "open_folder" | "open_file" | "save_file"
    )
    title: str
    text: str
    detail: str = ""
    file_filter: str = ""
    start: str = ""


hook: Callable[[DialogRequest], object] | None = None


def ask(parent: QWidget | None, request: DialogRequest):
    """Show one dialog (or hand it to `hook`) and return its answer."""
    if hook is not None:
        return hook(request)
    kind = request.kind
    if kind in ("error", "warning", "info", "question"):
        icon = {
            "error": QMessageBox.Icon.Critical,
            "warning": QMessageBox.Icon.Warning,
            "info": QMessageBox.Icon.Information,
            "question": QMessageBox.Icon.Question,
        }[kind]
        box = QMessageBox(icon, request.title, request.text, parent=parent)
        if request.detail:
            box.setDetailedText(request.detail)
        if kind == "question":
            box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
            return box.exec() == QMessageBox.StandardButton.Yes
        box.exec()
        return None
    if kind == "open_folder":
        path = QFileDialog.getExistingDirectory(parent, request.title, request.start)
    elif kind == "open_file":
        path, _ = QFileDialog.getOpenFileName(
            parent, request.title, request.start, request.file_filter
        )
    elif kind == "save_file":
        path, _ = QFileDialog.getSaveFileName(
            parent, request.title, request.start, request.file_filter
        )
    else:
        raise ValueError(f"unknown dialog kind {kind!r}")
    return Path(path) if path else None


def error(parent, title: str, text: str, detail: str = "") -> None:
    ask(parent, DialogRequest("error", title, text, detail))


def warning(parent, title: str, text: str, detail: str = "") -> None:
    ask(parent, DialogRequest("warning", title, text, detail))


def info(parent, title: str, text: str) -> None:
    ask(parent, DialogRequest("info", title, text))


def question(parent, title: str, text: str) -> bool:
    return bool(ask(parent, DialogRequest("question", title, text)))


def open_folder(parent, title: str, start: str = "") -> Path | None:
    return ask(parent, DialogRequest("open_folder", title, "", start=start))


def open_file(parent, title: str, file_filter: str, start: str = "") -> Path | None:
    return ask(parent, DialogRequest("open_file", title, "", file_filter=file_filter, start=start))


def save_file(parent, title: str, file_filter: str, start: str = "") -> Path | None:
    return ask(parent, DialogRequest("save_file", title, "", file_filter=file_filter, start=start))
