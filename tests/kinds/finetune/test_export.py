"""Tuned models saved as safetensors, Hugging Face folders and PEFT adapter folders load back to
the same outputs; the files are byte-reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.core.errors import ModelError
from engine.kinds.finetune.export import (
    load_adapter,
    load_weights,
    provenance_of,
    save_adapter,
    save_hf_folder,
    save_weights,
)
from engine.kinds.finetune.training import TrainConfig
from engine.kinds.finetune.tune import tune
from engine.models.loaders import load_model_file
from engine.core.sources import parse_source
from tests.kinds.finetune.conftest import first_classes, logits


@pytest.fixture(scope="module")
def lora_cnn(digits, cnn_base):
    return tune(cnn_base, digits["train"], None, "lora", {"rank": 4}, TrainConfig(epochs=1))


def test_full_weights_of_a_builtin_are_a_juxta_model_file(tmp_path, digits, cnn_base):
    tuned = tune(cnn_base, digits["train"], None, "bitfit", None, TrainConfig(epochs=1))
    a = save_weights(tuned.model, tmp_path / "a.safetensors", provenance_of(tuned))
    b = save_weights(tuned.model, tmp_path / "b.safetensors", provenance_of(tuned))
    assert a.read_bytes() == b.read_bytes()
    loaded = load_model_file(parse_source("file:a.safetensors"), tmp_path)  # usable as a model in any study
    assert torch.equal(logits(loaded, digits["val"]), logits(tuned.model, digits["val"]))
    assert loaded.info.class_names == cnn_base.info.class_names
    from engine.models.loaders import read_juxta_header

    meta = json.loads(read_juxta_header(a)["tuned"])
    assert meta == {"base": "builtin:digits-cnn", "method": "bitfit", "params": {}, "lr": 3e-2, "epochs": 1, "seed": 0,
                    "head_replaced": False}


def test_an_adapter_folder_loads_back_onto_its_base(tmp_path, digits, cnn_base, lora_cnn):
    first = save_adapter(lora_cnn.model, tmp_path / "one", provenance_of(lora_cnn))
    second = save_adapter(lora_cnn.model, tmp_path / "two", provenance_of(lora_cnn))
    for name in ("adapter_model.safetensors", "adapter_config.json", "juxta.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    loaded = load_adapter(cnn_base, first)
    assert torch.equal(logits(loaded, digits["val"]), logits(lora_cnn.model, digits["val"]))
    assert json.loads((first / "juxta.json").read_text())["tuned"]["method"] == "lora"


def test_adapters_merge_into_a_plain_weights_file(tmp_path, digits, lora_cnn):
    path = save_weights(lora_cnn.model, tmp_path / "merged.safetensors")
    merged = load_weights(path)
    assert not any("lora" in k for k in merged.module.state_dict())
    assert torch.allclose(logits(merged, digits["val"]), logits(lora_cnn.model, digits["val"]), atol=1e-4)


def test_an_adapter_with_a_replaced_head_loads_back(tmp_path, digits, cnn_base):
    tuned = tune(cnn_base, first_classes(digits["train"], 5), None, "ia3", None, TrainConfig(epochs=1))
    loaded = load_adapter(cnn_base, save_adapter(tuned.model, tmp_path / "ia3"))
    assert loaded.info.class_names == ["0", "1", "2", "3", "4"]
    assert torch.equal(logits(loaded, digits["val"]), logits(tuned.model, digits["val"]))


def test_loading_refuses_what_juxta_did_not_save(tmp_path, cnn_base, lora_cnn):
    folder = save_adapter(lora_cnn.model, tmp_path / "a")
    (folder / "adapter_model.safetensors").rename(folder / "adapter_model.bin")
    with pytest.raises(ModelError, match=r"has no adapter_model.safetensors; Juxta loads adapters from safetensors only"):
        load_adapter(cnn_base, folder)
    with pytest.raises(ModelError, match="Only adapter methods .* save an adapter folder"):
        save_adapter(cnn_base, tmp_path / "b")
    with pytest.raises(ModelError, match="A Hugging Face folder needs a transformers model; 'builtin:digits-cnn' is a cnn model"):
        save_hf_folder(cnn_base, tmp_path / "c")


def test_a_transformers_model_exports_an_hf_folder_and_weights(tmp_path, reviews, tiny_bert):
    from engine.models.hf import load_hf_model

    tuned = tune(tiny_bert, reviews["train"], None, "lora", {"rank": 2}, TrainConfig(epochs=1, lr=1e-2, batch_size=32))
    folder = save_hf_folder(tuned.model, tmp_path / "hf")
    again = save_hf_folder(tuned.model, tmp_path / "hf2")
    assert (folder / "model.safetensors").read_bytes() == (again / "model.safetensors").read_bytes()
    loaded = load_hf_model(parse_source(f"file:{folder}"), Path("."))
    assert loaded.info.class_names == ["neg", "pos"]
    val = reviews["val"]
    assert torch.allclose(logits(loaded, val), logits(tuned.model, val), atol=1e-5)
    weights = load_weights(save_weights(tuned.model, tmp_path / "bert.safetensors"), base=tiny_bert)
    assert torch.allclose(logits(weights, val), logits(tuned.model, val), atol=1e-5)
    with pytest.raises(ModelError, match="holds the weights of a BertForSequenceClassification model; load it onto its base"):
        load_weights(tmp_path / "bert.safetensors")
