"""The merge kind's work functions, one per cell type (``train`` is the shared ``engine.models.training_cell``).

Plain module-level functions run in worker processes by ``engine.core.execute``. What a worker loads
(models, their tensors, task inputs with their condition applied, merged updates) is cached in the
worker, so a sweep's cells share it: see ``models``, ``evaluate`` and ``sweep``.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.core.cells import Cell, CellContext
from engine.core.errors import CancelledError, JuxtaError
from engine.core.store import CellResult
from engine.kinds.merge.study.evaluate import accuracy, score, task_inputs, task_logits
from engine.kinds.merge.study.models import head_names, load_classifier, scratch_copy, state_dict


def _save_artifact(ctx: CellContext, cell: Cell, module, info, name: str) -> dict[str, Any]:
    """Save a module content-addressed under artifacts/models/ (a Juxta model file when it is one)."""
    from engine.models.recipes import ARCHITECTURES
    from engine.models.train import save_juxta_model

    tmp = ctx.root / "artifacts" / "models" / f".{cell.key}.safetensors"
    if info.architecture in ARCHITECTURES:
        save_juxta_model(module, info, None, tmp)
    else:
        from safetensors.torch import save_file

        tmp.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, str(tmp),
                  metadata={"source": info.source})
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    final = tmp.with_name(f"{digest}.safetensors")
    tmp.replace(final)
    return {"kind": "model", "name": name, "path": final.relative_to(ctx.root).as_posix(),
            "bytes": final.stat().st_size, "sha256": digest}


def _heads(merge: Mapping[str, Any], clf, state: Mapping[str, Any]) -> list[str]:
    return head_names({k: tuple(v.shape) for k, v in state.items()}, len(clf.info.class_names), merge.get("heads"))


# -- experts made here ----------------------------------------------------------------------------


def expert_cell(cell: Cell, ctx: CellContext) -> CellResult:
    """Fine-tune the base on the expert's task (train split, its condition applied): all weights, AdamW."""
    import torch

    from engine.models.training_cell import single_thread_on_cpu

    spec = cell.spec
    base = load_classifier(spec["base"], cell, ctx.root)
    from engine.models.recipes import ARCHITECTURES

    if base.info.architecture not in ARCHITECTURES:
        raise JuxtaError(f"Expert '{cell.arm}': tune fine-tunes built-in or Juxta models; {spec['base']['source']} is a "
                         f"{base.info.architecture}. Fine-tune it in a fine-tuning study and name that artifact instead.")
    clf = copy.deepcopy(base)
    train = task_inputs(spec["task"], ctx.root, "train").data
    val = task_inputs(spec["task"], ctx.root, "validation").data
    recipe = spec["recipe"]
    from engine.models.base import label_mapping

    mapping, _ = label_mapping(clf.info.class_names, train.class_names, cell.arm, train.source)
    y = torch.as_tensor(mapping[train.y])
    curves: list[tuple[int, str, float]] = []
    with single_thread_on_cpu(ctx.device):
        torch.manual_seed(cell.seed)
        rng = np.random.default_rng(cell.seed)
        module = clf.module.to(ctx.device)
        opt = torch.optim.AdamW(module.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
        loss_fn = torch.nn.CrossEntropyLoss()
        for epoch in range(1, recipe["epochs"] + 1):
            module.train()
            order = rng.permutation(len(train))
            total = 0.0
            for start in range(0, len(order), recipe["batch_size"]):
                if ctx.cancelled():
                    raise CancelledError()
                rows = order[start:start + recipe["batch_size"]]
                xb = torch.as_tensor(np.asarray(train.x)[rows]).to(ctx.device) if train.modality != "text" \
                    else [train.x[i] for i in rows]
                loss = loss_fn(module(xb), y[rows].to(ctx.device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(rows)
            curves.append((epoch, "train_loss", total / len(train)))
            module.eval()
            if len(val):
                out, labels = task_logits(clf, task_inputs(spec["task"], ctx.root, "validation"), cell.arm, ctx)
                curves.append((epoch, "val_accuracy", accuracy(out, labels)))
            ctx.progress(epoch / recipe["epochs"], f"epoch {epoch}/{recipe['epochs']}")
    module.cpu().eval()
    info = copy.copy(clf.info)
    info.source = f"artifact:{cell.study}/{cell.arm}"
    art = _save_artifact(ctx, cell, module, info, f"{cell.study}/{cell.arm}/seed{cell.seed}")
    return CellResult(cell.key, "done", curves=curves, artifacts=[art],
                      info={"train_examples": len(train), "recipe": recipe,
                            "val_accuracy": curves[-1][2] if curves and curves[-1][1] == "val_accuracy" else None})


# -- data-based methods -----------------------------------------------------------------------------


def _batches(task: Mapping[str, Any], root: Path, split: str, size: int = 32) -> list[Any]:
    import torch

    data = task_inputs(task, root, split).data
    if data.modality == "text":
        return [list(data.x[i:i + size]) for i in range(0, len(data), size)]
    x = torch.as_tensor(np.asarray(data.x))
    return [x[i:i + size] for i in range(0, len(x), size)]


def fit_cell(cell: Cell, ctx: CellContext) -> CellResult:
    """Fit a data-based method's merge once (its inputs: each task's ``fit_on`` split, labels unused) and
    save the merged weights; the evaluation cells of this configuration read them."""
    from engine.kinds.merge.methods import get_method

    spec = cell.spec
    merge, tasks, fit_on = spec["merge"], spec["tasks"], spec["fit_on"]
    experts = [load_classifier(m, cell, ctx.root) for m in merge["experts"]]
    states = [state_dict(m, cell, ctx.root) for m in merge["experts"]]
    heads = _heads(merge, experts[0], states[0])
    batches = [_batches(t, ctx.root, fit_on) for t in tasks]
    if any(not b for b in batches):
        raise JuxtaError(f"{merge['method']} fits on each task's {fit_on} split, and one of them has no rows.")
    method = get_method(merge["method"])
    params = dict(merge["parameters"])
    curves: list[tuple[int, str, float]] = []
    info: dict[str, Any] = {"fit_on": fit_on, "transductive": fit_on == "test"}
    ctx.progress(0.0, f"fitting {method.title}")
    if method.name == "adamerging":
        from engine.kinds.merge.methods.adamerging import Options, adamerging
        from engine.kinds.merge.methods.databased import functional_forward

        work = copy.deepcopy(experts[0])
        if spec.get("batch_norm") == "recompute":  # normalise with each batch's own statistics, as the merged
            from engine.kinds.merge.study.batchnorm import batch_statistics  # model's will be re-estimated

            batch_statistics(work.module)
        forward = functional_forward(work.module, heads=[{k: s[k] for k in heads} for s in states],
                                     call=lambda m, b: work.logits(b))
        base = state_dict(merge["base"], cell, ctx.root)
        buffers = [k for k, v in work.module.named_buffers() if v.is_floating_point()]
        result = adamerging(base, states, batches, forward, options=Options(**params), seed=cell.seed, skip=heads,
                            transductive=fit_on == "test", buffers=buffers)
        curves = [(i + 1, "entropy", v) for i, v in enumerate(result.curve)]
        info.update(result.info)
    else:
        wrappers = {id(c.module): c for c in experts}

        def forward(module, batch):
            return wrappers[id(module)].logits(batch)

        if method.name == "fisher":
            from engine.kinds.merge.methods.fisher import Options, fisher_merge

            weight = params.pop("weight", None)
            result = fisher_merge([c.module for c in experts], batches, forward, options=Options(**params), seed=cell.seed,
                                  skip=heads, weights=None if weight is None else [float(weight)] * len(experts))
        else:
            from engine.kinds.merge.methods.regmean import Options, regmean_merge

            result = regmean_merge([c.module for c in experts], batches, forward, options=Options(**params), skip=heads)
        info.update(result.info)
    merged = {k: v.detach() for k, v in result.state_dict.items()}
    merged.update({k: states[0][k] for k in heads})
    work = scratch_copy(merge["experts"][0], cell, ctx.root)
    work.module.load_state_dict(merged)
    art = _save_artifact(ctx, cell, work.module, work.info, f"{cell.study}/{cell.arm}/seed{cell.seed}")
    return CellResult(cell.key, "done", curves=curves, artifacts=[art], info=info)


# -- evaluation --------------------------------------------------------------------------------------


def merged_weights(cell: Cell, ctx: CellContext) -> tuple[Any, dict[str, Any]]:
    """The classifier of the task's expert with the configuration's merged weights and its own head (and,
    when the study asks, batch-norm statistics re-estimated on the merged model)."""
    spec = cell.spec
    merge = spec["merge"]
    head_model = next(m for m in merge["experts"] if m["id"] == spec["head"])
    own = state_dict(head_model, cell, ctx.root)
    clf = scratch_copy(head_model, cell, ctx.root)
    heads = _heads(merge, clf, own)
    if spec.get("fit"):
        from safetensors.torch import load_file

        path = cell.inputs.get("artifacts", {}).get(spec["fit"])
        if not path:
            raise JuxtaError(f"{cell.arm}: the fitted merge has no weights yet; its fit cell did not finish.")
        merged = load_file(str(ctx.root / path))
    else:
        from engine.kinds.merge.study.sweep import merge_in_memory

        base = state_dict(merge["base"], cell, ctx.root)
        experts = [state_dict(m, cell, ctx.root) for m in merge["experts"]]
        merged = merge_in_memory(merge, base, experts, heads)
    merged = {**merged, **{k: own[k] for k in heads}}
    clf.module.load_state_dict(merged)
    info: dict[str, Any] = {"heads": heads}
    if spec.get("batch_norm"):
        from engine.kinds.merge.study.batchnorm import recalibrated

        recalibrated(clf, spec["batch_norm"], merge, spec.get("fit"), ctx.root)
        info["batch_norm"] = "recomputed"
    return clf, info


def eval_cell(cell: Cell, ctx: CellContext) -> CellResult:
    """Score one row (base, an expert or a merged configuration) on one task."""
    spec = cell.spec
    batch = cell.inputs.get("batch_size", 512)
    inputs = task_inputs(spec["task"], ctx.root, spec["split"])
    info: dict[str, Any] = {"examples": len(inputs.data)}
    if spec["role"] == "merged":
        clf, extra = merged_weights(cell, ctx)
        info.update(extra)
        model_id = cell.arm
    else:
        clf = load_classifier(spec["model"], cell, ctx.root)
        model_id = spec["model"]["id"]
    out, labels = task_logits(clf, inputs, model_id, ctx, batch)
    rows, preds = score(out, labels, inputs.data, spec["metrics"], cell.seed)
    selection = spec.get("selection")
    if spec["role"] == "merged" and selection:
        sel = task_inputs(spec["task"], ctx.root, selection)
        sel_out, sel_labels = task_logits(clf, sel, model_id, ctx, batch)
        rows.append(("selection_accuracy", accuracy(sel_out, sel_labels), None, None, len(sel_labels)))
    return CellResult(cell.key, "done", info=info, metrics=rows, predictions=preds)


# -- diagnostics -------------------------------------------------------------------------------------


def diagnose_cell(cell: Cell, ctx: CellContext) -> CellResult:
    """How alike the experts' updates are, where they disagree in sign, and how large they are per layer."""
    from engine.kinds.merge.diagnostics import sign_conflicts, task_vector_similarity, update_norms

    spec = cell.spec
    base = state_dict(spec["base"], cell, ctx.root)
    experts = [state_dict(m, cell, ctx.root) for m in spec["experts"]]
    clf = load_classifier(spec["experts"][0], cell, ctx.root)
    heads = _heads(spec, clf, experts[0])
    sim = task_vector_similarity(base, experts, heads)
    raw = sign_conflicts(base, experts, None, heads)
    trimmed = sign_conflicts(base, experts, spec["density"], heads)
    norms = update_norms(base, experts, heads)
    ids = [m["id"] for m in spec["experts"]]
    info = {
        "experts": ids, "heads": heads, "similarity": sim.tolist(), "density": spec["density"],
        "conflicts": [{"layer": r.layer, "rate": r.conflict_rate, "shared": r.shared, "total": r.total,
                       "trimmed_rate": t.conflict_rate} for r, t in zip(raw, trimmed)],
        "norms": [{"layer": n.layer, "expert": ids[n.expert], "norm": n.norm, "relative": n.relative} for n in norms],
    }
    return CellResult(cell.key, "done", info=info)


def forget_worker_caches() -> None:
    """Forget the models, merges and batch-norm statistics this process keeps (task inputs stay): a
    benchmark that times one way of sweeping after another starts each from nothing."""
    from engine.kinds.merge.study import batchnorm, models, sweep

    sweep.CACHE.clear()
    batchnorm.CACHE.clear()
    models.forget_models()
