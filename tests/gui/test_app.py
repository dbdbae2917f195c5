"""What a user of the window would notice: the views show the result, errors become dialogs,
runs can be cancelled, the window stays responsive, and `dant-gui --screenshot` works."""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QImage

from tests.gui.conftest import wait_drawn

RUN_TIMEOUT_MS = 120_000


def _open(open_folder, window, folder, dialog_log):
    assert open_folder(folder), [d.text for d in dialog_log]
    assert window.controller.dataset is not None


def _run_to_end(window, qtbot):
    with qtbot.waitSignal(window.controller.run_finished, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(window.run_button, Qt.MouseButton.LeftButton)
    wait_drawn(qtbot, window)
    return window.controller.session.result


def test_empty_window_fits_a_laptop_screen(window):
    """1366 x 768 minus the window frame and a taskbar; long hint texts and combo entries
    (the drift placeholder, the similarity view's bar) once made it 1384 px wide."""
    assert window.minimumSizeHint().width() <= 1350
    assert window.minimumSizeHint().height() <= 700


def test_run_fills_drift_and_cluster_views(open_folder, window, qtbot, demo_folder, dialog_log):
    _open(open_folder, window, demo_folder, dialog_log)
    assert window.run_button.isEnabled()
    result = _run_to_end(window, qtbot)
    assert result is not None and not dialog_log

    # The drift curve is the saved motion, with its 95% band.
    motion = result.shanks[0].motion
    x, y = window.drift_view.motion_curve.getData()
    np.testing.assert_array_equal(x, np.arange(1, result.n_sessions + 1))
    np.testing.assert_allclose(y, motion.constant)
    np.testing.assert_allclose(window.drift_view.band_low.getData()[1], motion.ci_low[0])
    np.testing.assert_allclose(window.drift_view.band_high.getData()[1], motion.ci_high[0])
    # ... also as error bars on the points (a band thinner than a line is still seen).
    bars = window.drift_view.band_bars.opts
    np.testing.assert_allclose(bars["y"], motion.constant)
    np.testing.assert_allclose(bars["y"] + bars["top"], np.maximum(motion.ci_high[0], y))
    np.testing.assert_allclose(bars["y"] - bars["bottom"], np.minimum(motion.ci_low[0], y))
    half = np.median(motion.ci_high[0] - motion.ci_low[0]) / 2
    assert f"95% interval ±{half:.1f} µm" in window.drift_view.info_label.text()
    # One scatter point per unit, at its motion-corrected depth.
    depths = window.drift_view.depth_scatter.getData()[1]
    corrected = result.locations[:, 1] - motion.at(result.sessions, result.locations[:, 1])
    np.testing.assert_allclose(np.sort(depths), np.sort(corrected))

    # The cluster table lists every cluster once.
    table = window.cluster_table
    assert table.proxy.rowCount() == result.n_clusters > 0
    assert sorted(table.visible_ids()) == list(range(1, result.n_clusters + 1))
    assert table.count_label.text().startswith(f"{result.n_clusters} clusters")

    # Clicking a row selects that cluster's units everywhere.
    table.select_row(2)
    cluster = table.cluster_at(2)
    assert window.controller.session.selection.cluster == cluster
    np.testing.assert_array_equal(
        window.controller.session.selection.units, result.cluster_units(cluster)
    )
    x_sel, _ = window.drift_view.selected_scatter.getData()
    assert len(x_sel) == result.cluster_units(cluster).size

    # Selecting in the controller moves the table's row.
    other = int(result.n_clusters)
    window.controller.select_cluster(other)
    rows = table.table.selectionModel().selectedRows()
    assert [table.cluster_at(r.row()) for r in rows] == [other]

    # The similarity columns (filled off the UI thread) are the exact within-cluster values.
    if table.model.computing:
        qtbot.waitSignal(table.similarity_ready, timeout=60_000).wait()
    units = result.cluster_units(cluster)
    block = result.similarity_block(units, units)
    off = block[~np.eye(units.size, dtype=bool)]
    row = table.model.row_of(cluster)
    shown = [table.model.index(row, col).data() for col in (4, 5)]
    assert shown == [f"{off.mean():.2f}", f"{off.min():.2f}"]

    # The output folder holds the result the window shows.
    saved = np.load(window.controller.output_folder / "IdxCluster.npy")
    np.testing.assert_array_equal(saved, result.idx_cluster)
    assert str(result.n_clusters) in window.statusBar().currentMessage()

    # With every view filled, the window still fits a 1366 x 768 laptop screen (with its
    # frame and a taskbar).
    assert window.minimumSizeHint().width() <= 1350
    assert window.minimumSizeHint().height() <= 700

    # Filters hide clusters and say so.
    table.min_units.setValue(result.n_sessions)
    full = int((np.bincount(result.idx_cluster[result.idx_cluster > 0]) >= result.n_sessions).sum())
    assert table.proxy.rowCount() == full
    assert len(table.visible_ids()) == full


def test_plots_save_as_png_and_svg(open_folder, window, qtbot, demo_folder, dialog_log, tmp_path):
    _open(open_folder, window, demo_folder, dialog_log)
    _run_to_end(window, qtbot)
    for suffix in ("png", "svg"):
        path = tmp_path / f"drift.{suffix}"
        window.drift_view.export_image(path)
        assert path.stat().st_size > 2000
    image = QImage(str(tmp_path / "drift.png"))
    assert image.width() >= 1200
    assert b"<svg" in (tmp_path / "drift.svg").read_bytes()[:2000]


def test_cancel_stops_the_run_and_a_new_run_works(
    open_folder, window, qtbot, demo_folder, dialog_log
):
    _open(open_folder, window, demo_folder, dialog_log)
    c = window.controller
    with qtbot.waitSignal(c.run_progress, timeout=RUN_TIMEOUT_MS):
        window.run_button.click()
    assert window.cancel_button.isEnabled() and not window.run_button.isEnabled()
    with qtbot.waitSignal(c.run_cancelled, timeout=10_000):
        window.cancel_button.click()
    assert c.session is None
    assert not (c.output_folder / "IdxCluster.npy").exists()
    assert window.run_button.isEnabled() and not window.cancel_button.isEnabled()
    assert "cancelled" in window.log_view.toPlainText().lower()
    assert not dialog_log

    result = _run_to_end(window, qtbot)
    assert result is not None and result.n_clusters > 0


def test_empty_folder_gives_a_dialog_naming_the_file(
    open_folder, window, tmp_path, demo_folder, dialog_log
):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not open_folder(empty)
    assert len(dialog_log) == 1 and dialog_log[0].kind == "error"
    assert "waveform_all.npy" in dialog_log[0].text
    assert window.controller.dataset is None and not window.run_button.isEnabled()

    _open(open_folder, window, demo_folder, dialog_log)  # the window is still usable
    assert window.run_button.isEnabled()


def test_corrupt_waveforms_keep_the_loaded_data(
    open_folder, window, tmp_path, demo_folder, dialog_log
):
    _open(open_folder, window, demo_folder, dialog_log)
    bad = tmp_path / "bad"
    shutil.copytree(demo_folder, bad)
    (bad / "waveform_all.npy").write_bytes(b"\x93NUMPY garbage that is not an array")
    assert not open_folder(bad)
    assert "waveform_all.npy" in dialog_log[-1].text
    assert window.controller.data_folder == demo_folder.absolute()
    assert window.run_button.isEnabled()


def test_invalid_settings_are_flagged_and_block_run(open_folder, window, demo_folder, dialog_log):
    _open(open_folder, window, demo_folder, dialog_log)
    form = window.settings_form
    form.set_value("autoCorr.binwidth", 500.0)  # wider than the 300 ms window
    assert "autoCorr.binwidth" in form.invalid_keys()
    assert "must be <=" in form.editors["autoCorr.binwidth"].toolTip()
    assert not window.run_button.isEnabled()

    form.set_value("autoCorr.binwidth", 1.0)
    editor = form.editors["clustering.max_distance"]
    editor.setText("far")  # not a number: kept on screen, flagged, not stored
    editor.editingFinished.emit()
    assert form.invalid_keys() == ["clustering.max_distance"]
    assert "clustering.max_distance" in editor.toolTip() and not window.run_button.isEnabled()
    assert window.controller.settings.get("clustering.max_distance") == 100.0

    form.set_value("clustering.max_distance", 80.0)
    assert window.controller.settings.get("clustering.max_distance") == 80.0
    sets = form.editors["motionEstimation.features"]
    sets.add_button.click()
    assert len(window.controller.settings.get("motionEstimation.features")) == 3
    for box in sets.rows[-1].boxes.values():
        box.setChecked(False)  # an empty feature set
    assert "motionEstimation.features" in form.invalid_keys()
    sets.rows[-1].remove_button.click()
    assert form.invalid_keys() == [] and window.run_button.isEnabled()
    assert len(window.controller.settings.get("motionEstimation.features")) == 2


@pytest.fixture(scope="module")
def busy_demo_folder(tmp_path_factory):
    """A demo big enough that tracking takes seconds, so latency is measured for a while."""
    from dant_core.synthetic import make_demo

    folder = tmp_path_factory.mktemp("busy") / "data"
    make_demo(folder, n_units=600, n_sessions=8, seed=2)
    return folder


def test_event_loop_stays_responsive_during_a_run(
    open_folder, window, qtbot, busy_demo_folder, dialog_log
):
    """A 20 ms timer must never wait 100 ms while the engine works on its thread."""
    _open(open_folder, window, busy_demo_folder, dialog_log)
    c = window.controller
    gaps = []  # (gap seconds, stage running then)
    stage = {"now": "start"}
    c.run_progress.connect(lambda s, d, t: stage.__setitem__("now", s) if s != "Overall" else None)
    last = {"t": None}

    def tick():
        now = time.perf_counter()
        # Only gaps that end while the engine still works: drawing the new result is not "during".
        if last["t"] is not None and c.is_running:
            gaps.append((now - last["t"], stage["now"]))
        last["t"] = now

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    timer.start()
    _run_to_end(window, qtbot)
    timer.stop()
    assert len(gaps) > 20
    worst, where = max(gaps)
    print(f"worst event-loop gap during the run: {worst * 1000:.0f} ms ({where})")
    slow = sorted({s for g, s in gaps if g > 0.1})
    assert worst < 0.1, f"the UI froze {worst * 1000:.0f} ms during {where!r}; slow stages: {slow}"


def test_screenshot_command_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
    )
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [sys.executable, "-m", "dant_gui.app", "--demo", "--run", "--screenshot", str(shot)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert shot.stat().st_size > 50_000
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1600, 1000)
    # Not a blank window: the pixels vary (sampled on a grid).
    pixels = np.array(
        [image.pixel(x, y) & 0xFFFFFF for x in range(0, 1600, 37) for y in range(0, 1000, 29)]
    )
    grey = ((pixels >> 16) & 255) + ((pixels >> 8) & 255) + (pixels & 255)
    assert grey.std() > 20 and np.unique(pixels).size > 50
    assert list((home / ".cache").rglob("IdxCluster.npy")), "the demo run wrote no output"


