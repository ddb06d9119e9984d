"""The bench's blind degradation: one fixed, seeded recipe, the same for every image.

    original (cropped to a multiple of SCALE on each side, top-left kept)
      -> Gaussian blur, sigma BLUR_SIGMA px of the original, kernel 2*ceil(3*sigma)+1
      -> downscale by SCALE with area averaging (cv2.INTER_AREA)
      -> additive Gaussian noise, sigma NOISE_SIGMA in 8-bit units, independent per
         channel and pixel, rounded and clipped to 0..255
      -> JPEG at quality JPEG_QUALITY (OpenCV's encoder, 4:2:0), decoded again

The result is the small image every method starts from and must enlarge SCALE times
back to the original's size. Only the noise is random: it is drawn from numpy's PCG64
seeded with (seed, CRC-32 of the image's file name), so an image's degradation does not
change when other images are added. The JPEG bytes come from the OpenCV build in the
project venv (pinned by scripts/setup-models.sh).

The numbers are a middle case of the blind degradations face restorers are trained on
(blur sigma up to 10, downscale up to 8, noise up to 20, JPEG 60-100): strong enough
that detail is gone, mild enough that MTCNN still finds the faces of the test photos at
a quarter of their size (all but the smallest face of the collage).
"""

from __future__ import annotations

import math
import zlib

import cv2
import numpy as np

BLUR_SIGMA = 2.0
SCALE = 4
NOISE_SIGMA = 8.0
JPEG_QUALITY = 60
DEFAULT_SEED = 13


def parameters(seed: int) -> dict:
    """What the report prints, so that a table always says how its inputs were made."""
    return {
        "blur_sigma_px": BLUR_SIGMA,
        "blur_kernel_px": blur_kernel(BLUR_SIGMA),
        "downscale": SCALE,
        "downscale_interpolation": "area",
        "noise_sigma_8bit": NOISE_SIGMA,
        "jpeg_quality": JPEG_QUALITY,
        "seed": seed,
    }


def blur_kernel(sigma: float) -> int:
    # Three sigmas each side hold 99.7 % of the Gaussian; OpenCV's own default is smaller.
    return 2 * math.ceil(3 * sigma) + 1


def crop_to_scale(rgb: np.ndarray) -> np.ndarray:
    """The original as the bench scores it: whole multiples of SCALE, so that SCALE times
    the degraded size is exactly the original's size."""
    h, w = rgb.shape[:2]
    return rgb[: h - h % SCALE, : w - w % SCALE]


def degrade(rgb: np.ndarray, seed: int, name: str) -> np.ndarray:
    """The degraded (small) image of an RGB uint8 original already cropped to SCALE."""
    h, w = rgb.shape[:2]
    if h % SCALE or w % SCALE:
        raise ValueError(f"{name}: {w}x{h} is not a multiple of {SCALE}; crop_to_scale first")
    k = blur_kernel(BLUR_SIGMA)
    blurred = cv2.GaussianBlur(rgb, (k, k), BLUR_SIGMA, borderType=cv2.BORDER_REFLECT_101)
    small = cv2.resize(blurred, (w // SCALE, h // SCALE), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    noisy = small.astype(np.float64) + rng.normal(0.0, NOISE_SIGMA, small.shape)
    noisy = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    # OpenCV encodes BGR; the round trip keeps RGB order by swapping on both sides.
    ok, jpeg = cv2.imencode(".jpg", noisy[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"{name}: OpenCV could not encode the JPEG")
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def enlarge(small: np.ndarray, interpolation: int) -> np.ndarray:
    """SCALE times larger with an OpenCV interpolation (the baselines)."""
    h, w = small.shape[:2]
    return cv2.resize(small, (w * SCALE, h * SCALE), interpolation=interpolation)
