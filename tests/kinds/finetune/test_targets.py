"""PEFT target modules: a visible default per architecture, and user choices checked with one
plain message each."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.core.errors import ModelError
from engine.kinds.finetune.layout import layout_of
from engine.kinds.finetune.methods import get_method
from engine.kinds.finetune.targets import default_feedforward, default_targets, resolve_targets
from engine.kinds.finetune.training import TrainConfig
from engine.kinds.finetune.tune import tune
from engine.models.base import Classifier, ModelInfo
from engine.models.builtin import build


def _builtin(arch: str, shape=(1, 8, 8)) -> Classifier:
    module = build(arch, shape, 10, torch.zeros(1), torch.ones(1))
    return Classifier(module, ModelInfo(f"builtin:digits-{arch}", arch, 0, [str(i) for i in range(10)], "image", shape))


def _defaults(model: Classifier, method: str) -> list[str]:
    m = get_method(method)
    return default_targets(model.module, layout_of(model), m.peft_type, m.supports)


class _HubCNN(nn.Module):
    """A CNN Juxta does not know by type (as from timm or torchvision)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.proj = nn.Linear(8, 8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.proj(self.block(self.stem(x))))


def test_defaults_per_architecture(tiny_bert):
    assert _defaults(_builtin("mlp"), "lora") == ["body.0", "body.2"]
    assert _defaults(_builtin("cnn"), "lora") == ["features.0", "features.3", "features.7"]
    assert _defaults(_builtin("vit"), "lora") == ["linear1", "linear2"]
    assert _defaults(_builtin("cnn"), "vera") == []  # VeRA wraps linear layers; the CNN's only one is its head
    hub = Classifier(_HubCNN(), ModelInfo("file:hub", "HubCNN", 0, [str(i) for i in range(10)], "image", (1, 8, 8)))
    assert layout_of(hub).head == "fc" and layout_of(hub).family == "generic"
    assert _defaults(hub, "lora") == ["stem", "block.0", "proj"]
    assert _defaults(hub, "vera") == ["proj"]
    # transformers: PEFT's own per-model defaults
    assert _defaults(tiny_bert, "lora") == ["query", "value"]
    assert _defaults(tiny_bert, "ia3") == ["key", "value", "output.dense"]
    assert default_feedforward(layout_of(tiny_bert), ["key", "value", "output.dense"]) == ["output.dense"]
    assert layout_of(tiny_bert).head_module == "classifier"


def test_short_names_match_every_layer_they_end(tiny_bert):
    vit = _builtin("vit")
    full = resolve_targets(vit.module, layout_of(vit), ["linear1"], "LoRA", get_method("lora").supports, 8)
    assert full == ["encoder.layers.0.linear1", "encoder.layers.1.linear1"]
    bert = resolve_targets(tiny_bert.module, layout_of(tiny_bert), ["query", "value"], "LoRA", get_method("lora").supports, 4)
    assert bert[:2] == ["bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.0.attention.self.value"]


def test_targets_that_match_nothing_name_the_architecture_and_its_layers(digits, cnn_base):
    with pytest.raises(ModelError) as err:
        tune(cnn_base, digits["train"], None, "lora", {"target_modules": ["conv9", "features.3"]}, TrainConfig(epochs=1))
    assert str(err.value) == (
        "target_modules ['conv9'] match no layer of the built-in cnn. Name layers by their full name or last part; its "
        "layers are: features.0 (Conv2d 1→32, 3×3), features.3 (Conv2d 32→64, 3×3), features.7 (Conv2d 64→64, 3×3), "
        "head (head, Linear 64→10)."
    )


def test_the_head_is_never_an_adapter_target():
    cnn = _builtin("cnn")
    with pytest.raises(ModelError, match=r"target_modules \['head'\] match no layer of the built-in cnn"):
        resolve_targets(cnn.module, layout_of(cnn), ["head"], "LoRA", get_method("lora").supports, 8)


