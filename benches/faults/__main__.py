"""Entry point: `python -m faults` (benches/faults.sh sets it up). Exits 1 when any row shows
a lost, stranded or leftover job or another violated check, 2 when the suite itself could
not run."""

from __future__ import annotations

import shlex
import signal
import sys
import time

from . import options as options_module
from .report import text_table, write
from .roles import reap_leftovers
from .run import Run
from .scenarios import SCENARIOS, select
from .services import Services, dev_services


def _stop_on_signal(signum, _frame):
    # Unwinds through every `finally`, so processes, keys, objects and queues are cleaned.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    opts = options_module.parse(argv)
    if opts.list_only:
        for s in SCENARIOS:
            print(f"{s.name:18} {'quick' if s.quick else 'full '}  {s.summary}")
        return 0
    scenarios = select(opts.scenarios, opts.quick)
    if not opts.binary.exists():
        print(f"faults: no binary at {opts.binary} (cargo build --bin facefix)", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop_on_signal)
    opts.out.mkdir(parents=True, exist_ok=True)
    reaped = reap_leftovers(opts.out, opts.binary)
    if reaped:
        print(f"faults: killed {len(reaped)} processes a previous run left: {reaped}", file=sys.stderr)
    dev_services("start")
    services = Services(opts.redis_db)

    command = "benches/faults.sh " + shlex.join(argv)
    started_at = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    started = time.monotonic()
    print(f"faults: {len(scenarios)} scenarios, {opts.jobs} jobs over {opts.duration:.0f} s each, "
          f"{opts.concurrency} uploaders, retention {opts.retention:.0f} s", flush=True)
    rows = []
    for scenario in scenarios:
        print(f"\n== {scenario.name}: {scenario.summary}", flush=True)
        row = Run(scenario, opts, services, opts.out).execute()
        rows.append(row)
        for line in row.violations + row.details:
            print(f"    {line}", flush=True)
        print(f"    -> {'ok' if row.ok else 'FAIL'} ({row.seconds:.0f} s)", flush=True)
    seconds = time.monotonic() - started
    print("\n" + text_table(rows))
    for path in write(opts.out, rows, command, started_at, seconds):
        print(f"faults: wrote {path}")
    print(f"faults: {seconds:.0f} s")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt as stop:
        print(f"faults: interrupted ({stop})", file=sys.stderr)
        sys.exit(130)
