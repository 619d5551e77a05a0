"""The fine-tuning kind's work functions, one per cell type (see ``plan`` for what each spec holds):

* ``tune_cell``: tune a copy of the base with one method and learning rate, sending each epoch's
  curve points live, and save the tuned model (``saved``);
* ``select_cell``: choose an arm's learning rate on validation accuracy (mean over seeds) and publish
  the chosen model as the arm's artifact;
* ``eval_cell``: score the base, a tuned model or a WiSE-FT blend on one evaluation set, keeping
  per-example predictions (negative flips are counted against the base example by example).

Plain module-level functions, run in worker processes by ``engine.core.execute`` and testable with a
bare ``CellContext``. User mistakes become a failed cell with one plain sentence (``JuxtaError``);
cancellation raises ``CancelledError`` between batches so nothing half-done is written.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.cells import Cell, CellContext
from engine.core.errors import JuxtaError, ModelError
from engine.core.sources import Source, parse_source
from engine.core.store import PREDICTION_DTYPES, CellResult
from engine.kinds.finetune.domain import domain_split
from engine.models.base import Classifier, label_mapping

# -- models -------------------------------------------------------------------------------------


def base_model(base: dict[str, Any], inputs: dict[str, Any], root: Path) -> Classifier:
    """The study's base, cached per worker: what its training cell saved, the artifact it names, or its source."""
    path = inputs.get("artifacts", {}).get(base.get("key") or "")
    identity = base["identity"]
    if path is None and identity.startswith("artifact:"):
        path = identity.split(":", 1)[1]
    return _load_base(base["source"], identity, path, str(root), bool(base.get("trust_remote_code")))


@lru_cache(maxsize=4)
def _load_base(source: str, identity: str, path: str | None, root: str, trust_remote_code: bool) -> Classifier:
    """``identity`` keys the cache only: a changed file or hub commit is another model."""
    if path is not None:
        return model_at(Path(root) / path, source)
    src = parse_source(source, kind="model")
    if src.scheme == "file":
        from engine.models.loaders import load_model_file

        return load_model_file(src, Path(root), trust_remote_code=trust_remote_code)
    if src.scheme == "hf":
        from engine.models.hf import load_hf_model

        return load_hf_model(src, Path(root), trust_remote_code=trust_remote_code)
    raise ModelError(f"Base model '{source}' has no saved weights yet; the cell that makes it did not finish.")


def model_at(path: Path, source: str) -> Classifier:
    """A model saved in the project: a Juxta model file, or a Hugging Face folder (a tuned transformers model)."""
    if path.is_dir():
        from engine.models.hf import load_hf_model

        clf = load_hf_model(Source("file", str(path)), path.parent)
        clf.info.source = source
        return clf
    from engine.models.loaders import load_juxta_file, read_juxta_header
    from engine.models.train import JUXTA_FORMAT

    if read_juxta_header(path).get("format") != JUXTA_FORMAT:
        raise ModelError(f"Model '{source}' ({path}) holds weights without an architecture (tuned from a model that is "
                         "not built in); use it through the study that tuned it, or export it as a Hugging Face folder.")
    return load_juxta_file(path, source)


@lru_cache(maxsize=8)
def _tuned(path: str, root: str, base_identity: str, base: Classifier) -> Classifier:
    from engine.kinds.finetune.saved import load_tuned

    return load_tuned(Path(root) / path, base, f"tuned:{path}")


# -- tuning -------------------------------------------------------------------------------------


