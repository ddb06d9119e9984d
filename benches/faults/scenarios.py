"""The scenarios: one fault each, injected while the upload stream flows.

A fault that waits for a moment (a worker busy with a job, a purge in flight) and never
sees it reports a violation: the scenario did not test what it names."""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable

import requests

from .services import dev_services


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    quick: bool
    fault: Callable | None = None
    expect: Callable | None = None
    delivery_limit: int = 3
    drain_timeout: str = "25s"
    # Every n-th upload is the 33 MP photo (seconds of work), so that faults find workers busy.
    slow_every: int = 0
    poison: bool = False
    # Stops or kills a dev service: `start` it again at the end, whatever happened.
    touches_services: bool = False
    # Retention at least this long (s): jobs accepted before an outage must not expire
    # while the service comes back, or the short retention, not the fault, would lose them.
    min_retention: float = 0.0

    def restore(self, run) -> None:
        if self.touches_services:
            dev_services("start")

    def expectation(self, run) -> list[str]:
        return self.expect(run) if self.expect else []


# ---------------------------------------------------------------------- helpers


def read_record(run, job_id: str) -> dict | None:
    """The job's record straight from Redis (faster than the observer's period)."""
    raw = run.services.redis.hget(run.watch.job_key(job_id), "record")
    return json.loads(raw) if raw else None


def busy_worker(run, kind: str | None = None):
    """(job, role) of a live worker the records show processing a job (of `kind`), or None."""
    for job in run.watch.processing():
        if kind and job.kind != kind:
            continue
        role = run.stack.role_of_worker_id((job.record or {}).get("worker_id"))
        if role and role.alive():
            return job, role
    return None


def restart_soon(run, role, delay: float = 0.5) -> None:
    """Restarts `role` on a thread of its own, so the fault keeps watching meanwhile."""
    def go():
        time.sleep(delay)
        if not run.stop.is_set():
            run.stack.restart(role)
            if role.alive():
                run.note(f"{role.name} restarted (pid {role.pid})")
    threading.Thread(target=go, daemon=True).start()


# ---------------------------------------------------------------------- faults


def kill_workers(run) -> None:
    rounds = (0.25, 0.5, 0.75) if run.options.quick else (0.2, 0.4, 0.6, 0.8)
    workers = run.stack.of_kind("worker")
    for i, fraction in enumerate(rounds):
        if not run.at(fraction):
            return
        busy = run.wait_for(lambda: busy_worker(run), within=2)
        job, role = busy if busy else (None, workers[i % len(workers)])
        pid = role.pid
        run.stack.kill(role)
        run.note(f"kill -9 {role.name} (pid {pid})" + (f" while it processed {job.id}" if job else " (idle)"))
        time.sleep(0.5)
        run.stack.restart(role)
        run.note(f"{role.name} restarted (pid {role.pid})")


def sigterm_busy_workers(run) -> None:
    for fraction in (0.3, 0.65):
        if not run.at(fraction):
            return
        busy = run.wait_for(lambda: busy_worker(run, "slow"), within=run.options.duration * 0.3)
        if not busy:
            run.violate("no worker was seen processing a slow job to SIGTERM")
            continue
        job, role = busy
        status = run.stack.terminate(role, within=20)
        run.note(f"SIGTERM {role.name} while it processed {job.id} (drain timeout "
                 f"{run.scenario.drain_timeout}): exit status {status}")
        if status != 0:
            run.violate(f"{role.name} exited with {status} after SIGTERM, not 0")
        run.stack.restart(role)
        run.note(f"{role.name} restarted (pid {role.pid})")


