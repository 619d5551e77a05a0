"""The study file's common part, and reading study files.

Every study file starts the same way whatever its kind::

    schema_version = 1
    [study]
    name = "robustness"
    kind = "shift"          # which kind's tables follow (default "shift", the first kind)
    seeds = [0, 1, 2]

and may end with ``[metrics]`` and ``[execution]``. ``parse_study_text`` reads the TOML, looks at
``[study].kind``, and validates the whole file against that kind's spec model (a subclass of
:class:`StudyFile`), so every problem comes back at once, as one sentence with its key path and line.
The mapping from kind names to spec models is passed in (``engine.kinds`` passes the registry's):
this module knows no kind.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.core.errors import Problem, SourceError, StudyFileError, os_reason
from engine.core.messages import HEADER_WORDS, Words, explain, line_of, problem_at
from engine.core.sources import outside_path, parse_source
from engine.metrics import METRICS

SCHEMA_VERSION = 1
STUDY_SUFFIX = ".study.toml"
# Study files written before there were several kinds have no [study].kind: they are shift studies.
DEFAULT_KIND = "shift"
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
# Seeds are stored as 64-bit integers and fed to numpy and torch generators: 0 ≤ seed ≤ 2**63 − 1.
MAX_SEED = 2**63 - 1
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
# key path, source text, "model" or "data": every source a study names, for file checks and the appendix
SourceEntry = tuple[tuple[str | int, ...], str, str]


class Strict(BaseModel):
    """Unknown keys are errors, and values must have the TOML type the field needs: ``"yes"`` is not
    ``true`` and ``"3"`` is not ``3`` (pydantic strict mode; an integer still counts as a number)."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class StudyMeta(Strict):
    name: Identifier
    kind: str = DEFAULT_KIND
    title: str = ""
    description: str = ""
    seeds: list[Seed] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("seeds must not repeat")
        return v


class MetricsSpec(Strict):
    """Which metrics every evaluation computes, and their bootstrap intervals."""

    names: list[str] = Field(default_factory=lambda: ["accuracy", "macro_f1", "nll", "ece", "brier"])
    bootstrap: int = Field(default=1000, ge=0, le=100_000)
    level: float = Field(default=0.95, gt=0.5, lt=1)

    @field_validator("names")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        v = known(v, tuple(METRICS), "metric")
        if "accuracy" not in v:
            v = ["accuracy", *v]
        return v


class ExecutionSpec(Strict):
    """Where and how a study's cells run (read by ``engine.core.execute``, whatever the kind)."""

    backend: Literal["loky", "dask", "sequential"] = "loky"
    workers: int | None = Field(default=None, ge=1, le=512)
    address: str | None = None  # dask scheduler address; None starts a local cluster
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    batch_size: int = Field(default=512, ge=1, le=65536)


