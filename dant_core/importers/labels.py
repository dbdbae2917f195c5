"""Unit labels of a Kilosort/phy folder.

Kilosort writes `cluster_KSLabel.tsv` (column `KSLabel`); phy writes the curator's labels to
`cluster_group.tsv` (column `group`), which override Kilosort's; Kilosort 4 also writes a
`cluster_group.tsv` whose column is `KSLabel`, which is read as a label file too.
"""

from __future__ import annotations

from pathlib import Path

from .common import ImportDataError

UNLABELLED = "unsorted"


def read_tsv_labels(path: Path) -> tuple[dict[int, str], str]:
    """({cluster_id: label}, column) of a cluster_*.tsv with a label column."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines:
        raise ImportDataError(f"{path}: is empty (expected a header cluster_id<TAB>label)")
    header = [h.strip() for h in lines[0].split("\t")]
    if "cluster_id" not in header and "id" not in header:
        raise ImportDataError(f"{path}: the header has no cluster_id column ({lines[0]!r})")
    key = header.index("cluster_id" if "cluster_id" in header else "id")
    for column in ("group", "KSLabel", "label", "quality"):
        if column in header:
            col = header.index(column)
            break
    else:
        raise ImportDataError(
            f"{path}: no label column (group or KSLabel) in the header ({lines[0]!r})"
        )
    labels: dict[int, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        try:
            cid = int(float(parts[key]))
        except (ValueError, IndexError):
            raise ImportDataError(f"{path}: line {number}: not a cluster id ({line!r})") from None
        labels[cid] = parts[col].strip() if col < len(parts) and parts[col].strip() else UNLABELLED
    return labels, header[col]


def folder_labels(folder: Path) -> tuple[dict[int, str], list[str]]:
    """({cluster_id: label}, files read in order of precedence, lowest first)."""
    labels: dict[int, str] = {}
    used: list[str] = []
    for name in ("cluster_KSLabel.tsv", "cluster_group.tsv"):
        path = folder / name
        if path.is_file():
            found, column = read_tsv_labels(path)
            labels.update(found)
            used.append(f"{name} ({column})")
    return labels, used
