"""Every method trains a tiny built-in model on inverted digits, improves on the base, and changes
only what it should."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from engine.kinds.finetune.methods import METHODS, get_method
from engine.kinds.finetune.training import TrainConfig
from engine.kinds.finetune.tune import tune
from engine.core.errors import JuxtaError
from tests.kinds.finetune.conftest import accuracy, state

TRAINED = [name for name, m in METHODS.items() if m.trains]
ADAPTERS = [name for name, m in METHODS.items() if m.saves == "adapter"]
EXPECTED = {"linear_probe", "full", "lp_ft", "bitfit", "last_k", "lora", "dora", "rslora", "ia3", "loha", "lokr",
            "vera", "adalora", "wise_ft"}


def test_registry_holds_every_method_with_its_description_parameters_and_lr():
    assert set(METHODS) == EXPECTED
    for name, m in METHODS.items():
        assert m.name == name
        assert m.description.endswith(".") and len(m.description) < 120 and "\n" not in m.description
        defaults = m.params.model_fields
        assert all(f.is_required() is False for k, f in defaults.items() if k != "from_"), name
        if m.trains:
            assert m.default_lr > 0 and m.pretrained_lr > 0 and m.pretrained_lr <= m.default_lr
    assert get_method("lora").parse({}).rank == 8
    with pytest.raises(JuxtaError, match="Unknown fine-tuning method 'qlora'; expected one of linear_probe, full"):
        get_method("qlora")


def test_parameters_are_typed_and_bounded():
    with pytest.raises(ValidationError, match="rank"):
        get_method("lora").parse({"rank": 0})
    with pytest.raises(ValidationError, match="extra"):
        get_method("lora").parse({"rnak": 4})
    with pytest.raises(ValidationError, match="target_rank"):
        get_method("adalora").parse({"target_rank": 16, "init_rank": 8})
    assert get_method("last_k").parse({"k": 2}).k == 2


def _arch(name: str) -> str:
    return "mlp" if name == "vera" else "cnn"  # VeRA wraps linear layers only; the CNN's only one is its head


@pytest.mark.parametrize("name", TRAINED)
def test_each_method_improves_validation_accuracy_over_the_base(name, digits, cnn_base, mlp_base):
    base = cnn_base if _arch(name) == "cnn" else mlp_base
    before_state = state(base)
    before = accuracy(base, digits["val"])
    points = []
    from engine.kinds.finetune.training import Callbacks

    method = get_method(name)
    tuned = tune(base, digits["train"], digits["val"], name, None,
                 TrainConfig(epochs=3, lr=method.lr_for(base.info), seed=0), Callbacks(on_epoch=points.append))
    after = accuracy(tuned.model, digits["val"])
    assert after > before + 0.1, f"{name}: {before:.3f} -> {after:.3f}"
    assert tuned.val_accuracy == pytest.approx(after)
    assert [p.epoch for p in points] == list(range(1, len(points) + 1)) and len(points) >= 3
    assert all(torch.equal(v, state(base)[k]) for k, v in before_state.items()), "the base must not change"
    assert 0 < tuned.counts.trainable <= tuned.counts.base


@pytest.mark.parametrize("name", ["lora", "ia3", "loha"])
def test_adapter_methods_also_train_the_mlp(name, digits, mlp_base):
    before = accuracy(mlp_base, digits["val"])
    tuned = tune(mlp_base, digits["train"], digits["val"], name, None,
                 TrainConfig(epochs=3, lr=get_method(name).lr_for(mlp_base.info)))
    assert accuracy(tuned.model, digits["val"]) > before + 0.1


def _changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_linear_probe_leaves_the_backbone_unchanged(digits, cnn_base):
    tuned = tune(cnn_base, digits["train"], digits["val"], "linear_probe", None, TrainConfig(epochs=2, lr=5e-2))
    changed = _changed(state(cnn_base), state(tuned.model))
    assert changed == {"head.weight", "head.bias"}


def test_bitfit_changes_only_biases_and_the_head(digits, cnn_base):
    tuned = tune(cnn_base, digits["train"], digits["val"], "bitfit", None, TrainConfig(epochs=2, lr=3e-2))
    changed = _changed(state(cnn_base), state(tuned.model))
    assert changed, "BitFit trained nothing"
    assert all(k.endswith(".bias") or k.startswith("head.") for k in changed), changed
    assert {"features.0.bias", "features.1.bias", "head.weight"} <= changed
    # batch-norm statistics of a layer whose weight is frozen stay as they were
    assert not any("running_" in k for k in changed)


def test_last_k_trains_only_the_last_blocks(digits, cnn_base):
    tuned = tune(cnn_base, digits["train"], digits["val"], "last_k", {"k": 1}, TrainConfig(epochs=2, lr=5e-3))
    changed = _changed(state(cnn_base), state(tuned.model))
    assert all(k.startswith(("features.7.", "features.8.", "head.")) for k in changed), changed
    assert {"features.7.weight", "features.8.running_mean", "head.weight"} <= changed
    with pytest.raises(JuxtaError, match=r"last_k: k = 4 but the built-in cnn has 3 blocks before its head \(features.0, features.3, features.7\)"):
        tune(cnn_base, digits["train"], None, "last_k", {"k": 4}, TrainConfig(epochs=1))


def test_full_fine_tuning_changes_every_layer(digits, cnn_base):
    tuned = tune(cnn_base, digits["train"], None, "full", None, TrainConfig(epochs=1, lr=3e-3))
    changed = _changed(state(cnn_base), state(tuned.model))
    assert {"features.0.weight", "features.3.weight", "features.7.weight", "head.weight", "features.1.running_mean"} <= changed


def test_lp_ft_probes_then_fine_tunes(digits, cnn_base):
    tuned = tune(cnn_base, digits["train"], digits["val"], "lp_ft", {"probe_epochs": 2}, TrainConfig(epochs=2, lr=3e-3))
    assert tuned.record.stages == [("probe", 1, 2), ("fine-tune", 3, 4)]
    assert [p.stage for p in tuned.record.points] == ["probe", "probe", "fine-tune", "fine-tune"]
    assert "features.0.weight" in _changed(state(cnn_base), state(tuned.model))


def _base_view(peft_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The base's own tensors inside a PEFT model (wrapped layers' base_layer, the head's original copy)."""
    out = {}
    for key, value in peft_state.items():
        if any(part in key for part in ("lora_", "hada_", "lokr_", "ia3_", "vera_", "modules_to_save", "ranknum")):
            continue
        plain = key.replace("base_model.model.", "", 1).replace(".base_layer", "").replace(".original_module", "")
        out[plain] = value
    return out


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapters_leave_the_base_weights_unchanged(name, digits, cnn_base, mlp_base):
    base = cnn_base if _arch(name) == "cnn" else mlp_base
    tuned = tune(base, digits["train"], None, name, None, TrainConfig(epochs=1, lr=get_method(name).lr_for(base.info)))
    inside = _base_view(state(tuned.model))
    original = state(base)
    assert set(original) <= set(inside)
    assert all(torch.equal(original[k], inside[k]) for k in original), name
    assert not any(p.requires_grad for n, p in tuned.model.module.named_parameters()
                   if ".base_layer." in n or ".original_module." in n)
    x = torch.as_tensor(digits["val"].x[:32])
    with torch.no_grad():
        with tuned.model.module.disable_adapter():
            assert torch.allclose(tuned.model.logits(x), base.logits(x), atol=1e-5)
        assert not torch.allclose(tuned.model.logits(x), base.logits(x), atol=1e-3)


def test_user_can_change_the_adapted_layers(digits, cnn_base):
    tuned = tune(cnn_base, digits["train"], None, "lora", {"target_modules": ["features.7"], "rank": 4}, TrainConfig(epochs=1))
    wrapped = {n for n, m in tuned.model.module.named_modules() if n.endswith(".lora_A")}
    assert wrapped == {"base_model.model.features.7.lora_A"}


def test_wise_ft_is_not_trained(digits, cnn_base):
    with pytest.raises(JuxtaError, match="WiSE-FT is not trained"):
        tune(cnn_base, digits["train"], None, "wise_ft", {"from": "full"}, TrainConfig(epochs=1))
