"""Figure descriptions and their layout into shapes: the one place the plots are designed.

A `Figure` is one axes (lines, histogram bars, bands, markers, a matrix image with its
colour bar, a threshold line); a `FigureRow` puts several side by side under one title.
`scene()` lays either out as a `Scene`: a list of simple shapes in pixel coordinates (y
down). Two backends draw a scene: svg.py (text, for report.html and the GUI's Report tab)
and raster.py (a numpy RGB canvas, for the PNGs of Figures/). So the figure logic exists
once and the two outputs cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .shapes import Markers, Path, Polygon, Rect, Scene, Text, hex_rgb

# One colour per series / session (Okabe-Ito, colour-blind safe).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
# A perceptual dark-blue -> purple -> orange -> yellow map for matrices (anchor colours,
# linearly interpolated).
MATRIX_COLORS = ("#0d0887", "#6a00a8", "#b12a90", "#e16462", "#fca636", "#f0f921")


# ----- one axes ------------------------------------------------------------------------


@dataclass
class Figure:
    """A single-axes plot. Add series, then `svg()` or `png()`; sizes are in pixels."""

    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    width: int = 520
    height: int = 300
    items: list = field(default_factory=list)
    vlines: list = field(default_factory=list)
    ylim: tuple[float, float] | None = None
    xlim: tuple[float, float] | None = None

    def line(self, x, y, label="", color=None, dashed=False, markers=False):
        """A polyline through (x, y); markers: also a dot at each point."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        self.items.append(("line", x, y, label, color, {"dashed": dashed, "markers": markers}))
        return self

    def step(self, edges, counts, label: str = "", color: str | None = None):
        """A histogram outline: counts (n,) between edges (n + 1,)."""
        edges, counts = np.asarray(edges, float), np.asarray(counts, float)
        x = np.repeat(edges, 2)[1:-1]
        y = np.repeat(counts, 2)
        self.items.append(("line", x, y, label, color, {}))
        return self

    def bars(self, edges, heights, label="", color=None, opacity: float = 0.6):
        """Filled histogram bars: heights (n,) between edges (n + 1,)."""
        edges, heights = np.asarray(edges, float), np.asarray(heights, float)
        self.items.append(("bars", edges, heights, label, color, {"opacity": opacity}))
        return self

    def hist(self, values, bins=50, label="", color=None, density=True, opacity=0.6):
        """Bars of the histogram of `values` (a density when `density`)."""
        values = np.asarray(values, float)
        values = values[np.isfinite(values)]
        with np.errstate(over="ignore"):
            if values.size == 0 or not np.isfinite(values.max() - values.min()):
                return self  # nothing to count, or a range no bin width can divide
        with np.errstate(over="ignore", invalid="ignore"):  # subnormal bin widths
            counts, edges = np.histogram(values, bins=bins, density=density)
        return self.bars(edges, counts, label, color, opacity)

    def band(self, x, low, high, label="", color=None, opacity: float = 0.2):
        x, low, high = (np.asarray(a, float) for a in (x, low, high))
        self.items.append(("band", x, (low, high), label, color, {"opacity": opacity}))
        return self

    def scatter(self, x, y, label="", color=None, radius=1.2, opacity=1.0):
        x, y = np.asarray(x, float), np.asarray(y, float)
        self.items.append(("scatter", x, y, label, color, {"radius": radius, "opacity": opacity}))
        return self

    def matrix(self, values, label: str = ""):
        """A matrix image (n_row, n_col): cell (i, j) centred at x = j + 1, y = i + 1 (row 1
        at the bottom), coloured by MATRIX_COLORS with a colour bar titled `label`."""
        values = np.asarray(values, float)
        n_row, n_col = values.shape
        self.xlim = self.xlim or (0.5, n_col + 0.5)
        self.ylim = self.ylim or (0.5, n_row + 0.5)
        self.items.append(("matrix", np.arange(1, n_col + 1.0), values, label, None, {}))
        return self

    def vline(self, x: float, label: str = ""):
        self.vlines.append((float(x), label))
        return self

    def svg(self) -> str:
        return scene_svg(self.scene())

    def png(self, scale: int = 1) -> bytes:
        return scene_png(self.scene(), scale)

    def scene(self) -> Scene:
        scene = Scene(self.width, self.height)
        self.draw(scene, 0.0, 0.0)
        return scene

    # ----- layout ------------------------------------------------------------------------

    def _ranges(self):
        xs, ys = [], []
        for kind, x, y, *_ in self.items:
            if kind == "matrix":
                continue
            xs.append(x)
            ys.extend(y if kind == "band" else [y])
            if kind == "bars":
                ys.append(np.zeros(1))
        xs += [np.array([v for v, _ in self.vlines])]
        x0, x1 = self.xlim if self.xlim else _span(xs)
        y0, y1 = self.ylim if self.ylim else _span(ys)
        with np.errstate(over="ignore"):
            if not np.isfinite(x1 - x0):  # values near the float limit: no usable scale
                x0, x1 = -1.0, 1.0
            if not np.isfinite(y1 - y0):
                y0, y1 = -1.0, 1.0
        if x1 <= x0:
            x0, x1 = x0 - 1, x1 + 1
        if y1 <= y0:
            y0, y1 = y0 - 1, y1 + 1
        pad = 0.05 * (y1 - y0)
        return x0, x1, (y0 - pad if not self.ylim else y0), (y1 + pad if not self.ylim else y1)

    def draw(self, scene: Scene, ox: float, oy: float) -> None:
        """Add this figure's shapes to `scene`, its top-left corner at (ox, oy)."""
        w, h = self.width, self.height
        has_matrix = any(item[0] == "matrix" for item in self.items)
        left, right = 62, (96 if has_matrix else 12)
        top, bottom = (28 if self.title else 12), 44
        pw, ph = w - left - right, h - top - bottom
        x0, x1, y0, y1 = self._ranges()
        L, T = ox + left, oy + top

        def px(x):  # non-finite results are left out by both backends
            with np.errstate(over="ignore", invalid="ignore"):
                return L + (np.asarray(x, dtype=float) - x0) / (x1 - x0) * pw

        def py(y):  # values outside the range are drawn on its edge (no clip paths: QtSvg)
            y = np.clip(np.asarray(y, dtype=float), y0, y1)
            with np.errstate(over="ignore", invalid="ignore"):
                return T + (1 - (y - y0) / (y1 - y0)) * ph

        add = scene.shapes.append
        if self.title:
            add(Text(ox + w / 2, oy + 17, self.title, 13, "middle", bold=True))
        for t in _ticks(y0, y1):
            Y = float(py(t))
            add(Path(np.array([L - 4, L + pw]), np.array([Y, Y]), "#eeeeee"))
            add(Text(L - 6, Y + 4, _fmt(t), anchor="end"))
        for t in _ticks(x0, x1):
            X = float(px(t))
            add(Path(np.array([X, X]), np.array([T + ph, T + ph + 4]), "#444444"))
            add(Text(X, T + ph + 16, _fmt(t), anchor="middle"))
        add(Text(L + pw / 2, oy + h - 8, self.xlabel, anchor="middle"))
        add(Text(ox + 14, T + ph / 2, self.ylabel, anchor="middle", vertical=True))
        legend = []
        for k, (kind, x, y, label, color, opts) in enumerate(self.items):
            color = color or PALETTE[k % len(PALETTE)]
            if kind == "band":
                low, high = y
                ok = np.isfinite(x) & np.isfinite(low) & np.isfinite(high)
                xs = np.concatenate([px(x[ok]), px(x[ok])[::-1]])
                ys = np.concatenate([py(high[ok]), py(low[ok])[::-1]])
                if xs.size >= 3:
                    add(Polygon(xs, ys, color, opts["opacity"]))
            elif kind == "bars":
                X = px(np.clip(x, x0, x1))
                Y, base = py(y), float(py(max(y0, min(0.0, y1))))
                for a, b, top_y in zip(X[:-1], X[1:], Y, strict=True):
                    if b > a and base > top_y:
                        add(Rect(a, top_y, b - a, base - top_y, color, None, opts["opacity"]))
            elif kind == "scatter":
                ok = np.isfinite(x) & np.isfinite(y)
                add(Markers(px(x[ok]), py(y[ok]), color, opts["radius"], opts["opacity"]))
            elif kind == "matrix":
                _draw_matrix(scene, y, label, px, py, L + pw, T, ph)
                continue
            else:
                ok = np.isfinite(x) & np.isfinite(y)
                dash = (5.0, 3.0) if opts.get("dashed") else None
                for run in _finite_runs(ok):  # a gap (NaN) breaks the line
                    add(Path(px(x[run]), py(y[run]), color, 1.5, dash))
                if opts.get("markers"):
                    add(Markers(px(x[ok]), py(y[ok]), color, 2.5))
            if label:
                legend.append((label, color))
        for v, label in self.vlines:
            if not np.isfinite(v):  # e.g. no threshold: a run without candidate pairs
                continue
            X = float(px(v))
            add(Path(np.array([X, X]), np.array([T, T + ph]), "#cc0000", 1.5, (4.0, 3.0)))
            if label:
                add(Text(X + 4, T + 12, label, color="#cc0000"))
        add(Rect(L, T, pw, ph, None, "#888888"))
        for k, (label, color) in enumerate(legend):
            y = T + 14 + 14 * k
            add(Path(np.array([L + pw - 150, L + pw - 132]), np.array([y - 4, y - 4]), color, 3))
            add(Text(L + pw - 128, y, label))


