"""The raster backend: a figure's Scene (figure.py) drawn into a numpy RGB canvas.

Qt-free (dant_core never imports Qt) and small: anti-aliased strokes (coverage from each
pixel centre's distance to the segment), anti-aliased polygons (4 x 4 supersampled scan
lines), translucent discs, rectangles, and text in the built-in bitmap font
(bitmap_font.py). `scale` draws the same scene at an integer multiple of its size (all
lengths, line widths and glyphs scaled), for sharper PNGs.
"""

from __future__ import annotations

import numpy as np

from .bitmap_font import BASELINE, text_mask, text_width
from .shapes import Markers, Path, Polygon, Rect, Scene, Text, hex_rgb


def rasterize(scene: Scene, scale: int = 1) -> np.ndarray:
    """The scene as a (height * scale, width * scale, 3) uint8 RGB image, white background."""
    s = int(scale)
    canvas = np.ones((int(scene.height) * s, int(scene.width) * s, 3), dtype=np.float32)
    for shape in scene.shapes:
        if isinstance(shape, Path):
            _path(canvas, shape, s)
        elif isinstance(shape, Rect):
            if np.isfinite([shape.x, shape.y, shape.w, shape.h]).all():
                _rect(canvas, shape, s)
        elif isinstance(shape, Polygon):
            xs, ys = np.asarray(shape.xs, float) * s, np.asarray(shape.ys, float) * s
            if np.isfinite(xs).all() and np.isfinite(ys).all():
                _polygon(canvas, xs, ys, _rgb(shape.fill), shape.opacity)
        elif isinstance(shape, Markers):
            _markers(canvas, shape, s)
        elif isinstance(shape, Text):
            if np.isfinite([shape.x, shape.y]).all():
                _text(canvas, shape, s)
        else:
            raise TypeError(type(shape).__name__)
    return np.rint(np.clip(canvas, 0, 1) * 255).astype(np.uint8)


def _rgb(color: str) -> np.ndarray:
    return np.array(hex_rgb(color), dtype=np.float32) / 255


def _blend(canvas, top: int, left: int, coverage: np.ndarray, rgb, alpha: float = 1.0):
    """Paint `rgb` with opacity coverage * alpha over the canvas block at (top, left)."""
    h, w = coverage.shape
    H, W = canvas.shape[:2]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, H), min(left + w, W)
    if y1 <= y0 or x1 <= x0:
        return
    a = coverage[y0 - top : y1 - top, x0 - left : x1 - left]
    if alpha != 1.0:
        a = a * np.float32(alpha)
    block = canvas[y0:y1, x0:x1]
    change = block - rgb
    change *= a[..., None]
    block -= change


# ----- strokes -------------------------------------------------------------------------


def _path(canvas, p: Path, s: int) -> None:
    xs, ys = np.asarray(p.xs, float) * s, np.asarray(p.ys, float) * s
    ok = np.isfinite(xs) & np.isfinite(ys)
    if not ok.all():  # a gap breaks the line
        cuts = np.flatnonzero(~ok)
        for part in np.split(np.arange(xs.size), cuts):
            part = part[ok[part]]
            if part.size:
                _path(canvas, Path(p.xs[part], p.ys[part], p.color, p.width, p.dash), s)
        return
    if xs.size == 0:
        return
    width = p.width * s
    dx, dy = np.diff(xs), np.diff(ys)
    if xs.size > 1 and np.all((np.abs(dx) < 1e-9) | (np.abs(dy) < 1e-9)):
        # horizontal / vertical lines (axes, ticks, steps) on pixel centres: crisp
        xs, ys = np.floor(xs) + 0.5, np.floor(ys) + 0.5
    pieces = [(xs, ys)] if p.dash is None else _dashes(xs, ys, p.dash[0] * s, p.dash[1] * s)
    for px, py in pieces:
        _stroke(canvas, px, py, _rgb(p.color), width)


