"""Input decoding: OpenCV's decoders (`IMREAD_UNCHANGED`), EXIF orientation, and a
conversion to 8-bit BGR with the alpha plane kept aside."""

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .errors import BadInput
from .exif import apply_orientation, read_orientation


@dataclass
class Decoded:
    """An upright 8-bit BGR image, its alpha (if any) and what the source held."""

    bgr: np.ndarray
    alpha: Optional[np.ndarray]
    #: Channels and bits per sample as OpenCV decoded them, EXIF orientation, alpha.
    source: dict


def sniff(data):
    """The container kind from the magic bytes: 'jpeg', 'png', 'webp', 'tiff' or ''."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return ""


def to_uint8(samples):
    """8-bit samples as they are; 16-bit ones as round(x / 257) = (x + 128) // 257, so a
    16-bit image made from an 8-bit one (x * 257) gives the original back. The type
    decides, not the value range (facexlib's `max > 256` test would misread a dark
    16-bit image)."""
    if samples.dtype == np.uint8:
        return samples
    if samples.dtype == np.uint16:
        return ((samples.astype(np.uint32) + 128) // 257).astype(np.uint8)
    raise BadInput("unsupported sample type %s" % samples.dtype, code="unsupported-format")


def decode_image(data):
    """Decodes an encoded image (bytes) to an upright `Decoded`."""
    if not data:
        raise BadInput("the input is empty", code="empty-upload")
    try:
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as e:  # e.g. OpenCV's own pixel limit, checked on the header
        raise BadInput("OpenCV refuses this input: %s" % str(e).strip().splitlines()[-1]) from e
    if pixels is None or pixels.size == 0:
        raise BadInput("OpenCV cannot decode this input", code="unsupported-format")
    kind = sniff(data)
    # OpenCV's TIFF decoder turns the image upright itself, even with IMREAD_UNCHANGED.
    orientation = 1 if kind == "tiff" else read_orientation(data, kind)
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    source = {
        "channels": int(channels),
        "bit_depth": int(pixels.dtype.itemsize * 8),
        "orientation": int(orientation),
        "had_alpha": channels in (2, 4),
    }
    pixels = apply_orientation(to_uint8(pixels), orientation)
    alpha = None
    if channels == 1:
        bgr = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    elif channels == 2:
        bgr = cv2.cvtColor(np.ascontiguousarray(pixels[:, :, 0]), cv2.COLOR_GRAY2BGR)
        alpha = np.ascontiguousarray(pixels[:, :, 1])
    elif channels == 3:
        bgr = pixels
    elif channels == 4:
        bgr = np.ascontiguousarray(pixels[:, :, :3])
        alpha = np.ascontiguousarray(pixels[:, :, 3])
    else:
        raise BadInput("%d channels are not an image this reference reads" % channels,
                       code="unsupported-format")
    return Decoded(bgr=np.ascontiguousarray(bgr), alpha=alpha, source=source)
