"""Small bases and data for the fine-tuning library: digits (clean = the source task, inverted = the
target domain), built-in CNN and MLP bases trained for a few epochs, and a tiny BERT built in place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data.base import Dataset
from engine.data.loaders import load_data
from engine.models.base import Classifier, ModelInfo
from engine.models.recipes import Recipe
from engine.models.train import builtin_info, train_builtin


def inverted(data: Dataset) -> Dataset:
    out = data.subset(np.arange(len(data)))
    out.x = np.ascontiguousarray(1.0 - np.asarray(out.x))
    return out


def first_classes(data: Dataset, k: int) -> Dataset:
    """The examples of the first k classes, as a k-class dataset."""
    rows = np.flatnonzero(data.y < k)
    return Dataset(data.source + f"[:{k}]", data.modality, np.asarray(data.x)[rows], data.y[rows], data.class_names[:k])


@pytest.fixture(scope="session")
def digits() -> dict[str, Dataset]:
    """source: 600 clean digits; train / val: 300 / 200 inverted digits (the new domain)."""
    data = load_data("builtin:digits", Path("."))
    order = np.random.default_rng(0).permutation(len(data))
    return {
        "source": data.subset(order[:600]),
        "train": inverted(data.subset(order[600:900])),
        "val": inverted(data.subset(order[1000:1200])),
        "source_test": data.subset(order[1200:1400]),
    }


def _base(arch: str, digits, epochs: int) -> Classifier:
    module, _ = train_builtin(Recipe(arch, epochs=epochs, lr=3e-3, batch_size=64, weight_decay=1e-4), digits["source"], None, 0, "cpu")
    return Classifier(module, builtin_info(f"builtin:digits-{arch}", arch, module, digits["source"]))


@pytest.fixture(scope="session")
def cnn_base(digits) -> Classifier:
    return _base("cnn", digits, 4)


@pytest.fixture(scope="session")
def mlp_base(digits) -> Classifier:
    return _base("mlp", digits, 10)


def accuracy(model: Classifier, data: Dataset) -> float:
    model.module.eval()
    with torch.no_grad():
        pred = model.logits(torch.as_tensor(np.asarray(data.x))).argmax(1).numpy()
    return float((pred == data.y).mean())


def logits(model: Classifier, data: Dataset, n: int = 64) -> torch.Tensor:
    model.module.eval()
    with torch.no_grad():
        if data.modality == "text":
            return model.logits(list(data.x[:n]))
        return model.logits(torch.as_tensor(np.asarray(data.x[:n])))


def state(model_or_module) -> dict[str, torch.Tensor]:
    module = getattr(model_or_module, "module", model_or_module)
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# ---- a tiny BERT, built here (nothing downloaded) -------------------------------------------

POSITIVE = ["good", "great", "fine", "nice", "lovely"]
NEGATIVE = ["bad", "awful", "poor", "sad", "dull"]
FILLER = ["the", "a", "movie", "film", "was", "is", "very", "quite", "plot", "acting"]


def text_data(n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        words = list(rng.choice(FILLER, size=5))
        words.insert(int(rng.integers(6)), str(rng.choice(POSITIVE if label else NEGATIVE)))
        texts.append(" ".join(words))
        labels.append(label)
    return Dataset("test:reviews", "text", texts, np.asarray(labels, dtype=np.int64), ["neg", "pos"])


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Classifier:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from engine.models.hf import HFTextClassifier

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *FILLER]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast.from_pretrained(str(folder))  # reads vocab.txt (works on transformers 4 and 5)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1},
    )
    module = BertForSequenceClassification(config).eval()
    info = ModelInfo("test:tiny-bert", "BertForSequenceClassification", sum(p.numel() for p in module.parameters()),
                     ["neg", "pos"], "text")
    return HFTextClassifier(module, info, tokenizer=tokenizer, max_length=16)


@pytest.fixture(scope="session")
def reviews() -> dict[str, Dataset]:
    return {"train": text_data(300, 1), "val": text_data(200, 2)}


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The tiny models here run fastest on one thread, and the machine's cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def sentiment_bert(tiny_bert) -> Classifier:
    """The tiny BERT pretrained (fully) on sentiment, standing in for a pretrained checkpoint."""
    from engine.kinds.finetune.training import TrainConfig
    from engine.kinds.finetune.tune import tune

    return tune(tiny_bert, text_data(600, 5), None, "full", None, TrainConfig(epochs=6, lr=1e-2, batch_size=32)).model
