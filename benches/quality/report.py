"""The bench's results: one row per method averaged over every face (Markdown), and every
face's scores (Markdown and JSON)."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import degrade
import faces
import metrics
from bench import ImageResult

# Printed under every table: the numbers are easy to misread without it.
CAVEAT = (
    "PSNR and SSIM reward outputs that stay close to the original on average, so they favour "
    "smooth, blurry results; GAN-trained restorers, which invent plausible detail (pores, "
    "lashes, hair) that is not the original's, often score lower than bicubic on them while "
    "looking far better. GMSD follows edges more than flat areas but has the same bias. "
    "The numbers are reported as they come."
)


@dataclass(frozen=True)
class Summary:
    method: str
    faces: int
    # None for the baselines, which detect nothing.
    restored: int | None
    psnr: float
    ssim: float
    gmsd: float
    wall_ms_per_face: float | None
    restore_stage_ms_per_face: float | None


def summarise(results: list[ImageResult]) -> list[Summary]:
    """Means over every face of every image; the wall time of each run divided by the
    faces scored in its image, the restore stage divided by the faces the run restored."""
    rows = []
    for i, name in enumerate(m.name for m in results[0].methods):
        methods = [r.methods[i] for r in results]
        scores = [s for m in methods for s in m.scores]
        flags = [s.restored for s in scores]
        walls = [m.wall_ms for m in methods]
        stages = [m.restore_stage_ms for m in methods]
        found = sum(len(m.face_boxes or []) for m in methods)
        rows.append(Summary(
            name,
            len(scores),
            None if None in flags else sum(flags),
            statistics.fmean(s.psnr for s in scores),
            statistics.fmean(s.ssim for s in scores),
            statistics.fmean(s.gmsd for s in scores),
            None if None in walls else sum(walls) / len(scores),
            None if None in stages or not found else sum(stages) / found,
        ))
    return rows


def _fixed(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def describe_inputs(seed: int) -> str:
    p = degrade.parameters(seed)
    return (
        f"Gaussian blur σ {p['blur_sigma_px']} px ({p['blur_kernel_px']}×{p['blur_kernel_px']}) → "
        f"×{p['downscale']} downscale ({p['downscale_interpolation']}) → Gaussian noise σ "
        f"{p['noise_sigma_8bit']} (8-bit) → JPEG quality {p['jpeg_quality']}; seed {p['seed']}. "
        f"Face regions: MTCNN's box on the original, widened by {faces.MARGIN:.0%} a side."
    )


def table(results: list[ImageResult], summary: list[Summary], header: dict) -> str:
    """The heading, the run and its inputs, the averaged table and the caveat."""
    n_faces = summary[0].faces
    lines = [
        "# Restoration quality",
        "",
        f"`{header['command']}` — {header['started_at']}, {header['seconds']:.0f} s, "
        f"binary `{header['binary']}`, device {header['device']}.",
        "",
        f"Faces scored: {n_faces}, on {', '.join(r.name for r in results)}. " + describe_inputs(header["seed"]),
        "",
        "| method | faces restored | PSNR dB (RGB) ↑ | SSIM (Y) ↑ | GMSD ↓ | ms/face (wall) | restore stage ms/face |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        restored = "–" if s.restored is None else f"{s.restored}/{s.faces}"
        lines.append(
            f"| {s.method} | {restored} | {s.psnr:.2f} | {s.ssim:.4f} | {s.gmsd:.4f} | "
            f"{_fixed(s.wall_ms_per_face, 1)} | {_fixed(s.restore_stage_ms_per_face, 1)} |"
        )
    return "\n".join(lines + ["", CAVEAT]) + "\n"


def markdown(results: list[ImageResult], summary: list[Summary], header: dict) -> str:
    """The table, then every face's scores."""
    lines = ["## Every face", "",
             "| image | face (x0,y0,x1,y1) | method | restored | PSNR | SSIM | GMSD |",
             "|---|---|---|---|---:|---:|---:|"]
    for r in results:
        for f, region in enumerate(r.regions):
            for m in r.methods:
                s = m.scores[f]
                restored = "–" if s.restored is None else ("yes" if s.restored else "no (not detected)")
                lines.append(f"| {r.name} | {f} {tuple(region.as_list())} | {m.name} | {restored} | "
                             f"{s.psnr:.2f} | {s.ssim:.4f} | {s.gmsd:.4f} |")
    return table(results, summary, header) + "\n" + "\n".join(lines) + "\n"


def _number(value: float | None) -> float | str | None:
    """JSON has no infinity: a non-finite score is written as a string."""
    return value if value is None or math.isfinite(value) else str(value)


def as_json(results: list[ImageResult], summary: list[Summary], header: dict) -> dict:
    return {
        **header,
        "degradation": degrade.parameters(header["seed"]),
        "face_margin": faces.MARGIN,
        "metrics": {
            "psnr": "dB on 8-bit RGB, higher is better",
            "ssim": f"luma BT.601, Gaussian window {metrics.SSIM_WINDOW}x{metrics.SSIM_WINDOW} "
                    f"sigma {metrics.SSIM_SIGMA}, K1 {metrics.SSIM_K1}, K2 {metrics.SSIM_K2}, higher is better",
            "gmsd": f"luma BT.601 halved, Prewitt, c {metrics.GMSD_C}, lower is better",
        },
        "summary": [{k: _number(v) if isinstance(v, float) else v for k, v in vars(s).items()} for s in summary],
        "images": [
            {
                "name": r.name,
                "size": list(r.size),
                "degraded_size": [r.degraded.shape[1], r.degraded.shape[0]],
                "methods": [
                    {
                        "name": m.name,
                        "wall_ms": _number(m.wall_ms),
                        "restore_stage_ms": _number(m.restore_stage_ms),
                        "faces_found_on_degraded": None if m.face_boxes is None else len(m.face_boxes),
                        "faces": [
                            {"region": region.as_list(), "psnr": _number(s.psnr), "ssim": _number(s.ssim),
                             "gmsd": _number(s.gmsd), "restored": s.restored}
                            for region, s in zip(r.regions, m.scores)
                        ],
                    }
                    for m in r.methods
                ],
            }
            for r in results
        ],
    }


def write(out_dir: Path, results: list[ImageResult], summary: list[Summary], header: dict) -> list[Path]:
    md, js = out_dir / "quality.md", out_dir / "quality.json"
    md.write_text(markdown(results, summary, header))
    js.write_text(json.dumps(as_json(results, summary, header), indent=2) + "\n")
    return [md, js]
