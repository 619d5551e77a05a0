"""Copies of classifiers, and the plain model under a PEFT wrapper."""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING

from engine.models.base import Classifier

if TYPE_CHECKING:
    from torch import nn


def copy_classifier(model: Classifier) -> Classifier:
    """An independent copy: the module deep-copied, the glue (tokenizer, preprocessing) shared.

    Methods change the module they are given; the base stays untouched for evaluation and WiSE-FT.
    """
    out = copy.copy(model)
    out.module = copy.deepcopy(model.module)
    out.info = dataclasses.replace(model.info, class_names=list(model.info.class_names), extra=dict(model.info.extra))
    return out


def base_module(module: "nn.Module") -> "nn.Module":
    """The model under a PEFT wrapper (the module itself when it is not wrapped)."""
    get_base = getattr(module, "get_base_model", None)
    return get_base() if callable(get_base) else module


def is_peft(module: "nn.Module") -> bool:
    return callable(getattr(module, "get_base_model", None)) and hasattr(module, "peft_config")


def merged_copy(module: "nn.Module") -> "nn.Module":
    """A plain module computing the same function: adapters merged into the weights (PEFT's
    ``merge_and_unload`` on a copy) and the trained copy of each ``modules_to_save`` kept."""
    clone = copy.deepcopy(module)
    if is_peft(clone):
        return clone.merge_and_unload()
    return clone


_PEFT_PARTS = ("original_module", "modules_to_save", "base_layer")


def unwrap_layer(module: "nn.Module") -> "nn.Module":
    """The plain layer inside a PEFT layer wrapper (a tuner layer or a modules_to_save copy)."""
    while True:
        if hasattr(module, "original_module"):
            module = module.original_module
        elif callable(getattr(module, "get_base_layer", None)) and module.get_base_layer() is not module:
            module = module.get_base_layer()
        else:
            return module


def plain_named_modules(module: "nn.Module"):
    """``named_modules`` with PEFT's wrappers seen through: each wrapped layer once, under its own
    name, as the plain layer it wraps."""
    for name, m in module.named_modules():
        if not any(part in name.split(".") for part in _PEFT_PARTS):
            yield name, unwrap_layer(m)
