"""Helpers shared by the views: session colours, plot styling, saving plots as PNG/SVG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6 import sip
from PyQt6.QtCore import QObject, QRect, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QColor, QFontMetrics, QPen
from PyQt6.QtWidgets import QGraphicsItem, QMenu, QToolButton, QWidget

from .. import dialogs

# White plots with dark ink read like figures; set once before any plot widget exists.
pg.setConfigOptions(background="w", foreground="#202020", antialias=True)

# Sessions are ordered in time, so a sequential perceptual map; its light end is cut so
# the last session stays visible on white.
SESSION_COLORMAP = "viridis"
_MAP_RANGE = (0.0, 0.88)

SELECTED_COLOR = QColor("#d62728")  # highlighted units / cluster
MOTION_COLOR = QColor("#202020")
IMAGE_FILTER = "PNG image (*.png);;SVG vector image (*.svg)"
LEVELS = (-1.0, 4.0)  # Fisher z in [-6, 6]: good matches lie ~2-4; the diagonal (6) saturates
WEIGHTED = "Weighted similarity"  # the name of the weighted similarity among feature names


def session_colors(n_sessions: int) -> list[QColor]:
    """One QColor per session 1..S (index 0 = session 1), from the fixed perceptual map."""
    if n_sessions <= 0:
        return []
    cmap = pg.colormap.get(SESSION_COLORMAP)
    pos = np.linspace(*_MAP_RANGE, n_sessions) if n_sessions > 1 else np.array([0.3])
    return [cmap.map(float(p), mode=pg.ColorMap.QCOLOR) for p in pos]


def session_color(session: int, n_sessions: int) -> QColor:
    """Colour of 1-based `session` out of `n_sessions`."""
    return session_colors(n_sessions)[int(session) - 1]


def session_brushes(sessions: np.ndarray, n_sessions: int, alpha: int = 255) -> list:
    """A brush per unit (for ScatterPlotItem) from its 1-based session."""
    brushes = []
    for c in session_colors(n_sessions):
        c = QColor(c)
        c.setAlpha(alpha)
        brushes.append(pg.mkBrush(c))
    return [brushes[int(s) - 1] for s in np.asarray(sessions)]


# The next step of a drawing split over turns of the event loop comes a frame (16 ms) after
# the last: the paint of one step, the window's timers and input come before the next. A
# 0 ms timer is a posted event, and Qt may send the events posted meanwhile in the same
# pass (after a layout request, say): several steps then ran with nothing between; a 1 ms
# one fired in the same turn as the paint of the step before (one block of both).
TURN_MS = 16
FILL_STEP_POINTS = 1500  # scatter points styled per turn of the event loop (~40 µs each)


def set_scatter_in_steps(item, x, y, data, brushes, step: int = FILL_STEP_POINTS) -> None:
    """`item.setData(x=x, y=y, data=data, brush=brushes)` for a pg.ScatterPlotItem. More
    than `step` points are added `step` at a time on later turns of the event loop:
    pyqtgraph styles each point on the UI thread, 0.8 s for the 20,000 units of a large
    result. The item is hidden until its last step: shown, each step repainted the whole
    plot (13 repaints of ~50 ms at 20,000 units). A newer call for the same item stops a
    fill not yet finished."""
    token = object()
    item.fill_token = token

    def add(start: int) -> None:
        if sip.isdeleted(item) or getattr(item, "fill_token", None) is not token:
            return
        stop = start + step
        part = slice(start, stop)
        try:
            item.addPoints(x=x[part], y=y[part], data=data[part], brush=brushes[part])
        except RuntimeError:  # its view closed between two steps: Qt deleted what it drew on
            return
        if stop < len(x):
            QTimer.singleShot(TURN_MS, lambda: add(stop))
        else:
            item.fill_token = None
            item.show()

    if len(x) > step:
        # Every step on a later turn, the first too: the view's other drawing for the same
        # change (a new result: the motion plot, the table) is one block already.
        item.setData(x=x[:0], y=y[:0], data=data[:0])
        item.hide()
        QTimer.singleShot(TURN_MS, lambda: add(0))
    else:
        item.fill_token = None
        item.setData(x=x, y=y, data=data, brush=brushes)
        item.show()


def fill_pending(item) -> bool:
    """A fill of set_scatter_in_steps has steps still to come."""
    return getattr(item, "fill_token", None) is not None


def stop_scatter_fill(item) -> None:
    """Stop a fill of set_scatter_in_steps on its way (its item is about to go away)."""
    item.fill_token = None


MAX_LEGEND_SESSIONS = 8  # more would cover the traces; then only the colour scale's ends


def legend_sessions(sessions) -> list[tuple[int, str]]:
    """(session, label) of the legend entries for traces of these sessions: every session
    when there are at most MAX_LEGEND_SESSIONS, else the first and the last, labelled as
    the ends of the session colour scale (the colours between run from one to the other)."""
    shown = sorted({int(s) for s in sessions})
    if len(shown) <= MAX_LEGEND_SESSIONS:
        return [(s, f"session {s}") for s in shown]
    first, last = shown[0], shown[-1]
    return [
        (first, f"session {first} (first)"),
        (last, f"session {last} (last; {len(shown)} in all)"),
    ]


def style_plot(plot: pg.PlotItem, title: str, x_label: str, y_label: str) -> None:
    """Title and axis labels (with units) in a size that survives a screenshot."""
    plot.setTitle(title, size="11pt")
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.15)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.label.setFont(axis.font())
        # No SI-prefixed labels ("(x0.001)", "(x1e+06)"): pyqtgraph otherwise re-parses
        # the label's HTML at every range change (~20 ms of a selection).
        axis.enableAutoSIPrefix(False)
    keep_axis_width(plot.getAxis("left"))
    for name in ("left", "bottom", "right", "top"):
        # Kept as a pixmap until its range or size changes: replaying an axis's text
        # and grid took ~8 ms per axis on every repaint (a drift view repaint 52 -> 19 ms
        # at 20,000 units; every selection and every step of a large scatter repaints it).
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


AXIS_TEXT_ROOM = "-0000"  # tick labels up to this wide never change a plot's layout


def keep_axis_width(axis: pg.AxisItem, room: str = AXIS_TEXT_ROOM) -> None:
    """The axis keeps room for labels as wide as `room` (as tall, for a bottom axis: its
    lines) and never gives it back. By default it fits its widest tick label, so a new
    range ("80" -> "-120") resized its plot, which laid out the whole figure again and
    redrew every axis in it (~5 ms each: at 20,000 units the drift view's 8 axes were
    redrawn at each step of its filling in)."""
    font = axis.style["tickFont"] or axis.font()
    axis.setStyle(autoReduceTextSpace=False)
    if axis.orientation in ("left", "right"):
        axis.textWidth = max(axis.textWidth, QFontMetrics(font).horizontalAdvance(room))
    else:  # a bottom or top axis: the height of `room`'s lines
        size = QFontMetrics(font).boundingRect(QRect(), 0, room).size()
        axis.textHeight = max(axis.textHeight, size.height())
    axis.setStyle(autoExpandTextSpace=True)  # re-fits the axis to its text's room


def session_ticks(plot: pg.PlotItem, n_sessions: int) -> None:
    """Integer ticks 1..S on the bottom axis, at most ~10 labelled (a narrow plot at 60
    sessions ran 20 two-digit labels together); every session keeps a minor tick."""
    step = max(1, int(np.ceil(n_sessions / 10)))
    ticks = [(s, str(s)) for s in range(1, n_sessions + 1, step)]
    minor = [(s, "") for s in range(1, n_sessions + 1)] if step > 1 else []
    plot.getAxis("bottom").setTicks([ticks, minor])


def export_item(item, path) -> Path:
    """Save a pyqtgraph PlotItem / GraphicsLayout / scene as .png or .svg (by suffix)."""
    import pyqtgraph.exporters as exporters

    path = Path(path)
    suffix = path.suffix.lower()
    target = item
    if suffix == ".svg":
        try:
            exporters.SVGExporter(target).export(str(path))
        except Exception:  # noqa: BLE001 - see _render_svg
            _render_svg(target, path)
        return path
    if suffix in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"):
        exporter = exporters.ImageExporter(target)
        width = int(exporter.parameters()["width"])
        if width < 1200:
            # Screen-sized plots make blurry figures: export at least 1200 px wide.
            exporter.parameters()["width"] = 1200
    else:
        raise ValueError(f"{path.name}: save as .png or .svg")
    exporter.export(str(path))
    return path


def _render_svg(item, path: Path) -> None:
    """Paint `item`'s scene region with Qt's own SVG generator.

    pyqtgraph 0.14's SVG exporter cannot parse the closed paths ("... Z") that
    Qt >= 6.8 writes; Qt's generator always works (less tidy, still vector).
    """
    from PyQt6.QtCore import QRectF
    from PyQt6.QtGui import QPainter, QPicture
    from PyQt6.QtSvg import QSvgGenerator

    from .svg_tidy import bake_transforms

    scene = item.scene() if hasattr(item, "scene") and callable(item.scene) else item
    rect = item.sceneBoundingRect() if hasattr(item, "sceneBoundingRect") else scene.sceneRect()
    target = QRectF(0, 0, rect.width(), rect.height())
    generator = QSvgGenerator()
    # pyqtgraph caches axes as QPictures recorded at the screen's DPI; a generator at its
    # default 72 dpi would replay them scaled, off their plots.
    generator.setResolution(QPicture().logicalDpiX())
    generator.setFileName(str(path))
    generator.setSize(target.size().toSize())
    generator.setViewBox(target)
    generator.setTitle(path.stem)
    # Export mode: scatter symbols as vector paths, not cached pixmap fragments.
    items = [i for i in scene.items() if hasattr(i, "setExportMode")]
    painter = QPainter(generator)
    try:
        for i in items:
            i.setExportMode(True, {"antialias": True, "background": None, "painter": painter})
        scene.render(painter, target, rect)
    finally:
        for i in items:
            i.setExportMode(False)
        painter.end()
    # Qt's pens rely on non-scaling-stroke, which other renderers ignore (see svg_tidy).
    path.write_text(bake_transforms(path.read_text(encoding="utf-8")), encoding="utf-8")


def export_widget(widget: QWidget, path) -> Path:
    """Save a non-pyqtgraph widget as a PNG (what it shows now)."""
    path = Path(path)
    if not widget.grab().save(str(path)):
        raise OSError(f"{path}: could not write the image")
    return path


def ask_save_path(parent: QWidget, default_name: str) -> Path | None:
    """File dialog (via dialogs.ask) for an image; adds .png when no suffix is given."""
    path = dialogs.save_file(parent, "Save plot", IMAGE_FILTER, default_name)
    if path is None:
        return None
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg"):
        path = path.with_suffix(".png")
    return path


def save_with_dialog(parent: QWidget, item, default_name: str) -> Path | None:
    """Ask for a file and save `item` (a plot item, or a QWidget) there; errors -> dialog."""
    path = ask_save_path(parent, default_name)
    if path is None:
        return None
    try:
        if isinstance(item, QWidget) and not isinstance(item, pg.GraphicsView):
            export_widget(item, path)
        else:
            export_item(item, path)
    except Exception as exc:  # noqa: BLE001 - a failed save is a message, not a crash
        dialogs.error(parent, "Save plot", f"{path.name}: could not save the plot ({exc})")
        return None
    return path


def save_button(parent: QWidget, items, default_name: str) -> QToolButton:
    """A 'Save…' tool button; `items` is a callable returning {label: plot item} (or one item).

    One item saves directly; several give a menu (one entry per plot).
    """
    button = QToolButton(parent)
    button.setText("Save plot…")
    button.setToolTip("Save a plot as PNG or SVG")
    button.setAutoRaise(True)

    def current() -> dict:
        found = items() if callable(items) else items
        return found if isinstance(found, dict) else {"plot": found}

    def save_one(label: str) -> None:
        item = current()[label]
        name = default_name if len(current()) == 1 else f"{default_name}_{label}"
        save_with_dialog(parent, item, name.replace(" ", "_") + ".png")

    def show_menu() -> None:
        plots = current()
        if len(plots) == 1:
            save_one(next(iter(plots)))
            return
        menu = QMenu(button)
        for label in plots:
            action = QAction(label, menu)
            action.triggered.connect(lambda _=False, lab=label: save_one(lab))
            menu.addAction(action)
        menu.exec(button.mapToGlobal(button.rect().bottomLeft()))

    button.clicked.connect(show_menu)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


def add_save_to_context_menu(plot: pg.PlotItem, parent: QWidget, default_name: str) -> None:
    """Add 'Save plot as PNG/SVG…' to a PlotItem's right-click menu."""
    menu = plot.getViewBox().menu
    if menu is None:
        return
    action = QAction("Save plot as PNG/SVG…", menu)
    action.triggered.connect(lambda: save_with_dialog(parent, plot, default_name + ".png"))
    menu.addSeparator()
    menu.addAction(action)


