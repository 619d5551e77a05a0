"""What every loaded model looks like to the engine, whatever its source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.data.base import Dataset, Modality
from engine.errors import DataError, ModelError

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

    def check_fits(self, data: Dataset, model_id: str = "") -> None:
        """Refuse data the model cannot score, naming both and what differs."""
        name = model_id or self.info.source
        if self.info.modality != data.modality:
            raise ModelError(
                f"Model '{name}' takes {self.info.modality} inputs but dataset {data.source} holds {data.modality} data."
            )
        want = self.info.input_shape
        if want is not None and tuple(data.input_shape) != tuple(want):
            raise ModelError(
                f"Model '{name}' expects inputs of shape {tuple(want)} but dataset {data.source} "
                f"gives {tuple(data.input_shape)}."
            )
        k = len(self.info.class_names)
        if data.num_classes > k:
            raise DataError(
                f"Dataset {data.source} has {data.num_classes} classes but model '{name}' knows only {k}; "
                f"labels {list(range(k, data.num_classes))[:5]} are outside the model's classes."
            )


def count_parameters(module: "torch.nn.Module") -> int:
    return int(sum(p.numel() for p in module.parameters()))
