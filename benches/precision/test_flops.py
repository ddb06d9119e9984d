"""Checks the FLOP counter on a hand-sized graph (run: python benches/precision/test_flops.py)."""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flops import conv_flops  # noqa: E402


def main():
    w1 = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w1")
    w2 = numpy_helper.from_array(np.zeros((3, 8, 1, 1), np.float32), "w2")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w1"], ["h"], pads=[1, 1, 1, 1], strides=[2, 2]),
            helper.make_node("Conv", ["h", "w2"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    # 64x64 in: conv1 -> 8x32x32, 3*3*3 MACs each; conv2 -> 3x32x32, 8 MACs each.
    want = 2 * (8 * 32 * 32 * 27 + 3 * 32 * 32 * 8)
    got = conv_flops(model, 64)
    assert got == want, (got, want)
    print("flops: ok (%d)" % got)


if __name__ == "__main__":
    main()
