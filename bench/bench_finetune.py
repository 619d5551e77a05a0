"""Fine-tuning figures, each a ratio measured in the same run (issue 9).

1. Training step: Juxta's loop (``engine.kinds.finetune.tune``: the one loop with its schedule,
   curves, cancellation checks, divergence tracking and memory meter) against a bare PyTorch / PEFT
   loop on the same model, data, batches and method (the same ``get_peft_model`` config for LoRA,
   with the frozen batch-norm layers in evaluation mode as Juxta keeps them), the same AdamW (fused,
   as Juxta uses it) in both, so the ratio is the loop's own overhead. Time per step of the training
   steps alone (Juxta's ``TrainRecord``: no preparation, no validation set in either). Target: ≤ 1.10×.
2. Linear probe with cached features (computed once per run) against the same loop recomputing the
   frozen backbone for every batch of every epoch (head trainable, backbone frozen; validation each
   epoch in both). Whole run, preparation included. Target: ≥ 5× faster.

On CPU the times are this process's CPU time (``time.process_time``; one torch thread by default),
which other processes on a shared machine disturb far less than wall time; on CUDA, wall time after
synchronising. Runs alternate between the two sides of each ratio (and which goes first), so what
noise remains hits both alike; the figure is the median over ``--repeats`` of the ratio of two runs
made next to each other (the ratio of the minima is printed too).

    python bench/bench_finetune.py [--repeats 15] [--epochs 1] [--probe-epochs 10] [--device cpu] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from engine.data.base import Dataset
from engine.data.loaders import load_data
from engine.kinds.finetune.features import FeatureCache
from engine.kinds.finetune.methods.base import Method, PrepareContext
from engine.kinds.finetune.methods.linear_probe import LinearProbe
from engine.kinds.finetune.training import Stage, TrainConfig
from engine.kinds.finetune.tune import tune
from engine.models.base import Classifier
from engine.models.recipes import Recipe
from engine.models.train import builtin_info, train_builtin


def digits(device: str) -> tuple[Classifier, Dataset, Dataset]:
    """A CNN trained on clean digits (the base), and inverted digits as target train / validation."""
    data = load_data("builtin:digits", Path("."))
    order = np.random.default_rng(0).permutation(len(data))
    module, _ = train_builtin(Recipe("cnn", epochs=3, lr=3e-3, batch_size=64, weight_decay=1e-4),
                              data.subset(order[:500]), None, 0, device)
    base = Classifier(module.cpu(), builtin_info("builtin:digits-cnn", "cnn", module, data))

    def inverted(rows):
        part = data.subset(rows)
        part.x = np.ascontiguousarray(1.0 - part.x)
        return part

    return base, inverted(order[:1400]), inverted(order[1400:])


def bare_step_loop(module: torch.nn.Module, params, x: np.ndarray, y: np.ndarray, epochs: int, batch: int,
                   lr: float, device: str, seed: int) -> tuple[float, int]:
    """The loop a PyTorch user writes: shuffle, forward, cross-entropy, backward, AdamW step."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0, fused=True)
    yt = torch.as_tensor(y, device=device)
    rng = np.random.default_rng(seed)
    module.train()
    for m in module.modules():  # frozen batch norm keeps its statistics (LoRA), as in Juxta's loop
        if isinstance(m, torch.nn.BatchNorm2d) and not m.weight.requires_grad:
            m.eval()
    steps = 0
    _sync(device)
    t0 = now(device)
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            xb = torch.from_numpy(x[rows]).to(device, non_blocking=True)
            loss = torch.nn.functional.cross_entropy(module(xb), yt[rows])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
    _sync(device)
    return now(device) - t0, steps


def bare_model(base: Classifier, method: str, device: str, seed: int):
    """The same model and trainable parameters as Juxta's method, set up by hand."""
    torch.manual_seed(seed)
    module = copy.deepcopy(base.module).to(device)
    if method == "full":
        return module, list(module.parameters())
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["features.0", "features.3", "features.7"],
                        modules_to_save=["head"])
    wrapped = get_peft_model(module, config)
    return wrapped, [p for p in wrapped.parameters() if p.requires_grad]


class RecomputedProbe(Method):
    """The linear probe without the cache: the frozen backbone runs for every batch of every epoch."""

    name = "linear_probe_recomputed"
    title = "Linear probe (backbone recomputed)"
    description = "Linear probe that runs the frozen backbone again for every batch."
    params = LinearProbe.params
    default_lr = LinearProbe.default_lr
    pretrained_lr = LinearProbe.pretrained_lr

    def prepare(self, model: Classifier, params, ctx: PrepareContext) -> list[Stage]:
        head = model.module.get_submodule(ctx.layout.head)
        for name, p in model.module.named_parameters():
            p.requires_grad_(name.startswith(ctx.layout.head + "."))
        return [Stage("probe", model.module, list(head.parameters()))]


