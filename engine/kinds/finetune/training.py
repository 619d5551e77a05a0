"""The one training loop every fine-tuning method runs.

A method hands the loop one or more :class:`Stage` s (LP-FT has two: probe the head, then tune all);
each names the module to put in training mode, the parameters to update and where its inputs come
from (the dataset through the model, or cached features for a probe). The recipe, the same for all:

* AdamW (weight decay 0 by default: decay pulls weights toward zero, not toward the base; fused
  where torch supports it), one optimizer per stage over that stage's parameters;
* learning rate per step: cosine decay from the stage's lr to 0 over the stage (default), or
  constant; no warm-up;
* cross-entropy on the target labels (mapped to the model's outputs), plus a method's regulariser
  if it has one (AdaLoRA's orthogonality term);
* examples shuffled each epoch with ``numpy.random.default_rng(seed)``; the torch seed is set by the
  caller before the model is prepared (head and adapter initialisation);
* frozen parts stay frozen in behaviour too: a normalisation layer with running statistics keeps
  them (evaluation mode) unless the stage trains all of that layer's parameters;
* on CUDA, mixed precision (bfloat16 where supported, else float16 with loss scaling).

Learning curves (training loss, validation loss and accuracy per epoch) go to ``callbacks.on_epoch``
as they are measured, so a GUI can draw them live. ``callbacks.cancelled`` is asked between batches.
Each step's loss is written to a slot on the device (no synchronisation per step); at the end of the
epoch a non-finite one is reported as "training diverged at step N"; running out of memory becomes a plain message.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

import numpy as np

from engine.core.errors import CancelledError
from engine.kinds.finetune.errors import TrainingError
from engine.kinds.finetune.memory import MemoryMeter, PeakMemory

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class TrainConfig:
    """What every method shares in one run (the method's own choices live in its parameters)."""

    epochs: int = 5
    batch_size: int = 64
    lr: float | None = None  # None: the method's default for the model (Method.lr_for)
    weight_decay: float = 0.0
    schedule: Literal["cosine", "constant"] = "cosine"
    max_grad_norm: float | None = None  # clip the gradient norm when set
    seed: int = 0
    device: str = "cpu"
    mixed_precision: bool = True  # used on CUDA only
    eval_batch_size: int = 512

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError("epochs and batch sizes must be at least 1")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"the learning rate must be positive, got {self.lr}")


@dataclass
class Stage:
    """One pass of the loop.

    ``module`` is put in training mode (``params`` are what the optimizer updates); ``on_features``
    feeds it cached pre-head features instead of dataset inputs through the model (a probe).
    ``epochs``/``lr`` default to the run's. ``after_step(step)`` runs after each optimizer step
    (AdaLoRA's budget allocation); ``regularizer()`` is added to the loss.
    """

    name: str
    module: "nn.Module"
    params: list["torch.nn.Parameter"]
    on_features: bool = False
    epochs: int | None = None
    lr: float | None = None
    after_step: Callable[[int], None] | None = None
    regularizer: Callable[[], "torch.Tensor"] | None = None


@dataclass
class Feed:
    """Where a stage's batches come from: rows -> batch, batch -> logits, and the labels."""

    forward: Callable[[Any], "torch.Tensor"]
    train_batch: Callable[[np.ndarray], Any]
    train_y: "torch.Tensor"
    val_batch: Callable[[np.ndarray], Any] | None = None
    val_y: "torch.Tensor | None" = None


@dataclass(frozen=True)
class EpochPoint:
    """One point of the learning curves."""

    epoch: int  # counted over all stages, from 1
    stage: str
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float  # at the end of the epoch
    seconds: float  # since the run started


@dataclass
class Callbacks:
    on_epoch: Callable[[EpochPoint], None] = lambda point: None
    progress: Callable[[float, str], None] = lambda fraction, message: None
    cancelled: Callable[[], bool] = lambda: False


