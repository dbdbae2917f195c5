"""Opening a result folder of any name shows its result; a pyDANT result's waveforms are
labelled as what they are."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PyQt6.QtCore import Qt

from tests.core.fixtures import fixtures_dir

RUN_TIMEOUT_MS = 120_000
DATA_FILES = ("waveform_all.npy", "session_index.npy", "channel_locations.npy", "peth.npy")


def _copy_writable(src: Path, dst: Path) -> None:
    """Copy a (read-only) fixture folder's files into a new writable folder."""
    dst.mkdir(parents=True)
    for path in src.iterdir():
        if path.is_dir():
            _copy_writable(path, dst / path.name)
        else:
            shutil.copyfile(path, dst / path.name)


def _pydant_recording(tmp_path: Path, output_name: str) -> tuple[Path, Path]:
    """(data folder, pyDANT's output folder inside it under `output_name`), writable copies."""
    p1 = fixtures_dir() / "p1"
    data = tmp_path / "recording"
    data.mkdir()
    for name in DATA_FILES:
        shutil.copyfile(p1 / name, data / name)
    _copy_writable(p1 / "spike_times", data / "spike_times")
    out = data / output_name
    _copy_writable(p1 / "pydant_A", out)
    return data, out


def _waveform_title(window) -> str:
    return window.views["Cluster detail"].waveform_plot.titleLabel.text


def _show_largest_cluster(window) -> None:
    c = window.controller
    labels = np.asarray(c.session.labels)
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    c.select_cluster(int(ids[np.argmax(counts)]))
    assert window.show_tab("Cluster detail")


def test_a_renamed_pydant_output_folder_opens_with_its_result(
    open_folder, window, tmp_path, dialog_log
):
    data, out = _pydant_recording(tmp_path, "pyDANT run 3")
    assert open_folder(out), [d.text for d in dialog_log]
    c = window.controller
    assert c.data_folder == data and c.output_folder == out
    assert c.session is not None and c.session.result.source == "pyDANT"
    np.testing.assert_array_equal(c.session.result.idx_cluster, np.load(out / "IdxCluster.npy"))
    assert window.cluster_table.model.rowCount() == c.session.result.n_clusters


def test_a_pydant_result_never_calls_raw_waveforms_corrected(
    open_folder, window, tmp_path, dialog_log
):
    """pyDANT's folder holds no waveforms_corrected.npy: the detail view says so."""
    data, out = _pydant_recording(tmp_path, "DANT_Output")
    assert open_folder(data), [d.text for d in dialog_log]
    _show_largest_cluster(window)
    view = window.views["Cluster detail"]
    view.corrected_check.setChecked(True)
    assert "corrected" not in _waveform_title(window).replace("not motion-corrected", "")
    assert not view.corrected_check.isEnabled()
    assert "not available" in view.corrected_check.toolTip()


def test_pydants_saved_corrected_waveforms_are_shown_as_such(
    open_folder, window, tmp_path, dialog_log
):
    data, out = _pydant_recording(tmp_path, "DANT_Output")
    raw = np.load(data / "waveform_all.npy")
    saved = np.stack((raw * 0.5, raw * 0.25), axis=-1)  # pyDANT's (n, C, S, n_template)
    np.save(out / "waveforms_corrected.npy", saved)
    assert open_folder(data), [d.text for d in dialog_log]
    _show_largest_cluster(window)
    view = window.views["Cluster detail"]
    assert view.corrected_check.isEnabled()
    view.corrected_check.setChecked(True)
    assert "motion-corrected" in _waveform_title(window)
    units = np.asarray(view.units)
    np.testing.assert_allclose(view.shown_waveforms, saved[units][..., 0][:, view.channels])


def test_a_renamed_output_folder_of_ours_opens_with_its_result(
    open_folder, window, qtbot, demo_folder, dialog_log
):
    assert open_folder(demo_folder)
    with qtbot.waitSignal(window.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    labels = window.controller.session.result.idx_cluster.copy()
    renamed = demo_folder / "my tracking"
    (demo_folder / "DANT_Output").rename(renamed)

    assert open_folder(renamed), [d.text for d in dialog_log]
    c = window.controller
    assert c.data_folder == demo_folder and c.output_folder == renamed
    assert c.session is not None and c.session.result.source == "dant"
    np.testing.assert_array_equal(c.session.result.idx_cluster, labels)
