"""The SVG backend: a figure's Scene (figure.py) as SVG text.

Why SVG: dant_core never imports Qt and matplotlib is not a dependency; SVG is text, so
report.html embeds the figures inline (self-contained, any browser), and the GUI shows the
very same SVG (QSvgWidget), so the window and the file cannot disagree. raster.py draws
the same scenes into PNGs.
"""

from __future__ import annotations

from html import escape

from .shapes import Markers, Path, Polygon, Rect, Scene, Text


def scene_svg(scene: Scene) -> str:
    w, h = scene.width, scene.height
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
    ]
    for s in scene.shapes:
        out.append(_shape(s))
    out.append("</svg>")
    return "\n".join(o for o in out if o)


def _shape(s) -> str:
    if isinstance(s, Rect):
        fill = s.fill or "none"
        stroke = f' stroke="{s.stroke}"' if s.stroke else ""
        alpha = f' fill-opacity="{s.opacity:g}"' if s.opacity < 1 else ""
        return (
            f'<rect x="{s.x:.1f}" y="{s.y:.1f}" width="{s.w:.1f}" height="{s.h:.1f}" '
            f'fill="{fill}"{alpha}{stroke}/>'
        )
    if isinstance(s, Path):
        if s.xs.size == 0:
            return ""
        dash = f' stroke-dasharray="{s.dash[0]:g},{s.dash[1]:g}"' if s.dash else ""
        if s.xs.size == 2:
            return (
                f'<line x1="{s.xs[0]:.1f}" y1="{s.ys[0]:.1f}" x2="{s.xs[1]:.1f}" '
                f'y2="{s.ys[1]:.1f}" stroke="{s.color}" stroke-width="{s.width:g}"{dash}/>'
            )
        return (
            f'<polyline points="{_pts(s.xs, s.ys)}" fill="none" stroke="{s.color}" '
            f'stroke-width="{s.width:g}"{dash}/>'
        )
    if isinstance(s, Polygon):
        return (
            f'<polygon points="{_pts(s.xs, s.ys)}" fill="{s.fill}" '
            f'fill-opacity="{s.opacity:g}" stroke="none"/>'
        )
    if isinstance(s, Markers):
        alpha = f' fill-opacity="{s.opacity:g}"' if s.opacity < 1 else ""
        dots = "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s.radius:g}"/>'
            for x, y in zip(s.xs, s.ys, strict=True)
        )
        return f'<g fill="{s.color}"{alpha}>{dots}</g>' if dots else ""
    if isinstance(s, Text):
        if not s.text:
            return ""
        attrs = f' text-anchor="{s.anchor}"' if s.anchor != "start" else ""
        attrs += f' font-size="{s.size:g}"' if s.size != 11 else ""
        attrs += ' font-weight="bold"' if s.bold else ""
        attrs += f' fill="{s.color}"' if s.color != "#222222" else ""
        if s.vertical:
            attrs += f' transform="rotate(-90 {s.x:.1f} {s.y:.1f})"'
        return f'<text x="{s.x:.1f}" y="{s.y:.1f}"{attrs}>{escape(s.text)}</text>'
    raise TypeError(type(s).__name__)


def _pts(xs, ys) -> str:
    return " ".join(f"{float(a):.1f},{float(b):.1f}" for a, b in zip(xs, ys, strict=True))
