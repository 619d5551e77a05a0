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


def os_reason(exc: OSError) -> str:
    """The operating system's reason in plain lower case: 'permission denied', 'read-only file system', …"""
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def key_text(key: tuple[str | int, ...]) -> str:
    """A key path as a study file spells it: ``("shift", "label_shift", "tweak_one", 0)`` -> ``shift.label_shift.tweak_one[0]``."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


class Problem(str):
    """One problem in a study file: the line people read, and where it is, as data.

    A ``Problem`` *is* the text shown in lists and on the console, e.g.
    ``"line 14: shift.label_shift.tweak_one[0]: a tweak-one share must be less than 1 (got 1.5)."``, so code
    that treats problems as strings keeps working. It also carries:

    * ``key``: the key path as a tuple (``("shift", "label_shift", "tweak_one", 0)``); ``()`` when the
      problem concerns the whole file or no single key;
    * ``line``: the 1-based line of that key in the file, or ``None`` when it cannot be found;
    * ``message``: the sentence alone, in the field's own words, for showing next to the field in a form.
    """

    key: tuple[str | int, ...]
    line: int | None
    message: str

    def __new__(cls, message: str, key: tuple[str | int, ...] = (), line: int | None = None, *, show_key: bool = True):
        text = message if message.endswith((".", "?", "!", ":")) or not (key or line) else message + "."
        where = key_text(tuple(key)) if show_key else ""
        if where:
            text = f"{where}: {text}"
        if line:
            text = f"line {line}: {text}"
        obj = super().__new__(cls, text)
        obj.key, obj.line, obj.message = tuple(key), line, message
        return obj

    def __reduce__(self):
        return (_rebuild_problem, (str(self), self.message, self.key, self.line))


def _rebuild_problem(text: str, message: str, key: tuple, line: int | None) -> Problem:
    obj = str.__new__(Problem, text)
    obj.key, obj.line, obj.message = tuple(key), line, message
    return obj


class StudyFileError(JuxtaError):
    """The study file cannot be read or does not match the schema.

    ``path`` names the file. ``problems`` lists every problem found, each a :class:`Problem`: a string
    (the line the CLI prints) that also carries ``key`` (key path tuple), ``line`` and ``message`` (the
    plain sentence), so a form can put each message next to its field. Plain strings given to the
    constructor become problems with no key and no line.
    """

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems: list[Problem] = [p if isinstance(p, Problem) else Problem(str(p)) for p in problems]
        shown = self.problems
        head = shown[0] if len(shown) == 1 else f"{len(shown)} problems"
        super().__init__(f"{path}: {head}" if len(shown) == 1 else f"{path}: {head}:\n  - " + "\n  - ".join(shown))


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
