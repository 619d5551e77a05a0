"""The one grammar for naming models and datasets: ``scheme:value[@revision]``.

The same string works in the GUI, study files and the CLI, e.g. ``builtin:digits-cnn``,
``file:models/x.safetensors``, ``folder:data/photos``, ``csv:data/t.csv``,
``hf:google/vit-base-patch16-224@main``, ``artifact:finetuning/rot``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from engine.core.errors import SourceError, os_reason

MODEL_SCHEMES = ("builtin", "file", "hf", "artifact")
DATA_SCHEMES = ("builtin", "folder", "csv", "parquet", "hf")
LOCAL_SCHEMES = ("file", "folder", "csv", "parquet")


@dataclass(frozen=True)
class Source:
    scheme: str
    value: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}" + (f"@{self.revision}" if self.revision else "")

    @property
    def is_local_path(self) -> bool:
        return self.scheme in LOCAL_SCHEMES or (self.scheme == "hf" and _looks_like_path(self.value))

    def path(self, root: Path) -> Path:
        """Resolve a local path against the project folder (absolute paths are the user's choice)."""
        p = Path(self.value).expanduser()
        return p if p.is_absolute() else (root / p)


def outside_path(text: str, root: Path, *, kind: str = "model") -> Path | None:
    """Where a local source leads when that is outside the project folder ``root`` (None: inside, or not local).

    ``../data``, an absolute path elsewhere, or a symlink out of the project all count: a copy of the
    project folder would not carry those files.
    """
    try:
        src = parse_source(text, kind=kind)
    except SourceError:
        return None
    if not src.is_local_path:
        return None
    path = src.path(root).resolve()
    return None if path.is_relative_to(Path(root).resolve()) else path


def _looks_like_path(value: str) -> bool:
    return value.startswith((".", "/", "~"))


def parse_source(text: str, *, kind: str = "model") -> Source:
    """Parse a source string for a model (``kind='model'``) or a dataset (``kind='data'``)."""
    allowed = MODEL_SCHEMES if kind == "model" else DATA_SCHEMES
    if not isinstance(text, str) or ":" not in text:
        raise SourceError(
            f"'{text}' is not a {kind} source; expected 'scheme:value' with scheme one of {', '.join(allowed)}."
        )
    scheme, _, rest = text.partition(":")
    scheme = scheme.strip().lower()
    if scheme not in allowed:
        raise SourceError(
            f"Unknown {kind} source scheme '{scheme}' in '{text}'; expected one of {', '.join(allowed)}."
        )
    rest = rest.strip()
    if not rest:
        raise SourceError(f"Source '{text}' names no {kind} after '{scheme}:'.")
    revision = None
    if scheme == "hf" and "@" in rest and not _looks_like_path(rest):
        rest, _, revision = rest.partition("@")
        if not revision:
            raise SourceError(f"Source '{text}' ends with '@' but gives no revision.")
    return Source(scheme, rest, revision)


def hash_path(path: Path) -> str:
    """sha256 of a file, or of every file in a folder (names and contents): a local source's identity."""
    h = hashlib.sha256()
    try:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in files:
            h.update(str(p.relative_to(path) if path.is_dir() else p.name).encode())
            with p.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    except OSError as exc:
        raise SourceError(f"Cannot read {exc.filename or path}: {os_reason(exc)}.") from None
    return h.hexdigest()