def delete_processing_jobs(run) -> None:
    session = requests.Session()
    limit = max(3, run.options.jobs // 6)
    deleted = 0
    deadline = time.monotonic() + run.options.duration + 10
    while deleted < limit and time.monotonic() < deadline and not run.stop.is_set():
        for job in run.watch.processing():
            if job.deleted_at or deleted >= limit:
                continue
            api = run.apis()[deleted % len(run.apis())]
            run.watch.mark_deleted(job.id, time.time())
            answer = session.delete(f"{api}/v1/jobs/{job.id}", timeout=10)
            after = session.get(f"{api}/v1/jobs/{job.id}", timeout=10)
            deleted += 1
            if answer.status_code != 204 or after.status_code != 404:
                run.violate(f"DELETE {job.id} answered {answer.status_code}, then GET {after.status_code}")
        time.sleep(0.05)
    run.note(f"deleted {deleted} jobs seen processing")
    if deleted == 0:
        run.violate("no job was seen processing, so none was deleted")


def kill_poison_workers(run) -> None:
    """Kills whichever worker starts the poison job, at each attempt, until the delivery
    limit dead-letters it (or it expires)."""
    poison = run.wait_for(lambda: next((a.id for a in list(run.answers.accepted.values())
                                        if a.kind == "poison"), None), within=30)
    if not poison:
        run.violate("the poison job was not accepted")
        return
    killed: set[int] = set()
    deadline = time.monotonic() + run.retention
    record = None
    while time.monotonic() < deadline and not run.stop.is_set():
        record = read_record(run, poison)
        if record is None or record["state"] in ("succeeded", "failed"):
            break
        role = run.stack.role_of_worker_id(record.get("worker_id"))
        if record["state"] == "processing" and record["attempts"] not in killed and role and role.alive():
            run.stack.kill(role)
            killed.add(record["attempts"])
            run.note(f"kill -9 {role.name}: it started attempt {record['attempts']} of the poison job")
            restart_soon(run, role)
        time.sleep(0.02)
    state = f"{record['state']} {(record.get('error') or {}).get('code', '')}" if record else "gone"
    run.note(f"poison job {poison}: {state} after {len(killed)} kills")


def poison_gave_up(run) -> list[str]:
    poison = [j for j in run.watch.jobs.values() if j.kind == "poison"]
    return [f"poison job {j.id} ended {j.final} {j.final_code}, not failed gave-up"
            for j in poison if (j.final, j.final_code) != ("failed", "gave-up")]


def hang_busy_worker(run) -> None:
    if not run.at(0.25):
        return
    busy = run.wait_for(lambda: busy_worker(run, "slow"), within=run.options.duration * 0.5)
    if not busy:
        run.violate("no worker was seen processing a slow job to SIGSTOP")
        return
    job, role = busy
    hung_id = run.stack.worker_id(role)
    run.stack.send(role, signal.SIGSTOP)
    run.note(f"SIGSTOP {role.name} while it processed {job.id}")
    hold = 4 * run.options.heartbeat + 15
    taken = run.wait_for(lambda: (lambda r: r and r.get("worker_id") != hung_id and r)(read_record(run, job.id)),
                         within=hold, period=0.1)
    if taken:
        run.note(f"{job.id} redelivered: {taken['state']} by {taken.get('worker_id')}")
        time.sleep(1)  # let the second worker get going: then both work on the job
    else:
        run.violate(f"{job.id} was not redelivered within {hold} s of SIGSTOP (heartbeat {run.options.heartbeat} s)")
    run.stack.send(role, signal.SIGCONT)
    run.note(f"SIGCONT {role.name}")


def kill_sweepers_mid_purge(run) -> None:
    """Kills -9 every sweeper (which one claimed is not visible) while a claimed purge is
    unfinished: its claim moved its due time past the expiry and its record still exists."""
    purge_key = f"{run.store_prefix}purge"

    def purge_in_flight():
        for job_id, due in run.services.redis.zrange(purge_key, 0, -1, withscores=True):
            job = run.watch.job(job_id)
            if job and due > job.expires_at + 1 and run.services.redis.exists(run.watch.job_key(job_id)):
                return job_id
        return None

    kills = 0
    until = time.monotonic() + run.options.duration + run.retention
    while kills < 3 and time.monotonic() < until and not run.stop.is_set():
        job_id = run.wait_for(purge_in_flight, within=max(0.0, until - time.monotonic()), period=0.02)
        if not job_id:
            break
        for role in run.stack.of_kind("sweeper"):
            run.stack.kill(role)
        kills += 1
        run.note(f"kill -9 every sweeper: the purge of {job_id} was in flight")
        time.sleep(0.5)
        for role in run.stack.of_kind("sweeper"):
            run.stack.restart(role)
        run.note("sweepers restarted")
        time.sleep(3)
    if kills == 0:
        run.violate("no purge was caught in flight, so no sweeper was killed mid-purge")


def sigterm_apis_mid_upload(run) -> None:
    apis = run.stack.of_kind("api")
    for i, fraction in enumerate((0.3, 0.6)):
        if not run.at(fraction):
            return
        role = apis[i % len(apis)]
        busy = run.wait_for(lambda base=role.base: run.answers.in_flight[base] > 0, within=10, period=0.01)
        in_flight = run.answers.in_flight[role.base]
        status = run.stack.terminate(role, within=30)
        run.note(f"SIGTERM {role.name} with {in_flight} uploads in flight: exit status {status}")
        if not busy:
            run.violate(f"no upload was in flight to {role.name} when it got SIGTERM")
        if status != 0:
            run.violate(f"{role.name} exited with {status} after SIGTERM, not 0")
        time.sleep(2)
        run.stack.restart(role)
        run.note(f"{role.name} restarted (pid {role.pid})")


def service_fault(*verb: str, at: float = 0.3):
    def fault(run) -> None:
        if not run.at(at):
            return
        started = time.monotonic()
        dev_services(*verb)
        run.note(f"dev-services.sh {' '.join(verb)} ({time.monotonic() - started:.1f} s)")
        if verb[0] == "kill":
            time.sleep(2)
            started = time.monotonic()
            dev_services("start")
            run.note(f"dev-services.sh start ({time.monotonic() - started:.1f} s)")
    return fault


def flush_redis(run) -> None:
    if run.at(0.4):
        run.services.redis.flushdb()
        run.note(f"FLUSHDB of Redis database {run.options.redis_db} (the run's keys, nobody else's)")


SCENARIOS = [
    Scenario("baseline", "no fault", quick=True),
    Scenario("rabbitmq-kill", "kill -9 of the RabbitMQ node, start again after 2 s", quick=False,
             fault=service_fault("kill", "rabbitmq"), touches_services=True, min_retention=60),
    Scenario("redis-restart", "Redis shut down and started after 2 s (append-only file, as deployed)",
             quick=False, fault=service_fault("restart", "redis", "2"), touches_services=True),
    Scenario("redis-kill", "kill -9 of Redis, start again after 2 s (the append-only file loses up to 1 s)",
             quick=False, fault=service_fault("kill", "redis"), touches_services=True),
    Scenario("redis-flush", "FLUSHDB of the run's Redis database (what FLUSHALL does to facefix)",
             quick=False, fault=flush_redis),
    Scenario("minio-restart", "MinIO stopped for 5 s while workers read and write", quick=False,
             fault=service_fault("restart", "s3", "5"), touches_services=True, slow_every=8),
    Scenario("worker-kill", "kill -9 of a (busy) worker, several times, each restarted", quick=True,
             fault=kill_workers, slow_every=8),
    Scenario("sweeper-kill", "kill -9 of the sweepers while a purge is in flight, 3 times", quick=False,
             fault=kill_sweepers_mid_purge),
    Scenario("worker-sigterm", "SIGTERM of a worker busy with a slow job, drain timeout 1 s", quick=True,
             fault=sigterm_busy_workers, drain_timeout="1s", slow_every=4),
    Scenario("api-sigterm", "SIGTERM of an API process with uploads in flight, restarted", quick=False,
             fault=sigterm_apis_mid_upload, slow_every=4),
    Scenario("gave-up", "a poison job: its worker is killed at every attempt, delivery limit 2", quick=True,
             fault=kill_poison_workers, expect=poison_gave_up, delivery_limit=2, poison=True),
    Scenario("hung-worker", "SIGSTOP of a busy worker until the broker redelivers its job, then SIGCONT",
             quick=False, fault=hang_busy_worker, slow_every=4),
    Scenario("delete-processing", "the client deletes jobs it sees processing", quick=True,
             fault=delete_processing_jobs, slow_every=3),
]


def select(names: list[str] | None, quick: bool) -> list[Scenario]:
    if names:
        known = {s.name: s for s in SCENARIOS}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SystemExit(f"unknown scenario(s): {', '.join(unknown)} (see --list)")
        return [known[n] for n in names]
    return [s for s in SCENARIOS if s.quick or not quick]
