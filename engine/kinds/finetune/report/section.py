"""A fine-tuning study's section of a report, built from the results database (no Qt, no torch)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from engine.core import queries as Q
from engine.core.errors import StudyFileError
from engine.core.header import parse_study_text
from engine.kinds.finetune.methods import METHODS
from engine.kinds.finetune.plan import EVAL
from engine.kinds.finetune.report.findings import finetune_findings
from engine.kinds.finetune.report.tables import charts, set_title, tables
from engine.kinds.finetune.results import FinetuneResults, Predictions, load_finetune_results
from engine.kinds.finetune.spec import BASE_ARM, FinetuneStudy
from engine.report.paired import PairedPredictions
from engine.report.schema import Arm, StudySection
from engine.report.words import data_phrase, join, source_words
from engine.stats import PairedComparison

GLOSSARY = [
    ("In distribution / out of distribution", "In distribution: the target's own test examples, like those the model was "
     "tuned on. Out of distribution: the same test examples under shifts the tuning never saw (noise, blur, …)."),
    ("Forgetting", "How much accuracy on the task the base model already did (the source) is lost by tuning it for the "
     "target: the base's source accuracy minus the tuned model's, in percentage points."),
    ("Negative flip", "An example the base model got right and the tuned model gets wrong; the negative flip rate is their "
     "share of all predictions (Yan et al., 2021). Positive flips are the reverse."),
    ("Trainable parameters", "The parameters a method changes, as a share of the base model's parameters (the figure "
     "papers report; PEFT's own printout divides by the base plus the adapters, a larger number)."),
    ("Pareto front", "The methods no other method beats on both counts: at least as accurate with at most as many "
     "trainable parameters."),
    ("Learning-rate sweep", "Each method is tuned at a few learning rates and the one with the best validation accuracy "
     "(mean over seeds) is kept; test data never takes part in the choice."),
]


def finetune_section(store, name: str, record: Any) -> StudySection | None:
    """The section of study ``name`` (``record``: its row of the ``studies`` table), or None while no
    tuned model has been scored."""
    try:
        study = parse_study_text(str(record.spec_toml or ""), str(record.path or name), {FinetuneStudy.KIND: FinetuneStudy})
    except StudyFileError:  # written by an older schema: report what the database has
        study = None
    n_resamples = int(study.metrics.bootstrap) if study else 1000
    level = float(study.metrics.level) if study else 0.95
    r = load_finetune_results(store, name, n_resamples=n_resamples, level=level)
    if r.table.empty or not np.isfinite(r.table[r.table.kind != "base"].id_acc).any():
        return None
    paired = PairedPredictions(store, name, EVAL)
    cache: dict[tuple[str, str, str], PairedComparison] = {}

    def compare(a: str, b: str, condition: str) -> PairedComparison:
        key = (a, b, condition)
        if key not in cache:
            cache[key] = paired.compare(a, b, condition, n_resamples=n_resamples, level=level)
        return cache[key]

    preds = Predictions(store, name)

    def pairs(arm: str, ref: str, condition: str):
        """(arm's correctness, the reference's, the base's, the examples) on the pairs all three have."""
        a, b = preds.paired(arm, ref, condition), preds.paired(arm, BASE_ARM, condition)
        if a is None or b is None or not np.array_equal(a[0], b[0]) or not np.array_equal(a[2], b[2]):
            return None
        return a[0], a[1], b[1], a[2]

    seeds = list(study.study.seeds) if study else sorted(int(s) for s in r.cells.seed.unique())
    title = (study.study.title if study else str(record.title or "")) or name
    description = (study.study.description if study else "") or ""
    section = StudySection(
        name=name, title=title, kind=FinetuneStudy.KIND, question=title if title.endswith("?") else "",
        description=" ".join(description.split()), description_in_words=in_words(study, r, seeds),
        compared=_compared(study, r), data_words=_data_words(study), conditions_summary=_sets_words(r),
        seeds=seeds, metrics=list(study.metrics.names) if study else ["accuracy"], level=level, n_resamples=n_resamples,
        n_examples=_n_examples(r), tables=tables(r, seeds), charts=charts(r),
        findings=finetune_findings(name, r, compare, pairs), results=r, metric_frame=metric_frame(r),
        glossary=_glossary(r), models=_models(store, name), data=_data(store, name),
    )
    return section


def in_words(study: FinetuneStudy | None, r: FinetuneResults, seeds: list[int]) -> str:
    tuned = [a.label for a in r.arms if a.kind != "base"]
    text = f"This study adapts a base model to a new target with {len(tuned)} method{'s' if len(tuned) != 1 else ''} " \
           f"({join(tuned)})"
    if study is not None:
        target = data_phrase(study.target.source)
        if study.target.domain:
            from engine.conditions.catalog import condition_label

            target += f" under {condition_label(study.target.domain)}"
        text += f": the base model {study.base.source}, tuned on {target}"
    n_lrs = int(r.lrs.groupby("arm").size().max()) if not r.lrs.empty else 1
    text += (f", each at its best of {n_lrs} learning rates on validation" if n_lrs > 1 else ", each at one learning rate")
    text += f", with {len(seeds)} seed{'s' if len(seeds) != 1 else ''}."
    sets = _sets_words(r)
    if sets:
        text += f" Every tuned model is scored on {join(sets)}."
    return text


def _sets_words(r: FinetuneResults) -> list[str]:
    out = []
    for c in dict.fromkeys(r.sets.condition):
        if c == "target":
            out.append("the target test set (in distribution)")
        elif c.startswith("ood:"):
            out.append(f"the target test set under {set_title(c)} (out of distribution)")
        elif c == "source":
            out.append("the source test set (forgetting)")
    return out


def _data_words(study: FinetuneStudy | None) -> str:
    if study is None:
        return ""
    parts = [f"Target: {source_words(study.target.source, 'data').rstrip('.')}."]
    if study.source is not None:
        parts.append(f"Source (the task the base already does): {source_words(study.source.source, 'data').rstrip('.')}.")
    return " ".join(parts)


def _compared(study: FinetuneStudy | None, r: FinetuneResults) -> list[Arm]:
    out = []
    for row in r.table.itertuples():
        if row.kind == "base":
            src = study.base.source if study else ""
            n = int(row.base_params) if np.isfinite(row.base_params) else None
            out.append(Arm(BASE_ARM, src, source_words(src, "model") if src else "", n))
            continue
        method = METHODS.get(row.method)
        trainable = int(row.trainable) if np.isfinite(row.trainable) else None
        out.append(Arm(row.arm, row.label, method.description if method else "", trainable))
    return out


def _n_examples(r: FinetuneResults) -> int | None:
    hit = r.sets[(r.sets.arm == BASE_ARM) & (r.sets.condition == "target")]
    if hit.empty:
        return None
    return int(hit.n.iloc[0] // max(int(hit.n_seeds.iloc[0]), 1))


def metric_frame(r: FinetuneResults) -> pd.DataFrame:
    """results.csv rows: arm, condition, set, alpha, metric, value, ci_low, ci_high, n_seeds, n (accuracy pooled
    over seeds; other metrics the mean over seeds of each cell's value and interval)."""
    acc = r.sets.assign(metric="accuracy")
    other = r.cells[r.cells.metric != "accuracy"]
    rest = other.groupby(["arm", "condition", "metric"], sort=False).agg(
        value=("value", "mean"), ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean"), n_seeds=("seed", "nunique"),
        n=("n", "sum")).reset_index()
    frame = pd.concat([acc, rest], ignore_index=True)
    frame["set"] = [("ood" if c.startswith("ood:") else c) for c in frame.condition]
    return frame[["arm", "condition", "set", "metric", "value", "ci_low", "ci_high", "n_seeds", "n"]]


def _glossary(r: FinetuneResults) -> list[tuple[str, str]]:
    used = list(dict.fromkeys(a.method for a in r.arms if a.kind != "base"))
    return [(METHODS[m].title, METHODS[m].description) for m in used if m in METHODS] + GLOSSARY


def _models(store, study: str) -> list[dict[str, Any]]:
    """Appendix rows: the base per seed (its source and identity) and each arm's chosen model (its artifact)."""
    cells = Q.finished_cells(store, [study])
    out = []
    for r in cells[cells.type == EVAL].itertuples():
        try:
            spec = json.loads(r.params) if isinstance(r.params, str) else {}
        except ValueError:
            continue
        if r.arm != BASE_ARM or spec.get("set") != "target":
            continue
        base = (spec.get("model") or {}).get("base") or {}
        out.append({"study": r.study, "arm": r.arm, "seed": int(r.seed), "source": base.get("source", ""),
                    "identity": base.get("identity", "")})
    for r in cells[cells.type == "ft.select"].itertuples():
        if r.arm != BASE_ARM:
            out.append({"study": r.study, "arm": r.arm, "seed": int(r.seed), "source": f"artifact:{study}/{r.arm}",
                        "identity": f"ft.select:{json.loads(r.params).get('arm', r.arm)}"})
    return out


def _data(store, study: str) -> list[dict[str, Any]]:
    cells = Q.finished_cells(store, [study])
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in cells[cells.type == EVAL].itertuples():
        try:
            d = (json.loads(r.params) if isinstance(r.params, str) else {}).get("data") or {}
        except ValueError:
            continue
        key = (str(d.get("source", "")), str(d.get("fingerprint", "")))
        if d and key not in out:
            out[key] = {"study": r.study, "source": d.get("source", ""), "split": d.get("split", ""),
                        "split_seed": d.get("split_seed"), "fingerprint": d.get("fingerprint") or "",
                        "max_examples": d.get("max_examples")}
    return list(out.values())
