#!/usr/bin/env bash
# Installs (when missing) and runs the services the real adapters are tested against,
# without Docker and without systemd, listening on 127.0.0.1 only:
#
#   Redis     127.0.0.1:6379   (Debian package redis-server)
#   RabbitMQ  127.0.0.1:5672   (Debian package rabbitmq-server, node facefix@localhost)
#   S3        127.0.0.1:9000   (MinIO built with `go install`, several minutes on 2 cores;
#                               Garage built with `cargo install`, about 30 minutes, when
#                               Go is missing or cannot build MinIO. The Garage path follows
#                               Garage's documented CLI but has not been exercised here.)
#
# Usage: deploy/dev-services.sh start|stop|status|env|kill|restart|queues
#
#   start   install what is missing, start what is not running, wait until every service
#           answers, create the test bucket. Idempotent: a second start returns at once.
#   stop    stop what this script started (by its pid files); leaves anything else alone.
#   status  one line per service; exit 0 when all three answer, 3 otherwise.
#   env     `export FACEFIX_TEST_…=…` lines for the contract tests:
#           eval "$(deploy/dev-services.sh env)"
#
# Fault injection (benches/faults.sh), for the services this script started:
#
#   kill SERVICE             SIGKILL the service's processes (redis, rabbitmq or s3): a
#                            crash, not a shutdown. It stays down until `start`.
#   restart SERVICE [SECS]   stop it as `stop` does, keep it down SECS seconds (default 0),
#                            start it as `start` does.
#   queues                   RabbitMQ's queues, one a line: name, ready, unacknowledged,
#                            consumers (tab-separated).
#
# State (data, logs, pid files) lives in ${XDG_RUNTIME_DIR:-/tmp}/facefix-dev; built
# server binaries are cached, keyed by version, in ${XDG_CACHE_HOME:-$HOME/.cache}/facefix/bin
# so a machine (or CI) builds them once. Installing needs root (apt-get).
set -euo pipefail

RUN_DIR="${XDG_RUNTIME_DIR:-/tmp}/facefix-dev"
CACHE_BIN="${XDG_CACHE_HOME:-$HOME/.cache}/facefix/bin"

REDIS_PORT=6379
AMQP_PORT=5672
# Erlang distribution (rabbitmqctl talks to the node through it) and epmd, loopback only.
RABBIT_DIST_PORT=25672
RABBIT_NODE="facefix@localhost"
S3_PORT=9000
TEST_BUCKET="facefix-test"

# MinIO publishes no semver tags, so the module proxy knows it by pseudo-version. This one
# (February 2026) declares go 1.24 and builds with the Go toolchain of this image.
MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
MINIO_ACCESS_KEY="facefix"
MINIO_SECRET_KEY="facefix-dev-secret"

# Garage wants key ids of the form GK + 24 hex digits and a 64-hex-digit secret.
GARAGE_VERSION="2.5.0"
GARAGE_ACCESS_KEY="GKfacefacedeadbeef00000001"
GARAGE_SECRET_KEY="0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
GARAGE_RPC_SECRET="f4cef1f0000000000000000000000000000000000000000000000000000000d3"

log() { printf 'dev-services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when the pid in file $1 is a live process.
pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every half second.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
    log "$what"
}

# ---------------------------------------------------------------------------- install

# apt_install PKG…
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/apt.sh"

# The MinIO binary, built once per version. Prints its path; fails when Go cannot build it.
minio_binary() {
    local bin="$CACHE_BIN/minio-$MINIO_VERSION"
    if [[ -x $bin ]]; then
        echo "$bin"
        return 0
    fi
    # The official Go tarball installs outside PATH unless a profile adds it.
    local go
    go=$(command -v go || echo /usr/local/go/bin/go)
    [[ -x $go ]] || { log "no Go toolchain: cannot build MinIO"; return 1; }
    local build
    build=$(mktemp -d)
    log "building MinIO $MINIO_VERSION with $("$go" version | cut -d' ' -f3) (takes several minutes)"
    # GOTOOLCHAIN=local: never try to download another Go; CGO off: no C toolchain needed.
    if ! GOBIN="$build" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
        "$go" install "$MINIO_MODULE@$MINIO_VERSION" >"$build.log" 2>&1; then
        tail -n 20 "$build.log" >&2
        rm -rf "$build"
        log "go install of MinIO failed (log: $build.log)"
        return 1
    fi
    mkdir -p "$CACHE_BIN"
    mv "$build/minio" "$bin.partial" && mv "$bin.partial" "$bin"
    rm -rf "$build" "$build.log"
    echo "$bin"
}

