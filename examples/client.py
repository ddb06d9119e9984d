"""Restores the faces of one photo on a facefix server: upload, wait, download.
Usage: python3 client.py BASE_URL PHOTO OUTPUT [UPSCALE]    (needs `requests`)"""
import json
import sys

import requests

base, photo, output = sys.argv[1:4]
upscale = sys.argv[4] if len(sys.argv) > 4 else "2"

# Upload: 202 and the job. Errors are {"error": {"code", "message"}}; 429 and 503 carry
# Retry-After: wait that long and send again.
with open(photo, "rb") as image:
    answer = requests.post(f"{base}/v1/jobs", files={"image": image}, data={"upscale": upscale}, timeout=120)
if answer.status_code != 202:
    sys.exit(f"upload refused ({answer.status_code}): {answer.text}")
job = answer.json()

# Wait: Server-Sent Events named after each new state, the job as data; the stream ends
# after a final state (succeeded, failed, deleted, expired).
with requests.get(base + job["links"]["events"], stream=True, timeout=(10, 60)) as events:
    events.raise_for_status()
    for line in events.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            state = line.removeprefix("event: ")
        elif line.startswith("data: ") and state != "stage":
            job = json.loads(line.removeprefix("data: "))
if job["state"] != "succeeded":
    sys.exit(f"job {job['id']} {job['state']}: {job.get('error')}")

# Download.
result = requests.get(base + job["links"]["result"], timeout=120)
result.raise_for_status()
with open(output, "wb") as out:
    out.write(result.content)
print(f"{output}: {job['output']['width']}x{job['output']['height']}")
