"""A merge study file: a base, experts with one evaluation task each, and merge methods with grids.

``MergeStudy`` is the whole file's pydantic model (the common header plus ``[base]``, ``[data]``,
``[[experts]]``, ``[merge]`` and ``[metrics]``). Method names are checked here against
``engine.kinds.merge.catalog`` (no torch); each method's parameters and bounds are checked when the
study is planned, where the method registry is imported.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from engine.conditions.catalog import CORRUPTION_NAMES, SEVERITIES, TABULAR_SHIFT_NAMES, TEXT_SHIFT_NAMES
from engine.core.header import Identifier, MetricsSpec, SourceEntry, Strict, StudyFile, checked_source
from engine.core.messages import HEADER_WORDS, Words
from engine.data.spec import DATA_WORDS, DataSpec
from engine.kinds.merge.catalog import METHOD_KINDS
from engine.models.spec import MODEL_WORDS, TrainSpec

STUDY_METHODS = tuple(name for name, how in METHOD_KINDS.items() if how != "post")
ENTRY_KEYS = ("method", "id", "conventions", "fit_on", "batch_norm")  # the rest of a method entry are its parameters
PRESET_NAMES = ("mergekit", "paper")
GRID_LIMIT = 1000  # configurations per method entry

MERGE_WORDS: dict[str, str | tuple[str, str]] = {
    "base": "the [base] table",
    "base.source": "the base model source",
    "base.trust_remote_code": "the trust_remote_code setting",
    "base.train": "the base's training overrides",
    "base.train.epochs": "the number of training epochs",
    "base.train.lr": "the learning rate",
    "base.train.batch_size": "the training batch size",
    "base.train.weight_decay": "the weight decay",
    "experts": ("the [[experts]] list", "an [[experts]] entry"),
    "experts.id": "the expert id",
    "experts.source": "the expert's model source",
    "experts.condition": "the expert's task condition",
    "experts.data": "the expert's task dataset",
    "experts.data.source": "the expert's dataset source",
    "experts.trust_remote_code": "the trust_remote_code setting",
    "experts.tune": "the expert's fine-tuning settings",
    "experts.tune.epochs": "the number of fine-tuning epochs",
    "experts.tune.lr": "the fine-tuning learning rate",
    "experts.tune.batch_size": "the fine-tuning batch size",
    "experts.tune.weight_decay": "the fine-tuning weight decay",
    "merge": "the [merge] table",
    "merge.conventions": "the conventions preset",
    "merge.tuning": "the split coefficients are chosen on",
    "merge.heads": ("the task heads", "a task head"),
    "merge.methods": ("the merge methods", "a merge method entry"),
    "merge.methods.method": "the merge method",
    "merge.methods.id": "the method entry's id",
    "merge.methods.conventions": "the method entry's conventions preset",
    "merge.methods.fit_on": "the split AdaMerging fits on",
    "merge.methods.batch_norm": "the method entry's batch-norm statistics setting",
    "merge.batch_norm": "the batch-norm statistics setting",
}


def parse_condition(text: str, modality: str | None = None) -> tuple[str, int | None]:
    """``"rotate/3"`` -> ("rotate", 3); ``"clean"`` -> ("clean", None); ValueError in plain words otherwise."""
    if text == "clean":
        return "clean", None
    name, slash, sev = text.partition("/")
    names = CORRUPTION_NAMES + TABULAR_SHIFT_NAMES + TEXT_SHIFT_NAMES
    if not slash or name not in names:
        raise ValueError(f"'{text}' is not a task condition; write \"clean\" or \"<shift>/<severity>\" with a shift "
                         f"from {', '.join(CORRUPTION_NAMES[:4])}, … (image), {', '.join(TABULAR_SHIFT_NAMES)} (table) "
                         f"or {', '.join(TEXT_SHIFT_NAMES)} (text), e.g. \"rotate/3\"")
    if not sev.isdigit() or int(sev) not in SEVERITIES:
        raise ValueError(f"the severity in '{text}' must be a whole number from 1 to 5")
    return name, int(sev)


def condition_kind(name: str) -> str:
    """What a task condition's shift is: clean, corruption (images), tabular or text."""
    if name == "clean":
        return "clean"
    if name in CORRUPTION_NAMES:
        return "corruption"
    return "tabular" if name in TABULAR_SHIFT_NAMES else "text"


class BaseSpec(Strict):
    """The model the experts were fine-tuned from."""

    source: str
    trust_remote_code: bool = False
    train: TrainSpec | None = None  # a built-in base is trained here on [data]'s train split

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return checked_source(v, "model")


class TuneSpec(Strict):
    """An expert made here: the base fully fine-tuned on the expert's task (its train split, under its condition)."""

    epochs: int = Field(default=3, ge=1, le=200)
    lr: float = Field(default=1e-3, gt=0, le=1)
    batch_size: int = Field(default=64, ge=1, le=65536)
    weight_decay: float = Field(default=0.0, ge=0, le=1)


class ExpertSpec(Strict):
    """One expert and the task it is evaluated on (its dataset under its condition)."""

    id: Identifier
    source: str | None = None
    tune: TuneSpec | None = None
    condition: str = "clean"
    data: DataSpec | None = None  # the task's dataset; [data] when not given
    trust_remote_code: bool = False

    @field_validator("source")
    @classmethod
    def _source(cls, v: str | None) -> str | None:
        return None if v is None else checked_source(v, "model")

    @field_validator("condition")
    @classmethod
    def _condition(cls, v: str) -> str:
        parse_condition(v)
        return v

    @model_validator(mode="after")
    def _one_origin(self) -> "ExpertSpec":
        if (self.source is None) == (self.tune is None):
            raise ValueError(f"expert '{self.id}' needs either a source (a model fine-tuned elsewhere) or tune = {{ … }} "
                             "(fine-tune the base here), not both and not neither")
        return self


