"""The suite's command line. Every flag is also an environment variable, FACEFIX_FAULTS_<FLAG>
(e.g. --jobs and FACEFIX_FAULTS_JOBS); the flag wins."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Quick mode fits each scenario in about 20 s, so that scripts/test.sh can run it on two
# cores; the full suite is the bounded stream of the fault study (200 jobs over a minute).
QUICK = {"jobs": 30, "duration": 6.0, "concurrency": 3, "retention": 10.0, "workers": 2}
FULL = {"jobs": 200, "duration": 60.0, "concurrency": 4, "retention": 30.0, "workers": 3}


@dataclass(frozen=True)
class Options:
    quick: bool
    scenarios: list[str] | None
    list_only: bool
    jobs: int
    duration: float
    concurrency: int
    retention: float
    workers: int
    apis: int
    sweepers: int
    binary: Path
    out: Path
    redis_db: int
    heartbeat: int


def _env(name: str) -> str | None:
    value = os.environ.get(f"FACEFIX_FAULTS_{name}")
    return value if value not in (None, "") else None


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "on")


def parse(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(
        prog="benches/faults.sh",
        description="Fault suite: runs facefix roles on the dev services, injects one fault "
        "per scenario and checks that every accepted job reached one final state and that "
        "nothing of any job outlived its retention.",
    )
    p.add_argument("--quick", action="store_true", default=_flag(_env("QUICK")),
                   help="only the scenarios that take under 30 s, with a smaller stream (env FACEFIX_FAULTS_QUICK)")
    p.add_argument("--scenarios", default=_env("SCENARIOS"),
                   help="comma-separated scenario names (see --list) (env FACEFIX_FAULTS_SCENARIOS)")
    p.add_argument("--list", dest="list_only", action="store_true", help="list the scenarios and exit")
    p.add_argument("--jobs", type=int, default=_env("JOBS"),
                   help="uploads per scenario (quick 30, full 200) (env FACEFIX_FAULTS_JOBS)")
    p.add_argument("--duration", type=float, default=_env("DURATION"),
                   help="seconds the uploads are spread over (quick 6, full 60) (env FACEFIX_FAULTS_DURATION)")
    p.add_argument("--concurrency", type=int, default=_env("CONCURRENCY"),
                   help="concurrent uploaders (quick 3, full 4) (env FACEFIX_FAULTS_CONCURRENCY)")
    p.add_argument("--retention", type=float, default=_env("RETENTION"),
                   help="seconds of retention given to the roles (quick 10, full 30) (env FACEFIX_FAULTS_RETENTION)")
    p.add_argument("--workers", type=int, default=_env("WORKERS"),
                   help="facefix worker processes (quick 2, full 3) (env FACEFIX_FAULTS_WORKERS)")
    p.add_argument("--apis", type=int, default=_env("APIS") or 2,
                   help="facefix api processes (env FACEFIX_FAULTS_APIS)")
    p.add_argument("--sweepers", type=int, default=_env("SWEEPERS") or 2,
                   help="facefix sweeper processes (env FACEFIX_FAULTS_SWEEPERS)")
    p.add_argument("--bin", dest="binary", default=_env("BIN") or "target/debug/facefix",
                   help="the facefix binary (env FACEFIX_FAULTS_BIN)")
    p.add_argument("--out", default=_env("OUT") or "target/faults",
                   help="where the tables and role logs go (env FACEFIX_FAULTS_OUT)")
    p.add_argument("--redis-db", type=int, default=_env("REDIS_DB") or 9,
                   help="Redis database of the runs, flushed by the redis-flush scenario; not 0, "
                   "which the tests share (env FACEFIX_FAULTS_REDIS_DB)")
    p.add_argument("--heartbeat", type=int, default=_env("HEARTBEAT") or 5,
                   help="AMQP heartbeat in seconds given to the roles: the broker drops a hung "
                   "worker after about two of them (env FACEFIX_FAULTS_HEARTBEAT)")
    a = p.parse_args(argv)
    mode = QUICK if a.quick else FULL

    def pick(name: str, kind: type):
        value = getattr(a, name)
        return kind(mode[name] if value is None else value)

    return Options(
        quick=a.quick,
        scenarios=[s.strip() for s in a.scenarios.split(",") if s.strip()] if a.scenarios else None,
        list_only=a.list_only,
        jobs=pick("jobs", int),
        duration=pick("duration", float),
        concurrency=pick("concurrency", int),
        retention=pick("retention", float),
        workers=pick("workers", int),
        apis=int(a.apis),
        sweepers=int(a.sweepers),
        binary=(ROOT / a.binary).resolve(),
        out=(ROOT / a.out).resolve(),
        redis_db=int(a.redis_db),
        heartbeat=int(a.heartbeat),
    )
