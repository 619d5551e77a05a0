"""What every fine-tuning method declares, and the shared machinery of the PEFT adapter methods.

A method has a ``name`` (the study file's ``method = "..."``), a display ``title``, a one-line
``description`` in plain words (tooltips), typed ``params`` (a pydantic model: defaults and bounds),
default learning rates, what its result is saved as, and ``prepare``: given a copy of the base (head
already fitted to the target's classes) it freezes, wraps or replaces what it must and returns the
stages the one training loop runs.

Default learning rates come in two: ``default_lr`` for Juxta's built-in architectures (small models
trained from scratch at a few 1e-3; values picked on digits, a few hundred examples and a handful of epochs, where few steps favour a high rate) and ``pretrained_lr`` for pretrained checkpoints (transformers,
hub CNNs), where the usual published values are one to two orders of magnitude lower.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field

from engine.kinds.finetune.layout import Layout
from engine.kinds.finetune.targets import default_targets, resolve_targets
from engine.kinds.finetune.training import Stage, TrainConfig
from engine.models.base import Classifier, ModelInfo
from engine.models.recipes import ARCHITECTURES

if TYPE_CHECKING:
    from torch import nn

Saves = Literal["weights", "adapter", "nothing"]


class MethodParams(BaseModel):
    """A method's own parameters (the study file's keys next to ``method = ...``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AdapterParams(MethodParams):
    target_modules: list[str] | None = Field(
        None,
        min_length=1,
        description="Layers to adapt, by full name or last part; empty: the architecture's default.",
    )


@dataclass(frozen=True)
class PrepareContext:
    """What a method may need besides the model: its layout, the run's settings, the step count."""

    layout: Layout
    config: TrainConfig
    steps_per_epoch: int

    @property
    def total_steps(self) -> int:
        return self.config.epochs * self.steps_per_epoch


class Method(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    params: ClassVar[type[MethodParams]]
    default_lr: ClassVar[float]
    pretrained_lr: ClassVar[float]
    saves: ClassVar[Saves] = "weights"
    budget: ClassVar[str | None] = None  # the parameter a budget sweep varies (rank, k), if any
    trains: ClassVar[bool] = True

    def parse(self, values: Mapping[str, Any] | MethodParams | None = None) -> MethodParams:
        """Validated parameters (pydantic's ValidationError names the field on bad input)."""
        if isinstance(values, self.params):
            return values
        return self.params.model_validate(dict(values or {}))

    def lr_for(self, info: ModelInfo) -> float:
        """The default learning rate for this model: built-in architectures or pretrained ones."""
        return self.default_lr if info.architecture in ARCHITECTURES else self.pretrained_lr

    @property
    def full_weight(self) -> bool:
        """Its result is a whole set of weights (WiSE-FT can start from it)."""
        return self.saves == "weights"

    @abstractmethod
    def prepare(self, model: Classifier, params: MethodParams, ctx: PrepareContext) -> list[Stage]:
        """Make ``model`` (a copy of the base) ready to train; return the loop's stages."""


def freeze_all_but(module: "nn.Module", keep) -> list["nn.Parameter"]:
    """Set ``requires_grad`` from ``keep(name)``; return the parameters left trainable, in order."""
    out = []
    for name, p in module.named_parameters():
        p.requires_grad_(bool(keep(name)))
        if p.requires_grad:
            out.append(p)
    return out


def in_module(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


class PeftMethod(Method):
    """A method PEFT implements: targets resolved and checked here, layers wrapped by PEFT."""

    saves: ClassVar[Saves] = "adapter"
    peft_type: ClassVar[str]  # PEFT's tuner name, for its per-model default targets
    supports: ClassVar[tuple[str, ...]]  # layer types its PEFT tuner wraps (targets.LAYER_TYPES)
    rank_field: ClassVar[str | None] = "rank"  # checked against each layer's width

    def targets(self, model: Classifier, params: AdapterParams, layout: Layout) -> list[str]:
        """Full names of the layers this method will wrap (checked; the default when none are named)."""
        requested = params.target_modules or default_targets(model.module, layout, self.peft_type, self.supports)
        rank = getattr(params, self.rank_field) if self.rank_field else None
        return resolve_targets(model.module, layout, list(requested), self.title, self.supports, rank)

    @abstractmethod
    def peft_config(self, params: MethodParams, targets: list[str], ctx: PrepareContext, model: Classifier) -> Any:
        """The PEFT config (``modules_to_save`` = the head module)."""

    def prepare(self, model: Classifier, params: MethodParams, ctx: PrepareContext) -> list[Stage]:
        from peft import get_peft_model

        targets = self.targets(model, params, ctx.layout)
        wrapped = get_peft_model(model.module, self.peft_config(params, targets, ctx, model))
        model.module = wrapped
        trainable = [p for p in wrapped.parameters() if p.requires_grad]
        return [self.stage(wrapped, trainable, params, ctx)]

    def stage(self, wrapped: "nn.Module", trainable: list, params: MethodParams, ctx: PrepareContext) -> Stage:
        return Stage("train", wrapped, trainable)
