"""One scenario from start to clean-up: its own names (queue, key and object prefixes), its
facefix processes, the upload stream, the observers and the fault, then the checks."""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path
from typing import Callable

from .options import ROOT, Options
from .roles import RUN_MARKER, Stack
from .services import Services
from .uploads import Answers, Upload, UploadStream
from .verdict import Ending, Row, judge
from .watch import Watch

# The sweepers' pace: short, so that the purge lag measures the purge, not the interval.
SWEEP_INTERVAL = "500ms"
# After the last expiry, how long anything of a job may remain (the suite's promise check).
PURGE_GRACE = 60.0
# Jobs still open this close to their expiry are judged (stranded or not) before the
# sweeper removes them.
JUDGE_BEFORE_EXPIRY = 1.5

SMALL_IMAGE = ROOT / "testdata/images/tiny_face_64x75.png"
# The 4-face collage, upscaled ×3 (4800×1800 out): the longest job of the stream even
# without models, so that a fault can catch a worker mid-job.
SLOW_IMAGE = ROOT / "testdata/images/collage_4faces.png"


class Run:
    def __init__(self, scenario, options: Options, services: Services, out: Path):
        self.scenario = scenario
        self.options = options
        self.services = services
        self.retention = max(options.retention, scenario.min_retention)
        self.id = f"{RUN_MARKER}{os.getpid()}-{secrets.token_hex(3)}-{scenario.name}"
        self.store_prefix = f"{self.id}:"
        self.answers = Answers()
        self.watch = Watch(services, self.store_prefix, self.id, self.answers)
        self.stop = threading.Event()
        self.timeline: list[str] = []
        self.violations: list[str] = []
        self.t0 = time.monotonic()
        self.t0_wall = time.time()
        self.stream_started = self.t0
        self.stack = Stack(options.binary, self._role_env(), self.id, out / "logs" / scenario.name, out)
        self.stack.add("api", options.apis, [])
        self.stack.add("worker", options.workers, [])
        self.stack.add("sweeper", options.sweepers, [])
        self.uploads_done = threading.Event()
        self.uploads_ended = time.time()
        self.stream: UploadStream | None = None

    def _role_env(self) -> dict[str, str]:
        s, o = self.services, self.options
        # Nothing of the caller's facefix configuration may leak into the roles.
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACEFIX_")}
        env.update({
            "FACEFIX_QUEUE_URL": s.amqp_url_with_heartbeat(o.heartbeat),
            "FACEFIX_QUEUE_PREFIX": self.id,
            "FACEFIX_QUEUE_DELIVERY_LIMIT": str(self.scenario.delivery_limit),
            "FACEFIX_STORE_URL": s.redis_url,
            "FACEFIX_STORE_PREFIX": self.store_prefix,
            "FACEFIX_BLOB_URL": f"s3://{s.bucket}/{self.id}",
            "FACEFIX_S3_ENDPOINT": s.s3_endpoint,
            "FACEFIX_S3_PATH_STYLE": "true",
            "FACEFIX_S3_ACCESS_KEY_ID": s.s3_access_key,
            "FACEFIX_S3_SECRET_ACCESS_KEY": s.s3_secret_key,
            "FACEFIX_S3_CREATE_BUCKET": "true",
            "FACEFIX_NO_MODELS": "true",
            "FACEFIX_RETENTION": f"{int(self.retention * 1000)}ms",
            "FACEFIX_SWEEP_INTERVAL": SWEEP_INTERVAL,
            "FACEFIX_DRAIN_TIMEOUT": self.scenario.drain_timeout,
        })
        return env

    # ------------------------------------------------------------------ for the faults

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def note(self, text: str) -> None:
        line = f"{self.elapsed():6.1f} s  {text}"
        self.timeline.append(line)
        print(f"    {line}", flush=True)

    def violate(self, text: str) -> None:
        self.violations.append(text)
        self.note(f"VIOLATION: {text}")

    def at(self, fraction: float) -> bool:
        """Sleeps until `fraction` of the upload duration has passed; False when stopping."""
        started = self.stream_started
        delay = started + fraction * self.options.duration - time.monotonic()
        return not self.stop.wait(max(0.0, delay))

    def wait_for(self, predicate: Callable[[], object], within: float, period: float = 0.05):
        """Polls `predicate` until it returns something true (returned) or the time is up."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not self.stop.is_set():
            value = predicate()
            if value:
                return value
            time.sleep(period)
        return None

    def apis(self) -> list[str]:
        return [r.base for r in self.stack.of_kind("api")]

    # ------------------------------------------------------------------ the run

    def plan(self) -> list[Upload]:
        small = SMALL_IMAGE.read_bytes()
        slow = SLOW_IMAGE.read_bytes()
        every = self.scenario.slow_every
        uploads = []
        for i in range(self.options.jobs):
            if every and i % every == every - 1:
                # Slow on purpose: the faults hit a worker seen busy with one. Upscale 4 as
                # PNG (15 MP of Lanczos and single-threaded deflate) keeps a job in progress
                # long enough to be sampled now that JPEG outputs encode on every core.
                uploads.append(Upload(i, "slow", slow, "image/png", "?upscale=4&format=png"))
            else:
                uploads.append(Upload(i, "small", small, "image/png", "?upscale=1&format=png"))
        if self.scenario.poison:
            # First, so that it is under way while the rest of the stream flows around it.
            uploads.insert(0, Upload(-1, "poison", slow, "image/jpeg", "?upscale=2&format=jpeg"))
            uploads = [Upload(i, u.kind, u.body, u.content_type, u.query) for i, u in enumerate(uploads)]
        return uploads

    def execute(self) -> Row:
        fault_thread = None
        ending = Ending()
        try:
            self.stack.start_all()
            self.note(f"{len(self.stack.roles)} roles up ({self.id})")
            self.watch.start()
            self.stream = UploadStream(self.apis(), self.plan(), self.options.duration,
                                       self.options.concurrency, self.answers, self.stop)
            self.stream_started = time.monotonic()
            if self.scenario.fault:
                fault_thread = threading.Thread(target=self._fault, name="fault", daemon=True)
                fault_thread.start()
            self.stream.run()
            self.uploads_ended = time.time()
            self.uploads_done.set()
            self.note(f"uploads done: {len(self.answers.accepted)} accepted")
            if fault_thread:
                fault_thread.join(timeout=self.retention + 120)
                if fault_thread.is_alive():
                    self.violate("the fault did not finish in time")
            self._settle()
            ending.open_jobs, ending.queue = self._judge_open_jobs()
            ending.remaining = self._wait_for_purge()
        except Exception as error:  # the row says so; the next scenario still runs
            self.violate(f"the run broke: {type(error).__name__}: {error}")
        finally:
            self.stop.set()
            self.stack.stop_all()
            self.watch.close()
            self.scenario.restore(self)
            ending.cleaned = self._clean_up()
        self.stack.note_exits()
        for role in self.stack.roles:
            self.violations.extend(role.unexpected_exits)
        return judge(self, ending)

    def _fault(self) -> None:
        try:
            self.scenario.fault(self)
        except Exception as error:  # reported as a violation of the run, never lost
            self.violate(f"the fault failed: {type(error).__name__}: {error}")

    def _settle(self) -> None:
        """Waits until every accepted job is final (or gone), or until the earliest expiry
        among those still open is near."""
        while True:
            open_jobs = self.watch.open_jobs()
            if not open_jobs:
                return
            if time.time() > min(j.expires_at for j in open_jobs) - JUDGE_BEFORE_EXPIRY:
                return
            time.sleep(0.2)

    def _judge_open_jobs(self):
        open_jobs = self.watch.open_jobs()
        if not open_jobs:
            return [], None
        try:
            depth = self.services.queue_depths().get(f"{self.id}.jobs")
        except Exception as error:
            self.violate(f"cannot read the queue depth: {error}")
            depth = None
        self.note(f"{len(open_jobs)} jobs not final near their expiry; queue: {depth}")
        return open_jobs, depth

    def _wait_for_purge(self):
        """Until nothing of the run remains and every job is past its expiry, or until the
        last expiry plus the grace. Returns what remained (object keys, Redis keys)."""
        with self.answers.lock:
            expiries = [a.expires_at for a in self.answers.accepted.values()]
        # An upload whose 202 was lost (its connection dropped) made a job we cannot name; it
        # expires no later than the last upload plus the retention.
        last_expiry = max(expiries + [self.uploads_ended + self.retention])
        deadline = last_expiry + PURGE_GRACE
        remaining = ([], [])
        while time.time() < deadline:
            try:
                objects = list(self.services.list_objects(f"{self.id}/").objects)
                keys = self.services.redis_keys(self.store_prefix)
                remaining = (objects, keys)
                if time.time() > last_expiry + 1 and not objects and not keys:
                    # One more bucket sample, so the observer sees the last disappearance.
                    time.sleep(0.6)
                    return ([], [])
            except Exception:
                pass
            time.sleep(1)
        objects, keys = remaining
        self.note(f"after expiry + {PURGE_GRACE:.0f} s: {len(objects)} objects, {len(keys)} Redis keys remain")
        return remaining

    def _clean_up(self) -> str:
        done = []
        for what, action in (
            ("objects", lambda: self.services.delete_objects(f"{self.id}/")),
            ("Redis keys", lambda: self.services.delete_redis_keys(self.store_prefix)),
            ("queues and exchanges", lambda: self.services.delete_topology(self.id)),
        ):
            try:
                done.append(f"{action()} {what}")
            except Exception as error:
                done.append(f"{what}: {type(error).__name__}: {error}")
        return ", ".join(done)
