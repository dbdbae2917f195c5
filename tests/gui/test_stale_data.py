"""Opening a result whose data folder changed since the run warns in a dialog (issue 13).

Re-exported data with the same number of units used to open with the old clusters silently.
"""

from __future__ import annotations

import numpy as np


def _track(folder) -> None:
    from dant_core.cli import main as dant_main

    assert dant_main(["track", str(folder)]) == 0


def test_changed_data_under_a_result_is_warned_about(open_folder, window, demo_folder, dialog_log):
    _track(demo_folder)
    path = demo_folder / "spike_times" / "Unit5.npy"
    np.save(path, np.load(path) + 1.0)  # same size, other content
    assert open_folder(demo_folder)
    assert window.controller.session is not None  # still opened: the user may look at it
    warnings = [d for d in dialog_log if d.kind == "warning"]
    assert len(warnings) == 1
    text = warnings[0].text
    assert "spike_times/Unit5.npy" in text and "changed since these results were made" in text
    assert "Run" in text


def test_unchanged_data_opens_without_a_warning(open_folder, window, demo_folder, dialog_log):
    _track(demo_folder)
    assert open_folder(demo_folder)
    assert window.controller.session is not None
    assert [d for d in dialog_log if d.kind == "warning"] == []
