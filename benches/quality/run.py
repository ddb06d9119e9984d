#!/usr/bin/env python3
"""Restoration quality, measured.

Takes the face photos of the test data, degrades each with a fixed, seeded blind
degradation (degrade.py: blur, x4 downscale, noise, JPEG), enlarges the degraded image
back to the original's size with pixel repetition, bicubic and every installed restorer
(`facefix restore --upscale 4 --restorer NAME`), and scores every face region against
the undegraded original: PSNR (RGB), SSIM (luma), GMSD (luma; metrics.py), plus the wall
time per face and the pipeline's own restore-stage time.

Writes to --out-dir (default target/quality): quality.md (the table averaged over faces,
then every face), quality.json (the same, with the parameters), strip.png (one face per
image: degraded | bicubic | each restorer | original) and strip_<image>.png (every face),
and work/ (the originals, degraded inputs and outputs).

Usage (from the repository root, in the project venv):
  .venv/bin/python benches/quality/run.py              # the three face photos
  .venv/bin/python benches/quality/run.py --quick      # CI-sized: the astronaut only
  .venv/bin/python benches/quality/run.py --self-test  # unit tests of the metrics
  .venv/bin/python benches/quality/run.py --help       # every flag, each also FACEFIX_QUALITY_*

Exit status: 0; 1 when a `facefix restore` fails or a sanity check does (a non-finite
score, or bicubic not above pixel repetition on PSNR); 2 for bad usage.
"""

from __future__ import annotations

import shlex
import sys
import time

# The bench's modules sit beside this file; keep their byte code out of the tree.
sys.dont_write_bytecode = True

import bench  # noqa: E402
import facefix_cli  # noqa: E402
import options as options_module  # noqa: E402
import report  # noqa: E402
import sanity  # noqa: E402
import strip  # noqa: E402


def main(argv: list[str]) -> int:
    opts = options_module.parse(argv)
    if opts.self_test:
        import selftest

        return selftest.main()
    if not opts.binary.is_file():
        print(f"quality: no facefix binary at {opts.binary} (cargo build --bin facefix)", file=sys.stderr)
        return 2
    missing = [str(p) for p in opts.images if not p.is_file()]
    if missing:
        print(f"quality: no such image: {', '.join(missing)}", file=sys.stderr)
        return 2
    restorers = opts.restorers or facefix_cli.installed_restorers(opts.models_dir)
    if not restorers:
        print(f"quality: no restorer installed in {opts.models_dir} (scripts/setup-models.sh)", file=sys.stderr)
        return 2

    print(f"quality: {len(opts.images)} images, restorers {', '.join(restorers)}, seed {opts.seed}", flush=True)
    print(f"quality: degradation: {report.describe_inputs(opts.seed)}", flush=True)
    started_at = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    started = time.monotonic()
    runner = bench.Bench(opts.binary, opts.models_dir, restorers, opts.detect_restorer, opts.seed,
                         opts.out_dir / "work", options_module.ROOT)
    results = []
    try:
        for path in opts.images:
            results.append(runner.image(path))
            print(f"quality: {path.name}: {len(results[-1].regions)} faces scored", flush=True)
    except facefix_cli.RestoreFailed as failed:
        print(f"quality: facefix restore failed:\n{failed}", file=sys.stderr)
        return 1
    except bench.BenchFailed as failed:
        print(f"quality: {failed}", file=sys.stderr)
        return 1

    header = {
        "command": "benches/quality/run.py " + shlex.join(argv) if argv else "benches/quality/run.py",
        "started_at": started_at,
        "seconds": time.monotonic() - started,
        "binary": _shown(opts.binary),
        "device": ", ".join(sorted({r.device for r in results})),
        "seed": opts.seed,
    }
    summary = report.summarise(results)
    written = report.write(opts.out_dir, results, summary, header)
    written += strip.write(opts.out_dir, results, opts.strip_height)
    print()
    print(report.table(results, summary, header))
    for path in written:
        print(f"quality: wrote {path}")

    found = sanity.problems(results)
    for problem in found:
        print(f"quality: sanity check failed: {problem}", file=sys.stderr)
    print(f"quality: {header['seconds']:.1f} s", flush=True)
    return 1 if found else 0


def _shown(path) -> str:
    """A path inside the repository relative to it, so reports name no machine's folders."""
    root = options_module.ROOT
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
