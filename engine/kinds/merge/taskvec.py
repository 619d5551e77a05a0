"""The task-vector family (task arithmetic, TIES, DARE, Breadcrumbs, DELLA): one routine, mergekit's
order of operations, the conventions as switches.

For each tensor: ``δᵢ = θᵢ − θ_base`` → sparsify each δᵢ with that model's density → weight →
(consensus methods) elect a sign per element and keep only the agreeing entries → sum → divide
(``normalize``: by the summed weights kept at each element) → ×λ → ``θ_base + merged``.
Deltas are processed one model at a time, so memory stays at a few copies of one tensor.
"""

from __future__ import annotations

from typing import Literal, TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Params, TensorJob

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch

Sparsification = Literal["magnitude", "random", "outliers", "della"] | None


class TaskVectorOptions(Params):
    """Global parameters shared by the task-vector family (defaults differ per method)."""

    normalize: bool = Field(False, description="divide the merged update by the summed weights of the models kept at "
                                               "each element (a weighted mean instead of a sum)")
    rescale: bool = Field(False, description="after dropping entries, rescale what is left (to the tensor's L1 norm "
                                             "in the mergekit preset, by 1/density in the paper preset)")
    lambda_: float = Field(1.0, alias="lambda", description="scales the merged update before it is added to the base")
    int8_mask: bool = Field(False, description="mergekit's memory saver for the sign mask; changes no number here")


class TaskVectorModelParams(Params):
    weight: float = Field(1.0, description="how much this model's update counts")
    density: float = Field(1.0, gt=0, le=1, description="share of this model's update entries kept (1 keeps all)")


class BreadcrumbsModelParams(TaskVectorModelParams):
    gamma: float = Field(0.01, ge=0, lt=1, description="share of the largest update entries dropped as outliers "
                                                       "(no effect while density is 1)")


class DellaModelParams(TaskVectorModelParams):
    epsilon: float = Field(0.15, gt=0, lt=0.5, description="how much the keep probability rises from the smallest to "
                                                          "the largest entries (density ± ε must stay inside (0, 1))")


def merge_task_vectors(job: TensorJob, sparsification: Sparsification, consensus: bool) -> torch.Tensor:
    """Merge one tensor with the task-vector family's steps (see the module docstring)."""
    import torch

    from engine.kinds.merge.sparsify import bernoulli_drop, della_drop, magnitude, outlier_band

    base = job.base
    conv = job.conventions
    opts = job.options
    rescale = conv.dare_rescale if getattr(opts, "rescale", False) else None
    scratch = torch.empty_like(base) if base.dtype == torch.float32 else None
    mask_buffer = torch.empty(base.shape, dtype=torch.bool, device=base.device)
    weights: list[float] = []
    deltas: list[torch.Tensor] = []
    for i, (x, p) in enumerate(zip(job.tensors, job.model_params)):
        if job.owned and x.dtype == base.dtype and x.data_ptr() != base.data_ptr():
            d = x.sub_(base)  # a fresh copy read for this merge: reuse its memory
        else:
            d = x.to(base.dtype) - base
        density = getattr(p, "density", 1.0)
        if sparsification == "magnitude":
            d, floored = magnitude(d, density, conv.trim_rule, "l1_match" if rescale else None, inplace=True,
                                   scratch=scratch, mask_buffer=mask_buffer)
            if floored:
                job.notes.append(f"{job.name}: too small to trim at density {density:g}; kept its largest entry")
        elif sparsification == "random":
            d = bernoulli_drop(d, density, job.generator(i), rescale)
        elif sparsification == "outliers":
            d, floored = outlier_band(d, density, p.gamma, rescale)
            if floored:
                job.notes.append(f"{job.name}: too small to trim at density {density:g}; kept one entry")
        elif sparsification == "della":
            d = della_drop(d, density, p.epsilon, job.generator(i), rescale)
        weights.append(float(p.weight))
        deltas.append(d)
    if not deltas:
        return base.clone()
    normalize = opts.normalize if conv.aggregation == "method" else conv.aggregation == "mean"
    if consensus:
        mixed, divisor = _consensus_sum(deltas, weights, conv.sign_election == "weighted", conv.zero_sign,
                                        scratch if scratch is not None else torch.empty_like(deltas[0]), mask_buffer)
    else:
        mixed = _weighted_sum(deltas, weights)
        total = sum(weights)
        divisor = 1.0 if abs(total) < 1e-8 else total
    del deltas, scratch, mask_buffer
    if normalize:
        mixed.div_(divisor)
    lam = float(opts.lambda_)
    if lam != 1:
        mixed.mul_(lam)
    return base.add_(mixed) if job.owned else base + mixed


