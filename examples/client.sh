#!/usr/bin/env bash
# Restores the faces of one photo on a facefix server with curl: upload, wait, download.
# Usage: examples/client.sh BASE_URL PHOTO OUTPUT [UPSCALE]
#   e.g. examples/client.sh http://127.0.0.1:8080 me.jpg out.jpg
set -euo pipefail
base=$1 photo=$2 output=$3 upscale=${4:-2}

# Upload: 202, and Location names the job (-f: an error answer, 4xx or 5xx, stops here).
job=$(curl -fsS -o /dev/null -w '%header{location}' -F "image=@$photo" -F "upscale=$upscale" "$base/v1/jobs")
# Wait: the event stream (-N, unbuffered) ends after the job's final state; keep its name.
state=$(curl -fsSN "$base$job/events" | awk '$1 == "event:" && $2 != "stage" { s = $2 } END { print s }')
if [[ $state != succeeded ]]; then
  echo "job $job ended $state: $(curl -fsS "$base$job")" >&2
  exit 1
fi
# Download.
curl -fsS -o "$output" "$base$job/result"
echo "$output"
