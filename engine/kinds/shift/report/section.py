"""A shift study's section of a report, built from the results database (no Qt, no torch)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from engine.core import queries as Q
from engine.core.errors import StudyFileError
from engine.core.header import parse_study_text
from engine.kinds.shift import results as R
from engine.kinds.shift.report.findings import ConditionInfo, shift_findings
from engine.kinds.shift.report.tables import charts, tables
from engine.kinds.shift.report.words import conditions_summary, data_words, glossary_terms, in_words
from engine.kinds.shift.spec import AXES, ShiftStudy
from engine.report.paired import PairedPredictions
from engine.report.schema import Arm, StudySection
from engine.report.words import source_words
from engine.stats import PairedComparison


def shift_section(store, name: str, record: Any) -> StudySection | None:
    """The section of study ``name`` (``record``: its row of the ``studies`` table, with the study file
    as it was run), or None while it has no finished evaluation cell."""
    spec_text = str(record.spec_toml or "")
    try:
        study = parse_study_text(spec_text, str(record.path or name), {ShiftStudy.KIND: ShiftStudy})
    except StudyFileError:  # written by an older schema: report what the database has
        study = None
    n_resamples = int(study.metrics.bootstrap) if study else 1000
    level = float(study.metrics.level) if study else 0.95
    results = R.load_shift_results(store, name, n_resamples=n_resamples)
    if results.accuracy.empty:
        return None
    infos = condition_infos(store, name)
    metric_names = list(study.metrics.names) if study else sorted(set(results.cells.metric))
    metric_frame = _metric_frame(store, name, results, metric_names, n_resamples, level)

    paired = PairedPredictions(store, name, "eval")
    cache: dict[tuple[str, str, str], PairedComparison] = {}

    def compare(a: str, b: str, condition: str) -> PairedComparison:
        key = (a, b, condition)
        if key not in cache:
            cache[key] = paired.compare(a, b, condition, n_resamples=n_resamples, level=level)
        return cache[key]

    acc = results.accuracy
    findings = shift_findings(name, acc, results.drop, results.robustness, infos, compare, n_resamples, level)
    compared = _arms(store, name, study, results)
    seeds = list(study.study.seeds) if study else sorted(int(s) for s in results.cells.seed.unique())
    n_examples = _n_examples(acc)
    title = (study.study.title if study else str(record.title or "")) or name
    description = (study.study.description if study else "") or ""
    models, data = _inputs(store, name)
    section = StudySection(
        name=name, title=title, kind=ShiftStudy.KIND,
        question=title if title.endswith("?") else "",
        description=" ".join(description.split()),
        description_in_words=in_words(study, results, compared, infos, seeds, n_examples, n_resamples, level),
        compared=compared, data_words=data_words(study), conditions_summary=conditions_summary(results, infos),
        seeds=seeds, metrics=metric_names, level=level, n_resamples=n_resamples, n_examples=n_examples,
        tables=[], charts=[], findings=findings, results=results, metric_frame=metric_frame,
        glossary=glossary_terms(results), models=models, data=data,
    )
    section.tables = tables(section, results, infos, compare, metric_frame)
    section.charts = charts(results, infos)
    return section


def condition_infos(store, study: str) -> dict[str, ConditionInfo]:
    """condition id -> what it means (kind, family, severity, parameters), from the cells' specs."""
    rows = Q.conditions(store, study, "eval", AXES, "$.condition")
    out = {}
    for r in rows.itertuples():
        try:
            params = json.loads(r.params) if isinstance(r.params, str) else {}
        except ValueError:
            params = {}
        params = params if isinstance(params, dict) else {}
        sev = None if r.severity is None or pd.isna(r.severity) else int(r.severity)
        kind = params.get("kind") or ("clean" if r.condition == "clean" else ("corruption" if sev is not None else "other"))
        extra = {k: v for k, v in params.items() if k not in ("id", "kind", "family", "severity")}
        out[r.condition] = ConditionInfo(r.condition, str(r.family), str(kind), sev, extra)
    return out


def _metric_frame(store, study: str, results, names: list[str], n_resamples: int, level: float) -> pd.DataFrame:
    frames = []
    for m in names:
        t = results.accuracy if m == "accuracy" else R.metric_table(store, study, m, n_resamples=n_resamples, level=level)
        if not t.empty:
            frames.append(t.assign(metric=m))
    if not frames:
        return pd.DataFrame()
    f = pd.concat(frames, ignore_index=True)
    return f[["arm", "condition", "family", "severity", "metric", "value", "ci_low", "ci_high", "seed_sd", "n_seeds", "n"]]


def _n_examples(acc: pd.DataFrame) -> int | None:
    clean = acc[acc.condition == "clean"]
    if clean.empty:
        return None
    r = clean.iloc[0]
    return int(r.n // max(int(r.n_seeds), 1))


def _arms(store, study: str, spec, results) -> list[Arm]:
    params = Q.arm_info(store, study, "train", "n_params")
    n_params = {r.arm: (int(r.value) if r.value is not None and str(r.value).isdigit() else None)
                for r in params.itertuples()}
    out = []
    if spec is not None:
        for m in spec.models:
            out.append(Arm(m.id, m.source, source_words(m.source, "model", spec.data.source), n_params.get(m.id)))
    known = {a.id for a in out}
    for arm in results.arms:
        if arm not in known:
            out.append(Arm(arm, "", "", n_params.get(arm)))
    return out


def _inputs(store, study: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The appendix rows of the models (study, arm, seed, source, identity) and data (source, split,
    fingerprint, …) the study's finished evaluation cells used, read from their specs."""
    models: dict[tuple[str, str, int], dict[str, Any]] = {}
    data: dict[tuple[str, str, str], dict[str, Any]] = {}
    cells = Q.finished_cells(store, [study])
    for r in cells[cells.type == "eval"].itertuples():
        try:
            p = json.loads(r.params) if isinstance(r.params, str) else {}
        except ValueError:
            continue
        m = p.get("model") or {}
        key = (r.study, r.arm, int(r.seed))
        if key not in models:
            models[key] = {"study": r.study, "arm": r.arm, "seed": int(r.seed), "source": m.get("source", ""),
                           "identity": m.get("identity", "")}
        d = p.get("data") or {}
        dkey = (r.study, str(d.get("source", "")), str(d.get("fingerprint", "")))
        if dkey not in data and d:
            data[dkey] = {"study": r.study, "source": d.get("source", ""), "split": d.get("split", ""),
                          "split_seed": d.get("split_seed"), "fingerprint": d.get("fingerprint") or "",
                          "max_examples": d.get("max_examples")}
    return list(models.values()), list(data.values())
