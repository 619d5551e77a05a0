"""WiSE-FT (Wortsman et al., CVPR 2022): interpolate the base's and a tuned model's weights,
θ_α = (1 − α)·θ₀ + α·θ₁, evaluated for α = 0, 0.1, …, 1 without any retraining.

Every floating-point tensor is interpolated (weights, biases, batch-norm running statistics);
integer tensors (batch norm's step counter) are the tuned model's, untouched. The head is the same
at both ends: when the base kept its head, the base's head is θ₀'s and the tuned one θ₁'s; when it
was replaced for other classes, the tuned model's head is used at both ends (the base's could not
score the target's classes). Adapters are merged into their weights first, so any tuned model can
be used; the study file allows full-weight methods, as in the paper.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from engine.core.errors import ModelError
from engine.kinds.finetune.layout import layout_of
from engine.kinds.finetune.methods.base import Method, MethodParams, PrepareContext, in_module
from engine.kinds.finetune.training import Stage
from engine.kinds.finetune.wrapping import merged_copy
from engine.models.base import Classifier

if TYPE_CHECKING:
    import torch

DEFAULT_ALPHAS = tuple(round(i / 10, 1) for i in range(11))


class WiseFtParams(MethodParams):
    from_: str = Field(alias="from", min_length=1, description="The full-weight method (arm) whose tuned model is interpolated.")
    alphas: list[float] = Field(list(DEFAULT_ALPHAS), min_length=1, description="Mixing weights α (0 = base, 1 = tuned).")

    @field_validator("alphas")
    @classmethod
    def _in_unit_interval(cls, values: list[float]) -> list[float]:
        bad = [a for a in values if not 0.0 <= a <= 1.0]
        if bad:
            raise ValueError(f"every alpha must lie between 0 and 1 (got {bad[0]})")
        return sorted(set(values))


class WiseFt(Method):
    name = "wise_ft"
    title = "WiSE-FT"
    description = "Blend the base's and a fine-tuned model's weights (0 = base, 1 = tuned) without retraining."
    params = WiseFtParams
    default_lr = 0.0
    pretrained_lr = 0.0
    saves = "nothing"
    trains = False

    def prepare(self, model: Classifier, params: MethodParams, ctx: PrepareContext) -> list[Stage]:
        raise ModelError("WiSE-FT is not trained: it interpolates a tuned model with its base (use wise_ft.interpolate).")


def interpolate(base: Classifier, tuned: Classifier, alpha: float) -> Classifier:
    """A new classifier with weights (1 − α)·base + α·tuned (see the module's docstring)."""
    if not 0.0 <= alpha <= 1.0:
        raise ModelError(f"WiSE-FT's alpha must lie between 0 and 1, got {alpha}.")
    layout = layout_of(tuned)
    plain = merged_copy(tuned.module)
    state = interpolate_state(base.module.state_dict(), plain.state_dict(), alpha, layout.head_module)
    plain.load_state_dict(state)
    out = copy.copy(tuned)
    out.module = plain
    out.info = dataclasses.replace(tuned.info, class_names=list(tuned.info.class_names), extra={**tuned.info.extra, "wise_ft_alpha": alpha})
    return out


def interpolate_state(
    theta0: dict[str, "torch.Tensor"], theta1: dict[str, "torch.Tensor"], alpha: float, head: str
) -> dict[str, "torch.Tensor"]:
    """(1 − α)·θ₀ + α·θ₁ over floating-point tensors; θ₁'s value for integer tensors, and for the
    head's tensors when the two heads differ in shape (a replaced head). ``torch.lerp`` returns θ₀
    exactly at α = 0 and θ₁ exactly at α = 1."""
    import torch

    missing = sorted(set(theta1) - set(theta0))
    if missing:
        raise ModelError(f"WiSE-FT needs the same architecture at both ends: the base has no tensor '{missing[0]}'.")
    heads_differ = any(
        in_module(k, head) and theta0[k].shape != v.shape for k, v in theta1.items()
    )
    out: dict[str, torch.Tensor] = {}
    for key, t1 in theta1.items():
        t0 = theta0[key]
        if not t1.is_floating_point() or (heads_differ and in_module(key, head)):
            out[key] = t1.clone()
            continue
        if t0.shape != t1.shape:
            raise ModelError(
                f"WiSE-FT needs the same architecture at both ends: tensor '{key}' has shape {list(t0.shape)} in the "
                f"base and {list(t1.shape)} in the tuned model."
            )
        out[key] = torch.lerp(t0.to(device=t1.device, dtype=t1.dtype), t1, alpha)
    return out
