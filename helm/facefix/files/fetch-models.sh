#!/bin/sh
# Model init container of the facefix worker (rendered into a ConfigMap by the chart).
#
# MODELS_MODE=fetch: copy the image's default models into MODELS_DIR, then download every
#   model of models.list that is missing or whose sha256 differs.
# MODELS_MODE=pvc: the volume was filled elsewhere; only verify it.
# Either way every listed file must match its sha256, or the pod does not start: a
# truncated or substituted model must never reach the worker.
#
# models.list: one model per line, "SHA256 FILE URL".
set -eu

dir="${MODELS_DIR:?}"
list="$(dirname "$0")/models.list"
mode="${MODELS_MODE:-fetch}"
failed=0

matches() { # FILE SHA256
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

if [ "$mode" = fetch ] && [ -d "${BAKED_DIR:-}" ]; then
    # The defaults (detector, small restorer, manifest) are a few MB: refreshing them on
    # every start keeps them in step with the image after an upgrade. Changed files are
    # replaced through a rename, so a worker reading a shared volume never sees a file
    # half-written.
    (cd "$BAKED_DIR" && find . -type f) | while read -r rel; do
        src="$BAKED_DIR/$rel"
        dst="$dir/$rel"
        if ! cmp -s "$src" "$dst" 2>/dev/null; then
            mkdir -p "$(dirname "$dst")"
            cp "$src" "$dst.tmp.$(hostname)"
            mv -f "$dst.tmp.$(hostname)" "$dst"
        fi
    done
fi

# Next to each verified file, FILE.sha256 records its digest (sha256sum format): the
# manifest publishes none for upstream restorers, and the worker checks this pin instead.
pin() { # FILE SHA256
    printf '%s  %s\n' "$2" "$(basename "$1")" >"$1.sha256.tmp" && mv -f "$1.sha256.tmp" "$1.sha256"
}

while read -r sum file url; do
    case "$sum" in '' | '#'*) continue ;; esac
    case "$file" in /* | *..*)
        echo "error   $file: model files must be relative paths inside $dir" >&2
        failed=1
        continue
        ;;
    esac
    target="$dir/$file"
    if matches "$target" "$sum"; then
        echo "ok      $file (sha256 matches)"
        [ "$mode" != fetch ] || pin "$target" "$sum"
        continue
    fi
    if [ "$mode" != fetch ]; then
        echo "error   $file is missing from $dir or its sha256 is not $sum" >&2
        failed=1
        continue
    fi
    echo "fetch   $file from $url"
    mkdir -p "$(dirname "$target")"
    # A per-pod temporary name: workers sharing one RWX volume never write the same file.
    part="$target.part.$(hostname)"
    if ! curl -fsSL --retry 5 --retry-delay 5 --connect-timeout 20 -o "$part" "$url"; then
        echo "error   download of $file failed" >&2
        rm -f "$part"
        failed=1
        continue
    fi
    if matches "$part" "$sum"; then
        mv -f "$part" "$target" # atomic on one filesystem: readers never see a partial file
        pin "$target" "$sum"
        echo "ok      $file (downloaded, sha256 matches)"
    else
        echo "error   $file from $url has sha256 $(sha256sum "$part" | cut -d' ' -f1), expected $sum" >&2
        rm -f "$part"
        failed=1
    fi
done < "$list"

if [ "$failed" -ne 0 ]; then
    echo "models: at least one model is missing or corrupt; the worker will not start" >&2
    exit 1
fi
echo "models: all present in $dir"
