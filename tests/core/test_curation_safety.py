"""A window's curation log with lines an export refuses can be set aside (the log kept as a
copy, never deleted), and a Curator notices that the result under it was replaced by a
program that ignored the curation lock (pyDANT, a file copy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dant_core.curation import CurationState, renumber_by_first_unit
from dant_core.curation_log import (
    LOG_FILE,
    Curator,
    ResultReplaced,
    kept_copy_path,
    replaced_message,
    replay_log,
    result_similarity,
)
from dant_core.errors import DantError

from .test_curation import AUTO, AUTO_SESSIONS, FakeResult, random_similarity


def _result() -> FakeResult:
    return FakeResult(AUTO, AUTO_SESSIONS, random_similarity(10, 1))


def strict_replay(folder: Path) -> np.ndarray:
    """The labels `dant export` would write (its strict replay of the log)."""
    state = CurationState(AUTO, AUTO_SESSIONS, result_similarity(_result()))
    replay_log(state, folder / LOG_FILE, strict=True)
    return state.export_labels()


@pytest.fixture
def folder(tmp_path) -> Path:
    np.save(tmp_path / "IdxCluster.npy", AUTO)
    np.save(tmp_path / "locations.npy", np.zeros((AUTO.size, 3)))
    return tmp_path


BAD_LOG = (
    '{"action": "reject_unit", "unit": 0}\n'
    '{"action": "delete", "unit": 1}\n'  # unknown action
    "{not json\n"
    '{"action": "label", "unit": 8, "label": "good"}\n'
)


def test_the_window_lists_the_lines_an_export_refuses(folder):
    (folder / LOG_FILE).write_text(BAD_LOG)
    curator = Curator(folder, _result())
    assert [(s.number, s.text) for s in curator.skipped] == [
        (2, '{"action": "delete", "unit": 1}'),
        (3, "{not json"),
    ]
    assert "unknown action 'delete'" in curator.skipped[0].problem
    assert curator.skipped[1].problem.startswith("not valid JSON (")
    curator.close()
    with pytest.raises(DantError, match="line 2: unknown action 'delete'"):
        strict_replay(folder)


def test_setting_lines_aside_keeps_the_log_and_lets_the_export_go(folder):
    (folder / LOG_FILE).write_text(BAD_LOG)
    curator = Curator(folder, _result())
    shown = curator.state.export_labels().copy()
    copy = kept_copy_path(folder / LOG_FILE)
    curator.set_aside_skipped(copy)
    assert copy.read_text() == BAD_LOG  # the log as it was, whole, beside it
    assert (folder / LOG_FILE).read_text() == (
        '{"action": "reject_unit", "unit": 0}\n{"action": "label", "unit": 8, "label": "good"}\n'
    )
    assert curator.skipped == [] and curator.warnings == []
    exported = strict_replay(folder)  # what an export writes now: what the window showed
    assert np.array_equal(renumber_by_first_unit(exported), renumber_by_first_unit(shown))
    # a second copy the same second gets another name: nothing is ever written over
    assert kept_copy_path(folder / LOG_FILE) != copy
    curator.close()


def test_a_replaced_result_stops_the_curation_before_it_writes(folder):
    curator = Curator(folder, _result())
    curator.do("reject_unit", unit=0)
    log_before = (folder / LOG_FILE).read_bytes()
    # pyDANT (or a copy) writes its own files into the folder, ignoring the lock
    np.save(folder / "locations.npy", np.ones((AUTO.size, 3)))
    for act in (lambda: curator.do("reject_unit", unit=3), curator.undo):
        with pytest.raises(ResultReplaced) as caught:
            act()
        assert str(caught.value) == replaced_message(folder, ["locations.npy"])
    assert (folder / LOG_FILE).read_bytes() == log_before  # nothing logged on the new result
    curator.close()


def test_a_record_appearing_counts_as_a_replaced_result(folder):
    curator = Curator(folder, _result())
    (folder / "dant_result.npz").write_bytes(b"another run's record")
    with pytest.raises(ResultReplaced, match=r"dant_result\.npz changed"):
        curator.check_result_unchanged()
    curator.close()


def test_our_own_export_is_not_a_replaced_result(folder):
    """An export rewrites IdxCluster.npy and its companions, none of the result's identity
    (the GUI tests export for real)."""
    curator = Curator(folder, _result())
    curator.do("reject_unit", unit=0)
    for name in ("IdxCluster.npy", "IdxCluster_auto.npy", "MatchedPairs.npy", "Output.npz"):
        (folder / name).write_bytes(b"exported")
    curator.check_result_unchanged()
    curator.do("reject_unit", unit=3)
    assert len((folder / LOG_FILE).read_text().splitlines()) == 2
    curator.close()