Scalar = bool | int | float | str


class MethodEntry(Strict):
    """``{ method = "ties", density = [0.1, 0.2], lambda = [0.5, 1.0] }``: a method and a grid of its parameters.

    A list is a grid axis; every combination is one merged configuration. Parameters apply to every
    expert alike (per-model ones such as density and weight included)."""

    model_config = ConfigDict(extra="allow", strict=True)

    method: str
    id: Identifier | None = None
    conventions: Literal["mergekit", "paper"] | None = None
    fit_on: Literal["test", "validation", "train"] | None = None
    batch_norm: Literal["merge", "recompute"] | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        if v == "lines":
            raise ValueError("'lines' post-processes another merge and is not a method of its own in a study")
        if v not in STUDY_METHODS:
            raise ValueError(f"unknown merge method '{v}'; expected one of {', '.join(STUDY_METHODS)}")
        return v

    @model_validator(mode="after")
    def _parameters(self) -> "MethodEntry":
        for key, value in self.parameters.items():
            values = value if isinstance(value, list) else [value]
            if not values:
                raise ValueError(f"{self.method}: '{key}' is an empty list; give a value or a list of values to try")
            for v in values:
                if not isinstance(v, (bool, int, float, str)):
                    raise ValueError(f"{self.method}: '{key}' must be a number, true/false, text or a list of those "
                                     f"(got {type(v).__name__})")
            if len(values) != len(set(map(repr, values))):
                raise ValueError(f"{self.method}: '{key}' lists a value twice")
        if self.fit_on is not None and METHOD_KINDS[self.method] != "model":
            raise ValueError(f"fit_on applies to methods that learn from inputs (adamerging, fisher, regmean), not {self.method}")
        n = 1
        for value in self.parameters.values():
            n *= len(value) if isinstance(value, list) else 1
        if n > GRID_LIMIT:
            raise ValueError(f"{self.method}: the grid has {n:,} combinations; at most {GRID_LIMIT:,} per method entry")
        return self

    @property
    def parameters(self) -> dict[str, Scalar | list[Scalar]]:
        return dict(self.model_extra or {})

    @property
    def name(self) -> str:
        """The entry's id (the method's name unless given)."""
        return self.id or self.method

    def grid(self) -> list[dict[str, Scalar]]:
        """Every combination of the listed values, in the order written (the first key varies slowest)."""
        points: list[dict[str, Scalar]] = [{}]
        for key, value in self.parameters.items():
            values = value if isinstance(value, list) else [value]
            points = [{**p, key: v} for p in points for v in values]
        return points

    def varying(self) -> list[str]:
        """The parameters given as lists of more than one value (what names a configuration)."""
        return [k for k, v in self.parameters.items() if isinstance(v, list) and len(v) > 1]


class MergeSpec(Strict):
    conventions: Literal["mergekit", "paper"] = "mergekit"
    tuning: Literal["validation", "test"] = "validation"
    batch_norm: Literal["merge", "recompute"] = "merge"
    heads: list[str] | None = None  # name pieces of the task heads; None: each model's final classification layer
    methods: list[MethodEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "MergeSpec":
        names = [m.name for m in self.methods]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"two method entries are both called '{dup[0]}'; give one of them an id (id = \"…\")")
        return self


class MergeMetrics(MetricsSpec):
    """Metrics of every evaluation; accuracy alone by default (the field's measure for merges)."""

    names: list[str] = Field(default_factory=lambda: ["accuracy"])


class MergeStudy(StudyFile):
    """The whole file of a merge study."""

    KIND: ClassVar[str] = "merge"
    WORDS: ClassVar[Words] = {**HEADER_WORDS, **MODEL_WORDS, **DATA_WORDS, **MERGE_WORDS}

    base: BaseSpec
    data: DataSpec
    experts: list[ExpertSpec] = Field(min_length=1)
    merge: MergeSpec
    metrics: MergeMetrics = Field(default_factory=MergeMetrics)

    @model_validator(mode="after")
    def _check(self) -> "MergeStudy":
        ids = [e.id for e in self.experts]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"expert id '{dup[0]}' is used twice; every [[experts]] entry needs its own id")
        if "base" in ids:
            raise ValueError("'base' names the base model's row; give the expert another id")
        if self.merge.tuning == "validation" and self.data.split == "validation":
            raise ValueError("coefficients are chosen on the validation split, so results cannot be reported on it; "
                             "set [data].split = \"test\" or declare [merge].tuning = \"test\"")
        return self

    def task_data(self, expert: ExpertSpec) -> DataSpec:
        return expert.data or self.data


def source_entries(study: MergeStudy) -> list[SourceEntry]:
    """Every source a merge study names: (key path, source text, 'model' or 'data')."""
    out: list[SourceEntry] = [(("base", "source"), study.base.source, "model"), (("data", "source"), study.data.source, "data")]
    for i, e in enumerate(study.experts):
        if e.source is not None:
            out.append((("experts", i, "source"), e.source, "model"))
        if e.data is not None:
            out.append((("experts", i, "data", "source"), e.data.source, "data"))
    return out


def entry_parameters(entry: MethodEntry) -> dict[str, Any]:
    """The entry's parameters as plain data (for records)."""
    return {k: (list(v) if isinstance(v, list) else v) for k, v in entry.parameters.items()}
