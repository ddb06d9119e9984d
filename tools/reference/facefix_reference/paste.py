"""Paste-back, facexlib's square-mask path: a Lanczos background at the output size,
then per face, in order, the restored crop and a ones-mask warped back, the mask eroded
and blurred into a soft alpha, composited in float64, one truncation to uint8 at the end.

By default each face is computed on a rectangle around it (its support plus the
erosion/blur margin) instead of on the whole upscaled canvas: outside that rectangle
its alpha is exactly 0, and large photos get 3-10x faster. `full_canvas=True` is
facexlib's whole-canvas way; OpenCV's fixed-point warp coordinates depend on the
origin, so the two differ by <= 2 LSB on a few hundred pixels.
"""

import math

import cv2
import numpy as np


def invert_affine(m):
    """cv2.invertAffineTransform, written out in Python floats so the worker can match
    it to the last bit."""
    (m0, m1, m2), (m3, m4, m5) = [[float(v) for v in row] for row in m]
    d = m0 * m4 - m1 * m3
    d = 1.0 / d if d != 0.0 else 0.0
    a11, a22, a12, a21 = m4 * d, m0 * d, -m1 * d, -m3 * d
    b1 = -a11 * m2 - a12 * m5
    b2 = -a21 * m2 - a22 * m5
    return [[a11, a12, b1], [a21, a22, b2]]


def inverse_affine(m, upscale):
    """Crop → output matrix: the inverse times `upscale`, plus facexlib's 0.5·upscale
    shift when upscale > 1 (it over-corrects by half an output pixel; that is the
    spec)."""
    shift = 0.5 * upscale if upscale > 1 else 0.0
    inv = invert_affine(m)
    return np.array([[r[0] * upscale, r[1] * upscale, r[2] * upscale + shift] for r in inv],
                    dtype=np.float64)


def face_rect(inv, size, out_w, out_h, upscale):
    """(x0, y0, x1, y1): outside it the face's alpha is 0. The ones-mask is non-zero
    where the source lies in (-1, size); the margin covers OpenCV's coordinate rounding
    and the erosion and blur (w_edge <= scaled side / 20)."""
    s = float(size)
    corners = ((-1.0, -1.0), (s, -1.0), (s, s), (-1.0, s))
    xs = [inv[0][0] * x + inv[0][1] * y + inv[0][2] for x, y in corners]
    ys = [inv[1][0] * x + inv[1][1] * y + inv[1][2] for x, y in corners]
    scale = math.sqrt(abs(inv[0][0] * inv[1][1] - inv[0][1] * inv[1][0]))
    margin = int(scale * s) // 20 + 2 * upscale + 4
    x0 = max(0, min(out_w, math.floor(min(xs)) - margin))
    y0 = max(0, min(out_h, math.floor(min(ys)) - margin))
    x1 = max(0, min(out_w, math.ceil(max(xs)) + margin + 1))
    y1 = max(0, min(out_h, math.ceil(max(ys)) + margin + 1))
    return x0, y0, x1, y1


def soft_face(face, inv, width, height, upscale):
    """The face warped onto a width x height canvas with matrix `inv`: its soft alpha
    (float32, H x W) and the eroded-mask-weighted face (float32, H x W x 3)."""
    size = face.shape[0]
    warped = cv2.warpAffine(face, inv, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.warpAffine(np.ones((size, size), np.float32), inv, (width, height),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
    k = 2 * upscale
    eroded = cv2.erode(mask, np.ones((k, k), np.uint8))
    pasted = eroded[:, :, None] * warped.astype(np.float32)
    w_edge = int(math.sqrt(float(eroded.sum(dtype=np.float64)))) // 20
    # ones((0, 0)) when w_edge is 0: OpenCV then erodes with its default 3 x 3.
    centre = cv2.erode(eroded, np.ones((2 * w_edge, 2 * w_edge), np.uint8))
    if w_edge > 0:
        alpha = cv2.GaussianBlur(centre, (2 * w_edge + 1, 2 * w_edge + 1), 0)
    else:
        alpha = centre  # a 1 x 1 blur is the identity
    return alpha, pasted


def composite(acc, alpha, pasted):
    """acc = alpha · pasted + (1 - alpha) · acc, in float64, in place."""
    a = alpha.astype(np.float64)[:, :, None]
    acc[...] = a * pasted.astype(np.float64) + (1.0 - a) * acc


def paste_back(bgr, faces, affines, upscale, full_canvas=False):
    """Pastes the restored crops `faces` (BGR, S x S, in order) with their input → crop
    matrices into the `upscale`x Lanczos background of `bgr`. Returns the image and each
    face's crop → output matrix. With no faces the result is exactly
    cv2.resize(bgr, x upscale, INTER_LANCZOS4)."""
    h, w = bgr.shape[:2]
    out_w, out_h = w * upscale, h * upscale
    out = cv2.resize(bgr, (out_w, out_h), interpolation=cv2.INTER_LANCZOS4)
    inverses = [inverse_affine(m, upscale) for m in affines[:len(faces)]]
    if not faces:
        return out, inverses
    if full_canvas:
        acc = out.astype(np.float64)
        for face, inv in zip(faces, inverses):
            composite(acc, *soft_face(face, inv, out_w, out_h, upscale))
        return np.clip(acc, 0, 255).astype(np.uint8), inverses
    rects = [face_rect(inv, face.shape[0], out_w, out_h, upscale)
             for face, inv in zip(faces, inverses)]
    used = [i for i, (x0, y0, x1, y1) in enumerate(rects) if x1 > x0 and y1 > y0]
    if not used:
        return out, inverses
    # One float64 accumulator over the union of the faces' rectangles.
    ux0 = min(rects[i][0] for i in used)
    uy0 = min(rects[i][1] for i in used)
    ux1 = max(rects[i][2] for i in used)
    uy1 = max(rects[i][3] for i in used)
    acc = out[uy0:uy1, ux0:ux1].astype(np.float64)
    for i in used:
        x0, y0, x1, y1 = rects[i]
        local = inverses[i].copy()
        local[0, 2] -= x0
        local[1, 2] -= y0
        alpha, pasted = soft_face(faces[i], local, x1 - x0, y1 - y0, upscale)
        composite(acc[y0 - uy0:y1 - uy0, x0 - ux0:x1 - ux0], alpha, pasted)
    # Truncation, not rounding (facexlib's astype(uint8)).
    out[uy0:uy1, ux0:ux1] = np.clip(acc, 0, 255).astype(np.uint8)
    return out, inverses
