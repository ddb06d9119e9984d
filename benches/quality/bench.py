"""One photo through the bench: degrade it, enlarge it with every method, score each face.

Methods, in the order the table and the strip show them:
  degraded (nearest)  the degraded image enlarged x4 by pixel repetition: what the input
                      looks like at the original's size, and the floor every method must beat
  bicubic             cv2.resize INTER_CUBIC x4: the baseline
  <restorer>          `facefix restore DEGRADED --upscale 4 --restorer NAME` (detection on
                      the degraded image, the restorer on each face found, Lanczos-4
                      background, paste-back)
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

import degrade
import faces
import facefix_cli
import metrics

NEAREST = "degraded (nearest)"
BICUBIC = "bicubic"


@dataclass
class FaceScore:
    psnr: float
    ssim: float
    gmsd: float
    # None for the baselines, which have no detector.
    restored: bool | None


@dataclass
class Method:
    name: str
    output: np.ndarray
    wall_ms: float | None
    restore_stage_ms: float | None = None
    # The faces the run found on the degraded image (its coordinates); None for the
    # baselines, which detect nothing.
    face_boxes: list[list[float]] | None = None
    scores: list[FaceScore] = field(default_factory=list)


@dataclass
class ImageResult:
    name: str
    size: tuple[int, int]
    degraded: np.ndarray
    original: np.ndarray
    regions: list[faces.Region]
    methods: list[Method]
    # Where facefix ran inference (its META.json `device`: cpu or cuda).
    device: str


class BenchFailed(RuntimeError):
    """A photo the bench cannot score: no face in it, or an output of the wrong size."""


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read {path}")
    return bgr[:, :, ::-1].copy()


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), rgb[:, :, ::-1]):
        raise OSError(f"cannot write {path}")


@dataclass(frozen=True)
class Bench:
    binary: Path
    models_dir: Path
    restorers: list[str]
    # Named on the run that finds the faces on the original (options.DETECT_RESTORER).
    detect_restorer: str
    seed: int
    # Originals, degraded inputs and every method's output, per image.
    work: Path
    # facefix runs here, where it finds the project venv's ONNX Runtime.
    root: Path

    def image(self, path: Path) -> ImageResult:
        work = self.work / path.stem
        work.mkdir(parents=True, exist_ok=True)
        original = degrade.crop_to_scale(read_rgb(path))
        h, w = original.shape[:2]
        # Detection runs on the cropped original the scores are taken on.
        write_rgb(work / "original.png", original)
        found = self._restore(work / "original.png", work / "detect.png", 1, self.detect_restorer)
        regions = [faces.region(box, w, h) for box in found.face_boxes]
        if not regions:
            raise BenchFailed(f"{path.name}: facefix finds no face in the original; nothing to score")

        degraded = degrade.degrade(original, self.seed, path.name)
        # PNG, so facefix and the baselines start from the very same pixels.
        write_rgb(work / "degraded.png", degraded)
        methods = [Method(NEAREST, degrade.enlarge(degraded, cv2.INTER_NEAREST), None)]
        started = time.perf_counter()
        bicubic = degrade.enlarge(degraded, cv2.INTER_CUBIC)
        methods.append(Method(BICUBIC, bicubic, (time.perf_counter() - started) * 1000.0))
        for name in self.restorers:
            # A restorer may be named by a path (`--restorers dir/x.onnx`): one file name.
            out = work / (re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".png")
            run = self._restore(work / "degraded.png", out, degrade.SCALE, name)
            restored = read_rgb(out)
            if restored.shape != original.shape:
                raise BenchFailed(f"{path.name}: {name} gave {restored.shape}, expected {original.shape}")
            methods.append(Method(name, restored, run.wall_ms, run.restore_stage_ms, run.face_boxes))

        for m in methods:
            for r in regions:
                ref, test = r.crop(original), r.crop(m.output)
                m.scores.append(FaceScore(
                    metrics.psnr(ref, test), metrics.ssim(ref, test), metrics.gmsd(ref, test),
                    None if m.face_boxes is None else faces.restored_by(r, m.face_boxes, degrade.SCALE),
                ))
        return ImageResult(path.name, (w, h), degraded, original, regions, methods, found.meta.get("device", "?"))

    def _restore(self, source: Path, output: Path, upscale: int, restorer: str) -> facefix_cli.Run:
        return facefix_cli.restore(self.binary, self.models_dir, source, output, upscale, restorer, self.root)
