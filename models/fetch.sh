#!/usr/bin/env bash
# Downloads production restorers listed in models/manifest.toml into the models directory
# and checks them before they are used.
#
# Usage: models/fetch.sh NAME...        e.g. models/fetch.sh gfpgan-1.4 codeformer
#        models/fetch.sh --list         names, sizes of what is there, sources
#        models/fetch.sh --check        dry run, no network: every entry with a url is
#                                       well formed (https, .onnx, a safe file path, a
#                                       64-hex sha256 or none); CI runs it
#
# Models directory: FACEFIX_MODELS_DIR, else the folder of this script.
#
# Checks, in order:
#   1. upstream's CRC32 (facefusion publishes NAME.hash, 8 hex digits, next to each file);
#   2. sha256: the manifest's, when it has one; otherwise the pin FILE.sha256 written by
#      the first successful fetch (trust on first use: the worker checks the pin at every
#      start, so a file swapped later is refused). Commit a pin you trust into the
#      manifest's sha256 field to make it authoritative.
# A file that fails a check is deleted; the script exits non-zero.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
MANIFEST="${FACEFIX_MANIFEST:-$HERE/manifest.toml}" # another manifest: for the --check test
DIR="${FACEFIX_MODELS_DIR:-$HERE}"

say() { printf 'fetch: %s\n' "$*"; }
fail() { printf 'fetch: error: %s\n' "$*" >&2; }

# field NAME KEY: the value of KEY in NAME's [[model]] table ("" if absent).
field() {
    awk -v want="$1" -v key="$2" '
        /^\[\[model\]\]/ { name = "" }
        /^name *=/ { v = $0; sub(/^name *= *"/, "", v); sub(/".*$/, "", v); name = v }
        name == want && $0 ~ "^" key " *=" {
            v = $0; sub("^" key " *= *\"", "", v); sub(/".*$/, "", v); print v; exit
        }
    ' "$MANIFEST"
}

names() { awk '/^name *=/ { v = $0; sub(/^name *= *"/, "", v); sub(/".*$/, "", v); print v }' "$MANIFEST"; }

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

crc32_of() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import sys, zlib
c = 0
with open(sys.argv[1], "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        c = zlib.crc32(b, c)
print("%08x" % c)' "$1"
    else # gzip's trailer holds the CRC32 of its input, little-endian
        gzip -c "$1" | tail -c8 | head -c4 | od -An -tx1 | awk '{ print $4 $3 $2 $1 }'
    fi
}

if [[ $# -eq 0 || "$1" == -h || "$1" == --help ]]; then
    sed -n '2,19p' "$0"
    exit 0
fi
if [[ "$1" == --list ]]; then
    while read -r n; do
        f=$(field "$n" file)
        state="missing"
        [[ -f "$DIR/$f" ]] && state="present ($(du -h "$DIR/$f" | cut -f1))"
        printf '%-26s %-18s %s\n' "$n" "$state" "$(field "$n" url)$(field "$n" source)"
    done < <(names)
    exit 0
fi

if [[ "$1" == --check ]]; then
    status=0
    checked=0
    while read -r n; do
        url=$(field "$n" url)
        [[ -z "$url" ]] && continue
        checked=$((checked + 1))
        f=$(field "$n" file)
        sha=$(field "$n" sha256)
        problem=""
        [[ "$url" =~ ^https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}/[^[:space:]\"\'\`\$]+\.onnx$ ]] ||
            problem="url $url is not an https URL of an .onnx file"
        [[ "$f" =~ ^[A-Za-z0-9_][A-Za-z0-9_./-]*\.onnx$ && "$f" != *..* ]] ||
            problem="${problem:+$problem; }file $f is not a relative .onnx path inside the models directory"
        [[ -z "$sha" || "$sha" =~ ^[0-9a-f]{64}$ ]] ||
            problem="${problem:+$problem; }sha256 $sha is not 64 lowercase hex digits"
        if [[ -n "$problem" ]]; then
            fail "$n: $problem"
            status=1
        fi
    done < <(names)
    [[ $checked -gt 0 ]] || { fail "no entry with a url in $MANIFEST"; status=1; }
    [[ $status -eq 0 ]] && say "$checked download entries well formed"
    exit $status
fi

command -v curl >/dev/null || { fail "curl is needed"; exit 1; }
status=0
for name in "$@"; do
    file=$(field "$name" file)
    url=$(field "$name" url)
    want=$(field "$name" sha256)
    if [[ -z "$file" ]]; then
        fail "$name is not in $MANIFEST (known: $(names | tr '\n' ' '))"
        status=1
        continue
    fi
    if [[ -z "$url" ]]; then
        fail "$name has no download URL: it is built locally ($(field "$name" source)); run scripts/setup-models.sh"
        status=1
        continue
    fi
    target="$DIR/$file"
    pin="$target.sha256"
    [[ -z "$want" && -f "$pin" ]] && want=$(cut -c1-64 "$pin")
    if [[ -f "$target" && -n "$want" && "$(sha_of "$target")" == "$want" ]]; then
        say "$name: $file present, sha256 ok"
        continue
    fi
    mkdir -p "$(dirname "$target")"
    part="$target.part.$$"
    say "$name: downloading $url"
    if ! curl -fL --retry 3 --retry-delay 5 --connect-timeout 20 -o "$part" "$url"; then
        fail "$name: download failed"
        rm -f "$part"
        status=1
        continue
    fi
    crc_url="${url%.onnx}.hash"
    if crc=$(curl -fsSL --retry 3 --connect-timeout 20 "$crc_url" 2>/dev/null | tr -dc '0-9a-fA-F' | head -c8) && [[ ${#crc} -eq 8 ]]; then
        got=$(crc32_of "$part")
        if [[ "${got,,}" != "${crc,,}" ]]; then
            fail "$name: CRC32 $got does not match upstream's $crc ($crc_url)"
            rm -f "$part"
            status=1
            continue
        fi
        say "$name: CRC32 $got matches upstream"
    else
        say "$name: no upstream CRC32 at $crc_url (skipped)"
    fi
    got=$(sha_of "$part")
    if [[ -n "$want" && "$got" != "$want" ]]; then
        fail "$name: sha256 $got, expected $want"
        rm -f "$part"
        status=1
        continue
    fi
    mv -f "$part" "$target"
    if [[ -z "$want" ]]; then
        printf '%s  %s\n' "$got" "$(basename "$file")" >"$pin"
        say "$name: sha256 $got pinned in ${pin#"$DIR"/} (first fetch; the worker checks it from now on)"
    fi
    say "$name: $file ready"
done
exit $status
