"""What every merge method declares, and the job a per-tensor method receives.

A method is a :class:`Method`: a name, a one-line plain description, two pydantic models for its
parameters (global ``options`` and per-model ``model_params``, each field with a default, bounds and
a description — the wizard's tooltips), how it uses a base model and how many models it takes, and
either ``merge_tensor`` (``kind="tensor"``: one tensor at a time, so it streams) or ``merge_model``
(``kind="model"``: data-based methods that need the whole models and input batches;
``kind="post"``: post-processing applied to another method's result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from engine.kinds.merge.conventions import Conventions

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Params(BaseModel):
    """Base of every parameter model: unknown names are an error, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NoParams(Params):
    """A method (or a side: global / per model) with no parameters."""


class WeightParams(Params):
    weight: float = Field(1.0, description="how much this model counts (mergekit requires it; Juxta defaults to 1)")


@dataclass
class TensorJob:
    """One output tensor to merge: its inputs, resolved parameters and a seeded generator per model."""

    name: str
    base: torch.Tensor | None
    tensors: list[torch.Tensor]
    model_params: list[BaseModel]
    options: BaseModel
    conventions: Conventions
    seed: int = 0
    is_embed: bool = False
    notes: list[str] = field(default_factory=list)
    owned: bool = False  # the input tensors are fresh copies the method may overwrite (files, not a caller's dict)

    def generator(self, model_index: int) -> torch.Generator:
        """A generator seeded by (seed, tensor name, model index): results do not depend on the order or
        the number of workers that merge the tensors."""
        import torch

        from engine.kinds.merge.seeding import tensor_seed

        return torch.Generator(device="cpu").manual_seed(tensor_seed(self.seed, self.name, model_index))


BaseUse = Literal["required", "optional", "unused"]


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    description: str
    options: type[Params] = NoParams
    model_params: type[Params] = NoParams
    base: BaseUse = "required"
    min_models: int = 1
    max_models: int | None = None
    merge_tensor: Callable[[TensorJob], torch.Tensor] | None = None
    merge_model: Callable[..., object] | None = None
    kind: Literal["tensor", "model", "post"] = "tensor"
    random: bool = False
    data_based: bool = False
    in_mergekit: bool = True
    reference: str = ""

    def model_count_text(self) -> str:
        """"exactly 1 model besides the base", "at least 2 models", …"""
        def models(n: int) -> str:
            return f"{n} model{'' if n == 1 else 's'}" + ("" if self.base == "unused" else " besides the base")
        if self.max_models == self.min_models:
            return f"exactly {models(self.min_models)}"
        if self.max_models is None:
            return f"at least {models(self.min_models)}"
        return f"{self.min_models} to {models(self.max_models)}"


def param_key(model: type[Params], field: str) -> str:
    """The name a config uses for a field (``lambda`` for ``lambda_``)."""
    return model.model_fields[field].alias or field


def param_keys(model: type[Params]) -> list[str]:
    return [param_key(model, f) for f in model.model_fields]
