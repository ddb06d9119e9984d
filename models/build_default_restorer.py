#!/usr/bin/env python3
"""Build facefix's default restorer: a classical luma unsharp mask with noise coring.

This is NOT a neural face-restoration model and does not hallucinate detail: it is a
fixed, hand-designed contour-sharpening filter written as an ONNX graph, so it runs
through exactly the same code path as GFPGAN / GPEN / CodeFormer (same I/O contract)
while being a few kilobytes, deterministic and ~10 ms per face on a CPU. Deployments
that want real restoration fetch a production model (models/fetch.sh).

I/O contract (GFPGAN's community ONNX exports):
    input   `input`   float32 [batch, 3, S, S]  RGB, NCHW, values in [-1, 1]
    output  `output`  float32 [batch, 3, S, S]  RGB, NCHW, values in [-1, 1]
The batch axis is symbolic, so the worker may batch faces.

The filter, in the [-1, 1] domain:
    Y      = 0.299 R + 0.587 G + 0.114 B                  (luma, 1x1 conv)
    blur   = Gaussian(Y, sigma 2.0), separable 9-tap, reflect padding
    d      = Y - blur                                     (contour detail)
    cored  = d * d^2 / (d^2 + t^2),  t = 0.02             (soft coring: detail at the
             noise level (|d| << t) is left alone, real edges (|d| >> t) pass)
    out    = clip(input + AMOUNT * cored, -1, 1), AMOUNT = 1.5, added to R, G and B
Sharpening only luma keeps colours: no chroma fringes on edges.

Byte-reproducible: only the onnx helper API and fixed constants are used (no random
numbers), serialised deterministically; the sha256 printed is the one in
models/manifest.toml (onnx 1.23.2; other onnx versions may write different bytes).

Usage: python3 build_default_restorer.py [--size 512] [--out models/facefix_usm_512.onnx]
"""

import argparse
import hashlib
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
LUMA = (0.299, 0.587, 0.114)
SIGMA = 2.0
TAPS = 9
CORING = 0.02
AMOUNT = 1.5


def gaussian_taps(sigma, taps):
    t = np.arange(taps, dtype=np.float64) - (taps - 1) / 2.0
    g = np.exp(-(t * t) / (2.0 * sigma * sigma))
    return (g / g.sum()).astype(np.float32)


def const(name, array):
    return numpy_helper.from_array(np.ascontiguousarray(array), name=name)


def build(size):
    half = TAPS // 2
    g = gaussian_taps(SIGMA, TAPS)
    inits = [
        const("luma_w", np.array(LUMA, dtype=np.float32).reshape(1, 3, 1, 1)),
        const("pad_h", np.array([0, 0, half, 0, 0, 0, half, 0], dtype=np.int64)),
        const("pad_w", np.array([0, 0, 0, half, 0, 0, 0, half], dtype=np.int64)),
        const("gauss_v", g.reshape(1, 1, TAPS, 1)),
        const("gauss_h", g.reshape(1, 1, 1, TAPS)),
        const("coring_sq", np.array(CORING * CORING, dtype=np.float32)),
        const("amount", np.array(AMOUNT, dtype=np.float32)),
        const("lo", np.array(-1.0, dtype=np.float32)),
        const("hi", np.array(1.0, dtype=np.float32)),
    ]
    n = helper.make_node
    nodes = [
        n("Conv", ["input", "luma_w"], ["luma"], kernel_shape=[1, 1], name="luma"),
        n("Pad", ["luma", "pad_h"], ["luma_ph"], mode="reflect", name="pad_h"),
        n("Conv", ["luma_ph", "gauss_v"], ["blur_v"], kernel_shape=[TAPS, 1], name="blur_v"),
        n("Pad", ["blur_v", "pad_w"], ["blur_pw"], mode="reflect", name="pad_w"),
        n("Conv", ["blur_pw", "gauss_h"], ["blur"], kernel_shape=[1, TAPS], name="blur_h"),
        n("Sub", ["luma", "blur"], ["detail"], name="detail"),
        n("Mul", ["detail", "detail"], ["detail_sq"], name="detail_sq"),
        n("Add", ["detail_sq", "coring_sq"], ["denom"], name="denom"),
        n("Div", ["detail_sq", "denom"], ["gate"], name="gate"),
        n("Mul", ["detail", "gate"], ["cored"], name="cored"),
        n("Mul", ["cored", "amount"], ["boost"], name="boost"),
        # [batch,1,S,S] broadcasts over the three channels: luma-only sharpening
        n("Add", ["input", "boost"], ["sharpened"], name="sharpened"),
        n("Clip", ["sharpened", "lo", "hi"], ["output"], name="clip"),
    ]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, size, size])
    graph = helper.make_graph(nodes, "facefix_usm", [x], [y], inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facefix models/build_default_restorer.py",
        producer_version="1",
        doc_string=(
            "facefix-usm (S=%d): classical luma unsharp mask with soft noise coring "
            "(gaussian sigma %.1f, coring %.2f, amount %.1f); not a neural network"
            % (size, SIGMA, CORING, AMOUNT)
        ),
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512, help="crop size S (default 512)")
    ap.add_argument("--out", default=None, help="output file (default facefix_usm_<S>.onnx here)")
    args = ap.parse_args(argv)
    if args.size < 16:
        ap.error("--size must be at least 16")
    out = args.out or "facefix_usm_%d.onnx" % args.size
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    data = build(args.size).SerializeToString(deterministic=True)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)
    print("%s  %d bytes  sha256 %s" % (out, len(data), hashlib.sha256(data).hexdigest()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
