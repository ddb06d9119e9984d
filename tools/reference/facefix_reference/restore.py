"""The restorer: an ONNX model with GFPGAN's I/O contract.

Input: float32 1 x 3 x S x S, RGB, (x/255 - 0.5)/0.5 in [-1, 1]; output the same, turned
back with clip → (y + 1)/2 · 255 → round half to even → uint8 (basicsr's tensor2img).
An input named `w` or `weight` (facefusion / CodeFormer style) gets the fidelity value;
any other extra input is refused. All arithmetic is float32, as in the worker.
"""

import numpy as np

from .errors import BadModel
from .runtime import active_device, open_session

FIDELITY_INPUTS = ("w", "weight")
DEFAULT_FIDELITY = 0.5
#: Crop size assumed when the model's spatial axes are symbolic.
DEFAULT_SIZE = 512
NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


def to_tensor(bgr):
    """One S x S x 3 BGR uint8 crop → 1 x 3 x S x S float32 RGB in [-1, 1]."""
    x = bgr[:, :, ::-1].astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(0.5)) / np.float32(0.5)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def from_tensor(y):
    """3 x S x S float RGB → S x S x 3 BGR uint8."""
    y = np.clip(y.astype(np.float32), np.float32(-1.0), np.float32(1.0))
    y = np.rint((y + np.float32(1.0)) / np.float32(2.0) * np.float32(255.0))
    return np.ascontiguousarray(y.astype(np.uint8).transpose(1, 2, 0)[:, :, ::-1])


class Restorer:
    """A loaded restorer; `restore(crops, fidelity)` runs it face by face."""

    def __init__(self, path, threads=0, provider="cpu"):
        self.path = path
        self.session = open_session(path, threads, provider)
        self.device = active_device(self.session)
        inputs = self.session.get_inputs()
        image = next((i for i in inputs if i.name == "input"), None)
        image = image or next((i for i in inputs if len(i.shape) == 4), None)
        if image is None:
            raise BadModel("%s: no 4-D image input" % path)
        self.input = image
        self.size = next((d for d in image.shape[2:4] if isinstance(d, int) and d > 0),
                         DEFAULT_SIZE)
        self.fidelity_input = None
        for extra in (i for i in inputs if i.name != image.name):
            if extra.name not in FIDELITY_INPUTS or extra.type not in NUMPY_TYPES:
                raise BadModel("%s: unknown extra input %r (only a float w / weight is fed)"
                               % (path, extra.name))
            self.fidelity_input = extra
        self.output = self.session.get_outputs()[0].name

    def feeds(self, tensor, fidelity):
        """The session's inputs for one crop tensor."""
        feeds = {self.input.name: tensor}
        if self.fidelity_input is not None:
            f = self.fidelity_input
            feeds[f.name] = np.full([1] * len(f.shape), fidelity, dtype=NUMPY_TYPES[f.type])
        return feeds

    def restore(self, crops, fidelity=DEFAULT_FIDELITY):
        """Restored BGR crops, one session run per face (GFPGANer's way)."""
        out = []
        for crop in crops:
            y = self.session.run([self.output], self.feeds(to_tensor(crop), fidelity))[0]
            out.append(from_tensor(y[0]))
        return out

    def describe(self, fidelity):
        """The restorer part of the JSON metadata."""
        meta = {"path": self.path, "input_name": self.input.name,
                "input_type": self.input.type, "size": self.size, "device": self.device,
                "extra_inputs": []}
        if self.fidelity_input is not None:
            f = self.fidelity_input
            meta["extra_inputs"].append({"name": f.name, "dtype": f.type,
                                         "shape": [1] * len(f.shape), "value": fidelity})
        return meta
