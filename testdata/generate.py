#!/usr/bin/env python3
"""Writes the test files that are made from code instead of being committed.

Four files are too big for git or would only repeat what a few lines of code can make:

  images/large_7680x4320.jpg                      33 MP photo with one face (OpenCV)
  bad/bomb_60000x60000_1bit_valid.png             valid 3.6 Gpx PNG, all black
  bad/bomb_60000x60000_rgb_header_claim.png       IHDR claims 3.6 Gpx RGB, few rows follow
  bad/bomb_12000x12000_1bit_below_pillow_limit.png  valid 144 Mpx PNG, all black

Every output must hash to the sha256 pinned in `generated.sha256` (beside this file): a
file that differs is deleted and the run fails, naming the library versions it was made
with, so no test ever runs on an unpinned file.

The PNG bombs are streamed: rows of zeros go through `zlib.compressobj` a slice at a
time and the chunks are written by hand, so making a 3.6 gigapixel image needs a few
megabytes of memory. The JPEG needs numpy and opencv-python-headless (the project venv
made by scripts/setup-models.sh); its bytes depend on their versions, which is why they
are pinned there.

Usage: generate.py [--only NAME]... [--write-pins]
  --only NAME    make only this file (a path relative to testdata/); repeatable
  --write-pins   make every file and rewrite generated.sha256 from the results (after a
                 deliberate change of the recipe or of the pinned library versions)
"""

import argparse
import hashlib
import os
import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINS = HERE / "generated.sha256"
# Finished files are moved into place from here, so a test listing images/ or bad/
# never sees a half-written file.
STAGING = HERE / ".staging"

# Library versions the pins were made with, for the message when a hash differs.
PINNED_WITH = {"numpy": "2.4.6", "opencv-python-headless": "5.0.0.93", "zlib": "1.2.13"}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_GREY = 0
COLOUR_RGB = 2
# Deflate output is cut into IDAT chunks of this size: the layout depends only on the
# bytes, never on how the compressor happened to return them.
IDAT_SIZE = 1 << 16
# Rows handed to the compressor per call: bounds memory whatever the image size.
ROWS_PER_SLICE = 512


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and the CRC of type and data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def ihdr(width: int, height: int, bit_depth: int, colour_type: int) -> bytes:
    # compression 0 (deflate), filter method 0, no interlace
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))


class IdatWriter:
    """Collects deflate output and writes it as fixed-size IDAT chunks."""

    def __init__(self, out):
        self.out = out
        self.pending = bytearray()

    def add(self, data: bytes):
        self.pending += data
        while len(self.pending) >= IDAT_SIZE:
            self.out.write(png_chunk(b"IDAT", bytes(self.pending[:IDAT_SIZE])))
            del self.pending[:IDAT_SIZE]

    def close(self):
        if self.pending:
            self.out.write(png_chunk(b"IDAT", bytes(self.pending)))
            self.pending.clear()


def black_png(path: Path, width: int, height: int, bit_depth: int, colour_type: int,
              rows_written: int, complete: bool):
    """A PNG whose header says width x height; `rows_written` all-black rows follow.

    Every row is filter byte 0 and zero samples. With `complete` the zlib stream is
    finished (a valid image); without it the stream stops after a sync flush, as if the
    file had been cut off, while every chunk CRC stays valid.
    """
    channels = 3 if colour_type == COLOUR_RGB else 1
    row_len = 1 + (width * channels * bit_depth + 7) // 8
    compressor = zlib.compressobj(level=9, method=zlib.DEFLATED, wbits=15, memLevel=9,
                                  strategy=zlib.Z_DEFAULT_STRATEGY)
    full_slice = bytes(row_len * ROWS_PER_SLICE)
    with open(path, "wb") as out:
        out.write(PNG_SIGNATURE)
        out.write(ihdr(width, height, bit_depth, colour_type))
        idat = IdatWriter(out)
        left = rows_written
        while left > 0:
            rows = min(left, ROWS_PER_SLICE)
            idat.add(compressor.compress(full_slice if rows == ROWS_PER_SLICE else bytes(row_len * rows)))
            left -= rows
        idat.add(compressor.flush(zlib.Z_FINISH if complete else zlib.Z_SYNC_FLUSH))
        idat.close()
        out.write(png_chunk(b"IEND", b""))


def bomb_60000_valid(path: Path):
    black_png(path, 60000, 60000, 1, COLOUR_GREY, rows_written=60000, complete=True)


def bomb_60000_header_claim(path: Path):
    black_png(path, 60000, 60000, 8, COLOUR_RGB, rows_written=4, complete=False)


def bomb_12000_valid(path: Path):
    black_png(path, 12000, 12000, 1, COLOUR_GREY, rows_written=12000, complete=True)


