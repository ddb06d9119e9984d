#!/usr/bin/env python3
"""facefix's reference face pipeline, as a command and as a module.

Command: `python3 tools/reference/facefix_ref.py INPUT OUTPUT [options]` (`--help`).
Module (with this folder on sys.path): `Pipeline(restorer, detector_dir).process(data,
".png", upscale=2)` returns (encoded, image, meta); the stages are importable too.
See README.md next to this file.
"""

import sys

from facefix_reference.align import align_face, filter_faces, umeyama_similarity
from facefix_reference.cli import main
from facefix_reference.decode import decode_image
from facefix_reference.mtcnn import MTCNN
from facefix_reference.paste import inverse_affine, paste_back
from facefix_reference.pipeline import Pipeline
from facefix_reference.restore import Restorer

__all__ = ["MTCNN", "Pipeline", "Restorer", "align_face", "decode_image", "filter_faces",
           "inverse_affine", "paste_back", "umeyama_similarity", "main"]

if __name__ == "__main__":
    sys.exit(main())
