"""Bad input never costs the user their work: every row of docs/errors.md through the CLI,
interrupted runs (kill -9), output-folder problems and run-to-run determinism.

The table in docs/errors.md is the reference: each row (id | bad input | exact message |
GUI) is run here as `python -m dant_core.cli ...` and the message the user sees must equal
the documented one, so the two cannot drift apart. Every case id below must have a row and
every row a case.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main as dant_main
from dant_core.output_folder import finish_interrupted_saves
from dant_core.results import has_results
from dant_core.synthetic import make_demo

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "errors.md"
CLI = [sys.executable, "-m", "dant_core.cli"]
# Runs the CLI after `prelude` (python that simulates a disk problem) in a fresh process.
RUNNER = "import sys\n{prelude}\nfrom dant_core.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _permissions_ignored() -> bool:
    """True when this process can write into a read-only folder (root, CAP_DAC_OVERRIDE)."""
    with tempfile.TemporaryDirectory() as tmp:
        locked = Path(tmp) / "locked"
        locked.mkdir(mode=0o555)
        try:
            (locked / "probe").write_text("x")
        except PermissionError:
            return False
        finally:
            locked.chmod(0o755)
        return True


PERMISSIONS_IGNORED = _permissions_ignored()

# ------------------------------------------------------------------------------------------
# the documented table
# ------------------------------------------------------------------------------------------

_ROW = re.compile(r"^\|\s*([A-Z]\d\d)\s*\|(.*)\|\s*$")


def _cells(rest: str) -> list[str]:
    """Split the table cells after the id, honouring `\\|` escapes."""
    cells = re.split(r"(?<!\\)\|", rest)
    return [c.strip().replace("\\|", "|") for c in cells]


def documented_rows(warnings: bool = False) -> dict[str, tuple[str, str, str]]:
    """id -> (bad input, exact stderr line, GUI) from the tables in docs/errors.md: the
    errors, or with `warnings` the W rows (tests/core/test_plausibility.py checks those)."""
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line.strip())
        if not m or m.group(1).startswith("W") != warnings:
            continue
        what, message, gui = _cells(m.group(2))
        assert message.startswith("`") and message.endswith("`"), line
        assert m.group(1) not in rows, f"{m.group(1)} appears twice in {DOCS.name}"
        rows[m.group(1)] = (what, message[1:-1], gui)
    return rows


# ------------------------------------------------------------------------------------------
# the cases: each breaks one thing in a fresh copy of valid inputs and returns CLI arguments
# ------------------------------------------------------------------------------------------


@dataclass
class Env:
    """A fresh folder for one case: a valid data folder, a tracked output, free paths."""

    root: Path
    data: Path  # a valid data folder (copy)
    out: Path  # an output path that does not exist yet
    run: Path  # a copy of a complete tracking output (made from `rundata`)
    rundata: Path  # the data folder `run` was made from (shared; never modified)
    prelude: str = ""

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def motion(self) -> Path:
        return self.root / "motion.npy"

    @property
    def log(self) -> Path:
        return self.root / "my_curation.jsonl"

    def track(self, *extra: str, settings: dict | str | None = None) -> list[str]:
        args = ["track", str(self.data), "--output", str(self.out), *extra]
        if settings is not None:
            text = settings if isinstance(settings, str) else json.dumps(settings)
            self.settings.write_text(text, encoding="utf-8")
            args += ["--settings", str(self.settings)]
        return args

    def export(self, lines: list | None = None, *extra: str) -> list[str]:
        if lines is not None:
            (self.run / "curation.jsonl").write_text(
                "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines)
            )
        return ["export", str(self.run), *extra]

    def placeholders(self) -> dict[str, str]:
        return {
            "{data}": str(self.data),
            "{out}": str(self.out),
            "{run}": str(self.run),
            "{rundata}": str(self.rundata),
            "{settings}": str(self.settings),
            "{motion}": str(self.motion),
            "{log}": str(self.log),
            "{root}": str(self.root),
        }


CASES: dict[str, Callable[[Env], list[str]]] = {}


def case(case_id: str):
    def register(fn):
        assert case_id not in CASES
        CASES[case_id] = fn
        return fn

    return register


def _npy(path: Path, array) -> None:
    np.save(path, np.asarray(array))


def _edit(path: Path, change: Callable[[np.ndarray], np.ndarray | None]) -> None:
    array = np.load(path)
    changed = change(array)
    np.save(path, array if changed is None else changed)


# -- the data folder -----------------------------------------------------------------------


@case("D01")
def _(env):
    shutil.rmtree(env.data)
    return env.track()


@case("D02")
def _(env):
    shutil.rmtree(env.data)
    env.data.write_text("not a folder")
    return env.track()


@case("D03")
def _(env):
    (env.data / "waveform_all.npy").unlink()
    return env.track()


@case("D04")
def _(env):
    (env.data / "waveform_all.npy").write_text("1, 2, 3\n")
    return env.track()


@case("D05")
def _(env):
    np.save(env.data / "waveform_all.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return env.track()


@case("D06")
def _(env):
    np.savez(env.data / "waveform_all.npy", w=np.zeros((2, 2, 2)))
    os.replace(env.data / "waveform_all.npy.npz", env.data / "waveform_all.npy")
    return env.track()


@case("D07")
def _(env):
    _edit(env.data / "waveform_all.npy", lambda w: w[:, :, 0])
    return env.track()


@case("D08")
def _(env):
    def poke(w):
        w[4, 10, 20] = np.nan

    _edit(env.data / "waveform_all.npy", poke)
    return env.track()


@case("D09")
def _(env):
    _edit(env.data / "waveform_all.npy", lambda w: w[:0])
    return env.track()


@case("D10")
def _(env):
    _edit(env.data / "session_index.npy", lambda s: s[:-1])
    return env.track()


@case("D11")
def _(env):
    _edit(env.data / "session_index.npy", lambda s: s - 1)
    return env.track()


@case("D12")
def _(env):
    _edit(env.data / "session_index.npy", lambda s: np.where(s == 3, 4, s))
    return env.track()


@case("D13")
def _(env):
    _edit(env.data / "session_index.npy", lambda s: np.where(np.arange(s.size) == 7, 1.5, s))
    return env.track()


@case("D14")
def _(env):
    _edit(env.data / "channel_locations.npy", lambda c: np.c_[c, np.zeros(len(c))])
    return env.track()


@case("D15")
def _(env):
    _edit(env.data / "channel_locations.npy", lambda c: c[:-2])
    return env.track()


@case("D16")
def _(env):
    _npy(env.data / "channel_shanks.npy", np.ones(10))
    return env.track()


@case("D17")
def _(env):
    _edit(env.data / "peth.npy", lambda p: p[:-1])
    return env.track()


@case("D18")
def _(env):
    def poke(p):
        p[5, 3] = np.inf

    _edit(env.data / "peth.npy", poke)
    return env.track()


@case("D19")
def _(env):
    shutil.rmtree(env.data / "spike_times")
    return env.track()


@case("D20")
def _(env):
    (env.data / "spike_times" / "Unit3.npy").unlink()
    return env.track()


@case("D21")
def _(env):
    _npy(env.data / "spike_times" / "Unit99.npy", [1.0, 2.0])
    return env.track()


@case("D22")
def _(env):
    _npy(env.data / "spike_times" / "Unit5.npy", [10.0, 20.0, np.nan, 40.0])
    return env.track()


@case("D23")
def _(env):
    _npy(env.data / "spike_times" / "Unit5.npy", ["1.0", "2.5"])
    return env.track()


@case("D24")
def _(env):
    (env.data / "peth.npy").unlink()
    return env.track()


@case("D25")
def _(env):
    return env.track(settings={"waveformCorrection": {"n_nearest_channels": 500}})


# D26 (two units sharing no valid PETH bin) is no longer an error: their PETH similarity
# counts as 0, as in pyDANT (tests/core/test_plausibility.py checks the run goes on).

# -- shapes in another order, misnamed files, damaged headers (before any plausibility) ---


@case("D27")
def _(env):
    _edit(env.data / "waveform_all.npy", lambda w: np.ascontiguousarray(w.transpose(0, 2, 1)))
    return env.track()


@case("D28")
def _(env):
    _edit(env.data / "channel_locations.npy", lambda c: np.ascontiguousarray(c.T))
    return env.track()


@case("D29")
def _(env):
    _edit(env.data / "peth.npy", lambda p: np.ascontiguousarray(p.T))
    return env.track()


@case("D30")
def _(env):
    for f in (env.data / "spike_times").iterdir():
        f.rename(f.with_name(f.name.lower()))
    return env.track()


@case("D31")
def _(env):
    folder = env.data / "spike_times"
    n = len(list(folder.iterdir()))
    for k in reversed(range(n)):
        (folder / f"Unit{k}.npy").rename(folder / f"Unit{k + 1}.npy")
    return env.track()


@case("D32")
def _(env):
    with open(env.data / "waveform_all.npy", "wb") as f:
        header = {"descr": "<f4", "fortran_order": False, "shape": (60_000_000, 96, 90)}
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 4000)
    return env.track()


# -- plausibility: what cannot be right (dant_core/plausibility.py) ------------------------


@case("D33")
def _(env):
    _edit(env.data / "channel_locations.npy", lambda c: c / 1000.0)
    return env.track()


@case("D34")
def _(env):
    _edit(env.data / "channel_locations.npy", lambda c: np.zeros_like(c))
    return env.track()


@case("D35")
def _(env):
    _edit(env.data / "channel_locations.npy", lambda c: np.ascontiguousarray(c[:, ::-1]))
    return env.track()


@case("D36")
def _(env):
    _edit(env.data / "channel_locations.npy", lambda c: np.c_[c[:, 0], np.zeros(len(c))])
    return env.track()


@case("D37")
def _(env):
    rng = np.random.default_rng(0)
    _edit(env.data / "channel_locations.npy", lambda c: c[rng.permutation(len(c))])
    return env.track()


@case("D38")
def _(env):
    for f in (env.data / "spike_times").iterdir():
        _edit(f, lambda t: t / 1000.0)
    return env.track()


@case("D39")
def _(env):
    for f in (env.data / "spike_times").iterdir():
        _edit(f, lambda t: np.sort(np.r_[t, t]))
    return env.track()


@case("D40")
def _(env):
    _edit(env.data / "channel_locations.npy", lambda c: c / 1000.0)
    for f in (env.data / "spike_times").iterdir():
        _edit(f, lambda t: t / 1000.0)
    return env.track()


# As on a machine with 100 MB of memory (the largest histograms the schema allows, of 60
# units, fit in a real one).
_SMALL_MACHINE = "import dant_core.memory\ndant_core.memory.physical_memory_bytes = lambda: 10**8\n"


@case("D41")
def _(env):
    env.prelude = _SMALL_MACHINE
    return env.track(settings={"autoCorr": {"window": 1000, "binwidth": 0.01}})


@case("D42")
def _(env):
    env.prelude = _SMALL_MACHINE
    return env.track(settings={"ISI": {"window": 1000, "binwidth": 0.01}})


# -- settings.json -------------------------------------------------------------------------


@case("S01")
def _(env):
    return env.track("--settings", str(env.settings))


@case("S02")
def _(env):
    env.settings.mkdir()
    return env.track("--settings", str(env.settings))


@case("S03")
def _(env):
    return env.track(settings='{\n  "n_jobs": 1\n  "centering_waveforms": true\n}\n')


@case("S04")
def _(env):
    return env.track(settings='{\n  /* a comment that never ends\n  "n_jobs": 1\n}\n')


@case("S05")
def _(env):
    return env.track(settings="[1, 2]")


@case("S06")
def _(env):
    return env.track(settings='{\n  // comment\n  "clustering": {"max_distance": -5}\n}\n')


@case("S07")
def _(env):
    return env.track(settings={"waveformCorrection": {"n_templates": 3}})


@case("S08")
def _(env):
    return env.track(settings={"clustering": {"features": ["Waveform", "Amplitude"]}})


@case("S09")
def _(env):
    return env.track(settings={"ISI": {"window": 10, "binwidth": 20}})


@case("S10")
def _(env):
    return env.track(settings={"clustering": 5})


@case("S11")
def _(env):
    return env.track(settings={"n_jobs": 0, "motionEstimation": {"max_iter": 0}})


@case("S12")
def _(env):
    env.settings.write_bytes(b'{"n_jobs": "\xff"}')
    return env.track("--settings", str(env.settings))


@case("S13")
def _(env):
    _npy(env.motion, np.zeros(3))
    return env.track(settings={"waveformCorrection": {"path_to_motion": str(env.motion)}})


@case("S14")
def _(env):
    return env.track(settings={"motionEstimation": {"stop_early": "yes"}})


@case("S15")
def _(env):
    return env.track(settings={"output_folder": "D:\\recordings\\DANT_Output"})


@case("S16")
def _(env):
    return env.track(settings={"autoCorr": {"window": 1000, "binwidth": 0.0001}})


# -- the manual motion file (waveformCorrection.path_to_motion) ---------------------------

_WITH_WAVEFORM_FIRST = {"features": [["Waveform", "AutoCorr"]]}


def _motion_settings(env) -> dict:
    return {
        "waveformCorrection": {"path_to_motion": str(env.motion)},
        "motionEstimation": _WITH_WAVEFORM_FIRST,
    }


@case("M01")
def _(env):
    return env.track(settings=_motion_settings(env))


@case("M02")
def _(env):
    _npy(env.motion, np.zeros(5))
    return env.track(settings=_motion_settings(env))


@case("M03")
def _(env):
    _npy(env.motion, [0.0, np.nan, 1.0])
    return env.track(settings=_motion_settings(env))


@case("M04")
def _(env):
    env.motion.write_text("0 5 10\n")
    return env.track(settings=_motion_settings(env))


@case("M05")
def _(env):
    _npy(env.motion, ["a", "b", "c"])
    return env.track(settings=_motion_settings(env))


# -- the curation log (dant export) -------------------------------------------------------


def _units(env) -> tuple[np.ndarray, np.ndarray]:
    """(automatic clusters, sessions) of the tracked run."""
    return np.load(env.run / "IdxCluster.npy"), np.load(env.rundata / "session_index.npy")


@case("C01")
def _(env):
    return env.export(None, "--curation", str(env.log))


@case("C02")
def _(env):
    shutil.rmtree(env.run)
    return env.export()


@case("C03")
def _(env):
    (env.run / "IdxCluster.npy").unlink()
    return env.export()


@case("C17")
def _(env):
    # A pyDANT output folder (no record of ours) whose path_to_data leads nowhere.
    (env.run / "dant_result.npz").unlink()
    settings = json.loads((env.run / "settings.json").read_text(encoding="utf-8"))
    settings.update(path_to_data="gone", output_folder="./DANT_Output")
    (env.run / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    return env.export()


@case("C04")
def _(env):
    return env.export([{"action": "label", "unit": 0, "label": "good"}, "{not json}", "{}"])


@case("C05")
def _(env):
    return env.export([{"action": "delete", "unit": 3}])


@case("C06")
def _(env):
    return env.export([{"action": "reject_unit", "unit": 99999}])


def _loose_pair_of_one_session(env) -> tuple[int, int]:
    """Two unmatched units of one session (written to pair.txt for the expected message)."""
    idx, sessions = _units(env)
    loose = np.flatnonzero(idx < 0)
    a = int(loose[0])
    b = int(next(u for u in loose[1:] if sessions[u] == sessions[a]))
    (env.root / "pair.txt").write_text(f"{a} {b} {sessions[a]}")
    return a, b


@case("C07")
def _(env):
    return env.export([{"action": "merge", "units": list(_loose_pair_of_one_session(env))}])


@case("C08")
def _(env):
    return env.export([{"action": "reject_unit"}])


@case("C09")
def _(env):
    return env.export([{"action": "reject_unit", "unit": "17"}])


@case("C10")
def _(env):
    return env.export(["[1, 2]"])


@case("C11")
def _(env):
    idx, _ = _units(env)
    (env.root / "unit.txt").write_text(str(int(np.flatnonzero(idx < 0)[0])))
    return env.export([{"action": "reject_unit", "unit": int(np.flatnonzero(idx < 0)[0])}])


@case("C12")
def _(env):
    return env.export([{"action": "label", "unit": 0, "label": 5}])


@case("C15")
def _(env):
    label = {"action": "label", "unit": 0, "label": "good", "time": "2025-03-14T10:06:30.002+01:00"}
    named = {"action": "merge", "time": "2025-03-14T10:05:40.871+01:00"}
    return env.export([label, {"action": "undo", "undoes": named}])


@case("C22")
def _(env):
    env.prelude = _hold_curation_lock(env.run)
    return env.export([{"action": "reject_unit", "unit": 0}])


@case("C16")
def _(env):
    idx, _ = _units(env)
    loose = [int(u) for u in np.flatnonzero(idx < 0)[:2]]
    (env.root / "pair.txt").write_text(f"{loose[0]} {loose[1]}")
    return env.export([{"action": "reject_units", "units": loose}])


@case("C25")
def _(env):
    a, b = _loose_pair_of_one_session(env)
    line = {"action": "undo_decision", "shank": 1, "decision": "recluster", "units": [a, b]}
    return env.export([{**line, "groups": [[a], [b]]}])


@case("C26")
def _(env):
    idx, _ = _units(env)
    ids, counts = np.unique(idx[idx > 0], return_counts=True)
    k = int(ids[np.flatnonzero(counts == 3)[0]])
    x, y, z = (int(u) for u in np.flatnonzero(idx == k))
    (env.root / "unit.txt").write_text(f"{x} {y} {z} {k}")
    return env.export(
        [{"action": "undo_decision", "shank": 1, "decision": "pair", "units": [x, y]}]
    )


@case("C27")
def _(env):
    idx, sessions = _units(env)
    loose = np.flatnonzero(idx < 0)
    a = int(loose[0])
    b = int(next(u for u in loose[1:] if sessions[u] != sessions[a]))
    (env.root / "pair.txt").write_text(f"{a} {b}")
    return env.export(
        [{"action": "undo_decision", "shank": 1, "decision": "pair", "units": [a, b]}]
    )


@case("C13")
def _(env):
    # The run's data folder was moved away after tracking.
    state = dict(np.load(env.run / "dant_result.npz"))
    state["data_folder"] = np.array(str(env.root / "moved_away"))
    np.savez(env.run / "dant_result.npz", **state)
    return env.export()


@case("C21")
def _(env):
    # The data folder was re-exported after tracking: same sizes, one file's content differs.
    state = dict(np.load(env.run / "dant_result.npz"))
    state["data_folder"] = np.array(str(env.data))
    np.savez(env.run / "dant_result.npz", **state)
    _edit(env.data / "spike_times" / "Unit5.npy", lambda t: t + 1.0)
    return env.export()


@case("C14")
def _(env):
    _npy(env.run / "IdxCluster.npy", np.full(7, -1))
    return env.export()


@case("C23")
def _(env):
    # A truncated or damaged output file whose header claims far more than the file holds.
    array = np.load(env.run / "locations.npy")
    with open(env.run / "locations.npy", "wb") as f:
        header = {"descr": array.dtype.str, "fortran_order": False, "shape": (10**12, 3)}
        np.lib.format.write_array_header_1_0(f, header)
        f.write(array.tobytes())
    return env.export()


@case("C24")
def _(env):
    record = env.run / "dant_result.npz"
    record.write_bytes(record.read_bytes()[: record.stat().st_size // 2])
    return env.export()


# -- command-line arguments (every command) ------------------------------------------------


@case("A01")
def _(env):
    return ["demo", str(env.out), "--units", "abc"]


@case("A02")
def _(env):
    return ["demo", str(env.out), "--drift", "x"]


@case("A03")
def _(env):
    return ["demo", str(env.out), "--units"]


@case("A04")
def _(env):
    return ["track"]


@case("A05")
def _(env):
    return env.export(None, "--force")


@case("A06")
def _(env):
    return ["trak", str(env.data)]


# -- units.tsv and write-back --------------------------------------------------------------


def _units_tsv(folder: Path, n: int, columns=("unit", "session", "cluster_id")) -> None:
    sessions = np.load(folder / "session_index.npy").ravel()
    lines = ["\t".join(columns)]
    values = {"unit": lambda u: u, "session": lambda u: sessions[u], "cluster_id": lambda u: u}
    lines += ["\t".join(str(values[c](u)) for c in columns) for u in range(n)]
    (folder / "units.tsv").write_text("\n".join(lines) + "\n")


@case("R01")
def _(env):
    _units_tsv(env.data, 1)
    return env.track()


@case("R02")
def _(env):
    _units_tsv(env.data, 60, columns=("unit", "session"))
    return env.track()


@case("R03")
def _(env):
    return env.export(None, "--write-back")


@case("R04")
def _(env):
    # A project copied whole (its results inside its data folder) whose units.tsv names a
    # sorter folder, relative to the data folder, that the copy lacks: nothing is written,
    # in the copy or in the original the result's record names.
    env.run = Path(shutil.move(env.run, env.data / "DANT_Output"))
    sessions = np.load(env.data / "session_index.npy").ravel()
    lines = ["unit\tsession\tsource\tcluster_id"]
    lines += [f"{u}\t{s}\t{'sorted/day1' if s == 1 else ''}\t{u}" for u, s in enumerate(sessions)]
    (env.data / "units.tsv").write_text("\n".join(lines) + "\n")
    return env.export(None, "--write-back")


# -- the output folder ---------------------------------------------------------------------


@case("O01")
def _(env):
    env.out.write_text("a file, not a folder")
    return env.track()


@case("O02")
def _(env):
    (env.root / "afile").write_text("x")
    env.out = env.root / "afile" / "out"
    return env.track()


@case("O03")
def _(env):
    env.out = env.data
    return env.track()


@case("O04")
def _(env):
    env.out.mkdir()
    (env.out / "thesis.docx").write_text("years of work")
    return env.track()


@case("O05")
def _(env):
    env.out.mkdir()
    _npy(env.out / "IdxCluster.npy", np.arange(1, 8))
    return env.track()


@case("O06")
def _(env):
    env.out.mkdir()
    (env.out / "IdxCluster.npy").write_text("garbage")
    return env.track()


@case("O07")
def _(env):
    # Read-only: for real where permissions stop us; as root (which ignores them) the
    # same error is raised where the save first writes.
    env.out = env.root / "locked" / "out"
    env.out.parent.mkdir()
    if PERMISSIONS_IGNORED:
        env.prelude = _raise_in_mkdtemp(errno.EACCES, "Permission denied")
    else:
        env.out.parent.chmod(0o555)
    return env.track()


@case("O08")
def _(env):
    env.prelude = _raise_in_np_save(errno.ENOSPC, "No space left on device")
    return env.track()


@case("O09")
def _(env):
    env.prelude = _raise_in_mkdtemp(errno.EROFS, "Read-only file system")
    return env.track()


@case("O10")
def _(env):
    env.prelude = _hold_curation_lock(env.run)
    (env.run / "curation.jsonl").write_text("")
    return ["track", str(env.rundata), "--output", str(env.run)]


def _hold_curation_lock(folder: Path) -> str:
    """Python that holds `folder`'s curation lock, as a window curating it would."""
    return (
        "import fcntl\n"
        f"_held = open({str(folder / '.curation.lock')!r}, 'wb')\n"
        "fcntl.flock(_held.fileno(), fcntl.LOCK_EX)\n"
        f"_held.write({HOLDER.encode()!r})\n"
        "_held.flush()\n"
    )


