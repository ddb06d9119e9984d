#!/usr/bin/env python3
"""Build a synthetic restorer with GFPGAN's cost (~400 GFLOP per 512 face) for benchmarks.

It restores nothing: it is a stack of 3x3 convolutions with fixed pseudo-random weights
whose only purpose is to cost what GFPGANv1Clean costs (face_pipeline.md 1.5: ~395.5
GFLOP per 512x512 face, conv/linear only), so that batch-throughput measurements on a GPU
(faces per second at batch 8 vs batch 1) mean something without the 340 MB weights. It
has the GFPGAN I/O contract with a symbolic batch axis:
    input  `input`  float32 [batch, 3, 512, 512] -> output `output` float32, same shape,
    values in [-1, 1] (tanh).

Graph: conv 3->64 s2 (256^2) -> conv 64->128 s2 (128^2) -> conv 128->256 -> BLOCKS x
conv 256->256 (all 3x3, ReLU) at 128^2 -> conv 256->3 -> bilinear x4 -> tanh.
With the default 20 blocks: about 399 GFLOP per face (printed).

`--shape unet` builds instead a model shaped like GFPGANv1Clean (same contract): a U-Net
whose encoder halves 512^2 down to 4^2 and whose decoder doubles back with skip additions,
channels as GFPGAN's (64 at 512^2, 128, 256, then 512 from 64^2 down), 3x3 convolutions
with LeakyReLU, about 390 GFLOP per face. Its cost sits in the same places as GFPGAN's:
a few wide layers at high resolution and many layers at 4^2..32^2 that a GPU cannot fill
with one face; the plain stack puts it all in layers one face already fills. The
unet file is ~170 MB: build it where it is used.

Weights come from numpy's PCG64 generator with a fixed seed (deterministic), scaled so
activations neither explode nor vanish through the stack. The file is ~50 MB and is
not committed; build it when you need it:
    python3 models/build_synthetic_gfpgan_cost.py --out models/bench/synthetic_gfpgan_cost_512.onnx
"""

import argparse
import hashlib
import sys

import numpy as np
import onnx
from model_file import write_model_file
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
SEED = 20240403


def conv_flops(cin, cout, k, out_hw):
    return 2.0 * cin * cout * k * k * out_hw * out_hw


def build(size, blocks, shape="stack"):
    rng = np.random.default_rng(SEED)
    inits, nodes = [], []
    flops = 0.0

    def conv(inp, out, cin, cout, stride, out_hw, relu=True, leaky=False):
        nonlocal flops
        std = np.sqrt(2.0 / (cin * 9)) * (1.0 if relu else 0.5)
        w = (rng.standard_normal((cout, cin, 3, 3)) * std).astype(np.float32)
        b = np.zeros(cout, dtype=np.float32)
        inits.append(numpy_helper.from_array(w, out + "_w"))
        inits.append(numpy_helper.from_array(b, out + "_b"))
        conv_out = out + "_conv" if relu else out
        nodes.append(helper.make_node("Conv", [inp, out + "_w", out + "_b"], [conv_out],
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                      strides=[stride, stride], name=out))
        if relu and leaky:
            nodes.append(helper.make_node("LeakyRelu", [conv_out], [out], alpha=0.2,
                                          name=out + "_lrelu"))
        elif relu:
            nodes.append(helper.make_node("Relu", [conv_out], [out], name=out + "_relu"))
        flops += conv_flops(cin, cout, 3, out_hw)
        return out

    if shape == "unet":
        unet(size, conv, nodes, inits)
        return finish(size, nodes, inits, flops, "GFPGAN-shaped U-Net")
    q = size // 4
    x = conv("input", "down1", 3, 64, 2, size // 2)
    x = conv(x, "down2", 64, 128, 2, q)
    x = conv(x, "widen", 128, 256, 1, q)
    for i in range(blocks):
        x = conv(x, "block%d" % i, 256, 256, 1, q)
    x = conv(x, "to_rgb", 256, 3, 1, q, relu=False)
    inits.append(numpy_helper.from_array(np.array([], dtype=np.float32), "roi"))
    inits.append(numpy_helper.from_array(np.array([1, 1, 4, 4], dtype=np.float32), "scales"))
    nodes.append(helper.make_node("Resize", [x, "roi", "scales"], ["up"], mode="linear",
                                  name="up"))
    nodes.append(helper.make_node("Tanh", ["up"], ["output"], name="tanh"))
    return finish(size, nodes, inits, flops, "conv stack")


def unet(size, conv, nodes, inits):
    """GFPGANv1Clean's layout (see the module doc), ending in tensor `output`."""
    def ch(r):
        return min(512, 64 * 512 // r) if r >= 64 else 512

    def lconv(inp, out, cin, cout, stride, hw):
        return conv(inp, out, cin, cout, stride, hw, leaky=True)

    x = lconv("input", "first", 3, ch(size), 1, size)
    skips, r = {}, size
    while r > 4:
        x = lconv(x, "enc%d_a" % r, ch(r), ch(r), 1, r)
        skips[r] = x
        x = lconv(x, "enc%d_down" % r, ch(r), ch(r // 2), 2, r // 2)
        r //= 2
    x = lconv(x, "bottleneck", ch(4), ch(4), 1, 4)
    inits.append(numpy_helper.from_array(np.array([], dtype=np.float32), "roi"))
    inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "x2"))
    while r < size:
        r *= 2
        nodes.append(helper.make_node("Resize", [x, "roi", "x2"], ["up%d" % r],
                                      mode="nearest", name="up%d" % r))
        x = lconv("up%d" % r, "dec%d_a" % r, ch(r // 2), ch(r), 1, r)
        nodes.append(helper.make_node("Add", [x, skips[r]], ["skip%d" % r], name="skip%d" % r))
        x = lconv("skip%d" % r, "dec%d_b" % r, ch(r), ch(r), 1, r)
        if r <= 128:
            # StyleGAN-style second conv where GFPGAN's decoder stacks more layers.
            x = lconv(x, "dec%d_c" % r, ch(r), ch(r), 1, r)
    x = conv(x, "to_rgb", ch(size), 3, 1, size, relu=False)
    nodes.append(helper.make_node("Tanh", [x], ["output"], name="tanh"))


def finish(size, nodes, inits, flops, what):
    xi = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])
    yo = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 3, size, size])
    graph = helper.make_graph(nodes, "facefix_synthetic_gfpgan_cost", [xi], [yo], inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="facefix models/build_synthetic_gfpgan_cost.py",
        producer_version="1",
        doc_string="synthetic %s with GFPGAN's cost (%.1f GFLOP per face); "
                   "benchmarks only, restores nothing" % (what, flops / 1e9),
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model, flops


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512, help="crop size S (default 512)")
    ap.add_argument("--blocks", type=int, default=20, help="256-channel blocks (default 20)")
    ap.add_argument("--shape", choices=["stack", "unet"], default="stack",
                    help="plain conv stack (default) or GFPGAN-shaped U-Net")
    ap.add_argument("--out", default="synthetic_gfpgan_cost_512.onnx", help="output file")
    args = ap.parse_args(argv)
    if args.size % 4 or args.size < 16:
        ap.error("--size must be a multiple of 4, at least 16")
    model, flops = build(args.size, args.blocks, args.shape)
    data = write_model_file(args.out, model)
    print("%s  %d bytes  %.1f GFLOP/face  sha256 %s"
          % (args.out, len(data), flops / 1e9, hashlib.sha256(data).hexdigest()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
