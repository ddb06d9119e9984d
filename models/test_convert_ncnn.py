#!/usr/bin/env python3
"""Tests for models/convert_ncnn.py: the converted model computes what ncnn computes.

Real-ESRGAN x4plus is run twice on the same inputs: from its ncnn files in ncnn itself
(CPU, in fp32: fp16 storage, packing and arithmetic and bf16 storage and packing off)
and from the ONNX file scripts/setup-models.sh converted, in ONNX Runtime (CPU). The outputs must agree within
1e-4 on the 0..1 scale, on seeded random inputs (odd and non-square sizes) and on crops
of the test photos. Small hand-written ncnn models cover the layer options x4plus does
not use (strides, dilations, other activations and ops, bilinear resizing), and fake
models check that the converter refuses what it does not translate.

Inputs stay small: x4plus costs about 35 MFLOP per input pixel, so the test runs in
seconds. Needs the venv and files of scripts/setup-models.sh.

Usage: .venv/bin/python models/test_convert_ncnn.py --models-dir models
"""

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

import cv2
import ncnn
import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_ncnn  # noqa: E402  (next to this file, not an installed package)

TOLERANCE = 1e-4  # largest allowed |ncnn - onnx| on the 0..1 scale
# One thread each: on a busy machine (CI, parallel jobs) the spinning worker threads of
# ncnn's OpenMP and of ONNX Runtime cost several times the work itself (measured on two
# shared cores: x4plus on this test's inputs took ncnn 1.4 s of CPU with one thread and
# 8 s with two), and the test is about numbers, not speed.
THREADS = 1
SEED = 20261020


# --- Running both sides ---------------------------------------------------------------


def ncnn_net(param_path, bin_path):
    """An ncnn net on the CPU computing in fp32 (by default ncnn stores and computes in
    fp16/bf16 where the CPU can, which is not what the ONNX graph does). Its Winograd and
    sgemm convolutions stay on: they round differently from ONNX Runtime's, yet x4plus
    stays within about 1.5e-5 of it (about 5e-6 with both off)."""
    net = ncnn.Net()
    opt = net.opt
    opt.use_vulkan_compute = False
    opt.use_fp16_storage = opt.use_fp16_arithmetic = opt.use_fp16_packed = False
    opt.use_bf16_storage = opt.use_bf16_packed = False
    opt.num_threads = THREADS
    assert net.load_param(param_path) == 0, "ncnn cannot load %s" % param_path
    assert net.load_model(bin_path) == 0, "ncnn cannot load %s" % bin_path
    return net


def run_ncnn(net, chw, input_blob, output_blob):
    # ncnn.Mat wraps the numpy buffer without copying it: both must outlive extract().
    data = np.ascontiguousarray(chw, dtype=np.float32)
    mat = ncnn.Mat(data)
    extractor = net.create_extractor()
    assert extractor.input(input_blob, mat) == 0
    status, out = extractor.extract(output_blob)
    assert status == 0, "ncnn could not compute blob %s (status %d)" % (output_blob, status)
    return np.array(out)  # a copy, owned by numpy


