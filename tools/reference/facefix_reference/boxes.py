"""Box arithmetic of the MTCNN cascade, with facenet's numerics: +1-pixel areas in NMS,
regression with or without the +1 width, squaring, truncation, MATLAB-style crops.

Boxes are float64 arrays of shape (N, 4): x1, y1, x2, y2. The operation order of every
formula is part of the contract (the worker reproduces these numbers bit for bit).
"""

import cv2
import numpy as np

UNION = "union"
MIN = "min"


def nms(boxes, scores, threshold, overlap=UNION):
    """Greedy NMS: indices kept, in pick order (score descending; equal scores keep
    index order). A box goes when its overlap with a picked one is above `threshold`;
    a NaN overlap (degenerate boxes) removes it too."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1.0) * (y2 - y1 + 1.0)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep = []
    with np.errstate(divide="ignore", invalid="ignore"):
        while order.size:
            i, rest = order[0], order[1:]
            keep.append(int(i))
            w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1.0, 0.0)
            h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1.0, 0.0)
            inter = w * h
            if overlap == MIN:
                ratio = inter / np.minimum(area[i], area[rest])
            else:
                ratio = inter / (area[i] + area[rest] - inter)
            order = rest[ratio <= threshold]
    return keep


def regress(boxes, reg, plus_one):
    """Applies the nets' box regression: x1 += dx1*w, y1 += dy1*h, x2 += dx2*w,
    y2 += dy2*h, with w = x2 - x1 (+1 after RNet and ONet, not after PNet)."""
    extra = 1.0 if plus_one else 0.0
    w = boxes[:, 2] - boxes[:, 0] + extra
    h = boxes[:, 3] - boxes[:, 1] + extra
    return np.stack([boxes[:, 0] + reg[:, 0] * w, boxes[:, 1] + reg[:, 1] * h,
                     boxes[:, 2] + reg[:, 2] * w, boxes[:, 3] + reg[:, 3] * h], axis=1)


def square(boxes):
    """Squares around the same centre, side max(w, h), w = x2 - x1 (no +1)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + w * 0.5 - side * 0.5
    y1 = boxes[:, 1] + h * 0.5 - side * 0.5
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1)


def normalize(pixels):
    """MTCNN's input scaling, in float32: (x - 127.5) * 0.0078125."""
    return (pixels.astype(np.float32) - np.float32(127.5)) * np.float32(0.0078125)


def crop(rgb, box, size):
    """The crop of an integer box, 1-based and inclusive like MATLAB: columns x1-1 ..
    x2-1, rows y1-1 .. y2-1, zero outside the image; float32, resized to size x size
    with INTER_AREA in float (uint8 crops change the cascade's numbers). None for an
    empty box."""
    x1, y1, x2, y2 = (int(v) for v in box)
    cw, ch = x2 - x1 + 1, y2 - y1 + 1
    if cw <= 0 or ch <= 0:
        return None
    h, w = rgb.shape[:2]
    out = np.zeros((ch, cw, 3), np.float32)
    sx, sy = x1 - 1, y1 - 1
    ix0, iy0 = max(sx, 0), max(sy, 0)
    ix1, iy1 = min(sx + cw, w), min(sy + ch, h)
    if ix1 > ix0 and iy1 > iy0:
        out[iy0 - sy:iy1 - sy, ix0 - sx:ix1 - sx] = rgb[iy0:iy1, ix0:ix1]
    return cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
