"""A shift study file: models evaluated on one dataset, clean and under shifts.

``ShiftStudy`` is the whole file's pydantic model (the common header from ``engine.core.header``
plus ``[[models]]``, ``[data]``, ``[shift]`` and ``[metrics]``). A study file is data, never code;
every problem is reported as one sentence naming the file, the line, the key path and what was expected.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator, model_validator

from engine.conditions.catalog import CORRUPTION_NAMES, SEVERITIES, TABULAR_SHIFT_NAMES, TEXT_SHIFT_NAMES
from engine.core.header import Identifier, MetricsSpec, SourceEntry, Strict, StudyFile, checked_source, known
from engine.core.messages import HEADER_WORDS, Words
from engine.data.spec import DATA_WORDS, DataColumns, DataSpec
from engine.models.spec import MODEL_WORDS, ModelSpec

# What charts group a shift evaluation cell by, as stored in its axes (name -> SQL type, for
# engine.core.queries): the condition's family ("gaussian_noise", "dirichlet", …) and severity (1-5 or none).
AXES = {"family": "VARCHAR", "severity": "INTEGER"}

SHIFT_WORDS: dict[str, str | tuple[str, str]] = {
    "shift": "the [shift] table",
    "shift.clean": "the clean setting",
    "shift.corruptions": ("the corruptions", "a corruption"),
    "shift.severities": ("the severities", "a severity"),
    "shift.tabular": ("the table shifts", "a table shift"),
    "shift.text": ("the text shifts", "a text shift"),
    "shift.label_shift": "the label shift settings",
    "shift.label_shift.dirichlet_alpha": ("the Dirichlet α values", "a Dirichlet α"),
    "shift.label_shift.tweak_one": ("the tweak-one shares", "a tweak-one share"),
    "shift.label_shift.imbalance_ratio": ("the imbalance ratios", "an imbalance ratio"),
    "shift.group_shift": "the group shift settings",
    "shift.group_shift.shares": ("the group shares", "a group share"),
    "shift.group_shift.groups": ("the groups", "a group"),
    "shift.field": ("the field datasets", "a [[shift.field]] entry"),
    "shift.field.id": "the field dataset id",
    "shift.field.source": "the field dataset source",
}


class FieldSpec(DataColumns):
    """A second dataset evaluated as a 'field' domain (same classes, different collection)."""

    id: Identifier
    source: str

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return checked_source(v, "data")


class LabelShiftSpec(Strict):
    dirichlet_alpha: list[Annotated[float, Field(gt=0, le=1e6)]] = Field(default_factory=list)
    tweak_one: list[Annotated[float, Field(gt=0, lt=1)]] = Field(default_factory=list)
    imbalance_ratio: list[Annotated[float, Field(ge=1, le=1e6)]] = Field(default_factory=list)


class GroupShiftSpec(Strict):
    shares: list[Annotated[float, Field(gt=0, lt=1)]] = Field(min_length=1)
    groups: list[str] | None = None


class ShiftSpec(Strict):
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
        return known(v, CORRUPTION_NAMES, "corruption")

    @field_validator("tabular")
    @classmethod
    def _tabular(cls, v: list[str]) -> list[str]:
        return known(v, TABULAR_SHIFT_NAMES, "tabular shift")

    @field_validator("text")
    @classmethod
    def _text(cls, v: list[str]) -> list[str]:
        return known(v, TEXT_SHIFT_NAMES, "text shift")

    @field_validator("severities")
    @classmethod
    def _severities(cls, v: list[int]) -> list[int]:
        bad = [s for s in v if s not in SEVERITIES]
        if bad:
            raise ValueError(f"severity {bad[0]} is outside 1–5; severities are integers from 1 (mild) to 5 (strong)")
        if not v:
            raise ValueError("give at least one severity from 1 to 5")
        return sorted(set(v))


class ShiftStudy(StudyFile):
    """The whole file of a shift study."""

    KIND: ClassVar[str] = "shift"
    WORDS: ClassVar[Words] = {**HEADER_WORDS, **MODEL_WORDS, **DATA_WORDS, **SHIFT_WORDS}

    models: list[ModelSpec] = Field(min_length=1)
    data: DataSpec
    shift: ShiftSpec = Field(default_factory=ShiftSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)

    @model_validator(mode="after")
    def _unique_ids(self) -> "ShiftStudy":
        ids = [m.id for m in self.models]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"model id '{dup[0]}' is used twice; every [[models]] entry needs its own id")
        fids = [f.id for f in self.shift.field]
        if len(set(fids)) != len(fids):
            raise ValueError("every [[shift.field]] entry needs its own id")
        return self


def source_entries(study: ShiftStudy) -> list[SourceEntry]:
    """Every source a shift study names: (key path, source text, 'model' or 'data')."""
    entries: list[SourceEntry] = [(("models", i, "source"), m.source, "model") for i, m in enumerate(study.models)]
    entries.append((("data", "source"), study.data.source, "data"))
    entries += [(("shift", "field", i, "source"), f.source, "data") for i, f in enumerate(study.shift.field)]
    return entries
