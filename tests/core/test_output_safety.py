"""Nothing the user wrote is ever deleted, and the output folder behaves as promised.

The save transaction (dant_core/output_folder.py) is driven with a small writer here, as
`TrackingResult.save` drives it; the commands that write into a folder (`dant track`,
`dant export`) are run for real on a small demo.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dant_core.cli import main as dant_main
from dant_core.output_folder import KEEP_PREVIOUS_MAX_BYTES, write_atomically
from dant_core.synthetic import make_demo

ROOT = Path(__file__).resolve().parents[2]
BIG = KEEP_PREVIOUS_MAX_BYTES + 1_000_000
N_UNITS = 5


def our_files(folder: Path, big: bool = True) -> None:
    """What a save of ours writes: IdxCluster.npy and, with `big`, a large array."""
    np.save(folder / "IdxCluster.npy", np.arange(1, N_UNITS + 1))
    if big:
        with open(folder / "waveforms_corrected.npy", "wb") as f:
            f.truncate(BIG)  # sparse: large to the save, cheap on disk


def save(out: Path, big: bool = True) -> Path:
    return write_atomically(out, N_UNITS, None, False, lambda f: our_files(f, big))


def kept(out: Path, name: str) -> list[Path]:
    return sorted((out / "previous_runs").glob(f"*/{name}"))


def test_a_users_large_file_survives_a_rerun(tmp_path):
    out = save(tmp_path / "out")
    with open(out / "my_recording.bin", "wb") as f:  # the user's, over 20 MB
        f.write(b"precious")
        f.truncate(BIG)
    (out / "notes.txt").write_text("mine")
    save(out)
    (recording,) = kept(out, "my_recording.bin")
    assert recording.stat().st_size == BIG and recording.read_bytes()[:8] == b"precious"
    assert kept(out, "notes.txt")[0].read_text() == "mine"
    # Our own large array of the previous run is recomputable: not kept.
    assert kept(out, "waveforms_corrected.npy") == []


def test_pydants_large_outputs_are_kept_when_we_rerun_into_its_folder(tmp_path):
    out = tmp_path / "DANT_Output"
    out.mkdir()
    np.save(out / "IdxCluster.npy", np.arange(1, N_UNITS + 1))  # pyDANT's, same names
    with open(out / "waveforms_corrected.npy", "wb") as f:
        f.write(b"pyDANT")
        f.truncate(BIG)
    save(out)
    (theirs,) = kept(out, "waveforms_corrected.npy")
    assert theirs.read_bytes()[:6] == b"pyDANT"


def test_our_large_file_changed_by_the_user_is_kept(tmp_path):
    out = save(tmp_path / "out")
    with open(out / "waveforms_corrected.npy", "r+b") as f:
        f.write(b"edited")
    os.utime(out / "waveforms_corrected.npy", ns=(1, 1))
    save(out)
    (edited,) = kept(out, "waveforms_corrected.npy")
    assert edited.read_bytes()[:6] == b"edited"


def test_a_users_links_survive_a_rerun_and_their_targets_are_untouched(tmp_path):
    out = save(tmp_path / "out", big=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "data.txt").write_text("x")
    (out / "link_to_folder").symlink_to(elsewhere)
    (out / "link_to_file").symlink_to(elsewhere / "data.txt")
    save(out, big=False)
    assert kept(out, "link_to_folder")[0].is_symlink()
    assert kept(out, "link_to_file")[0].is_symlink()
    assert (elsewhere / "data.txt").read_text() == "x"


def test_results_folder_honours_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = save(tmp_path / "out", big=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_a_symlinked_output_folder_stays_a_link(tmp_path):
    real = tmp_path / "big_disk" / "results"
    real.parent.mkdir()
    link = tmp_path / "out"
    save(real, big=False)
    link.symlink_to(real)
    save(link, big=False)
    assert link.is_symlink() and os.path.realpath(link) == str(real)
    assert (real / "IdxCluster.npy").is_file() and len(kept(real, "IdxCluster.npy")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big_disk", "out"]


def test_a_240_character_folder_name_can_be_saved_and_resaved(tmp_path):
    out = tmp_path / ("r" * 240)
    save(out, big=False)
    save(out, big=False)
    assert (out / "IdxCluster.npy").is_file() and len(kept(out, "IdxCluster.npy")) == 1
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no hidden leftovers


# ------------------------------------------------------------------------------------------
# the commands, for real
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("safety")
    make_demo(root / "data", n_units=40, n_sessions=3, seed=4, n_channels=64)
    assert dant_main(["track", str(root / "data"), "--output", str(root / "out")]) == 0
    return root / "data", root / "out"


def _cli(*args: str, prelude: str = "") -> subprocess.CompletedProcess:
    code = f"import sys\n{prelude}\nfrom dant_core.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_track_says_where_the_previous_curation_log_went(tracked, tmp_path, capsys):
    data, out = tracked
    target = Path(shutil.copytree(out, tmp_path / "out"))
    (target / "curation.jsonl").write_text('{"action": "label", "unit": 0, "label": "good"}\n')
    assert dant_main(["track", str(data), "--output", str(target)]) == 0
    (log,) = kept(target, "curation.jsonl")
    assert (
        f"note: the curation log of the previous run belongs to its clusters, so it was moved "
        f"to {log}; this run starts without curation"
    ) in capsys.readouterr().err.splitlines()
    assert not (target / "curation.jsonl").exists()


def test_an_unwritable_output_folder_is_refused_before_the_run(tracked, tmp_path):
    data, _ = tracked
    out = tmp_path / "locked" / "out"
    out.parent.mkdir()
    prelude = (
        "import errno, tempfile\n"
        "def _fail(*a, dir=None, **k):\n"
        "    raise OSError(errno.EACCES, 'Permission denied', str(dir))\n"
        "tempfile.mkdtemp = _fail\n"
    )
    proc = _cli("track", str(data), "--output", str(out), prelude=prelude)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith(f"error: cannot save the results to {out}")
    assert "Preprocessing" not in proc.stderr, "the run started before the folder was checked"


def test_export_after_a_run_killed_between_its_two_renames(tracked, tmp_path):
    _, out = tracked
    target = Path(shutil.copytree(out, tmp_path / "out"))
    # What a kill between "move the old folder aside" and "move the new one in" leaves.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout.strip()
    aside = tmp_path / f".out.previous-20260101-120000-{dead}"
    os.replace(target, aside)
    proc = _cli("export", str(target))
    assert proc.returncode == 0, proc.stderr
    assert (target / "IdxCluster.npy").is_file() and not aside.exists()


def test_settings_written_on_windows_mean_the_same_folder(tmp_path):
    """The pyDANT tutorial's ".\\DANT_Output" made a hidden folder literally named
    `.\\DANT_Output` beside the data on Linux and macOS."""
    from dant_core.settings import Settings

    settings_file = tmp_path / "settings.json"
    settings_file.write_text('{"output_folder": ".\\\\DANT_Output"}')
    settings = Settings.load(settings_file)
    assert settings.resolve_path("output_folder") == tmp_path / "DANT_Output"


def test_a_curation_log_saved_with_a_utf8_bom_is_read(tracked, tmp_path, capsys):
    """Notepad and other Windows editors put a byte-order mark before the first line."""
    _, out = tracked
    target = Path(shutil.copytree(out, tmp_path / "out"))
    line = '{"action": "label", "unit": 0, "label": "good"}\r\n'
    (target / "curation.jsonl").write_bytes(b"\xef\xbb\xbf" + line.encode())
    assert dant_main(["export", str(target)]) == 0, capsys.readouterr().err