def tune_cell(cell: Cell, ctx: CellContext) -> CellResult:
    from engine.kinds.finetune.methods import get_method
    from engine.kinds.finetune.saved import save_tuned
    from engine.kinds.finetune.training import Callbacks, EpochPoint, TrainConfig
    from engine.kinds.finetune.tune import tune
    from engine.models.training_cell import single_thread_on_cpu

    spec = cell.spec
    base = base_model({**spec["base"], "key": next(iter(cell.depends_on), None)}, cell.inputs, ctx.root)
    train = domain_split(spec["data"], ctx.root, "train", spec["domain"])
    val = domain_split(spec["data"], ctx.root, "validation", spec["domain"])
    t = spec["training"]
    config = TrainConfig(epochs=t["epochs"], batch_size=t["batch_size"], lr=t["lr"], weight_decay=t["weight_decay"],
                         schedule=t["schedule"], max_grad_norm=t["max_grad_norm"], seed=cell.seed, device=ctx.device,
                         mixed_precision=t["mixed_precision"])

    def on_epoch(point: EpochPoint) -> None:
        for series, value in (("train_loss", point.train_loss), ("val_loss", point.val_loss),
                              ("val_accuracy", point.val_accuracy)):
            if value is not None:
                ctx.curve(point.epoch, series, value)

    method = get_method(spec["method"])
    with single_thread_on_cpu(ctx.device):
        tuned = tune(base, train, val, method, spec["params"], config,
                     Callbacks(on_epoch=on_epoch, progress=ctx.progress, cancelled=ctx.cancelled))
    record = tuned.record
    counts = tuned.counts
    last = record.points[-1]
    extra = {"val_accuracy": last.val_accuracy, "val_loss": last.val_loss, "key": cell.key}
    saved = save_tuned(tuned, ctx.root / "artifacts" / "finetune" / cell.key, ctx.root, extra)
    memory = record.memory
    metrics = [
        ("val_accuracy", last.val_accuracy, len(val)), ("val_loss", last.val_loss, len(val)),
        ("train_loss", last.train_loss, len(train)), ("trainable_params", counts.trainable, 1),
        ("head_params", counts.head, 1), ("base_params", counts.base, 1), ("trainable_share", counts.share, 1),
        ("wall_s", record.seconds, 1), ("train_s", record.train_seconds, 1), ("train_cpu_s", record.train_cpu_seconds, 1),
        ("peak_memory_bytes", memory.peak_bytes, 1), ("added_memory_bytes", memory.added_bytes, 1),
        ("steps", record.steps, 1), ("lr", t["lr"], 1),
    ]
    if counts.peft_trainable is not None:
        metrics += [("peft_trainable_params", counts.peft_trainable, 1), ("peft_total_params", counts.peft_total, 1)]
    info = {
        "method": method.name, "title": method.title, "params": spec["params"], "lr": t["lr"],
        "default_lr": method.lr_for(base.info), "head_replaced": tuned.head.replaced, "head_note": tuned.head.note,
        "memory": memory.label, "stages": record.stages, "targets": _targets(tuned.model),
        "trainable_lines": counts.lines(), "train_examples": len(train), "val_examples": len(val),
    }
    artifacts = [{"kind": "model", "name": f"{cell.study}/{cell.arm}/{cell.condition}/seed{cell.seed}", **saved["model"]}]
    if saved["adapter"]:
        artifacts.append({"kind": "adapter", "name": f"{cell.study}/{cell.arm}/{cell.condition}/seed{cell.seed}",
                          **saved["adapter"]})
    return CellResult(cell.key, "done", info=info, metrics=[(n, float(v), None, None, int(k)) for n, v, k in metrics],
                      curves=record.curves, artifacts=artifacts)


def _targets(model: Classifier) -> list[str]:
    """The layers an adapter method wrapped (empty for other methods)."""
    config = getattr(model.module, "peft_config", None)
    if not config:
        return []
    targets = next(iter(config.values())).target_modules
    return sorted(targets) if targets else []


# -- choosing the learning rate -------------------------------------------------------------------


