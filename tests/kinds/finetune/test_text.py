"""A text model: LoRA on the attention of a tiny BERT built here (no download)."""

from __future__ import annotations

import numpy as np
import torch

from engine.data.base import Dataset
from engine.kinds.finetune.methods import get_method
from engine.kinds.finetune.training import TrainConfig
from engine.kinds.finetune.tune import tune
from tests.kinds.finetune.conftest import logits, state


def _accuracy(model, data) -> float:
    return float((logits(model, data, n=len(data)).argmax(1).numpy() == data.y).mean())


def _complaints(data: Dataset) -> Dataset:
    """The new task: flag complaints (the negative reviews) — the base's labels the other way round."""
    return Dataset("test:complaints", "text", data.x, 1 - data.y, ["other", "complaint"])


def test_lora_on_bert_attention_learns_the_task_and_keeps_the_base(sentiment_bert, reviews):
    train, val = _complaints(reviews["train"]), _complaints(reviews["val"])
    before_state = state(sentiment_bert)
    base_outputs = logits(sentiment_bert, val)
    tuned = tune(sentiment_bert, train, val, "lora", {"rank": 4}, TrainConfig(epochs=4, lr=1e-2, batch_size=32))
    assert tuned.head.replaced  # other class names: a new head, trained with the adapters
    after = _accuracy(tuned.model, val)
    assert after > 0.9 and tuned.val_accuracy == after
    peft = tuned.model.module
    wrapped = sorted(n for n, _ in peft.named_modules() if n.endswith(".lora_A"))
    assert [n.split(".")[-3:-1] for n in wrapped] == [["self", "query"], ["self", "value"]] * 2
    assert all(peft.get_submodule(n.replace("lora_A", "lora_B")).default.weight.abs().sum() > 0 for n in wrapped)
    assert [n for n, _ in peft.named_modules() if n.endswith("modules_to_save")] == ["base_model.model.classifier.modules_to_save"]
    assert all(torch.equal(v, state(sentiment_bert)[k]) for k, v in before_state.items())
    assert torch.equal(logits(sentiment_bert, val), base_outputs)
    assert get_method("lora").lr_for(sentiment_bert.info) == get_method("lora").pretrained_lr
    assert 0 < tuned.counts.share < 0.5 and np.isfinite(tuned.record.points[-1].train_loss)
