"""ONNX Runtime sessions with the options the worker uses (all graph optimisations, one
inter-op thread, N intra-op threads), so both run the same kernels on the same data."""

import os

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from .errors import BadModel, BadRequest

PROVIDERS = ("cpu", "cuda", "auto")
# What onnxruntime raises for a file that is not a usable model (its own exception
# types, not derived from RuntimeError).
LOAD_ERRORS = (ort_state.Fail, ort_state.InvalidArgument, ort_state.InvalidGraph,
               ort_state.InvalidProtobuf, ort_state.NoSuchFile, ort_state.NotImplemented,
               ort_state.RuntimeException)


def provider_list(provider):
    """ONNX Runtime providers for 'cpu', 'cuda' (refused when unavailable) or 'auto'
    (CUDA when available, else CPU)."""
    if provider not in PROVIDERS:
        raise BadRequest("provider must be one of %s" % ", ".join(PROVIDERS))
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if provider == "cuda" and not has_cuda:
        raise BadRequest("--provider cuda: this onnxruntime has no CUDA provider")
    if provider == "cpu" or not has_cuda:
        return ["CPUExecutionProvider"]
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def open_session(path, threads=0, provider="cpu"):
    """An inference session for `path`; `threads` 0 = ONNX Runtime's default."""
    if not os.path.isfile(path):
        raise BadModel("model not found: %s" % path)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.inter_op_num_threads = 1
    if threads > 0:
        opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(path, sess_options=opts, providers=provider_list(provider))
    except LOAD_ERRORS as e:
        raise BadModel("%s: %s" % (path, e)) from e


def active_device(session):
    """'cuda' when the session's first provider is CUDA, else 'cpu'."""
    return "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
