"""Checks on a finished run that catch a broken bench rather than a bad restorer."""

from __future__ import annotations

import math

from bench import BICUBIC, NEAREST, ImageResult


def problems(results: list[ImageResult]) -> list[str]:
    """Empty when every score is finite (no method returns the original itself, so an
    infinite PSNR or a NaN means the metric code or the crops are wrong) and bicubic beats
    pixel repetition on PSNR for every face (a cheap check that the scores are oriented
    the right way round: higher PSNR for the better enlargement)."""
    found = []
    for r in results:
        by_name = {m.name: m for m in r.methods}
        for m in r.methods:
            for f, s in enumerate(m.scores):
                for metric, value in (("PSNR", s.psnr), ("SSIM", s.ssim), ("GMSD", s.gmsd)):
                    if not math.isfinite(value):
                        found.append(f"{r.name} face {f}: {m.name} {metric} is {value}")
        for f, (cubic, nearest) in enumerate(zip(by_name[BICUBIC].scores, by_name[NEAREST].scores)):
            if not cubic.psnr > nearest.psnr:
                found.append(f"{r.name} face {f}: bicubic PSNR {cubic.psnr:.2f} dB is not above "
                             f"the degraded image's (nearest) {nearest.psnr:.2f} dB")
    return found
