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
