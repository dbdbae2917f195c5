"""A result folder is recognised by its content and leads back to its data folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dant_core.errors import DatasetError
from dant_core.result_folder import data_folder_of, is_result_folder
from dant_core.results import load_result
from tests.core.fixtures import fixtures_dir

DATA_FILES = ("waveform_all.npy", "session_index.npy", "channel_locations.npy", "peth.npy")


def _pydant_output(dst: Path) -> Path:
    """A writable copy of a real pyDANT output folder at `dst`."""
    dst.mkdir(parents=True)
    for path in (fixtures_dir() / "p1" / "pydant_A").iterdir():
        shutil.copyfile(path, dst / path.name)
    return dst


def _data(dst: Path) -> Path:
    """A writable copy of that output's data folder at `dst` (spike times as a link)."""
    p1 = fixtures_dir() / "p1"
    dst.mkdir(parents=True)
    for name in DATA_FILES:
        shutil.copyfile(p1 / name, dst / name)
    (dst / "spike_times").symlink_to(p1 / "spike_times")
    return dst


def test_data_folders_are_not_result_folders_and_pydants_output_is(tmp_path):
    data = _data(tmp_path / "rec")
    out = _pydant_output(data / "anything")
    assert is_result_folder(out) and not is_result_folder(data)
    (out / "motion_linear.npy").unlink()  # IdxCluster.npy alone is not pyDANT's output
    assert not is_result_folder(out)


def test_pydants_path_to_data_is_read_relative_to_where_pyDANT_ran(tmp_path):
    data = _data(tmp_path / "rec")
    out = _pydant_output(data / "out" / "renamed")
    settings = json.loads((out / "settings.json").read_text())
    settings.update(path_to_data="rec", output_folder="rec/out/run1")  # pyDANT ran in tmp_path
    (out / "settings.json").write_text(json.dumps(settings))
    assert data_folder_of(out) == data
    result = load_result(out)
    np.testing.assert_array_equal(result.idx_cluster, np.load(out / "IdxCluster.npy"))
    assert not result.corrected_saved  # pyDANT saved no waveforms_corrected.npy here


def test_a_pydant_output_away_from_its_data_says_what_to_do(tmp_path):
    _data(tmp_path / "rec")
    out = _pydant_output(tmp_path / "elsewhere" / "results")
    with pytest.raises(DatasetError) as caught:
        data_folder_of(out)
    text = str(caught.value)
    assert str(out) in text and "324 units" in text and str(tmp_path / "elsewhere") in text
    assert "move this folder into its data folder, or set path_to_data" in text
