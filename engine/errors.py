"""Errors a user can act on.

Every error raised for bad input is a ``JuxtaError`` whose message is one plain sentence naming the
file, the field and what was expected. The CLI and the app show the message, never a traceback.
"""

from __future__ import annotations


class JuxtaError(Exception):
    """An error caused by user input (a study file, a model, a dataset), with a readable message."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class StudyFileError(JuxtaError):
    """The study file cannot be read or does not match the schema."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        head = problems[0] if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"{path}: {head}" if len(problems) == 1 else f"{path}: {head}:\n  - " + "\n  - ".join(problems))


class SourceError(JuxtaError):
    """A model or dataset source string is malformed, unknown or cannot be opened."""


class DataError(JuxtaError):
    """A dataset's content is unusable (no rows, NaN, labels outside the model's classes...)."""


class ModelError(JuxtaError):
    """A model cannot be loaded safely or does not fit the data."""


class UnsafeModelError(ModelError):
    """A model file would need unpickling arbitrary objects; it is refused and nothing is executed."""


class CancelledError(Exception):
    """Raised inside a cell when the user cancelled the run; the cell is not written."""
