"""AdaMerging (Yang et al., ICLR'24): learn the task-arithmetic coefficients by making the merged
model confident on unlabeled inputs.

``θ = θ_base + Σₜ λₜ τₜ`` (task-wise) or ``θˡ = θ_baseˡ + Σₜ λₜˡ τₜˡ`` with one coefficient per tensor
per task (layer-wise, as FusionBench). The λ are fitted with Adam to minimise the mean prediction
entropy of the merged model on each task's unlabeled batches (each task through its own head).
When those batches come from the test split this is **transductive**: the coefficients have seen
the test inputs (not their labels). The result says so (``transductive``); a caller that tunes on a
validation split passes ``transductive=False``.
"""

from __future__ import annotations

from itertools import cycle
from typing import Any, Iterable, Mapping, Sequence, TYPE_CHECKING

from pydantic import Field

from engine.kinds.merge.methods.base import Method, NoParams, Params
from engine.kinds.merge.methods.databased import ModelMergeResult, ParamForward, float_keys

if TYPE_CHECKING:  # torch loads when a merge runs, not when a study is planned
    import torch


class Options(Params):
    layer_wise: bool = Field(True, description="one coefficient per tensor per task (layer-wise) or one per task")
    steps: int = Field(500, ge=0, description="optimisation steps (each sees one batch of every task)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate for the coefficients")
    init: float = Field(0.3, description="starting coefficient for every task (and tensor)")
    clamp: bool = Field(False, description="keep coefficients within [0, 1] after each step")


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean Shannon entropy of the softmax predictions."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(dim=-1).mean()


def adamerging(base: Mapping[str, torch.Tensor], experts: Sequence[Mapping[str, torch.Tensor]],
               batches: Sequence[Iterable[Any]], forward: ParamForward, *, options: Options | None = None,
               seed: int = 0, skip: Sequence[str] = (), transductive: bool = True,
               buffers: Sequence[str] = ()) -> ModelMergeResult:
    """Fit the coefficients, return the merged state dict with the learned coefficients in ``info``.

    ``forward(params, batch, task)`` returns logits of the model with ``params`` on ``batch`` through
    task ``task``'s head (see ``databased.functional_forward``). ``skip``: names not merged (heads).
    ``buffers``: float tensors that are not parameters (batch-norm running statistics): no gradient
    can flow into them, so each is merged with its layer's learned coefficient (the ``weight`` of the
    same module, layer-wise; the task's coefficient, task-wise), held fixed within a step."""
    import torch

    opts = options or Options()
    torch.manual_seed(seed)
    keys = [k for k in float_keys(base, skip) if all(k in e for e in experts)]
    tvs = [{k: (e[k] - base[k]).detach() for k in keys} for e in experts]
    n_tasks = len(experts)
    shape = (n_tasks, len(keys)) if opts.layer_wise else (n_tasks, 1)
    lam = torch.full(shape, float(opts.init), requires_grad=True)
    optim = torch.optim.Adam([lam], lr=opts.lr)
    streams = [cycle(b) if not hasattr(b, "__next__") else b for b in batches]
    fixed = {k: v for k, v in base.items() if k not in keys}

    frozen = set(buffers)
    column = {k: j for j, k in enumerate(keys)}
    if opts.layer_wise:  # a buffer follows its module's weight (or, lacking one, the task's mean coefficient)
        for k in frozen & set(keys):
            column[k] = column.get(k.rsplit(".", 1)[0] + ".weight", -1)

    def merged(coeff: torch.Tensor) -> dict[str, torch.Tensor]:
        out = dict(fixed)
        for j, k in enumerate(keys):
            if not opts.layer_wise:
                c = coeff[:, 0]
            elif column[k] >= 0:
                c = coeff[:, column[k]]
            else:
                c = coeff.mean(dim=1)
            if k in frozen:
                c = c.detach()
            out[k] = base[k] + sum(c[t] * tvs[t][k] for t in range(n_tasks))
        return out

    curve: list[float] = []
    for _ in range(opts.steps):
        optim.zero_grad()
        params = merged(lam)
        loss = sum(entropy(forward(params, next(streams[t]), t)) for t in range(n_tasks)) / n_tasks
        loss.backward()
        optim.step()
        if opts.clamp:
            with torch.no_grad():
                lam.clamp_(0, 1)
        curve.append(float(loss.detach()))
    with torch.no_grad():
        final = {k: v.detach().clone() for k, v in merged(lam).items()}
    coeffs = lam.detach().clone()
    info = {"coefficients": coeffs.tolist(), "tensors": keys if opts.layer_wise else None,
            "granularity": "layer-wise" if opts.layer_wise else "task-wise"}
    return ModelMergeResult(final, "adamerging", info=info, transductive=transductive, curve=curve)


METHOD = Method(
    name="adamerging", title="AdaMerging",
    description="learns task arithmetic's coefficients (per task or per layer) by making the merged model confident on unlabeled inputs; transductive when those are test inputs.",
    options=Options, model_params=NoParams, base="required", min_models=2, kind="model",
    merge_model=adamerging, data_based=True, in_mergekit=False, reference="https://arxiv.org/abs/2310.02575",
)
