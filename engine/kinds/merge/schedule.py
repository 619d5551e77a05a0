"""From a merge plan and the models' tensor lists to one task per output tensor, every check done
and every parameter resolved before the first tensor is read — a bad input stops the merge before
anything is written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from engine.kinds.merge.checks import (
    MergeError, TensorSource, check_architectures, is_embedding, is_float, is_head, shapes_text, tied_alias,
    vocab_message,
)
from engine.kinds.merge.conventions import PRESETS, Conventions
from engine.kinds.merge.methods import Method, get_method
from engine.kinds.merge.methods.base import Params, param_key, param_keys
from engine.kinds.merge.params import Setting, depth_positions, evaluate, layer_of
from engine.kinds.merge.plan import MergePlan
from engine.kinds.merge.validation import check_counts, validate_params

DTYPE_NAMES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64,
               "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class TensorTask:
    """One output tensor: merged from ``inputs`` (model index, tensor name) over ``base``, copied, or a head."""

    out: str
    kind: Literal["merge", "copy", "head"]
    inputs: list[tuple[int, str]]
    base: tuple[int, str] | None
    shape: tuple[int, ...]
    dtype: torch.dtype
    options: Params | None = None
    model_params: list[Params] = field(default_factory=list)
    crop: tuple[int, ...] | None = None  # embeddings: the submatrix every input is cut to
    is_embed: bool = False


@dataclass
class Schedule:
    method: Method
    sources: list[TensorSource]
    tasks: list[TensorTask]
    compute_dtype: torch.dtype | None
    notes: list[str] = field(default_factory=list)
    head_models: list[int] = field(default_factory=list)  # which models' heads are kept, in order
    conventions: Conventions = field(default_factory=lambda: PRESETS["mergekit"])
    seed: int = 0
    owned: bool = False  # sources return fresh tensors on every read (files): methods may work in place
    num_layers: dict[str, int] = field(default_factory=dict)  # output layers per stack (slices)


def dtype_of(name: str | None, what: str) -> torch.dtype | None:
    if name is None:
        return None
    try:
        return DTYPE_NAMES[name]
    except KeyError:
        raise MergeError(f"{what}: unknown dtype '{name}'; use one of float32, float16, bfloat16.") from None


class Resolver:
    """Parameter values per tensor, with mergekit's precedence: the model's own > its slice's > the global
    ``parameters`` > the conventions preset's default > the method's default."""

    def __init__(self, plan: MergePlan, method: Method):
        self.plan, self.method = plan, method
        self.global_keys = param_keys(method.options)
        self.model_keys = param_keys(method.model_params)
        allowed = set(self.global_keys) | set(self.model_keys)
        for key in plan.parameters:
            if key not in allowed:
                raise MergeError(self._unknown(key, "parameters"))
        for i, m in enumerate(plan.models):
            for key in m.parameters:
                if key not in self.model_keys:
                    raise MergeError(self._unknown(key, f"models[{i}] ({m.model}).parameters", per_model=True))
        for j, s in enumerate(plan.slices or []):
            for key in s.parameters:
                if key not in allowed:
                    raise MergeError(self._unknown(key, f"slices[{j}].parameters"))
            for i, src in enumerate(s.sources):
                for key in src.parameters:
                    if key not in self.model_keys:
                        raise MergeError(self._unknown(key, f"slices[{j}].sources[{i}].parameters", per_model=True))

    def _unknown(self, key: str, where: str, per_model: bool = False) -> str:
        m = self.method
        if per_model and key in self.global_keys:
            return (f"{where}: '{key}' is a global parameter of {m.name}; put it under the top-level 'parameters', "
                    f"not under a model. Per-model parameters: {', '.join(self.model_keys) or 'none'}.")
        known = ", ".join(self.model_keys if per_model else self.global_keys + self.model_keys) or "none"
        return f"{where}: {m.name} has no parameter '{key}'; its {'per-model ' if per_model else ''}parameters are: {known}."

    @staticmethod
    def _first(layers: list[dict[str, Setting]], key: str, tensor: str, t: float) -> Any:
        for settings in layers:
            if key in settings:
                value = evaluate(settings[key], tensor, t)
                if value is not None:
                    return value
        return None

    def options(self, tensor: str, t: float, slice_params: dict[str, Setting] | None = None) -> Params:
        values = {}
        for key in self.global_keys:
            v = self._first([slice_params or {}, self.plan.parameters], key, tensor, t)
            if v is None:
                v = self.plan.conventions.default_for(self.method.name, key, None)
            if v is not None:
                values[key] = v
        return validate_params(self.method.options, values, self.method.name, f"(tensor '{tensor}')")

    def model_params(self, tensor: str, t: float, own: dict[str, Setting], label: str,
                     slice_params: dict[str, Setting] | None = None) -> Params:
        values = {}
        for key in self.model_keys:
            v = self._first([own, slice_params or {}, self.plan.parameters], key, tensor, t)
            if v is None:
                v = self.plan.conventions.default_for(self.method.name, key, None)
            if v is not None:
                values[key] = v
        return validate_params(self.method.model_params, values, self.method.name, f"for {label} (tensor '{tensor}')")


def build_schedule(plan: MergePlan, open_source) -> Schedule:
    """Check the plan against the models' tensors and resolve every parameter. ``open_source(name)``
    returns the TensorSource for a model name of the plan."""
    method = get_method(plan.method)
    if method.kind != "tensor":
        raise MergeError(f"{method.name} {'needs input data' if method.data_based else 'post-processes another merge'}: "
                         "it runs in merge studies, not as a standalone merge of files.")
    compute = dtype_of(plan.dtype, "dtype")
    out_dtype = dtype_of(plan.out_dtype, "out_dtype")
    names = plan.model_names()
    sources = [open_source(n) for n in names]
    index = {n: i for i, n in enumerate(names)}
    check_architectures(sources)
    resolver = Resolver(plan, method)
    owned = all(getattr(s, "fresh_reads", False) for s in sources)
    if plan.slices:
        sched = _slices_schedule(plan, method, sources, index, resolver, compute, out_dtype)
        sched.owned = owned
        return sched
    uses_base = method.base != "unused" and plan.base_model is not None
    inputs = [m for m in plan.models if not (uses_base and m.model == plan.base_model)]
    check_counts(method, len(inputs), plan.base_model is not None, len(inputs) + (1 if uses_base else 0))
    base_i = index[plan.base_model] if uses_base else None
    input_idx = [index[m.model] for m in inputs]
    ref = sources[base_i] if base_i is not None else sources[input_idx[0]]
    sched = Schedule(method, sources, [], compute, head_models=input_idx, conventions=plan.conventions, seed=plan.seed,
                     owned=owned)
    depth = depth_positions(ref.names())
    all_idx = ([base_i] if base_i is not None else []) + input_idx
    _check_extra_tensors(sources, all_idx, ref, plan)
    for name in ref.names():
        names_per = [_name_in(sources[i], name) for i in all_idx]
        entries = [sources[i].entry(n) for i, n in zip(all_idx, names_per)]
        labelled = [(sources[i].label, e[1]) for i, e in zip(all_idx, entries)]
        floats = {is_float(e[0]) for e in entries}
        if len(floats) > 1:
            kinds = ", ".join(f"{sources[i].label} {str(e[0]).removeprefix('torch.')}" for i, e in zip(all_idx, entries))
            raise MergeError(f"Tensor '{name}' is floating point in some models and not in others ({kinds}); "
                             "Juxta merges floating-point weights only. Are these models quantized differently?")
        dtype0, shape0 = entries[0]
        if not floats.pop():
            sched.tasks.append(TensorTask(name, "copy", [], (all_idx[0], names_per[0]), shape0, dtype0))
            continue
        shapes = {e[1] for e in entries}
        declared = any(piece and piece in name for piece in plan.heads)
        if declared or (is_head(name) and len(shapes) > 1):
            sched.tasks.append(_head_task(name, sources, input_idx, out_dtype or compute or dtype0))
            continue
        crop = None
        if len(shapes) > 1:
            crop = _crop(name, method, labelled, plan, base_i is not None, sched)
        t = depth[name]
        options = resolver.options(name, t)
        mparams = [resolver.model_params(name, t, m.parameters, sources[index[m.model]].label) for m in inputs]
        shape = crop or shape0
        sched.tasks.append(TensorTask(name, "merge", list(zip(input_idx, names_per[-len(input_idx):])),
                                      (base_i, names_per[0]) if base_i is not None else None, shape,
                                      out_dtype or compute or dtype0, options, mparams, crop, is_embedding(name)))
    for name in sources[input_idx[0]].names():  # heads the experts have and the base lacks
        if name not in ref and is_head(name, plan.heads):
            sched.tasks.append(_head_task(name, sources, input_idx, out_dtype or compute or sources[input_idx[0]].entry(name)[0]))
    if any(t.kind == "head" for t in sched.tasks):
        sched.notes.append("Task-specific heads are not merged: the output keeps the first model's head, and every "
                           "model's own head is saved under heads/.")
    return sched


def _head_task(name: str, sources, input_idx: list[int], dtype: torch.dtype) -> TensorTask:
    for i in input_idx:
        if name not in sources[i]:
            raise MergeError(f"Model '{sources[i].label}' has no head tensor '{name}' (the other experts have it).")
    return TensorTask(name, "head", [(i, name) for i in input_idx], None, sources[input_idx[0]].entry(name)[1], dtype)


def _name_in(source: TensorSource, name: str) -> str:
    if name in source:
        return name
    alias = tied_alias(source, name)
    if alias:
        return alias
    raise MergeError(f"Model '{source.label}' has no tensor '{name}' (the first model has it): the models do not have "
                     "the same layers. Merge models of one architecture, fine-tuned from the same base.")


def _check_extra_tensors(sources: list[TensorSource], idx: list[int], ref: TensorSource, plan: MergePlan) -> None:
    have = set(ref.names())
    for i in idx:
        extra = [n for n in sources[i].names() if n not in have and not is_head(n, plan.heads)]
        if extra:
            listed = ", ".join(f"'{n}'" for n in extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
            raise MergeError(f"Model '{sources[i].label}' has tensors that '{ref.label}' lacks ({listed}): the models do "
                             "not have the same layers.")


def _crop(name: str, method: Method, labelled: list[tuple[str, tuple[int, ...]]], plan: MergePlan, has_base: bool,
          sched: Schedule) -> tuple[int, ...]:
    shapes = [s for _, s in labelled]
    if not is_embedding(name) or any(len(s) != 2 for s in shapes):
        raise MergeError(f"Shape mismatch at tensor '{name}': {shapes_text(labelled)}. Only models with the same "
                         "architecture and sizes can be merged; if this is a task-specific head, declare it as a head.")
    if plan.embeddings != "submatrix":
        raise MergeError(vocab_message(name, labelled))
    if has_base and method.base == "required":  # mergekit's task-vector rule: every model cut to the base's shape
        crop = shapes[0]
        if any(s[0] < crop[0] or s[1] < crop[1] for s in shapes[1:]):
            raise MergeError(f"Cannot apply the submatrix rule at '{name}': a model is smaller than the base "
                             f"({shapes_text(labelled)}).")
    else:
        crop = (min(s[0] for s in shapes), min(s[1] for s in shapes))
    sched.notes.append(f"{name}: vocabulary sizes differ ({shapes_text(labelled)}); merged the common "
                       f"{crop[0]}×{crop[1]} submatrix (mergekit's rule).")
    return crop


def _slices_schedule(plan: MergePlan, method: Method, sources, index, resolver: Resolver, compute, out_dtype) -> Schedule:
    """Output layers stacked from slices of the sources (frankenmerges with passthrough, or a method per slice)."""
    first = sources[index[plan.slices[0].sources[0].model]]
    stack = _main_stack(first.names())
    sched = Schedule(method, sources, [], compute, conventions=plan.conventions, seed=plan.seed)
    out_layer = 0
    layer_names: dict[int, list[str]] = {}
    for name in first.names():
        hit = layer_of(name)
        if hit and hit[0] == stack:
            layer_names.setdefault(hit[1], []).append(name)
    template = layer_names.get(min(layer_names), []) if layer_names else []
    outside = [n for n in first.names() if not (layer_of(n) and layer_of(n)[0] == stack)]
    pre = [n for n in outside if is_embedding(n) and not n.endswith("lm_head.weight")]
    post = [n for n in outside if n not in pre]

    def add(out_name: str, slice_def, per_source_names: list[str], t: float) -> None:
        base_model = slice_def.base_model or plan.base_model
        uses_base = method.base != "unused" and base_model is not None
        srcs = [s for s in slice_def.sources if not (uses_base and s.model == base_model)]
        check_counts(method, len(srcs), base_model is not None, len(slice_def.sources))
        name_of = dict(zip([s.model for s in slice_def.sources], per_source_names))
        if uses_base and base_model not in name_of:
            raise MergeError(f"slices: the base model '{base_model}' must be one of the slice's sources.")
        entries = [sources[index[s.model]].entry(_name_in(sources[index[s.model]], name_of[s.model])) for s in slice_def.sources]
        if len({e[1] for e in entries}) > 1:
            raise MergeError(f"Shape mismatch at tensor '{out_name}': "
                             f"{shapes_text([(sources[index[s.model]].label, e[1]) for s, e in zip(slice_def.sources, entries)])}.")
        dtype0, shape0 = entries[0]
        if not is_float(dtype0):
            src = slice_def.sources[0]
            sched.tasks.append(TensorTask(out_name, "copy", [], (index[src.model], name_of[src.model]), shape0, dtype0))
            return
        options = resolver.options(out_name, t, slice_def.parameters)
        mparams = [resolver.model_params(out_name, t, s.parameters, sources[index[s.model]].label, slice_def.parameters)
                   for s in srcs]
        sched.tasks.append(TensorTask(
            out_name, "merge", [(index[s.model], _name_in(sources[index[s.model]], name_of[s.model])) for s in srcs],
            (index[base_model], name_of[base_model]) if uses_base else None, shape0, out_dtype or compute or dtype0,
            options, mparams, None, is_embedding(out_name)))

    for name in pre:
        add(name, plan.slices[0], [name] * len(plan.slices[0].sources), 0.0)
    for j, s in enumerate(plan.slices):
        lengths = {src.layer_range[1] - src.layer_range[0] for src in s.sources}
        if len(lengths) != 1 or lengths == {0} or min(lengths) < 0:
            raise MergeError(f"slices[{j}]: every source must cover the same, non-empty number of layers "
                             f"(layer_range [start, end)); got {[list(src.layer_range) for src in s.sources]}.")
        n = lengths.pop()
        for off in range(n):
            t = off / (n - 1) if n > 1 else 1.0
            for tname in template:
                suffix = tname[len(stack) + 1:].split(".", 1)[1]
                out_name = f"{stack}.{out_layer}.{suffix}"
                per_source = []
                for src in s.sources:
                    layer = src.layer_range[0] + off
                    have = sources[index[src.model]]
                    candidate = f"{stack}.{layer}.{suffix}"
                    if candidate not in have:
                        raise MergeError(f"slices[{j}]: model '{have.label}' has no layer {layer} "
                                         f"(no tensor '{candidate}'); check layer_range.")
                    per_source.append(candidate)
                add(out_name, s, per_source, t)
            out_layer += 1
    for name in post:
        add(name, plan.slices[-1], [name] * len(plan.slices[-1].sources), 0.0)
    sched.num_layers[stack] = out_layer
    return sched


def _main_stack(names: list[str]) -> str:
    counts: dict[str, int] = {}
    for n in names:
        hit = layer_of(n)
        if hit:
            counts[hit[0]] = max(counts.get(hit[0], 0), hit[1] + 1)
    if not counts:
        raise MergeError("slices need numbered layers (like model.layers.N); this model has none.")
    return max(counts, key=counts.get)
