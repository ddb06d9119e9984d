#!/usr/bin/env python3
"""Restores the faces of one photo on a facefix server: upload, wait, download.

Usage: client.py BASE_URL PHOTO OUTPUT [UPSCALE]    e.g. client.py http://127.0.0.1:8080 me.jpg out.jpg
Needs `requests` (examples/requirements.txt). Waits on the job's Server-Sent Events.
"""
import json
import sys

import requests

FINAL = {"succeeded", "failed", "deleted", "expired"}

base, photo, output = sys.argv[1:4]
upscale = sys.argv[4] if len(sys.argv) > 4 else "2"

# Upload: 202 and the job. An error answer is {"error": {"code", "message"}}; on 429 and
# 503 wait for its Retry-After and send again.
with open(photo, "rb") as image:
    answer = requests.post(f"{base}/v1/jobs", files={"image": image}, data={"upscale": upscale}, timeout=120)
if answer.status_code != 202:
    sys.exit(f"upload refused ({answer.status_code}): {answer.text}")
job = answer.json()

# Wait: one event per state change (named after the state, the job as data); the stream
# ends after a final state.
state = None
with requests.get(base + job["links"]["events"], stream=True, timeout=(10, 60)) as events:
    events.raise_for_status()
    for line in events.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            state = line[len("event: "):]
        elif line.startswith("data: ") and state in FINAL:
            job = json.loads(line[len("data: "):])
            break
if state != "succeeded":
    sys.exit(f"job {job['id']} {state}: {job.get('error')}")

# Download.
result = requests.get(base + job["links"]["result"], timeout=120)
result.raise_for_status()
with open(output, "wb") as out:
    out.write(result.content)
print(f"{output}: {job['output']['width']}x{job['output']['height']}, {job.get('faces_restored', 0)} faces restored")