def test_bad_folder_on_the_command_line_exits_non_zero(tmp_path):
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / ".config"),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dant_gui.app",
            str(tmp_path),
            "--screenshot",
            str(tmp_path / "s.png"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "waveform_all.npy" in proc.stderr


def test_two_shanks_with_linear_motion_have_a_shank_selector(
    open_folder, window, qtbot, tmp_path, dialog_log
):
    from dant_core.synthetic import make_demo

    folder = tmp_path / "two_shanks"
    make_demo(folder, n_units=120, n_sessions=3, n_shanks=2, depth_dependent=True, seed=5)
    _open(open_folder, window, folder, dialog_log)
    window.settings_form.set_value("waveformCorrection.linear_correction", True)
    result = _run_to_end(window, qtbot)
    drift = window.drift_view
    assert len(result.shanks) == 2 and drift.shank_combo.count() == 2
    assert not drift.shank_combo.isHidden()
    drift.shank_combo.setCurrentIndex(1)
    wait_drawn(qtbot, window)
    motion = result.shanks[1].motion
    _, y = drift.motion_curve.getData()
    np.testing.assert_allclose(y, motion.at_depth(motion.depths[0]))
    units = set(drift.depth_scatter.data["data"].tolist())
    assert units == set(result.shanks[1].units.tolist())
    if np.any(motion.linear):  # top / middle / bottom of the probe are drawn too
        assert all(c in drift.motion_plot.items for c in drift.probe_curves.values())


def test_dropping_a_folder_opens_it_and_remembers_it(window, qtbot, demo_folder, dialog_log):
    from PyQt6.QtCore import QMimeData, QPointF, QUrl
    from PyQt6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(demo_folder))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.controller.load_finished, timeout=60_000):
        window.dropEvent(event)
    assert window.controller.data_folder == demo_folder.absolute() and not dialog_log
    assert window.controller.recent_folders()[0] == str(demo_folder.absolute())
    assert demo_folder.name in window.windowTitle()