# The Garage binary (fallback S3 server), built once per version with cargo (about 30 min
# on 2 cores). Prints its path.
garage_binary() {
    local bin="$CACHE_BIN/garage-$GARAGE_VERSION"
    if [[ -x $bin ]]; then
        echo "$bin"
        return 0
    fi
    command -v cargo >/dev/null || die "neither Go (for MinIO) nor cargo (for Garage) is installed"
    local root
    root=$(mktemp -d)
    log "building Garage $GARAGE_VERSION with cargo install (about 30 minutes on 2 cores)"
    cargo install --locked --root "$root" --version "$GARAGE_VERSION" garage >&2 ||
        die "cargo install garage failed"
    mkdir -p "$CACHE_BIN"
    mv "$root/bin/garage" "$bin.partial" && mv "$bin.partial" "$bin"
    rm -rf "$root"
    echo "$bin"
}

# ---------------------------------------------------------------------------- redis

redis_start() {
    local dir="$RUN_DIR/redis"
    if port_open $REDIS_PORT; then
        pid_alive "$dir/redis.pid" || log "redis: something else listens on $REDIS_PORT; using it"
        return 0
    fi
    apt_install redis-server
    mkdir -p "$dir"
    # Run as production should (docs/deploy.md, "Redis durability"): append-only file in
    # $dir, flushed every second, and writes refused rather than keys evicted when full.
    # Tests use unique key prefixes and delete them, so what persists between runs is
    # only what a failed test left behind.
    redis-server --daemonize yes --bind 127.0.0.1 --port $REDIS_PORT --protected-mode yes \
        --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        --save "" --appendonly yes --appendfsync everysec --maxmemory-policy noeviction 9>&-
    wait_for 30 "redis is up" redis_ping || die "redis did not answer (log: $dir/redis.log)"
}

redis_ping() { [[ $(redis-cli -h 127.0.0.1 -p $REDIS_PORT ping 2>/dev/null) == PONG ]]; }

redis_stop() {
    local pidfile="$RUN_DIR/redis/redis.pid"
    pid_alive "$pidfile" || return 0
    log "stopping redis"
    redis-cli -h 127.0.0.1 -p $REDIS_PORT shutdown nosave >/dev/null 2>&1 || kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
}

# ---------------------------------------------------------------------------- rabbitmq

# Environment of our RabbitMQ node, for the server and for rabbitmqctl alike.
rabbit_env() {
    local dir="$RUN_DIR/rabbitmq"
    export RABBITMQ_NODENAME="$RABBIT_NODE"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$AMQP_PORT
    export RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT
    export RABBITMQ_MNESIA_BASE="$dir/mnesia"
    export RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export ERL_EPMD_ADDRESS=127.0.0.1
}

rabbit_ctl() { (rabbit_env && rabbitmqctl -n "$RABBIT_NODE" "$@"); }

rabbit_start() {
    local dir="$RUN_DIR/rabbitmq"
    if port_open $AMQP_PORT; then
        pid_alive "$dir/rabbitmq.pid" || log "rabbitmq: something else listens on $AMQP_PORT; using it"
        return 0
    fi
    apt_install rabbitmq-server
    mkdir -p "$dir/mnesia" "$dir/log"
    # Only AMQP on loopback; no plugins (the management UI is not needed and slows start).
    printf 'listeners.tcp.default = 127.0.0.1:%s\n' "$AMQP_PORT" >"$dir/rabbitmq.conf"
    printf '[].\n' >"$dir/enabled_plugins"
    # Debian's wrappers run the server and rabbitmqctl as the rabbitmq user.
    if id rabbitmq >/dev/null 2>&1; then chown -R rabbitmq: "$dir"; fi
    log "starting rabbitmq (node $RABBIT_NODE)"
    (rabbit_env && rabbitmq-server -detached) >&2 9>&-
    wait_for 90 "rabbitmq is up" rabbit_ctl await_startup --timeout 5 ||
        die "rabbitmq did not start (logs: $dir/log)"
    wait_for 30 "rabbitmq listens for AMQP" port_open $AMQP_PORT || die "rabbitmq does not listen on $AMQP_PORT"
}

