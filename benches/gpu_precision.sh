#!/usr/bin/env bash
# GPU precision benchmark: faces/s, achieved TFLOP/s and PSNR against fp32 for batch
# 1, 4, 8 x {fp32 CUDA, fp16 CUDA, TensorRT fp16} on the synthetic GFPGAN-cost model and
# Real-ESRGAN x4plus (input 128), as a markdown table (benches/precision/run.py).
#
# Usage: benches/gpu_precision.sh [run.py options]     e.g. --device cpu --batches 1
#   FACEFIX_BENCH_PYTHON  the Python with onnxruntime-gpu (default: .venv/bin/python)
#   FACEFIX_BENCH_TIMEOUT seconds for the whole run (default 540)
# Builds the synthetic model first if missing (scripts/setup-models.sh --synthetic).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${FACEFIX_BENCH_PYTHON:-.venv/bin/python}"
if [[ ! -f models/bench/synthetic_gfpgan_cost_512.onnx ]]; then
    "$PY" models/build_synthetic_gfpgan_cost.py --out models/bench/synthetic_gfpgan_cost_512.onnx >/dev/null
fi
exec timeout "${FACEFIX_BENCH_TIMEOUT:-540}" "$PY" benches/precision/run.py "$@"
