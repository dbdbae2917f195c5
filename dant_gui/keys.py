"""The window's keys, declared once: the curation keys make the QActions, their tooltips,
the Curate menu, Help ▸ Keyboard shortcuts and the README table."""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QKeySequence

# The curation keys, declared once: they make the QActions, their tooltips, the Curate menu,
# Help ▸ Keyboard shortcuts and the README table.


@dataclass(frozen=True)
class CurationKey:
    name: str  # what the window does (a controller selection action, or its own)
    text: str  # menu text
    keys: tuple[str, ...]  # QKeySequence strings, the first shown in the menu
    short: str  # one line for the shortcuts list
    tip: str  # the full story, in the status bar when the selection gives nothing to do


CURATION_KEYS = (
    CurationKey(
        "next",
        "&Next cluster",
        ("Down", "N", "PgDown"),
        "next cluster in the cluster table's order",
        "Select the next cluster in the cluster table's order (sorting and filters included); "
        "in another list the arrow keys move within that list, N always changes cluster",
    ),
    CurationKey(
        "previous",
        "&Previous cluster",
        ("Up", "P", "PgUp"),
        "previous cluster",
        "Select the previous cluster in the cluster table's order",
    ),
    CurationKey(
        "reject",
        "&Reject units",
        ("R", "Del"),
        "selected units become unmatched",
        "Make the selected units unmatched: units picked in the cluster detail table (or the "
        "selected pair); a cluster picked in the table is not rejected as a whole",
    ),
    CurationKey(
        "reject_pair",
        "Reject &pair",
        ("X",),
        "the selected pair is not one neuron: split their cluster",
        "The selected pair (similarity matrix) is not one neuron: their cluster splits in "
        "two, every other unit going with the one it is more similar to",
    ),
    CurationKey(
        "split",
        "&Split off",
        ("K",),
        "selected units become a cluster of their own",
        "The selected units (cluster detail table) become a cluster of their own",
    ),
    CurationKey(
        "merge",
        "&Merge",
        ("G",),
        "merge two selected clusters, or the clusters of the pair",
        "Merge the two selected clusters (Ctrl+click two rows of the cluster table), or the "
        "clusters of the selected pair; refused if they share a session",
    ),
    CurationKey(
        "add",
        "&Add unit",
        ("A",),
        "the pair's unit outside the selected cluster joins it",
        "Move the unit of the selected pair that is outside the selected cluster into it",
    ),
    CurationKey(
        "reviewed",
        "Reviewed, &then next",
        ("L", "Ctrl+R"),
        "mark the cluster reviewed, go to the next in the queue",
        "Mark the selected cluster reviewed and select the next one in the review queue",
    ),
    CurationKey("undo", "&Undo", ("Ctrl+Z",), "undo (unlimited)", "Take back the last action"),
    CurationKey(
        "redo",
        "Re&do",
        ("Ctrl+Shift+Z", "Ctrl+Y"),
        "redo",
        "Bring back the last undone action",
    ),
    CurationKey(
        "export",
        "&Export",
        ("Ctrl+S",),
        "write the curated IdxCluster.npy to the output folder",
        "Write the curated IdxCluster.npy, MatchedPairs.npy and ClusterMatrix.npy to the "
        "output folder (the automatic clusters stay in IdxCluster_auto.npy)",
    ),
)
OTHER_KEYS = (
    ("Ctrl+O", "Open a data folder"),
    ("F5", "Run tracking"),
    ("F1", "This list of keyboard shortcuts"),
    ("Ctrl+Q", "Quit"),
)
# Bare keys give way to a focused text field, and to the settings form, so typing there
# never curates; arrow keys also give way to other lists and text views.
NAVIGATION_KEYS = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown}


def bare_keys() -> set:
    """The keys of CURATION_KEYS pressed without a modifier (Qt.Key values)."""
    keys = set()
    for entry in CURATION_KEYS:
        for text in entry.keys:
            combo = QKeySequence(text)[0]
            if combo.keyboardModifiers() == Qt.KeyboardModifier.NoModifier:
                keys.add(combo.key())
    return keys


def shortcuts_markdown() -> str:
    """The keyboard shortcuts as a Markdown table (for the README)."""
    rows = ["| keys | action |", "|---|---|"]
    for entry in CURATION_KEYS:
        keys = ", ".join(f"`{k}`" for k in entry.keys)
        rows.append(f"| {keys} | **{entry.text.replace('&', '')}**: {entry.tip} |")
    for key, tip in OTHER_KEYS:
        rows.append(f"| `{key}` | {tip} |")
    return "\n".join(rows)


__all__ = [
    "CURATION_KEYS",
    "NAVIGATION_KEYS",
    "OTHER_KEYS",
    "CurationKey",
    "bare_keys",
    "shortcuts_markdown",
]
