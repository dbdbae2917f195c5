"""Edit the drift, then rerun from it: the editor re-corrects the selected cluster as the
motion is typed, and the rerun starts from the edited motion, recorded in the run."""

from __future__ import annotations

import json

import numpy as np


def test_edited_motion_recorrects_the_cluster_and_the_rerun_starts_from_it(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    assert open_folder(tracked_folder)
    c = window.controller
    cluster = int(c.session.cluster_ids()[0])
    c.select_cluster(cluster)
    window.tabs.setCurrentWidget(window.drift_view)
    assert window.drift_view.edit_button.isEnabled()
    dialog = window.drift_view.edit_motion()
    qtbot.addWidget(dialog)
    saved = c.session.result.motion(0).constant.copy()
    np.testing.assert_allclose([b.value() for b in dialog.boxes], saved, atol=0.05)
    units = dialog.preview_units()
    assert units.size and set(units) <= set(c.session.units_of(cluster))
    before = dialog.preview.copy()
    dialog.boxes[1].setValue(saved[1] + 25.0)  # typing a value re-corrects the preview
    assert np.abs(dialog.preview - before).max() > 0
    np.testing.assert_allclose(dialog.edited_curve.getData()[1][1], saved[1] + 25.0, atol=0.05)
    edited = dialog.edited_motion().constant.copy()

    with qtbot.waitSignal(c.run_finished, timeout=180_000):
        assert dialog.rerun()
    files = sorted(tracked_folder.glob("dant_edited_motion_*.npy"))
    assert len(files) == 1
    np.testing.assert_allclose(np.load(files[0])[1], edited)
    start = c.session.result.shanks[0].initial_motion.constant
    np.testing.assert_allclose(start, edited)  # the run started from the edit
    record = json.loads((tracked_folder / "DANT_Output" / "settings.json").read_text())
    assert files[0].name in json.dumps(record)  # the edited curve is in the run's record
    assert not [r for r in dialog_log if r.kind == "error"]
