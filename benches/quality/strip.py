"""Side-by-side strips: each face as every method left it, degraded | bicubic | each
restorer | original, under a row of labels.

Every tile is the face's scoring region scaled to one height: enlarged by pixel
repetition (so no tile gains a smoothing the method did not do) or reduced by area
averaging. `strip.png` has one row per image, its middle-sized face (the collage's
largest face is the Grace Hopper portrait again, its smaller ones are where restorers
struggle); `strip_<image>.png` has every face of that image.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from bench import ImageResult

ORIGINAL = "original"
LABEL_HEIGHT = 18
GAP = 2
BACKGROUND = (40, 40, 40)
TEXT = (235, 235, 235)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _tile(crop: np.ndarray, height: int) -> np.ndarray:
    h, w = crop.shape[:2]
    width = max(1, round(w * height / h))
    interpolation = cv2.INTER_NEAREST if height >= h else cv2.INTER_AREA
    return cv2.resize(crop, (width, height), interpolation=interpolation)


def _label(text: str, width: int) -> np.ndarray:
    """A tile-wide band with the text centred, shrunk until it fits."""
    band = np.full((LABEL_HEIGHT, width, 3), BACKGROUND, np.uint8)
    scale = 0.45
    while True:
        (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
        if tw <= width - 4 or scale <= 0.25:
            break
        scale -= 0.05
    origin = (max(2, (width - tw) // 2), (LABEL_HEIGHT + th) // 2)
    cv2.putText(band, text, origin, FONT, scale, TEXT, 1, cv2.LINE_AA)
    return band


def _row(result: ImageResult, face: int, height: int, labelled: bool) -> np.ndarray:
    region = result.regions[face]
    columns = [(m.name, region.crop(m.output)) for m in result.methods] + [(ORIGINAL, region.crop(result.original))]
    pieces = []
    for name, crop in columns:
        tile = _tile(crop, height)
        if labelled:
            tile = np.vstack([_label(name, tile.shape[1]), tile])
        pieces += [tile, np.full((tile.shape[0], GAP, 3), BACKGROUND, np.uint8)]
    return np.hstack(pieces[:-1])


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of different widths (face regions differ in shape), left-aligned."""
    width = max(r.shape[1] for r in rows)
    padded = []
    for r in rows:
        pad = np.full((r.shape[0], width - r.shape[1], 3), BACKGROUND, np.uint8)
        padded += [np.hstack([r, pad]), np.full((GAP, width, 3), BACKGROUND, np.uint8)]
    return np.vstack(padded[:-1])


def _middle_face(result: ImageResult) -> int:
    """The lower median by area: the face itself when there is one."""
    by_area = sorted(range(len(result.regions)), key=lambda i: result.regions[i].width * result.regions[i].height)
    return by_area[(len(by_area) - 1) // 2]


def _save(path: Path, rgb: np.ndarray) -> None:
    # Strong compression: the overview is committed for the README (OpenCV's default is 1).
    if not cv2.imwrite(str(path), rgb[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"cannot write {path}")


def write(out_dir: Path, results: list[ImageResult], height: int) -> list[Path]:
    # A strip of an image this run did not score would pass for one of its results.
    for old in out_dir.glob("strip_*.png"):
        old.unlink()
    written = []
    # Each row carries its own labels: rows differ in width, so one header would not line up.
    overview = _stack([_row(r, _middle_face(r), height, True) for r in results])
    _save(out_dir / "strip.png", overview)
    written.append(out_dir / "strip.png")
    for r in results:
        path = out_dir / f"strip_{Path(r.name).stem}.png"
        _save(path, _stack([_row(r, f, height, True) for f in range(len(r.regions))]))
        written.append(path)
    return written
