#!/usr/bin/env python3
"""Throughput of the restorers at fp32, fp16 and TensorRT fp16: faces/s, achieved
TFLOP/s and the PSNR of each variant's output against fp32's, as a markdown table.

Models: the synthetic GFPGAN-cost net (models/build_synthetic_gfpgan_cost.py; 512x512
faces) and Real-ESRGAN x4plus at a fixed input side. Variants on `--device cuda`:
fp32 on CUDA, the fp16 file on CUDA, the fp32 file on TensorRT with fp16 kernels; on
`--device cpu` (a check that the script works, not a measurement): fp32 and fp16 on CPU.
Each cell runs a warm-up, then timed runs until `--seconds` or `--iters`, whichever comes
first. TensorRT's first session builds engines (minutes; cached in --trt-cache).

Needs ONNX Runtime's Python package: onnxruntime-gpu (with TensorRT's libraries on
LD_LIBRARY_PATH) for cuda, the project venv for cpu.
"""

import argparse
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
from flops import conv_flops  # noqa: E402
import convert_fp16  # noqa: E402

SEED = 20261020


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--models-dir", default=os.path.join(HERE, "..", "..", "models"))
    ap.add_argument("--batches", default="1,4,8", help="comma-separated batch sizes")
    ap.add_argument("--esrgan-side", type=int, default=128, help="Real-ESRGAN input side")
    ap.add_argument("--seconds", type=float, default=10.0, help="timed seconds per cell at most")
    ap.add_argument("--iters", type=int, default=50, help="timed runs per cell at most")
    ap.add_argument("--trt-cache", default=os.path.join(HERE, "..", "..", "models", "cache", "tensorrt"))
    ap.add_argument("--only", default="", help="run only models whose name contains this")
    args = ap.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",") if b]
    if not args.batches or min(args.batches) < 1:
        ap.error("--batches needs positive integers")
    return args


def models(args):
    """(name, fp32 path, side, input range) of each model present."""
    found = []
    synthetic = os.path.join(args.models_dir, "bench", "synthetic_gfpgan_cost_512.onnx")
    if os.path.isfile(synthetic):
        found.append(("synthetic-gfpgan-cost", synthetic, 512, (-1.0, 1.0)))
    else:
        print("note: %s missing (scripts/setup-models.sh --synthetic)" % synthetic, file=sys.stderr)
    esrgan = os.path.join(args.models_dir, "realesrgan", "realesrgan_x4plus.onnx")
    if os.path.isfile(esrgan):
        found.append(("realesrgan-x4plus", esrgan, args.esrgan_side, (0.0, 1.0)))
    return [m for m in found if args.only in m[0]]


def fp16_file(path):
    """The fp16 variant next to `path`, converted here if setup has not made it."""
    out = path[: -len(".onnx")] + ".fp16.onnx"
    if not os.path.isfile(out):
        data = convert_fp16.convert(onnx.load(path)).SerializeToString(deterministic=True)
        with open(out, "wb") as f:
            f.write(data)
    return out


def variants(args, path):
    """(label, file, providers) per variant for `--device`."""
    if args.device == "cpu":
        cpu = ["CPUExecutionProvider"]
        return [("fp32 CPU", path, cpu), ("fp16 CPU", fp16_file(path), cpu)]
    os.makedirs(args.trt_cache, exist_ok=True)
    trt = ("TensorrtExecutionProvider", {
        "trt_fp16_enable": "1",
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": args.trt_cache,
        "trt_timing_cache_enable": "1",
        "trt_timing_cache_path": args.trt_cache,
    })
    return [
        ("fp32 CUDA", path, ["CUDAExecutionProvider"]),
        ("fp16 CUDA", fp16_file(path), ["CUDAExecutionProvider"]),
        ("TensorRT fp16", path, [trt, "CUDAExecutionProvider"]),
    ]


def psnr(a, b, lo, hi):
    """PSNR of two outputs on an 8-bit scale of the model's range."""
    scale = 255.0 / (hi - lo)
    qa = np.clip(np.rint((a - lo) * scale), 0, 255)
    qb = np.clip(np.rint((b - lo) * scale), 0, 255)
    mse = float(np.mean((qa - qb) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def time_cell(session, x, args):
    name = session.get_inputs()[0].name
    out = session.run(None, {name: x})[0]  # warm-up (and TensorRT's engine build)
    runs, start = 0, time.perf_counter()
    while runs < args.iters and time.perf_counter() - start < args.seconds:
        session.run(None, {name: x})
        runs += 1
    return runs, time.perf_counter() - start, out


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(SEED)
    rows = []
    for name, path, side, (lo, hi) in models(args):
        flops = conv_flops(onnx.load(path), side)
        for batch in args.batches:
            x = rng.uniform(lo, hi, (batch, 3, side, side)).astype(np.float32)
            reference = None
            for label, file, providers in variants(args, path):
                session = ort.InferenceSession(file, providers=providers)
                used = session.get_providers()[0]
                runs, secs, out = time_cell(session, x, args)
                if reference is None:
                    reference = out
                per_s = runs * batch / secs
                rows.append((name, side, batch, label, used, per_s, per_s * flops / 1e12,
                             psnr(out, reference, lo, hi), flops / 1e9))
                del session
    print("| model | side | batch | variant | provider | faces/s | TFLOP/s | PSNR vs fp32 (dB) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, side, batch, label, used, per_s, tflops, db, gflop in rows:
        shown = "identical" if db == float("inf") else "%.1f" % db
        print("| %s (%.1f GFLOP) | %d | %d | %s | %s | %.2f | %.2f | %s |"
              % (name, gflop, side, batch, label, used.replace("ExecutionProvider", ""),
                 per_s, tflops, shown))
    low = [r for r in rows if r[7] < 40.0]
    for r in low:
        print("FAIL: %s batch %d %s: %.1f dB < 40" % (r[0], r[2], r[3], r[7]), file=sys.stderr)
    return 1 if low or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
