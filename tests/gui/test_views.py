"""The similarity, cluster-detail and overview views hold what the result says."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PyQt6 import QtCore, QtGui, QtWidgets  # noqa: E402

from dant_gui.controller import Controller  # noqa: E402
from dant_gui.views.common import session_colors  # noqa: E402
from dant_gui.views.detail import N_PROBE_CHANNELS, ClusterDetailView  # noqa: E402
from dant_gui.views.overview import OverviewView  # noqa: E402
from dant_gui.views.similarity import EXACT_ZOOM_UNITS, MAX_IMAGE_SIDE, SimilarityView  # noqa: E402

SIGNAL_TIMEOUT_MS = 30_000


@pytest.fixture(scope="session")
def tracking_result(tmp_path_factory):
    from dant_core.dataset import load_dataset
    from dant_core.pipeline import run_tracking
    from dant_core.settings import Settings
    from dant_core.synthetic import make_demo

    folder = tmp_path_factory.mktemp("views_demo") / "data"
    make_demo(folder, n_units=160, n_sessions=4, seed=1)
    result = run_tracking(load_dataset(folder), Settings.defaults())
    sizes = np.bincount(result.idx_cluster[result.idx_cluster > 0])
    assert sizes.max(initial=0) >= 3, "the engine tracked no neuron in the demo: nothing to view"
    return result


@pytest.fixture
def result(tracking_result):
    # A shallow copy per test: a test that changes the labels leaves the others alone.
    return dataclasses.replace(tracking_result, idx_cluster=tracking_result.idx_cluster.copy())


@pytest.fixture
def ctrl():
    return Controller()


def _show(qtbot, view, w=900, h=800):
    qtbot.addWidget(view)
    view.resize(w, h)
    view.show()
    qtbot.waitExposed(view)
    return view


def _largest_cluster(result) -> int:
    ids, counts = np.unique(result.idx_cluster[result.idx_cluster > 0], return_counts=True)
    return int(ids[np.argmax(counts)])


def _cell_scene_pos(view: SimilarityView, row: int, col: int) -> QtCore.QPointF:
    return view.plot.getViewBox().mapViewToScene(QtCore.QPointF(col + 0.5, row + 0.5))


# ----- similarity view -------------------------------------------------------------------------


def _wait_ready(qtbot, view):
    qtbot.waitUntil(lambda: view.ready, timeout=SIGNAL_TIMEOUT_MS)


def _assert_same_similarity(shown: np.ndarray, expected: np.ndarray) -> None:
    """Equal as correlations: Fisher z = arctanh(r) magnifies rounding near |r| = 1 (dz =
    dr / (1 - r^2), ~300x at z = 3.5), and BLAS may sum a block in another order for
    another block shape, so z itself can differ by 1e-4 where r differs by 4e-7."""
    np.testing.assert_allclose(np.tanh(shown), np.tanh(expected), rtol=0, atol=1e-5)


def test_similarity_image_in_session_order_is_the_exact_matrix(qtbot, ctrl, result):
    view = _show(qtbot, SimilarityView(ctrl))
    ctrl.set_result(result)
    _wait_ready(qtbot, view)
    order = view.order
    s = result.sessions[order]
    assert np.all(np.diff(s) >= 0), "rows are not grouped by session"
    assert sorted(order.tolist()) == list(range(result.n_units))
    assert view.image_is_exact and view.image_data.shape == (result.n_units, result.n_units)
    expected = result.similarity_block(order, order)
    _assert_same_similarity(view.image_data, expected)

    view.set_feature("AutoCorr")
    _wait_ready(qtbot, view)
    _assert_same_similarity(view.image_data, result.similarity_block(order, order, "AutoCorr"))
    view.set_order("leaf")
    _wait_ready(qtbot, view)
    np.testing.assert_array_equal(view.order, result.leaf_order)
    leaf = result.leaf_order
    _assert_same_similarity(view.image_data, result.similarity_block(leaf, leaf, "AutoCorr"))


def test_similarity_cluster_order_outlines_each_cluster(qtbot, ctrl, result):
    view = _show(qtbot, SimilarityView(ctrl))
    ctrl.set_result(result)
    _wait_ready(qtbot, view)
    view.set_order("cluster")
    _wait_ready(qtbot, view)
    labels = result.idx_cluster[view.order]
    ids, sizes = np.unique(result.idx_cluster[result.idx_cluster > 0], return_counts=True)
    # Every cluster is one contiguous run of rows; unmatched units come last.
    for k in ids:
        rows = np.flatnonzero(labels == k)
        assert rows.max() - rows.min() + 1 == rows.size
    assert np.all(labels[labels.size - (result.idx_cluster < 0).sum() :] < 0)
    x, _ = view.outlines.getData()
    n_rect = 0 if x is None else int(np.isnan(x).sum())
    assert n_rect == int((sizes >= 2).sum())
    _assert_same_similarity(view.image_data, result.similarity_block(view.order, view.order))


def test_hover_describes_and_click_selects_the_pair_under_the_mouse(qtbot, ctrl, result):
    view = _show(qtbot, SimilarityView(ctrl))
    ctrl.set_result(result)
    _wait_ready(qtbot, view)
    k = _largest_cluster(result)
    a, b = result.cluster_units(k)[:2]
    row, col = int(view.position[a]), int(view.position[b])
    scene_pos = _cell_scene_pos(view, row, col)

    view._on_mouse_moved(scene_pos)
    text = view.info_label.text()
    value = result.similarity_block([a], [b])[0, 0]
    assert f"unit {a} (session {result.sessions[a]}, cluster {k}" in text
    assert f"unit {b} (session {result.sessions[b]}, cluster {k}" in text
    assert f"{value:.2f}" in text

    widget_pos = view.graphics.mapFromScene(scene_pos)
    with qtbot.waitSignal(ctrl.selection_changed, timeout=5000):
        qtbot.mouseClick(view.graphics.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=widget_pos)
    assert ctrl.session.selection.pair == (int(a), int(b))
    assert ctrl.session.selection.cluster == k
    # The selected pair is marked at both symmetric cells.
    xs, ys = view.pair_marks.getData()
    assert sorted(zip(xs.tolist(), ys.tolist(), strict=True)) == sorted(
        [(col + 0.5, row + 0.5), (row + 0.5, col + 0.5)]
    )


class _LargeFakeResult:
    """20,000 units with a sparse depth-neighbour graph; refuses big similarity blocks."""

    def __init__(self, n_units=20_000, n_sessions=10, seed=0):
        rng = np.random.default_rng(seed)
        self.n_units = n_units
        self.n_sessions = n_sessions
        self.sessions = np.repeat(np.arange(1, n_sessions + 1), n_units // n_sessions)
        self.locations = np.column_stack(
            (rng.uniform(0, 60, n_units), rng.uniform(0, 3840, n_units), np.ones(n_units))
        )
        self.leaf_order = rng.permutation(n_units)
        self.feature_names = ("Waveform",)
        by_depth = np.argsort(self.locations[:, 1])
        pairs = np.concatenate([np.column_stack((by_depth[:-k], by_depth[k:])) for k in (1, 2, 3)])
        self.pairs = np.sort(pairs, axis=1)
        self.scores = rng.normal(1.0, 1.0, (self.pairs.shape[0], 1))
        self.similarity = self.scores[:, 0]
        labels = np.full(n_units, -1)
        labels[by_depth[: n_units // 2]] = np.arange(n_units // 2) // 5 + 1
        self.idx_cluster = labels
        self.largest_request = 0

    def similarity_block(self, rows, cols, feature=None):
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        self.largest_request = max(self.largest_request, rows.size * cols.size)
        if rows.size * cols.size > 1000 * 1000:
            raise AssertionError(f"asked for a {rows.size} x {cols.size} block")
        return np.cos(0.001 * rows[:, None] + 0.002 * cols[None, :])


def test_large_result_is_shown_downsampled_and_exact_when_zoomed(qtbot, ctrl):
    fake = _LargeFakeResult()
    view = _show(qtbot, SimilarityView(ctrl), 800, 800)
    ctrl.set_result(fake)
    _wait_ready(qtbot, view)
    assert not view.image_is_exact
    assert view.image_data.shape[0] <= MAX_IMAGE_SIDE and view.image_data.shape[1] <= MAX_IMAGE_SIDE
    assert fake.largest_request <= 1000 * 1000
    # Cells hold the mean of the graph pairs that fall into them (symmetric, NaN elsewhere).
    img = view.image_data
    finite = np.isfinite(img)
    assert finite.any() and (~finite).any()
    np.testing.assert_allclose(img[finite], img.T[finite], rtol=1e-5)

    with qtbot.waitSignal(view.exact_updated, timeout=SIGNAL_TIMEOUT_MS):
        view.plot.getViewBox().setRange(xRange=(5000, 5200), yRange=(5000, 5200), padding=0)
    r0, r1, c0, c1 = view.exact_range
    assert 0 < (r1 - r0) * (c1 - c0) <= EXACT_ZOOM_UNITS**2
    expected = fake.similarity_block(view.order[r0:r1], view.order[c0:c1])
    np.testing.assert_allclose(view.exact_block, expected, rtol=1e-5)
    assert view.exact_image.isVisible()
    assert fake.largest_request <= EXACT_ZOOM_UNITS**2


# ----- cluster detail view ---------------------------------------------------------------------


def test_detail_shows_exactly_the_selected_clusters_units(qtbot, ctrl, result):
    view = _show(qtbot, ClusterDetailView(ctrl), 1600, 1000)
    ctrl.set_result(result)
    k = _largest_cluster(result)
    units = result.cluster_units(k)
    with qtbot.waitSignal(view.drawn, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.select_cluster(k)
        # The table at once, the plots on the next turns of the loop.
        assert view.table_units() == units.tolist()
        assert view.units.tolist() == units.tolist()
        assert len(view.waveform_traces) == 0 and view.drawing
    assert len(view.waveform_traces) == units.size  # a trace per unit, in the order of units
    block = result.similarity_block(units, units)
    mean = (block.sum(axis=1) - np.diag(block)) / (units.size - 1)
    shown = [float(view.table.item(r, 4).text()) for r in range(units.size)]
    np.testing.assert_allclose(shown, mean, atol=0.005)  # the table's similarity column
    n_ch = len(view.channels)
    assert n_ch == N_PROBE_CHANNELS
    n_sample = result.features.waveforms.shape[-1]
    for x, y in zip(view.waveform_traces.x, view.waveform_traces.y, strict=True):
        # One piece per channel, NaN-separated: every unit's trace spans all the probe channels.
        assert int(np.isnan(x).sum()) == n_ch and int(np.isfinite(y).sum()) == n_ch * n_sample
    # Each unit's trace in its session's colour.
    colors = session_colors(result.n_sessions)
    for u, pen in zip(units, view.waveform_traces.pens, strict=True):
        assert pen.color().rgb() == colors[int(result.sessions[u]) - 1].rgb()
    np.testing.assert_allclose(
        view.shown_waveforms, result.features.waveforms[units][:, view.channels]
    )
    view.corrected_check.setChecked(True)
    corrected = np.stack([result.corrected_waveform(int(u)) for u in units])[:, view.channels]
    np.testing.assert_allclose(view.shown_waveforms, corrected)
    np.testing.assert_allclose(view.block, block)
    np.testing.assert_array_equal(view.depth_points.getData()[0], result.sessions[units])

    # Another cluster replaces everything; the steps left of the one before are dropped.
    other, third = [int(c) for c in np.unique(result.idx_cluster) if c > 0 and c != k][:2]
    with qtbot.waitSignal(view.drawn, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.select_cluster(third)
        ctrl.select_cluster(other)
    others = result.cluster_units(other)
    assert view.table_units() == others.tolist()
    assert len(view.waveform_traces) == others.size
    np.testing.assert_array_equal(view.depth_points.getData()[0], result.sessions[others])
    assert len(view.overlay_traces["acg"]) == others.size
    assert view.matrix.image.image.shape == (others.size, others.size)


def test_detail_unit_table_and_depth_points_select_units(qtbot, ctrl, result):
    view = _show(qtbot, ClusterDetailView(ctrl), 1600, 1000)
    ctrl.set_result(result)
    k = _largest_cluster(result)
    units = result.cluster_units(k)
    with qtbot.waitSignal(view.drawn, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.select_cluster(k)
    with qtbot.waitSignal(ctrl.selection_changed, timeout=2000):
        view.table.selectRow(1)
    assert ctrl.session.selection.units.tolist() == [int(units[1])]
    assert ctrl.session.selection.cluster == k
    assert view.table_units() == units.tolist()  # the cluster stays shown
    widths = [pen.widthF() for pen in view.waveform_traces.pens]
    assert widths[1] > max(w for i, w in enumerate(widths) if i != 1)
    assert view.waveform_traces.order[-1] == 1  # drawn on top

    # Depth plot: the corrected depth is raw depth minus the motion; clicking selects.
    x, y = view.depth_points.getData()
    motion = result.shanks[0].motion.at(result.sessions[units], result.locations[units, 1])
    np.testing.assert_allclose(y, result.locations[units, 1] - motion)
    np.testing.assert_allclose(x, result.sessions[units])
    spot = view.depth_points.points()[2]
    with qtbot.waitSignal(ctrl.selection_changed, timeout=2000):
        view.depth_points.sigClicked.emit(view.depth_points, [spot], None)
    assert ctrl.session.selection.units.tolist() == [int(units[2])]

    # Clicking a unit's waveform selects that unit: a real click on a point of its trace.
    ctrl.select_cluster(k)
    view.graphics.grab()  # painted: the view box has applied its new range
    traces = view.waveform_traces
    i, j = 2, result.features.waveforms.shape[-1] // 2  # mid-trace on the peak channel
    pixel = view.graphics.mapFromScene(
        traces.mapToScene(QtCore.QPointF(traces.x[i, j], traces.y[i, j]))
    )
    # the trace nearest to that pixel (traces of one cluster run close together)
    clicked = traces.trace_at(traces.mapFromScene(view.graphics.mapToScene(pixel)))
    assert clicked is not None
    with qtbot.waitSignal(ctrl.selection_changed, timeout=2000):
        qtbot.mouseClick(view.graphics.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pixel)
    assert ctrl.session.selection.units.tolist() == [int(units[clicked])]
    rows = sorted({i.row() for i in view.table.selectionModel().selectedRows()})
    assert rows == [clicked]


def test_detail_without_peth_says_so(qtbot, ctrl, result):
    features = dataclasses.replace(result.features, peth=None)
    view = _show(qtbot, ClusterDetailView(ctrl), 1600, 1000)
    ctrl.set_result(dataclasses.replace(result, features=features))
    k = _largest_cluster(result)
    with qtbot.waitSignal(view.drawn, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.select_cluster(k)
    assert view.overlay_missing["peth"].isVisible()
    assert len(view.overlay_traces["peth"]) == 0
    units = result.cluster_units(k)
    assert len(view.overlay_traces["acg"]) == units.size
    np.testing.assert_array_equal(view.overlay_traces["acg"].y, result.features.auto_corr[units])


def test_detail_histogram_has_the_lda_threshold_and_matched_pairs(qtbot, ctrl, result):
    view = _show(qtbot, ClusterDetailView(ctrl), 1600, 1000)
    with qtbot.waitSignal(view.summary_ready, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.set_result(result)
    k = _largest_cluster(result)
    with qtbot.waitSignal(view.drawn, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.select_cluster(k)
    assert view.threshold_line.isVisible()
    assert view.threshold_line.value() == pytest.approx(float(result.thresholds[0]))
    summary = view.summary
    cand = result.pairs[result.candidate]
    lab = result.idx_cluster
    expected = (lab[cand[:, 0]] == lab[cand[:, 1]]) & (lab[cand[:, 0]] > 0)
    np.testing.assert_array_equal(summary.matched, expected)
    assert summary.hist_matched.sum() == expected.sum() > 0
    # The histograms are those of every candidate pair's similarity (the summary keeps no
    # per-pair similarity: it reads the graph in chunks, issue 16).
    from dant_core.pair_summary import HIST_EDGES

    sim = np.clip(result.similarity[result.candidate], HIST_EDGES[0], HIST_EDGES[-1])
    np.testing.assert_array_equal(summary.hist_matched, np.histogram(sim[expected], HIST_EDGES)[0])
    np.testing.assert_array_equal(
        summary.hist_unmatched, np.histogram(sim[~expected], HIST_EDGES)[0]
    )
    labels = [label.text for _, label in view.hist_plot.legend.items]
    assert f"matched ({int(expected.sum())})" in labels
    assert f"unmatched ({int((~expected).sum())})" in labels
    # The cluster's own pairs are marked at their similarity.
    units = result.cluster_units(k)
    i, j = np.triu_indices(units.size, 1)
    x, _ = view.hist_marks.getData()
    np.testing.assert_allclose(np.sort(x), np.sort(result.similarity_block(units, units)[i, j]))

    # The scatter of the sampled pairs (filled over several turns of the event loop).
    items = view.scatter_items
    qtbot.waitUntil(lambda: all(item.isVisible() for item in items.values()), timeout=10_000)
    m = summary.sample_matched
    assert len(items["matched"].data) == m.sum() and len(items["unmatched"].data) == (~m).sum()
    np.testing.assert_allclose(items["matched"].getData()[1], summary.sample_scores[m, 1])

    # Curation: dissolving the cluster moves its pairs to "unmatched".
    with qtbot.waitSignal(view.summary_ready, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.session.result.idx_cluster[units] = -1
        ctrl.clusters_changed.emit(None)  # None: any clusters may have changed
    assert view.summary.matched.sum() == expected.sum() - units.size * (units.size - 1) // 2


# ----- overview --------------------------------------------------------------------------------


def test_overview_presence_matrix_has_one_row_per_cluster(qtbot, ctrl, result):
    view = _show(qtbot, OverviewView(ctrl), 1200, 800)
    ctrl.set_result(result)
    sm = view.summary
    ids = np.unique(result.idx_cluster[result.idx_cluster > 0])
    assert sorted(sm.presence_clusters.tolist()) == ids.tolist()
    assert sm.presence.shape == (ids.size, result.n_sessions)
    for row, k in enumerate(sm.presence_clusters):
        sessions = np.unique(result.sessions[result.idx_cluster == k])
        assert np.flatnonzero(sm.presence[row]).tolist() == (sessions - 1).tolist()
    first = np.argmax(sm.presence, axis=1)
    assert np.all(np.diff(first) >= 0), "rows are not sorted by first session"
    np.testing.assert_array_equal(sm.units_per_session, np.bincount(result.sessions)[1:])
    # Lag 1, "later" normalisation, by brute force over the units.
    fractions = []
    for s in range(1, result.n_sessions):
        later = np.flatnonzero(result.sessions == s + 1)
        earlier_clusters = set(result.idx_cluster[result.sessions == s]) - {-1}
        hit = sum(int(result.idx_cluster[u] in earlier_clusters) for u in later)
        fractions.append(hit / later.size)
    assert sm.p_later[0, 0] == pytest.approx(np.mean(fractions))
    assert sm.p_later[0, 1] == pytest.approx(np.std(fractions))
    assert f"<b>{ids.size}</b> tracked neurons" in view.summary_label.text()


def test_overview_click_on_a_presence_row_selects_its_cluster(qtbot, ctrl, result):
    view = _show(qtbot, OverviewView(ctrl), 1200, 800)
    ctrl.set_result(result)
    row = 3
    k = int(view.summary.presence_clusters[row])
    first = int(np.argmax(view.summary.presence[row]))  # a cell that has a unit
    vb = view.presence_plot.getViewBox()
    scene_pos = vb.mapViewToScene(QtCore.QPointF(first + 1.0, row + 0.5))
    with qtbot.waitSignal(ctrl.selection_changed, timeout=5000):
        qtbot.mouseClick(
            view.graphics.viewport(),
            QtCore.Qt.MouseButton.LeftButton,
            pos=view.graphics.mapFromScene(scene_pos),
        )
    assert ctrl.session.selection.cluster == k
    rect = view.selected_row.rect()
    assert view.selected_row.isVisible() and rect.top() == row and rect.height() == 1


def test_overview_follows_curation(qtbot, ctrl, result):
    view = _show(qtbot, OverviewView(ctrl), 1200, 800)
    ctrl.set_result(result)
    n_before = view.summary.n_clusters
    k = int(view.summary.presence_clusters[0])
    # Curation changes the current labels: dissolve one cluster.
    ctrl.session.result.idx_cluster[ctrl.session.result.idx_cluster == k] = -1
    ctrl.clusters_changed.emit(None)  # None: any clusters may have changed
    assert view.summary.n_clusters == n_before - 1
    assert k not in view.summary.presence_clusters


# ----- saving ----------------------------------------------------------------------------------


@pytest.mark.parametrize("view_class", [SimilarityView, ClusterDetailView, OverviewView])
def test_export_image_writes_png_and_svg(qtbot, ctrl, result, tmp_path, view_class):
    view = _show(qtbot, view_class(ctrl), 1200, 800)
    ctrl.set_result(result)
    if view_class is SimilarityView:
        _wait_ready(qtbot, view)
    ctrl.select_cluster(_largest_cluster(result))
    png, svg = tmp_path / "plot.png", tmp_path / "plot.svg"
    view.export_image(png)
    view.export_image(svg)
    image = QtGui.QImage(str(png))
    assert not image.isNull() and image.width() >= 600 and image.height() >= 300
    # Not a blank page: the plot draws in more than two colours.
    sample = image.scaled(200, 120)
    colours = {sample.pixel(x, y) for x in range(0, 200, 4) for y in range(0, 120, 4)}
    assert len(colours) > 5
    text = svg.read_text()
    assert "<svg" in text and ("<path" in text or "<polyline" in text or "<image" in text)


def test_session_legend_lists_few_sessions_and_the_ends_of_many():
    """A legend with an entry per session covers the traces at 30-60 sessions: up to 8 are
    listed, beyond that the first and last (the ends of the session colour scale)."""
    from dant_gui.views.common import MAX_LEGEND_SESSIONS, legend_sessions

    few = legend_sessions([3, 1, 2, 3])
    assert few == [(1, "session 1"), (2, "session 2"), (3, "session 3")]
    many = legend_sessions(range(5, 65))
    assert [s for s, _ in many] == [5, 64]
    assert "60 in all" in many[1][1]
    edge = legend_sessions(range(1, MAX_LEGEND_SESSIONS + 1))
    assert len(edge) == MAX_LEGEND_SESSIONS


def test_matrix_values_are_written_only_where_a_cell_holds_one(
    open_folder, window, qtbot, tracked_folder
):
    """The within-cluster matrix writes its values into the cells only while a cell is wider
    on screen than a value (zoomed out, or on a small screen, the numbers would run
    together); zoomed back, they return."""
    assert open_folder(tracked_folder)
    c = window.controller
    sizes = {int(k): c.session.units_of(k).size for k in c.session.cluster_ids()}
    cluster = max((k for k, n in sizes.items() if n <= 8), key=lambda k: sizes[k])
    c.select_cluster(cluster)
    view = window.views["Cluster detail"]
    with qtbot.waitSignal(view.drawn, timeout=SIGNAL_TIMEOUT_MS):
        assert window.show_tab("Cluster detail")
    k = sizes[cluster]
    box = view.matrix_plot.getViewBox()
    text_px = QtGui.QFontMetrics(QtGui.QFont()).horizontalAdvance("-0.0")

    def shown(zoom: float):
        box.setRange(xRange=(0, zoom * k), yRange=(0, zoom * k), padding=0)
        QtWidgets.QApplication.processEvents()
        cell_px = box.width() / (box.viewRange()[0][1] - box.viewRange()[0][0])
        visible = [t.isVisible() for t in view.matrix.texts[: k * k]]
        assert all(visible) or not any(visible)
        return all(visible), cell_px

    shown_now, cell_px = shown(1.0)
    assert shown_now and cell_px >= text_px
    zoomed_out, cell_px = shown(12.0)
    assert cell_px < text_px and not zoomed_out
    assert shown(1.0)[0]


def test_detail_shows_the_threshold_at_the_clusters_amplitude(qtbot, ctrl, result):
    """Amplitude-aware curation (issue 15): beside the shank's threshold, the histogram shows
    the threshold the curve gives at the shown cluster's amplitude."""
    from dant_core.review import threshold_curve_of, unit_log_amplitude

    view = _show(qtbot, ClusterDetailView(ctrl), 1600, 1000)
    with qtbot.waitSignal(view.summary_ready, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.set_result(result)
    k = _largest_cluster(result)
    with qtbot.waitSignal(view.drawn, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.select_cluster(k)
    units = result.cluster_units(k)
    curve = threshold_curve_of(result, int(units[0]))
    assert curve is not None  # the default curation is amplitude-aware
    log_amp = float(np.median(unit_log_amplitude(result, units)))
    assert view.amplitude_line.isVisible()
    assert view.amplitude_line.value() == pytest.approx(float(curve.at(log_amp)))
    assert f"at {np.exp(log_amp):.0f} µV" in view.amplitude_line.label.format
    ctrl.clear_selection()  # no cluster shown: no amplitude, no line
    assert not view.amplitude_line.isVisible()


def test_a_closed_view_drops_background_results_still_on_their_way(qtbot, ctrl, result):
    """A view closed (and about to be deleted) must not draw a result its worker queued
    before the close: drawing into deleted plot items crashed the test process."""
    view = _show(qtbot, ClusterDetailView(ctrl), 900, 700)
    with qtbot.waitSignal(view.summary_ready, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.set_result(result)
    drawn = view._summaries
    view.close()
    with qtbot.assertNotEmitted(view.summary_ready):
        view._on_summary_done((view._summary_generation, {"late": None}))
    assert view._summaries is drawn


def test_unit_numbers_under_the_matrix_do_not_run_together(qtbot, ctrl, result):
    """A narrow view (two columns) leaves the matrix ~150 px: its unit numbers are thinned
    to what fits side by side."""
    view = _show(qtbot, ClusterDetailView(ctrl), 560, 700)
    ctrl.set_result(result)
    with qtbot.waitSignal(view.drawn, timeout=SIGNAL_TIMEOUT_MS):
        ctrl.select_units(list(range(result.n_units - 40, result.n_units)))  # 3-digit numbers
    axis = view.matrix_plot.getAxis("bottom")
    labels = [text for _, text in axis._tickLevels[0]]  # the ticks set by the view
    metrics = QtGui.QFontMetrics(axis.font())
    assert len(labels) >= 2
    needed = sum(metrics.horizontalAdvance(t) for t in labels) + 8 * (len(labels) - 1)
    assert needed <= view.matrix_plot.getViewBox().width(), (labels, needed)
