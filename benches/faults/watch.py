"""What happened to each job, sampled directly from Redis and from the bucket listing while
a scenario runs.

Redis (every 0.2 s): the record of every accepted job that has not been seen final yet —
its state, attempt and worker — and when it disappeared. The bucket (every 0.5 s): which
objects each job has, when its last one disappeared, every write time of its result, and
whether the result of a succeeded job was missing before the job's expiry."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from .services import Services
from .timefmt import parse_time
from .uploads import Answers

FINAL_STATES = ("succeeded", "failed")
REDIS_PERIOD = 0.2
BUCKET_PERIOD = 0.5


@dataclass
class JobTrack:
    """One accepted job, as the records showed it."""

    id: str
    kind: str
    accepted_at: float
    expires_at: float
    state: str | None = None
    record: dict | None = None
    final: str | None = None
    final_code: str | None = None
    finished_at: float | None = None
    gone_at: float | None = None
    deleted_at: float | None = None  # when the suite sent DELETE
    states_seen: list[str] = field(default_factory=list)
    # Listings (start times) that lacked the result of this succeeded job before its expiry.
    result_missing: list[float] = field(default_factory=list)


def job_object(name: str) -> tuple[str, str]:
    """(job id, object kind) of an object name below `jobs/`: `{shard}/{expiry}/{id}/{kind}`,
    or `{id}/{kind}` as versions before the expiry-named layout wrote it. Kinds are `input`,
    `result-{attempt}` and (older) `result`."""
    parts = name.split("/")
    if len(parts) == 4:
        return parts[2], parts[3]
    job_id, _, kind = name.partition("/")
    return job_id, kind


@dataclass
class ObjectTrack:
    """The objects of one job id in the bucket (accepted by us or not)."""

    last_seen: float = 0.0
    gone_at: float | None = None
    reappeared: int = 0
    result_writes: set[float] = field(default_factory=set)


class Watch:
    def __init__(self, services: Services, store_prefix: str, blob_prefix: str, answers: Answers):
        self.services = services
        self.store_prefix = store_prefix
        self.objects_prefix = f"{blob_prefix}/jobs/"
        self.answers = answers
        self.lock = threading.Lock()
        self.jobs: dict[str, JobTrack] = {}
        self.objects: dict[str, ObjectTrack] = {}
        self.errors = {"redis": 0, "bucket": 0}
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._loop, args=(self.scan_records, REDIS_PERIOD, "redis"), daemon=True),
            threading.Thread(target=self._loop, args=(self.scan_bucket, BUCKET_PERIOD, "bucket"), daemon=True),
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)

    def _loop(self, scan, period: float, name: str) -> None:
        while not self.stop.is_set():
            try:
                scan()
            except Exception:  # a service down (the fault) or slow: skip this sample
                with self.lock:
                    self.errors[name] += 1
            self.stop.wait(period)

    # ------------------------------------------------------------------ records

    def job_key(self, job_id: str) -> str:
        return f"{self.store_prefix}job:{job_id}"

    def track_accepted(self) -> None:
        with self.answers.lock:
            accepted = list(self.answers.accepted.values())
        with self.lock:
            for a in accepted:
                if a.id not in self.jobs:
                    self.jobs[a.id] = JobTrack(a.id, a.kind, a.accepted_at, a.expires_at)

    def scan_records(self) -> None:
        self.track_accepted()
        with self.lock:
            open_ids = [j.id for j in self.jobs.values() if j.final is None and j.gone_at is None]
        if not open_ids:
            return
        pipe = self.services.redis.pipeline(transaction=False)
        for job_id in open_ids:
            pipe.hget(self.job_key(job_id), "record")
        raw_records = pipe.execute()
        now = time.time()
        with self.lock:
            for job_id, raw in zip(open_ids, raw_records, strict=True):
                self._update(self.jobs[job_id], raw, now)

    def _update(self, job: JobTrack, raw: str | None, now: float) -> None:
        if raw is None:
            # The record is written before the 202, so a missing one is a removed one.
            job.gone_at = now
            return
        record = json.loads(raw)
        job.record = record
        job.state = record["state"]
        if not job.states_seen or job.states_seen[-1] != job.state:
            job.states_seen.append(job.state)
        if job.state in FINAL_STATES:
            job.final = job.state
            job.final_code = (record.get("error") or {}).get("code")
            job.finished_at = parse_time(record["finished_at"]) if record.get("finished_at") else now

    def processing(self) -> list[JobTrack]:
        """Jobs whose record said `processing` at the last scan."""
        with self.lock:
            return [j for j in self.jobs.values()
                    if j.state == "processing" and j.final is None and j.gone_at is None]

    def job(self, job_id: str) -> JobTrack | None:
        with self.lock:
            return self.jobs.get(job_id)

    def mark_deleted(self, job_id: str, at: float) -> None:
        with self.lock:
            self.jobs[job_id].deleted_at = at

    def open_jobs(self) -> list[JobTrack]:
        """Accepted jobs neither seen final nor gone nor deleted."""
        self.track_accepted()
        with self.lock:
            return [j for j in self.jobs.values()
                    if j.final is None and j.gone_at is None and j.deleted_at is None]

    # ------------------------------------------------------------------ bucket

    def scan_bucket(self) -> None:
        listing = self.services.list_objects(self.objects_prefix)
        present: dict[str, dict[str, float]] = {}
        for key, modified in listing.objects.items():
            job_id, kind = job_object(key[len(self.objects_prefix):])
            present.setdefault(job_id, {})[kind] = modified
        with self.lock:
            for job_id, kinds in present.items():
                track = self.objects.setdefault(job_id, ObjectTrack())
                if track.gone_at is not None:
                    track.reappeared += 1
                    track.gone_at = None
                track.last_seen = listing.started
                track.result_writes.update(m for kind, m in kinds.items() if kind.startswith("result"))
            for job_id, track in self.objects.items():
                if job_id not in present and track.gone_at is None:
                    track.gone_at = listing.started
            for job in self.jobs.values():
                must_have_result = (
                    job.final == "succeeded" and job.finished_at is not None
                    and listing.started > job.finished_at and listing.ended < job.expires_at
                    and (job.deleted_at is None or job.deleted_at > listing.ended))
                has_result = any(kind.startswith("result") for kind in present.get(job.id, {}))
                if must_have_result and not has_result:
                    job.result_missing.append(listing.started)
