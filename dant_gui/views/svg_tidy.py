"""Make Qt's SVG output draw the same in every renderer.

QSvgGenerator writes each curve in its data coordinates inside a group whose transform maps
data to the page (e.g. `matrix(36.2,0,0,-9.1,54,262)`), and keeps the pen width right with
`vector-effect="non-scaling-stroke"`. Qt honours that attribute; librsvg, CairoSVG,
ImageMagick and Illustrator do not, so they scale the 2 px pen by the data-to-page factor and
a line becomes a band tens of pixels wide (symbols drawn at scale 10 get 10 px outlines).

`bake_transforms` applies each such group's transform to the coordinates of its paths and
polylines and leaves the group with the identity: the figure is unchanged where Qt draws it,
and strokes keep their width everywhere. Groups holding anything else (text, images) are
left alone: their transforms are plain translations in pyqtgraph's figures.
"""

from __future__ import annotations

import re

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_GROUP = re.compile(r"(<g\b[^>]*?)transform=\"matrix\(([^)]*)\)\"([^>]*>)(.*?)(</g>)", re.S)
_PAIR = re.compile(rf"({_NUMBER})\s*,\s*({_NUMBER})")
_ELEMENT = re.compile(r"<(\w+)\b")
_BAKEABLE = {"path", "polyline", "polygon"}
_COORDINATES = re.compile(r"\b(d|points)=\"([^\"]*)\"")
IDENTITY = "matrix(1,0,0,1,0,0)"


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _map_pairs(text: str, m: tuple[float, ...]) -> str:
    """Apply the affine map m = (a, b, c, d, e, f) to every "x,y" pair in a path or points list
    (Qt writes absolute coordinates only: M, L, C and Z; no arcs, no relative commands)."""
    a, b, c, d, e, f = m

    def one(match: re.Match) -> str:
        x, y = float(match.group(1)), float(match.group(2))
        return f"{_fmt(a * x + c * y + e)},{_fmt(b * x + d * y + f)}"

    return _PAIR.sub(one, text)


def _bake_group(match: re.Match) -> str:
    head, matrix, tail, body, close = match.groups()
    values = [float(v) for v in re.findall(_NUMBER, matrix)]
    elements = set(_ELEMENT.findall(body))
    if len(values) != 6 or not elements <= _BAKEABLE or values == [1, 0, 0, 1, 0, 0]:
        return match.group(0)
    m = tuple(values)
    body = _COORDINATES.sub(lambda c: f'{c.group(1)}="{_map_pairs(c.group(2), m)}"', body)
    return f'{head}transform="{IDENTITY}"{tail}{body}{close}'


def bake_transforms(svg: str) -> str:
    """The SVG text with every path-only group's transform applied to its coordinates."""
    return _GROUP.sub(_bake_group, svg)
