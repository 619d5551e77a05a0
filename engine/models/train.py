"""Training built-in models: a fixed, recorded recipe so a model is reproducible from its key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from engine.data.base import Dataset
from engine.core.errors import CancelledError
from engine.models.base import ModelInfo, count_parameters
from engine.models.builtin import build
from engine.models.recipes import Recipe

JUXTA_FORMAT = "juxta-model-1"


def _stats(train: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel (images) or per-feature (tables) mean and std of the training split."""
    if train.modality == "text":
        return torch.zeros(1), torch.ones(1)
    x = torch.as_tensor(np.asarray(train.x))
    axes = (0, 2, 3) if x.ndim == 4 else (0,)
    mean, std = x.mean(dim=axes), x.std(dim=axes)
    return mean, torch.where(std > 1e-6, std, torch.ones_like(std))


def _inputs(data: Dataset, rows: np.ndarray | slice, device: str):
    if data.modality == "text":
        idx = range(len(data))[rows] if isinstance(rows, slice) else rows
        return [data.x[i] for i in idx]
    return torch.as_tensor(np.asarray(data.x)[rows]).to(device)


def train_builtin(
    recipe: Recipe,
    train: Dataset,
    val: Dataset | None,
    seed: int,
    device: str,
    progress: Callable[[float, str], None] = lambda f, n: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> tuple[nn.Module, list[tuple[int, str, float]]]:
    """Train a built-in architecture; returns the module and curve rows (epoch, series, value)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean, std = _stats(train)
    module = build(recipe.arch, train.input_shape, train.num_classes, mean, std).to(device)
    opt = torch.optim.AdamW(module.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps_per_epoch = max(1, int(np.ceil(len(train) / recipe.batch_size)))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch, pct_start=0.15
    )
    y_all = torch.as_tensor(train.y)
    curves: list[tuple[int, str, float]] = []
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, recipe.epochs + 1):
        if cancelled():
            raise CancelledError()
        module.train()
        order = rng.permutation(len(train))
        total, seen = 0.0, 0
        for start in range(0, len(order), recipe.batch_size):
            rows = order[start : start + recipe.batch_size]
            xb, yb = _inputs(train, rows, device), y_all[rows].to(device)
            loss = loss_fn(module(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(rows)
            seen += len(rows)
        curves.append((epoch, "train_loss", total / seen))
        if val is not None and len(val):
            curves.append((epoch, "val_accuracy", accuracy_of(module, val, device)))
        progress(epoch / recipe.epochs, f"epoch {epoch}/{recipe.epochs}")
    module.eval()
    return module, curves


@torch.no_grad()
def accuracy_of(module: nn.Module, data: Dataset, device: str, batch: int = 1024) -> float:
    was_training = module.training
    module.eval()
    correct = 0
    for start in range(0, len(data), batch):
        rows = slice(start, start + batch)
        pred = module(_inputs(data, rows, device)).argmax(1).cpu().numpy()
        correct += int((pred == data.y[rows]).sum())
    module.train(was_training)
    return correct / len(data)


def save_juxta_model(module: nn.Module, info: ModelInfo, recipe: Recipe | None, path: Path) -> None:
    """Write weights as safetensors with the metadata needed to rebuild the architecture."""
    from safetensors.torch import save

    meta = {
        "format": JUXTA_FORMAT,
        "arch": info.architecture,
        "modality": info.modality,
        "input_shape": json.dumps(list(info.input_shape or [])),
        "class_names": json.dumps(info.class_names),
        "recipe": json.dumps(recipe.as_dict() if recipe else None, sort_keys=True),
        "source": info.source,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    tmp.write_bytes(canonical_safetensors(save(state, metadata=meta)))
    tmp.replace(path)


def canonical_safetensors(data: bytes) -> bytes:
    """The same file with its JSON header written with sorted keys.

    safetensors keeps metadata in a hash map whose order changes from call to call, so the same
    weights would hash differently and the report appendix could not confirm a re-run. Offsets in
    the header are relative to the data section, so only the header (padded to 8 bytes with spaces,
    as the format asks) is rewritten.
    """
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + n :]


def builtin_info(source: str, arch: str, module: nn.Module, train: Dataset) -> ModelInfo:
    return ModelInfo(
        source=source,
        architecture=arch,
        n_params=count_parameters(module),
        class_names=list(train.class_names),
        modality=train.modality,
        input_shape=None if train.modality == "text" else tuple(train.input_shape),
    )
