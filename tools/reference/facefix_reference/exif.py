"""EXIF orientation straight from the file's bytes.

OpenCV's `IMREAD_UNCHANGED` leaves JPEG, PNG and WebP pixels as stored, so the
reference reads the orientation itself: the first EXIF block only (JPEG APP1 before the
scan, PNG `eXIf` before IEND, WebP `EXIF` chunk), IFD0 tag 0x0112 stored as SHORT (or
LONG, seen in the wild). Anything missing, malformed or outside 1..8 means 1 (as is).
TIFF is not read here: OpenCV's TIFF decoder applies the tag itself.
"""

import struct

import numpy as np

EXIF_PREFIX = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112


def jpeg_segments(data):
    """(marker, payload) of each JPEG segment from SOI up to SOS; None when the stream
    ends or breaks before SOS (then no orientation is trusted)."""
    segments = []
    pos = 2
    while True:
        if pos + 1 >= len(data) or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
        elif marker == 0xDA:
            return segments
        elif marker == 0xD9:
            return None
        else:
            if pos + 4 > len(data):
                return None
            length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
            end = pos + 2 + length
            if length < 2 or end > len(data):
                return None
            segments.append((marker, data[pos + 4:end]))
            pos = end


def _strip_prefix(block):
    return block[len(EXIF_PREFIX):] if block.startswith(EXIF_PREFIX) else block


def _jpeg_tiff(data):
    for marker, payload in jpeg_segments(data) or []:
        if marker == 0xE1 and payload.startswith(EXIF_PREFIX):
            return payload[len(EXIF_PREFIX):]
    return None


def _png_tiff(data):
    pos = 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        if kind == b"eXIf":
            return _strip_prefix(data[pos + 8:pos + 8 + length])
        if kind == b"IEND":
            return None
        pos += 12 + length
    return None


def _webp_tiff(data):
    pos = 12
    while pos + 8 <= len(data):
        length = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if data[pos:pos + 4] == b"EXIF":
            return _strip_prefix(data[pos + 8:pos + 8 + length])
        pos += 8 + length + (length & 1)  # chunks are padded to even sizes
    return None


def _ifd0_orientation(tiff):
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"

    def read(fmt, at):
        size = struct.calcsize(fmt)
        if at < 0 or at + size > len(tiff):
            raise IndexError(at)
        return struct.unpack(order + fmt, tiff[at:at + size])[0]

    try:
        if read("H", 2) != 42:
            return None
        ifd = read("I", 4)
        for k in range(read("H", ifd)):
            entry = ifd + 2 + 12 * k
            if entry + 12 > len(tiff):
                break
            if read("H", entry) != ORIENTATION_TAG:
                continue
            kind, count = read("H", entry + 2), read("I", entry + 4)
            if kind == 3 and count >= 1:
                value = read("H", entry + 8)
            elif kind == 4 and count >= 1:
                value = read("I", entry + 8)
            else:
                return None
            return value if 1 <= value <= 8 else None
    except IndexError:
        return None
    return None


def read_orientation(data, kind):
    """EXIF orientation 1..8 of an encoded image of `kind` ('jpeg', 'png', 'webp'; any
    other kind: 1)."""
    find = {"jpeg": _jpeg_tiff, "png": _png_tiff, "webp": _webp_tiff}.get(kind)
    tiff = find(data) if find else None
    return (tiff and _ifd0_orientation(tiff)) or 1


def apply_orientation(pixels, orientation):
    """Turns stored pixels (H x W [x C]) upright: 2 mirror left-right, 3 rotate 180,
    4 mirror top-bottom, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90
    counter-clockwise."""
    swap_axes = (1, 0) + tuple(range(2, pixels.ndim))
    turned = {
        2: lambda p: p[:, ::-1],
        3: lambda p: p[::-1, ::-1],
        4: lambda p: p[::-1],
        5: lambda p: p.transpose(swap_axes),
        6: lambda p: np.rot90(p, -1),
        7: lambda p: p[::-1, ::-1].transpose(swap_axes),
        8: lambda p: np.rot90(p, 1),
    }.get(orientation)
    return np.ascontiguousarray(turned(pixels)) if turned else pixels