HOLDER = "a DANT window, process 4242 on lab-pc, since 2026-12-06T21:50:00+00:00\n"


def _raise_in_mkdtemp(code: int, text: str) -> str:
    return (
        "import tempfile\n"
        "def _fail(*a, dir=None, **k):\n"
        f"    raise OSError({code}, {text!r}, str(dir))\n"
        "tempfile.mkdtemp = _fail\n"
    )


def _raise_in_np_save(code: int, text: str) -> str:
    return (
        "import numpy\n"
        "_real = numpy.save\n"
        "def _save(file, arr, *a, **k):\n"
        "    if str(file).endswith('locations.npy'):\n"
        f"        raise OSError({code}, {text!r}, str(file))\n"
        "    return _real(file, arr, *a, **k)\n"
        "numpy.save = _save\n"
    )


# ------------------------------------------------------------------------------------------
# running every case once (in parallel: each is a fresh Python process)
# ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    env: Env
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def _run_cli(
    args: list[str], prelude: str = "", timeout: float = 180
) -> subprocess.CompletedProcess:
    cmd = (
        CLI + args if not prelude else [sys.executable, "-c", RUNNER.format(prelude=prelude), *args]
    )
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """A small valid data folder and a complete tracking output made from it."""
    root = tmp_path_factory.mktemp("errors_base")
    make_demo(root / "data", n_units=60, n_sessions=3, seed=1, n_channels=96)
    assert dant_main(["track", str(root / "data"), "--output", str(root / "out")]) == 0
    return root / "data", root / "out"


