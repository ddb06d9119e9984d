"""The checks of one scenario, and its row of the table."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from .services import QueueDepth
from .watch import JobTrack, job_object

# A result written this long after the job was recorded succeeded came from a second
# attempt (clock of one machine; MinIO keeps milliseconds).
DUPLICATE_SLACK = 0.001
# How many job ids a row lists per finding in its details.
DETAIL_IDS = 10


@dataclass
class Ending:
    """What the end of a run found: jobs still open near their expiry, the queue then,
    what remained after the purge grace, and what the clean-up removed."""

    open_jobs: list[JobTrack] = field(default_factory=list)
    queue: QueueDepth | None = None
    remaining: tuple[list[str], list[str]] = ([], [])
    cleaned: str = ""


@dataclass
class Row:
    scenario: str
    fault: str
    seconds: float
    accepted: int
    refused: dict[str, int]
    succeeded: int
    failed: dict[str, int]
    deleted: int
    lost: list[str]
    # Finished (their result is in the bucket) but their record was lost with the store
    # before the observer read the final state.
    finished_unseen: list[str]
    stranded: list[str]
    duplicated: list[str]
    leftover: list[str]
    max_purge_lag: float | None
    result_missing: list[str]
    violations: list[str]
    timeline: list[str]
    details: list[str]
    cleaned: str

    @property
    def ok(self) -> bool:
        return not (self.lost or self.stranded or self.leftover or self.result_missing or self.violations)


def _stranded(open_jobs: list[JobTrack], queue: QueueDepth | None) -> list[str]:
    """Open jobs beyond the messages the queue still holds (ready or unacknowledged): no
    delivery can ever finish them. Queued ones are named first, a processing one may
    still hold its message."""
    if queue is None:
        return []
    spare = len(open_jobs) - queue.messages
    if spare <= 0:
        return []
    ordered = sorted(open_jobs, key=lambda j: (j.state != "queued", j.accepted_at))
    return [j.id for j in ordered[:spare]]


def _leftover(remaining: tuple[list[str], list[str]], run_id: str, store_prefix: str) -> list[str]:
    objects, keys = remaining
    left = set()
    for key in objects:
        name = key[len(run_id) + 1:]
        left.add(job_object(name[len("jobs/"):])[0] if name.startswith("jobs/") else key)
    for key in keys:
        name = key[len(store_prefix):]
        left.add(name[len("job:"):] if name.startswith("job:") else f"redis:{name}")
    return sorted(left)


def _describe(run, job: JobTrack) -> str:
    objects = run.watch.objects.get(job.id)
    rel = lambda t: f"{t - run.t0_wall:.1f} s" if t else "-"  # noqa: E731
    record = job.record or {}
    return (f"{job.id} ({job.kind}): states {'→'.join(job.states_seen) or 'never read'}, "
            f"attempts {record.get('attempts', '-')}, worker {record.get('worker_id') or '-'}, "
            f"accepted {rel(job.accepted_at)}, record gone {rel(job.gone_at)}, expires {rel(job.expires_at)}, "
            f"objects last seen {rel(objects.last_seen) if objects else 'never'}")


def _tested(jobs: list[JobTrack]) -> list[str]:
    """A run that accepted nothing checked nothing (a full disk answers every upload 503):
    it must not pass as a clean row."""
    return [] if jobs else ["no upload was accepted, so nothing was tested"]


def judge(run, ending: Ending) -> Row:
    watch = run.watch
    watch.track_accepted()
    jobs = list(watch.jobs.values())
    failed = collections.Counter(j.final_code or "?" for j in jobs if j.final == "failed")
    unresolved = [j for j in jobs if j.final is None and j.deleted_at is None]
    # A job can finish between two reads of its record and then lose the record with Redis
    # (a restart without persistence, a flush): the documented cost of losing Redis is
    # the finished job's record, and polling it answers 404. Its result object in the
    # bucket is the evidence that it finished: a result stays only when its attempt
    # succeeded (an attempt that loses the job deletes its own result).
    finished_unseen = [j for j in unresolved if watch.objects.get(j.id) and watch.objects[j.id].result_writes]
    lost = [j for j in unresolved if j not in finished_unseen]
    stranded = _stranded(ending.open_jobs, ending.queue)
    duplicated = [
        j.id for j in jobs
        if j.final == "succeeded" and j.id in watch.objects
        and any(w > j.finished_at + DUPLICATE_SLACK for w in watch.objects[j.id].result_writes)]
    lags = [watch.objects[j.id].gone_at - j.expires_at for j in jobs
            if j.deleted_at is None and j.id in watch.objects and watch.objects[j.id].gone_at]
    leftover = _leftover(ending.remaining, run.id, run.store_prefix)
    missing = [j.id for j in jobs if j.result_missing]

    details = []
    for title, ids in (("lost", [j.id for j in lost]), ("stranded", stranded), ("duplicated", duplicated),
                       ("finished, record lost with the store", [j.id for j in finished_unseen]),
                       ("result missing before expiry", missing)):
        for job_id in ids[:DETAIL_IDS]:
            details.append(f"{title}: {_describe(run, watch.jobs[job_id])}")
    if ending.open_jobs:
        details.append(f"{len(ending.open_jobs)} open near expiry; queue {run.id}.jobs: {ending.queue}")
    if leftover:
        objects, keys = ending.remaining
        details.append(f"left after expiry + grace: {len(objects)} objects, Redis keys {keys[:DETAIL_IDS]}, "
                       f"jobs {leftover[:DETAIL_IDS]}")
    if watch.errors["redis"] or watch.errors["bucket"]:
        details.append(f"samples skipped (service down or slow): {watch.errors}")

    return Row(
        scenario=run.scenario.name,
        fault=run.scenario.summary,
        seconds=round(run.elapsed(), 1),
        accepted=len(jobs),
        refused=dict(sorted(run.answers.refused.items())),
        succeeded=sum(1 for j in jobs if j.final == "succeeded"),
        finished_unseen=[j.id for j in finished_unseen],
        failed=dict(sorted(failed.items())),
        deleted=sum(1 for j in jobs if j.deleted_at is not None),
        lost=[j.id for j in lost],
        stranded=stranded,
        duplicated=duplicated,
        leftover=leftover,
        max_purge_lag=round(max(lags), 1) if lags else None,
        result_missing=missing,
        violations=run.answers.violations + run.violations + run.scenario.expectation(run) + _tested(jobs),
        timeline=run.timeline,
        details=details,
        cleaned=ending.cleaned,
    )