def ort_session(model):
    """model: a file path or serialised bytes."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def run_ort(session, chw):
    return session.run(["output"], {"input": chw[None]})[0][0]


def max_diff(a, b):
    assert a.shape == b.shape, "shapes differ: ncnn %s, onnx %s" % (a.shape, b.shape)
    return float(np.abs(a.astype(np.float64) - b).max())


# --- Inputs ---------------------------------------------------------------------------


def random_inputs():
    rng = np.random.default_rng(SEED)
    for h, w in [(17, 23), (16, 24), (9, 9)]:
        yield "random %dx%d" % (h, w), rng.random((3, h, w), dtype=np.float32)


# (file, top, left, height, width): an eye, the cap badge (hard black/white edges), the
# saucer's rim with a highlight.
PHOTO_CROPS = [
    ("astronaut.png", 84, 196, 32, 32),
    ("grace_hopper.jpg", 40, 240, 32, 32),
    ("coffee.png", 100, 240, 24, 32),
]


def photo_inputs(testdata):
    for name, top, left, h, w in PHOTO_CROPS:
        bgr = cv2.imread(os.path.join(testdata, "images", name), cv2.IMREAD_COLOR)
        assert bgr is not None, "cannot read testdata/images/%s" % name
        rgb = cv2.cvtColor(bgr[top : top + h, left : left + w], cv2.COLOR_BGR2RGB)  # the net wants RGB
        chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255.0
        yield "%s %dx%d at (%d,%d)" % (name, h, w, top, left), chw


# --- Hand-written ncnn models ---------------------------------------------------------


def param_text(lines):
    """A .param file for layer lines 'Type name bottoms -> tops params...'."""
    body, blobs = [], set()
    for line in lines:
        head, params = (line.split(" | ") + [""])[:2]
        left, right = head.split(" -> ")
        layer_type, name, *bottoms = left.split()
        tops = right.split()
        blobs.update(bottoms + tops)
        counts = [str(len(bottoms)), str(len(tops))]
        body.append(" ".join([layer_type, name] + counts + bottoms + tops + params.split()))
    return "\n".join(["7767517", "%d %d" % (len(body), len(blobs))] + body) + "\n"


def fp16_weights(values):
    data = np.asarray(values, dtype="<f2").tobytes()
    return (0x01306B47).to_bytes(4, "little") + data + b"\0" * (-len(data) % 4)


def fp32_weights(values):
    return b"\0\0\0\0" + np.asarray(values, dtype="<f4").tobytes()


def raw_fp32(values):
    return np.asarray(values, dtype="<f4").tobytes()


def weights(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32) * 0.5


def small_models():
    """(name, param lines, bin bytes, input CHW): each covers layer options of its own."""
    rng = np.random.default_rng(SEED + 1)
    # A 3x1 kernel with uneven pads and clip; dilation 2, stride 2, fp32 weights, no bias
    # and sigmoid; 1x1 with relu.
    yield (
        "convolutions",
        [
            "Input in -> data | 0=14 1=10 2=3",
            # 27 fp16 weights: 54 bytes, so the buffer carries 2 bytes of padding
            "Convolution c1 data -> a | 0=3 1=3 11=1 4=1 14=0 15=1 16=0 5=1 6=27 "
            "9=3 -23310=2,-4.0e-01,6.0e-01",
            "Convolution c2 a -> b | 0=4 1=3 2=2 3=2 4=2 5=0 6=108 9=4",
            "Convolution c3 b -> out | 0=2 1=1 5=1 6=8 9=1",
        ],
        fp16_weights(weights(rng, 27)) + raw_fp32(weights(rng, 3))
        + fp32_weights(weights(rng, 108))
        + fp16_weights(weights(rng, 8)) + raw_fp32(weights(rng, 2)),
        rng.standard_normal((3, 10, 14)).astype(np.float32),
    )  # fmt: skip
    # Product, max, a weighted sum of three, sub, div and mul by scalars.
    yield (
        "element-wise ops",
        [
            "Input in -> data",
            "Split sp data -> d0 d1 d2 d3 d4 d5",
            "Eltwise prod d0 d1 -> p | 0=0",
            "Eltwise max p d2 -> m | 0=2",
            "Eltwise sum m d3 d4 -> s | 0=1 -23301=3,5.0e-01,-2.0e+00,1.0",
            "BinaryOp sub s d5 -> t | 0=1",
            "BinaryOp div t -> u | 0=3 1=1 2=2.5",
            "BinaryOp mul u -> out | 0=2 1=1 2=-1.5",
        ],
        b"",
        rng.standard_normal((3, 7, 5)).astype(np.float32),
    )
    # Bilinear x2, nearest x3, bilinear x2 with align_corner.
    yield (
        "resizing",
        [
            "Input in -> data",
            "Interp up1 data -> a | 0=2 1=2.0 2=2.0",
            "Interp up2 a -> b | 0=1 1=3.0 2=3.0",
            "Interp up3 b -> out | 0=2 1=2.0 2=2.0 6=1",
        ],
        b"",
        rng.standard_normal((2, 5, 4)).astype(np.float32),
    )
    # Along the width (axis -1 and 2) and the height (axis 1).
    yield (
        "concatenation",
        [
            "Input in -> data",
            "Split sp data -> d0 d1 d2 d3",
            "Concat cw1 d0 d1 -> w1 | 0=-1",
            "Concat cw2 d2 d3 -> w2 | 0=2",
            "Concat ch w1 w2 -> out | 0=1",
        ],
        b"",
        rng.standard_normal((2, 3, 4)).astype(np.float32),
    )


def write_ncnn(directory, lines, bin_data):
    param_path, bin_path = os.path.join(directory, "net.param"), os.path.join(directory, "net.bin")
    with open(param_path, "w") as f:
        f.write(param_text(lines))
    with open(bin_path, "wb") as f:
        f.write(bin_data)
    return param_path, bin_path


def refused(lines, bin_data):
    """The converter's refusal message for a model; fails when it converts it."""
    try:
        convert_ncnn.convert(param_text(lines), bin_data)
    except convert_ncnn.ConversionError as err:
        return str(err)
    raise AssertionError("the converter accepted a model it should refuse")


