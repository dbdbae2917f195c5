"""A compact built-in bitmap font (5 x 7 pixels above the baseline, 2 below) for the PNG
backend, drawn for this project: no font files and no font library needed.

Each glyph is 9 rows (top to bottom; rows 7-8 hold descenders), each row a 5-bit number
(leftmost pixel = highest bit) written as one base-32 digit. Characters without a glyph are
drawn as a box.
"""

from __future__ import annotations

import numpy as np

GLYPH_WIDTH, GLYPH_HEIGHT, BASELINE, ADVANCE = 5, 9, 7, 6

_GLYPHS = {
    " ": "000000000",
    "!": "444440400",
    '"': "aaa000000",
    "#": "aavavaa00",
    "$": "4fke5u400",
    "%": "op248j300",
    "&": "cik8lid00",
    "'": "448000000",
    "(": "248884200",
    ")": "842224800",
    "*": "04lel4000",
    "+": "044v44000",
    ",": "000004480",
    "-": "000v00000",
    ".": "00000cc00",
    "/": "01248g000",
    "0": "ehjlphe00",
    "1": "4c4444e00",
    "2": "eh1248v00",
    "3": "v2421he00",
    "4": "26aiv2200",
    "5": "vgu11he00",
    "6": "68guhhe00",
    "7": "v12488800",
    "8": "ehhehhe00",
    "9": "ehhf12c00",
    ":": "0cc0cc000",
    ";": "0cc0cc480",
    "<": "248g84200",
    "=": "00v0v0000",
    ">": "842124800",
    "?": "eh1240400",
    "@": "eh1dlle00",
    "A": "ehhvhhh00",
    "B": "uhhuhhu00",
    "C": "ehggghe00",
    "D": "sihhhis00",
    "E": "vgguggv00",
    "F": "vgguggg00",
    "G": "ehgnhhf00",
    "H": "hhhvhhh00",
    "I": "e44444e00",
    "J": "72222ic00",
    "K": "hikokih00",
    "L": "ggggggv00",
    "M": "hrllhhh00",
    "N": "hhpljhh00",
    "O": "ehhhhhe00",
    "P": "uhhuggg00",
    "Q": "ehhhlid00",
    "R": "uhhukih00",
    "S": "fgge11u00",
    "T": "v44444400",
    "U": "hhhhhhe00",
    "V": "hhhhha400",
    "W": "hhhllla00",
    "X": "hha4ahh00",
    "Y": "hha444400",
    "Z": "v1248gv00",
    "[": "e88888e00",
    "\\": "0g8421000",
    "]": "e22222e00",
    "^": "4ah000000",
    "_": "000000v00",
    "`": "842000000",
    "a": "00e1fhf00",
    "b": "ggmphhu00",
    "c": "00egghe00",
    "d": "11djhhf00",
    "e": "00ehvge00",
    "f": "698s88800",
    "g": "00fhhhf1e",
    "h": "ggmphhh00",
    "i": "40c444e00",
    "j": "2062222ic",
    "k": "ggikoki00",
    "l": "c44444e00",
    "m": "00qllhh00",
    "n": "00mphhh00",
    "o": "00ehhhe00",
    "p": "00uhhhugg",
    "q": "00fhhhf11",
    "r": "00mpggg00",
    "s": "00ege1u00",
    "t": "88s889600",
    "u": "00hhhjd00",
    "v": "00hhha400",
    "w": "00hhlla00",
    "x": "00ha4ah00",
    "y": "00hhhhf1e",
    "z": "00v248v00",
    "{": "244844200",
    "|": "444444400",
    "}": "844244800",
    "~": "008l20000",
    "µ": "00hhhrlgg",
    "−": "000v00000",
    "–": "000v00000",
    "—": "000v00000",
    "Δ": "044aahv00",
    "≥": "gc3cg0v00",
    "≤": "3cgc30v00",
    "…": "000000l00",
    "·": "000400000",
    "°": "cic000000",
    "±": "44v440v00",
    "×": "0ha4ah000",
    "é": "24ehvge00",
    "²": "c24e00000",
    "□": "vhhhhhv00",
    "μ": "00hhhrlgg",
}
_CACHE: dict[str, np.ndarray] = {}


def _glyph(ch: str) -> np.ndarray:
    """(GLYPH_HEIGHT, GLYPH_WIDTH) bool mask of one character."""
    mask = _CACHE.get(ch)
    if mask is None:
        code = _GLYPHS.get(ch, _GLYPHS["□"])
        rows = [int(c, 32) for c in code]
        bits = 1 << np.arange(GLYPH_WIDTH - 1, -1, -1)
        mask = (np.array(rows)[:, None] & bits[None, :]) > 0
        _CACHE[ch] = mask
    return mask


def text_width(text: str, scale: int = 1) -> int:
    """Width in pixels of `text` drawn at integer `scale`."""
    return max(0, len(text) * ADVANCE - 1) * scale


def text_mask(text: str, scale: int = 1, bold: bool = False) -> np.ndarray:
    """(GLYPH_HEIGHT * scale, width) bool mask of `text`; the baseline is below row
    BASELINE * scale - 1. bold: each stroke one pixel wider."""
    width = max(1, len(text) * ADVANCE - 1)
    mask = np.zeros((GLYPH_HEIGHT, width + 1), dtype=bool)
    for k, ch in enumerate(text):
        mask[:, k * ADVANCE : k * ADVANCE + GLYPH_WIDTH] |= _glyph(ch)
    mask = mask[:, :width]
    if scale > 1:
        mask = np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)
    if bold:
        mask[:, 1:] |= mask[:, :-1].copy()
    return mask
