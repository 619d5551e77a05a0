"""A merge study in numbers and plain words, from its file alone (no data or model loaded), for views.

The counts follow ``engine.kinds.merge.study.plan`` rule for rule (the contract test holds them equal).
"""

from __future__ import annotations

from engine.core.messages import number
from engine.core.sources import parse_source
from engine.kinds.base import Description
from engine.kinds.merge.catalog import METHOD_KINDS, RANDOM_METHODS
from engine.kinds.merge.study.spec import MergeStudy, MethodEntry
from engine.metrics import METRICS


def _n(k: int, word: str, plural: str | None = None) -> str:
    return f"{k:,} {word if k == 1 else (plural or word + 's')}"


def entry_size(entry: MethodEntry, seeds: int) -> int:
    """Configurations of one method entry: its grid's size, times the seeds for random methods."""
    return len(entry.grid()) * (seeds if entry.method in RANDOM_METHODS else 1)


def grid_words(entry: MethodEntry) -> str:
    """'density 0.1, 0.2, 0.5 × lambda 0.3, 0.5, 1' (fixed values after a semicolon)."""
    parts, fixed = [], []
    for k, v in entry.parameters.items():
        values = v if isinstance(v, list) else [v]
        text = ", ".join(number(x) if isinstance(x, (int, float)) else str(x) for x in values)
        (parts if len(values) > 1 else fixed).append(f"{k} {text}")
    words = " × ".join(parts)
    if fixed:
        words += ("; " if words else "") + ", ".join(fixed)
    return words or "defaults"


def describe(study: MergeStudy) -> Description:
    n_seeds = len(study.study.seeds)
    experts, tasks = len(study.experts), len(study.experts)
    configs = sum(entry_size(e, n_seeds) for e in study.merge.methods)
    fits = sum(entry_size(e, n_seeds) for e in study.merge.methods if METHOD_KINDS[e.method] == "model")
    tuned = sum(1 for e in study.experts if e.tune is not None)
    n_train = 1 if parse_source(study.base.source).scheme == "builtin" else 0
    n_eval = tasks * (1 + experts + configs)
    cells = n_eval + fits + tuned + n_train + 1
    sentence = (f"(1 base + {_n(experts, 'expert')} + {_n(configs, 'merged configuration')}) × {_n(tasks, 'task')} "
                f"= {_n(n_eval, 'evaluation cell')}")
    extras = [w for k, w in ((n_train, _n(n_train, "training run")), (tuned, _n(tuned, "expert fine-tuning")),
                             (fits, _n(fits, "fit")), (1, "1 diagnostics cell")) if k]
    sentence += ", plus " + ", ".join(extras)
    counts = {"experts": experts, "tasks": tasks, "configurations": configs, "methods": len(study.merge.methods),
              "seeds": n_seeds, "cells": cells, "train": n_train, "merge.expert": tuned, "merge.fit": fits,
              "merge.eval": n_eval, "merge.diagnose": 1}
    return Description(counts, sentence, _rows(study, sentence))


def _rows(study: MergeStudy, sentence: str) -> list[tuple[str, str]]:
    m, x = study.metrics, study.execution
    rows = [("Base", study.base.source)]
    for e in study.experts:
        origin = e.source if e.source else f"fine-tuned here ({_n(e.tune.epochs, 'epoch')})"
        data = study.task_data(e)
        task = f"{data.source}" + ("" if e.condition == "clean" else f" under {e.condition}")
        rows.append((f"Expert {e.id}", f"{origin}; task: {task}"))
    for entry in study.merge.methods:
        label = entry.name if entry.name == entry.method else f"{entry.name} ({entry.method})"
        note = " — transductive (fits on the test inputs)" if entry.method == "adamerging" and (entry.fit_on or "test") == "test" else ""
        if entry.conventions and entry.conventions != study.merge.conventions:
            note = f"; {entry.conventions} conventions" + note
        rows.append((f"Method {label}", grid_words(entry) + note))
    tuning = ("on the validation split" if study.merge.tuning == "validation"
              else "on the test split (declared test-set tuning: optimistic)")
    interval = f"{m.level:.0%} intervals from {m.bootstrap:,} bootstrap resamples" if m.bootstrap else "no intervals"
    run_on = {"loky": "this computer (parallel processes)", "sequential": "this computer (one at a time)",
              "dask": "a Dask cluster"}[x.backend] + (f", {x.workers} workers" if x.workers else "")
    rows += [
        ("Conventions", study.merge.conventions),
        ("Coefficients chosen", tuning),
        *_batch_norm_row(study),
        ("Heads", "each task keeps its own expert's head (heads are not merged)"
         + (f"; heads: {', '.join(study.merge.heads)}" if study.merge.heads else "")),
        ("Seeds", ", ".join(str(s) for s in study.study.seeds)),
        ("Metrics", f"{', '.join(METRICS[n].label for n in m.names)} ({interval})"),
        ("Planned work", sentence),
        ("Runs on", run_on),
    ]
    return rows


def _batch_norm_row(study: MergeStudy) -> list[tuple[str, str]]:
    """Said only when some entry re-estimates batch-norm statistics (most models have none)."""
    from engine.kinds.merge.study.batchnorm import EXAMPLES

    entries = [e for e in study.merge.methods if (e.batch_norm or study.merge.batch_norm) == "recompute"]
    if not entries:
        return []
    words = f"re-estimated on each merged model from {EXAMPLES} unlabeled train inputs per task (never test inputs)"
    others = [e.name for e in study.merge.methods if e not in entries]
    if others and len(others) <= len(entries):
        words += f", except {', '.join(others)} (merged like the weights)"
    elif others:
        words += f" for {', '.join(e.name for e in entries)}; merged like the weights for the others"
    return [("Batch-norm statistics", words)]