# --- The tests ------------------------------------------------------------------------


def test_blob_names(ctx):
    """The blob names the parity test feeds and reads are the model's input and output."""
    layers = convert_ncnn.parse_param(open(ctx.param).read())
    assert layers[0].type == "Input" and layers[0].tops == ["data"], "x4plus's input blob is not 'data'"
    assert layers[-1].tops == ["output"], "x4plus's last blob is not 'output'"


def test_x4plus_matches_ncnn(ctx):
    net, session = ncnn_net(ctx.param, ctx.bin), ort_session(ctx.onnx)
    worst = 0.0
    for title, chw in list(random_inputs()) + list(photo_inputs(ctx.testdata)):
        expected = run_ncnn(net, chw, "data", "output")
        got = run_ort(session, chw)
        _, h, w = chw.shape
        assert got.shape == (3, 4 * h, 4 * w), "ONNX output for %s is %s, not 4x" % (title, got.shape)
        diff = max_diff(expected, got)
        print("    %-36s max |ncnn - onnx| = %.2e" % (title, diff))
        worst = max(worst, diff)
        assert diff <= TOLERANCE, "%s: max abs difference %.3e > %.0e" % (title, diff, TOLERANCE)
    print("    worst %.2e (bound %.0e)" % (worst, TOLERANCE))


def test_x4plus_file_is_this_converters_output(ctx):
    """The ONNX file setup-models.sh wrote, in another process, is byte for byte what the
    converter makes of the same ncnn files now: the conversion is reproducible."""
    fresh = convert_ncnn.convert_files(ctx.param, ctx.bin).SerializeToString(deterministic=True)
    with open(ctx.onnx, "rb") as f:
        assert f.read() == fresh, "%s differs from a fresh conversion" % ctx.onnx


def test_small_models_match_ncnn(ctx):
    for name, lines, bin_data, chw in small_models():
        with tempfile.TemporaryDirectory() as tmp:
            param_path, bin_path = write_ncnn(tmp, lines, bin_data)
            expected = run_ncnn(ncnn_net(param_path, bin_path), chw, "data", "out")
        model = convert_ncnn.convert(param_text(lines), bin_data)
        again = convert_ncnn.convert(param_text(lines), bin_data)
        data = model.SerializeToString(deterministic=True)
        assert data == again.SerializeToString(deterministic=True), "%s: two conversions differ" % name
        got = run_ort(ort_session(data), chw)
        diff = max_diff(expected, got)
        print("    %-36s max |ncnn - onnx| = %.2e" % (name, diff))
        assert diff <= TOLERANCE, "%s: max abs difference %.3e" % (name, diff)


