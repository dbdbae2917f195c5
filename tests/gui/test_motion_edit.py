"""Edit the drift, then rerun from it: the editor re-corrects the selected cluster as the
motion is typed, and the rerun starts from the edited motion, recorded in the run."""

from __future__ import annotations

import json

import numpy as np
from PyQt6.QtCore import QEvent, QPointF, Qt
from PyQt6.QtGui import QMouseEvent
from PyQt6.QtWidgets import QApplication

from dant_core.motion_edit import recorrect


def test_edited_motion_recorrects_the_cluster_and_the_rerun_starts_from_it(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    assert open_folder(tracked_folder)
    c = window.controller
    cluster = int(c.session.cluster_ids()[0])
    c.select_cluster(cluster)
    window.show_tab("Drift")
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


def _send_mouse(widget, kind, pos, buttons):
    """A mouse event of `kind` at widget position `pos` with `buttons` held (QTest's moves
    carry no buttons, and pyqtgraph starts a drag only on a move with a button down)."""
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    event = QMouseEvent(
        kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def _maps_inside(plot, x: float, y: float) -> bool:
    """True once the plot's view box maps data (x, y) into its own area on screen: it has
    laid out and updated its transform after the window's last resize."""
    vb = plot.getViewBox()
    return vb.sceneBoundingRect().contains(vb.mapViewToScene(QPointF(x, y)))


def _drag(graphics, handles, session: int, from_um: float, to_um: float) -> None:
    """Press on `session`'s point (at `from_um`) of `handles` in the pyqtgraph widget
    `graphics`, move in steps to `to_um` µm and release, as a user's mouse does."""
    viewport = graphics.viewport()

    def at(y_um: float) -> QPointF:
        scene = handles.mapToScene(QPointF(session, y_um))
        return QPointF(graphics.mapFromScene(scene))

    start, end = at(from_um), at(to_um)
    left = Qt.MouseButton.LeftButton
    _send_mouse(viewport, QEvent.Type.MouseButtonPress, start, left)
    for f in np.linspace(0.2, 1.0, 5):
        _send_mouse(viewport, QEvent.Type.MouseMove, start + (end - start) * f, left)
    _send_mouse(viewport, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def test_dragging_a_sessions_point_is_the_same_edit_as_typing(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    from dant_gui.motion_edit_dialog import MotionEditDialog

    assert open_folder(tracked_folder)
    c = window.controller
    c.select_cluster(int(c.session.cluster_ids()[0]))
    runs = []
    dialog = MotionEditDialog(c, lambda: runs.append(c.settings) or True)
    qtbot.addWidget(dialog)
    dialog.resize(900, 560)
    dialog.show()
    qtbot.waitExposed(dialog)
    saved = dialog.saved.constant.copy()

    def ranged():  # the plot has laid out and auto-ranged onto the motion
        (x0, x1), (y0, y1) = dialog.motion_plot.viewRange()
        return x0 <= 1 and x1 >= saved.size and y0 <= saved.min() and y1 >= saved.max()

    qtbot.waitUntil(lambda: ranged() and _maps_inside(dialog.motion_plot, 2, saved[1]))
    target = saved[1] + 0.4 * (dialog.motion_plot.viewRange()[1][1] - saved[1]) + 5.0
    before = dialog.preview.copy()

    _drag(dialog.graphics, dialog.handles, 2, saved[1], target)

    value = dialog.boxes[1].value()  # the table's box took the dragged value
    assert abs(value - target) < 0.05 * np.ptp(dialog.motion_plot.viewRange()[1]), (
        value,
        target,
    )
    assert abs(value - saved[1]) > 2.0
    np.testing.assert_allclose([b.value() for b in dialog.boxes[2:]], saved[2:], atol=0.05)
    np.testing.assert_allclose(dialog.handles.getData()[1][1], value)  # the point is there
    np.testing.assert_allclose(dialog.edited_curve.getData()[1][1], value)
    # the preview is the typed path's: re-corrected with the dragged motion
    typed = dialog.edited_motion()
    units = dialog.preview_units()
    result = c.session.result
    expected = recorrect(
        np.asarray(result.features.waveforms[units], dtype=np.float32),
        np.asarray(result.locations)[units, 1],
        np.asarray(result.sessions)[units],
        typed,
        result.channel_locations,
    )
    np.testing.assert_allclose(dialog.preview, expected, atol=1e-5)
    assert np.abs(dialog.preview - before).max() > 0

    # a press that misses every point edits nothing (the plot pans instead)
    dialog.handles.dragged = None
    values = [b.value() for b in dialog.boxes]
    graphics = dialog.graphics
    empty = QPointF(graphics.mapFromScene(dialog.handles.mapToScene(QPointF(1.5, value))))
    left = Qt.MouseButton.LeftButton
    _send_mouse(graphics.viewport(), QEvent.Type.MouseButtonPress, empty, left)
    _send_mouse(graphics.viewport(), QEvent.Type.MouseMove, empty + QPointF(0, 60), left)
    _send_mouse(graphics.viewport(), QEvent.Type.MouseButtonRelease, empty, Qt.MouseButton.NoButton)
    assert [b.value() for b in dialog.boxes] == values

    assert dialog.rerun()  # the rerun starts from the dragged motion
    assert len(runs) == 1
    motion_file = runs[0].get("waveformCorrection.path_to_motion")
    np.testing.assert_allclose(np.load(motion_file)[1], typed.constant)
    assert np.load(motion_file)[1][1] == value
    assert not [r for r in dialog_log if r.kind == "error"]


def test_dropping_a_point_in_the_drift_view_opens_the_editor_with_it(
    open_folder, window, qtbot, tracked_folder, dialog_log
):
    window.resize(1366, 740)
    assert open_folder(tracked_folder)
    c = window.controller
    c.select_cluster(int(c.session.cluster_ids()[0]))
    view = window.drift_view
    window.show_tab("Drift")
    motion = c.session.result.shanks[0].motion
    shown = view.motion_values(motion)
    qtbot.waitUntil(lambda: _maps_inside(view.motion_plot, 3, shown[2]))
    (y0, y1) = view.motion_plot.viewRange()[1]
    target = shown[2] + 0.3 * (y1 - shown[2])
    assert view.editor is None

    _drag(view.graphics, view.motion_handles, 3, shown[2], target)

    dialog = view.editor  # dropped: the editor opened with session 3 moved there
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    moved = dialog.boxes[2].value() - motion.constant[2]
    assert abs(moved - (target - shown[2])) < 0.05 * (y1 - y0) and abs(moved) > 1.0
    others = [b.value() for i, b in enumerate(dialog.boxes) if i != 2]
    np.testing.assert_allclose(others, np.delete(motion.constant, 2), atol=0.05)
    np.testing.assert_allclose(dialog.edited_curve.getData()[1][2], dialog.boxes[2].value())
    # the drift view's saved motion is untouched, its point back where it was
    np.testing.assert_allclose(view.motion_handles.getData()[1], shown)
    np.testing.assert_allclose(c.session.result.shanks[0].motion.constant, motion.constant)
    assert not [r for r in dialog_log if r.kind == "error"]
