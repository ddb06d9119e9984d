"""Writing a model file, the same way for the scripts in models/ that make one.

build_default_restorer.py keeps its own copy of these lines: the worker images copy
that script alone into the build stage.
"""

import os


def write_model_file(path, model):
    """Serialise `model` deterministically (the same graph gives the same bytes, which
    the pinned sha256 values rely on) and write it under a temporary name first, so an
    interrupted run never leaves half a file at `path`. Returns the bytes written."""
    data = model.SerializeToString(deterministic=True)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return data