def select_cell(cell: Cell, ctx: CellContext) -> CellResult:
    """The learning rate with the best validation accuracy, averaged over seeds (ties: the lower mean
    validation loss, then the smaller rate), and this seed's model tuned with it, published as
    ``<study>/<arm>/seed<N>``. For the base, its trained model is published as is."""
    from engine.kinds.finetune.saved import read_record

    spec = cell.spec
    paths = cell.inputs.get("artifacts", {})
    name = f"{spec['study']}/{spec['arm']}/seed{cell.seed}"
    candidates = spec["candidates"]
    if candidates[0][0] is None:  # the base: its training cell's file is named by its sha256
        path = paths[candidates[0][2]]
        size = (ctx.root / path).stat().st_size
        return CellResult(cell.key, "done", info={"base": True}, artifacts=[
            {"kind": "model", "name": name, "path": path, "bytes": size, "sha256": Path(path).stem}])
    records = {key: read_record(ctx.root / paths[key]) for _, _, key in candidates}
    by_lr: dict[float, list[dict[str, Any]]] = {}
    for lr, _, key in candidates:
        by_lr.setdefault(lr, []).append(records[key])
    scores = {lr: (float(np.mean([r["val_accuracy"] for r in rs])), float(np.mean([r["val_loss"] for r in rs])))
              for lr, rs in by_lr.items()}
    best = max(scores, key=lambda lr: (scores[lr][0], -scores[lr][1], -lr))
    key = next(k for lr, seed, k in candidates if lr == best and seed == cell.seed)
    chosen = records[key]
    artifacts = [{"kind": "model", "name": name, **chosen["model"]}]
    if chosen.get("adapter"):
        artifacts.append({"kind": "adapter", "name": name, **chosen["adapter"]})
    info = {"chosen_lr": best, "chosen_key": key, "rule": "best mean validation accuracy over seeds",
            "candidates": [{"lr": lr, "val_accuracy": a, "val_loss": v} for lr, (a, v) in sorted(scores.items())]}
    metrics = [("chosen_lr", best, None, None, 1), ("val_accuracy", scores[best][0], None, None, len(by_lr[best]))]
    return CellResult(cell.key, "done", info=info, metrics=metrics, artifacts=artifacts)


# -- evaluation ---------------------------------------------------------------------------------


def eval_cell(cell: Cell, ctx: CellContext) -> CellResult:
    from engine.conditions.apply import logits

    spec = cell.spec
    m = spec["model"]
    base = base_model(m["base"], cell.inputs, ctx.root)
    clf = base
    how = "base"
    if m["tuned"] is not None:
        path = cell.inputs.get("artifacts", {}).get(m["tuned"])
        if path is None:
            raise JuxtaError(f"The tuned model of '{cell.arm}' has not been saved; its tuning did not finish.")
        clf = _tuned(path, str(ctx.root), m["base"]["identity"], base)
        how = "tuned"
        if m["alpha"] is not None:
            from engine.kinds.finetune.methods.wise_ft import interpolate

            clf = interpolate(base, clf, float(m["alpha"]))
            how = f"WiSE-FT α={m['alpha']:g}"
        if spec["set"] == "source" and list(clf.info.class_names) != list(base.info.class_names):
            from engine.kinds.finetune.head import with_base_head

            clf = with_base_head(clf, base)  # the source task through the base's own head on the tuned features
            how += ", with the base's head (the target has other classes)"
    data = domain_split(spec["data"], ctx.root, spec["data"]["split"], spec["domain"])
    clf.check_fits(data, cell.arm)
    clf.to(ctx.device).eval()
    mapping, matched = label_mapping(clf.info.class_names, data.class_names, cell.arm, data.source)
    out = logits(clf, data, spec["condition"], cell.seed, cell.inputs.get("batch_size", 512), ctx)
    info = {"examples": len(data), "label_mapping": matched, "model": how, "model_classes": len(clf.info.class_names)}
    return score(cell, out, mapping[data.y], data.index, info)


def score(cell: Cell, outputs: np.ndarray, labels: np.ndarray, examples: np.ndarray, info: dict[str, Any]) -> CellResult:
    """Metrics with their bootstrap intervals and per-example predictions for one evaluated set."""
    from engine import metrics as M
    from engine import stats as S

    z = outputs - outputs.max(axis=1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=1, keepdims=True)
    mspec = cell.spec["metrics"]
    names = [n for n in mspec["names"] if n != "worst_group_accuracy"]
    intervals = S.bootstrap_metrics(names, probs, labels, None, n_resamples=mspec["bootstrap"], seed=cell.seed,
                                    level=mspec["level"])
    rows = [(name, iv.value, iv.low, iv.high, iv.n) for name, iv in intervals.items() if math.isfinite(iv.value)]
    ex = M.per_example(probs, labels)
    columns = {"example": examples, "label": labels, "prediction": ex["pred"], "confidence": ex["confidence"],
               "energy": M.ood_scores(outputs)["energy"], "nll": ex["nll"], "brier": ex["brier"]}
    preds = {k: np.asarray(v).astype(PREDICTION_DTYPES[k], copy=False) for k, v in columns.items()}
    preds["group"] = None
    return CellResult(cell.key, "done", info=info, metrics=rows, predictions=preds)