@dataclass
class TrainRecord:
    points: list[EpochPoint]
    steps: int
    seconds: float  # wall time of the whole run, validation included
    train_seconds: float  # wall time of the training steps alone
    train_cpu_seconds: float  # CPU time of this process during the training steps (steadier on a shared machine)
    memory: PeakMemory
    stages: list[tuple[str, int, int]] = field(default_factory=list)  # (name, first epoch, last epoch)

    @property
    def curves(self) -> list[tuple[int, str, float]]:
        """Rows for the store's curves table: (epoch, series, value)."""
        rows: list[tuple[int, str, float]] = []
        for p in self.points:
            rows.append((p.epoch, "train_loss", p.train_loss))
            if p.val_loss is not None:
                rows.append((p.epoch, "val_loss", p.val_loss))
            if p.val_accuracy is not None:
                rows.append((p.epoch, "val_accuracy", p.val_accuracy))
        return rows

    @property
    def val_accuracy(self) -> float | None:
        return self.points[-1].val_accuracy if self.points else None


def train(
    stages: Sequence[Stage],
    feed_for: Callable[[Stage], Feed],
    config: TrainConfig,
    callbacks: Callbacks | None = None,
    label: str = "the model",
) -> TrainRecord:
    """Run the stages in order; ``feed_for(stage)`` is called when the stage starts."""
    callbacks = callbacks or Callbacks()
    total_epochs = sum(s.epochs or config.epochs for s in stages)
    rng = np.random.default_rng(config.seed)
    points: list[EpochPoint] = []
    spans: list[tuple[str, int, int]] = []
    clock = _Clock()
    step = 0
    meter = MemoryMeter(config.device)
    try:
        with meter:
            for stage in stages:
                first = len(points) + 1
                feed = feed_for(stage)
                step = _run_stage(stage, feed, config, callbacks, rng, points, step, total_epochs, clock, label)
                spans.append((stage.name, first, len(points)))
    except (CancelledError, TrainingError):
        raise
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        _free_cache(config.device)
        raise TrainingError(
            f"Out of memory while training {label} on {config.device} with batches of {config.batch_size} "
            f"examples ({_first_line(exc)}). Use a smaller batch size, a smaller budget or model, or a device "
            "with more memory."
        ) from None
    assert meter.result is not None
    return TrainRecord(points, step, clock.total(), clock.training, clock.training_cpu, meter.result, spans)


def _run_stage(stage, feed, config, callbacks, rng, points, step, total_epochs, clock, label) -> int:
    import torch
    import torch.nn.functional as F

    epochs = stage.epochs or config.epochs
    lr = stage.lr if stage.lr is not None else config.lr
    if lr is None:
        raise ValueError("No learning rate: set TrainConfig.lr or the stage's (tune() sets the method's default).")
    n = len(feed.train_y)
    per_epoch = max(1, math.ceil(n / config.batch_size))
    opt = adamw(stage.params, lr, config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(config.schedule, epochs * per_epoch))
    autocast, scaler = _precision(config)
    device = feed.train_y.device
    for _ in range(epochs):
        epoch = len(points) + 1
        set_train_mode(stage.module)
        order = rng.permutation(n)
        losses = torch.zeros(per_epoch, device=device)  # one slot per step: no synchronisation per step
        first_step = step + 1
        clock.start()
        try:
            for i, start in enumerate(range(0, n, config.batch_size)):
                if callbacks.cancelled():
                    raise CancelledError()
                rows = order[start : start + config.batch_size]
                step += 1
                with autocast():
                    logits = feed.forward(feed.train_batch(rows))
                loss = F.cross_entropy(logits.float(), feed.train_y[rows])
                if stage.regularizer is not None:
                    loss = loss + stage.regularizer()
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    if config.max_grad_norm:
                        scaler.unscale_(opt)
                        torch.nn.utils.clip_grad_norm_(stage.params, config.max_grad_norm)
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    if config.max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(stage.params, config.max_grad_norm)
                    opt.step()
                sched.step()
                if stage.after_step is not None:
                    stage.after_step(step)
                losses[i] = loss.detach() * (len(rows) / n)
        except (CancelledError, TrainingError):
            raise
        except Exception:
            _raise_if_diverged(losses, first_step, epoch, lr, label)  # a NaN may have broken the step
            raise
        train_loss = _raise_if_diverged(losses, first_step, epoch, lr, label)
        clock.stop()
        val_loss, val_acc = evaluate(stage.module, feed, config) if feed.val_batch is not None else (None, None)
        point = EpochPoint(epoch, stage.name, train_loss, val_loss, val_acc, sched.get_last_lr()[0], clock.total())
        points.append(point)
        callbacks.on_epoch(point)
        callbacks.progress(epoch / total_epochs, f"{stage.name}: epoch {epoch}/{total_epochs}")
    return step


