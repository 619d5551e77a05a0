"""Linear probing computes the frozen model's features once and reuses them."""

from __future__ import annotations

import torch

from engine.kinds.finetune.features import FeatureCache, extract_features
from engine.kinds.finetune.layout import layout_of
from engine.kinds.finetune.training import TrainConfig
from engine.kinds.finetune.tune import tune


def test_features_are_the_heads_input(digits, cnn_base):
    layout = layout_of(cnn_base)
    feats = extract_features(cnn_base, layout, digits["val"], "cpu", batch_size=64)
    assert feats.shape == (len(digits["val"]), 64)
    with torch.no_grad():
        x = torch.as_tensor(digits["val"].x[:10])
        expected = cnn_base.module.features(cnn_base.module.norm(x)).flatten(1)
    assert torch.allclose(feats[:10], expected, atol=1e-6)


def test_seeds_and_learning_rates_share_the_cached_features(digits, cnn_base):
    cache = FeatureCache()
    for seed, lr in [(0, 5e-2), (1, 5e-2), (0, 1e-2)]:
        tune(cnn_base, digits["train"], digits["val"], "linear_probe", None, TrainConfig(epochs=2, lr=lr, seed=seed), features=cache)
    assert cache.computed == 2  # the train and validation splits, once each
    lp_ft = tune(cnn_base, digits["train"], digits["val"], "lp_ft", {"probe_epochs": 1}, TrainConfig(epochs=1), features=cache)
    assert cache.computed == 2 and lp_ft.record.stages[0] == ("probe", 1, 1)


def test_a_changed_backbone_is_not_served_stale_features(digits, cnn_base):
    cache = FeatureCache()
    tuned = tune(cnn_base, digits["train"], None, "full", None, TrainConfig(epochs=1))
    layout = layout_of(cnn_base)
    a = cache.features(cnn_base, layout, digits["val"], "cpu")
    b = cache.features(tuned.model, layout, digits["val"], "cpu")
    assert cache.computed == 2 and not torch.allclose(a, b)
