"""Exported SVG figures draw the same outside Qt: strokes keep their width in renderers that
ignore `vector-effect="non-scaling-stroke"` (librsvg, CairoSVG, ImageMagick, Illustrator)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg
import pytest
from PyQt6.QtCore import QByteArray, QRectF
from PyQt6.QtGui import QColor, QImage, QPainter
from PyQt6.QtSvg import QSvgRenderer

from dant_gui.views.common import export_item
from dant_gui.views.svg_tidy import bake_transforms

SVG = "{http://www.w3.org/2000/svg}"


def _export(qtbot, tmp_path, name):
    """A plot in data units far from pixels (x 0..9, y 0..2000) with a 3 px red line,
    symbols and a filled band, exported as SVG the way the views do."""
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    x = np.arange(10.0)
    low = pg.PlotDataItem(x, 100 * x**1.5)
    high = pg.PlotDataItem(x, 100 * x**1.5 + 300)
    widget.addItem(pg.FillBetweenItem(low, high, brush=pg.mkBrush(90, 120, 200, 90)))
    widget.plot(x, 100 * x**1.5, pen=pg.mkPen("#ff0000", width=3), symbol="o", symbolSize=8)
    qtbot.waitExposed(widget)
    path = export_item(widget.getPlotItem(), tmp_path / name)
    return path.read_text(encoding="utf-8")


@pytest.fixture
def figure(qtbot, tmp_path):
    return _export(qtbot, tmp_path, "figure.svg")


@pytest.fixture
def qt_figure(qtbot, tmp_path, monkeypatch):
    """The same figure as Qt's generator writes it (not tidied)."""
    from dant_gui.views import svg_tidy

    monkeypatch.setattr(svg_tidy, "bake_transforms", lambda text: text)
    return _export(qtbot, tmp_path, "qt.svg")


def _scale(transform: str) -> float:
    """Largest stretch of an SVG transform="matrix(a,b,c,d,e,f)" (1 for none)."""
    found = re.search(r"matrix\(([^)]*)\)", transform or "")
    if not found:
        return 1.0
    a, b, c, d = (float(v) for v in found.group(1).split(",")[:4])
    return float(np.linalg.svd(np.array([[a, c], [b, d]]), compute_uv=False).max())


def _stretched_stroked_paths(svg: str) -> tuple[int, int]:
    """(stroked paths, those in a group whose transform stretches them)."""
    root = ET.fromstring(svg)
    stroked = stretched = 0
    for group in root.iter(f"{SVG}g"):
        if group.get("stroke", "none") == "none":
            continue
        for element in group:
            if element.tag in (f"{SVG}path", f"{SVG}polyline"):
                stroked += 1
                stretched += abs(_scale(group.get("transform")) - 1.0) > 1e-6
    return stroked, stretched


def test_every_stroked_path_is_drawn_at_page_scale(figure, qt_figure):
    """No stroked path relies on non-scaling-stroke: its group's transform does not stretch
    (Qt's own file puts the curve in a group scaled ~36 x 0.13 and symbols at scale 8)."""
    stroked, stretched = _stretched_stroked_paths(figure)
    assert stroked > 10 and stretched == 0
    assert _stretched_stroked_paths(qt_figure)[1] > 0


def test_baking_keeps_the_figure_qt_draws(figure, qt_figure):
    """Qt's renderer draws the tidied SVG as it draws its own (pixels differ only where
    rounding moves an antialiased edge)."""
    assert bake_transforms(figure) == figure  # idempotent
    assert bake_transforms(qt_figure) != qt_figure
    ours, theirs = (_rgb(_qt_render(svg)).astype(int) for svg in (figure, qt_figure))
    assert _red_pixels(ours) > 100
    assert np.mean(np.abs(ours - theirs).max(axis=-1) > 60) < 0.005


def _qt_render(svg: str) -> QImage:
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    image = QImage(400, 300, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    renderer.render(painter, QRectF(0, 0, 400, 300))
    painter.end()
    return image


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    return data.reshape(image.height(), image.width(), 4)[..., :3]


def _red_pixels(image) -> int:
    """Pixels of the curve's pure red (r > 200, g and b < 80)."""
    rgb = _rgb(image) if isinstance(image, QImage) else image
    return int(((rgb[..., 0] > 200) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)).sum())


def test_a_non_qt_renderer_draws_the_line_as_thin_as_qt_does(figure, qt_figure):
    """CairoSVG (the `test` extra; needs the system's libcairo) draws about as many red
    pixels as Qt does; from Qt's own file, many times as many (the line is a wide band)."""
    cairosvg = pytest.importorskip("cairosvg")

    def cairo(svg):
        image = QImage.fromData(cairosvg.svg2png(bytestring=svg.encode("utf-8"), output_width=400))
        assert not image.isNull()
        return _red_pixels(image)

    qt = _red_pixels(_qt_render(figure))
    assert qt > 100
    assert cairo(figure) < 2 * qt, (cairo(figure), qt)
    assert cairo(qt_figure) > 4 * qt
