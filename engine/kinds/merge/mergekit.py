"""mergekit's YAML, read into a merge plan and written back from one.

Read: ``merge_method``, ``base_model``, ``models[].model`` with ``parameters`` (scalars, layer
gradients, ``{filter, value}`` lists), global ``parameters``, ``dtype``, ``out_dtype``, ``slices``
(``sources[].model``, ``layer_range``, ``parameters``; per-slice ``base_model`` and
``parameters``) and ``tokenizer_source: base``. mergekit keys Juxta does not do (``modules``,
``tokenizer``, other ``tokenizer_source`` values, ``chat_template``) and keys mergekit does not know
are each one clear message naming the key. Unknown methods and parameters are errors too (mergekit
ignores unknown parameters silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.kinds.merge.checks import MergeError
from engine.kinds.merge.conventions import PRESETS, Conventions
from engine.kinds.merge.methods import METHODS, get_method
from engine.kinds.merge.params import parse_setting, to_plain
from engine.kinds.merge.plan import MergePlan, ModelInput, OutputSlice, SliceSource

TOP_KEYS = {"merge_method", "base_model", "models", "slices", "parameters", "dtype", "out_dtype", "tokenizer_source"}
UNSUPPORTED = {
    "modules": "multi-module configs ('modules') are not supported; use 'models' or 'slices'",
    "tokenizer": "building a new tokenizer ('tokenizer:') is not supported; Juxta copies the base model's tokenizer",
    "chat_template": "'chat_template' is not supported; the base model's tokenizer files (and chat template) are copied",
}


def _where(path: Path | None) -> str:
    return str(path) if path else "mergekit YAML"


def _settings(raw: Any, where: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MergeError(f"{where}: expected a mapping of parameter names to values, got {raw!r}.")
    return {str(k): parse_setting(v, f"{where}.{k}") for k, v in raw.items()}


def _model_ref(raw: Any, where: str) -> str:
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    raise MergeError(f"{where}: expected a model path or Hugging Face id (text), got {raw!r}.")


def plan_from_yaml(text: str, *, path: Path | None = None, conventions: Conventions | None = None,
                   seed: int = 0) -> MergePlan:
    """Parse mergekit YAML text into a MergePlan (``path`` only names the file in messages)."""
    src = _where(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise MergeError(f"{src}: not valid YAML{line}: {getattr(exc, 'problem', None) or exc}.") from None
    if not isinstance(data, dict):
        raise MergeError(f"{src}: expected a mapping with merge_method and models (or slices).")
    for key in data:
        if key in UNSUPPORTED:
            raise MergeError(f"{src}: {UNSUPPORTED[key]}.")
        if key not in TOP_KEYS:
            raise MergeError(f"{src}: unknown key '{key}'; the keys are: {', '.join(sorted(TOP_KEYS))}.")
    method = data.get("merge_method")
    if not isinstance(method, str):
        raise MergeError(f"{src}: merge_method is missing; name one of: {', '.join(METHODS)}.")
    if method not in METHODS:
        raise MergeError(f"{src}: unknown merge_method '{method}'; the methods are: {', '.join(METHODS)}.")
    get_method(method)
    tok = data.get("tokenizer_source")
    if tok not in (None, "base"):
        raise MergeError(f"{src}: tokenizer_source '{tok}' is not supported; Juxta copies the base model's tokenizer "
                         "(tokenizer_source: base, the default).")
    has_models, has_slices = bool(data.get("models")), bool(data.get("slices"))
    if has_models == has_slices:
        raise MergeError(f"{src}: give exactly one of 'models' or 'slices'.")
    plan = MergePlan(method=method, conventions=conventions or PRESETS["mergekit"], seed=seed,
                     base_model=_model_ref(data["base_model"], f"{src}: base_model") if data.get("base_model") else None,
                     parameters=_settings(data.get("parameters"), "parameters"),
                     dtype=_dtype(data.get("dtype"), src, "dtype"), out_dtype=_dtype(data.get("out_dtype"), src, "out_dtype"))
    if has_models:
        if not isinstance(data["models"], list):
            raise MergeError(f"{src}: models must be a list of {{model, parameters}} entries.")
        for i, m in enumerate(data["models"]):
            where = f"models[{i}]"
            if not isinstance(m, dict) or "model" not in m:
                raise MergeError(f"{src}: {where}: expected {{model: <path>, parameters: {{...}}}}, got {m!r}.")
            extra = sorted(set(m) - {"model", "parameters"})
            if extra:
                raise MergeError(f"{src}: {where}: unknown key '{extra[0]}'; a model entry has 'model' and 'parameters'.")
            plan.models.append(ModelInput(_model_ref(m["model"], f"{src}: {where}.model"),
                                          _settings(m.get("parameters"), f"{where}.parameters")))
    else:
        plan.slices = [_slice(s, j, src) for j, s in enumerate(data["slices"])]
    return plan


def _dtype(value: Any, src: str, key: str) -> str | None:
    if value is None:
        return None
    if value not in ("float32", "float16", "bfloat16", "fp32", "fp16", "bf16", "float64"):
        raise MergeError(f"{src}: {key} '{value}' is not a dtype Juxta writes; use float32, float16 or bfloat16.")
    return {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}.get(value, value)


def _slice(raw: Any, j: int, src: str) -> OutputSlice:
    where = f"slices[{j}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list) or not raw["sources"]:
        raise MergeError(f"{src}: {where}: expected {{sources: [{{model, layer_range: [start, end]}}]}}.")
    extra = sorted(set(raw) - {"sources", "base_model", "parameters"})
    if extra:
        raise MergeError(f"{src}: {where}: unknown key '{extra[0]}'; a slice has sources, base_model and parameters.")
    sources = []
    for i, s in enumerate(raw["sources"]):
        w = f"{where}.sources[{i}]"
        if not isinstance(s, dict) or "model" not in s or "layer_range" not in s:
            raise MergeError(f"{src}: {w}: expected {{model: <path>, layer_range: [start, end]}}.")
        bad = sorted(set(s) - {"model", "layer_range", "parameters"})
        if bad:
            raise MergeError(f"{src}: {w}: unknown key '{bad[0]}'; a source has model, layer_range and parameters.")
        lr = s["layer_range"]
        if not (isinstance(lr, list) and len(lr) == 2 and all(isinstance(v, int) and v >= 0 for v in lr) and lr[0] < lr[1]):
            raise MergeError(f"{src}: {w}.layer_range: expected [start, end) with 0 ≤ start < end, got {lr!r}.")
        sources.append(SliceSource(_model_ref(s["model"], f"{src}: {w}.model"), (lr[0], lr[1]),
                                   _settings(s.get("parameters"), f"{w}.parameters")))
    base = raw.get("base_model")
    return OutputSlice(sources, _model_ref(base, f"{src}: {where}.base_model") if base else None,
                       _settings(raw.get("parameters"), f"{where}.parameters"))


def read_mergekit_yaml(path: str | Path, *, conventions: Conventions | None = None, seed: int = 0) -> MergePlan:
    p = Path(path).expanduser()
    if not p.is_file():
        raise MergeError(f"Config file {p} not found.")
    return plan_from_yaml(p.read_text(encoding="utf-8"), path=p, conventions=conventions, seed=seed)


def plan_to_yaml(plan: MergePlan) -> str:
    """The mergekit YAML that reproduces ``plan``. When mergekit cannot (a method it lacks, non-mergekit
    conventions, seeded random drops), a comment at the top says what differs."""
    data: dict[str, Any] = {"merge_method": plan.method}
    if plan.base_model:
        data["base_model"] = plan.base_model
    if plan.slices:
        data["slices"] = [{**({"base_model": s.base_model} if s.base_model else {}),
                           "sources": [{"model": src.model, "layer_range": list(src.layer_range),
                                        **({"parameters": {k: to_plain(v) for k, v in src.parameters.items()}} if src.parameters else {})}
                                       for src in s.sources],
                           **({"parameters": {k: to_plain(v) for k, v in s.parameters.items()}} if s.parameters else {})}
                          for s in plan.slices]
    else:
        data["models"] = [{"model": m.model, **({"parameters": {k: to_plain(v) for k, v in m.parameters.items()}} if m.parameters else {})}
                          for m in plan.models]
    if plan.parameters:
        data["parameters"] = {k: to_plain(v) for k, v in plan.parameters.items()}
    if plan.dtype:
        data["dtype"] = plan.dtype
    if plan.out_dtype:
        data["out_dtype"] = plan.out_dtype
    warnings = []
    method = METHODS[plan.method]
    if not method.in_mergekit:
        warnings.append(f"mergekit has no '{plan.method}' method: this file documents the merge but mergekit cannot run it.")
    if plan.conventions.model_dump(exclude={"preset"}) != PRESETS["mergekit"].model_dump(exclude={"preset"}):
        warnings.append("Juxta used conventions mergekit does not have (" + "; ".join(
            f"{k}: {v}" for k, v in plan.conventions.describe()[1:-1]) + "); mergekit will give different numbers.")
    if method.random:
        warnings.append(f"{plan.method} drops entries at random: mergekit-yaml --random-seed {plan.seed} draws other "
                        "random numbers than Juxta's seed does, so the two agree in distribution, not entry by entry.")
    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    head = "".join(f"# {w}\n" for w in warnings)
    return head + body
