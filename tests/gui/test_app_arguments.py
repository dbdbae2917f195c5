"""`dant-gui` with a bad argument ends as `dant` does: one `error:` line naming it, exit 2, no
usage block, before Qt starts (docs/errors.md GQ02-GQ03)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dant_gui.app import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def documented(row_id: str) -> str:
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        m = re.match(rf"^\|\s*{row_id}\s*\|(.*)\|\s*$", line.strip())
        if m:
            return re.split(r"(?<!\\)\|", m.group(1))[1].strip().strip("`")
    raise AssertionError(f"{row_id} is not in {DOCS.name}")


@pytest.mark.parametrize(
    "row_id, argv", [("GQ02", ["--bogus"]), ("GQ03", ["--select-cluster", "x"])]
)
def test_a_bad_argument_is_one_error_line(row_id, argv, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [documented(row_id)] and captured.out == ""
