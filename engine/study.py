"""Study files: TOML validated by a pydantic schema, with errors a person can act on.

A study file is data, never code. Every problem is reported as one sentence naming the file, the
line when it can be found, the key path and what was expected.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.core.errors import Problem, SourceError, StudyFileError, os_reason
from engine.conditions.catalog import CORRUPTION_NAMES, SEVERITIES, TABULAR_SHIFT_NAMES, TEXT_SHIFT_NAMES
from engine.core.sources import outside_path, parse_source
from engine.core.messages import explain, problem_at

SCHEMA_VERSION = 1
STUDY_SUFFIX = ".study.toml"
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
# Seeds are stored as 64-bit integers and fed to numpy and torch generators: 0 ≤ seed ≤ 2**63 − 1.
MAX_SEED = 2**63 - 1
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
METRIC_NAMES = ("accuracy", "macro_f1", "nll", "ece", "brier", "worst_group_accuracy")


class _Strict(BaseModel):
    """Unknown keys are errors, and values must have the TOML type the field needs: ``"yes"`` is not
    ``true`` and ``"3"`` is not ``3`` (pydantic strict mode; an integer still counts as a number)."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class StudyMeta(_Strict):
    name: Identifier
    kind: Literal["shift"] = "shift"
    title: str = ""
    description: str = ""
    seeds: list[Seed] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("seeds must not repeat")
        return v


class TrainSpec(_Strict):
    """Overrides of a built-in model's training recipe."""

    epochs: int | None = Field(default=None, ge=1, le=1000)
    lr: float | None = Field(default=None, gt=0, le=1)
    batch_size: int | None = Field(default=None, ge=1, le=65536)
    weight_decay: float | None = Field(default=None, ge=0, le=1)


class ModelSpec(_Strict):
    id: Identifier
    source: str
    trust_remote_code: bool = False
    train: TrainSpec | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return _checked_source(v, "model")


class DataColumns(_Strict):
    label_column: str = "label"
    text_column: str | None = None
    image_column: str | None = None
    group_column: str | None = None
    feature_columns: list[str] | None = None
    hf_split: str | None = None
    hf_config: str | None = None
    image_size: int | None = Field(default=None, ge=4, le=1024)
    grayscale: bool = False

    def options(self):  # -> DataOptions (import kept local: no numpy at schema import)
        from engine.data.base import DataOptions

        return DataOptions(
            label_column=self.label_column,
            text_column=self.text_column,
            image_column=self.image_column,
            group_column=self.group_column,
            feature_columns=tuple(self.feature_columns) if self.feature_columns else None,
            hf_split=self.hf_split,
            hf_config=self.hf_config,
            image_size=self.image_size,
            grayscale=self.grayscale,
        )


class Splits(_Strict):
    train: float = Field(default=0.7, ge=0, le=1)
    validation: float = Field(default=0.1, ge=0, le=1)
    test: float = Field(default=0.2, gt=0, le=1)

    @model_validator(mode="after")
    def _sum(self) -> "Splits":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must add up to 1 (they add up to {total:g})")
        return self


class DataSpec(DataColumns):
    source: str
    split: Literal["train", "validation", "test", "all"] = "test"
    splits: Splits = Field(default_factory=Splits)
    split_seed: int = Field(default=0, ge=0, le=MAX_SEED)
    max_examples: int | None = Field(default=None, ge=1)

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return _checked_source(v, "data")


class FieldSpec(DataColumns):
    """A second dataset evaluated as a 'field' domain (same classes, different collection)."""

    id: Identifier
    source: str

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return _checked_source(v, "data")


class LabelShiftSpec(_Strict):
    dirichlet_alpha: list[Annotated[float, Field(gt=0, le=1e6)]] = Field(default_factory=list)
    tweak_one: list[Annotated[float, Field(gt=0, lt=1)]] = Field(default_factory=list)
    imbalance_ratio: list[Annotated[float, Field(ge=1, le=1e6)]] = Field(default_factory=list)


class GroupShiftSpec(_Strict):
    shares: list[Annotated[float, Field(gt=0, lt=1)]] = Field(min_length=1)
    groups: list[str] | None = None


class ShiftSpec(_Strict):
    clean: bool = True
    corruptions: list[str] = Field(default_factory=list)
    severities: list[int] = Field(default_factory=lambda: list(SEVERITIES))
    tabular: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)
    label_shift: LabelShiftSpec | None = None
    group_shift: GroupShiftSpec | None = None
    field: list[FieldSpec] = Field(default_factory=list)

    @field_validator("corruptions")
    @classmethod
    def _corruptions(cls, v: list[str]) -> list[str]:
        return _known(v, CORRUPTION_NAMES, "corruption")

    @field_validator("tabular")
    @classmethod
    def _tabular(cls, v: list[str]) -> list[str]:
        return _known(v, TABULAR_SHIFT_NAMES, "tabular shift")

    @field_validator("text")
    @classmethod
    def _text(cls, v: list[str]) -> list[str]:
        return _known(v, TEXT_SHIFT_NAMES, "text shift")

    @field_validator("severities")
    @classmethod
    def _severities(cls, v: list[int]) -> list[int]:
        bad = [s for s in v if s not in SEVERITIES]
        if bad:
            raise ValueError(f"severity {bad[0]} is outside 1–5; severities are integers from 1 (mild) to 5 (strong)")
        if not v:
            raise ValueError("give at least one severity from 1 to 5")
        return sorted(set(v))


