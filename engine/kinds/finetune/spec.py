"""A fine-tuning study file: a base model adapted to a target by several methods, scored in and out of
distribution and on the task the base already did.

``FinetuneStudy`` is the whole file's pydantic model: the common header (``engine.core.header``) plus
``[base]``, ``[target]``, ``[shifted]``, ``[source]``, ``[[methods]]``, ``[training]`` and
``[metrics]``. Each ``[[methods]]`` entry names a registered method (``methods.METHODS``) and that
method's own parameters, checked by the method's parameter model so a problem names its key
(``methods[3].rank``); a list for the method's budget parameter (``rank = [2, 8]``) is a budget sweep,
one arm per value. A study file is data, never code.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from engine.conditions.catalog import CORRUPTION_NAMES, SEVERITIES, TABULAR_SHIFT_NAMES, TEXT_SHIFT_NAMES
from engine.core.header import MAX_SEED, Identifier, MetricsSpec, SourceEntry, Strict, StudyFile, checked_source
from engine.core.messages import HEADER_WORDS, Words
from engine.data.spec import DATA_WORDS, DataColumns, Splits
from engine.kinds.finetune.methods import METHODS
from engine.kinds.finetune.methods.base import MethodParams
from engine.models.spec import TrainSpec

# What charts group the kind's cells by, as stored in their axes (name -> SQL type, for engine.core.queries).
TUNE_AXES = {"method": "VARCHAR", "lr": "DOUBLE"}
EVAL_AXES = {"set": "VARCHAR", "method": "VARCHAR", "alpha": "DOUBLE"}
BASE_ARM = "base"  # the arm id of the base model's own evaluations (reserved)
DEFAULT_LR_FACTORS = (0.3, 1.0, 3.0)

# Parameter names of the methods in plain words (the study file's keys inside [[methods]]).
_PARAM_WORDS = {
    "rank": "the rank", "alpha": "the scaling alpha", "dropout": "the adapter dropout", "k": "the number of blocks k",
    "target_modules": ("the target modules", "a target module"), "feedforward_modules": ("the feed-forward modules",
    "a feed-forward module"), "probe_epochs": "the probe epochs", "probe_lr": "the probe learning rate",
    "from": "the arm WiSE-FT starts from", "alphas": ("the mixing weights α", "a mixing weight α"),
    "target_rank": "the target rank", "init_rank": "the initial rank", "projection_prng_key": "the projection seed",
    "decompose_both": "the decompose-both setting", "module_dropout": "the module dropout",
}

FINETUNE_WORDS: dict[str, str | tuple[str, str]] = {
    "base": "the [base] table",
    "base.source": "the base model source",
    "base.trust_remote_code": "the trust_remote_code setting",
    "base.train": "the base's training overrides",
    "base.train.epochs": "the base's training epochs",
    "base.train.lr": "the base's learning rate",
    "base.train.batch_size": "the base's training batch size",
    "base.train.weight_decay": "the base's weight decay",
    "target": "the [target] table",
    "target.source": "the target dataset source",
    "target.domain": "the target domain",
    "target.splits": "the target's split shares",
    "target.splits.train": "the target's train share",
    "target.splits.validation": "the target's validation share",
    "target.splits.test": "the target's test share",
    "target.split_seed": "the target's split seed",
    "target.max_examples": "the target's maximum number of examples per split",
    "shifted": "the [shifted] table",
    "shifted.conditions": ("the shifted conditions", "a shifted condition"),
    "source": "the [source] table",
    "source.source": "the source dataset source",
    "source.split": "the source split",
    "source.splits": "the source's split shares",
    "source.split_seed": "the source's split seed",
    "source.max_examples": "the source's maximum number of examples",
    "methods": ("the [[methods]] list", "a [[methods]] entry"),
    "methods.method": "the method",
    "methods.id": "the arm id",
    "methods.lr": "the method's learning rate",
    **{f"methods.{name}": words for name, words in _PARAM_WORDS.items()},
    "training": "the [training] table",
    "training.epochs": "the number of epochs",
    "training.batch_size": "the training batch size",
    "training.lr_sweep": "the learning-rate sweep setting",
    "training.lr_factors": ("the learning-rate factors", "a learning-rate factor"),
    "training.weight_decay": "the weight decay",
    "training.schedule": "the learning-rate schedule",
    "training.max_grad_norm": "the gradient clipping norm",
    "training.mixed_precision": "the mixed-precision setting",
}


def parse_condition(text: str) -> dict[str, Any]:
    """``"gaussian_noise/3"`` -> the condition dict cells store (``engine.conditions.apply``'s form); a
    ValueError in plain words for anything else."""
    name, sep, level = str(text).partition("/")
    kinds = {**{n: "corruption" for n in CORRUPTION_NAMES}, **{n: "tabular" for n in TABULAR_SHIFT_NAMES},
             **{n: "text" for n in TEXT_SHIFT_NAMES}}
    if name not in kinds:
        raise ValueError(f"unknown condition '{text}'; write a shift as 'name/severity', e.g. 'gaussian_noise/3', "
                         f"with name one of {', '.join(kinds)}")
    if not sep or not level.isdigit() or int(level) not in SEVERITIES:
        raise ValueError(f"condition '{text}' needs a severity from 1 to 5 after a slash, e.g. '{name}/3'")
    sev = int(level)
    return {"id": f"{name}/{sev}", "kind": kinds[name], "family": name, "severity": sev, "name": name}


class BaseSpec(Strict):
    """The pretrained model every method starts from (built-ins are trained first, shared with other studies)."""

    source: str
    trust_remote_code: bool = False
    train: TrainSpec | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return checked_source(v, "model")


class TargetSpec(DataColumns):
    """The new task or domain: one dataset split into train (tuning), validation (choosing the learning
    rate and WiSE-FT's α) and test (reported), optionally moved to a domain by a shift condition."""

    source: str
    domain: str | None = None
    splits: Splits = Field(default_factory=Splits)
    split_seed: int = Field(default=0, ge=0, le=MAX_SEED)
    max_examples: int | None = Field(default=None, ge=1)

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return checked_source(v, "data")

    @field_validator("domain")
    @classmethod
    def _domain(cls, v: str | None) -> str | None:
        return None if v is None else parse_condition(v)["id"]

    @field_validator("splits")
    @classmethod
    def _three_parts(cls, v: Splits) -> Splits:
        if v.train <= 0 or v.validation <= 0:
            raise ValueError("the target needs a train and a validation share above 0 (tuning and choosing the "
                             "learning rate use them)")
        return v


class ShiftedSpec(Strict):
    """Out-of-distribution variants of the target's test split."""

    conditions: list[str] = Field(default_factory=list)

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, v: list[str]) -> list[str]:
        ids = [parse_condition(c)["id"] for c in v]
        if len(set(ids)) != len(ids):
            raise ValueError("a shifted condition is listed twice")
        return ids


class SourceSpec(DataColumns):
    """The task the base already does, to measure what tuning makes it forget (its test split by default)."""

    source: str
    split: Literal["train", "validation", "test", "all"] = "test"
    splits: Splits = Field(default_factory=Splits)
    split_seed: int = Field(default=0, ge=0, le=MAX_SEED)
    max_examples: int | None = Field(default=None, ge=1)

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        return checked_source(v, "data")


class TrainingSpec(Strict):
    """What every method shares: epochs, batches, the learning-rate sweep and schedule."""

    epochs: int = Field(default=5, ge=1, le=1000)
    batch_size: int = Field(default=64, ge=1, le=65536)
    lr_sweep: bool = True
    lr_factors: list[float] = Field(default_factory=lambda: list(DEFAULT_LR_FACTORS), min_length=1, max_length=10)
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    schedule: Literal["cosine", "constant"] = "cosine"
    max_grad_norm: float | None = Field(default=None, gt=0, le=1e6)
    mixed_precision: bool = True

    @field_validator("lr_factors")
    @classmethod
    def _factors(cls, v: list[float]) -> list[float]:
        bad = [f for f in v if not 0 < f <= 1000]
        if bad:
            raise ValueError(f"a learning-rate factor must be more than 0 and at most 1000 (got {bad[0]:g})")
        if len(set(v)) != len(v):
            raise ValueError("a learning-rate factor is listed twice")
        return sorted(v)


class MethodEntry(Strict, extra="allow"):
    """One ``[[methods]]`` entry: a method, an optional arm id and learning rate, and the method's own
    parameters (checked by the method's parameter model)."""

    method: str
    id: Identifier | None = None
    lr: float | None = Field(default=None, gt=0, le=10)
    _configs: list[tuple[Any, MethodParams]] = PrivateAttr(default_factory=list)

    @field_validator("method")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in METHODS:
            raise ValueError(f"unknown method '{v}'; expected one of {', '.join(METHODS)}")
        return v

    @model_validator(mode="after")
    def _params(self) -> "MethodEntry":
        m = METHODS[self.method]
        given = dict(self.model_extra or {})
        allowed = [f.alias or name for name, f in m.params.model_fields.items()]
        unknown = [k for k in given if k not in allowed]
        if unknown:
            keys = ", ".join([*allowed, "id", "lr"])
            raise ValueError(f"unknown key '{unknown[0]}' for {m.title}; expected one of {keys}")
        budget = m.budget
        values = given.get(budget) if budget else None
        if budget and isinstance(values, list):
            if not values:
                raise ValueError(f"give at least one {budget} for {m.title}'s budget sweep")
            if len(set(map(repr, values))) != len(values):
                raise ValueError(f"a {budget} is listed twice in {m.title}'s budget sweep")
            sweep = list(values)
        else:
            sweep = [values] if budget and budget in given else [None]
        configs = []
        for value in sweep:
            raw = dict(given) if value is None else {**given, budget: value}
            configs.append((value, m.params.model_validate(raw, strict=True)))  # a ValidationError names the key
        if self.lr is not None and not m.trains:
            raise ValueError(f"{m.title} is not trained, so it takes no learning rate")
        self._configs = configs
        return self

    @property
    def configs(self) -> list[tuple[Any, MethodParams]]:
        """(budget value or None, the parsed parameters), one per arm this entry makes."""
        return list(self._configs)


class FinetuneStudy(StudyFile):
    """The whole file of a fine-tuning study."""

    KIND: ClassVar[str] = "finetune"
    WORDS: ClassVar[Words] = {**HEADER_WORDS, **DATA_WORDS, **FINETUNE_WORDS}

    base: BaseSpec
    target: TargetSpec
    shifted: ShiftedSpec = Field(default_factory=ShiftedSpec)
    source: SourceSpec | None = None
    methods: list[MethodEntry] = Field(min_length=1)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)

    @model_validator(mode="after")
    def _arms(self) -> "FinetuneStudy":
        """Arms must have their own ids, WiSE-FT must start from a full-weight arm of the study: each
        problem is reported at its own key (``methods[4].from``)."""
        from engine.kinds.finetune.arms import arm_problems

        problems = arm_problems(self)
        if problems:
            raise ValidationError.from_exception_data("FinetuneStudy", [
                InitErrorDetails(type=PydanticCustomError("value_error", message), loc=key, input=None)
                for key, message in problems])
        return self


def source_entries(study: FinetuneStudy) -> list[SourceEntry]:
    """Every source a fine-tuning study names: (key path, source text, 'model' or 'data')."""
    entries: list[SourceEntry] = [(("base", "source"), study.base.source, "model"),
                                  (("target", "source"), study.target.source, "data")]
    if study.source is not None:
        entries.append((("source", "source"), study.source.source, "data"))
    return entries