rabbit_stop() {
    local pidfile="$RUN_DIR/rabbitmq/rabbitmq.pid"
    pid_alive "$pidfile" || return 0
    log "stopping rabbitmq"
    local pid
    pid=$(cat "$pidfile")
    rabbit_ctl stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    wait_for 30 "rabbitmq stopped" bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

# ---------------------------------------------------------------------------- s3

s3_kind() { cat "$RUN_DIR/s3/kind" 2>/dev/null || echo minio; }

s3_keys() {
    if [[ $(s3_kind) == garage ]]; then
        echo "$GARAGE_ACCESS_KEY $GARAGE_SECRET_KEY"
    else
        echo "$MINIO_ACCESS_KEY $MINIO_SECRET_KEY"
    fi
}

# Any HTTP answer on the S3 port means the server is serving requests.
s3_answers() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$S3_PORT/"; }

s3_start() {
    local dir="$RUN_DIR/s3"
    if port_open $S3_PORT; then
        pid_alive "$dir/s3.pid" || log "s3: something else listens on $S3_PORT; using it"
        s3_create_bucket
        return 0
    fi
    apt_install curl ca-certificates
    mkdir -p "$dir"
    local bin
    if bin=$(minio_binary); then
        minio_start "$bin"
    else
        log "falling back to Garage"
        bin=$(garage_binary) || exit 1
        garage_start "$bin"
    fi
    s3_create_bucket
}

minio_start() {
    local dir="$RUN_DIR/s3"
    echo minio >"$dir/kind"
    mkdir -p "$dir/minio-data"
    log "starting minio"
    MINIO_ROOT_USER=$MINIO_ACCESS_KEY MINIO_ROOT_PASSWORD=$MINIO_SECRET_KEY \
        MINIO_BROWSER=off MINIO_UPDATE=off \
        setsid nohup "$1" server --quiet --address "127.0.0.1:$S3_PORT" \
        --console-address "127.0.0.1:$((S3_PORT + 1))" "$dir/minio-data" \
        >"$dir/s3.log" 2>&1 </dev/null 9>&- &
    echo $! >"$dir/s3.pid"
    wait_for 60 "minio is up" curl -sf --max-time 2 "http://127.0.0.1:$S3_PORT/minio/health/ready" ||
        die "minio did not start (log: $dir/s3.log)"
}

garage_start() {
    local bin=$1 dir="$RUN_DIR/s3"
    local conf="$dir/garage.toml"
    echo garage >"$dir/kind"
    mkdir -p "$dir/garage-meta" "$dir/garage-data"
    cat >"$conf" <<EOF
metadata_dir = "$dir/garage-meta"
data_dir = "$dir/garage-data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:3901"
rpc_public_addr = "127.0.0.1:3901"
rpc_secret = "$GARAGE_RPC_SECRET"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$S3_PORT"
root_domain = ".s3.localhost"
EOF
    log "starting garage"
    setsid nohup "$bin" -c "$conf" server >"$dir/s3.log" 2>&1 </dev/null 9>&- &
    echo $! >"$dir/s3.pid"
    wait_for 60 "garage is up" "$bin" -c "$conf" status || die "garage did not start (log: $dir/s3.log)"
    # A fresh node has no layout: give it one. On a restart the layout exists and
    # both commands fail harmlessly, as do the key and bucket steps below.
    local node
    node=$("$bin" -c "$conf" node id -q | cut -d@ -f1)
    "$bin" -c "$conf" layout assign -z dev -c 1G "$node" >/dev/null 2>&1 || true
    "$bin" -c "$conf" layout apply --version 1 >/dev/null 2>&1 || true
    "$bin" -c "$conf" key import --yes -n facefix-dev "$GARAGE_ACCESS_KEY" "$GARAGE_SECRET_KEY" >/dev/null 2>&1 || true
    "$bin" -c "$conf" key allow --create-bucket facefix-dev >/dev/null 2>&1 || true
    "$bin" -c "$conf" bucket create "$TEST_BUCKET" >/dev/null 2>&1 || true
    "$bin" -c "$conf" bucket allow --read --write --owner "$TEST_BUCKET" --key facefix-dev >/dev/null 2>&1 || true
    wait_for 60 "garage serves S3" s3_answers || die "garage does not serve S3 (log: $dir/s3.log)"
}

# Creates the test bucket with a SigV4-signed PUT (curl signs it; no S3 client needed).
s3_create_bucket() {
    local keys code
    keys=$(s3_keys)
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user "${keys% *}:${keys#* }" \
        "http://127.0.0.1:$S3_PORT/$TEST_BUCKET") || code=000
    case $code in
    200 | 409) log "bucket $TEST_BUCKET ready" ;;
    *) die "creating bucket $TEST_BUCKET answered HTTP $code" ;;
    esac
}

