"""Files we write atomically get the mode any new file gets under the user's umask.

A temp file from tempfile.mkstemp is always 0600; renamed over IdxCluster.npy, a settings
file or a sorter folder's cluster_dant_track.tsv it would hide them from the lab's other
users (the results folder itself already honours the umask)."""

from __future__ import annotations

import os
import stat

import pytest

from dant_core.atomic_file import write_files_atomically
from dant_core.settings import Settings
from dant_core.write_back import _replace_keeping_old


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_atomic_writes_honour_the_umask(tmp_path, umask):
    expected = 0o666 & ~umask
    write_files_atomically(tmp_path, {"IdxCluster.npy": b"x", "tracks.tsv": b"y"})
    Settings.defaults().save(tmp_path / "settings.json")
    _replace_keeping_old(tmp_path / "cluster_dant_track.tsv", b"cluster_id\tdant_track\n")
    _replace_keeping_old(tmp_path / "cluster_dant_track.tsv", b"cluster_id\tdant_track\n0\t1\n")
    for name in ("IdxCluster.npy", "tracks.tsv", "settings.json", "cluster_dant_track.tsv"):
        assert _mode(tmp_path / name) == expected, name
    assert not list(tmp_path.glob(".*.tmp")), "a temp file was left behind"