def set_title(plot: pg.PlotItem, text: str) -> None:
    """Plot title that may be clipped rather than widen its column (narrow windows), and
    whose text never sets its column's width: a new title (each selection has one) laid
    the whole figure out again, and every axis in it was drawn anew."""
    plot.setTitle(text, size="10pt")
    label = plot.titleLabel
    hint = getattr(label, "_sizeHint", None)  # pyqtgraph sizes the label to its text
    if isinstance(hint, dict) and Qt.SizeHint.MinimumSize in hint:
        for which in (Qt.SizeHint.MinimumSize, Qt.SizeHint.PreferredSize):
            hint[which] = (0, hint[which][1])
        label.setMinimumWidth(0)
        label.updateGeometry()


def add_save_action(plot: pg.PlotItem, parent: QWidget, name: str) -> None:
    """'Save plot as PNG/SVG…' in the plot's right-click menu (saved as `name` by default)."""
    menu = plot.getViewBox().menu
    action = QAction("Save plot as PNG/SVG…", menu)

    def save() -> None:
        path = ask_save_path(parent, name)
        if path is not None:
            export_item(plot, path)

    action.triggered.connect(save)
    menu.addSeparator()
    menu.addAction(action)


def nice_scale(value: float) -> float:
    """A round number (1, 2, 5 x 10^k) not larger than `value` (> 0)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    k = np.floor(np.log10(value))
    for m in (5.0, 2.0, 1.0):
        if m * 10**k <= value:
            return float(m * 10**k)
    return float(10**k)


def probe_channels(channel_locations: np.ndarray, peak_channel: int, n: int) -> np.ndarray:
    """The n channels nearest (in the plane) to the peak channel, itself included."""
    d = np.linalg.norm(channel_locations - channel_locations[peak_channel], axis=1)
    return np.argsort(d, kind="stable")[: min(n, d.size)]


def trace_width(xy: np.ndarray) -> float:
    """Width (µm) of one channel's trace: 90% of the gap to the next channel in its row."""
    gaps = []
    for y in np.unique(xy[:, 1]):
        xs = np.sort(xy[xy[:, 1] == y, 0])
        if xs.size > 1:
            gaps.append(np.diff(xs).min())
    if not gaps:
        dx = np.diff(np.unique(xy[:, 0]))
        gaps = [dx.min()] if dx.size else [20.0]
    return 0.9 * float(min(gaps))