s3_stop() {
    local pidfile="$RUN_DIR/s3/s3.pid"
    pid_alive "$pidfile" || return 0
    log "stopping $(s3_kind)"
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    wait_for 30 "$(s3_kind) stopped" bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

# ---------------------------------------------------------------------------- faults

# The pid file of SERVICE (redis, rabbitmq, s3).
service_pidfile() {
    case $1 in
    redis) echo "$RUN_DIR/redis/redis.pid" ;;
    rabbitmq) echo "$RUN_DIR/rabbitmq/rabbitmq.pid" ;;
    s3) echo "$RUN_DIR/s3/s3.pid" ;;
    *) die "unknown service '$1' (redis, rabbitmq or s3)" ;;
    esac
}

# PID and every process below it (the Erlang VM's port helpers, for instance).
process_tree() {
    local child
    echo "$1"
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        process_tree "$child"
    done
}

# SIGKILL of a service this script started, and of its child processes. epmd, RabbitMQ's
# name server, is its own daemon and stays (a crashed node leaves it running too).
cmd_kill() {
    local service=$1 pidfile pid
    pidfile=$(service_pidfile "$service")
    pid_alive "$pidfile" || die "$service was not started by this script (no live pid in $pidfile)"
    pid=$(cat "$pidfile")
    log "kill -9 $service (pid $pid and its children)"
    # shellcheck disable=SC2046 # one pid a word
    kill -9 $(process_tree "$pid") 2>/dev/null || true
    wait_for 30 "$service is gone" bash -c "! kill -0 $pid" || die "$service (pid $pid) survived SIGKILL"
    rm -f "$pidfile"
}

cmd_restart() {
    local service=$1 down=${2:-0}
    service_pidfile "$service" >/dev/null
    case $service in
    redis) redis_stop ;;
    rabbitmq) rabbit_stop ;;
    s3) s3_stop ;;
    esac
    sleep "$down"
    cmd_start
}

cmd_queues() {
    rabbit_ctl -q list_queues name messages_ready messages_unacknowledged consumers |
        awk -F'\t' 'NF == 4 && $2 ~ /^[0-9]+$/'
}

# ---------------------------------------------------------------------------- commands

status_line() {
    local name=$1 port=$2 pidfile=$3
    if port_open "$port"; then
        if pid_alive "$pidfile"; then
            echo "$name: running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
        else
            echo "$name: running on 127.0.0.1:$port (not started by this script)"
        fi
    else
        echo "$name: stopped"
        return 1
    fi
}

cmd_status() {
    local rc=0
    status_line redis $REDIS_PORT "$RUN_DIR/redis/redis.pid" || rc=3
    status_line rabbitmq $AMQP_PORT "$RUN_DIR/rabbitmq/rabbitmq.pid" || rc=3
    status_line "s3 ($(s3_kind))" $S3_PORT "$RUN_DIR/s3/s3.pid" || rc=3
    return $rc
}

cmd_env() {
    local keys
    keys=$(s3_keys)
    cat <<EOF
export FACEFIX_TEST_SERVICES=1
export FACEFIX_TEST_AMQP_URL='amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f'
export FACEFIX_TEST_RABBITMQ_NODE='$RABBIT_NODE'
export FACEFIX_TEST_REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'
export FACEFIX_TEST_S3_ENDPOINT='http://127.0.0.1:$S3_PORT'
export FACEFIX_TEST_S3_BUCKET='$TEST_BUCKET'
export FACEFIX_TEST_S3_ACCESS_KEY='${keys% *}'
export FACEFIX_TEST_S3_SECRET_KEY='${keys#* }'
EOF
}

with_lock() {
    mkdir -p "$RUN_DIR"
    # Two concurrent starts (parallel CI steps) must not both launch a server.
    # Every daemon is started with fd 9 closed, or it would hold the lock for its lifetime.
    exec 9>"$RUN_DIR/.lock"
    flock -w 1800 9 || die "another dev-services.sh holds $RUN_DIR/.lock"
    "$@"
}

cmd_start() {
    redis_start
    rabbit_start
    s3_start
    cmd_status
}

cmd_stop() {
    s3_stop
    rabbit_stop
    redis_stop
}

case "${1:-}" in
start) with_lock cmd_start ;;
stop) with_lock cmd_stop ;;
status) cmd_status ;;
env) cmd_env ;;
kill) with_lock cmd_kill "${2:?usage: $0 kill redis|rabbitmq|s3}" ;;
restart) with_lock cmd_restart "${2:?usage: $0 restart redis|rabbitmq|s3 [SECONDS]}" "${3:-0}" ;;
queues) cmd_queues ;;
*)
    echo "usage: $0 start|stop|status|env|kill|restart|queues" >&2
    exit 2
    ;;
esac
