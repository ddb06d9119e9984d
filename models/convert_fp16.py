#!/usr/bin/env python3
"""Converts a restorer ONNX file to float16, keeping float32 inputs and outputs.

The worker feeds and reads float32 whatever the precision (`--precision fp16` only
swaps the file), so the converted graph keeps float32 I/O: ONNX Runtime's converter
inserts a Cast after each input and before each output. Everything else (weights and
activations) becomes float16, except the ops in KEEP_FP32, whose numbers suffer in half
precision; the converter wraps them in Casts back to float32.

Deterministic: the converter walks the graph in order and the file is serialised with
deterministic=True, so converting twice gives the same bytes (scripts/setup-models.sh
pins each result's sha256 in models/manifest.toml).

Uses the converter that ships inside the pinned onnxruntime wheel
(onnxruntime.transformers.float16), so no other package is needed.

Usage: .venv/bin/python models/convert_fp16.py --in MODEL.onnx --out MODEL.fp16.onnx
"""

import argparse
import os
import sys

import onnx
from onnxruntime.transformers import float16

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model_file import write_model_file  # noqa: E402  (next to this file)

# Ops left in float32, on top of the converter's own list (ops ONNX Runtime has no fp16
# kernel for). Resize: interpolation weights and coordinate arithmetic lose pixels'
# sub-positions in fp16. Reductions, Exp, Pow, Log, Sqrt, Softmax, normalisations:
# sums and exponentials overflow float16's 65504 or lose the small terms. The shipped
# restorers use none of the reductions; the list is for the production models
# (GFPGAN-style StyleGAN modulation has ReduceSum/Pow/Sqrt) converted the same way.
KEEP_FP32 = [
    "Resize",
    "ReduceMean",
    "ReduceSum",
    "ReduceSumSquare",
    "ReduceL2",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceLogSumExp",
    "Exp",
    "Log",
    "Pow",
    "Sqrt",
    "Reciprocal",
    "Softmax",
    "LayerNormalization",
    "InstanceNormalization",
    "GroupNormalization",
]


def convert(model):
    """The float16 version of `model` (a new ModelProto; `model` is left as it was)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    block = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(KEEP_FP32))
    out = float16.convert_float_to_float16(
        copy,
        keep_io_types=True,
        op_block_list=block,
        # The converter finds the tensors around a kept-in-fp32 op through the graph's
        # value_info, which shape inference fills: without it the Casts are silently
        # left out and Resize ran in float16 (seen on Real-ESRGAN). The result depends
        # on the onnx version's inference, pinned like everything else.
        disable_shape_infer=False,
    )
    _sort_nodes(out.graph)
    # Mark the file so tools and people can tell it from its source.
    out.doc_string = (model.doc_string + "\n" if model.doc_string else "") + (
        "float16 weights and activations, float32 I/O (models/convert_fp16.py)"
    )
    onnx.checker.check_model(out)
    return out


def _sort_nodes(graph):
    """Orders the nodes so each comes after the producers of its inputs. The converter
    appends the Casts it adds after the inputs at the end of the node list: ONNX Runtime
    does not mind, the ONNX checker (and other tools) do. Stable: among the nodes ready
    at each step the earliest in the original order goes first, so the result is the
    same every time."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    available.add("")  # an omitted optional input
    pending = list(graph.node)
    ordered = []
    while pending:
        for k, node in enumerate(pending):
            if all(name in available for name in node.input):
                break
        else:
            raise ValueError("the graph has a cycle or an input nothing produces")
        node = pending.pop(k)
        ordered.append(node)
        available.update(node.output)
    kept = [onnx.NodeProto() for _ in ordered]
    for dst, src in zip(kept, ordered):
        dst.CopyFrom(src)
    del graph.node[:]
    graph.node.extend(kept)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--in", dest="src", required=True, help="float32 ONNX file")
    ap.add_argument("--out", required=True, help="where to write the float16 file")
    args = ap.parse_args()
    data = write_model_file(args.out, convert(onnx.load(args.src)))
    print("%s: %d bytes" % (args.out, len(data)))


if __name__ == "__main__":
    main()
