"""Work functions: ``run_cell(cell, ctx) -> CellResult``, plain functions testable with a fake ctx.

A cell runs in a worker process. It loads what it needs (cached per process), checks its inputs,
computes, and returns rows for the coordinator to write. Errors become a failed result with a
plain message; cancellation raises ``CancelledError`` so nothing half-done is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.data.base import Dataset, DataOptions
from engine.data.loaders import load_data_cached
from engine.core.errors import CancelledError, DataError, JuxtaError
from engine.models.base import label_mapping
from engine.plan import Cell, split_rows
from engine.core.sources import parse_source
from engine.store import PREDICTION_DTYPES, CellResult


@dataclass
class CellContext:
    """What a work function gets from its runner: device, seed, progress and cancellation."""

    device: str = "cpu"
    root: Path = Path(".")
    progress_fn: Callable[[str, float, str], None] | None = None
    cancel_file: str | None = None
    cell_key: str = ""
    _last_check: float = field(default=0.0, repr=False)
    _cancelled: bool = field(default=False, repr=False)

    def progress(self, fraction: float, note: str = "") -> None:
        if self.progress_fn is not None:
            try:
                self.progress_fn(self.cell_key, float(fraction), note)
            except Exception:  # progress is best effort; a broken queue must not fail the cell
                self.progress_fn = None

    def cancelled(self) -> bool:
        if self._cancelled:
            return True
        now = time.monotonic()
        if self.cancel_file and now - self._last_check > 0.05:
            self._last_check = now
            self._cancelled = os.path.exists(self.cancel_file)
        return self._cancelled


def execute_cell(cell: Cell, ctx: CellContext) -> CellResult:
    """Run a cell and always return a result: done, failed (with a message) or cancelled."""
    started = time.time()
    t0 = time.perf_counter()
    ctx.cell_key = cell.key
    try:
        _reset_peak(ctx.device)
        result = run_cell(cell, ctx)
        result.status = "done"
    except CancelledError:
        result = CellResult(cell.key, "cancelled")
    except JuxtaError as exc:
        result = CellResult(cell.key, "failed", error=str(exc))
    except MemoryError:
        result = CellResult(cell.key, "failed", error="The cell ran out of memory; lower execution.batch_size or use a smaller model.")
    except Exception as exc:  # any other bug or library error: record it, keep the others going
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if "out of memory" in msg.lower():
            msg = "The device ran out of memory; lower execution.batch_size or run on another device."
        result = CellResult(cell.key, "failed", error=f"{type(exc).__name__}: {msg}"[:2000], traceback=traceback.format_exc())
    result.started = started
    result.duration_s = time.perf_counter() - t0
    result.device = ctx.device
    result.peak_mem_mb = _peak_mb(ctx.device)
    return result


def run_cell(cell: Cell, ctx: CellContext) -> CellResult:
    if cell.kind == "train":
        return train_cell(cell, ctx)
    return eval_cell(cell, ctx)


# -- data ----------------------------------------------------------------------------------------


def _options(raw: dict[str, Any]) -> DataOptions:
    raw = {k: v for k, v in raw.items() if k in DataOptions.__dataclass_fields__}
    if raw.get("feature_columns"):
        raw["feature_columns"] = tuple(raw["feature_columns"])
    return DataOptions(**raw)


def _split(spec: dict[str, Any], root: Path, split: str) -> tuple[Dataset, Dataset]:
    """The full dataset and one of its recorded splits (both cached per worker process)."""
    opts = _options(spec.get("options") or {})
    full = load_data_cached(spec["source"], str(root), opts)
    rows = _split_rows(spec["source"], str(root), opts, json.dumps(spec["splits"], sort_keys=True), spec["split_seed"], spec.get("max_examples"))
    return full, full.subset(rows[split])


@lru_cache(maxsize=16)
def _split_rows(source: str, root: str, opts: DataOptions, splits: str, seed: int, max_examples: int | None) -> dict:
    full = load_data_cached(source, root, opts)
    return split_rows(full, {"splits": json.loads(splits), "split_seed": seed, "max_examples": max_examples})


# -- training ------------------------------------------------------------------------------------


def train_cell(cell: Cell, ctx: CellContext) -> CellResult:
    from engine.models.recipes import Recipe
    from engine.models.train import builtin_info, save_juxta_model, train_builtin

    spec = cell.spec
    dspec = spec["data"]
    _, train = _split(dspec, ctx.root, "train")
    _, val = _split(dspec, ctx.root, "validation")
    recipe = Recipe(**spec["recipe"])
    with _single_thread_on_cpu(ctx.device):
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
def _single_thread_on_cpu(device: str):
    """Train with one CPU thread so a model's weights do not depend on how many workers ran."""
    import torch

    before = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# -- evaluation ----------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _load_model(source: str, identity: str, path: str | None, root: str, trust_remote_code: bool):
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


