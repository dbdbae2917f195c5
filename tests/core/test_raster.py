"""The PNG backend: valid files, and shapes drawn where the figure's data puts them."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from dant_core.report.figure import Figure, FigureRow
from dant_core.report.png import decode_png, encode_png
from dant_core.report.raster import rasterize

WHITE = (255, 255, 255)


def test_png_round_trip_and_a_standard_header():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    data = encode_png(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, color = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, color) == (53, 37, 8, 2)
    np.testing.assert_array_equal(decode_png(data), image)
    # the stdlib alone reads the pixels back too (filter byte, then the Up-filtered row)
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(37, 1 + 53 * 3)
    assert raw[0, 0] == 0 and set(raw[1:, 0]) == {2}
    rows = np.cumsum(raw[:, 1:].astype(np.int64), axis=0) % 256
    np.testing.assert_array_equal(rows.reshape(37, 53, 3), image)


def test_a_corrupt_png_is_refused():
    data = bytearray(encode_png(np.zeros((4, 4, 3), np.uint8)))
    data[40] ^= 0xFF  # inside IDAT: its CRC no longer matches
    with pytest.raises(ValueError, match="CRC"):
        decode_png(bytes(data))
    with pytest.raises(ValueError, match="signature"):
        decode_png(b"GIF89a" + bytes(data[6:]))


def _axes(fig: Figure):
    """Pixel mapping of a Figure without title or matrix (figure.py's margins)."""
    left, top = 62, 12
    pw, ph = fig.width - left - 12, fig.height - top - 44
    (x0, x1), (y0, y1) = fig.xlim, fig.ylim

    def at(x, y):
        return (
            int(top + (1 - (y - y0) / (y1 - y0)) * ph),
            int(left + (x - x0) / (x1 - x0) * pw),
        )

    return at


def test_lines_and_markers_land_where_the_data_says():
    fig = Figure(width=400, height=300)
    fig.xlim, fig.ylim = (0.0, 10.0), (0.0, 10.0)
    fig.line([1, 9], [5, 5], color="#ff0000")  # horizontal
    fig.line([1, 9], [1, 9], color="#0000ff")  # diagonal
    fig.scatter([3.0], [7.5], color="#00aa00", radius=3)
    image = rasterize(fig.scene())
    at = _axes(fig)
    for x in (1.5, 3.3, 7.7, 8.5):
        r, c = at(x, 5)
        assert tuple(image[r, c]) == (255, 0, 0), (x, image[r, c])
        for y in (5.5, 4.3):  # off the line (and off the grid lines at even values)
            assert tuple(image[at(x, y)]) == WHITE
    for x in (2.1, 6.9):  # the diagonal: blue at (x, x), background beside it
        r, c = at(x, x)
        assert image[r, c, 2] > 200 and image[r, c, 0] < 90, image[r, c]
        assert tuple(image[at(x, x + 0.7)]) == WHITE
    r, c = at(3.0, 7.5)
    assert tuple(image[r, c]) == (0, 170, 0)
    assert tuple(image[at(4.0, 7.5)]) == WHITE
    # outside the plotted range: nothing drawn there
    assert tuple(image[at(0.5, 5)]) == WHITE


def test_scale_draws_the_same_figure_bigger():
    fig = Figure(width=200, height=150)
    fig.xlim, fig.ylim = (0.0, 1.0), (0.0, 1.0)
    fig.line([0.1, 0.9], [0.5, 0.5], color="#ff0000")
    one, two = rasterize(fig.scene(), 1), rasterize(fig.scene(), 2)
    assert one.shape == (150, 200, 3) and two.shape == (300, 400, 3)
    red1 = np.argwhere(np.all(one == (255, 0, 0), axis=2))
    red2 = np.argwhere(np.all(two == (255, 0, 0), axis=2))
    assert abs(red2[:, 0].mean() - (2 * red1[:, 0].mean() + 0.5)) <= 1.0


def test_bands_bars_and_text_are_filled():
    fig = Figure("Title", "x", "y", width=400, height=300)
    fig.xlim, fig.ylim = (0.0, 10.0), (0.0, 10.0)
    fig.band([1, 9], [2, 2], [4, 4], color="#0000ff", opacity=1.0)
    fig.bars([6, 7, 8], [9, 9], color="#00ff00", opacity=1.0)
    image = rasterize(fig.scene())
    left, top = 62, 28
    pw, ph = 400 - 74, 300 - top - 44

    def at(x, y):
        return int(top + (1 - y / 10) * ph), int(left + x / 10 * pw)

    assert tuple(image[at(3, 3)]) == (0, 0, 255)
    assert tuple(image[at(3, 5)]) == WHITE
    assert tuple(image[at(6.5, 7)]) == (0, 255, 0)
    assert tuple(image[at(8.5, 7)]) == WHITE
    title = image[5:22, 150:250]
    assert (title.min(axis=2) < 100).sum() > 30  # the title's glyphs are drawn
    assert (image[5:22, 10:120].min(axis=2) == 255).all()  # nothing left of it


def test_a_row_of_panels_places_each_panel_at_its_offset():
    a, b = Figure(width=200, height=150), Figure(width=300, height=150)
    for f in (a, b):
        f.xlim, f.ylim = (0.0, 1.0), (0.0, 1.0)
        f.scatter([0.5], [0.5], color="#ff0000", radius=3)
    image = rasterize(FigureRow([a, b]).scene())
    assert image.shape == (150, 500, 3)
    for offset, width in ((0, 200), (200, 300)):
        col = int(offset + 62 + 0.5 * (width - 74))
        assert tuple(image[int(12 + 0.5 * 94), col]) == (255, 0, 0)


def test_svg_and_png_come_from_one_scene():
    fig = Figure("T", "x", "y").line([0, 1], [0, 1], label="a").vline(0.5, "threshold")
    scene = fig.scene()
    svg = fig.svg()
    assert (
        svg.count("<polyline") + svg.count("<line")
        >= sum(type(s).__name__ == "Path" for s in scene.shapes) - 1
    )  # dashed and plain paths alike
    assert "threshold" in svg and decode_png(fig.png()).shape == (300, 520, 3)


@pytest.mark.parametrize(
    "values", [[1e308, -1e308], [np.nan, np.nan], [], [5.0, 5.0], [np.inf, 1.0], [1e-320, 0.0]]
)
def test_degenerate_data_still_gives_a_figure(values):
    """Values at the float limits, NaN, none, constant: a valid (if empty) PNG and SVG
    rather than a failed save (the figures are written by every run)."""
    x = np.arange(len(values), dtype=float)
    fig = Figure("t", "x", "y").line(x, values).hist(np.array(values, float))
    fig.scatter(values, values).band(x, values, values).vline(np.inf)
    matrix = Figure().matrix(np.full((3, 3), np.nan))
    image = decode_png(FigureRow([fig, matrix]).png())
    assert image.shape == (300, 1040, 3)
    assert (image.min(axis=2) < 128).any()  # the axes and labels at least
    assert "<svg" in fig.svg() and "nan" not in fig.svg().lower()