@pytest.fixture(scope="module")
def outcomes(base, tmp_path_factory) -> dict[str, Outcome]:
    data, out = base
    root = tmp_path_factory.mktemp("errors")
    jobs = {}
    for case_id, make in CASES.items():
        folder = root / case_id
        folder.mkdir()
        env = Env(
            root=folder,
            data=Path(shutil.copytree(data, folder / "data")),
            out=folder / "out",
            run=Path(shutil.copytree(out, folder / "run")),
            rundata=data,
        )
        jobs[case_id] = (env, make(env))
    with ThreadPoolExecutor(max_workers=max(2, min(6, (os.cpu_count() or 2) + 1))) as pool:
        futures = {
            cid: pool.submit(_run_cli, args, env.prelude) for cid, (env, args) in jobs.items()
        }
        results = {cid: f.result() for cid, f in futures.items()}
    for env, _ in jobs.values():  # let tmp cleanup remove what a case locked
        for p in (env.out.parent, env.out):
            if p.is_dir():
                p.chmod(0o755)
    return {
        cid: Outcome(env, args, results[cid].returncode, results[cid].stdout, results[cid].stderr)
        for cid, (env, args) in jobs.items()
    }


def _expected(message: str, env: Env) -> str:
    """The documented message with this case's paths (and a few looked-up values) put in."""
    for key, value in env.placeholders().items():
        message = message.replace(key, value)
    for name in ("pair.txt", "unit.txt"):
        path = env.root / name
        if path.is_file():
            for i, value in enumerate(path.read_text().split()):
                message = message.replace(f"<{name[:-4]}{i}>", value)
    return message


