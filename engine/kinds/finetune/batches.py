"""Rows of a dataset as a batch the model takes: a float tensor on the device, or a list of texts."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from engine.data.base import Dataset


def batch_getter(data: Dataset, device: str) -> Callable[[np.ndarray], Any]:
    """``rows -> batch`` for ``Classifier.logits``: images and tables as float tensors moved to the
    device one batch at a time (a large dataset never sits whole on the device), texts as lists."""
    if data.modality == "text":
        texts = data.x
        return lambda rows: [texts[i] for i in rows]
    import torch

    x = np.asarray(data.x)
    return lambda rows: torch.from_numpy(x[rows]).to(device, non_blocking=True)


def labels_on(y: np.ndarray, label_map: np.ndarray, device: str):
    """Dataset labels mapped to the model's outputs, as a long tensor on the device."""
    import torch

    return torch.as_tensor(label_map[np.asarray(y)], dtype=torch.long, device=device)