def test_refuses_unknown_layer_type(ctx):
    lines = ["Input in -> data", "Wobble w1 data -> out | 0=1"]
    message = refused(lines, b"")
    assert "w1" in message and "Wobble" in message, "the message does not name the layer: %s" % message
    with tempfile.TemporaryDirectory() as tmp:
        param_path, bin_path = write_ncnn(tmp, lines, b"")
        out, stderr = os.path.join(tmp, "net.onnx"), io.StringIO()
        with contextlib.redirect_stderr(stderr):
            status = convert_ncnn.main(["--param", param_path, "--bin", bin_path, "--out", out])
        assert status != 0 and not os.path.exists(out), "the CLI wrote a file for a refused model"
        assert "Wobble" in stderr.getvalue(), "the CLI did not say why: %r" % stderr.getvalue()


def test_refuses_what_it_does_not_translate(ctx):
    conv = "Convolution c1 data -> out | 0=1 1=1 5=0 6=3"
    int8 = (0x000D4B38).to_bytes(4, "little") + b"\1\2\3\0"
    cases = [
        ("int8 weights", [conv], int8, "int8"),
        ("unknown param id", [conv + " 7=2"], fp32_weights([1, 2, 3]), "[7]"),
        ("float param spelled as int", ["Interp up data -> out | 0=1 1=2 2=2"], b"", "must be a float"),
        ("bytes left in the .bin", [conv], fp32_weights([1, 2, 3]) + b"\0" * 4, "left"),
        ("truncated .bin", [conv], fp32_weights([1, 2]), "ends inside"),
        ("SAME padding", [conv.replace("5=0", "4=-233 5=0")], fp32_weights([1, 2, 3]), "negative pads"),
        ("bilinear by 1.5", ["Interp up data -> out | 0=2 1=1.5 2=1.5"], b"", "whole-number"),
        ("Eltwise prod with coeffs",
         ["Split s data -> a b", "Eltwise e a b -> out | 0=0 -23301=2,1.0,1.0"], b"", "coefficients"),
        ("BinaryOp pow", ["BinaryOp p data -> out | 0=6 1=1 2=2.0"], b"", "op_type 6"),
    ]  # fmt: skip
    for title, body, bin_data, expected in cases:
        message = refused(["Input in -> data"] + body, bin_data)
        assert expected in message, "%s: refusal %r does not say %r" % (title, message, expected)
        print("    %-28s refused: %s" % (title, message))


TESTS = [
    test_blob_names,
    test_x4plus_matches_ncnn,
    test_x4plus_file_is_this_converters_output,
    test_small_models_match_ncnn,
    test_refuses_unknown_layer_type,
    test_refuses_what_it_does_not_translate,
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models-dir", default=HERE, help="where realesrgan/realesrgan_x4plus.onnx is")
    ap.add_argument(
        "--ncnn-dir",
        default=os.path.join(HERE, "cache", "realesrgan"),
        help="where setup-models.sh keeps the x4plus .param/.bin (default models/cache/realesrgan)",
    )
    ap.add_argument("--testdata", default=os.path.join(HERE, "..", "testdata"), help="the testdata folder")
    ctx = ap.parse_args(argv)
    ctx.onnx = os.path.join(ctx.models_dir, "realesrgan", "realesrgan_x4plus.onnx")
    ctx.param = os.path.join(ctx.ncnn_dir, "realesrgan-x4plus.param")
    ctx.bin = os.path.join(ctx.ncnn_dir, "realesrgan-x4plus.bin")
    for path in (ctx.onnx, ctx.param, ctx.bin):
        if not os.path.isfile(path):
            print("test_convert_ncnn: %s is missing (run scripts/setup-models.sh)" % path, file=sys.stderr)
            return 2
    started, failed = time.monotonic(), 0
    for test in TESTS:
        test_started = time.monotonic()
        print("%s" % test.__name__)
        try:
            test(ctx)
        except Exception as err:  # noqa: BLE001  (any error fails this test, not the run)
            failed += 1
            print("  FAIL: %s: %s" % (type(err).__name__, err))
            continue
        print("  ok (%.1f s)" % (time.monotonic() - test_started))
    print("%d of %d tests passed in %.1f s" % (len(TESTS) - failed, len(TESTS), time.monotonic() - started))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
