"""A merge study's section of a report, built from the results database (no Qt, no torch)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from engine.core import queries as Q
from engine.kinds.merge.catalog import METHOD_DESCRIPTIONS, METHOD_TITLES
from engine.kinds.merge.study.plan import EVAL
from engine.kinds.merge.study.report.findings import merge_findings
from engine.kinds.merge.study.report.tables import merge_charts, merge_tables
from engine.kinds.merge.study.results import MergeResults, load_merge_results, study_spec
from engine.report.schema import Arm, StudySection
from engine.report.words import join, source_words

TERMS = [
    ("Task vector", "An expert's weights minus the base model's: what fine-tuning on its task changed."),
    ("Normalized accuracy", "A merged model's accuracy on a task divided by that task's expert's accuracy: the share of "
     "the expert's accuracy the merge keeps (100% = as good as the expert). Averaged over tasks."),
    ("Selection split", "The split the coefficients (λ, density, …) of each method are chosen on: the validation "
     "split, so the test numbers are not tuned on; a study may declare test-set tuning, which is then said everywhere."),
    ("Transductive", "A method that learns from the unlabeled inputs it is then tested on (AdaMerging on test inputs)."),
    ("Task head", "The final classification layer; heads are not merged: each task is scored with its own expert's head."),
]


def merge_section(store, name: str, record: Any) -> StudySection | None:
    study = study_spec(store, name)
    results = load_merge_results(store, name)
    if results.empty:
        return None
    compared = _arms(study, results)
    metric_names = list(study.metrics.names) if study else ["accuracy"]
    tuning = ("coefficients chosen on the validation split" if results.tuning == "validation"
              else "coefficients chosen on the test split (declared test-set tuning)")
    methods = sorted({str(m) for m in results.rows[results.rows.role == "merged"].method})
    title = (study.study.title if study else str(record.title or "")) or name
    n_examples = int(results.accuracy.n.max()) if "n" in results.accuracy and len(results.accuracy) else None
    words = (f"{len(results.tasks)} experts fine-tuned from one base are merged with "
             f"{join([METHOD_TITLES.get(m, m) for m in methods])} ({results.conventions} conventions, {tuning}); every "
             "merged model, the base and each expert is scored on each expert's task, each task with its own expert's head."
             + (" Batch-norm statistics are re-estimated on each merged model from unlabeled train inputs of every task."
                if study and any((e.batch_norm or study.merge.batch_norm) == "recompute" for e in study.merge.methods) else ""))
    models, data = _inputs(store, name)
    section = StudySection(
        name=name, title=title, kind="merge", question=title if title.endswith("?") else "",
        description=" ".join((study.study.description if study else "").split()), description_in_words=words,
        compared=compared, data_words=study.data.source if study else "",
        conditions_summary=[results.task_labels[t] for t in results.tasks],
        seeds=list(study.study.seeds) if study else [0], metrics=metric_names, level=results.level,
        n_resamples=results.n_resamples, n_examples=n_examples, tables=merge_tables(results),
        charts=merge_charts(results), findings=merge_findings(name, results), results=results,
        metric_frame=_metric_frame(results), glossary=TERMS + [(METHOD_TITLES[m], METHOD_DESCRIPTIONS[m].capitalize())
                                                              for m in methods if m in METHOD_TITLES],
        models=models, data=data)
    return section


def _arms(study, results: MergeResults) -> list[Arm]:
    out = []
    if study is not None:
        out.append(Arm("base", study.base.source, source_words(study.base.source, "model", study.data.source)))
        for e in study.experts:
            src = e.source or "fine-tuned from the base in this study"
            out.append(Arm(e.id, src, source_words(e.source, "model", study.data.source) if e.source else src))
    for r in results.rows[results.rows.role == "merged"].itertuples():
        if r.chosen:
            out.append(Arm(r.arm, "", str(r.label)))
    return out


def _metric_frame(results: MergeResults) -> pd.DataFrame:
    acc = results.accuracy
    if acc.empty:
        return pd.DataFrame()
    frames = [acc.assign(condition=acc.task, metric="accuracy")[["arm", "condition", "metric", "value", "ci_low", "ci_high"]]]
    norm = acc[acc.normalized.notna()]
    if not norm.empty:
        frames.append(norm.assign(condition=norm.task, metric="normalized_accuracy", value=norm.normalized,
                                  ci_low=norm.norm_low, ci_high=norm.norm_high)[
            ["arm", "condition", "metric", "value", "ci_low", "ci_high"]])
    return pd.concat(frames, ignore_index=True)


def _inputs(store, study: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Appendix rows: the models (base and experts) and the tasks' data, from the evaluation cells' specs."""
    models: dict[tuple[str, str, int], dict[str, Any]] = {}
    data: dict[tuple[str, str, str], dict[str, Any]] = {}
    cells = Q.finished_cells(store, [study])
    for r in cells[cells.type == EVAL].itertuples():
        try:
            p = json.loads(r.params) if isinstance(r.params, str) else {}
        except ValueError:
            continue
        m = p.get("model")
        if m:
            models.setdefault((r.study, r.arm, int(r.seed)), {"study": r.study, "arm": r.arm, "seed": int(r.seed),
                                                              "source": m.get("source", ""), "identity": m.get("identity", "")})
        d = (p.get("task") or {}).get("data") or {}
        key = (r.study, str(d.get("source", "")), str(d.get("fingerprint", "")))
        if d and key not in data:
            data[key] = {"study": r.study, "source": d.get("source", ""), "split": d.get("split", ""),
                         "split_seed": d.get("split_seed"), "fingerprint": d.get("fingerprint") or "",
                         "max_examples": d.get("max_examples")}
    return list(models.values()), list(data.values())
