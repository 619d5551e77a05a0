"""What every loaded model looks like to the engine, whatever its source."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.data.base import Dataset, DataSummary, Modality
from engine.core.errors import DataError, ModelError

if TYPE_CHECKING:  # torch stays out of import time
    import torch


@dataclass
class ModelInfo:
    """What a picker shows: architecture, size, classes, what input it takes."""

    source: str
    architecture: str
    n_params: int
    class_names: list[str]
    modality: Modality
    input_shape: tuple[int, ...] | None = None  # None: the model adapts (e.g. resizes images)
    extra: dict[str, Any] = field(default_factory=dict)


class Classifier:
    """A torch module plus the glue that turns dataset inputs into logits.

    ``logits`` takes a batch as the dataset holds it (a float tensor already on the device for
    images and tables, a list of strings for text) and returns ``(B, num_classes)`` logits.
    """

    def __init__(self, module: "torch.nn.Module", info: ModelInfo):
        self.module = module
        self.info = info
        self.device = "cpu"

    def to(self, device: str) -> "Classifier":
        self.module.to(device)
        self.device = device
        return self

    def eval(self) -> "Classifier":
        self.module.eval()
        return self

    def logits(self, batch: Any) -> "torch.Tensor":
        return self.module(batch)

    def check_fits(self, data: Dataset | DataSummary, model_id: str = "") -> None:
        """Refuse data the model cannot score, naming both and what differs."""
        check_fits(self.info, data, model_id or self.info.source)


def check_fits(info: ModelInfo, data: Dataset | DataSummary, name: str) -> None:
    """Refuse data a model cannot score (modality, input shape, number and names of classes).

    Used by the cell before it scores, and by validation on a model described from its headers.
    """
    if info.modality != data.modality:
        raise ModelError(f"Model '{name}' takes {info.modality} inputs but dataset {data.source} holds {data.modality} data.")
    want = info.input_shape
    if want is not None and tuple(data.input_shape) != tuple(want):
        raise ModelError(
            f"Model '{name}' expects inputs of shape {tuple(want)} but dataset {data.source} gives {tuple(data.input_shape)}."
        )
    k = len(info.class_names)
    if k and data.num_classes > k:
        raise DataError(
            f"Dataset {data.source} has {data.num_classes} classes but model '{name}' knows only {k}; "
            f"labels {list(range(k, data.num_classes))[:5]} are outside the model's classes."
        )
    label_mapping(info.class_names, data.class_names, name, data.source)


_PLACEHOLDER = re.compile(r"^LABEL_\d+$")


def _integer_like(names: list[str]) -> bool:
    return all(re.fullmatch(r"-?\d+", n) for n in names)


def _listed(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def label_mapping(model_classes: list[str], data_classes: list[str], model_name: str, data_source: str) -> tuple[np.ndarray, str]:
    """Data label index -> model output index, and how it was matched ('name' or 'index').

    By name when every data class is one of the model's (in any order, or a subset). By position only
    when one side has no real names: a model that calls its classes ``LABEL_0, LABEL_1, …`` (the
    Hugging Face default), or a table whose labels are plain integers against a model with named
    classes. When both sides name their classes and the names differ (a digits model on ``cat/`` and
    ``dog/`` folders), pairing them by position would be a silent guess, so it is refused with both lists.
    """
    names = {n: i for i, n in enumerate(model_classes)}
    if all(n in names for n in data_classes):
        return np.asarray([names[n] for n in data_classes], dtype=np.int64), "name"
    unnamed_model = not model_classes or all(_PLACEHOLDER.match(n) for n in model_classes)
    index_labels = _integer_like(data_classes) and not _integer_like(model_classes)
    if unnamed_model or index_labels:
        return np.arange(len(data_classes), dtype=np.int64), "index"
    missing = [n for n in data_classes if n not in names]
    raise DataError(
        f"The classes of dataset {data_source} ({_listed(data_classes)}) are not the classes of model "
        f"'{model_name}' ({_listed(model_classes)}): {_listed(missing, 5)} "
        f"{'is' if len(missing) == 1 else 'are'} not among the model's. Juxta pairs classes by name, not by "
        "position; rename the data's classes to the model's, or use a model trained on these classes."
    )


def count_parameters(module: "torch.nn.Module") -> int:
    return int(sum(p.numel() for p in module.parameters()))