def _eval_data(cell: Cell, ctx: CellContext) -> Dataset:
    cond = cell.spec["condition"]
    base_full, test = _split(cell.spec["data"], ctx.root, cell.spec["data"]["split"])
    if cond["kind"] != "field":
        return test
    field_data = load_data_cached(cond["source"], str(ctx.root), _options(cond.get("options") or {}))
    lookup = {n: i for i, n in enumerate(base_full.class_names)}
    y = np.asarray([lookup[field_data.class_names[k]] for k in field_data.y], dtype=np.int64)
    return Dataset(field_data.source, field_data.modality, field_data.x, y, base_full.class_names,
                   groups=field_data.groups, feature_names=field_data.feature_names, index=field_data.index)


def _resample(data: Dataset, cond: dict[str, Any], seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Rows of ``data`` a resampling shift keeps (positions), and what it realised."""
    from engine.conditions import resample

    if cond["kind"] == "label_shift":
        method = cond["method"]
        if method == "dirichlet":
            r = resample.dirichlet_label_shift(data.y, data.num_classes, cond["alpha"], seed)
        elif method == "tweak_one":
            r = resample.tweak_one_label_shift(data.y, data.num_classes, cond["rho"], seed)
        else:
            r = resample.class_imbalance(data.y, data.num_classes, cond["ratio"], seed)
        return r.indices, r.info
    if cond["kind"] == "group_shift":
        if data.groups is None:
            raise DataError(f"Dataset {data.source} has no groups; group shift needs group_column in [data].")
        r = resample.group_shift(np.asarray(data.groups).astype(str), cond["group"], cond["share"], seed)
        return r.indices, r.info
    return np.arange(len(data), dtype=np.int64), {}


def eval_cell(cell: Cell, ctx: CellContext) -> CellResult:
    spec = cell.spec
    cond = spec["condition"]
    mspec = spec["model"]
    data = _eval_data(cell, ctx)
    rows, info = _resample(data, cond, cell.seed)
    data = data.subset(rows) if cond["kind"] in ("label_shift", "group_shift") else data
    clf = _load_model(mspec["source"], mspec["identity"], cell.inputs.get("model_path"), str(ctx.root), mspec["trust_remote_code"])
    clf.check_fits(data, mspec["id"])
    clf.to(ctx.device).eval()
    mapping, how = label_mapping(clf.info.class_names, data.class_names, mspec["id"], data.source)
    labels = mapping[data.y]
    logits = _logits(clf, data, cond, cell.seed, cell.inputs.get("batch_size", 512), ctx)
    info.update({"examples": len(data), "label_mapping": how, "model_classes": len(clf.info.class_names)})
    return _score(cell, logits, labels, data, info)


def _logits(clf, data: Dataset, cond: dict[str, Any], seed: int, batch: int, ctx: CellContext) -> np.ndarray:
    """Model outputs for every row, with the condition's perturbation applied batch by batch."""
    import torch

    kind = cond["kind"]
    n = len(data)
    out = []
    if kind == "tabular":
        x_all = np.asarray(data.x)
        mean, std = x_all.mean(axis=0), x_all.std(axis=0)
    autocast = ctx.device.startswith("cuda")
    with torch.inference_mode(), torch.autocast("cuda", enabled=autocast):
        for start in range(0, n, batch):
            if ctx.cancelled():
                raise CancelledError()
            stop = min(n, start + batch)
            idx = data.index[start:stop]
            if data.modality == "text":
                xb: Any = data.x[start:stop]
                if kind == "text":
                    from engine.conditions.text import perturb_text

                    xb = perturb_text(list(xb), cond["name"], cond["severity"], seed, idx)
            else:
                xnp = np.asarray(data.x[start:stop])
                if kind == "tabular":
                    from engine.conditions.tabular import perturb_table

                    xnp = perturb_table(xnp, cond["name"], cond["severity"], seed, idx, mean, std)
                xb = torch.from_numpy(np.ascontiguousarray(xnp, dtype=np.float32)).to(ctx.device)
                if kind == "corruption":
                    from engine.conditions.corruptions import corrupt

                    xb = corrupt(xb, cond["name"], cond["severity"], seed, torch.from_numpy(idx).to(ctx.device))
                if xb.ndim == 4:  # convolutions run markedly faster on channels-last memory
                    xb = xb.contiguous(memory_format=torch.channels_last)
            out.append(clf.logits(xb).float().cpu().numpy())
            ctx.progress(stop / n, f"{stop}/{n} examples")
    return np.concatenate(out).astype(np.float64)


def _score(cell: Cell, logits: np.ndarray, labels: np.ndarray, data: Dataset, info: dict[str, Any]) -> CellResult:
    from engine import metrics as M
    from engine import stats as S

    z = logits - logits.max(axis=1, keepdims=True)
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
    energy = M.ood_scores(logits)["energy"]
    columns = {  # the store computes ``correct`` from label and prediction
        "example": data.index, "label": labels, "prediction": ex["pred"], "confidence": ex["confidence"],
        "energy": energy, "nll": ex["nll"], "brier": ex["brier"],
    }
    preds = {name: np.asarray(v).astype(PREDICTION_DTYPES[name], copy=False) for name, v in columns.items()}
    preds["group"] = groups
    return CellResult(cell.key, "done", info=info, metrics=rows, predictions=preds)


# -- resource accounting -------------------------------------------------------------------------


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(torch.device(device))


def _peak_mb(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated(torch.device(device)) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
