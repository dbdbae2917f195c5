"""What `pip install .` (not editable) puts in place: every folder of Python code is a
listed package. A subpackage missing from pyproject.toml installs without its modules, and
`dant-gui --demo --run` from the README then fails on import (dant_core.report once did)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_code_folder_is_an_installed_package():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    code = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("dant_core", "dant_gui", "resources")
        for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert code - listed == set(), "folders of code that pip install . would leave out"
    assert all((ROOT / name.replace(".", "/") / "__init__.py").is_file() for name in listed)
