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
#
# Each output has its input's format (a JPEG in, a JPEG out, as the service answers).
# The Rust side runs as deployed (its default --detect-max-side; FACEFIX_DETECT_MAX_SIDE
# overrides it), the reference at full resolution, and each image's line checks the
# issue's quality bar against the reference: same number of faces, landmarks within 2 px,
# restored output >= 40 dB PSNR. The last table compares the end-to-end ratio with the
# 5x target.
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
echo "restorer: ${RESTORER#"$ROOT"/}, detector: $DETECTOR, rust --detect-max-side: ${FACEFIX_DETECT_MAX_SIDE:-default}"
echo
: > "$WORK/summary.tsv"

for img in "${IMAGES[@]}"; do
    name=$(basename "$img")
    ext=png
    case "${name,,}" in *.jpg | *.jpeg) ext=jpg ;; esac
    "$PY" "$REF" "$img" "$WORK/ref.$ext" --detector "$DETECTOR" --detector-dir "$DETECTOR_MODEL" \
        --restorer "$RESTORER" \
        --upscale "$UPSCALE" --threads "$THREADS" --bench "$RUNS" --json "$WORK/ref.json" >/dev/null
    "$BIN" restore "$img" "$WORK/rs.$ext" --restorer "$RESTORER" --models-dir "$ROOT/models" \
        --device cpu --intra-threads "$THREADS" --detector "$DETECTOR" --upscale "$UPSCALE" --bench "$RUNS" \
        --json "$WORK/rs.json" >/dev/null
    "$PY" - "$name" "$WORK/ref.json" "$WORK/rs.json" "$WORK/ref.$ext" "$WORK/rs.$ext" \
        "$WORK/summary.tsv" <<'PYEOF'
import json, math, sys
import cv2
import numpy as np
name, ref_path, rs_path, ref_img, rs_img, summary = sys.argv[1:7]
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
# The quality bar: same faces, landmarks within 2 px, output >= 40 dB.
ref_faces, rs_faces = ref.get("faces", []), rs.get("faces", [])
lm = 0.0
for f in ref_faces:
    best = min((max(math.dist(p, q) for p, q in zip(f["landmarks"], g["landmarks"]))
                for g in rs_faces), default=float("inf"))
    lm = max(lm, best)
a = cv2.imread(ref_img, cv2.IMREAD_COLOR).astype(np.float64)
b = cv2.imread(rs_img, cv2.IMREAD_COLOR).astype(np.float64)
mse = float(np.mean((a - b) ** 2)) if a.shape == b.shape else float("nan")
psnr = float("inf") if mse == 0 else 10 * math.log10(255 ** 2 / mse)
same = len(ref_faces) == len(rs_faces)
ok = same and lm <= 2.0 and psnr >= 40.0
print("  faces %d vs %d, landmarks max %.2f px, PSNR %s dB: %s" % (
    len(ref_faces), len(rs_faces), lm, "inf" if math.isinf(psnr) else "%.1f" % psnr,
    "quality bar met" if ok else "QUALITY BAR NOT MET"))
print()
with open(summary, "a") as out:
    out.write("%s\t%.1f\t%.1f\t%.2f\t%s\n" % (name, r["total"], s["total"], r["total"] / s["total"],
                                            "yes" if ok else "no"))
PYEOF
done
"$PY" - "$WORK/summary.tsv" <<'PYEOF'
import sys
print("| image | python ms | rust ms | speed-up | >= 5x | quality bar |")
print("|---|---:|---:|---:|---|---|")
for line in open(sys.argv[1]):
    name, r, s, ratio, ok = line.rstrip("\n").split("\t")
    print("| %s | %s | %s | %sx | %s | %s |" % (name, r, s, ratio,
          "met" if float(ratio) >= 5 else "not met", "met" if ok == "yes" else "NOT MET"))
PYEOF