def _draw_matrix(scene: Scene, values, label, px, py, right, top, ph) -> None:
    """The cells of a matrix image and its colour bar at the right of the axes."""
    n_row, n_col = values.shape
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    colors = colormap((values - lo) / (hi - lo))
    xe = px(np.arange(n_col + 1) + 0.5)
    ye = py(np.arange(n_row + 1) + 0.5)
    for i in range(n_row):
        for j in range(n_col):
            if np.isfinite(values[i, j]):
                y_top, y_bottom = ye[i + 1], ye[i]
                scene.shapes.append(
                    Rect(xe[j], y_top, xe[j + 1] - xe[j], y_bottom - y_top, colors[i][j])
                )
    bar_x, n_steps = right + 10, 64
    step = ph / n_steps
    shades = colormap(np.linspace(0, 1, n_steps))
    for k in range(n_steps):
        y = top + ph - (k + 1) * step
        scene.shapes.append(Rect(bar_x, y, 12, step + 0.5, shades[k]))
    scene.shapes.append(Rect(bar_x, top, 12, ph, None, "#888888"))
    for t in _ticks(lo, hi, 4):
        Y = top + ph * (1 - (t - lo) / (hi - lo))
        scene.shapes.append(Text(bar_x + 16, Y + 4, _fmt(t)))
    if label:
        scene.shapes.append(Text(bar_x + 58, top + ph / 2, label, vertical=True, anchor="middle"))