def _stroke(canvas, xs, ys, rgb, width: float) -> None:
    """An anti-aliased polyline: each pixel's coverage from its distance to the nearest
    segment (full within width / 2, fading over one pixel), painted once."""
    H, W = canvas.shape[:2]
    reach = width / 2 + 0.5
    x0, x1 = max(int(np.floor(xs.min() - reach)), 0), min(int(np.ceil(xs.max() + reach)) + 1, W)
    y0, y1 = max(int(np.floor(ys.min() - reach)), 0), min(int(np.ceil(ys.max() + reach)) + 1, H)
    if x1 <= x0 or y1 <= y0:
        return
    cov = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    if xs.size == 1:
        xs, ys = np.repeat(xs, 2), np.repeat(ys, 2)
    for ax, ay, bx, by in zip(xs[:-1], ys[:-1], xs[1:], ys[1:], strict=True):
        sx0 = max(int(np.floor(min(ax, bx) - reach)), x0)
        sx1 = min(int(np.ceil(max(ax, bx) + reach)) + 1, x1)
        sy0 = max(int(np.floor(min(ay, by) - reach)), y0)
        sy1 = min(int(np.ceil(max(ay, by) + reach)) + 1, y1)
        if sx1 <= sx0 or sy1 <= sy0:
            continue
        X = (np.arange(sx0, sx1) + 0.5)[None, :] - ax
        Y = (np.arange(sy0, sy1) + 0.5)[:, None] - ay
        ux, uy = bx - ax, by - ay
        length2 = ux * ux + uy * uy
        t = np.clip((X * ux + Y * uy) / length2, 0, 1) if length2 > 0 else 0.0
        d = np.hypot(X - t * ux, Y - t * uy)
        c = np.clip(width / 2 + 0.5 - d, 0, 1).astype(np.float32)
        block = cov[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
        np.maximum(block, c, out=block)
    _blend(canvas, y0, x0, cov, rgb)


def _dashes(xs, ys, on: float, off: float) -> list:
    """The 'on' pieces of a dashed polyline, each a (xs, ys) polyline."""
    seg = np.hypot(np.diff(xs), np.diff(ys))
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    pieces = []
    for a in np.arange(0.0, cum[-1], on + off):
        b = min(a + on, cum[-1])
        inner = np.flatnonzero((cum > a) & (cum < b))
        at = np.concatenate([[a], cum[inner], [b]])
        pieces.append((np.interp(at, cum, xs), np.interp(at, cum, ys)))
    return pieces


# ----- areas ---------------------------------------------------------------------------


def _rect(canvas, r: Rect, s: int) -> None:
    x, y, w, h = r.x * s, r.y * s, r.w * s, r.h * s
    if r.fill:
        left, top = int(round(x)), int(round(y))
        right, bottom = int(round(x + w)), int(round(y + h))
        right = max(right, left + (1 if w > 0 else 0))  # a thin bar stays visible
        bottom = max(bottom, top + (1 if h > 0 else 0))
        if right > left and bottom > top:
            cov = np.ones((bottom - top, right - left), dtype=np.float32)
            _blend(canvas, top, left, cov, _rgb(r.fill), r.opacity)
    if r.stroke:
        xs = np.array([x, x + w, x + w, x, x])
        ys = np.array([y, y, y + h, y + h, y])
        _path(canvas, Path(xs / s, ys / s, r.stroke, 1.0), s)


def _polygon(canvas, xs, ys, rgb, alpha: float, ss: int = 4) -> None:
    """Fill a polygon (even-odd rule): `ss` scan lines per pixel row, exact horizontal
    coverage of each span's end pixels."""
    H, W = canvas.shape[:2]
    x0, x1 = max(int(np.floor(xs.min())), 0), min(int(np.ceil(xs.max())) + 1, W)
    y0, y1 = max(int(np.floor(ys.min())), 0), min(int(np.ceil(ys.max())) + 1, H)
    if x1 <= x0 or y1 <= y0 or xs.size < 3:
        return
    ax, ay = np.asarray(xs, float), np.asarray(ys, float)
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    rows = y0 + (np.arange((y1 - y0) * ss) + 0.5) / ss
    Y = rows[:, None]
    crosses = (ay[None, :] <= Y) != (by[None, :] <= Y)
    with np.errstate(divide="ignore", invalid="ignore"):
        X = ax + (Y - ay) / (by - ay) * (bx - ax)
    X = np.where(crosses, X, np.inf)
    X.sort(axis=1)
    n_cross = crosses.sum(axis=1)
    width = x1 - x0
    # difference array: a span [a, b) adds 1 - frac(a) at floor(a), frac(a) after it, and
    # the same negated at b; its running sum is each pixel's covered fraction
    diff = np.zeros((rows.size, width + 2), dtype=np.float32)
    index = np.arange(rows.size)
    for k in range(0, int(n_cross.max(initial=0)) - 1, 2):
        ok = k + 1 < n_cross
        for col, sign in ((k, 1.0), (k + 1, -1.0)):
            v = np.clip(X[ok, col] - x0, 0, width)
            i = np.floor(v).astype(int)
            f = v - i
            np.add.at(diff, (index[ok], i), sign * (1 - f))
            np.add.at(diff, (index[ok], i + 1), sign * f)
    cov = np.cumsum(diff[:, :width], axis=1).reshape(y1 - y0, ss, width).mean(axis=1)
    _blend(canvas, y0, x0, np.clip(cov, 0, 1), rgb, alpha)


def _markers(canvas, m: Markers, s: int) -> None:
    """Anti-aliased discs; overlapping translucent discs add up like layers of paint."""
    H, W = canvas.shape[:2]
    xs, ys = np.asarray(m.xs, float) * s, np.asarray(m.ys, float) * s
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if xs.size == 0:
        return
    radius = m.radius * s
    reach = int(np.ceil(radius + 0.5))
    cx, cy = np.floor(xs).astype(int), np.floor(ys).astype(int)
    x0, x1 = max(int(cx.min()) - reach, 0), min(int(cx.max()) + reach + 1, W)
    y0, y1 = max(int(cy.min()) - reach, 0), min(int(cy.max()) + reach + 1, H)
    if x1 <= x0 or y1 <= y0:
        return
    w, h = x1 - x0, y1 - y0
    # log of the uncovered fraction, summed over the discs covering each pixel
    log_clear = np.zeros(h * w, dtype=np.float64)
    for oy in range(-reach, reach + 1):
        for ox in range(-reach, reach + 1):
            px, py = cx + ox, cy + oy
            d = np.hypot(px + 0.5 - xs, py + 0.5 - ys)
            c = np.clip(radius + 0.5 - d, 0, 1) * m.opacity
            use = (c > 0) & (px >= x0) & (px < x1) & (py >= y0) & (py < y1)
            if use.any():
                flat = (py[use] - y0) * w + (px[use] - x0)
                log_clear += np.bincount(
                    flat, weights=np.log1p(-np.minimum(c[use], 1 - 1e-6)), minlength=h * w
                )
    cov = (1 - np.exp(log_clear)).reshape(h, w).astype(np.float32)
    _blend(canvas, y0, x0, cov, _rgb(m.color))


# ----- text ----------------------------------------------------------------------------


def _text(canvas, t: Text, s: int) -> None:
    if not t.text:
        return
    k = max(1, int(round(t.size * s / 11)))
    mask = text_mask(t.text, k, t.bold).astype(np.float32)
    tw = text_width(t.text, k)
    shift = {"start": 0.0, "middle": tw / 2, "end": float(tw)}.get(t.anchor, 0.0)
    x, y = t.x * s, t.y * s
    if t.vertical:  # bottom to top: the first character at the bottom
        mask = np.rot90(mask)
        top, left = int(round(y - tw + shift)), int(round(x - BASELINE * k))
    else:
        top, left = int(round(y - BASELINE * k)), int(round(x - shift))
    _blend(canvas, top, left, mask, _rgb(t.color))
