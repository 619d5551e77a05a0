"""What validation can know about a fine-tuning study without tuning anything.

From headers, configs and an untrained copy of the base's architecture (weights are never needed):
the base loads and is a classifier; it takes the target's kind of input; whether its head will be
replaced (a warning, not an error: other classes make a new task); the source holds the task the base
already does; every adapter's target modules name layers of the base it can wrap, and its rank fits
each of them. What needs the weights or the data in motion (a loss that turns NaN, running out of
memory) is found when the cells run, each with one plain sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.core.errors import JuxtaError, Problem
from engine.core.messages import problem_at
from engine.core.sources import parse_source
from engine.kinds.finetune.plan import FinetunePlan
from engine.models.base import Classifier, ModelInfo, check_fits, label_mapping

if TYPE_CHECKING:
    from torch import nn


def finetune_problems(plan: FinetunePlan, root: Path, text: str | None = None) -> list[Problem]:
    """Every problem found, each at its key; the head-replacement notice goes to ``plan.warnings``."""
    from engine.core.errors import DataError
    from engine.kinds.finetune.head import check_source
    from engine.models.describe import inspect_model

    study = plan.study
    key = ("base", "source")
    try:
        info = inspect_model(study.base.source, root, plan.artifacts, trust_remote_code=study.base.trust_remote_code)
    except JuxtaError as exc:
        return [problem_at(text, key, f"the base model ({study.base.source}): {str(exc).rstrip('.')}")]
    trained_on_source = info is None  # a built-in architecture trained on [source]
    if info is None:
        assert plan.source is not None  # the plan refuses a dataset-less built-in base without [source]
        from engine.models.recipes import parse_builtin

        arch = parse_builtin(parse_source(study.base.source).value)[1]
        s = plan.source
        info = ModelInfo(study.base.source, arch, -1, list(s.class_names), s.modality, s.input_shape or None)
    if not info.class_names:
        return [problem_at(text, key, f"the base model ({study.base.source}) names no classes, so it is not a classifier "
                           "Juxta can fine-tune; name an image or text classifier")]
    problems: list[Problem] = []
    target = plan.target
    assert target is not None
    if info.modality != target.modality or (info.input_shape and tuple(info.input_shape) != tuple(target.input_shape)):
        try:
            check_fits(info, target, study.base.source)
        except JuxtaError as exc:
            problems.append(problem_at(text, ("target", "source"), str(exc).rstrip(".")))
    elif _head_replaced(info, target.class_names):
        plan.warnings.append(problem_at(text, ("target", "source"), (
            f"the base predicts {len(info.class_names)} classes ({_few(info.class_names)}) and the target has "
            f"{len(target.class_names)} ({_few(target.class_names)}), so each method replaces the base's head with a new "
            "one for the target's classes, trained from scratch; forgetting is measured through the base's own head")))
    if plan.source is not None and not trained_on_source:
        try:
            if plan.source.modality != info.modality:
                raise DataError(f"the source dataset {plan.source.source} holds {plan.source.modality} data, but the base "
                                f"takes {info.modality} inputs; name the dataset the base was trained on")
            check_source(Classifier(None, info), plan.source)  # type: ignore[arg-type]
        except DataError as exc:
            problems.append(problem_at(text, ("source", "source"), str(exc).rstrip(".")))
    if not problems:
        problems += _adapter_problems(plan, info, root, text)
    return problems


def _head_replaced(info: ModelInfo, classes: list[str]) -> bool:
    if len(info.class_names) != len(classes):
        return True
    try:
        label_mapping(list(info.class_names), list(classes), info.source, "target")
    except JuxtaError:
        return True
    return False


def _adapter_problems(plan: FinetunePlan, info: ModelInfo, root: Path, text: str | None) -> list[Problem]:
    """Target modules that match nothing (or cannot be wrapped) and ranks wider than a layer, per arm."""
    from engine.kinds.finetune.layout import layout_of
    from engine.kinds.finetune.methods.base import PeftMethod
    from engine.kinds.finetune.targets import default_targets, resolve_targets

    adapters = [a for a in plan.arms if isinstance(a.method, PeftMethod)]
    if not adapters:
        return []
    skeleton = _skeleton(plan, info, root)
    if skeleton is None:
        return []
    try:
        layout = layout_of(skeleton)
    except JuxtaError as exc:
        return [problem_at(text, ("base", "source"), str(exc).rstrip("."))]
    problems: list[Problem] = []
    for arm in adapters:
        m = arm.method
        assert isinstance(m, PeftMethod)
        given = arm.params.target_modules  # type: ignore[attr-defined]
        requested = list(given or default_targets(skeleton.module, layout, m.peft_type, m.supports))
        try:
            resolve_targets(skeleton.module, layout, requested, m.title, m.supports)
        except JuxtaError as exc:
            where = ("methods", arm.index, "target_modules") if given else ("methods", arm.index)
            problems.append(problem_at(text, where, f"{arm.id}: {str(exc).rstrip('.')}"))
            continue
        rank = getattr(arm.params, m.rank_field) if m.rank_field else None
        if rank is not None:
            try:
                resolve_targets(skeleton.module, layout, requested, m.title, m.supports, rank)
            except JuxtaError as exc:
                problems.append(problem_at(text, ("methods", arm.index, m.rank_field), f"{arm.id}: {str(exc).rstrip('.')}"))
    return problems


def _skeleton(plan: FinetunePlan, info: ModelInfo, root: Path) -> Classifier | None:
    """An untrained copy of the base's architecture (no weights read): built-ins and Juxta model files are
    built; transformers models are built from their config on PyTorch's meta device. None when the
    architecture cannot be known this way (the tuning cell checks it then)."""
    from engine.models.recipes import ARCHITECTURES

    if info.architecture in ARCHITECTURES:
        import torch

        from engine.models.builtin import build

        shape = tuple(info.input_shape or plan.target.input_shape or (1,))  # type: ignore[union-attr]
        module = build(info.architecture, shape, len(info.class_names), torch.zeros(1), torch.ones(1))
        return Classifier(module, info)
    folder = info.extra.get("path")
    if folder and Path(folder).is_dir() and info.extra.get("task"):
        return _transformers_skeleton(Path(folder), info)
    return None


def _transformers_skeleton(folder: Path, info: ModelInfo) -> Classifier | None:
    import torch
    from transformers import AutoConfig, AutoModelForImageClassification, AutoModelForSequenceClassification

    try:
        config = AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
        auto = AutoModelForImageClassification if info.modality == "image" else AutoModelForSequenceClassification
        with torch.device("meta"):
            module: nn.Module = auto.from_config(config)
    except Exception:  # an architecture transformers cannot build offline here: the tuning cell reports it
        return None
    return Classifier(module, info)


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (", …" if len(names) > limit else "")
