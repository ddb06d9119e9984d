#!/usr/bin/env python3
"""Build the tiny, deterministic ONNX "restorers" the tests use.

They follow GFPGAN's I/O contract, so they run through exactly the worker's restorer
path, yet are a few hundred bytes and have outputs a test can predict:

    input   `input`   float32 [1 or batch, 3, S, S]  RGB, NCHW, values in [-1, 1]
    output  `output`  float32, same shape and meaning

Variants (all borders replicate the edge pixel):
    identity   output = input: pure geometry (a pasted face must be invisible).
    asym       per-channel directional sharpening, then per-channel gain and offset:
                 R' = 1.6 R(x, y) - 0.6 R(x+1, y)                        + 0.12
                 G' = 0.9 (1.6 G(x, y) - 0.6 G(x, y+1))
                 B' = 0.8 (1.6 B(x, y) - 0.3 B(x, y-1) - 0.3 B(x-1, y)) - 0.15
               Each channel has its own direction, gain and offset, so an R/B swap, an
               H/W transpose or a [0, 1] normalisation changes the output visibly
               (identity and sharpen are symmetric in all three).
    sharpen    unsharp mask: input + 1.0 (input - blur), blur = 3x3 binomial per channel.
    sharpen_w  sharpen with the amount 2 * weight, `weight` a float64 [1] input
               (facefusion's fidelity input): equals sharpen at the default 0.5 and gives
               the input back at 0.

The batch axis is 1 unless --dynamic-batch makes it symbolic (`batch`).

Byte-reproducible: only fixed constants and the onnx helper API, serialised
deterministically; scripts/setup-models.sh pins the sha256 of every file for the onnx
version it installs (other onnx versions may write different bytes).

Usage: make_test_restorers.py [--variant V|all] [--size S] [--dynamic-batch] [--out-dir D]
       make_test_restorers.py --test-set [--out-dir D]     (every file the tests load)
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
VARIANTS = ("identity", "asym", "sharpen", "sharpen_w")
#: (variant, size, dynamic batch) of every model the tests load.
TEST_SET = tuple((v, 512, False) for v in VARIANTS) + (
    ("asym", 256, True), ("asym", 512, True), ("sharpen", 512, True))
SHARPEN_AMOUNT = 1.0
BINOMIAL_3 = np.array([1.0, 2.0, 1.0], dtype=np.float32) / 4.0


def const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.ascontiguousarray(np.asarray(value, dtype=dtype)), name)


def depthwise(kernels):
    """Three 3x3 kernels (R, G, B) as a grouped-conv weight [3, 1, 3, 3]."""
    return np.stack([np.asarray(k, np.float32) for k in kernels])[:, None]


def asym_kernels():
    """Directional sharpening taps per channel, indexed [row (y), column (x)], centre
    at [1, 1]: R against its right neighbour, G against the one below, B against the
    ones above and to the left."""
    r, g, b = (np.zeros((3, 3), np.float32) for _ in range(3))
    r[1, 1], r[1, 2] = 1.6, -0.6
    g[1, 1], g[2, 1] = 1.6, -0.6
    b[1, 1], b[0, 1], b[1, 0] = 1.6, -0.3, -0.3
    return depthwise([r, g, b])


def edge_padded_conv(nodes, inits, src, weight_name, weight, out):
    """`out` = 3x3 depthwise conv of `src` with 1-px edge replication (each variant
    has at most one)."""
    inits += [const("pad_1px", [0, 0, 1, 1, 0, 0, 1, 1], np.int64), const(weight_name, weight)]
    nodes += [
        helper.make_node("Pad", [src, "pad_1px"], [src + "_padded"], mode="edge"),
        helper.make_node("Conv", [src + "_padded", weight_name], [out], group=3,
                         kernel_shape=[3, 3]),
    ]


def graph_body(variant):
    """Nodes, initialisers and extra inputs of one variant."""
    nodes, inits, extra = [], [], []
    if variant == "identity":
        nodes.append(helper.make_node("Identity", ["input"], ["output"]))
    elif variant == "asym":
        edge_padded_conv(nodes, inits, "input", "asym_taps", asym_kernels(), "sharpened")
        inits += [const("gain", np.reshape([1.0, 0.9, 0.8], (1, 3, 1, 1))),
                  const("offset", np.reshape([0.12, 0.0, -0.15], (1, 3, 1, 1)))]
        nodes += [helper.make_node("Mul", ["sharpened", "gain"], ["scaled"]),
                  helper.make_node("Add", ["scaled", "offset"], ["output"])]
    else:
        blur = depthwise([np.outer(BINOMIAL_3, BINOMIAL_3)] * 3)
        edge_padded_conv(nodes, inits, "input", "binomial", blur, "blurred")
        nodes.append(helper.make_node("Sub", ["input", "blurred"], ["detail"]))
        if variant == "sharpen":
            inits.append(const("amount", [SHARPEN_AMOUNT]))
        else:
            # 2 * weight, so that the default weight 0.5 is exactly sharpen's amount.
            extra.append(helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1]))
            inits.append(const("two_amount", [2.0 * SHARPEN_AMOUNT]))
            nodes += [helper.make_node("Cast", ["weight"], ["weight_f"], to=TensorProto.FLOAT),
                      helper.make_node("Mul", ["weight_f", "two_amount"], ["amount"])]
        nodes += [helper.make_node("Mul", ["detail", "amount"], ["boost"]),
                  helper.make_node("Add", ["input", "boost"], ["output"])]
    return nodes, inits, extra


def build(variant, size, dynamic_batch):
    """The ModelProto of one test restorer."""
    if variant not in VARIANTS:
        raise ValueError("unknown variant %r" % variant)
    batch = "batch" if dynamic_batch else 1
    shape = [batch, 3, size, size]
    nodes, inits, extra = graph_body(variant)
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)
    graph = helper.make_graph(nodes, "restorer_%s" % variant, [x] + extra, [y], inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facefix tools/reference/make_test_restorers.py", producer_version="1",
        doc_string="facefix test restorer '%s' (S=%d, %s batch), GFPGAN I/O contract"
                   % (variant, size, "dynamic" if dynamic_batch else "fixed"))
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def file_name(variant, size, dynamic_batch):
    return "restorer_%s_%d%s.onnx" % (variant, size, "_dyn" if dynamic_batch else "")


def write(out_dir, variant, size, dynamic_batch):
    """Writes one model atomically; returns (path, bytes, sha256)."""
    data = build(variant, size, dynamic_batch).SerializeToString(deterministic=True)
    path = os.path.join(out_dir, file_name(variant, size, dynamic_batch))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path, len(data), hashlib.sha256(data).hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", choices=VARIANTS + ("all",), default="all")
    ap.add_argument("--size", type=int, default=512, help="crop size S (default 512)")
    ap.add_argument("--dynamic-batch", action="store_true",
                    help="symbolic batch axis instead of a fixed 1")
    ap.add_argument("--test-set", action="store_true",
                    help="build every model the tests load (ignores the options above)")
    ap.add_argument("--out-dir", default=".", help="output folder (default: here)")
    args = ap.parse_args(argv)
    if args.size < 3:
        ap.error("--size must be at least 3")
    if args.test_set:
        jobs = TEST_SET
    else:
        variants = VARIANTS if args.variant == "all" else (args.variant,)
        jobs = tuple((v, args.size, args.dynamic_batch) for v in variants)
    os.makedirs(args.out_dir, exist_ok=True)
    for job in jobs:
        print("%s  %d bytes  sha256 %s" % write(args.out_dir, *job))
    return 0


if __name__ == "__main__":
    sys.exit(main())