def test_cached_demo_is_remade_when_the_generator_changed(tmp_path, monkeypatch):
    """The cached demo is kept for the same arguments and generator, and made again when the
    generator's source changed (the same seed then gives other data)."""
    from dant_core import synthetic
    from dant_gui import app

    monkeypatch.setattr(app, "DEMO_ARGS", {"n_units": 40, "n_sessions": 4, "seed": 0})
    folder = app.ensure_demo(tmp_path / "demo")
    made = (folder / "waveform_all.npy").stat().st_mtime_ns
    (folder / "waveform_all.npy").touch()
    kept = (folder / "waveform_all.npy").stat().st_mtime_ns
    assert app.ensure_demo(folder) == folder
    assert (folder / "waveform_all.npy").stat().st_mtime_ns == kept  # not made again
    monkeypatch.setattr(synthetic, "generator_fingerprint", lambda: "another generator")
    app.ensure_demo(folder)
    assert (folder / "waveform_all.npy").stat().st_mtime_ns not in (made, kept)


def test_window_fits_a_laptop_screen_while_the_review_queue_is_ordered(
    open_folder, window, tracked_folder, dialog_log, qapp
):
    """On a large result the queue says "ordering them by certainty…" for seconds; that
    one-line label once widened the window to 1,480 px (5,000 units)."""
    _open(open_folder, window, tracked_folder, dialog_log)
    review = window.review_view
    review.computing = True  # what it is while the first margins are on a pool thread
    review._show_progress()
    assert "ordering them" in review.progress_label.text()
    for _ in range(5):  # each layout takes the new text in on its own turn, bottom up
        qapp.processEvents()
    assert window.minimumSizeHint().width() <= 1350
