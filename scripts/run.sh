#!/usr/bin/env bash
# Sets up and runs facefix in embedded mode (no services needed): installs the build tools,
# builds the default models and the ONNX Runtime venv if missing, then serves the API and web page.
# Usage: scripts/run.sh [extra `facefix serve` flags]     e.g. scripts/run.sh --listen 0.0.0.0:8080
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-build.sh
bash scripts/setup-models.sh
exec cargo run --quiet -- serve "$@"
