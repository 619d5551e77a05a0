"""WiSE-FT: θ = (1 − α)·θ₀ + α·θ₁ over float tensors; α = 0 is the base, α = 1 the tuned model."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from engine.core.errors import ModelError
from engine.kinds.finetune.methods import get_method
from engine.kinds.finetune.methods.wise_ft import DEFAULT_ALPHAS, interpolate, interpolate_state
from engine.kinds.finetune.training import TrainConfig
from engine.kinds.finetune.tune import tune
from tests.kinds.finetune.conftest import first_classes, logits, state


@pytest.fixture(scope="module")
def full_tuned(digits, cnn_base):
    return tune(cnn_base, digits["train"], None, "full", None, TrainConfig(epochs=1, lr=3e-3))


def test_alpha_zero_is_the_base_and_one_the_tuned_model(digits, cnn_base, full_tuned):
    val = digits["val"]
    assert torch.equal(logits(interpolate(cnn_base, full_tuned.model, 0.0), val), logits(cnn_base, val))
    assert torch.equal(logits(interpolate(cnn_base, full_tuned.model, 1.0), val), logits(full_tuned.model, val))


def test_floats_are_interpolated_and_integer_buffers_left_alone(cnn_base, full_tuned):
    mid = state(interpolate(cnn_base, full_tuned.model, 0.3))
    b, t = state(cnn_base), state(full_tuned.model)
    for key in ("features.0.weight", "head.bias", "features.1.running_var"):
        assert torch.allclose(mid[key], 0.7 * b[key] + 0.3 * t[key], atol=1e-6)
    assert mid["features.1.num_batches_tracked"].dtype == torch.long
    assert torch.equal(mid["features.1.num_batches_tracked"], t["features.1.num_batches_tracked"])
    assert not torch.equal(b["features.1.num_batches_tracked"], t["features.1.num_batches_tracked"])


def test_the_alpha_grid_and_its_bounds():
    assert DEFAULT_ALPHAS == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    params = get_method("wise_ft").parse({"from": "full"})
    assert params.from_ == "full" and params.alphas == list(DEFAULT_ALPHAS)
    with pytest.raises(ValidationError, match="every alpha must lie between 0 and 1"):
        get_method("wise_ft").parse({"from": "full", "alphas": [0.5, 1.5]})
    with pytest.raises(ValidationError, match="from"):
        get_method("wise_ft").parse({})


def test_a_replaced_head_is_the_same_at_both_ends(digits, cnn_base):
    few = first_classes(digits["train"], 5)
    tuned = tune(cnn_base, few, None, "full", None, TrainConfig(epochs=1))
    assert tuned.head.replaced
    at_zero = state(interpolate(cnn_base, tuned.model, 0.0))
    assert torch.equal(at_zero["head.weight"], state(tuned.model)["head.weight"])  # the tuned (5-class) head
    assert torch.equal(at_zero["features.0.weight"], state(cnn_base)["features.0.weight"])


def test_adapters_are_merged_before_interpolating(digits, cnn_base):
    tuned = tune(cnn_base, digits["train"], None, "lora", {"rank": 4}, TrainConfig(epochs=1))
    val = digits["val"]
    assert torch.allclose(logits(interpolate(cnn_base, tuned.model, 1.0), val), logits(tuned.model, val), atol=1e-4)
    assert torch.equal(logits(interpolate(cnn_base, tuned.model, 0.0), val), logits(cnn_base, val))


def test_other_architectures_are_refused(cnn_base, mlp_base):
    with pytest.raises(ModelError, match="WiSE-FT needs the same architecture at both ends: the base has no tensor"):
        interpolate(mlp_base, cnn_base, 0.5)
    theta0 = {"w": torch.zeros(2, 3)}
    with pytest.raises(ModelError, match=r"tensor 'w' has shape \[2, 3\] in the base and \[3, 3\]"):
        interpolate_state(theta0, {"w": torch.ones(3, 3)}, 0.5, "head")
    with pytest.raises(ModelError, match="alpha must lie between 0 and 1"):
        interpolate(cnn_base, cnn_base, -0.1)
