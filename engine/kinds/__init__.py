"""The study kinds Juxta knows, registered in one place, and reading a study file through its kind.

``KINDS`` maps the value of ``[study].kind`` to its :class:`~engine.kinds.base.StudyKind`. Adding a kind
is one folder (``engine/kinds/<name>/``) and one line here; nothing else names a kind.
"""

from __future__ import annotations

from pathlib import Path

from engine.core.errors import JuxtaError
from engine.core.header import StudyFile, read_study_text
from engine.core.header import parse_study_text as parse_with
from engine.kinds.base import Description, StudyKind
from engine.kinds.finetune import FinetuneKind
from engine.kinds.merge import MergeKind
from engine.kinds.shift import ShiftKind

KINDS: dict[str, StudyKind] = {kind.name: kind for kind in (ShiftKind(), FinetuneKind(), MergeKind())}

__all__ = ["KINDS", "Description", "StudyKind", "get_kind", "load_study", "parse_study_text"]


def get_kind(name: str) -> StudyKind:
    """The registered kind called ``name``; a plain error listing the known kinds otherwise."""
    if name not in KINDS:
        raise JuxtaError(f"Unknown study kind '{name}'; this Juxta knows {', '.join(KINDS)}.")
    return KINDS[name]


def parse_study_text(text: str, path: str = "<study>") -> StudyFile:
    """Parse and validate a study file's text with its kind's spec; StudyFileError lists every problem."""
    return parse_with(text, path, {name: kind.spec for name, kind in KINDS.items()})


def load_study(path: str | Path) -> StudyFile:
    """Read and validate a ``*.study.toml`` file; errors name the file."""
    return parse_study_text(read_study_text(path), str(path))
