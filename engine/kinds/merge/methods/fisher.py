"""Fisher merging (Matena & Raffel, 2022): a per-weight average weighted by each model's Fisher
information, so each model dominates where it is most sensitive.

``θ = Σᵢ (wᵢ·F̂ᵢ + ε) θᵢ / Σᵢ (wᵢ·F̂ᵢ + ε)`` per element, with ``F̂ᵢ = Fᵢ / ‖Fᵢ‖₂`` over the whole
model when ``normalize`` (MergeLM's and FusionBench's ``normalize_fisher_weight``) and ε the minimal
Fisher weight (1e-6). Tensors without a Fisher estimate (buffers) are averaged plainly.

The Fisher diagonal is estimated as the mean, over batches, of the squared gradient of each batch's
mean log-likelihood, with labels sampled from the model's own predictions (seeded). With batches of
one example this is exactly the sampled per-example Fisher; larger batches are cheaper and coarser.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence, TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, Params, WeightParams
from engine.kinds.merge.methods.databased import Forward, ModelMergeResult, StateDict, float_keys, state_dict_of

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch
    from torch import nn


class Options(Params):
    normalize: bool = Field(True, description="scale each model's Fisher to unit L2 norm before weighting")
    min_fisher: float = Field(1e-6, ge=0, description="added to every Fisher weight so no weight divides by zero")
    max_batches: int | None = Field(None, ge=1, description="most batches used to estimate each Fisher (none: all)")


def fisher_information(model: nn.Module, batches: Iterable[Any], forward: Forward, *, seed: int = 0,
                       max_batches: int | None = None) -> StateDict:
    """Diagonal Fisher of ``model``'s trainable parameters (see the module docstring)."""
    import torch

    gen = torch.Generator(device="cpu").manual_seed(seed)
    params = {k: p for k, p in model.named_parameters() if p.requires_grad}
    fisher = {k: torch.zeros_like(p) for k, p in params.items()}
    was_training = model.training
    model.eval()
    count = 0
    for batch in batches:
        if max_batches is not None and count >= max_batches:
            break
        logits = forward(model, batch)
        logp = torch.log_softmax(logits.float(), dim=-1)
        labels = torch.multinomial(logp.detach().exp().cpu(), 1, generator=gen).to(logp.device)
        loglik = logp.gather(-1, labels).mean()
        grads = torch.autograd.grad(loglik, list(params.values()), allow_unused=True)
        for (k, _), g in zip(params.items(), grads):
            if g is not None:
                fisher[k] += g.detach() ** 2
        count += 1
    model.train(was_training)
    if count == 0:
        raise ValueError("Fisher merging got no input batches for a model.")
    return {k: f / count for k, f in fisher.items()}


def merge_with_fisher(states: Sequence[StateDict], fishers: Sequence[StateDict], weights: Sequence[float] | None = None,
                      normalize: bool = True, min_fisher: float = 1e-6, skip: Sequence[str] = ()) -> StateDict:
    """The Fisher-weighted average of ``states`` (float tensors; others copied from the first model)."""
    import torch

    weights = list(weights) if weights is not None else [1.0] * len(states)
    scales = []
    for f in fishers:
        norm = float(torch.sqrt(sum((v.double() ** 2).sum() for v in f.values()))) if normalize else 1.0
        scales.append(1.0 / norm if norm > 0 else 1.0)
    out: StateDict = {}
    for key in states[0]:
        values = [s[key] for s in states]
        if key in skip or not values[0].is_floating_point():
            out[key] = values[0]
        elif all(key in f for f in fishers):
            coeff = [w * sc * f[key] + min_fisher for w, sc, f in zip(weights, scales, fishers)]
            out[key] = sum(c * v for c, v in zip(coeff, values)) / sum(coeff)
        else:
            out[key] = sum(w * v for w, v in zip(weights, values)) / sum(weights)
    return out


def fisher_merge(models: Sequence[nn.Module], batches: Sequence[Iterable[Any]], forward: Forward, *,
                 weights: Sequence[float] | None = None, options: Options | None = None, seed: int = 0,
                 skip: Sequence[str] = ()) -> ModelMergeResult:
    """Estimate each model's Fisher on its own batches, then merge. ``skip``: names kept from the first
    model (e.g. heads, merged separately)."""
    opts = options or Options()
    fishers = [fisher_information(m, b, forward, seed=seed + i, max_batches=opts.max_batches)
               for i, (m, b) in enumerate(zip(models, batches))]
    states = [state_dict_of(m) for m in models]
    merged = merge_with_fisher(states, fishers, weights, opts.normalize, opts.min_fisher, skip)
    return ModelMergeResult(merged, "fisher", info={"merged_tensors": len(float_keys(merged, skip))})


METHOD = Method(
    name="fisher", title="Fisher merging",
    description="averages weights per entry, each model counting where its predictions are most sensitive to it (needs inputs).",
    options=Options, model_params=WeightParams, base="unused", min_models=2, kind="model",
    merge_model=fisher_merge, data_based=True, in_mergekit=False, reference="https://arxiv.org/abs/2111.09832",
)
