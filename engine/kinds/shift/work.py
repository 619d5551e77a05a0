"""The shift kind's work function ``eval_cell``: a model scored under one condition (built-in models
are trained by the shared ``engine.models.training_cell``). A plain module-level function, run in
worker processes by ``engine.core.execute`` and testable with a fake context.

A cell loads what it needs (cached per process), checks its inputs, computes, and returns rows for
the coordinator to write. Errors become a failed result with a plain message (``execute_cell``);
cancellation raises ``CancelledError`` so nothing half-done is written.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.conditions.apply import field_dataset, logits, resample
from engine.core.cells import Cell, CellContext
from engine.core.errors import JuxtaError
from engine.core.sources import parse_source
from engine.core.store import PREDICTION_DTYPES, CellResult
from engine.data.base import Dataset
from engine.data.loaders import load_split
from engine.models.base import label_mapping

# -- evaluation ----------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _load_model(source: str, identity: str, path: str | None, root: str, trust_remote_code: bool):
    """A model, cached per worker process; ``identity`` is part of the cache key only (a changed file or
    hub commit is another model)."""
    from engine.models.loaders import load_juxta_file, load_model_file

    src = parse_source(source, kind="model")
    if src.scheme in ("builtin", "artifact"):
        if not path:
            raise JuxtaError(f"Model '{source}' has no trained weights yet; its training cell did not finish.")
        return load_juxta_file(Path(root) / path, source)
    if src.scheme == "file":
        return load_model_file(src, Path(root), trust_remote_code=trust_remote_code)
    from engine.models.hf import load_hf_model

    return load_hf_model(src, Path(root), trust_remote_code=trust_remote_code)


def model_path(cell: Cell) -> str | None:
    """Where the evaluated model's weights are: what its training cell saved, or the artifact it names."""
    saved = list(cell.inputs.get("artifacts", {}).values())
    if saved:
        return saved[0]
    ident = cell.spec["model"]["identity"]
    return ident.split(":", 1)[1] if ident.startswith("artifact:") else None


def eval_cell(cell: Cell, ctx: CellContext) -> CellResult:
    spec = cell.spec
    cond = spec["condition"]
    mspec = spec["model"]
    base_full, data = load_split(spec["data"], ctx.root, spec["data"]["split"])
    if cond["kind"] == "field":
        data = field_dataset(cond, base_full, ctx.root)
    data, info = resample(data, cond, cell.seed)
    clf = _load_model(mspec["source"], mspec["identity"], model_path(cell), str(ctx.root), mspec["trust_remote_code"])
    clf.check_fits(data, mspec["id"])
    clf.to(ctx.device).eval()
    mapping, how = label_mapping(clf.info.class_names, data.class_names, mspec["id"], data.source)
    labels = mapping[data.y]
    out = logits(clf, data, cond, cell.seed, cell.inputs.get("batch_size", 512), ctx)
    info.update({"examples": len(data), "label_mapping": how, "model_classes": len(clf.info.class_names)})
    return _score(cell, out, labels, data, info)


def _score(cell: Cell, outputs: np.ndarray, labels: np.ndarray, data: Dataset, info: dict[str, Any]) -> CellResult:
    from engine import metrics as M
    from engine import stats as S

    z = outputs - outputs.max(axis=1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=1, keepdims=True)
    mspec = cell.spec["metrics"]
    groups = None if data.groups is None else np.asarray(data.groups).astype(str)
    names = [m for m in mspec["names"] if m != "worst_group_accuracy" or groups is not None]
    intervals = S.bootstrap_metrics(names, probs, labels, groups, n_resamples=mspec["bootstrap"], seed=cell.seed, level=mspec["level"])
    rows = [(name, iv.value, iv.low, iv.high, iv.n) for name, iv in intervals.items()]
    ex = M.per_example(probs, labels)
    if groups is not None:
        for g in M.group_accuracy(ex["correct"], groups):
            rows.append((f"group_accuracy:{g.group}", g.accuracy, None, None, g.count))
    energy = M.ood_scores(outputs)["energy"]
    columns = {  # the store computes ``correct`` from label and prediction
        "example": data.index, "label": labels, "prediction": ex["pred"], "confidence": ex["confidence"],
        "energy": energy, "nll": ex["nll"], "brier": ex["brier"],
    }
    preds = {name: np.asarray(v).astype(PREDICTION_DTYPES[name], copy=False) for name, v in columns.items()}
    preds["group"] = groups
    return CellResult(cell.key, "done", info=info, metrics=rows, predictions=preds)
