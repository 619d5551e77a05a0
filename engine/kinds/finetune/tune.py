"""A base, a target and a method in; a tuned model, its learning curves and its costs out.

``tune`` never changes the base: it tunes a copy. The order of things, the same for every method:
check the base is a classifier; copy it; seed torch (head and adapter initialisation) and fit the
head to the target's classes; let the method prepare the copy; run the one training loop; count
what was trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping

from engine.data.base import Dataset
from engine.core.errors import ModelError
from engine.kinds.finetune.batches import batch_getter, labels_on
from engine.kinds.finetune.features import PROCESS_CACHE, FeatureCache
from engine.kinds.finetune.head import HeadFit, check_classifier, fit_head
from engine.kinds.finetune.layout import Layout
from engine.kinds.finetune.methods import get_method
from engine.kinds.finetune.methods.base import Method, MethodParams, PrepareContext
from engine.kinds.finetune.params import ParamCount, count_trained
from engine.kinds.finetune.training import Callbacks, Feed, Stage, TrainConfig, TrainRecord, train
from engine.kinds.finetune.wrapping import base_module, copy_classifier
from engine.models.base import Classifier, check_fits, count_parameters, label_mapping


@dataclass
class Tuned:
    """A tuned model and what it cost.

    ``model`` computes the tuned function (a PEFT model inside for adapter methods); ``head`` says
    whether the head was kept or replaced (its ``note`` is for the study page); ``record`` holds
    the learning curves, steps, wall time and peak memory.
    """

    model: Classifier
    method: Method
    params: MethodParams
    config: TrainConfig
    layout: Layout
    head: HeadFit
    record: TrainRecord
    counts: ParamCount

    @property
    def val_accuracy(self) -> float | None:
        return self.record.val_accuracy


def tune(
    base: Classifier,
    train_data: Dataset,
    val_data: Dataset | None,
    method: str | Method,
    params: Mapping[str, Any] | MethodParams | None = None,
    config: TrainConfig | None = None,
    callbacks: Callbacks | None = None,
    features: FeatureCache | None = None,
) -> Tuned:
    """Tune a copy of ``base`` on ``train_data`` with ``method`` (validation accuracy per epoch on
    ``val_data`` when given). Without a learning rate in ``config``, the method's default for this
    model is used (and recorded in the result's ``config``). ``features`` caches pre-head features
    for probes (default: one cache per process)."""
    import torch

    config = config or TrainConfig()
    m = get_method(method) if isinstance(method, str) else method
    p = m.parse(params)
    if not m.trains:
        raise ModelError(f"{m.title} is not trained; it is computed from a tuned model (see methods.{m.name}).")
    if config.lr is None:
        config = replace(config, lr=m.lr_for(base.info))
    check_classifier(base)
    model = copy_classifier(base)
    check_fits_input(model, train_data)
    torch.manual_seed(config.seed)
    head = fit_head(model, train_data)
    model.to(config.device)
    layout = check_classifier(model, batch_getter(train_data, config.device)(_first_rows(train_data)))
    base_count = count_parameters(model.module)
    ctx = PrepareContext(layout, config, max(1, math.ceil(len(train_data) / config.batch_size)))
    stages = m.prepare(model, p, ctx)
    val_map = _val_map(model, train_data, val_data, head)
    cache = features if features is not None else PROCESS_CACHE

    def feed_for(stage: Stage) -> Feed:
        return make_feed(model, layout, stage, train_data, val_data, head, val_map, config, cache)

    record = train(stages, feed_for, config, callbacks, label=f"{m.title} on {base.info.source}")
    model.module.eval()
    trained = [q for s in stages for q in s.params]
    return Tuned(model, m, p, config, layout, head, record, count_trained(model.module, trained, layout, base_count))


def make_feed(
    model: Classifier,
    layout: Layout,
    stage: Stage,
    train_data: Dataset,
    val_data: Dataset | None,
    head: HeadFit,
    val_map: Any,
    config: TrainConfig,
    cache: FeatureCache,
) -> Feed:
    """Batches for a stage: dataset rows through the model, or cached features into the head."""
    device = config.device
    y = labels_on(train_data.y, head.label_map, device)
    vy = labels_on(val_data.y, val_map, device) if val_data is not None else None
    if stage.on_features:
        feats = cache.features(model, layout, train_data, device, config.eval_batch_size)
        vfeats = cache.features(model, layout, val_data, device, config.eval_batch_size) if val_data is not None else None
        head_layer = base_module(model.module).get_submodule(layout.head)
        return Feed(
            forward=head_layer,
            train_batch=lambda rows: feats[rows],
            train_y=y,
            val_batch=(lambda rows: vfeats[rows]) if vfeats is not None else None,
            val_y=vy,
        )
    return Feed(
        forward=model.logits,
        train_batch=batch_getter(train_data, device),
        train_y=y,
        val_batch=batch_getter(val_data, device) if val_data is not None else None,
        val_y=vy,
    )


def check_fits_input(model: Classifier, data: Dataset) -> None:
    """Modality and input shape must fit (classes are the head's business: see head.fit_head)."""
    info = model.info
    if info.modality != data.modality or (info.input_shape is not None and tuple(info.input_shape) != tuple(data.input_shape)):
        check_fits(info, data, info.source)


def _val_map(model: Classifier, train_data: Dataset, val_data: Dataset | None, head: HeadFit):
    if val_data is None:
        return None
    if list(val_data.class_names) == list(train_data.class_names):
        return head.label_map
    mapping, _ = label_mapping(list(model.info.class_names), list(val_data.class_names), model.info.source, val_data.source)
    return mapping


def _first_rows(data: Dataset):
    import numpy as np

    return np.arange(min(2, len(data)))
