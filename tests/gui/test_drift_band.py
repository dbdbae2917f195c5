"""The drift view's 95 % band: what it covers is said in its legend, and the interval is
drawn around the motion at a scale where it is seen (it is a few tenths of a µm on a
curve spanning tens of µm)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF

from dant_gui.views.drift import BAND_SAMPLING_ONLY, BAND_WITH_EDGE
from tests.gui.conftest import wait_drawn


def _legend_texts(view) -> list[str]:
    return [label.text for _sample, label in view.legend.items]


def test_interval_is_drawn_at_its_own_scale_and_says_what_it_covers(
    open_folder, window, qtbot, tracked_folder
):
    window.resize(1366, 740)
    assert open_folder(tracked_folder)
    view = window.drift_view
    window.show_tab("Drift")
    motion = window.controller.session.result.shanks[0].motion
    assert motion.edge_shift is not None  # the run measured the locator's edge bias
    assert BAND_WITH_EDGE in _legend_texts(view)
    assert "near the probe's ends" in view.interval_plot.toolTip()

    mid = view.motion_values(motion)
    bars = view.interval_bars.opts
    np.testing.assert_allclose(bars["top"], np.maximum(motion.ci_high[0] - mid, 0))
    np.testing.assert_allclose(bars["bottom"], np.maximum(mid - motion.ci_low[0], 0))
    assert np.all(bars["y"] == 0)

    def pixels(plot, low, high) -> float:
        """Screen height (px) of the interval [low, high] µm in `plot`."""
        vb = plot.getViewBox()
        a, b = vb.mapViewToScene(QPointF(1, low)), vb.mapViewToScene(QPointF(1, high))
        return abs(a.y() - b.y())

    qtbot.waitUntil(lambda: view.interval_plot.getViewBox().height() > 20)
    widest = int(np.argmax(motion.ci_high[0] - motion.ci_low[0]))
    low, high = motion.ci_low[0][widest], motion.ci_high[0][widest]
    # on the motion's axis the band is thinner than its points; around it, it is seen
    assert pixels(view.interval_plot, low - mid[widest], high - mid[widest]) >= 20
    assert pixels(view.interval_plot, low - mid[widest], high - mid[widest]) > 5 * pixels(
        view.motion_plot, low, high
    )


def test_a_band_without_the_edge_term_says_it_is_sampling_error_only(
    open_folder, window, qtbot, tracked_folder
):
    assert open_folder(tracked_folder)
    view = window.drift_view
    motion = window.controller.session.result.shanks[0].motion
    motion.edge_shift = None  # as a result saved before the run measured it
    view.on_result_changed()
    wait_drawn(qtbot, window)
    texts = _legend_texts(view)
    assert BAND_SAMPLING_ONLY in texts and BAND_WITH_EDGE not in texts


def test_drift_plots_fit_the_view_on_a_laptop_screen(open_folder, window, qtbot, tracked_folder):
    """At 1366 x 768 the plots' minimum width fits the drift view: wider, pyqtgraph cut the
    unit depths' right side (its last sessions) off the screen."""
    from PyQt6.QtCore import Qt

    window.resize(1366, 740)
    assert open_folder(tracked_folder)
    view = window.drift_view
    window.show_tab("Drift")
    qtbot.waitUntil(lambda: view.graphics.viewport().width() > 100)
    needed = view.graphics.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).width()
    assert needed <= view.graphics.viewport().width(), (needed, view.graphics.viewport().width())