def colormap(fraction) -> list:
    """'#rrggbb' of MATRIX_COLORS at fractions in [0, 1] (any shape -> nested lists)."""
    f = np.clip(np.nan_to_num(np.asarray(fraction, float)), 0, 1)
    anchors = np.array([hex_rgb(c) for c in MATRIX_COLORS], float)
    pos = f * (len(anchors) - 1)
    k = np.minimum(pos.astype(int), len(anchors) - 2)
    t = (pos - k)[..., None]
    rgb = np.rint(anchors[k] * (1 - t) + anchors[k + 1] * t).astype(int)
    hexes = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb.reshape(-1, 3).tolist()]
    return np.array(hexes, dtype="<U7").reshape(rgb.shape[:-1]).tolist()


# ----- panels side by side -------------------------------------------------------------


@dataclass
class FigureRow:
    """Figures side by side under one title (each keeps its own size)."""

    panels: list
    title: str = ""

    def scene(self) -> Scene:
        top = 26 if self.title else 0
        width = int(sum(p.width for p in self.panels)) or 1
        height = int(max((p.height for p in self.panels), default=1)) + top
        scene = Scene(width, height)
        if self.title:
            scene.shapes.append(Text(width / 2, 18, self.title, 14, "middle", bold=True))
        x = 0.0
        for panel in self.panels:
            panel.draw(scene, x, top)
            x += panel.width
        return scene

    def svg(self) -> str:
        return scene_svg(self.scene())

    def png(self, scale: int = 1) -> bytes:
        return scene_png(self.scene(), scale)


def scene_svg(scene: Scene) -> str:
    from .svg import scene_svg as draw

    return draw(scene)


def scene_png(scene: Scene, scale: int = 1) -> bytes:
    from .png import encode_png
    from .raster import rasterize

    return encode_png(rasterize(scene, scale))


# ----- axes helpers --------------------------------------------------------------------


def _finite_runs(ok: np.ndarray) -> list[np.ndarray]:
    """Index arrays of the runs of consecutive True values in `ok`."""
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1) + 1
    return np.split(idx, breaks)


def _span(arrays) -> tuple[float, float]:
    finite = [a[np.isfinite(a)] for a in arrays if np.size(a)]
    values = np.concatenate(finite) if finite else np.zeros(1)
    values = values if values.size else np.zeros(1)
    return float(values.min()), float(values.max())


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About n round tick values in [lo, hi]."""
    span = hi - lo
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(span) and span > 0):
        return np.zeros(0)  # a degenerate range: no ticks rather than a failed figure
    raw = span / n
    mag = 10 ** np.floor(np.log10(raw))
    step = mag * min((1, 2, 5, 10), key=lambda m: abs(m * mag - raw))
    start = np.ceil(lo / step) * step
    return np.arange(start, hi + step * 1e-9, step)


def _fmt(v: float) -> str:
    v = float(v) + 0.0  # no "-0"
    if abs(v) < 1e-12:
        return "0"
    return f"{v:.0f}" if abs(v) >= 100 or v.is_integer() else f"{v:.2g}"
