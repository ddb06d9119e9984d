#!/usr/bin/env bash
# The load benchmark of the job system, on the real services on 127.0.0.1: starts the
# dev services, runs `facefix api` and `facefix sweeper` from a release build, then
# `loadgen`, which measures in one run the S3 PUT baseline, POST /v1/jobs and
# GET /v1/jobs/{id}; then starts `facefix worker --no-models` (pass-through pipeline) and
# measures end-to-end job latency.
# Everything it starts is stopped when it ends; the load is bounded by --duration.
#
# Usage: benches/load.sh [loadgen flags, e.g. --concurrency 16 --duration 10s]
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/dev-services.sh start >/dev/null
eval "$(bash deploy/dev-services.sh env)"
cargo build --release --quiet --bin facefix
cargo build --release --quiet -p facefix-benches --bin loadgen

# Names of its own, so the benchmark never touches what tests or a dev stack left.
run_id="load-$$"
export \
  FACEFIX_QUEUE_URL="$FACEFIX_TEST_AMQP_URL" FACEFIX_QUEUE_PREFIX="$run_id" \
  FACEFIX_STORE_URL="$FACEFIX_TEST_REDIS_URL" FACEFIX_STORE_PREFIX="$run_id" \
  FACEFIX_BLOB_URL="s3://$FACEFIX_TEST_S3_BUCKET" FACEFIX_S3_ENDPOINT="$FACEFIX_TEST_S3_ENDPOINT" \
  FACEFIX_S3_PATH_STYLE=true FACEFIX_S3_CREATE_BUCKET=true \
  FACEFIX_S3_ACCESS_KEY_ID="$FACEFIX_TEST_S3_ACCESS_KEY" \
  FACEFIX_S3_SECRET_ACCESS_KEY="$FACEFIX_TEST_S3_SECRET_KEY" \
  FACEFIX_NO_MODELS=true FACEFIX_LOG=warn
# The benchmark measures the API, not the backpressure: a bound it never reaches.
export FACEFIX_MAX_BACKLOG=1000000
# Short retention so the benchmark's objects are gone soon after it ends.
export FACEFIX_RETENTION=2m

api_port=18480
metrics_port=18464
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

target/release/facefix api --listen "127.0.0.1:$api_port" --metrics-listen "127.0.0.1:$metrics_port" & pids+=($!)
target/release/facefix sweeper --listen 127.0.0.1:18491 & pids+=($!)

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$api_port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$api_port/readyz" >/dev/null

# Phase 1, no worker on the machine: the S3 baseline, uploads and status polls compare
# the API with the object store alone. In production workers run on GPU nodes; on a
# 2-core box a worker re-encoding 75 images a second would take the cores the API is
# being measured on. Accepted jobs wait in the queue and are processed in phase 2.
target/release/loadgen --api "http://127.0.0.1:$api_port" --metrics "http://127.0.0.1:$metrics_port" --e2e-jobs 0 "$@"

# Phase 2: a worker (pass-through pipeline) drains the queue, then end-to-end latency.
target/release/facefix worker --listen 127.0.0.1:18490 --concurrency 4 & pids+=($!)
# Let it drain phase 1's queue first (those jobs were deleted; skipping them is quick),
# so end-to-end latency is not time spent behind them. The API refreshes the gauge
# every --backlog-refresh.
for _ in $(seq 1 240); do
  ready=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" |
    awk '/^facefix_queue_messages\{queue="ready"\}/ {print $2}')
  [[ "${ready:-1}" == 0 ]] && break
  sleep 0.5
done
target/release/loadgen --api "http://127.0.0.1:$api_port" --metrics "http://127.0.0.1:$metrics_port" --e2e-only "$@"