class MetricsSpec(_Strict):
    names: list[str] = Field(default_factory=lambda: ["accuracy", "macro_f1", "nll", "ece", "brier"])
    bootstrap: int = Field(default=1000, ge=0, le=100_000)
    level: float = Field(default=0.95, gt=0.5, lt=1)

    @field_validator("names")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        v = _known(v, METRIC_NAMES, "metric")
        if "accuracy" not in v:
            v = ["accuracy", *v]
        return v


class ExecutionSpec(_Strict):
    backend: Literal["loky", "dask", "sequential"] = "loky"
    workers: int | None = Field(default=None, ge=1, le=512)
    address: str | None = None  # dask scheduler address; None starts a local cluster
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    batch_size: int = Field(default=512, ge=1, le=65536)


class Study(_Strict):
    schema_version: int
    study: StudyMeta
    models: list[ModelSpec] = Field(min_length=1)
    data: DataSpec
    shift: ShiftSpec = Field(default_factory=ShiftSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)

    @field_validator("schema_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"schema_version {v} is not supported; this Juxta reads schema_version = {SCHEMA_VERSION}")
        return v

    @model_validator(mode="after")
    def _unique_ids(self) -> "Study":
        ids = [m.id for m in self.models]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"model id '{dup[0]}' is used twice; every [[models]] entry needs its own id")
        fids = [f.id for f in self.shift.field]
        if len(set(fids)) != len(fids):
            raise ValueError("every [[shift.field]] entry needs its own id")
        return self

    @property
    def name(self) -> str:
        return self.study.name


def _checked_source(text: str, kind: str) -> str:
    try:
        parse_source(text, kind=kind)
    except SourceError as exc:
        raise ValueError(exc.message.rstrip(".")) from None
    return text


def _known(values: list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    for v in values:
        if v not in allowed:
            raise ValueError(f"unknown {what} '{v}'; expected one of {', '.join(allowed)}")
    if len(set(values)) != len(values):
        raise ValueError(f"a {what} is listed twice")
    return list(values)


# ---------------------------------------------------------------------------------------------
# Loading and error messages


def parse_study_text(text: str, path: str = "<study>") -> Study:
    """Parse and validate study TOML, raising StudyFileError with every problem found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"\s*\(at line (\d+), column (\d+)\)", str(exc))
        if at is None:
            raise StudyFileError(path, [f"is not valid TOML: {exc}"]) from None
        reason = str(exc)[: at.start()] + str(exc)[at.end():]
        raise StudyFileError(path, [Problem(f"not valid TOML: {reason} (column {at.group(2)})", (), int(at.group(1)))]) from None
    try:
        return Study.model_validate(raw)
    except ValidationError as exc:
        raise StudyFileError(path, [explain(err, Study, text) for err in exc.errors()]) from None


def load_study(path: str | Path) -> Study:
    """Read a ``*.study.toml`` file; errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise StudyFileError(str(p), ["file not found"])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StudyFileError(str(p), ["is not UTF-8 text"]) from None
    except OSError as exc:
        raise StudyFileError(str(p), [f"cannot be read: {os_reason(exc)}"]) from None
    return parse_study_text(text, str(p))


def source_entries(study: Study) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Every source a study names: (key path, source text, 'model' or 'data')."""
    entries: list[tuple[tuple[str | int, ...], str, str]] = [
        (("models", i, "source"), m.source, "model") for i, m in enumerate(study.models)
    ]
    entries.append((("data", "source"), study.data.source, "data"))
    entries += [(("shift", "field", i, "source"), f.source, "data") for i, f in enumerate(study.shift.field)]
    return entries


def outside_project_sources(study: Study, root: Path) -> list[tuple[tuple[str | int, ...], str, Path]]:
    """The study's sources that read files outside the project folder: (key path, source, resolved path).

    Allowed (the user wrote the path), but a shared copy of the project would be incomplete, so
    validation and the report's appendix say so.
    """
    out = []
    for key, value, kind in source_entries(study):
        path = outside_path(value, root, kind=kind)
        if path is not None:
            out.append((key, value, path))
    return out


def outside_project_warnings(study: Study, root: Path) -> list[Problem]:
    """One validation warning per source that reads outside the project."""
    return [Problem(f"'{value}' reads outside the project ({path}); a copy of the project folder will not include it",
                    key) for key, value, path in outside_project_sources(study, root)]


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


def study_text(path: str | Path) -> str | None:
    """The text of a study file, for line numbers in messages (None when it cannot be read)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def check_local_sources(study: Study, root: Path, path: str = "<study>", text: str | None = None) -> None:
    """Check that every local file or folder a study names exists (relative to the project).

    ``text`` is the study file's text, for line numbers; by default it is read from ``path``.
    """
    text = text if text is not None else study_text(path)
    problems: list[Problem] = []
    for key, value, kind in source_entries(study):
        try:
            src = parse_source(value, kind=kind)
        except SourceError as exc:
            problems.append(problem_at(text, key, exc.message))
            continue
        if src.is_local_path and not src.path(root).exists():
            problems.append(problem_at(text, key, f"'{src.value}' does not exist (looked in {src.path(root)})"))
        elif src.is_local_path and (reason := unreadable(src.path(root))):
            problems.append(problem_at(text, key, f"cannot read '{src.value}' ({src.path(root)}): {reason}"))
    data_scheme = parse_source(study.data.source, kind="data").scheme
    if study.shift.corruptions and data_scheme in ("csv", "parquet"):
        problems.append(problem_at(text, ("shift", "corruptions"), "image corruptions need image data; this is a table "
                                   "or text file, use [shift].tabular or [shift].text"))
    if problems:
        raise StudyFileError(path, problems)


def study_files(project_root: Path) -> list[Path]:
    return sorted(project_root.glob(f"*{STUDY_SUFFIX}"))
