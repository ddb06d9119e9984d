#!/usr/bin/env bash
# The fault suite: runs facefix roles (2 api, 2-3 worker --no-models, 2 sweeper) on the dev
# services on 127.0.0.1, uploads a bounded stream of jobs and injects one fault per
# scenario (broker kill -9, Redis restart and flush, MinIO stop, worker and sweeper
# kill -9, SIGTERM of a worker and of an API process, a poison job, a hung worker, DELETE
# while processing). It checks from the bucket listing, a direct Redis scan and the
# uploaders' answers that every accepted job reached one final state and that nothing of
# any job outlived its retention, prints one row per scenario and writes the table to
# target/faults/faults.{md,json}. Exit status 1 when a row shows a lost, stranded or
# leftover job (or another violated check).
#
# Usage: benches/faults.sh [--quick | --scenarios a,b] [--jobs N] [--duration S] ...
#        benches/faults.sh --help      every flag (each also an env var, FACEFIX_FAULTS_…)
#        benches/faults.sh --list      the scenarios
#
# Everything it starts is bounded in time and stopped by pid; its queues, keys and objects
# are deleted at the end of each scenario. The Python environment (pinned in
# benches/faults/requirements.txt) lives in target/faults/venv.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/faults/venv
requirements=benches/faults/requirements.txt
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || $(cat "$venv/.requirements" 2>/dev/null) != "$want" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" >"$venv/.requirements"
fi

# The roles run from the debug build unless --bin names another binary.
binary_given=false
for arg in "$@"; do
  case $arg in --bin | --bin=* | --help | -h | --list) binary_given=true ;; esac
done
[[ -n ${FACEFIX_FAULTS_BIN:-} ]] && binary_given=true
if ! $binary_given; then
  cargo build --quiet --bin facefix
fi
# The slow job of several scenarios is a generated test photo.
[[ -f testdata/images/large_7680x4320.jpg ]] || bash scripts/setup-testdata.sh

PYTHONPATH=benches exec "$venv/bin/python" -m faults "$@"
