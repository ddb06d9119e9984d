"""The whole reference pipeline on one image: decode → detect → align → restore →
paste back → encode, with the wall time of each stage."""

import time

import cv2

from .align import align_face, filter_faces
from .decode import decode_image
from .encode import encode_image, format_for_ext
from .errors import BadRequest
from .mtcnn import MTCNN
from .retinaface import RetinaFace
from .paste import paste_back
from .restore import DEFAULT_FIDELITY, Restorer

MAX_UPSCALE = 8
DETECTORS = ("mtcnn", "retinaface")
STAGES = ("decode", "detect", "align", "restore", "paste", "encode")


class Stopwatch:
    """Milliseconds per named stage; `total` from creation to `finish()`."""

    def __init__(self):
        self.started = time.perf_counter()
        self.ms = dict.fromkeys(STAGES, 0.0)

    def timed(self, stage, fn, *args, **kwargs):
        t = time.perf_counter()
        result = fn(*args, **kwargs)
        self.ms[stage] += (time.perf_counter() - t) * 1000.0
        return result

    def finish(self):
        self.ms["total"] = (time.perf_counter() - self.started) * 1000.0
        return self.ms


class Pipeline:
    """Models loaded once; `process` runs one image.

    `restorer`: ONNX restorer path; `detector_dir`: folder with pnet/rnet/onet.onnx
    (`detector` 'mtcnn') or the RetinaFace ONNX file (`detector` 'retinaface'), only
    needed without `aligned`; `threads`: ONNX Runtime intra-op and OpenCV threads (0 =
    their defaults); `provider`: 'cpu', 'cuda' or 'auto' for the restorer (the
    detector always runs on the CPU, whose numbers the worker matches).
    """

    def __init__(self, restorer, detector_dir=None, threads=0, provider="cpu",
                 detector="mtcnn"):
        started = time.perf_counter()
        if detector not in DETECTORS:
            raise BadRequest("detector must be one of %s" % ", ".join(DETECTORS))
        if threads > 0:
            cv2.setNumThreads(threads)
        self.restorer = Restorer(restorer, threads, provider)
        kind = RetinaFace if detector == "retinaface" else MTCNN
        self.detector = kind(detector_dir, threads) if detector_dir else None
        self.model_load_ms = (time.perf_counter() - started) * 1000.0

    def process(self, data, ext=".png", upscale=2, aligned=False, only_center_face=False,
                fidelity=DEFAULT_FIDELITY, keep_alpha=False, full_canvas=False):
        """Restores the faces of the encoded image `data`; the output is encoded in the
        format of file extension `ext`. Returns (encoded bytes, BGR image, metadata)."""
        fmt = format_for_ext(ext)
        if not isinstance(upscale, int) or not 1 <= upscale <= MAX_UPSCALE:
            raise BadRequest("upscale %r is out of range 1-%d" % (upscale, MAX_UPSCALE))
        if not aligned and self.detector is None:
            raise BadRequest("face detection needs the detector's model (--detector-dir)")
        watch = Stopwatch()
        decoded = watch.timed("decode", decode_image, data)
        h, w = decoded.bgr.shape[:2]
        size = self.restorer.size
        faces, stats, num_detected = [], None, 0
        if aligned:
            crops = [watch.timed("align", cv2.resize, decoded.bgr, (size, size),
                                 interpolation=cv2.INTER_LINEAR)]
        else:
            found, stats = watch.timed("detect", self.detector.detect, decoded.bgr)
            num_detected = len(found)
            faces = filter_faces(found, w, h, only_center_face)
            crops = []
            for face in faces:
                crop, m = watch.timed("align", align_face, decoded.bgr, face["landmarks"], size)
                face["affine"] = m
                crops.append(crop)
        restored = watch.timed("restore", self.restorer.restore, crops, fidelity)
        if aligned:
            image = restored[0]
        else:
            image, inverses = watch.timed("paste", paste_back, decoded.bgr, restored,
                                          [f["affine"] for f in faces], upscale, full_canvas)
            for face, inv in zip(faces, inverses):
                face["affine"] = face["affine"].tolist()
                face["inverse_affine"] = inv.tolist()
        alpha = decoded.alpha if keep_alpha else None
        encoded = watch.timed("encode", encode_image, image, fmt, alpha)
        meta = {
            "image_size": [w, h],
            "output_size": [image.shape[1], image.shape[0]],
            "upscale": upscale,
            "aligned": aligned,
            "only_center_face": only_center_face,
            "source": decoded.source,
            "restorer": self.restorer.describe(fidelity),
            "device": self.restorer.device,
            "num_detected": num_detected,
            "num_faces": len(faces),
            "num_restored": len(crops),
            "faces": faces,
            "timings_ms": watch.finish(),
            "model_load_ms": self.model_load_ms,
        }
        if stats is not None:
            meta["detector_stats"] = stats
        return encoded, image, meta
