"""Plausibility checks (dant_core/plausibility.py): the classic unit and geometry mistakes
are refused or warned about, and real probe geometries and the shared data never are.

The refusals are rows D27-D40 of docs/errors.md, run through the CLI by test_errors.py.
The warnings are the W rows: here each W case breaks a copy of a small demo folder and the
warning the run logs must equal the documented text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from dant_core.dataset import check_dataset_for_settings, load_dataset
from dant_core.errors import DatasetError
from dant_core.pipeline import run_tracking
from dant_core.settings import Settings
from dant_core.synthetic import make_demo

from .test_errors import documented_rows

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("DANT_FIXTURES", ROOT.parent / "shared" / "fixtures"))

# ------------------------------------------------------------------------------------------
# real probe geometries with physically modelled footprints
# ------------------------------------------------------------------------------------------


def np1(n_channel: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """Neuropixels 1.0: 4 staggered columns (x 16/48 on even rows, 0/32 on odd), 20 µm rows."""
    k = np.arange(n_channel)
    row = k // 2
    x = np.where(row % 2 == 0, np.where(k % 2 == 0, 16.0, 48.0), np.where(k % 2 == 0, 0.0, 32.0))
    return np.column_stack((x, 20.0 * row)), np.ones(n_channel, dtype=np.int64)


def np2(n_channel: int = 384, n_shank: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Neuropixels 2.0: 2 columns 32 µm apart, 15 µm rows; shanks 250 µm apart."""
    per = n_channel // n_shank
    k = np.arange(per)
    one = np.column_stack((32.0 * (k % 2), 15.0 * (k // 2)))
    locs = np.concatenate([one + [250.0 * s, 0.0] for s in range(n_shank)])
    return locs, np.repeat(np.arange(1, n_shank + 1), per).astype(np.int64)


def spikes_on(locations, shanks, n_unit, rng) -> np.ndarray:
    """(n_unit, n_channel, 60) µV: monopoles 15-60 µm from the shank, amplitude ~ 1/r, noise."""
    t = np.arange(60)
    shape = -np.exp(-0.5 * ((t - 20) / 2.0) ** 2) + 0.4 * np.exp(-0.5 * ((t - 28) / 5.0) ** 2)
    out = np.empty((n_unit, len(locations), t.size), dtype=np.float32)
    for u in range(n_unit):
        on = np.flatnonzero(shanks == rng.choice(np.unique(shanks)))
        x0 = rng.uniform(locations[on, 0].min() - 10, locations[on, 0].max() + 10)
        y0 = rng.uniform(locations[on, 1].min(), locations[on, 1].max())
        r = np.sqrt(
            (locations[:, 0] - x0) ** 2 + (locations[:, 1] - y0) ** 2 + rng.uniform(15, 60) ** 2
        )
        amp = rng.uniform(800, 6000) / r
        out[u] = amp[:, None] * shape + rng.normal(0, 3.0, (len(locations), t.size))
    return out


def write(folder: Path, locations, shanks, rng, n_unit=60, shank_file=True) -> Path:
    """A data folder on this geometry: 3 sessions, ms spike trains with refractoriness."""
    (folder / "spike_times").mkdir(parents=True)
    np.save(folder / "waveform_all.npy", spikes_on(locations, shanks, n_unit, rng))
    np.save(folder / "session_index.npy", np.repeat([1, 2, 3], n_unit // 3))
    np.save(folder / "channel_locations.npy", locations)
    if shank_file and np.unique(shanks).size > 1:
        np.save(folder / "channel_shanks.npy", shanks)
    for k in range(n_unit):
        times = np.cumsum(1.5 + rng.exponential(rng.uniform(20, 400), rng.integers(50, 3000)))
        np.save(folder / "spike_times" / f"Unit{k}.npy", times)
    return folder


GEOMETRIES: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "NP1 384 channels": lambda: np1(384),
    "NP1 96 channels": lambda: np1(96),
    "NP2 384 channels": lambda: np2(384),
    "NP2 4 shanks": lambda: np2(384, 4),
    "NP2 2 shanks": lambda: np2(192, 2),
}


@pytest.mark.parametrize("shank_file", [True, False])
@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_real_probe_geometries_are_accepted_without_a_warning(tmp_path, name, shank_file):
    locations, shanks = GEOMETRIES[name]()
    rng = np.random.default_rng(3)
    data = load_dataset(write(tmp_path / "d", locations, shanks, rng, shank_file=shank_file))
    assert data.warnings == ()


@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_the_same_geometries_with_the_classic_mistakes_are_refused(tmp_path, name):
    locations, shanks = GEOMETRIES[name]()
    rng = np.random.default_rng(4)
    folder = write(tmp_path / "d", locations, shanks, rng)
    mistakes = {
        "look like mm, not µm": locations / 1000.0,
        "x and y look swapped": locations[:, ::-1],
        "a shuffled channel map|do not belong to these channels": locations[
            rng.permutation(len(locations))
        ],
    }
    for expected, wrong in mistakes.items():
        np.save(folder / "channel_locations.npy", np.ascontiguousarray(wrong))
        with pytest.raises(DatasetError, match=expected):
            load_dataset(folder)


@pytest.mark.parametrize("name", ["p1", "p2"])
def test_the_shared_fixtures_are_accepted_without_a_warning(name):
    folder = FIXTURES / name
    if not folder.is_dir():
        pytest.skip("shared fixtures not available")
    assert load_dataset(folder).warnings == ()


@pytest.mark.parametrize("shanks", [1, 2])
def test_the_demo_is_accepted_without_a_warning(tmp_path, shanks):
    make_demo(tmp_path / "d", n_units=200, n_sessions=4, seed=5, n_shanks=shanks)
    assert load_dataset(tmp_path / "d").warnings == ()


# ------------------------------------------------------------------------------------------
# the documented warnings (W rows of docs/errors.md)
# ------------------------------------------------------------------------------------------

WARNINGS: dict[str, Callable[[Path], None]] = {}


def warning_case(case_id: str):
    def register(fn):
        WARNINGS[case_id] = fn
        return fn

    return register


def _edit(path: Path, change) -> None:
    np.save(path, change(np.load(path)))


def _spike_files(data: Path):
    return sorted((data / "spike_times").iterdir())


@warning_case("W01")
def _(data):
    _edit(data / "channel_locations.npy", lambda c: c * 10.0)


@warning_case("W02")
def _(data):
    def same(c):
        c[5] = c[4]
        return c

    _edit(data / "channel_locations.npy", same)


@warning_case("W03")
def _(data):
    rng = np.random.default_rng(0)

    def shuffle_a_fifth(c):
        idx = np.arange(len(c))
        chosen = rng.choice(len(c), len(c) // 5, replace=False)
        idx[chosen] = chosen[rng.permutation(chosen.size)]
        return c[idx]

    _edit(data / "channel_locations.npy", shuffle_a_fifth)


@warning_case("W04")
def _(data):
    rng = np.random.default_rng(0)
    _edit(
        data / "waveform_all.npy",
        lambda w: (w + rng.normal(0, 150.0, (1, w.shape[1], 1))).astype(np.float32),
    )


@warning_case("W05")
def _(data):
    for f in _spike_files(data):
        _edit(f, lambda t: np.round(t * 30.0).astype(np.int64))


@warning_case("W06")
def _(data):
    _edit(data / "spike_times" / "Unit4.npy", lambda t: np.sort(np.r_[t, t[:3]]))


@warning_case("W07")
def _(data):
    def empty(p):
        p[[3, 7]] = np.nan
        return p

    _edit(data / "peth.npy", empty)


@warning_case("W08")
def _(data):
    for f in _spike_files(data):  # 1 spike in 20 of the demo's: ISIs of 1-20 s, as "ms"
        _edit(f, lambda t: t[::20] / 1000.0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The data folder test_errors.py breaks: 60 units, 3 sessions, 96 channels."""
    folder = tmp_path_factory.mktemp("plausibility") / "data"
    make_demo(folder, n_units=60, n_sessions=3, seed=1, n_channels=96)
    return folder


def test_every_warning_is_documented_and_every_row_tested():
    assert sorted(documented_rows(warnings=True)) == sorted(WARNINGS)


@pytest.mark.parametrize("case_id", sorted(WARNINGS))
def test_documented_warning_is_what_the_run_logs(case_id, demo, tmp_path):
    data = Path(shutil.copytree(demo, tmp_path / "data"))
    WARNINGS[case_id](data)
    dataset = load_dataset(data)
    logged = [f"warning: {w}" for w in check_dataset_for_settings(dataset, Settings.defaults())]
    _, documented, _ = documented_rows(warnings=True)[case_id]
    assert documented in logged, f"docs/errors.md {case_id} says\n  {documented}\nlogged:\n" + (
        "\n".join(logged)
    )


def test_the_clean_demo_logs_no_warning(demo):
    assert check_dataset_for_settings(load_dataset(demo), Settings.defaults()) == []


def test_a_warning_reaches_the_cli_user_and_the_run_goes_on(demo, tmp_path):
    data = Path(shutil.copytree(demo, tmp_path / "data"))
    WARNINGS["W06"](data)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dant_core.cli",
            "track",
            str(data),
            "--output",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert documented_rows(warnings=True)["W06"][1] in proc.stderr.splitlines()
    assert (tmp_path / "o" / "IdxCluster.npy").is_file()


def test_units_with_an_all_nan_peth_no_longer_stop_the_run(demo, tmp_path):
    """A few all-NaN PETH rows used to abort the whole run (peth.npy: units a and b have no
    PETH bin valid in both); their PETH similarity now counts as 0, as in pyDANT."""
    data = Path(shutil.copytree(demo, tmp_path / "data"))
    WARNINGS["W07"](data)
    logged: list[str] = []
    result = run_tracking(load_dataset(data), Settings.defaults(), log=logged.append)
    assert result.idx_cluster.shape == (60,)
    assert documented_rows(warnings=True)["W07"][1] in logged
    # The units whose PETH is missing are still matched by their other features.
    assert (result.idx_cluster[[3, 7]] > 0).any()


# ------------------------------------------------------------------------------------------
# the thresholds at their edges
# ------------------------------------------------------------------------------------------


def test_dense_probes_and_few_units_are_not_judged(tmp_path):
    """Neuropixels Ultra (6 µm pitch) is a real probe; fewer than 20 units give no verdict
    on the channel map, and fewer than 5 timed units none on the spike-time unit."""
    rng = np.random.default_rng(1)
    k = np.arange(384)
    ultra = np.column_stack((6.0 * (k % 8), 6.0 * (k // 8)))
    folder = write(tmp_path / "u", ultra, np.ones(384, dtype=np.int64), rng)
    assert load_dataset(folder).warnings == ()
    locations, shanks = np1(96)
    few = write(tmp_path / "f", locations[rng.permutation(96)], shanks, rng, n_unit=12)
    for f in _spike_files(few)[:4]:
        _edit(f, lambda t: t / 1000.0)
    assert load_dataset(few).warnings == ()


def test_spike_times_in_seconds_are_refused_or_warned_about(tmp_path):
    locations, shanks = np1(96)
    rng = np.random.default_rng(2)
    folder = write(tmp_path / "d", locations, shanks, rng)
    for f in _spike_files(folder):  # 0.5 spikes/s: median ISI ~2 s, still plausible in ms
        _edit(f, lambda t: np.cumsum(1.5 + rng.exponential(2000.0, 60)))
    assert load_dataset(folder).warnings == ()
    for f in _spike_files(folder):
        _edit(f, lambda t: t / 1000.0)
    # A median interval of ~1.4 "ms" is possible (bursts); an hour in 3.6 s is the clue.
    (warning,) = load_dataset(folder).warnings
    assert "the spike times look like seconds" in warning
    for f in _spike_files(folder):  # 20 spikes/s in seconds: faster than any neuron in ms
        _edit(f, lambda t: np.cumsum(0.0015 + rng.exponential(0.05, 300)))
    with pytest.raises(DatasetError, match="look like seconds, not ms"):
        load_dataset(folder)


def test_misnamed_spike_files_say_what_was_found(tmp_path):
    locations, shanks = np1(96)
    folder = write(tmp_path / "d", locations, shanks, np.random.default_rng(0), n_unit=6)
    for f in _spike_files(folder):
        k = int(f.stem[4:])
        f.rename(f.with_name(f"Unit{k:03d}.npy"))
    with pytest.raises(DatasetError, match=r"found 6 file\(s\) named like 'Unit000.npy'"):
        load_dataset(folder)
