"""User-facing error types. The CLI prints ``str(err)`` as one line and exits non-zero."""
from __future__ import annotations


class MainstageError(Exception):
    """Base class of errors caused by user input (bad files, bad options), not by bugs."""


class InputFileError(MainstageError, ValueError):
    """An input file cannot be used. ``str(err)`` is ``"<file>: <problem>"`` on one line."""

    def __init__(self, source: str, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{source}: {problem}")