def test_every_case_is_documented_and_every_row_tested():
    rows = documented_rows()
    assert len(rows) >= 30
    assert sorted(rows) == sorted(CASES), (
        f"only in docs: {sorted(set(rows) - set(CASES))}; "
        f"only in tests: {sorted(set(CASES) - set(rows))}"
    )


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_documented_message_is_what_the_user_sees(case_id, outcomes):
    outcome = outcomes[case_id]
    _, documented, _ = documented_rows()[case_id]
    err = outcome.stderr
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert outcome.returncode == 2, f"exit {outcome.returncode}:\n{err}"
    assert "Traceback" not in err, err
    assert not re.search(r"\b\w+Warning: ", err), f"a Python warning reached the user:\n{err}"
    assert outcome.stdout == "", outcome.stdout
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert lines[-1] == _expected(documented, outcome.env), (
        f"docs/errors.md {case_id} says\n  {_expected(documented, outcome.env)}\n"
        f"but the CLI printed\n  {lines[-1]}"
    )


def test_debug_shows_the_traceback(tmp_path):
    proc = _run_cli(["track", str(tmp_path / "nope"), "--debug"])
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "DatasetError" in proc.stderr
    assert (
        proc.stderr.rstrip().splitlines()[-1]
        == f"error: data folder {tmp_path / 'nope'} does not exist"
    )


