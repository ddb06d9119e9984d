"""Full-reference image quality of a face region against the undegraded original.

All three take two uint8 RGB arrays of the same shape (the region in the original and in
a method's output) and compare them in float64.

* PSNR on RGB: 10*log10(255^2 / MSE) over every channel of every pixel; infinite when
  the two are identical. Higher is better.
* SSIM on luma (Wang, Bovik, Sheikh and Simoncelli 2004): 11x11 Gaussian window,
  sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255; the mean of the SSIM map over the pixels
  whose window lies inside the region (the reference code's 'valid' filtering). 1 for
  identical regions. Higher is better.
* GMSD on luma (Xue, Zhang, Mou and Bovik 2014): both regions averaged over 2x2 blocks
  and subsampled by 2 as in the paper's code, Prewitt gradients (3x3, /3), gradient
  magnitude similarity (2*m1*m2 + c) / (m1^2 + m2^2 + c) with c = 170 for 8-bit, over
  the pixels whose Prewitt window lies inside; GMSD is that map's standard deviation.
  0 for identical regions. Lower is better.

Luma is BT.601 full range: Y = 0.299 R + 0.587 G + 0.114 B, in 0..255 (the GMSD paper's
conversion; SSIM is computed on it too so both structural scores see the same signal).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
GMSD_C = 170.0
PEAK = 255.0

_PREWITT_X = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64) / 3.0
_PREWITT_Y = _PREWITT_X.T.copy()

# The smallest region SSIM can score: one window must fit.
MIN_SIDE = SSIM_WINDOW


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    _same_shape(reference, test)
    diff = reference.astype(np.float64) - test.astype(np.float64)
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0.0 else 10.0 * math.log10(PEAK * PEAK / mse)


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    _same_shape(reference, test)
    x, y = luma(reference), luma(test)
    if min(x.shape) < MIN_SIDE:
        raise ValueError(f"SSIM needs at least {MIN_SIDE}x{MIN_SIDE} pixels, got {x.shape[1]}x{x.shape[0]}")
    c1 = (SSIM_K1 * PEAK) ** 2
    c2 = (SSIM_K2 * PEAK) ** 2

    def mean(a: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(a, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT_101)

    mu_x, mu_y = mean(x), mean(y)
    var_x = mean(x * x) - mu_x * mu_x
    var_y = mean(y * y) - mu_y * mu_y
    cov = mean(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
    return float(_inner(ssim_map, SSIM_WINDOW // 2).mean())


def gmsd(reference: np.ndarray, test: np.ndarray) -> float:
    _same_shape(reference, test)
    x, y = _half(luma(reference)), _half(luma(test))
    if min(x.shape) < 3:
        raise ValueError("GMSD needs at least 6x6 pixels")
    m_x, m_y = _gradient_magnitude(x), _gradient_magnitude(y)
    gms = (2 * m_x * m_y + GMSD_C) / (m_x * m_x + m_y * m_y + GMSD_C)
    return float(_inner(gms, 1).std())


def luma(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float64)
    return 0.299 * f[:, :, 0] + 0.587 * f[:, :, 1] + 0.114 * f[:, :, 2]


def _half(y: np.ndarray) -> np.ndarray:
    """2x2 block means: the paper's averaging filter followed by taking every other pixel."""
    h, w = y.shape[0] // 2 * 2, y.shape[1] // 2 * 2
    y = y[:h, :w]
    return (y[0::2, 0::2] + y[1::2, 0::2] + y[0::2, 1::2] + y[1::2, 1::2]) / 4.0


def _gradient_magnitude(y: np.ndarray) -> np.ndarray:
    # filter2D correlates rather than convolves: the sign flip vanishes in the magnitude.
    gx = cv2.filter2D(y, cv2.CV_64F, _PREWITT_X, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.filter2D(y, cv2.CV_64F, _PREWITT_Y, borderType=cv2.BORDER_REFLECT_101)
    return np.sqrt(gx * gx + gy * gy)


def _inner(a: np.ndarray, margin: int) -> np.ndarray:
    """The map without the border whose filter window reached outside the region."""
    return a[margin : a.shape[0] - margin, margin : a.shape[1] - margin]


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"need two RGB regions of one shape, got {a.shape} and {b.shape}")