# Antialiased lines wider than 1 px take Qt's raster engine ~40x longer than 1 px ones (it
# strokes them into polygons): 60 units' waveforms on 20 channels took ~0.5 s per paint at
# 1.5 px and ~12 ms at 1 px. So a plot of many traces draws them 1 px wide; a few stay bolder.
WIDE_TRACES_UP_TO = 4  # traces drawn at their full width when a plot has at most this many
THIN_WIDTH = 1.0  # px, the width of the traces of a plot with more


def trace_pen(color, n_traces: int, width: float = 1.5) -> QPen:
    """A cosmetic pen for one of `n_traces` traces of a plot: `width` px when they are few
    (WIDE_TRACES_UP_TO), else THIN_WIDTH (the cheap path of Qt's raster engine)."""
    return pg.mkPen(color, width=width if n_traces <= WIDE_TRACES_UP_TO else THIN_WIDTH)


def unit_pens(sessions: np.ndarray, n_sessions: int, highlighted=None) -> list[QPen]:
    """A trace pen per unit of 1-based `sessions` (k,) in its session's colour; with
    `highlighted` (k,) bool marking a part of them, those bolder and the others faded."""
    colors = session_colors(n_sessions)
    if highlighted is None:
        return [trace_pen(colors[s - 1], len(sessions)) for s in sessions]
    n_highlighted = int(np.count_nonzero(highlighted))
    pens = []
    for s, bold in zip(sessions, highlighted, strict=True):
        color = QColor(colors[s - 1])
        if bold:
            pens.append(trace_pen(color, n_highlighted, width=2.5))
        else:
            color.setAlpha(60)
            pens.append(trace_pen(color, len(sessions), width=1.0))
    return pens


