"""Pre-head features, computed once and cached: a linear probe trains on them for every epoch,
learning rate and seed instead of running the frozen backbone again each time."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from engine.data.base import Dataset
from engine.kinds.finetune.batches import batch_getter
from engine.kinds.finetune.layout import Layout
from engine.kinds.finetune.wrapping import base_module
from engine.models.base import Classifier

if TYPE_CHECKING:
    import torch


def extract_features(model: Classifier, layout: Layout, data: Dataset, device: str, batch_size: int = 512) -> "torch.Tensor":
    """The head's input for every example (float32, on ``device``), with the model in evaluation mode."""
    import torch

    head = base_module(model.module).get_submodule(layout.head)
    captured: list[torch.Tensor] = []
    hook = head.register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach().float()))
    get = batch_getter(data, device)
    was = model.module.training
    model.module.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(data), batch_size):
                model.logits(get(np.arange(start, min(len(data), start + batch_size))))
    finally:
        hook.remove()
        model.module.train(was)
    return torch.cat(captured).to(device)


class FeatureCache:
    """Features by (backbone weights, data, device type), least recently used dropped first.

    The key hashes every tensor of the model except the head's, so seeds and learning rates that
    share a base and a dataset share features, and a changed backbone never reuses stale ones.
    """

    def __init__(self, max_items: int = 4):
        self.max_items = max_items
        self._items: OrderedDict[tuple[str, str, str], torch.Tensor] = OrderedDict()
        self.computed = 0  # how many times features were actually computed (for tests and benches)

    def features(self, model: Classifier, layout: Layout, data: Dataset, device: str, batch_size: int = 512) -> "torch.Tensor":
        key = (backbone_digest(model, layout), data.fingerprint(), device.split(":")[0])
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key].to(device)
        feats = extract_features(model, layout, data, device, batch_size)
        self.computed += 1
        self._items[key] = feats
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
        return feats

    def clear(self) -> None:
        self._items.clear()


def backbone_digest(model: Classifier, layout: Layout) -> str:
    """sha256 over the model's tensors outside the head, and its input glue (preprocessing)."""
    import torch

    h = hashlib.sha256(type(model).__name__.encode())
    for attr in ("size", "channels", "mean", "std", "max_length"):
        if hasattr(model, attr):
            h.update(f"{attr}={getattr(model, attr)!r}".encode())
    state = base_module(model.module).state_dict()
    for name in sorted(state):
        if name == layout.head or name.startswith(layout.head + "."):
            continue
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


PROCESS_CACHE = FeatureCache()
"""One cache per process: the linear-probe arms a worker runs (learning rates × seeds) share it."""
