#!/usr/bin/env bash
# Side-by-side benchmark: the Rust pipeline (`facefix restore --bench N`) against the
# Python reference (`facefix_ref.py --bench N`) on the same images, models, upscale and
# thread count, in one run; prints the median per stage and the speed-up ratios.
#
# Usage: benches/compare_reference.sh [-n RUNS] [-t THREADS] [-u UPSCALE] [-r RESTORER.onnx]
#                                     [-d mtcnn|retinaface] [IMAGE...]
#   defaults: 5 runs after 1 warm-up, threads = cores, upscale 2, detector mtcnn (-d is
#   passed to both sides as --detector), the default restorer
#   (models/facefix_usm_512.onnx), images astronaut.png, collage_4faces.png,
#   large_7680x4320.jpg from testdata/images (scripts/setup-testdata.sh makes the last).
#   FACEFIX_BIN: the facefix binary (default: build target/release/facefix).
#
# "non-inference" = total - restore stage, for both sides (the restore stage includes
# the restorer's tensor pre/post-processing on both sides, so this slightly favours the
# reference). Needs scripts/setup-models.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

RUNS=5
THREADS=$(nproc)
UPSCALE=2
RESTORER="$ROOT/models/facefix_usm_512.onnx"
DETECTOR=mtcnn
while getopts "n:t:u:r:d:h" opt; do
    case "$opt" in
        n) RUNS=$OPTARG ;;
        t) THREADS=$OPTARG ;;
        u) UPSCALE=$OPTARG ;;
        r) RESTORER=$(realpath "$OPTARG") ;;
        d) DETECTOR=$OPTARG ;;
        *) sed -n '2,18p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
case "$DETECTOR" in
    mtcnn) DETECTOR_MODEL="$ROOT/models/mtcnn" ;;
    retinaface) DETECTOR_MODEL="$ROOT/models/retinaface/retinaface_mnet025.onnx" ;;
    *) echo "compare_reference: -d must be mtcnn or retinaface" >&2; exit 2 ;;
esac
TESTDATA="$ROOT/testdata/images"
if [[ $# -gt 0 ]]; then
    IMAGES=("$@")
else
    IMAGES=("$TESTDATA/astronaut.png" "$TESTDATA/collage_4faces.png" "$TESTDATA/large_7680x4320.jpg")
fi
PY="$ROOT/.venv/bin/python"
REF="$ROOT/tools/reference/facefix_ref.py"
for f in "$PY" "$REF" "$RESTORER" "$DETECTOR_MODEL"; do
    [[ -e "$f" ]] || { echo "compare_reference: missing $f (run scripts/setup-models.sh)" >&2; exit 1; }
done
# The default images include the generated 33 MP photo.
[[ $# -gt 0 ]] || bash scripts/setup-testdata.sh

BIN="${FACEFIX_BIN:-}"
if [[ -z "$BIN" ]]; then
    echo "compare_reference: building target/release/facefix" >&2
    cargo build --release --quiet --bin facefix
    BIN="$ROOT/target/release/facefix"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/facefix-compare.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
echo "machine: $(nproc) cores ($cpu), threads $THREADS, upscale $UPSCALE, $RUNS runs after 1 warm-up"
echo "restorer: ${RESTORER#"$ROOT"/}, detector: $DETECTOR"
echo

for img in "${IMAGES[@]}"; do
    name=$(basename "$img")
    "$PY" "$REF" "$img" "$WORK/ref.png" --detector "$DETECTOR" --detector-dir "$DETECTOR_MODEL" \
        --restorer "$RESTORER" \
        --upscale "$UPSCALE" --threads "$THREADS" --bench "$RUNS" --json "$WORK/ref.json" >/dev/null
    "$BIN" restore "$img" "$WORK/rs.png" --restorer "$RESTORER" --models-dir "$ROOT/models" \
        --device cpu --intra-threads "$THREADS" --detector "$DETECTOR" --upscale "$UPSCALE" --bench "$RUNS" \
        --json "$WORK/rs.json" >/dev/null
    "$PY" - "$name" "$WORK/ref.json" "$WORK/rs.json" <<'PYEOF'
import json, sys
name, ref_path, rs_path = sys.argv[1:4]
ref = json.load(open(ref_path))
rs = json.load(open(rs_path))
r = {k: v["median"] for k, v in ref["bench"]["stages_ms"].items()}
s = {k: v["median"] for k, v in rs["bench"]["stages_ms"].items()}
w, h = ref["image_size"]
print("%s  %dx%d, %d face(s)" % (name, w, h, rs["num_faces"]))
print("  %-14s %12s %12s %9s" % ("stage", "python ms", "rust ms", "speed-up"))
rows = ["decode", "detect", "align", "restore", "paste", "encode", "total"]
for k in rows:
    ratio = r[k] / s[k] if s[k] > 0 else float("inf")
    print("  %-14s %12.2f %12.2f %8.1fx" % (k, r[k], s[k], ratio))
ni_r = r["total"] - r["restore"]
ni_s = s["total"] - s["restore"]
print("  %-14s %12.2f %12.2f %8.1fx" % ("non-inference", ni_r, ni_s, ni_r / ni_s if ni_s > 0 else float("inf")))
print()
PYEOF
done