def fill_session_legend(legend: pg.LegendItem, sessions: np.ndarray, n_sessions: int) -> None:
    """The legend of traces of 1-based `sessions` (see legend_sessions): a line in each
    listed session's colour (a sample item, not drawn in any plot). Left as it is when its
    entries would not change (rebuilding it cost ~10 ms a selection at 60 sessions)."""
    entries = [(s, label, n_sessions) for s, label in legend_sessions(sessions)]
    if getattr(legend, "session_entries", None) == entries:
        return
    legend.clear()
    legend.session_entries = entries
    colors = session_colors(n_sessions)
    for session, label, _ in entries:
        legend.addItem(pg.PlotDataItem(pen=trace_pen(colors[session - 1], 1)), label)


class DrawSteps(QObject):
    """A redraw split into steps, one per turn of the event loop, so that the window paints
    and answers input between them (one turn drawing all of a view's plots blocked the UI
    thread for longer than 100 ms). `run(steps)` drops the steps left of an earlier run;
    `finished` is emitted when the last step is done (at once for no steps)."""

    finished = pyqtSignal()

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self._steps: list = []
        self._run = 0  # the current run; a turn scheduled for an earlier one does nothing

    @property
    def pending(self) -> bool:
        return bool(self._steps)

    def run(self, steps) -> None:
        self._run += 1
        self._steps = list(steps)
        if self._steps:
            run = self._run
            QTimer.singleShot(TURN_MS, lambda: self._next(run))
        else:
            self.finished.emit()

    def finish(self) -> None:
        """Do the steps left now (before an export, say)."""
        while self._steps:
            self._steps.pop(0)()
        self._run += 1
        self.finished.emit()

    def stop(self) -> None:
        self._steps = []
        self._run += 1

    def _next(self, run: int) -> None:
        if run != self._run or sip.isdeleted(self) or not self._steps:
            return
        if getattr(self.parent(), "closed", False):  # a closed view: Qt may delete its plots
            self.stop()
            return
        self._steps.pop(0)()
        if self._steps:
            QTimer.singleShot(TURN_MS, lambda: self._next(run))
        else:
            self.finished.emit()