def _weighted_sum(deltas: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    out = deltas[0].mul_(weights[0]) if weights[0] != 1 else deltas[0]  # the deltas are fresh: reuse the first
    for d, w in zip(deltas[1:], weights[1:]):
        out.add_(d, alpha=w)
    return out


def elected_signs(values: list[torch.Tensor], zero_sign: str, out: torch.Tensor | None = None,
                  mask_buffer: torch.Tensor | None = None) -> torch.Tensor:
    """±1 per element (as ``values``' float dtype): the sign of the sum of ``values``. An exact zero sum
    elects +1 ('plus', mergekit) or the majority sign of the whole elected vector ('majority',
    FusionBench; when that majority is itself 0, −1, which is what FusionBench's rule keeps: the
    negative entries)."""
    import torch

    total = out if out is not None else torch.empty_like(values[0])
    total.copy_(values[0])
    for v in values[1:]:
        total.add_(v)
    if zero_sign == "plus":
        positive = torch.ge(total, 0, out=mask_buffer) if mask_buffer is not None else total >= 0
        return total.copy_(positive).mul_(2).sub_(1)
    total.sign_()
    majority = float(torch.sign(total.sum(dtype=torch.float64)))
    zero = torch.eq(total, 0, out=mask_buffer) if mask_buffer is not None else total == 0
    return total.masked_fill_(zero, majority if majority != 0 else -1.0)


def _consensus_sum(deltas: list[torch.Tensor], weights: list[float], weighted: bool, zero_sign: str,
                   scratch: torch.Tensor, mask_buffer: torch.Tensor):
    """Sum of the entries whose sign agrees with the elected one, and the summed weights kept per element.

    As in mergekit, a trimmed (zero) entry agrees with no sign, so it adds to neither the sum nor the
    divisor. The deltas are fresh tensors and are overwritten."""
    import torch

    if weighted:
        weighted_deltas = [d.mul_(w) if w != 1 else d for d, w in zip(deltas, weights)]
        voters = weighted_deltas
    else:
        weighted_deltas = [d * w if w != 1 else d for d, w in zip(deltas, weights)]
        voters = deltas
    signs = elected_signs(voters, zero_sign, out=scratch, mask_buffer=mask_buffer)
    product = torch.empty_like(deltas[0])
    divisor = torch.zeros_like(deltas[0])
    mixed: torch.Tensor | None = None
    for v, wd, w in zip(voters, weighted_deltas, weights):
        agree = torch.mul(v, signs, out=product).sign_().clamp_(min=0)  # 1 where v has the elected sign, else 0
        wd.mul_(agree)  # wd is a fresh tensor no one reads after this
        mixed = wd if mixed is None else mixed.add_(wd)
        divisor.add_(agree, alpha=w)
    divisor.masked_fill_(torch.eq(divisor, 0, out=mask_buffer), 1)
    return mixed, divisor


def elect_signs(values: list[torch.Tensor], zero_sign: str) -> torch.Tensor:
    """The elected signs as int8 (+1/−1), for methods that vote like TIES (SCE)."""
    import torch

    return elected_signs([v.float() for v in values] if values[0].dtype != torch.float32 else values, zero_sign).to(torch.int8)
