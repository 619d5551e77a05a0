"""Shift-cell evaluation vs a bare torch loop over the same model, data and corruption.

Ours: ``execute_cell`` on a planned evaluation cell (data split, corruption, forward passes,
1,000-resample bootstrap of five metrics, per-example prediction rows), with the per-process data
and model caches warm, as in a worker that has already run one cell. Baseline: a hand-written loop
that corrupts each batch with the same function and runs the same model, computing accuracy only.
Target: ours / baseline ≤ 1.10.

    python bench/bench_cell_eval.py [--images 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine import open_project
from engine.core.cells import CellContext, execute_cell
from engine.models.base import ModelInfo
from engine.models.builtin import build
from engine.conditions.corruptions import corrupt
from engine.kinds.shift.work import eval_cell
from engine.models.train import save_juxta_model

STUDY = """schema_version = 1
[study]
name = "bench"
[[models]]
id = "cnn"
source = "file:cnn.safetensors"
[data]
source = "folder:imgs"
split = "all"
[shift]
clean = false
corruptions = ["gaussian_noise"]
severities = [3]
[metrics]
bootstrap = 1000
[execution]
batch_size = 256
"""


def setup(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for k in range(10):
        (root / "imgs" / f"c{k}").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "imgs" / f"c{i % 10}" / f"{i}.png")
    torch.manual_seed(0)
    module = build("cnn", (3, 32, 32), 10, torch.full((3,), 0.5), torch.full((3,), 0.25))
    info = ModelInfo("file:cnn.safetensors", "cnn", 0, [f"c{k}" for k in range(10)], "image", (3, 32, 32))
    save_juxta_model(module, info, None, root / "cnn.safetensors")
    (root / "bench.study.toml").write_text(STUDY)


def bare_loop(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor, batch: int) -> float:
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(x), batch):
            xb = corrupt(x[start:start + batch], "gaussian_noise", 3, 0, index[start:start + batch])
            correct += int((module(xb).argmax(1) == y[start:start + batch]).sum())
    return correct / len(x)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        setup(root, args.images)
        project = open_project(root)
        plan = project.plan("bench")
        (cell,) = plan.eval_cells
        cell.inputs["batch_size"] = 256
        ctx = CellContext(device="cpu", root=project.root)
        first = execute_cell(cell, ctx, eval_cell)
        assert first.status == "done", first.error

        from engine.data.loaders import load_data
        from engine.models.loaders import load_juxta_file

        data = load_data("folder:imgs", root)
        x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
        module = load_juxta_file(root / "cnn.safetensors", "file:cnn.safetensors").module.eval()
        index = torch.from_numpy(data.index)
        bare_loop(module, x, y, index, 256)

        ours, base = [], []
        for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
            t0 = time.perf_counter()
            result = execute_cell(cell, CellContext(device="cpu", root=project.root), eval_cell)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            acc = bare_loop(module, x, y, index, 256)
            base.append(time.perf_counter() - t0)
        ours_acc = [m for m in result.metrics if m[0] == "accuracy"][0][1]
        assert abs(ours_acc - acc) < 1e-9, (ours_acc, acc)  # same predictions
    o, b = min(ours), min(base)
    print(f"{args.images} images 3×32×32, CNN, gaussian_noise severity 3, batch 256, CPU threads {torch.get_num_threads()}")
    print(f"bare torch loop      {1000 * b:8.1f} ms (min of {args.repeats})")
    print(f"juxta execute_cell   {1000 * o:8.1f} ms (incl. 1,000-resample bootstrap of 5 metrics and prediction rows)")
    print(f"cell evaluation: {o / b:.3f}x the bare loop (target <= 1.10x)")


if __name__ == "__main__":
    main()
