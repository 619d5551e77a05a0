"""Training a built-in model as a cell, shared by every study kind that names one.

A built-in model (``builtin:digits-cnn``, ``builtin:mlp`` …) is trained on demand in a ``train`` cell
whose key depends only on the architecture, the recipe, the training data and the seed — so two
studies (of any kind) that need the same model share one cell and one artifact.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Any

from engine.core.cells import Cell, CellContext, cell_key
from engine.core.store import CellResult
from engine.data.base import Dataset
from engine.data.loaders import load_split
from engine.models.recipes import DEFAULT_RECIPES, parse_builtin

TRAIN_TYPE = "train"
TRAIN_VERSION = 1  # bump when training a built-in model gives other weights


def training_cell(study: str, arm: str, source: str, train_overrides: dict[str, Any] | None, data_spec: dict[str, Any],
                  data: Dataset, train_rows: Any, seed: int) -> Cell:
    """The cell that trains built-in ``source`` for a study whose data is ``data_spec`` (``data`` and its
    ``train_rows`` give the fingerprint of what it trains on, when it trains on the study's data)."""
    train_source, arch = parse_builtin(source.split(":", 1)[1])
    recipe = DEFAULT_RECIPES[arch]
    if train_overrides:
        recipe = type(recipe)(**{**recipe.as_dict(), **train_overrides})
    tdspec = dict(data_spec) if train_source is None else {
        **data_spec, "source": f"builtin:{train_source}", "options": {}, "fingerprint": None,
    }
    tdspec["train_fingerprint"] = (
        data.subset(train_rows).fingerprint() if train_source is None else f"builtin:{train_source}"
    )
    spec = {"arch": arch, "recipe": recipe.as_dict(), "data": tdspec, "seed": seed, "source": source}
    return Cell(cell_key(TRAIN_TYPE, TRAIN_VERSION, spec), study, TRAIN_TYPE, arm, "train", seed, spec)


def train_cell(cell: Cell, ctx: CellContext) -> CellResult:
    """Work function of a ``train`` cell: train, save a content-addressed safetensors artifact."""
    from engine.models.recipes import Recipe
    from engine.models.train import builtin_info, save_juxta_model, train_builtin

    spec = cell.spec
    dspec = spec["data"]
    _, train = load_split(dspec, ctx.root, "train")
    _, val = load_split(dspec, ctx.root, "validation")
    recipe = Recipe(**spec["recipe"])
    with single_thread_on_cpu(ctx.device):
        module, curves = train_builtin(recipe, train, val, cell.seed, ctx.device, ctx.progress, ctx.cancelled)
    info = builtin_info(spec["source"], recipe.arch, module, train)
    tmp = ctx.root / "artifacts" / "models" / f".{cell.key}.safetensors"
    save_juxta_model(module, info, recipe, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    final = tmp.with_name(f"{digest}.safetensors")
    tmp.replace(final)
    rel = final.relative_to(ctx.root).as_posix()
    val_acc = [v for _, s, v in curves if s == "val_accuracy"]
    return CellResult(
        cell.key,
        "done",
        info={"n_params": info.n_params, "recipe": recipe.as_dict(), "train_examples": len(train),
              "val_examples": len(val), "val_accuracy": val_acc[-1] if val_acc else None,
              "class_names": info.class_names},
        curves=curves,
        artifacts=[{"kind": "model", "name": f"{cell.study}/{cell.arm}/seed{cell.seed}", "path": rel,
                    "bytes": final.stat().st_size, "sha256": digest}],
    )


@contextmanager
def single_thread_on_cpu(device: str):
    """Train with one CPU thread so a model's weights do not depend on how many workers ran."""
    import torch

    before = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
