"""The one training loop: live curves, cancellation, divergence, out of memory, seeds, schedule,
time and memory."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from engine.data.base import Dataset
from engine.core.errors import CancelledError
from engine.kinds.finetune.errors import TrainingError
from engine.kinds.finetune.training import Callbacks, TrainConfig, set_train_mode
from engine.kinds.finetune.tune import tune
from engine.models.base import Classifier
from tests.kinds.finetune.conftest import state


def test_learning_curves_are_streamed_per_epoch(digits, mlp_base):
    seen, progress = [], []
    tuned = tune(mlp_base, digits["train"], digits["val"], "full", None, TrainConfig(epochs=3, lr=3e-3),
                 Callbacks(on_epoch=seen.append, progress=lambda f, m: progress.append((f, m))))
    assert [p.epoch for p in seen] == [1, 2, 3]
    assert seen == tuned.record.points
    assert all(p.val_accuracy is not None and p.val_loss is not None and p.train_loss > 0 for p in seen)
    assert [f for f, _ in progress] == pytest.approx([1 / 3, 2 / 3, 1.0])
    rows = tuned.record.curves
    assert {s for _, s, _ in rows} == {"train_loss", "val_loss", "val_accuracy"} and len(rows) == 9
    assert rows[0] == (1, "train_loss", seen[0].train_loss)


def test_cancellation_is_checked_between_batches(digits, mlp_base):
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) == 3

    with pytest.raises(CancelledError):
        tune(mlp_base, digits["train"], None, "full", None, TrainConfig(epochs=5, batch_size=32), Callbacks(cancelled=cancelled))
    assert len(calls) == 3  # asked before each batch; stopped at the third, within the first epoch


def test_a_nan_loss_names_the_step_where_training_diverged(digits, mlp_base):
    train = digits["train"]
    x = np.array(train.x, copy=True)
    x[100] = np.nan
    broken = Dataset(train.source, train.modality, x, train.y, train.class_names)
    order = np.random.default_rng(0).permutation(len(train))  # the loop's first-epoch order for seed 0
    step = int(np.flatnonzero(order == 100)[0]) // 32 + 1
    with pytest.raises(TrainingError, match=rf"^Training diverged at step {step} \(epoch 1\): the loss of Full "
                                            r"fine-tuning on builtin:digits-mlp became NaN\. Try a lower learning rate than 0\.003\.$"):
        tune(mlp_base, broken, None, "full", None, TrainConfig(epochs=2, batch_size=32, lr=3e-3, seed=0))


def test_a_learning_rate_far_too_high_diverges_with_a_plain_message(digits, mlp_base):
    with pytest.raises(TrainingError, match=r"Training diverged at step \d+ \(epoch \d\): the loss .* became (NaN|infinite)"):
        tune(mlp_base, digits["train"], None, "full", None, TrainConfig(epochs=3, lr=1e12, schedule="constant"))


class _Hungry(Classifier):
    """A classifier whose training forward asks for more memory than any machine has."""

    def __init__(self, base: Classifier, error):
        super().__init__(base.module, base.info)
        self.error = error

    def logits(self, batch):
        if self.module.training:
            self.error()
        return super().logits(batch)


def _cpu_oom():
    torch.empty(2**50, dtype=torch.uint8)  # 1 PiB: the allocator refuses


def _cuda_oom():
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 8.00 GiB total capacity)")


@pytest.mark.parametrize("error, detail", [(_cpu_oom, "can't allocate memory"), (_cuda_oom, "CUDA out of memory")])
def test_out_of_memory_becomes_a_plain_message(digits, mlp_base, error, detail):
    with pytest.raises(TrainingError, match=rf"^Out of memory while training LoRA on builtin:digits-mlp on cpu with "
                                            rf"batches of 64 examples \(.*{detail}.*\)\. Use a smaller batch size"):
        tune(_Hungry(mlp_base, error), digits["train"], None, "lora", None, TrainConfig(epochs=1))


def test_the_same_seed_gives_the_same_weights(digits, cnn_base):
    cfg = TrainConfig(epochs=1, lr=5e-3, seed=3)
    a = state(tune(cnn_base, digits["train"], None, "lora", None, cfg).model)
    b = state(tune(cnn_base, digits["train"], None, "lora", None, cfg).model)
    c = state(tune(cnn_base, digits["train"], None, "lora", None, TrainConfig(epochs=1, lr=5e-3, seed=4)).model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_cosine_decays_to_zero_and_constant_stays(digits, mlp_base):
    cosine = tune(mlp_base, digits["train"], None, "full", None, TrainConfig(epochs=2, lr=1e-3))
    constant = tune(mlp_base, digits["train"], None, "full", None, TrainConfig(epochs=2, lr=1e-3, schedule="constant"))
    assert cosine.record.points[0].lr == pytest.approx(5e-4, rel=0.2) and cosine.record.points[-1].lr == pytest.approx(0, abs=1e-12)
    assert [p.lr for p in constant.record.points] == [1e-3, 1e-3]


def test_wall_time_steps_and_peak_memory_are_measured(digits, mlp_base):
    tuned = tune(mlp_base, digits["train"], digits["val"], "full", None, TrainConfig(epochs=2, batch_size=50))
    rec = tuned.record
    assert rec.steps == 2 * 6
    assert 0 < rec.train_seconds <= rec.seconds
    assert rec.memory.peak_bytes >= rec.memory.start_bytes > 0
    if sys.platform.startswith("linux"):
        assert rec.memory.kind == "process resident (run)"
        assert rec.memory.label == "peak process memory during the run"


def test_frozen_normalisation_layers_keep_their_statistics():
    from torch import nn

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.BatchNorm2d(2))
    model[1].weight.requires_grad_(False)
    set_train_mode(model)
    assert model.training and model[0].training
    assert not model[1].training  # weight frozen: running statistics frozen too
    assert model[2].training


def test_without_a_learning_rate_the_methods_default_for_the_model_is_used(digits, mlp_base, tiny_bert):
    from engine.kinds.finetune.methods import get_method

    tuned = tune(mlp_base, digits["train"], None, "bitfit", None, TrainConfig(epochs=1))
    assert tuned.config.lr == get_method("bitfit").default_lr == 3e-2
    assert tuned.record.points[0].lr < 3e-2  # cosine from that rate
    assert get_method("bitfit").lr_for(tiny_bert.info) == get_method("bitfit").pretrained_lr
    with pytest.raises(ValueError, match="the learning rate must be positive"):
        TrainConfig(lr=0.0)
