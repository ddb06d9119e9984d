#!/usr/bin/env bash
# The whole test suite, as CI runs it: starts the dev services (Redis, RabbitMQ, MinIO on
# 127.0.0.1), prepares the models, the reference venv and the generated test data, then
# runs every test tier.
# Usage: scripts/test.sh            (from the repository root or anywhere inside it)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "dev services"
bash deploy/dev-services.sh start
eval "$(bash deploy/dev-services.sh env)"
export FACEFIX_TEST_SERVICES=1

if [[ -f scripts/setup-models.sh ]]; then
  step "models and reference environment"
  bash scripts/setup-models.sh
  step "ncnn-to-ONNX converter (Real-ESRGAN x4plus against ncnn itself)"
  .venv/bin/python models/test_convert_ncnn.py --models-dir "${FACEFIX_MODELS_DIR:-models}"
  step "float16 converter (deterministic, float32 I/O, close to float32; the shipped variants)"
  .venv/bin/python models/test_convert_fp16.py --models-dir "${FACEFIX_MODELS_DIR:-models}"
  step "model download entries (models/fetch.sh --check, no network; a broken URL is refused)"
  bash models/fetch.sh --check
  broken=$(mktemp)
  sed '0,/^url = "https:/s//url = "http:/' models/manifest.toml >"$broken"
  if FACEFIX_MANIFEST="$broken" bash models/fetch.sh --check 2>/dev/null; then
    echo "models/fetch.sh --check accepted a plain-http URL" >&2
    exit 1
  fi
  rm -f "$broken"
fi

step "generated test data (checked against its sha256 pins)"
bash scripts/setup-testdata.sh

step "build tools (C compiler, CMake, NASM)"
bash scripts/setup-build.sh

step "format and lints"
cargo fmt --all -- --check
python3 scripts/module-cycles.py
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "the example client's Python packages (examples/requirements.txt, into .venv)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r examples/requirements.txt

step "unit, contract and end-to-end tests"
cargo test --workspace --no-fail-fast

step "fault suite, quick scenarios (benches/faults.sh --quick)"
bash benches/faults.sh --quick

step "restoration quality: metric self-test and the quick bench (benches/quality)"
# The debug binary the tests above built; seconds per installed restorer on one face.
bash benches/quality/run.sh --self-test
bash benches/quality/run.sh --quick --bin target/debug/facefix

step "OpenAPI document (docs/openapi.json; api/tests/openapi.rs checks it is the served one)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check openapi-spec-validator==0.7.2
.venv/bin/python -m openapi_spec_validator docs/openapi.json

if [[ -f scripts/check-deploy.sh ]]; then
  step "deployment files (offline validation)"
  bash scripts/check-deploy.sh
fi

if [[ -f web-tests/run.sh ]]; then
  step "browser tests"
  bash web-tests/run.sh
fi

step "all tests passed"
