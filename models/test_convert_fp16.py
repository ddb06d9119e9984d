#!/usr/bin/env python3
"""Tests for models/convert_fp16.py.

- Deterministic: converting the same file twice gives the same bytes (the manifest pins
  the converted files' sha256).
- Inputs and outputs stay float32; the weights become float16; the ops the converter
  must keep in float32 (Resize in Real-ESRGAN) are fed float32.
- ONNX Runtime (CPU) runs the float16 graph and its output stays close to the float32
  one on seeded random input (facefix-usm-512 at 512x512, Real-ESRGAN x4plus at 32x32:
  it costs about 35 MFLOP per input pixel).
- The files scripts/setup-models.sh wrote next to the restorers are what the converter
  makes now.

Needs the venv and files of scripts/setup-models.sh.

Usage: .venv/bin/python models/test_convert_fp16.py --models-dir models
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_fp16  # noqa: E402  (next to this file)

SEED = 20261020
# (manifest file, input range, input shape, largest allowed |fp32 - fp16|). The bounds
# are a few times what was measured (5.4e-4 and 1.2e-3): float16 has 11 significant
# bits, so 1e-3 of a 0..1 or -1..1 range is about a quarter of an 8-bit step.
CASES = [
    ("facefix_usm_512.onnx", (-1.0, 1.0), (1, 3, 512, 512), 2e-3),
    ("realesrgan/realesrgan_x4plus.onnx", (0.0, 1.0), (1, 3, 32, 32), 5e-3),
]


def fp16_path(path):
    stem, ext = os.path.splitext(path)
    return stem + ".fp16" + ext


def run(model_bytes, x):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    s = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def elem_type(value_info):
    return value_info.type.tensor_type.elem_type


def check_case(models_dir, rel, lo_hi, shape, bound, failures):
    src = os.path.join(models_dir, rel)
    source = onnx.load(src)
    first = convert_fp16.convert(source)
    second = convert_fp16.convert(onnx.load(src))
    a = first.SerializeToString(deterministic=True)
    b = second.SerializeToString(deterministic=True)
    if a != b:
        failures.append("%s: two conversions differ" % rel)

    f32, f16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    io = list(first.graph.input) + list(first.graph.output)
    if any(elem_type(v) != f32 for v in io):
        failures.append("%s: an input or output is not float32" % rel)
    weights = [t for t in first.graph.initializer if len(t.dims) >= 2]
    if not weights or any(t.data_type != f16 for t in weights):
        failures.append("%s: conv weights are not all float16" % rel)
    # Every input of a kept-in-fp32 op comes from a Cast to float32 or a float32 source.
    produced_by = {o: n for n in first.graph.node for o in n.output}
    for node in first.graph.node:
        if node.op_type not in convert_fp16.KEEP_FP32:
            continue
        data = produced_by.get(node.input[0])
        to = {a.name: a.i for a in data.attribute} if data is not None else {}
        if data is None or data.op_type != "Cast" or to.get("to") != f32:
            failures.append("%s: %s %s is not fed float32" % (rel, node.op_type, node.name))

    rng = np.random.default_rng(SEED)
    x = rng.uniform(lo_hi[0], lo_hi[1], shape).astype(np.float32)
    ref = run(source.SerializeToString(), x)
    got = run(a, x)
    diff = float(np.abs(ref - got).max())
    print("%s: max |fp32 - fp16| = %.2e (bound %.0e)" % (rel, diff, bound))
    if got.dtype != np.float32 or got.shape != ref.shape:
        failures.append("%s: output %s %s, expected float32 %s" % (rel, got.dtype, got.shape, ref.shape))
    if not diff <= bound:
        failures.append("%s: max difference %.2e over %.0e" % (rel, diff, bound))

    shipped = fp16_path(src)
    if os.path.isfile(shipped):
        with open(shipped, "rb") as f:
            if f.read() != a:
                failures.append("%s differs from a fresh conversion" % shipped)
    else:
        failures.append("%s is missing (run scripts/setup-models.sh)" % shipped)


def check_cli(models_dir, failures):
    """The script itself writes the same bytes twice."""
    src = os.path.join(models_dir, CASES[0][0])
    with tempfile.TemporaryDirectory() as tmp:
        outs = []
        for name in ("a.onnx", "b.onnx"):
            out = os.path.join(tmp, name)
            rc = os.spawnv(os.P_WAIT, sys.executable, [sys.executable, os.path.join(HERE, "convert_fp16.py"), "--in", src, "--out", out])
            if rc != 0:
                failures.append("convert_fp16.py exited %d" % rc)
                return
            with open(out, "rb") as f:
                outs.append(f.read())
        if outs[0] != outs[1]:
            failures.append("convert_fp16.py wrote different bytes on two runs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models-dir", default=os.path.join(HERE))
    args = ap.parse_args()
    failures = []
    for case in CASES:
        check_case(args.models_dir, *case, failures)
    check_cli(args.models_dir, failures)
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    if failures:
        sys.exit(1)
    print("convert_fp16: all checks passed")


if __name__ == "__main__":
    main()
