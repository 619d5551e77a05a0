"""Fine-tuning on CUDA: mixed precision, GPU peak memory (skipped, with the reason, without a GPU)."""

from __future__ import annotations

import pytest
import torch

from engine.kinds.finetune.training import TrainConfig
from engine.kinds.finetune.tune import tune

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]


@pytest.mark.parametrize("method", ["lora", "full", "linear_probe"])
def test_mixed_precision_training_on_cuda(digits, cnn_base, method):
    before = cnn_base.module.head.weight.device
    tuned = tune(cnn_base, digits["train"], digits["val"], method, None,
                 TrainConfig(epochs=2, device="cuda", mixed_precision=True, lr=3e-3))
    assert tuned.val_accuracy is not None and tuned.val_accuracy > 0.3
    assert next(tuned.model.module.parameters()).device.type == "cuda"
    assert next(tuned.model.module.parameters()).dtype == torch.float32  # autocast, not half weights
    assert tuned.record.memory.kind == "cuda allocated" and tuned.record.memory.peak_bytes > 0
    assert cnn_base.module.head.weight.device == before  # the base stays where it was