# ------------------------------------------------------------------------------------------
# the output folder, for real
# ------------------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _visible_idx_clusters(root: Path) -> list[Path]:
    """IdxCluster.npy files not inside a hidden folder."""
    return [
        p
        for p in root.rglob("IdxCluster.npy")
        if not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]


@pytest.mark.skipif(
    PERMISSIONS_IGNORED,
    reason="this process ignores permission bits (root), so chmod cannot stop its writes",
)
def test_read_only_output_folder_for_real(base, tmp_path):
    data, out = base
    locked = tmp_path / "locked"
    target = Path(shutil.copytree(out, locked / "out"))
    before = _snapshot(target)
    locked.chmod(0o555)
    try:
        proc = _run_cli(["track", str(data), "--output", str(target)])
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(f"error: cannot save the results to {target}")
    assert _snapshot(target) == before


def test_full_disk_names_the_folder_and_keeps_the_previous_result(
    base, tmp_path, monkeypatch, capsys
):
    data, out = base
    target = Path(shutil.copytree(out, tmp_path / "out"))
    (target / "curation.jsonl").write_text('{"action": "label", "unit": 0, "label": "good"}\n')
    before = _snapshot(target)
    real_save = np.save

    def full_disk(file, arr, *args, **kwargs):
        if Path(file).name == "locations.npy":  # a few files into the save
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_save(file, arr, *args, **kwargs)

    monkeypatch.setattr(np, "save", full_disk)
    assert dant_main(["track", str(data), "--output", str(target)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        f"error: cannot save the results to {target}: the disk is full; free some space or "
        "choose another output folder (the folder was left as it was)"
    )
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp folder left behind

    # The same when the disk fills up at the very last step, the rename into place.
    monkeypatch.setattr(np, "save", real_save)
    real_replace = os.replace

    def full_at_swap(src, dst):
        if Path(dst) == target and ".tmp-" in Path(src).name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full_at_swap)
    assert dant_main(["track", str(data), "--output", str(target)]) == 2
    assert "the disk is full" in capsys.readouterr().err
    assert _snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_another_datasets_results_are_replaced_only_with_force(base, tmp_path, capsys):
    data, _ = base
    target = tmp_path / "out"
    target.mkdir()
    np.save(target / "IdxCluster.npy", np.arange(1, 8))
    (target / "curation.jsonl").write_text('{"action": "reject_unit", "unit": 3}\n')
    before = _snapshot(target)
    assert dant_main(["track", str(data), "--output", str(target)]) == 2
    err = capsys.readouterr().err
    assert "7 units" in err and "this data has 60" in err and "--force" in err
    assert _snapshot(target) == before
    assert dant_main(["track", str(data), "--output", str(target), "--force"]) == 0
    assert np.load(target / "IdxCluster.npy").shape == (60,)
    # The other dataset's small files are kept, not lost.
    kept = list((target / "previous_runs").glob("*/curation.jsonl"))
    assert len(kept) == 1 and kept[0].read_text() == before["curation.jsonl"].decode()
    np.testing.assert_array_equal(np.load(kept[0].parent / "IdxCluster.npy"), np.arange(1, 8))


