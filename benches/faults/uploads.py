"""The bounded upload stream and the answers it got.

Uploads are spread evenly over the duration and sent by a few concurrent uploaders, each
to the API processes in turn. An answer is 202 (accepted), a documented refusal (503 or
429, each with Retry-After), or a violation. A connection error (the API process is down or
went down mid-request) counts as "refused (connect)" and the upload is retried on the next
API process, as a client behind a load balancer would."""

from __future__ import annotations

import collections
import contextlib
import itertools
import threading
import time
from dataclasses import dataclass, field

import requests

from .timefmt import parse_time

# How long one upload keeps retrying connection errors before it gives up.
CONNECT_RETRY_FOR = 30.0
# Long enough for the API's own bounds (a publish waits 10 s for the broker's confirm).
REQUEST_TIMEOUT = (3.0, 40.0)


@dataclass(frozen=True)
class Upload:
    index: int
    kind: str  # "small", "slow" or "poison"
    body: bytes
    content_type: str
    query: str


@dataclass
class Accepted:
    id: str
    kind: str
    accepted_at: float
    expires_at: float


@dataclass
class Answers:
    accepted: dict[str, Accepted] = field(default_factory=dict)
    refused: collections.Counter = field(default_factory=collections.Counter)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Uploads being sent now, per API base URL (the API SIGTERM fault waits for one).
    in_flight: collections.Counter = field(default_factory=collections.Counter)

    @contextlib.contextmanager
    def sending(self, api: str):
        with self.lock:
            self.in_flight[api] += 1
        try:
            yield
        finally:
            with self.lock:
                self.in_flight[api] -= 1

    def accept(self, job: Accepted) -> None:
        with self.lock:
            self.accepted[job.id] = job

    def refuse(self, reason: str) -> None:
        with self.lock:
            self.refused[reason] += 1

    def violate(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)


class UploadStream:
    def __init__(self, apis: list[str], plan: list[Upload], duration: float, concurrency: int,
                 answers: Answers, stop: threading.Event):
        self.apis = apis
        self.plan = plan
        self.duration = duration
        self.concurrency = concurrency
        self.answers = answers
        self.stop = stop
        self.next_index = itertools.count()
        self.started = 0.0

    def run(self) -> None:
        """Sends the whole plan (or what the stop event leaves of it); returns when done."""
        self.started = time.monotonic()
        threads = [threading.Thread(target=self._uploader, name=f"uploader{i}", daemon=True)
                   for i in range(self.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _uploader(self) -> None:
        session = requests.Session()
        step = self.duration / max(1, len(self.plan))
        while not self.stop.is_set():
            i = next(self.next_index)
            if i >= len(self.plan):
                return
            delay = self.started + i * step - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                return
            self._send(session, self.plan[i])

    def _send(self, session: requests.Session, upload: Upload) -> None:
        give_up_at = time.monotonic() + CONNECT_RETRY_FOR
        for attempt in itertools.count():
            api = self.apis[(upload.index + attempt) % len(self.apis)]
            try:
                with self.answers.sending(api):
                    response = session.post(
                        f"{api}/v1/jobs{upload.query}", data=upload.body,
                        headers={"content-type": upload.content_type}, timeout=REQUEST_TIMEOUT)
            except requests.ConnectionError:
                self.answers.refuse("connect")
                session.close()  # drop pooled connections to a process that went away
                if time.monotonic() > give_up_at or self.stop.is_set():
                    self.answers.violate(
                        f"upload {upload.index}: no API process answered for {CONNECT_RETRY_FOR:.0f} s")
                    return
                time.sleep(0.2)
                continue
            except requests.RequestException as error:
                self.answers.violate(f"upload {upload.index}: {type(error).__name__}: {error}")
                return
            self._classify(upload, response)
            return

    def _classify(self, upload: Upload, response: requests.Response) -> None:
        status = response.status_code
        if status == 202:
            try:
                body = response.json()
                job = Accepted(body["id"], upload.kind, time.time(), parse_time(body["expires_at"]))
            except (ValueError, KeyError) as error:
                self.answers.violate(f"upload {upload.index}: 202 without a job ({error}): {response.text[:200]}")
                return
            self.answers.accept(job)
            return
        code = error_code(response)
        if status in (503, 429) and response.headers.get("retry-after"):
            self.answers.refuse(f"{status} {code}")
            return
        self.answers.violate(f"upload {upload.index}: HTTP {status} {code}"
                             f" (retry-after: {response.headers.get('retry-after')!r})")


def error_code(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "no-error-body"
