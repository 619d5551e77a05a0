"""The head against the data: fit it to the target's classes, check the base and the source task.

A base keeps its head when the target names the same classes (paired by name, or by position when
one side has no real names, as everywhere in Juxta). Otherwise — another number of classes, or other
names — the head is replaced by a new one with one output per target class, and a note says so:
that is a new task, not an error. The source dataset (to measure forgetting) must hold the task the
base already does: its classes must be the base head's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from engine.data.base import Dataset, DataSummary
from engine.core.errors import DataError
from engine.kinds.finetune.layout import Layout, layout_of, not_a_classifier
from engine.kinds.finetune.wrapping import base_module, merged_copy
from engine.models.base import Classifier, label_mapping

if TYPE_CHECKING:
    from torch import nn

_PLACEHOLDER_PREFIX = "LABEL_"


@dataclass(frozen=True)
class HeadFit:
    """How the target's labels reach the model's outputs.

    ``label_map[i]`` is the model output for target class ``i``; ``note`` is a plain sentence for the
    study page and report ("" when the head was kept and nothing needs saying).
    """

    replaced: bool
    label_map: np.ndarray
    note: str


def check_classifier(model: Classifier, example: object | None = None) -> Layout:
    """The model's layout, after checking it is a classifier: a head with one output per class and,
    when an example batch is given, logits shaped (batch, classes) for it."""
    layout = layout_of(model)
    if example is not None:
        import torch

        with torch.no_grad():
            was = model.module.training
            model.module.eval()
            try:
                out = model.logits(example)
            finally:
                model.module.train(was)
        k = len(model.info.class_names)
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[1] != k:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise not_a_classifier(model, f"it returns {shape} for a batch, not one score per class ({k})")
    return layout


def fit_head(model: Classifier, target: Dataset | DataSummary, layout: Layout | None = None) -> HeadFit:
    """Keep the head when the target's classes are the model's, else replace it (in place, with the
    global torch seed: call it after seeding). Updates ``model.info.class_names`` (and a transformers
    config) to the classes the model now predicts."""
    layout = layout or layout_of(model)
    ours, theirs = list(model.info.class_names), list(target.class_names)
    if len(ours) == len(theirs):
        try:
            mapping, how = label_mapping(ours, theirs, model.info.source, target.source)
        except DataError:
            mapping, how = None, ""
        if mapping is not None:
            if how == "index" and all(n.startswith(_PLACEHOLDER_PREFIX) for n in ours):
                _rename_classes(model, theirs)  # the model's LABEL_i now mean the target's names
            return HeadFit(False, mapping, "")
        why = f"the target's classes ({_few(theirs)}) are not the base's ({_few(ours)})"
    else:
        why = f"the base predicts {len(ours)} classes and the target {target.source} has {len(theirs)}"
    replace_head(model, layout, theirs)
    note = (
        f"The base's head was replaced: {why}, so a new head with one output per target class is "
        "trained from scratch (the base's own head is kept for measuring forgetting)."
    )
    return HeadFit(True, np.arange(len(theirs), dtype=np.int64), note)


def replace_head(model: Classifier, layout: Layout, class_names: list[str]) -> None:
    """A new final linear layer with one output per class (PyTorch's default initialisation)."""
    from torch import nn

    module = base_module(model.module)
    old = module.get_submodule(layout.head)
    new = nn.Linear(old.in_features, len(class_names), bias=old.bias is not None)
    new.to(device=old.weight.device, dtype=old.weight.dtype)
    set_submodule(module, layout.head, new)
    _rename_classes(model, class_names)


def _rename_classes(model: Classifier, class_names: list[str]) -> None:
    model.info = replace(model.info, class_names=list(class_names))
    config = getattr(base_module(model.module), "config", None)
    if config is not None and hasattr(config, "id2label"):
        config.num_labels = len(class_names)
        config.id2label = dict(enumerate(class_names))
        config.label2id = {name: i for i, name in enumerate(class_names)}


def set_submodule(root: "nn.Module", name: str, new: "nn.Module") -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def check_source(base: Classifier, source: Dataset | DataSummary) -> np.ndarray:
    """Source label index -> base output index; a DataError when the source is another task."""
    classes = list(base.info.class_names)
    name = base.info.source
    if source.num_classes > len(classes):
        raise DataError(
            f"The source dataset {source.source} has {source.num_classes} classes but base '{name}' predicts "
            f"{len(classes)} ({_few(classes)}). The source measures forgetting, so it must hold the task the "
            "base already does: name the dataset the base was trained on."
        )
    try:
        mapping, _ = label_mapping(classes, list(source.class_names), name, source.source)
    except DataError:
        missing = [c for c in source.class_names if c not in classes]
        raise DataError(
            f"The source dataset {source.source}'s classes ({_few(list(source.class_names))}) are not the classes "
            f"of base '{name}''s head ({_few(classes)}): {_few(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not among them. The source measures forgetting, so it must "
            "hold the task the base already does: name the dataset the base was trained on."
        ) from None
    return mapping


def with_base_head(tuned: Classifier, base: Classifier) -> Classifier:
    """The tuned model's body under the base's own head, as a plain module (adapters merged).

    When the head was replaced for a new task, forgetting is measured this way: the source task
    through the base's head on top of the tuned features.
    """
    import copy

    base_layout = layout_of(base)
    out = copy.copy(base)
    out.info = replace(base.info, class_names=list(base.info.class_names), extra=dict(base.info.extra))
    out.module = merged_copy(tuned.module)
    set_submodule(out.module, base_layout.head_module, copy.deepcopy(base.module.get_submodule(base_layout.head_module)))
    cfg = getattr(out.module, "config", None)
    if cfg is not None and hasattr(cfg, "id2label"):
        base_cfg = base.module.config
        cfg.num_labels, cfg.id2label, cfg.label2id = base_cfg.num_labels, dict(base_cfg.id2label), dict(base_cfg.label2id)
    return out


def _few(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")
