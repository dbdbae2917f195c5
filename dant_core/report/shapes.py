"""The shapes a figure is laid out into (pixel coordinates, y down): what the SVG and the
raster backends draw. figure.py makes them; svg.py and raster.py draw them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FONT_SIZE = 11


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str | None = None
    stroke: str | None = None
    opacity: float = 1.0


@dataclass
class Path:
    """An open polyline of width `width`; dash: (on, off) lengths or None."""

    xs: np.ndarray
    ys: np.ndarray
    color: str
    width: float = 1.0
    dash: tuple[float, float] | None = None


@dataclass
class Polygon:
    xs: np.ndarray
    ys: np.ndarray
    fill: str
    opacity: float = 1.0


@dataclass
class Markers:
    """Filled discs of radius `radius` at (xs, ys)."""

    xs: np.ndarray
    ys: np.ndarray
    color: str
    radius: float = 1.5
    opacity: float = 1.0


@dataclass
class Text:
    """Text whose baseline starts (anchor "start"), centres ("middle") or ends ("end") at
    (x, y); vertical: read bottom to top, centred on y, baseline at x."""

    x: float
    y: float
    text: str
    size: float = FONT_SIZE
    anchor: str = "start"
    color: str = "#222222"
    bold: bool = False
    vertical: bool = False


@dataclass
class Scene:
    width: int
    height: int
    shapes: list = field(default_factory=list)


def hex_rgb(color: str) -> tuple[int, int, int]:
    """'#rrggbb' -> (r, g, b) 0..255."""
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