def adamw(params: list, lr: float, weight_decay: float):
    """AdamW, fused where torch has a fused kernel for these parameters (CPU and CUDA since torch
    2.4: one kernel for all tensors, 2–5× faster steps on small models), else the default one."""
    import torch

    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def _raise_if_diverged(losses, first_step: int, epoch: int, lr: float, label: str) -> float:
    """The epoch's mean training loss, or a TrainingError naming the first step whose loss was not
    finite (``losses`` holds each step's loss weighted by its share of the epoch's examples)."""
    import torch

    finite = torch.isfinite(losses)
    if bool(finite.all()):
        return float(losses.sum())
    index = int((~finite).nonzero()[0, 0])
    what = "NaN" if math.isnan(float(losses[index])) else "infinite"
    raise TrainingError(
        f"Training diverged at step {first_step + index} (epoch {epoch}): the loss of {label} became {what}. "
        f"Try a lower learning rate than {lr:g}."
    )


def evaluate(module: "nn.Module", feed: Feed, config: TrainConfig) -> tuple[float, float]:
    """Validation loss and accuracy in evaluation mode (no gradients)."""
    import torch
    import torch.nn.functional as F

    assert feed.val_batch is not None and feed.val_y is not None
    was = module.training
    module.eval()
    autocast, _ = _precision(config)
    n = len(feed.val_y)
    loss = torch.zeros((), device=feed.val_y.device)
    correct = torch.zeros((), dtype=torch.long, device=feed.val_y.device)
    with torch.no_grad():
        for start in range(0, n, config.eval_batch_size):
            rows = np.arange(start, min(n, start + config.eval_batch_size))
            with autocast():
                logits = feed.forward(feed.val_batch(rows)).float()
            y = feed.val_y[rows]
            loss += F.cross_entropy(logits, y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    module.train(was)
    return float(loss) / n, int(correct) / n


def set_train_mode(module: "nn.Module") -> None:
    """Training mode, except normalisation layers whose parameters are not all trained: they keep
    their running statistics (a frozen layer should not drift toward the target's statistics)."""
    module.train()
    for m in module.modules():
        if getattr(m, "track_running_stats", False) and getattr(m, "running_mean", None) is not None:
            params = list(m.parameters(recurse=False))
            if not params or not all(p.requires_grad for p in params):
                m.eval()


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def _free_cache(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def _first_line(exc: BaseException) -> str:
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return line if len(line) <= 200 else line[:197] + "..."


def _schedule(kind: str, total_steps: int) -> Callable[[int], float]:
    if kind == "constant":
        return lambda step: 1.0
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


def _precision(config: TrainConfig):
    """(autocast context factory, GradScaler or None) for the device."""
    if not (config.mixed_precision and config.device.startswith("cuda")):
        return nullcontext, None
    import torch

    if torch.cuda.is_bf16_supported():
        return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)), None
    return (lambda: torch.autocast("cuda", dtype=torch.float16)), torch.amp.GradScaler("cuda")


class _Clock:
    """Wall time of the run, and wall and CPU time of the training steps alone (no validation)."""

    def __init__(self) -> None:
        self.began = time.perf_counter()
        self.training = 0.0
        self.training_cpu = 0.0
        self._lap = self._lap_cpu = 0.0

    def start(self) -> None:
        self._lap, self._lap_cpu = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.training += time.perf_counter() - self._lap
        self.training_cpu += time.process_time() - self._lap_cpu

    def total(self) -> float:
        return time.perf_counter() - self.began
