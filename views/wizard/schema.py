"""What the study schema allows, which page an engine problem concerns, and a study's counts."""

from __future__ import annotations

import re
from typing import Any, get_args

from engine.shift.catalog import SEVERITIES


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


_SECTION_RE = re.compile(r"(?<![\w.])\[*(study|models|data|shift|metrics|execution)(\.seeds)?(?=[.\[\]':])")


def problem_section(problem: str) -> str:
    """Which wizard page an engine problem concerns: name, models, data, conditions, seeds or review."""
    text = re.sub(r"^line \d+:\s*", "", problem)
    if text.startswith("model id ") or "[[models]]" in text:
        return "models"
    m = _SECTION_RE.search(text)
    if not m:
        return "review"
    key = m.group(1)
    if key == "study":
        return "seeds" if m.group(2) else "name"
    return {"models": "models", "data": "data", "shift": "conditions", "metrics": "seeds", "execution": "seeds"}[key]


_FRIENDLY = (
    (re.compile(r"^'study\.name' is ('.*'); use (.*)$"), r"The name \1 cannot be used as a file name: use \2"),
    (re.compile(r"^'models' (is required but missing|needs at least 1 entry)\.?$"),
     "Add at least one model: tick a built-in model or add your own."),
    (re.compile(r"^'data\.source' is required but missing\.?$"), "Choose the data to test on."),
)


def _inline(problem: str) -> str:
    """An engine problem as shown on a wizard page: no line number, plainer words where we can."""
    text = re.sub(r"^line \d+:\s*", "", problem)
    for rx, replacement in _FRIENDLY:
        if rx.match(text):
            return rx.sub(replacement, text)
    return text


def study_counts(raw: dict[str, Any]) -> dict[str, Any]:
    """Models, conditions, seeds and planned cells of a parsed study file (a plain dict).

    Mirrors ``engine.plan.conditions`` without loading data: a group shift without an explicit
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
