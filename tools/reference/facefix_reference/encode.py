"""Output encoding by OpenCV, with nothing from the input's metadata: the encoders are
given pixels only (no EXIF, ICC or text). JPEG at quality 95, WebP lossless (like the
worker), PNG at OpenCV's default compression."""

import os

import cv2
import numpy as np

from .errors import BadRequest, ReferenceError

JPEG_QUALITY = 95
#: OpenCV writes lossless WebP for a quality above 100.
WEBP_LOSSLESS = 101
FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".webp": "webp"}
ALPHA_FORMATS = ("png", "webp")


def format_for_ext(ext):
    """'png', 'jpeg' or 'webp' for an output file extension ('.png', ...)."""
    if ext.lower() not in FORMATS:
        raise BadRequest("the output must end in .png, .jpg, .jpeg or .webp, not %r" % ext)
    return FORMATS[ext.lower()]


def format_for_path(path):
    """The format an output file name asks for."""
    return format_for_ext(os.path.splitext(path)[1])


def resize_alpha(alpha, width, height):
    """The input's alpha at the output size (Lanczos, like the background)."""
    if alpha.shape[:2] == (height, width):
        return alpha
    return cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LANCZOS4)


def encode_image(bgr, fmt, alpha=None):
    """Encoded bytes of `bgr` (plus `alpha` for PNG and WebP) in format `fmt`."""
    if alpha is not None and fmt in ALPHA_FORMATS:
        h, w = bgr.shape[:2]
        bgr = np.dstack([bgr, resize_alpha(alpha, w, h)])
    params = {"jpeg": [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
              "webp": [cv2.IMWRITE_WEBP_QUALITY, WEBP_LOSSLESS], "png": []}[fmt]
    ok, buf = cv2.imencode("." + {"jpeg": "jpg"}.get(fmt, fmt), bgr, params)
    if not ok:
        raise ReferenceError("OpenCV could not encode the output as %s" % fmt)
    return buf.tobytes()
