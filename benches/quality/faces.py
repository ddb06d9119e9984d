"""Face regions: where on the original each face is, and whether a method's run restored it.

The regions come from one `facefix restore ORIGINAL --upscale 1 --json` on the original
(the detector sees the clean photo, so every method is scored on the same pixels). MTCNN's
box runs roughly from the brows to the chin; it is widened by MARGIN of its width and
height on each side, so the hairline, ears and jaw are scored too, rounded outwards and
clamped to the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MARGIN = 0.10


@dataclass(frozen=True)
class Region:
    """Pixels [x0, x1) x [y0, y1) of the original."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def crop(self, image):
        return image[self.y0 : self.y1, self.x0 : self.x1]

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


def region(box: list[float], width: int, height: int, margin: float = MARGIN) -> Region:
    """MTCNN's [x1, y1, x2, y2] (float, possibly outside the image) widened and clamped."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    r = Region(
        max(0, math.floor(x1 - dx)),
        max(0, math.floor(y1 - dy)),
        min(width, math.ceil(x2 + dx)),
        min(height, math.ceil(y2 + dy)),
    )
    if r.width <= 0 or r.height <= 0:
        raise ValueError(f"face box {box} lies outside the {width}x{height} image")
    return r


def restored_by(region_: Region, boxes: list[list[float]], scale: int) -> bool:
    """Whether one of a run's face boxes (found on the degraded image, so in its smaller
    coordinates) has its centre inside the region: that face went through the restorer.
    A face the detector missed on the degraded image is only enlarged by the background
    upsampler, and its scores say so."""
    for x1, y1, x2, y2 in boxes:
        if region_.contains((x1 + x2) / 2 * scale, (y1 + y2) / 2 * scale):
            return True
    return False