class StudyFile(Strict):
    """The part every study file shares. A kind's spec subclasses it, adds its own tables, and sets
    ``KIND`` (its ``[study].kind``) and ``WORDS`` (what its fields are called in messages)."""

    KIND: ClassVar[str] = ""
    WORDS: ClassVar[Words] = HEADER_WORDS

    schema_version: int
    study: StudyMeta
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)

    @field_validator("schema_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"schema_version {v} is not supported; this Juxta reads schema_version = {SCHEMA_VERSION}")
        return v

    @model_validator(mode="after")
    def _kind(self) -> "StudyFile":
        if self.KIND and self.study.kind != self.KIND:
            raise ValueError(f"this is a {self.KIND} study file, but [study].kind is '{self.study.kind}'")
        return self

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def kind(self) -> str:
        return self.study.kind


def checked_source(text: str, kind: str) -> str:
    """A pydantic validator's body for a source field: the source grammar's message, without a trailing period."""
    try:
        parse_source(text, kind=kind)
    except SourceError as exc:
        raise ValueError(exc.message.rstrip(".")) from None
    return text


def known(values: list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    """``values`` when each is one of ``allowed`` and none repeats; else a ValueError naming the choices."""
    for v in values:
        if v not in allowed:
            raise ValueError(f"unknown {what} '{v}'; expected one of {', '.join(allowed)}")
    if len(set(values)) != len(values):
        raise ValueError(f"a {what} is listed twice")
    return list(values)


# ---------------------------------------------------------------------------------------------
# reading


def parse_study_text(text: str, path: str, specs: Mapping[str, type[StudyFile]]) -> StudyFile:
    """Parse and validate study TOML against its kind's spec (``specs``: kind name -> spec model),
    raising StudyFileError with every problem found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"\s*\(at line (\d+), column (\d+)\)", str(exc))
        if at is None:
            raise StudyFileError(path, [f"is not valid TOML: {exc}"]) from None
        reason = str(exc)[: at.start()] + str(exc)[at.end():]
        raise StudyFileError(path, [Problem(f"not valid TOML: {reason} (column {at.group(2)})", (), int(at.group(1)))]) from None
    meta = raw.get("study")
    kind = meta.get("kind", DEFAULT_KIND) if isinstance(meta, dict) else DEFAULT_KIND
    if isinstance(kind, str) and kind not in specs:
        key = ("study", "kind")
        raise StudyFileError(path, [Problem(f"unknown study kind '{kind}'; expected one of {', '.join(specs)}",
                                            key, line_of(text, key))])
    spec = specs[kind] if isinstance(kind, str) else specs[DEFAULT_KIND]  # a non-text kind: its spec says so
    try:
        return spec.model_validate(raw)
    except ValidationError as exc:
        raise StudyFileError(path, [explain(err, spec, text) for err in exc.errors()]) from None


def read_study_text(path: str | Path) -> str:
    """The text of a ``*.study.toml`` file; errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise StudyFileError(str(p), ["file not found"])
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StudyFileError(str(p), ["is not UTF-8 text"]) from None
    except OSError as exc:
        raise StudyFileError(str(p), [f"cannot be read: {os_reason(exc)}"]) from None


def study_text(path: str | Path) -> str | None:
    """The text of a study file, for line numbers in messages (None when it cannot be read)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def study_files(project_root: Path) -> list[Path]:
    return sorted(project_root.glob(f"*{STUDY_SUFFIX}"))


# ---------------------------------------------------------------------------------------------
# the files a study reads


def unreadable(path: Path) -> str | None:
    """Why a local file or folder cannot be read ('permission denied', …), or None when it can."""
    try:
        if path.is_dir():
            next(iter(path.iterdir()), None)
        else:
            with path.open("rb") as fh:
                fh.read(1)
    except OSError as exc:
        return os_reason(exc)
    return None


def local_source_problems(entries: list[SourceEntry], root: Path, text: str | None) -> list[Problem]:
    """One problem per source that is malformed, or a local file or folder that is missing or unreadable
    (paths relative to the project ``root``; ``text`` is the study file's, for line numbers)."""
    problems: list[Problem] = []
    for key, value, kind in entries:
        try:
            src = parse_source(value, kind=kind)
        except SourceError as exc:
            problems.append(problem_at(text, key, exc.message))
            continue
        if src.is_local_path and not src.path(root).exists():
            problems.append(problem_at(text, key, f"'{src.value}' does not exist (looked in {src.path(root)})"))
        elif src.is_local_path and (reason := unreadable(src.path(root))):
            problems.append(problem_at(text, key, f"cannot read '{src.value}' ({src.path(root)}): {reason}"))
    return problems


def outside_project_sources(entries: list[SourceEntry], root: Path) -> list[tuple[tuple[str | int, ...], str, Path]]:
    """The sources that read files outside the project folder: (key path, source, resolved path).

    Allowed (the user wrote the path), but a shared copy of the project would be incomplete, so
    validation and the report's appendix say so.
    """
    out = []
    for key, value, kind in entries:
        path = outside_path(value, root, kind=kind)
        if path is not None:
            out.append((key, value, path))
    return out


def outside_project_warnings(entries: list[SourceEntry], root: Path) -> list[Problem]:
    """One validation warning per source that reads outside the project."""
    return [Problem(f"'{value}' reads outside the project ({path}); a copy of the project folder will not include it",
                    key) for key, value, path in outside_project_sources(entries, root)]
