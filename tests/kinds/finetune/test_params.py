"""Trainable parameters as a share of the base (the papers' figure), PEFT's printout labelled apart."""

from __future__ import annotations

import pytest

from engine.kinds.finetune.features import FeatureCache
from engine.kinds.finetune.training import TrainConfig
from engine.kinds.finetune.tune import tune


def _n(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_linear_probe_trains_the_head_alone(digits, cnn_base):
    counts = tune(cnn_base, digits["train"], None, "linear_probe", None, TrainConfig(epochs=1), features=FeatureCache()).counts
    assert counts.base == _n(cnn_base.module) == 56714
    assert counts.trainable == counts.head == 64 * 10 + 10
    assert counts.share == pytest.approx(650 / 56714)
    assert counts.peft_share is None and len(counts.lines()) == 1


def test_lora_share_is_of_the_base_and_pefts_figure_is_labelled(digits, mlp_base):
    counts = tune(mlp_base, digits["train"], None, "lora", {"rank": 2}, TrainConfig(epochs=1)).counts
    base = _n(mlp_base.module)
    adapters = 2 * (64 + 128) + 2 * (128 + 64)  # body.0: A 2×64, B 128×2; body.2: A 2×128, B 64×2
    head = 64 * 10 + 10  # the trained copy of the head (modules_to_save)
    assert (counts.base, counts.trainable, counts.head) == (base, adapters + head, head)
    assert counts.share == pytest.approx((adapters + head) / base)
    # PEFT divides by base + adapters + the head's copy
    assert (counts.peft_trainable, counts.peft_total) == (adapters + head, base + adapters + head)
    assert counts.peft_share < counts.share
    lines = counts.lines()
    assert lines[0] == f"trainable parameters: {adapters + head:,} ({100 * counts.share:.3g}% of the base's {base:,}), of which 650 in the head"
    assert lines[1].startswith("PEFT's figure: ") and "counts the adapters and the copied head too" in lines[1]


def test_full_and_bitfit_counts(digits, cnn_base):
    full = tune(cnn_base, digits["train"], None, "full", None, TrainConfig(epochs=1)).counts
    assert full.trainable == full.base and full.share == 1.0
    bitfit = tune(cnn_base, digits["train"], None, "bitfit", None, TrainConfig(epochs=1)).counts
    biases = sum(p.numel() for n, p in cnn_base.module.named_parameters() if n.endswith(".bias") and not n.startswith("head."))
    assert bitfit.trainable == biases + 650 and bitfit.head == 650
