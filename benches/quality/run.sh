#!/usr/bin/env bash
# Restoration quality bench (benches/quality/run.py): degrades the test photos, restores
# them with bicubic and every installed restorer through `facefix restore`, and scores the
# faces against the originals. Every flag: benches/quality/run.sh --help.
#
# Usage: benches/quality/run.sh [--quick] [--self-test] [--restorers a,b] [--bin PATH] ...
#
# Runs in the project venv (.venv, made by scripts/setup-models.sh with numpy and
# opencv-python-headless; nothing more is needed). Without a facefix binary and without
# --bin / FACEFIX_QUALITY_BIN, it builds the debug one.
set -euo pipefail
cd "$(dirname "$0")/../.."

[[ -x .venv/bin/python ]] || bash scripts/setup-models.sh

binary_given=false
for arg in "$@"; do
  case $arg in --bin | --bin=* | --help | -h | --self-test) binary_given=true ;; esac
done
[[ -n ${FACEFIX_QUALITY_BIN:-} ]] && binary_given=true
if ! $binary_given && [[ ! -x target/release/facefix && ! -x target/debug/facefix ]]; then
  cargo build --quiet --bin facefix
fi

PYTHONDONTWRITEBYTECODE=1 exec .venv/bin/python benches/quality/run.py "$@"
