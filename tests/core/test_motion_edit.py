"""The drift editor's core: an edited motion saved as a new manual motion file, settings
that start the run from it, and the waveforms it would give."""

from __future__ import annotations

import numpy as np
import pytest

from dant_core.dataset import load_dataset, load_manual_motion
from dant_core.motion import Motion
from dant_core.motion_edit import recorrect, save_edited_motion, settings_from_motion
from dant_core.pipeline import run_tracking
from dant_core.settings import Settings
from dant_core.synthetic import load_truth, make_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edit") / "data"
    make_demo(folder, n_units=120, n_sessions=4, seed=7, drift_um=20.0)
    return folder


def test_each_edit_is_a_new_file_read_back_as_written(demo):
    motion = Motion(np.array([0.0, 0.1, 0.0, -0.1]), np.array([-5.0, 2.5, 0.0, 2.5]))
    first = save_edited_motion(demo, motion)
    second = save_edited_motion(demo, motion)
    assert first != second and first.parent == demo == second.parent
    k, b = load_manual_motion(second, 4)
    np.testing.assert_array_equal(k, motion.linear)
    np.testing.assert_array_equal(b, motion.constant)
    assert not [p for p in demo.iterdir() if p.name.endswith(".tmp")]


def test_settings_start_from_the_file_and_leave_out_passes_without_waveforms(demo, tmp_path):
    motion_file = tmp_path / "m.npy"
    settings = Settings.defaults()  # pyDANT's: [AutoCorr, PETH], then [Waveform, AutoCorr, PETH]
    edited, note = settings_from_motion(settings, motion_file)
    assert edited.get("waveformCorrection.path_to_motion") == str(motion_file)
    first = edited.get("motionEstimation.features")[0]
    assert "Waveform" in first
    assert "left out" in note and "m.npy" in note
    assert settings.get("waveformCorrection.path_to_motion") == ""  # the original unchanged
    assert not edited.problems()
    assert edited.get("motionEstimation.initial_motion") != "evidence"  # the user's start


def test_a_run_starts_from_the_edited_motion(demo):
    truth = load_truth(demo)
    edited = Motion(np.zeros(4), truth.motion[1] - truth.motion[1].mean())
    settings, _ = settings_from_motion(Settings.defaults(), save_edited_motion(demo, edited))
    result = run_tracking(load_dataset(demo), settings)
    start = result.shanks[0].initial_motion
    np.testing.assert_allclose(start.constant, edited.constant)


def test_recorrect_moves_waveforms_by_the_motion(demo):
    data = load_dataset(demo)
    units = np.arange(6)
    depth = np.full(units.size, 300.0)
    sessions = np.asarray(data.sessions).ravel()[units]
    zero = recorrect(data.waveforms[units], depth, sessions, Motion.zero(4), data.channel_locations)
    moved = recorrect(
        data.waveforms[units], depth, sessions, Motion(np.zeros(4), np.full(4, 20.0)),
        data.channel_locations,
    )  # fmt: skip
    assert zero.shape == moved.shape == data.waveforms[units].shape
    assert np.abs(moved - zero).max() > 0.1 * np.abs(zero).max()
