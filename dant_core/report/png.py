"""PNG files from numpy RGB arrays and back, with the standard library's zlib and struct.

`encode_png` writes 8-bit RGB, non-interlaced, each row with the "Up" filter (the
difference to the row above compresses flat plots well). `decode_png` reads 8-bit RGB or
RGBA non-interlaced PNGs with any of the five row filters: enough to check our own files
(tests) and common plot PNGs; anything else raises ValueError.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(rgb: np.ndarray, level: int = 6) -> bytes:
    """rgb: (height, width, 3) uint8 -> the bytes of a PNG file."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"expected a (height, width, 3) image, got shape {rgb.shape}")
    h, w, _ = rgb.shape
    rows = rgb.reshape(h, w * 3)
    up = rows.copy()
    up[1:] -= rows[:-1]  # uint8 arithmetic wraps modulo 256, as the Up filter defines
    raw = np.empty((h, 1 + w * 3), dtype=np.uint8)
    raw[:, 0] = 2
    raw[0, 0] = 0  # the first row has no row above: no filter
    raw[:, 1:] = up
    raw[0, 1:] = rows[0]
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def decode_png(data: bytes) -> np.ndarray:
    """The bytes of an 8-bit RGB/RGBA PNG -> (height, width, channels) uint8.
    Checks the signature and every chunk's CRC."""
    if data[:8] != SIGNATURE:
        raise ValueError("not a PNG file (bad signature)")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"PNG chunk {kind!r}: bad CRC")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError("PNG without IHDR")
    w, h, depth, color, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG (bit depth {depth}, colour type {color})")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    stride = w * channels
    raw = raw.reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for r in range(h):
        f, line = raw[r, 0], raw[r, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        elif f in (1, 3, 4):
            cur = _unfilter_serial(int(f), line, prev, channels)
        else:
            raise ValueError(f"PNG row {r}: unknown filter {f}")
        out[r] = cur
        prev = cur.astype(np.int32)
    return out.reshape(h, w, channels)


def _unfilter_serial(f: int, line, prev, bpp: int) -> np.ndarray:
    """Sub (1), Average (3) and Paeth (4) depend on the pixel to the left: one by one."""
    cur = np.zeros(line.size, dtype=np.int32)
    for i in range(line.size):
        a = int(cur[i - bpp]) if i >= bpp else 0
        b = int(prev[i])
        c = int(prev[i - bpp]) if i >= bpp else 0
        if f == 1:
            pred = a
        elif f == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        cur[i] = (int(line[i]) + pred) & 255
    return cur
