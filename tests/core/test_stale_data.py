"""A result remembers the data it was made from: `dant export` refuses changed data.

The bug (issue 13, "stale results"): after the data folder was re-exported with the same
number of units, `dant export` applied the old clusters to the new data without a word.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main
from dant_core.pydant_output import RESULT_FILE


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> Path:
    """A data folder and the output folder of a run on it (module-wide, copied per test)."""
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings
    from dant_core.synthetic import make_demo

    root = tmp_path_factory.mktemp("stale")
    make_demo(root / "data", n_units=60, n_sessions=3, seed=3)
    result = run_tracking(load_dataset(root / "data"), Settings.defaults())
    result.save(root / "data" / "DANT_Output")
    return root / "data"


@pytest.fixture
def data(tracked, tmp_path) -> Path:
    """A fresh copy of the data folder with its results inside (the run recorded the copy's
    path as the original's, so the copy's results are opened against the copy here)."""
    return Path(shutil.copytree(tracked, tmp_path / "data"))


def _export(data: Path, *extra: str) -> int:
    out = data / "DANT_Output"
    # The record names the data folder it was made from: point it at this copy.
    record = dict(np.load(out / RESULT_FILE, allow_pickle=False))
    record["data_folder"] = np.array(str(data.resolve()))
    np.savez(out / RESULT_FILE, **record)
    return main(["export", str(out), *extra])


def test_export_of_unchanged_data_succeeds(data):
    assert _export(data) == 0


def test_re_exported_data_with_the_same_unit_count_is_refused(data, tmp_path, capsys):
    from dant_core.synthetic import make_demo

    before = np.load(data / "waveform_all.npy")
    # The user re-exports the data folder: same sizes, other content.
    make_demo(data.parent / "new", n_units=60, n_sessions=3, seed=4)
    for f in (data.parent / "new").iterdir():
        if f.is_dir():
            shutil.copytree(f, data / f.name, dirs_exist_ok=True)
        else:
            shutil.copy(f, data / f.name)
    assert np.load(data / "waveform_all.npy").shape == before.shape
    capsys.readouterr()
    assert _export(data) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ")
    assert "waveform_all.npy" in err[-1]
    assert "dant track" in err[-1] and "--allow-changed-data" in err[-1]
    assert not (data / "DANT_Output" / "IdxCluster_auto.npy").exists()  # nothing exported


def test_one_changed_spike_file_is_named(data, capsys):
    path = data / "spike_times" / "Unit7.npy"
    times = np.load(path)
    np.save(path, times + 1.0)  # same size, other content
    capsys.readouterr()
    assert _export(data) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "spike_times/Unit7.npy" in err
    assert "waveform_all.npy" not in err


def test_the_flag_exports_anyway_with_a_warning(data, capsys):
    w = data / "waveform_all.npy"
    np.save(w, np.load(w) * 2)
    capsys.readouterr()
    assert _export(data, "--allow-changed-data") == 0
    assert "warning:" in capsys.readouterr().err


def test_results_made_before_fingerprints_are_exported(data, capsys):
    out = data / "DANT_Output"
    record = dict(np.load(out / RESULT_FILE, allow_pickle=False))
    assert "data_fingerprint" in record
    del record["data_fingerprint"]
    np.savez(out / RESULT_FILE, **record)
    w = data / "waveform_all.npy"
    np.save(w, np.load(w) * 2)  # cannot be noticed without a fingerprint
    assert _export(data) == 0
