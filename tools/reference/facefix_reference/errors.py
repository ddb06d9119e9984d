"""Failures the reference reports, each with a stable code (the worker's codes where one
exists) so that callers and tests can tell a bad input from a bad model."""


class ReferenceError(Exception):
    """Base class: `code` is stable, the message is for people."""

    code = "internal"
    #: Process exit status of the CLI for this failure.
    exit_status = 1


class BadInput(ReferenceError):
    """The input image cannot be used (unreadable, empty, unsupported sample type)."""

    exit_status = 2

    def __init__(self, message, code="corrupt-image"):
        super().__init__(message)
        self.code = code


class BadModel(ReferenceError):
    """A model file is missing or does not follow the contract the reference expects."""

    code = "bad-model"
    exit_status = 2


class BadRequest(ReferenceError):
    """An option the pipeline cannot honour (output format, upscale, provider)."""

    code = "invalid-option"
    exit_status = 2