# The large photo: the astronaut enlarged to 1024 x 1024 in the middle of the coffee photo
# enlarged to cover 7680 x 4320 (scaled x12.8 to 7680 x 5120, the middle 4320 rows kept).
LARGE_SIZE = (7680, 4320)
LARGE_FACE_SIDE = 1024
# Baseline, 4:2:0, standard Huffman tables, quality 85: about 1.7 MB.
LARGE_JPEG_QUALITY = 85


def cover(image, width: int, height: int, cv2):
    """`image` scaled (bilinear) to cover width x height, then cropped to its middle."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    scaled = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
    top = (scaled.shape[0] - height) // 2
    left = (scaled.shape[1] - width) // 2
    return scaled[top:top + height, left:left + width]


def large_photo(path: Path):
    try:
        import cv2
    except ImportError as e:
        raise GenerateError(f"the large photo needs opencv-python-headless ({e}); "
                            "run it with the project venv (scripts/setup-models.sh makes it)")

    def read(name):
        image = cv2.imread(str(HERE / "images" / name), cv2.IMREAD_COLOR)
        if image is None:
            raise GenerateError(f"cannot read images/{name}")
        return image

    width, height = LARGE_SIZE
    canvas = cover(read("coffee.png"), width, height, cv2).copy()
    face = cv2.resize(read("astronaut.png"), (LARGE_FACE_SIDE, LARGE_FACE_SIDE), interpolation=cv2.INTER_LINEAR)
    top, left = (height - LARGE_FACE_SIDE) // 2, (width - LARGE_FACE_SIDE) // 2
    canvas[top:top + LARGE_FACE_SIDE, left:left + LARGE_FACE_SIDE] = face
    ok, encoded = cv2.imencode(".jpg", canvas, [
        cv2.IMWRITE_JPEG_QUALITY, LARGE_JPEG_QUALITY,
        cv2.IMWRITE_JPEG_PROGRESSIVE, 0,
        cv2.IMWRITE_JPEG_OPTIMIZE, 0,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    ])
    if not ok:
        raise GenerateError("cv2.imencode refused the large photo")
    path.write_bytes(encoded.tobytes())


RECIPES = {
    "images/large_7680x4320.jpg": large_photo,
    "bad/bomb_60000x60000_1bit_valid.png": bomb_60000_valid,
    "bad/bomb_60000x60000_rgb_header_claim.png": bomb_60000_header_claim,
    "bad/bomb_12000x12000_1bit_below_pillow_limit.png": bomb_12000_valid,
}


class GenerateError(Exception):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_pins() -> dict:
    pins = {}
    for line in PINS.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            pins[name.lstrip("*")] = digest
    missing = set(RECIPES) - set(pins)
    if missing:
        raise GenerateError(f"{PINS.name} has no pin for {', '.join(sorted(missing))}")
    return pins


def versions_in_use() -> dict:
    found = {"zlib": zlib.ZLIB_RUNTIME_VERSION}
    try:
        from importlib.metadata import version
        for package in ("numpy", "opencv-python-headless"):
            found[package] = version(package)
    except Exception:  # noqa: BLE001  (only for the message: a missing package shows as such)
        pass
    return found


def why_different() -> str:
    used = versions_in_use()
    differing = [f"{name} {used.get(name, 'missing')} (pins made with {want})"
                 for name, want in PINNED_WITH.items() if used.get(name) != want]
    if differing:
        return "library versions differ: " + ", ".join(differing)
    return "the library versions match the ones the pins were made with: the recipe or a source image changed"


def make(name: str) -> Path:
    """Makes one file in the staging folder and returns its path there."""
    STAGING.mkdir(exist_ok=True)
    staged = STAGING / Path(name).name
    RECIPES[name](staged)
    return staged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(RECIPES), metavar="NAME")
    parser.add_argument("--write-pins", action="store_true")
    args = parser.parse_args()

    names = sorted(RECIPES) if args.write_pins else (args.only or sorted(RECIPES))
    pins = {} if args.write_pins else read_pins()
    made = {}
    failures = []
    try:
        for name in names:
            staged = make(name)
            digest = sha256_of(staged)
            if not args.write_pins and digest != pins[name]:
                staged.unlink()
                failures.append(f"{name}: sha256 {digest}, pinned {pins[name]}")
                continue
            target = HERE / name
            os.replace(staged, target)
            made[name] = digest
            print(f"generate: {name} ({target.stat().st_size:,} B)")
    except GenerateError as e:
        print(f"generate: error: {e}", file=sys.stderr)
        return 1
    finally:
        if STAGING.is_dir() and not any(STAGING.iterdir()):
            STAGING.rmdir()

    if args.write_pins:
        PINS.write_text("".join(f"{made[n]}  {n}\n" for n in sorted(made)))
        used = versions_in_use()
        print(f"generate: pins written to {PINS.name}, made with {used}")
        if any(used.get(k) != v for k, v in PINNED_WITH.items()):
            print("generate: update PINNED_WITH in this file to those versions", file=sys.stderr)
    if failures:
        for line in failures:
            print(f"generate: error: {line}", file=sys.stderr)
        print(f"generate: the differing files were not kept; {why_different()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
