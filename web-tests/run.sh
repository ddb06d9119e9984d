#!/usr/bin/env bash
# Browser tests of the web page: Debian's headless Chromium driven by playwright-core, with
# node's own test runner, against facefix servers the tests start on 127.0.0.1 (port 0).
# Installs what is missing (chromium, node, the npm packages, the generated test data),
# builds the binary, and leaves one screenshot per screen in target/web-screenshots/.
# Usage: bash web-tests/run.sh   (from anywhere; scripts/test.sh runs it)
# Environment: FACEFIX_BIN (binary to test), FACEFIX_TESTDATA (test pictures; default testdata/),
# FACEFIX_CHROMIUM (browser), FACEFIX_TEST_SERVICES=1 (also on the real services).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=false
apt_install() {
  if [[ $apt_updated == false ]]; then
    apt-get update -qq
    apt_updated=true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

[[ -x "${FACEFIX_CHROMIUM:-/usr/bin/chromium}" ]] || apt_install chromium
command -v npm >/dev/null || apt_install nodejs npm
node_major=$(node -p 'process.versions.node.split(".")[0]')
if (( node_major < 20 )); then
  echo "web-tests: node $node_major is too old; playwright-core needs node 20 or later" >&2
  exit 1
fi

(cd web-tests && npm ci --no-audit --no-fund --loglevel=error)

if [[ -z ${FACEFIX_BIN:-} ]]; then
  cargo build --quiet --bin facefix
fi
# The large photo of the tests is generated (it needs the venv setup-models.sh makes).
if [[ -z ${FACEFIX_TESTDATA:-} ]]; then
  bash scripts/setup-models.sh
  bash scripts/setup-testdata.sh
fi

rm -rf target/web-screenshots
mkdir -p target/web-screenshots
node --test --test-reporter=spec web-tests/tests/*.test.mjs