def now(device: str) -> float:
    """CPU time on CPU, wall time (after synchronising) on CUDA."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _fmt(values: list[float], scale: float = 1000.0, unit: str = "ms") -> str:
    return f"min {scale * min(values):8.2f} {unit}, median {scale * statistics.median(values):8.2f} {unit}"


def loop_overhead(device: str, repeats: int) -> float:
    """Median extra time per step of Juxta's loop over the bare loop when the model costs almost
    nothing (a 64→10 linear layer on random features): the bookkeeping alone."""
    from engine.kinds.finetune.training import Feed, train

    n, rng = 6400, np.random.default_rng(0)
    x = rng.standard_normal((n, 64)).astype(np.float32)
    y = rng.integers(0, 10, n)
    yt = torch.as_tensor(y, device=device)
    diffs = []
    for _ in range(repeats):
        layer = torch.nn.Linear(64, 10).to(device)
        feed = Feed(forward=layer, train_batch=lambda rows: torch.from_numpy(x[rows]).to(device), train_y=yt)
        rec = train([Stage("train", layer, list(layer.parameters()))], lambda stage: feed,
                    TrainConfig(epochs=2, lr=1e-3, device=device))
        ours = (rec.train_seconds if device.startswith("cuda") else rec.train_cpu_seconds) / rec.steps
        layer = torch.nn.Linear(64, 10).to(device)
        seconds, steps = bare_step_loop(layer, list(layer.parameters()), x, y, 2, 64, 1e-3, device, 0)
        diffs.append(ours - seconds / steps)
    return statistics.median(diffs)


def _ratios(ours: list[float], base: list[float]) -> str:
    """The median of the ratios of runs made next to each other (robust to the load drifting during
    the bench), and the ratio of the minima (sensitive to one lucky run on either side)."""
    paired = statistics.median(o / b for o, b in zip(ours, base))
    return f"{paired:.3f}x (median of paired runs; ratio of minima {min(ours) / min(base):.3f}x)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--epochs", type=int, default=1, help="epochs per training-step run")
    ap.add_argument("--probe-epochs", type=int, default=10, help="epochs of the single linear-probe run")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base, train, val = digits(args.device)
    x, y = np.asarray(train.x), train.y
    clock = "wall time" if args.device.startswith("cuda") else "CPU time"
    print(f"digits 1×8×8: base CNN trained on 500 clean digits; target = {len(train)} train / {len(val)} validation "
          f"inverted digits; batch {args.batch}; device {args.device}; CPU threads {torch.get_num_threads()}; {clock}")

    print(f"\n1. training step, {args.epochs} epochs ({args.epochs * -(-len(train) // args.batch)} steps) per run, {args.repeats} runs a side")
    for method, lr in (("full", 3e-3), ("lora", 5e-3)):
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=lr, device=args.device, seed=0)
        ours, bare = [], []
        tune(base, train, None, method, None, cfg)  # warm-up (imports, allocator)
        for i in range(args.repeats):
            for side in ("ours", "bare") if i % 2 == 0 else ("bare", "ours"):  # alternate who runs first
                if side == "ours":
                    rec = tune(base, train, None, method, None, cfg).record
                    ours.append((rec.train_seconds if args.device.startswith("cuda") else rec.train_cpu_seconds) / rec.steps)
                else:
                    module, params = bare_model(base, method, args.device, 0)
                    seconds, steps = bare_step_loop(module, params, x, y, args.epochs, args.batch, lr, args.device, 0)
                    bare.append(seconds / steps)
        print(f"   {method:5s} bare loop  {_fmt(bare)} per step")
        print(f"   {method:5s} juxta loop {_fmt(ours)} per step")
        print(f"   {method:5s} juxta / bare = {_ratios(ours, bare)}; target <= 1.10x")

    overhead = loop_overhead(args.device, args.repeats)
    print(f"   the loop's own cost per step, on one linear layer with next to no compute: {1e6 * overhead:.0f} µs "
          "(schedule, loss slot, cancellation check; the rest is the model's forward, backward and optimizer step)")

    print("\n2. linear probe with cached features vs the backbone recomputed every batch (validation each epoch)")
    lr = LinearProbe.default_lr
    scenarios = {
        f"one run, {args.probe_epochs} epochs": [(lr, 0, args.probe_epochs)],
        "a study's arms: lr x {0.3, 1, 3} x seeds {0, 1, 2}, 5 epochs each, one cache": [
            (lr * f, seed, 5) for f in (0.3, 1.0, 3.0) for seed in (0, 1, 2)
        ],
    }
    tune(base, train, val, RecomputedProbe(), None, TrainConfig(epochs=1))  # warm-up
    for title, runs in scenarios.items():
        cached, recomputed = [], []
        for i in range(max(3, args.repeats // 5)):
            for side in ("cached", "recomputed") if i % 2 == 0 else ("recomputed", "cached"):
                cache = FeatureCache()  # features computed within the timed work
                t0 = now(args.device)
                for lr_i, seed, epochs in runs:
                    cfg = TrainConfig(epochs=epochs, batch_size=args.batch, lr=lr_i, device=args.device, seed=seed)
                    if side == "cached":
                        a = tune(base, train, val, "linear_probe", None, cfg, features=cache)
                    else:
                        b = tune(base, train, val, RecomputedProbe(), None, cfg)
                (cached if side == "cached" else recomputed).append(now(args.device) - t0)
        print(f"   {title}:")
        print(f"      recomputed backbone {_fmt(recomputed, 1.0, 's')}  (last val acc {b.val_accuracy:.3f})")
        print(f"      cached features     {_fmt(cached, 1.0, 's')}  (last val acc {a.val_accuracy:.3f})")
        print(f"      recomputed / cached = {_ratios(recomputed, cached)}; target >= 5x")


if __name__ == "__main__":
    main()
