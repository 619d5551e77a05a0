"""A task's inputs, and scoring a classifier on them: what every evaluation of a merge study shares
(the study's cells and the sweep bench's write-and-reload baseline run this same code).

A task is the dict a cell's spec records: ``{"id", "data": <data spec with fingerprints>,
"condition": {"id", "kind", "name", "severity"}, "condition_seed"}``. Its inputs, with the condition
applied once, are cached per worker process: the many merged configurations of a sweep are all
scored on the same perturbed inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.conditions.apply import Runner, logits
from engine.core.store import PREDICTION_DTYPES
from engine.data.base import Dataset
from engine.data.loaders import load_split
from engine.models.base import label_mapping

CLEAN = {"id": "clean", "kind": "clean"}


@dataclass(frozen=True)
class TaskInputs:
    """A task's split with its condition already applied (scored as clean data)."""

    data: Dataset
    condition: str


@lru_cache(maxsize=32)
def _inputs(task_json: str, root: str, split: str) -> TaskInputs:
    task = json.loads(task_json)
    _, data = load_split(task["data"], Path(root), split)
    cond = task["condition"]
    seed = int(task.get("condition_seed", 0))
    if cond["kind"] == "clean" or len(data) == 0:
        return TaskInputs(data, cond["id"])
    if data.modality == "text":
        from engine.conditions.text import perturb_text

        x: Any = perturb_text(list(data.x), cond["name"], cond["severity"], seed, data.index)
    elif cond["kind"] == "tabular":
        from engine.conditions.tabular import perturb_table

        xa = np.asarray(data.x)
        x = perturb_table(xa, cond["name"], cond["severity"], seed, data.index, xa.mean(axis=0), xa.std(axis=0))
    else:
        import torch

        from engine.conditions.corruptions import corrupt

        with torch.no_grad():
            x = corrupt(torch.from_numpy(np.ascontiguousarray(data.x, dtype=np.float32)), cond["name"], cond["severity"],
                        seed, torch.from_numpy(data.index)).numpy()
    return TaskInputs(Dataset(data.source, data.modality, x, data.y, data.class_names, groups=data.groups,
                              feature_names=data.feature_names, index=data.index), cond["id"])


def task_inputs(task: Mapping[str, Any], root: Path, split: str) -> TaskInputs:
    """The task's ``split`` ("train", "validation", "test") with its condition applied, cached per worker."""
    return _inputs(json.dumps(task, sort_keys=True), str(root), split)


def task_logits(clf: Any, inputs: TaskInputs, model_id: str, run: Runner, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(logits, labels as the model's class indices) of a classifier on a task's inputs."""
    data = inputs.data
    clf.check_fits(data, model_id)
    clf.to(run.device).eval()
    mapping, _ = label_mapping(clf.info.class_names, data.class_names, model_id, data.source)
    out = logits(clf, data, CLEAN, 0, batch, run)
    return out, mapping[data.y]


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    return float((outputs.argmax(axis=1) == labels).mean()) if len(labels) else float("nan")


def score(outputs: np.ndarray, labels: np.ndarray, data: Dataset, metrics: Mapping[str, Any], seed: int
          ) -> tuple[list[tuple[str, float, float | None, float | None, int]], dict[str, np.ndarray]]:
    """Metric rows (name, value, ci_low, ci_high, n) with bootstrap intervals, and the per-example
    prediction columns the store keeps."""
    from engine import metrics as M
    from engine import stats as S

    z = outputs - outputs.max(axis=1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=1, keepdims=True)
    names = [m for m in metrics["names"] if m != "worst_group_accuracy"]
    intervals = S.bootstrap_metrics(names, probs, labels, None, n_resamples=metrics["bootstrap"], seed=seed,
                                    level=metrics["level"])
    rows = [(name, iv.value, iv.low, iv.high, iv.n) for name, iv in intervals.items()]
    ex = M.per_example(probs, labels)
    columns = {"example": data.index, "label": labels, "prediction": ex["pred"], "confidence": ex["confidence"],
               "energy": M.ood_scores(outputs)["energy"], "nll": ex["nll"], "brier": ex["brier"]}
    preds = {name: np.asarray(v).astype(PREDICTION_DTYPES[name], copy=False) for name, v in columns.items()}
    preds["group"] = None
    return rows, preds