def test_a_users_subfolder_in_the_output_folder_survives_a_rerun(base, tmp_path):
    data, out = base
    target = Path(shutil.copytree(out, tmp_path / "out"))
    (target / "figures").mkdir()
    (target / "figures" / "fig1.svg").write_text("<svg/>")
    assert dant_main(["track", str(data), "--output", str(target)]) == 0
    kept = list((target / "previous_runs").glob("*/figures/fig1.svg"))
    assert len(kept) == 1 and kept[0].read_text() == "<svg/>"


# ------------------------------------------------------------------------------------------
# kill -9
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kill") / "data"
    make_demo(folder, n_units=1500, n_sessions=12, seed=0)
    return folder


def _previous_output(folder: Path, n_units: int) -> dict[str, bytes]:
    """A complete earlier output folder with a curation log in progress; its snapshot."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(folder / "IdxCluster.npy", rng.integers(-1, 50, n_units))
    (folder / "curation.jsonl").write_text(
        '{"action": "reject_unit", "unit": 3}\n{"action": "undo"}\n'
    )
    (folder / "settings.json").write_text("{}")
    return _snapshot(folder)


def test_kill_9_in_the_motion_loop_keeps_the_previous_output(big_demo, tmp_path):
    out = tmp_path / "out"
    before = _previous_output(out, 1500)
    proc = subprocess.Popen(
        CLI + ["track", str(big_demo), "--output", str(out)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("Motion pass 1/"):
                break
        else:
            pytest.fail("the run ended before the motion loop:\n" + "".join(seen))
        time.sleep(1.0)  # well inside the loop: correcting waveforms for pass 2
        assert proc.poll() is None, "the run finished too early to be killed mid-run"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert _snapshot(out) == before  # IdxCluster.npy byte-identical, curation.jsonl untouched
    assert _visible_idx_clusters(tmp_path) == [out / "IdxCluster.npy"]


_KILL_PRELUDE = {
    # after IdxCluster.npy is written into the hidden temp folder, before the rest
    "mid-write": (
        "import os, signal, numpy\n"
        "_real = numpy.save\n"
        "def _save(file, arr, *a, **k):\n"
        "    _real(file, arr, *a, **k)\n"
        "    if str(file).endswith('IdxCluster.npy'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "numpy.save = _save\n"
    ),
    # between moving the old folder aside and renaming the new one into place
    "mid-swap": (
        "import os, signal\n"
        "_real = os.replace\n"
        "def _replace(src, dst):\n"
        "    if '.tmp-' in os.path.basename(str(src)):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return _real(src, dst)\n"
        "os.replace = _replace\n"
    ),
}


@pytest.mark.parametrize("moment", sorted(_KILL_PRELUDE))
def test_kill_9_while_saving_then_the_next_run_cleans_up(base, tmp_path, moment):
    data, _ = base
    out = tmp_path / "out"
    before = _previous_output(out, 60)
    proc = _run_cli(["track", str(data), "--output", str(out)], _KILL_PRELUDE[moment])
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    hidden = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    if moment == "mid-write":
        assert _snapshot(out) == before
        assert len(hidden) == 1 and hidden[0].startswith(".out.tmp-")
    else:  # the previous folder was moved aside: nothing visible is half-written
        assert not out.exists()
        assert len(hidden) == 2 and {h.split("-")[0] for h in hidden} == {
            ".out.tmp",
            ".out.previous",
        }
    assert _visible_idx_clusters(tmp_path) == ([out / "IdxCluster.npy"] if out.exists() else [])

    # The next run finishes or undoes the killed one's work, then saves normally.
    assert dant_main(["track", str(data), "--output", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert np.load(out / "IdxCluster.npy").shape == (60,)
    kept = list((out / "previous_runs").glob("*/IdxCluster.npy"))
    assert len(kept) == 1 and kept[0].read_bytes() == before["IdxCluster.npy"]
    assert (kept[0].parent / "curation.jsonl").read_bytes() == before["curation.jsonl"]


def test_a_killed_swap_is_undone_before_the_results_are_looked_for(base, tmp_path):
    data, _ = base
    out = tmp_path / "out"
    before = _previous_output(out, 60)
    proc = _run_cli(["track", str(data), "--output", str(out)], _KILL_PRELUDE["mid-swap"])
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    # Looking for results (as the GUI does when it opens the data) puts them back.
    assert has_results(out)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert finish_interrupted_saves(out) == []


def test_a_save_in_progress_is_left_alone(tmp_path):
    """Another live process's temp folder is not touched (its pid is alive)."""
    out = tmp_path / "out"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".out.tmp-{sleeper.pid}-abcd1234"
        live.mkdir()
        (live / "IdxCluster.npy").write_bytes(b"partial")
        assert finish_interrupted_saves(out) == []
        assert live.is_dir()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert len(finish_interrupted_saves(out)) == 1 and not live.exists()


