"""What validation can know about a merge study without running it (``MergeKind.check``).

Each model loads and fits its task's data (headers and configs only), and the experts can be merged
with the base: one architecture, the same tensors, the same shapes (tensor names and shapes read from
file headers; a built-in base not trained yet is built untrained). Each problem names the expert and
the tensor, and points at the study file's line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.core.errors import JuxtaError, Problem
from engine.core.messages import problem_at
from engine.core.sources import parse_source
from engine.kinds.merge.study.plan import MergeStudyPlan


def study_problems(plan: MergeStudyPlan, root: Path, text: str | None = None) -> list[Problem]:
    from engine.models.base import check_fits
    from engine.models.describe import check_architecture, inspect_model
    from engine.models.recipes import parse_builtin

    study = plan.study
    problems: list[Problem] = []
    entries: list[tuple[tuple[Any, ...], str, str, bool, list[str]]] = [
        (("base", "source"), "base", study.base.source, study.base.trust_remote_code, ["base"])]
    entries += [(("experts", i, "source"), e.id, e.source, e.trust_remote_code, [e.id])
                for i, e in enumerate(study.experts) if e.source]
    n_problems = 0
    for key, mid, source, trust, tasks in entries:
        try:
            info = inspect_model(source, root, plan.artifacts, trust_remote_code=trust)
            summary = plan.summaries[tasks[0]]
            if info is None:
                check_architecture(parse_builtin(parse_source(source).value)[1], summary.modality, summary.source)
            else:
                check_fits(info, summary, mid)
        except JuxtaError as exc:
            problems.append(problem_at(text, key, f"{'the base' if mid == 'base' else f'expert {mid!r}'} ({source}): {exc}"))
    n_problems = len(problems)
    if n_problems:
        return problems  # the tensors of models that do not load cannot be compared
    try:
        names = _check_tensors(plan, root)
    except JuxtaError as exc:
        problems.append(problem_at(text, _key_of(str(exc), study), str(exc).rstrip(".")))
        return problems
    return problems + _batch_norm_problems(study, names, text)


def _batch_norm_problems(study, names: list[str], text: str | None) -> list[Problem]:
    """``batch_norm = "recompute"`` on models without batch norm would silently do nothing: say so."""
    from engine.kinds.merge.study.batchnorm import has_batch_norm

    if has_batch_norm(names):
        return []
    keys = [("merge", "batch_norm")] if study.merge.batch_norm == "recompute" else []
    keys += [("merge", "methods", i) for i, e in enumerate(study.merge.methods) if e.batch_norm == "recompute"]
    return [problem_at(text, key, 'batch_norm = "recompute" re-estimates batch-norm statistics, but the models have no '
                                  'batch-norm layer; remove it') for key in keys]


def _key_of(message: str, study) -> tuple[Any, ...]:
    for i, e in enumerate(study.experts):
        if f"'{e.id}'" in message:
            return ("experts", i, "source" if e.source else "tune")
    return ("base", "source") if "'base'" in message else ("experts",)


def _check_tensors(plan: MergeStudyPlan, root: Path) -> list[str]:
    """The experts against the base, through the merge engine's own checks (nothing is read but headers);
    returns the tensor names."""
    from engine.kinds.merge.checks import MergeError
    from engine.kinds.merge.plan import MergePlan, ModelInput
    from engine.kinds.merge.schedule import build_schedule
    from engine.kinds.merge.study.models import head_names

    study = plan.study
    base = _source(plan, "base", study.base.source, root)
    sources = {"base": base}
    for e in study.experts:
        sources[e.id] = _source(plan, e.id, e.source, root) if e.source else _Renamed(base, e.id)
    first = sources[study.experts[0].id]
    shapes = {n: first.entry(n)[1] for n in first.names()}
    heads = head_names(shapes, len(plan.summaries[study.experts[0].id].class_names), study.merge.heads)
    merge_plan = MergePlan("task_arithmetic", base_model="base", models=[ModelInput(e.id) for e in study.experts],
                           heads=heads)
    try:
        build_schedule(merge_plan, lambda name: sources[name])
    except MergeError as exc:
        raise JuxtaError(str(exc)) from None
    return list(shapes)


class _Renamed:
    """An expert made here: the base's tensors under the expert's name."""

    def __init__(self, inner, label: str):
        self.inner, self.label = inner, label

    def names(self) -> list[str]:
        return self.inner.names()

    def __contains__(self, name: str) -> bool:
        return name in self.inner

    def entry(self, name: str):
        return self.inner.entry(name)

    def read(self, name: str):
        return self.inner.read(name)

    def architecture(self) -> str | None:
        return self.inner.architecture()


def _source(plan: MergeStudyPlan, label: str, source: str, root: Path):
    """A TensorSource of a model's tensors (headers only)."""
    from engine.kinds.merge.merging import StateDictSource, resolve_model
    from engine.kinds.merge.model_files import ModelFiles

    src = parse_source(source, kind="model")
    if src.scheme == "builtin":
        from engine.models.recipes import parse_builtin

        module = _untrained(src.value, plan.summaries["base"])
        return _Arch(StateDictSource(module.state_dict(), label), f"Juxta {parse_builtin(src.value)[1]}")
    if src.scheme == "artifact":
        return ModelFiles(root / plan.artifacts[src.value], label=label)
    if src.scheme == "file":
        return ModelFiles(src.path(root), label=label)
    return ModelFiles(resolve_model(src.value), label=label)


class _Arch:
    def __init__(self, inner, arch: str):
        self.inner, self.arch, self.label = inner, arch, inner.label

    def names(self) -> list[str]:
        return self.inner.names()

    def __contains__(self, name: str) -> bool:
        return name in self.inner

    def entry(self, name: str):
        return self.inner.entry(name)

    def read(self, name: str):
        return self.inner.read(name)

    def architecture(self) -> str | None:
        return self.arch


def _untrained(value: str, summary):
    """A built-in architecture, untrained, shaped for the study's data (for its tensor names and shapes)."""
    import torch

    from engine.models.builtin import build
    from engine.models.recipes import parse_builtin

    _, arch = parse_builtin(value)
    shape = tuple(summary.input_shape) or (1,)
    width = shape[0] if summary.modality != "text" else 1
    return build(arch, shape, len(summary.class_names), torch.zeros(width), torch.ones(width))
