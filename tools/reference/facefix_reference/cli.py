"""`facefix_ref.py INPUT OUTPUT [options]`: the reference pipeline on one image, its JSON
metadata (`--json`) and stage benchmarks (`--bench N`).

Every option can also come from the environment: `--upscale` from FACEFIX_REF_UPSCALE,
`--only-center-face` from FACEFIX_REF_ONLY_CENTER_FACE (1/true/yes), and so on; a flag
on the command line wins. Exit status: 0, 2 for a bad input, model or option, 1 else.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from .encode import format_for_path
from .errors import ReferenceError
from .pipeline import DETECTORS, STAGES, Pipeline
from .restore import DEFAULT_FIDELITY
from .runtime import PROVIDERS

REPO = Path(__file__).resolve().parents[3]
ENV_PREFIX = "FACEFIX_REF_"
TRUE_WORDS = ("1", "true", "yes", "on")
#: Where each detector's model is when --detector-dir is not given.
DEFAULT_MODEL = {"mtcnn": str(REPO / "models" / "mtcnn"),
                 "retinaface": str(REPO / "models" / "retinaface" / "retinaface_mnet025.onnx")}


def env_name(flag):
    return ENV_PREFIX + flag.lstrip("-").upper().replace("-", "_")


def option(parser, flag, help, **kw):
    """Adds `flag` with its default taken from the environment when set there."""
    name = env_name(flag)
    raw = os.environ.get(name)
    if kw.get("action") == "store_true":
        kw["default"] = raw is not None and raw.strip().lower() in TRUE_WORDS
    elif raw is not None:
        try:
            kw["default"] = kw.get("type", str)(raw)
        except ValueError:
            parser.error("%s=%r is not a valid %s" % (name, raw, flag))
    parser.add_argument(flag, help="%s (env %s)" % (help, name), **kw)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="facefix_ref.py",
        description="Reference face restoration: MTCNN or RetinaFace, FFHQ alignment, an ONNX restorer "
                    "with GFPGAN's contract, facexlib's paste-back.")
    p.add_argument("input", help="input image (anything OpenCV decodes)")
    p.add_argument("output", help="output image: .png, .jpg/.jpeg or .webp")
    option(p, "--detector", "face detector: mtcnn or retinaface (default mtcnn)",
           choices=DETECTORS, default="mtcnn")
    option(p, "--detector-dir", "MTCNN: folder with pnet.onnx, rnet.onnx, onet.onnx "
                                "(default models/mtcnn); RetinaFace: the ONNX file (default "
                                "models/retinaface/retinaface_mnet025.onnx)", default=None)
    option(p, "--restorer", "restorer ONNX model (GFPGAN I/O contract)",
           default=str(REPO / "models" / "facefix_usm_512.onnx"))
    option(p, "--upscale", "output scale of the whole image (default 2)", type=int, default=2)
    option(p, "--aligned", "the input is an aligned face: resize to the model size and "
                           "restore it (no detection, no paste-back)", action="store_true")
    option(p, "--only-center-face", "restore only the face nearest the image centre",
           action="store_true")
    option(p, "--fidelity", "value fed to a w / weight model input (default 0.5)",
           type=float, default=DEFAULT_FIDELITY)
    option(p, "--keep-alpha", "re-attach the input's alpha (Lanczos-resized) to PNG and "
                              "WebP outputs", action="store_true")
    option(p, "--full-canvas-paste", "paste on the whole output canvas like facexlib "
                                     "instead of per-face rectangles", action="store_true")
    option(p, "--json", "write metadata and timings here", metavar="META.json", default=None)
    option(p, "--threads", "ONNX Runtime intra-op and OpenCV threads (0 = their defaults)",
           type=int, default=0)
    option(p, "--provider", "where the restorer runs (MTCNN stays on the CPU)",
           choices=PROVIDERS, default="cpu")
    option(p, "--bench", "after one warm-up run, run N more and print the median and "
                         "minimum per stage", type=int, default=0, metavar="N")
    return p.parse_args(argv)


def run_once(pipeline, args):
    """One run, file read counted in `decode` and the write in `encode`."""
    t = time.perf_counter()
    data = Path(args.input).read_bytes()
    read_ms = (time.perf_counter() - t) * 1000.0
    encoded, image, meta = pipeline.process(
        data, os.path.splitext(args.output)[1], upscale=args.upscale, aligned=args.aligned,
        only_center_face=args.only_center_face, fidelity=args.fidelity,
        keep_alpha=args.keep_alpha, full_canvas=args.full_canvas_paste)
    t = time.perf_counter()
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(encoded)
    write_ms = (time.perf_counter() - t) * 1000.0
    ms = meta["timings_ms"]
    ms["decode"] += read_ms
    ms["encode"] += write_ms
    ms["total"] += read_ms + write_ms
    return meta


def bench_stats(runs):
    """Median and minimum per stage over the timed runs."""
    stages = {}
    for stage in STAGES + ("total",):
        values = [r[stage] for r in runs]
        stages[stage] = {"median": statistics.median(values), "min": min(values)}
    return {"runs": len(runs), "warmup": 1, "stages_ms": stages}


def bench_table(bench, name, meta):
    (w, h), (ow, oh) = meta["image_size"], meta["output_size"]
    lines = ["bench: %d runs after 1 warm-up, %s, %d face(s), %dx%d -> %dx%d"
             % (bench["runs"], name, meta["num_faces"], w, h, ow, oh),
             "%-8s %10s %10s" % ("stage", "median ms", "min ms")]
    for stage, st in bench["stages_ms"].items():
        lines.append("%-8s %10.2f %10.2f" % (stage, st["median"], st["min"]))
    return "\n".join(lines)


def summary(meta, name):
    (w, h), (ow, oh) = meta["image_size"], meta["output_size"]
    if meta["aligned"]:
        what = "aligned crop restored"
    else:
        what = "%d face(s) restored (%d detected)" % (meta["num_faces"], meta["num_detected"])
    return "%s: %dx%d -> %dx%d, %s, total %.1f ms" % (
        name, w, h, ow, oh, what, meta["timings_ms"]["total"])


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    name = os.path.basename(args.input)
    try:
        format_for_path(args.output)  # before the models load: fail fast
        detector = None if args.aligned else (args.detector_dir or DEFAULT_MODEL[args.detector])
        pipeline = Pipeline(args.restorer, detector, args.threads, args.provider, args.detector)
        meta = run_once(pipeline, args)
        if args.bench > 0:
            meta["bench"] = bench_stats(
                [run_once(pipeline, args)["timings_ms"] for _ in range(args.bench)])
            print(bench_table(meta["bench"], name, meta))
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(meta, indent=2) + "\n")
    except ReferenceError as e:
        print("facefix_ref: %s: %s [%s]" % (args.input, e, e.code), file=sys.stderr)
        return e.exit_status
    except OSError as e:
        print("facefix_ref: %s" % e, file=sys.stderr)
        return 1
    print(summary(meta, name))
    return 0