def test_a_rank_larger_than_a_layers_width_is_refused(digits, cnn_base):
    with pytest.raises(ModelError) as err:
        tune(cnn_base, digits["train"], None, "lora", {"rank": 16}, TrainConfig(epochs=1))
    assert str(err.value) == (
        "rank 16 is larger than layer 'features.0' of the built-in cnn allows (Conv2d 1→32, 3×3: its weight has rank "
        "at most 9). Choose a rank of at most 9, or leave 'features.0' out of target_modules."
    )
    mlp = _builtin("mlp")
    with pytest.raises(ModelError, match=r"rank 100 is larger than layer 'body.0' of the built-in mlp allows \(Linear 64→128"):
        resolve_targets(mlp.module, layout_of(mlp), ["body.0", "body.2"], "LoRA", get_method("lora").supports, 100)
    # the same rank on wide enough layers is fine
    assert tune(cnn_base, digits["train"], None, "lora", {"rank": 16, "target_modules": ["features.3", "features.7"]},
                TrainConfig(epochs=1)).counts.trainable > 0


def test_a_layer_type_the_method_cannot_wrap_is_named(digits, cnn_base):
    with pytest.raises(ModelError) as err:
        tune(cnn_base, digits["train"], None, "vera", None, TrainConfig(epochs=1))
    assert str(err.value) == (
        "VeRA has no layer to adapt in the built-in cnn: it wraps Linear or Conv1D layers and the model has none "
        "besides its head. Its layers are: features.0 (Conv2d 1→32, 3×3), features.3 (Conv2d 32→64, 3×3), "
        "features.7 (Conv2d 64→64, 3×3), head (head, Linear 64→10)."
    )
    with pytest.raises(ModelError, match=r"^VeRA cannot adapt 'features.0' in the built-in cnn: it is a Conv2d layer and "
                                         r"VeRA wraps only Linear, Conv1D layers; the model has none besides its head\.$"):
        tune(cnn_base, digits["train"], None, "vera", {"target_modules": ["features.0"]}, TrainConfig(epochs=1))


def test_attention_internals_and_whole_blocks_are_refused_with_the_reason():
    vit = _builtin("vit")
    layout = layout_of(vit)
    with pytest.raises(ModelError, match=r"'encoder.layers.0.self_attn.out_proj' .* sits inside an attention layer "
                                         r"\('encoder.layers.0.self_attn', nn.MultiheadAttention\) that reads its weights directly"):
        resolve_targets(vit.module, layout, ["out_proj"], "LoRA", get_method("lora").supports, 8)
    with pytest.raises(ModelError, match=r"'encoder.layers.0' in the built-in vit, a TransformerEncoderLayer block rather "
                                         r"than a layer; name its layers instead"):
        resolve_targets(vit.module, layout, ["encoder.layers.0"], "LoRA", get_method("lora").supports, 8)


def test_lora_trains_the_builtin_vit_with_its_defaults(digits):
    vit = _builtin("vit")
    tuned = tune(vit, digits["train"], None, "lora", {"rank": 4}, TrainConfig(epochs=1))
    wrapped = sorted(n for n, _ in tuned.model.module.named_modules() if n.endswith("lora_A"))
    assert len(wrapped) == 4 and all(".linear" in n for n in wrapped)


def test_a_transformers_vision_model_without_a_peft_default_gets_its_query_and_value(digits):
    from transformers import ViTConfig, ViTForImageClassification

    from engine.models.hf import HFImageClassifier

    torch.manual_seed(0)
    config = ViTConfig(image_size=8, patch_size=4, num_channels=1, hidden_size=16, num_hidden_layers=1,
                       num_attention_heads=2, intermediate_size=32, num_labels=10)
    module = ViTForImageClassification(config).eval()
    info = ModelInfo("test:tiny-vit", "ViTForImageClassification", 0, [str(i) for i in range(10)], "image")
    vit = HFImageClassifier(module, info, size=(8, 8), channels=1, mean=None, std=None)
    layout = layout_of(vit)
    assert (layout.family, layout.model_type, layout.head, layout.head_module) == ("transformers", "vit", "classifier", "classifier")
    assert _defaults(vit, "lora") in (["query", "value"], ["q_proj", "v_proj"])  # transformers 4, 5
    tuned = tune(vit, digits["train"], None, "lora", {"rank": 2}, TrainConfig(epochs=1))
    assert sum(n.endswith("lora_A") for n, _ in tuned.model.module.named_modules()) == 2
