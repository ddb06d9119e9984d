"""FLOPs per image of a restorer graph: convolutions only (2 * MACs), which is where
GFPGAN-like and RRDB nets spend over 99% of their arithmetic. Shapes come from ONNX shape
inference with the batch set to 1 and, for graphs with symbolic spatial dims, the given
input side."""

import onnx
from onnx import shape_inference


def _dims(value_info):
    return [d.dim_value for d in value_info.type.tensor_type.shape.dim]


def conv_flops(model, side):
    """2 * multiply-adds of every Conv for one `side` x `side` image (batch 1)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for d, value in zip(model.graph.input[0].type.tensor_type.shape.dim, (1, 3, side, side)):
        d.ClearField("dim_param")
        d.dim_value = value
    inferred = shape_inference.infer_shapes(model)
    shapes = {v.name: _dims(v) for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        out = shapes.get(node.output[0])
        w = weights.get(node.input[1])
        if not out or not w or 0 in out:
            raise ValueError("no shape for conv %s" % node.name)
        # w: [Cout, Cin/groups, kh, kw]; out: [1, Cout, H, W]
        macs = out[1] * out[2] * out[3] * w[1] * w[2] * w[3]
        total += 2 * macs
    return total
