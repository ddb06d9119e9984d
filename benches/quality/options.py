"""The bench's command line. Every flag is also an environment variable,
FACEFIX_QUALITY_<FLAG> (e.g. --seed and FACEFIX_QUALITY_SEED); the flag wins. Relative
paths are taken from the repository root, as the other benches do."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import degrade

ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = ROOT / "testdata/images"

# The face photos of the test data (testdata/README.md): 1 + 1 + 4 faces.
FULL_IMAGES = ["astronaut.png", "grace_hopper.jpg", "collage_4faces.png"]
# CI-sized: one face, a 128x128 degraded input; even a learned restorer of ~35 MFLOP per
# input pixel costs ~0.6 TFLOP here, seconds on two cores.
QUICK_IMAGES = ["astronaut.png"]
# The face regions come from a run on the original whose output is thrown away: it names
# the project's own ~10 ms restorer, since the manifest's default may be a learned one
# that takes most of a minute on a large face on CPU.
DETECT_RESTORER = "facefix-usm-512"


@dataclass(frozen=True)
class Options:
    self_test: bool
    quick: bool
    images: list[Path]
    restorers: list[str] | None
    detect_restorer: str
    seed: int
    binary: Path
    models_dir: Path
    out_dir: Path
    strip_height: int


def _env(name: str) -> str | None:
    value = os.environ.get(f"FACEFIX_QUALITY_{name}")
    return value if value not in (None, "") else None


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "on")


def _names(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def default_binary() -> str:
    """The release build when there is one (faster paste-back, fairer wall times), else
    the debug build the test suite makes."""
    release = ROOT / "target/release/facefix"
    return str(release if release.exists() else ROOT / "target/debug/facefix")


def parse(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(
        prog="benches/quality/run.py",
        description="Restoration quality: degrades the test photos (blur, x4 down, noise, JPEG), "
        "restores them with bicubic and every installed restorer through `facefix restore`, "
        "and scores the face regions against the originals (PSNR, SSIM, GMSD, time per face).",
    )
    p.add_argument("--self-test", action="store_true", default=_flag(_env("SELF_TEST")),
                   help="run the metric and degradation unit tests and exit (env FACEFIX_QUALITY_SELF_TEST)")
    p.add_argument("--quick", action="store_true", default=_flag(_env("QUICK")),
                   help=f"CI-sized run: {', '.join(QUICK_IMAGES)} only (env FACEFIX_QUALITY_QUICK)")
    p.add_argument("--images", default=_env("IMAGES"),
                   help="comma-separated photos, names in testdata/images or paths "
                   f"(default {','.join(FULL_IMAGES)}) (env FACEFIX_QUALITY_IMAGES)")
    p.add_argument("--restorers", default=_env("RESTORERS"),
                   help="comma-separated restorer names (default: every restorer of models/manifest.toml "
                   "that is not hidden and whose file is installed) (env FACEFIX_QUALITY_RESTORERS)")
    p.add_argument("--detect-restorer", default=_env("DETECT_RESTORER") or DETECT_RESTORER,
                   help="restorer named on the run that finds the faces on the original (its output is "
                   f"not used; default {DETECT_RESTORER}, the fastest) (env FACEFIX_QUALITY_DETECT_RESTORER)")
    p.add_argument("--seed", type=int, default=_env("SEED") or degrade.DEFAULT_SEED,
                   help=f"seed of the degradation's noise (default {degrade.DEFAULT_SEED}) (env FACEFIX_QUALITY_SEED)")
    p.add_argument("--bin", dest="binary", default=_env("BIN") or default_binary(),
                   help="the facefix binary (default target/release/facefix if built, else "
                   "target/debug/facefix) (env FACEFIX_QUALITY_BIN)")
    p.add_argument("--models-dir", default=_env("MODELS_DIR") or os.environ.get("FACEFIX_MODELS_DIR") or "models",
                   help="models directory with manifest.toml (default FACEFIX_MODELS_DIR, else ./models) "
                   "(env FACEFIX_QUALITY_MODELS_DIR)")
    p.add_argument("--out-dir", default=_env("OUT_DIR"),
                   help="where the table, the JSON, the strips and the work files go (default "
                   "target/quality, with --quick target/quality/quick) (env FACEFIX_QUALITY_OUT_DIR)")
    p.add_argument("--strip-height", type=int, default=_env("STRIP_HEIGHT") or 144,
                   help="height in pixels of each face tile in the strips (env FACEFIX_QUALITY_STRIP_HEIGHT)")
    a = p.parse_args(argv)
    images = _names(a.images) or (QUICK_IMAGES if a.quick else FULL_IMAGES)
    return Options(
        self_test=a.self_test,
        quick=a.quick,
        images=[_image_path(i) for i in images],
        restorers=_names(a.restorers),
        detect_restorer=a.detect_restorer,
        seed=int(a.seed),
        binary=(ROOT / a.binary).resolve(),
        models_dir=(ROOT / a.models_dir).resolve(),
        out_dir=(ROOT / (a.out_dir or ("target/quality/quick" if a.quick else "target/quality"))).resolve(),
        strip_height=int(a.strip_height),
    )


def _image_path(name: str) -> Path:
    """A bare name is a test photo; anything with a slash is a path."""
    return (IMAGES_DIR / name) if "/" not in name else (ROOT / name).resolve()
