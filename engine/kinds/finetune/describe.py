"""A fine-tuning study in numbers and plain words, from its file alone (no data or model loaded), for views.

The counts follow ``plan.plan_study`` rule for rule (the contract test holds them equal to the plan's).
The learning rates a sweep tries are counted around each method's default for built-in models; a base
that is a pretrained checkpoint shifts the centre, not the count.
"""

from __future__ import annotations

from engine.conditions.catalog import condition_label
from engine.core.sources import parse_source
from engine.kinds.base import Description
from engine.kinds.finetune.arms import lr_candidates, study_arms
from engine.kinds.finetune.spec import FinetuneStudy
from engine.metrics import METRICS


def _n(k: int, word: str, plural: str | None = None) -> str:
    return f"{k:,} {word if k == 1 else (plural or word + 's')}"


def describe(study: FinetuneStudy) -> Description:
    arms = study_arms(study)
    trained = [a for a in arms if a.trained]
    wise_points = sum(len(a.alphas) for a in arms if not a.trained)
    seeds = len(study.study.seeds)
    t = study.training
    runs = sum(len(lr_candidates(a, a.method.default_lr, t.lr_factors, t.lr_sweep)) for a in trained)
    n_sets = 1 + len(study.shifted.conditions) + (1 if study.source is not None else 0)
    builtin = parse_source(study.base.source, kind="model").scheme == "builtin"
    n_train = seeds if builtin else 0
    n_tune = runs * seeds
    n_select = (len(trained) + (1 if builtin else 0)) * seeds
    n_eval = seeds * ((1 + len(trained) + wise_points) * n_sets + wise_points)
    sentence = (f"{_n(len(trained), 'method')} × {_n(runs // max(len(trained), 1), 'learning rate')} × {_n(seeds, 'seed')} = "
                f"{_n(n_tune, 'tuning run')}" if runs % max(len(trained), 1) == 0 else f"{_n(n_tune, 'tuning run')}")
    sentence += f", then {_n(n_eval, 'evaluation cell')} on {_n(n_sets, 'set')}"
    if n_train:
        sentence += f", after {_n(n_train, 'base training run')}"
    counts = {"methods": len(arms), "sets": n_sets, "seeds": seeds, "cells": n_train + n_tune + n_select + n_eval,
              "train": n_train, "ft.tune": n_tune, "ft.select": n_select, "ft.eval": n_eval}
    return Description(counts, sentence, _rows(study, arms, sentence))


def _rows(study: FinetuneStudy, arms, sentence: str) -> list[tuple[str, str]]:
    t, m, x = study.training, study.metrics, study.execution
    target = study.target.source + (f", moved to {condition_label(study.target.domain)}" if study.target.domain else "")
    rows = [
        ("Base model", study.base.source),
        ("Target", f"{target} (train {_share(study.target.splits.train)}, validation "
                   f"{_share(study.target.splits.validation)}, test {_share(study.target.splits.test)})"),
        ("Out of distribution", ", ".join(condition_label(c) for c in study.shifted.conditions) or "none"),
        ("Forgetting measured on", f"{study.source.source} ({study.source.split} split)" if study.source else "not measured"),
        ("Methods", "; ".join(a.label for a in arms)),
        ("Learning rates", (f"each method's default × {', '.join(f'{f:g}' for f in t.lr_factors)}, the best chosen on "
                            "validation accuracy (never test)") if t.lr_sweep else "each method's default (no sweep)"),
        ("Training", f"{_n(t.epochs, 'epoch')}, batches of {t.batch_size}, {t.schedule} schedule"),
        ("Seeds", ", ".join(str(s) for s in study.study.seeds)),
        ("Metrics", ", ".join(METRICS[name].label for name in m.names)
         + (f" ({m.level:.0%} intervals from {m.bootstrap:,} bootstrap resamples)" if m.bootstrap else " (no intervals)")),
        ("Planned work", sentence),
        ("Runs on", {"loky": "this computer (parallel processes)", "sequential": "this computer (one at a time)",
                     "dask": "a Dask cluster"}[x.backend] + (f", {x.workers} workers" if x.workers else "")),
    ]
    return rows


def _share(v: float) -> str:
    return f"{100 * v:g}%"
