"""RegMean (Jin et al., ICLR'23): merge each linear layer in closed form so the merged layer's outputs
stay closest to every expert's on that expert's inputs.

For an ``nn.Linear`` weight W (out × in) with input Gram matrices ``Gᵢ = XᵢᵀXᵢ / nᵢ``:
``W = (Σᵢ Wᵢ G̃ᵢ)(Σᵢ G̃ᵢ)⁻¹``, where ``G̃ = α·G + (1−α)·diag(G)`` shrinks the off-diagonal entries
(α = ``reduce_non_diagonal_ratio``, 0.95 as FusionBench). Everything else (biases, norms, other
layers) is averaged.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence, TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params
from engine.kinds.merge.methods.databased import Forward, ModelMergeResult, StateDict, state_dict_of

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch
    from torch import nn


class Options(Params):
    reduce_non_diagonal_ratio: float = Field(0.95, ge=0, le=1, description="how much of the input correlations "
                                             "between features to keep (1 keeps all; smaller is more stable)")
    max_batches: int | None = Field(None, ge=1, description="most batches used per model (none: all)")


def input_grams(model: nn.Module, batches: Iterable[Any], forward: Forward, max_batches: int | None = None,
                names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """``{linear module name: XᵀX / n}`` from the inputs each ``nn.Linear`` sees on ``batches``."""
    from torch import nn
    import torch

    grams: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    hooks = []
    wanted = set(names) if names is not None else None
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear) and (wanted is None or name in wanted):
            def hook(_m, args, _out, name=name):
                x = args[0].detach().reshape(-1, args[0].shape[-1]).double()
                grams[name] = grams.get(name, 0) + x.T @ x
                counts[name] = counts.get(name, 0) + x.shape[0]
            hooks.append(mod.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i, batch in enumerate(batches):
                if max_batches is not None and i >= max_batches:
                    break
                forward(model, batch)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {k: g / counts[k] for k, g in grams.items()}


def merge_with_grams(states: Sequence[StateDict], grams: Sequence[dict[str, torch.Tensor]], alpha: float = 0.95,
                     skip: Sequence[str] = ()) -> StateDict:
    """Closed-form merge of every linear weight that has a Gram matrix in all models; plain average elsewhere."""
    import torch

    out: StateDict = {}
    linear = {f"{k}.weight": k for k in grams[0] if all(k in g for g in grams)}
    for key in states[0]:
        values = [s[key] for s in states]
        if key in skip or not values[0].is_floating_point():
            out[key] = values[0]
            continue
        if key in linear:
            shrunk = [alpha * g[linear[key]] + (1 - alpha) * torch.diag(torch.diag(g[linear[key]])) for g in grams]
            lhs = sum(shrunk)
            rhs = sum(gs @ w.double().T for gs, w in zip(shrunk, values))  # Σ G̃ᵢ Wᵢᵀ (in × out)
            solution = torch.linalg.lstsq(lhs, rhs).solution if torch.linalg.matrix_rank(lhs) < lhs.shape[0] \
                else torch.linalg.solve(lhs, rhs)
            out[key] = solution.T.to(values[0].dtype)
        else:
            out[key] = sum(values) / len(values)
    return out


def regmean_merge(models: Sequence[nn.Module], batches: Sequence[Iterable[Any]], forward: Forward, *,
                  options: Options | None = None, skip: Sequence[str] = ()) -> ModelMergeResult:
    """Collect each model's input Grams on its own batches, then merge (``skip``: names kept from model 0)."""
    opts = options or Options()
    grams = [input_grams(m, b, forward, opts.max_batches) for m, b in zip(models, batches)]
    states = [state_dict_of(m) for m in models]
    merged = merge_with_grams(states, grams, opts.reduce_non_diagonal_ratio, skip)
    return ModelMergeResult(merged, "regmean", info={"linear_layers": len(grams[0])})


METHOD = Method(
    name="regmean", title="RegMean",
    description="solves each linear layer in closed form so the merged layer answers like every expert on its own inputs (needs inputs).",
    options=Options, model_params=NoParams, base="unused", min_models=2, kind="model",
    merge_model=regmean_merge, data_based=True, in_mergekit=False, reference="https://arxiv.org/abs/2212.09849",
)
