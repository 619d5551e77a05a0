"""A shift study in numbers and plain words, from its file alone (no data loaded), for views.

The counts follow ``engine.kinds.shift.plan.conditions`` rule for rule (the contract test holds them
equal to the plan's); a group shift without a list of groups adds one condition per group of the
data, unknown here, and makes the description ``approximate``.
"""

from __future__ import annotations

from engine.conditions.catalog import family_label
from engine.core.sources import parse_source
from engine.kinds.base import Description
from engine.kinds.shift.spec import ShiftStudy
from engine.metrics import METRICS


def _n(k: int, word: str) -> str:
    return f"{k:,} {word}{'' if k == 1 else 's'}"


def describe(study: ShiftStudy) -> Description:
    s = study.shift
    n_sev = len(s.severities)
    parts: list[str] = []
    n = 0
    if s.clean:
        n += 1
        parts.append("clean data")
    for names, word in ((s.corruptions, "corruption"), (s.tabular, "table shift"), (s.text, "text shift")):
        if names:
            n += len(names) * n_sev
            parts.append(f"{_n(len(names), word)} × {n_sev} severit{'ies' if n_sev != 1 else 'y'}")
    ls = s.label_shift
    k = len(ls.dirichlet_alpha) + len(ls.tweak_one) + len(ls.imbalance_ratio) if ls else 0
    if k:
        n += k
        parts.append(_n(k, "label shift"))
    approximate = False
    gs = s.group_shift
    if gs is not None:
        if gs.groups:
            n += len(gs.groups) * len(gs.shares)
            parts.append(_n(len(gs.groups) * len(gs.shares), "group shift"))
        else:
            approximate = True
            parts.append(f"{_n(len(gs.shares), 'group share')} per group")
    if s.field:
        n += len(s.field)
        parts.append(_n(len(s.field), "field dataset"))
    models, seeds = len(study.models), len(study.study.seeds)
    n_eval = models * n * seeds
    n_train = sum(1 for m in study.models if parse_source(m.source).scheme == "builtin") * seeds
    sentence = f"{_n(models, 'model')} × {_n(n, 'condition')} × {_n(seeds, 'seed')} = {_n(n_eval, 'evaluation cell')}"
    if approximate:
        sentence += " (plus group shifts, one per group)"
    if n_train:
        sentence += f", plus {_n(n_train, 'training run')}"
    counts = {"models": models, "conditions": n, "seeds": seeds, "cells": n_eval + n_train, "eval": n_eval, "train": n_train}
    return Description(counts, sentence, _rows(study, n, parts, sentence), approximate)


def _rows(study: ShiftStudy, n_conditions: int, parts: list[str], sentence: str) -> list[tuple[str, str]]:
    s, d, m, x = study.shift, study.data, study.metrics, study.execution
    data = f"{d.source} ({d.split} part" + (f", at most {d.max_examples:,} examples" if d.max_examples else "") + ")"
    rows = [
        ("Models", "; ".join(f"{model.id} — {model.source}" for model in study.models)),
        ("Test data", data),
        ("Clean data", "included (the reference)" if s.clean else "not included"),
    ]
    severities = ", ".join(str(v) for v in s.severities)
    for names, label in ((s.corruptions, "Corruptions"), (s.tabular, "Table shifts"), (s.text, "Text shifts")):
        if names:
            rows.append((label, f"{', '.join(family_label(name) for name in names)} at severities {severities}"))
    if s.label_shift:
        ls = s.label_shift
        words = [f"{word} {', '.join(f'{v:g}' for v in values)}" for values, word in (
            (ls.dirichlet_alpha, "Dirichlet α"), (ls.tweak_one, "one class at ρ"), (ls.imbalance_ratio, "long tail, ratio"))
            if values]
        if words:
            rows.append(("Label shift", "; ".join(words)))
    if s.group_shift:
        rows.append(("Group shift", "shares " + ", ".join(f"{v:g}" for v in s.group_shift.shares)))
    rows += [("Field data", f"{f.id} — {f.source}") for f in s.field]
    interval = (f"{m.level:.0%} intervals from {m.bootstrap:,} bootstrap resamples" if m.bootstrap else "no intervals")
    run_on = {"loky": "this computer (parallel processes)", "sequential": "this computer (one at a time)",
              "dask": "a Dask cluster"}[x.backend] + (f", {x.workers} workers" if x.workers else "")
    rows += [
        ("Conditions", f"{n_conditions} — {', '.join(parts)}" if parts else "none"),
        ("Seeds", ", ".join(str(seed) for seed in study.study.seeds)),
        ("Metrics", f"{', '.join(METRICS[name].label for name in m.names)} ({interval})"),
        ("Planned work", sentence),
        ("Runs on", run_on),
    ]
    return rows
