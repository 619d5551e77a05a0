"""The head against the data: replaced for other classes (a note), the source task checked, and a
base that is not a classifier refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engine.data.base import Dataset
from engine.core.errors import DataError, ModelError
from engine.kinds.finetune.head import check_classifier, check_source, fit_head, with_base_head
from engine.kinds.finetune.training import TrainConfig
from engine.kinds.finetune.tune import tune
from engine.kinds.finetune.wrapping import copy_classifier
from engine.models.base import Classifier, ModelInfo
from tests.kinds.finetune.conftest import first_classes, logits, state


def test_a_target_with_other_class_counts_gets_a_new_head_and_a_note(digits, cnn_base):
    five = first_classes(digits["train"], 5)
    tuned = tune(cnn_base, five, first_classes(digits["val"], 5), "lora", {"rank": 4}, TrainConfig(epochs=2))
    assert tuned.head.replaced
    assert tuned.head.note == (
        "The base's head was replaced: the base predicts 10 classes and the target builtin:digits[:5] has 5, so a new "
        "head with one output per target class is trained from scratch (the base's own head is kept for measuring "
        "forgetting)."
    )
    assert tuned.model.info.class_names == ["0", "1", "2", "3", "4"]
    assert logits(tuned.model, five).shape == (64, 5)
    assert len(cnn_base.info.class_names) == 10 and cnn_base.module.head.out_features == 10  # base untouched


def test_same_count_other_names_also_replaces_the_head(digits, cnn_base):
    train = digits["train"]
    letters = Dataset("test:letters", "image", train.x, train.y, list("abcdefghij"))
    model = copy_classifier(cnn_base)
    fit = fit_head(model, letters)
    assert fit.replaced and "the target's classes (a, b, c, d, e, f, … (10 in all)) are not the base's (0, 1, 2, 3, 4, 5, … (10 in all))" in fit.note
    assert model.info.class_names == list("abcdefghij")


def test_matching_classes_keep_the_head_in_the_models_order(digits, cnn_base):
    train = digits["train"]
    reordered = Dataset("test:rev", "image", train.x, 9 - train.y, [str(9 - i) for i in range(10)])
    model = copy_classifier(cnn_base)
    fit = fit_head(model, reordered)
    assert not fit.replaced and fit.note == ""
    assert list(fit.label_map) == list(range(9, -1, -1))
    assert torch.equal(model.module.head.weight, cnn_base.module.head.weight)


def test_placeholder_class_names_take_the_targets(tiny_bert, reviews):
    placeholder = copy_classifier(tiny_bert)
    placeholder.info.class_names = ["LABEL_0", "LABEL_1"]
    fit = fit_head(placeholder, reviews["train"])
    assert not fit.replaced and placeholder.info.class_names == ["neg", "pos"]
    assert placeholder.module.config.id2label == {0: "neg", 1: "pos"}


def test_a_source_dataset_of_another_task_is_refused(digits, cnn_base):
    src = digits["source_test"]
    assert list(check_source(cnn_base, src)) == list(range(10))
    letters = Dataset("test:letters", "image", src.x, src.y, list("abcdefghij"))
    with pytest.raises(DataError, match=r"^The source dataset test:letters's classes \(a, b, c, d, e, f, … \(10 in all\)\) "
                                        r"are not the classes of base 'builtin:digits-cnn''s head \(0, 1, 2, 3, 4, 5, …"
                                        r".*The source measures forgetting, so it must hold the task the base already does"):
        check_source(cnn_base, letters)
    more = Dataset("test:more", "image", src.x, src.y, [str(i) for i in range(12)])
    with pytest.raises(DataError, match=r"The source dataset test:more has 12 classes but base 'builtin:digits-cnn' predicts 10"):
        check_source(cnn_base, more)


def _info(n_classes: int = 10) -> ModelInfo:
    return ModelInfo("file:encoder.safetensors", "encoder", 0, [str(i) for i in range(n_classes)], "image", (1, 8, 8))


def test_a_base_that_is_not_a_classifier_is_refused(digits):
    encoder = Classifier(nn.Sequential(nn.Flatten(), nn.Linear(64, 32)), _info())
    with pytest.raises(ModelError, match=r"^Model 'file:encoder.safetensors' is not a classifier Juxta can fine-tune: no "
                                         r"linear layer in it has 10 outputs \(one per class\)\. Fine-tuning needs a model"):
        tune(encoder, digits["train"], None, "full", None, TrainConfig(epochs=1))
    nameless = Classifier(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), _info(0))
    with pytest.raises(ModelError, match="it names 0 classes"):
        check_classifier(nameless)


def test_a_model_whose_output_is_not_one_score_per_class_is_refused(digits):
    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(8, 10)

        def forward(self, x):
            return self.head(x.reshape(len(x), 8, 8))  # (B, 8, 10): a score per row, not per image

    model = Classifier(Sequence(), _info())
    with pytest.raises(ModelError, match=r"it returns \(2, 8, 10\) for a batch, not one score per class \(10\)"):
        check_classifier(model, torch.zeros(2, 1, 8, 8))


def test_forgetting_with_a_replaced_head_uses_the_base_head_on_the_tuned_body(digits, cnn_base):
    tuned = tune(cnn_base, first_classes(digits["train"], 5), None, "full", None, TrainConfig(epochs=1))
    on_source = with_base_head(tuned.model, cnn_base)
    assert on_source.info.class_names == cnn_base.info.class_names
    s = state(on_source)
    assert torch.equal(s["head.weight"], cnn_base.module.head.weight)
    assert torch.equal(s["features.0.weight"], state(tuned.model)["features.0.weight"])
    assert logits(on_source, digits["source_test"]).shape == (64, 10)
    assert np.isfinite(logits(on_source, digits["source_test"]).numpy()).all()
