"""What the study schema allows (choices, bounds, defaults) and a study's counts."""

from __future__ import annotations

from typing import Any, get_args

from engine.conditions.catalog import SEVERITIES


def _schema_choices(model: Any, name: str) -> tuple[str, ...]:
    return tuple(get_args(model.model_fields[name].annotation))


def _schema_bound(model: Any, name: str, which: str) -> float | None:
    for meta in model.model_fields[name].metadata:
        value = getattr(meta, which, None)
        if value is not None:
            return value
    return None


def _schema_default(model: Any, name: str) -> Any:
    return model.model_fields[name].get_default(call_default_factory=True)


def study_counts(raw: dict[str, Any]) -> dict[str, Any]:
    """Models, conditions, seeds and planned cells of a parsed study file (a plain dict).

    Mirrors ``engine.kinds.shift.plan.conditions`` without loading data: a group shift without an explicit
    group list adds one condition per group of the data, which is unknown here (``groups_unknown``).
    """
    study = raw.get("study") or {}
    models = raw.get("models") or []
    shift = raw.get("shift") or {}
    seeds = study.get("seeds") or [0]
    severities = sorted(set(shift.get("severities") or SEVERITIES))
    parts: list[str] = []
    n = 0
    if shift.get("clean", True):
        n += 1
        parts.append("clean data")
    for key, word in (("corruptions", "corruption"), ("tabular", "table shift"), ("text", "text shift")):
        names = shift.get(key) or []
        if names:
            n += len(names) * len(severities)
            parts.append(f"{len(names)} {word}{'s' if len(names) != 1 else ''} × {len(severities)} "
                         f"severit{'ies' if len(severities) != 1 else 'y'}")
    ls = shift.get("label_shift") or {}
    k = sum(len(ls.get(key) or []) for key in ("dirichlet_alpha", "tweak_one", "imbalance_ratio"))
    if k:
        n += k
        parts.append(f"{k} label shift{'s' if k != 1 else ''}")
    groups_unknown = False
    gs = shift.get("group_shift")
    if gs:
        shares = gs.get("shares") or []
        if gs.get("groups"):
            n += len(gs["groups"]) * len(shares)
            parts.append(f"{len(gs['groups']) * len(shares)} group shifts")
        else:
            groups_unknown = True
            parts.append(f"{len(shares)} group share{'s' if len(shares) != 1 else ''} per group")
    fields = shift.get("field") or []
    if fields:
        n += len(fields)
        parts.append(f"{len(fields)} field dataset{'s' if len(fields) != 1 else ''}")
    n_builtin = sum(1 for m in models if str(m.get("source", "")).startswith("builtin:"))
    return {
        "models": len(models),
        "conditions": n,
        "seeds": len(seeds),
        "eval_cells": len(models) * n * len(seeds),
        "train_cells": n_builtin * len(seeds),
        "parts": parts,
        "groups_unknown": groups_unknown,
    }
