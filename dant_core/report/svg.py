"""A small Qt-free SVG plotting module: line, step and band plots with axes and a legend.

Why our own: dant_core never imports Qt (so no pyqtgraph here) and matplotlib is not a
dependency. SVG is text, so report.html embeds the figures inline (self-contained, any
browser), and the GUI shows the very same SVG (QSvgWidget), so the window and the file
cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np

# One colour per series / session (Okabe-Ito, colour-blind safe).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


@dataclass
class Figure:
    """A single-axes plot. Add series, then `svg()`; sizes are in pixels."""

    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    width: int = 520
    height: int = 300
    items: list = field(default_factory=list)
    vlines: list = field(default_factory=list)
    ylim: tuple[float, float] | None = None

    def line(self, x, y, label: str = "", color: str | None = None, dashed: bool = False):
        self.items.append(
            ("line", np.asarray(x, float), np.asarray(y, float), label, color, dashed)
        )
        return self

    def step(self, edges, counts, label: str = "", color: str | None = None):
        """A histogram outline: counts (n,) between edges (n + 1,)."""
        edges, counts = np.asarray(edges, float), np.asarray(counts, float)
        x = np.repeat(edges, 2)[1:-1]
        y = np.repeat(counts, 2)
        self.items.append(("line", x, y, label, color, False))
        return self

    def band(self, x, low, high, label: str = "", color: str | None = None):
        self.items.append(
            (
                "band",
                np.asarray(x, float),
                (np.asarray(low, float), np.asarray(high, float)),
                label,
                color,
                False,
            )
        )
        return self

    def vline(self, x: float, label: str = ""):
        self.vlines.append((float(x), label))
        return self

    # ----- drawing ----------------------------------------------------------------------

    def _ranges(self):
        xs, ys = [], []
        for kind, x, y, *_ in self.items:
            xs.append(x)
            ys.extend(y if kind == "band" else [y])
        xs += [np.array([v for v, _ in self.vlines])]
        xall = np.concatenate([a[np.isfinite(a)] for a in xs]) if xs else np.zeros(1)
        yall = np.concatenate([a[np.isfinite(a)] for a in ys]) if ys else np.zeros(1)
        xall = xall if xall.size else np.zeros(1)
        yall = yall if yall.size else np.zeros(1)
        x0, x1 = float(xall.min()), float(xall.max())
        y0, y1 = self.ylim if self.ylim else (float(yall.min()), float(yall.max()))
        if x1 <= x0:
            x0, x1 = x0 - 1, x1 + 1
        if y1 <= y0:
            y0, y1 = y0 - 1, y1 + 1
        pad = 0.05 * (y1 - y0)
        return x0, x1, (y0 - pad if not self.ylim else y0), (y1 + pad if not self.ylim else y1)

    def svg(self) -> str:
        w, h = self.width, self.height
        left, right, top, bottom = 62, 12, 28 if self.title else 12, 44
        pw, ph = w - left - right, h - top - bottom
        x0, x1, y0, y1 = self._ranges()

        def px(x):
            return left + (np.asarray(x) - x0) / (x1 - x0) * pw

        def py(y):  # values outside the range are drawn on its edge (no clip paths: QtSvg)
            y = np.clip(np.asarray(y, dtype=float), y0, y1)
            return top + (1 - (y - y0) / (y1 - y0)) * ph

        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
            f'<rect width="{w}" height="{h}" fill="white"/>',
        ]
        if self.title:
            out.append(
                f'<text x="{w / 2}" y="17" text-anchor="middle" font-size="13" '
                f'font-weight="bold">{escape(self.title)}</text>'
            )
        out.append(
            f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>'
        )
        for t in _ticks(x0, x1):
            X = float(px(t))
            out.append(
                f'<line x1="{X:.1f}" y1="{top + ph}" x2="{X:.1f}" y2="{top + ph + 4}" '
                'stroke="#444"/>'
            )
            out.append(
                f'<text x="{X:.1f}" y="{top + ph + 16}" text-anchor="middle">{_fmt(t)}</text>'
            )
        for t in _ticks(y0, y1):
            Y = float(py(t))
            out.append(
                f'<line x1="{left - 4}" y1="{Y:.1f}" x2="{left + pw}" y2="{Y:.1f}" stroke="#eee"/>'
            )
            out.append(f'<text x="{left - 6}" y="{Y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
        out.append(
            f'<text x="{left + pw / 2}" y="{h - 8}" text-anchor="middle">'
            f"{escape(self.xlabel)}</text>"
        )
        out.append(
            f'<text x="14" y="{top + ph / 2}" text-anchor="middle" '
            f'transform="rotate(-90 14 {top + ph / 2})">{escape(self.ylabel)}</text>'
        )
        legend = []
        for k, (kind, x, y, label, color, dashed) in enumerate(self.items):
            color = color or PALETTE[k % len(PALETTE)]
            if kind == "band":
                low, high = y
                pts = [
                    *zip(px(x), py(high), strict=True),
                    *zip(px(x)[::-1], py(low)[::-1], strict=True),
                ]
                out.append(
                    f'<polygon points="{_pts(pts)}" fill="{color}" fill-opacity="0.2" '
                    'stroke="none"/>'
                )
            else:
                ok = np.isfinite(x) & np.isfinite(y)
                dash = ' stroke-dasharray="5,3"' if dashed else ""
                out.append(
                    f'<polyline points="{_pts(zip(px(x[ok]), py(y[ok]), strict=True))}" '
                    f'fill="none" stroke="{color}" stroke-width="1.5"{dash}/>'
                )
            if label:
                legend.append((label, color))
        for v, label in self.vlines:
            X = float(px(v))
            out.append(
                f'<line x1="{X:.1f}" y1="{top}" x2="{X:.1f}" y2="{top + ph}" '
                'stroke="#c00" stroke-width="1.5" stroke-dasharray="4,3"/>'
            )
            if label:
                out.append(
                    f'<text x="{X + 4:.1f}" y="{top + 12}" fill="#c00">{escape(label)}</text>'
                )
        for k, (label, color) in enumerate(legend):
            y = top + 14 + 14 * k
            out.append(
                f'<line x1="{left + pw - 150}" y1="{y - 4}" x2="{left + pw - 132}" '
                f'y2="{y - 4}" stroke="{color}" stroke-width="3"/>'
            )
            out.append(f'<text x="{left + pw - 128}" y="{y}">{escape(label)}</text>')
        out.append("</svg>")
        return "\n".join(out)


def _pts(points) -> str:
    return " ".join(f"{float(a):.1f},{float(b):.1f}" for a, b in points)


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About n round tick values in [lo, hi]."""
    span = hi - lo
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
