#!/usr/bin/env bash
# Makes the test files that are generated instead of committed (testdata/generate.py:
# the 33 MP photo and the three PNG decompression bombs) and checks them against the
# sha256 pins in testdata/generated.sha256. Idempotent: when every file is there with its
# pinned hash it returns at once; a file that is missing or differs is made again, and a
# regenerated file that still differs fails the run with the reason.
#
# Needs the project venv (numpy, opencv-python-headless): run scripts/setup-models.sh
# first. FACEFIX_PYTHON: the Python to use instead of .venv/bin/python.
#
# Usage: scripts/setup-testdata.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PINS=generated.sha256
PY="${FACEFIX_PYTHON:-$PWD/.venv/bin/python}"

say() { printf 'setup-testdata: %s\n' "$*"; }
die() { printf 'setup-testdata: error: %s\n' "$*" >&2; exit 1; }

# The names in the pin file whose file is missing or has another hash.
stale() {
    (cd testdata && sha256sum --check --quiet "$PINS" 2>/dev/null || true) |
        sed -n 's/^\(.*\): FAILED.*$/\1/p'
}

[[ -f "testdata/$PINS" ]] || die "testdata/$PINS is missing (is this a facefix checkout?)"
mapfile -t todo < <(stale)
if [[ ${#todo[@]} -eq 0 ]]; then
    exit 0
fi

[[ -x "$PY" ]] || die "$PY not found: run scripts/setup-models.sh first (it makes the venv)"
# Two entry points (tests and browser tests) may start at once: one generates, the other
# waits and then finds the files in place.
exec 9>"testdata/.generate.lock"
flock 9
mapfile -t todo < <(stale)
if [[ ${#todo[@]} -eq 0 ]]; then
    exit 0
fi

say "making ${todo[*]}"
only=()
for name in "${todo[@]}"; do only+=(--only "$name"); done
"$PY" testdata/generate.py "${only[@]}" ||
    die "generated test data differs from testdata/$PINS (see above)"
left=$(stale)
[[ -z "$left" ]] || die "still not matching the pins after generating: $left"
say "ready"