# ------------------------------------------------------------------------------------------
# determinism
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drifting_demo(tmp_path_factory) -> Path:
    """A small demo with a 100 µm jump, so the registration initialiser is really used."""
    folder = tmp_path_factory.mktemp("determinism") / "data"
    make_demo(folder, n_units=120, n_sessions=4, seed=2, jump_um=100.0)
    return folder


@pytest.mark.parametrize("initial_motion", ["registration", "none"])
def test_same_inputs_give_identical_idx_cluster_across_processes(
    drifting_demo, tmp_path, initial_motion
):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"motionEstimation": {"initial_motion": initial_motion}}))
    outputs = [tmp_path / "a", tmp_path / "b"]
    procs = [
        subprocess.Popen(
            CLI + ["track", str(drifting_demo), "--settings", str(settings), "--output", str(o)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for o in outputs
    ]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        registered = "Initial motion from registering" in err
        assert registered == (initial_motion == "registration"), err
    first, second = ((o / "IdxCluster.npy").read_bytes() for o in outputs)
    assert first == second
    assert (np.load(outputs[0] / "IdxCluster.npy") > 0).sum() > 0  # a real result, not empty
    for name in ("motion_constant.npy", "SimilarityWeights.npy", "MatchedPairs.npy"):
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes(), name
