"""The report model: everything a stakeholder report says, built from a project's results database.

No Qt here and nothing that imports torch: ``views.report_render`` turns this model into a folder,
a single HTML file and a PDF, and the app's Report page previews it.

``build_report(project, studies=None, options=None)`` reads the database once (read-only) and
computes every candidate table, chart reference and finding for the requested studies;
``apply_options(model, options)`` then chooses what goes in (studies, charts, tables), sets the
title, author, introduction and per-chart comments. Applying options touches no database, so the
Report page can update its live preview on every tick.

``project`` is anything with ``root`` (a folder), ``name``, ``store(read_only=True)`` and
``study_paths()`` — an ``engine.project.Project`` in practice (not imported here: it pulls in the
execution machinery).
"""

from __future__ import annotations

import copy
import json
import time
from datetime import date as _date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine import results as R
from engine.core.errors import JuxtaError
from engine.report import findings as F
from engine.report.appendix import _appendix
from engine.report.findings import ConditionInfo, Finding
from engine.report.schema import (
    Appendix, Arm, ChartRef, ReportModel, ReportOptions, StudySection, Table, TableCell,
)
from engine.report.tables import _charts, _tables
from engine.report.words import _conditions_summary, _data_words, _in_words, glossary, source_words
from engine.stats import PairedComparison

__all__ = [
    "Appendix", "Arm", "ChartRef", "Finding", "PairedPredictions", "ReportModel", "ReportOptions", "StudySection",
    "Table", "TableCell", "apply_options", "build_report", "clean_text", "glossary", "source_words",
]

DEFAULT_TABLES = ("accuracy", "best", "robustness", "metrics_clean")
OPTIONAL_TABLES = ("accuracy_full",)
TEXT_LIMITS = {"title": 300, "author": 300, "introduction": 20_000, "comment": 5_000}


# ---------------------------------------------------------------------------------------------
# user text


def clean_text(value: Any, limit: int) -> str:
    """User text as plain text: control characters removed (newlines and tabs kept), length capped.
    Escaping happens where it is written (HTML autoescape, PDF markup escape)."""
    if value is None:
        return ""
    s = str(value).replace("\r\n", "\n").replace("\r", "\n")
    s = "".join(ch for ch in s if ch in "\n\t" or (ord(ch) >= 32 and not 0x7F <= ord(ch) <= 0x9F))
    s = s.strip()
    return s if len(s) <= limit else s[: limit - 1] + "\u2026"


# ---------------------------------------------------------------------------------------------
# building


def build_report(project: Any, studies: list[str] | None = None,
                 options: ReportOptions | dict[str, Any] | None = None) -> ReportModel:
    """Read the project's results (read-only) and build the report model for ``studies`` (default:
    every study with results). Raises ``JuxtaError`` with a plain sentence when there is nothing to report."""
    opts = ReportOptions.from_any(options)
    wanted = list(studies) if studies else (list(opts.studies) if opts.studies else None)
    root = Path(project.root)
    available = list(project.study_paths())
    db_path = root / "juxta.duckdb"
    if not db_path.exists():
        raise JuxtaError(f"Project {root} has no results yet; run its studies first (juxta run {root}).")
    store = _open_store(project)
    try:
        recorded = store.query("SELECT study, kind, title, spec_toml, path, updated FROM studies ORDER BY study")
        names = wanted or [n for n in available if n in set(recorded.study)] or list(recorded.study)
        for n in names:
            if n not in set(recorded.study):
                known = ", ".join(list(recorded.study)) or "none"
                raise JuxtaError(f"Study '{n}' has no results in {root.name} yet (studies with results: {known}); "
                                 f"run it first: juxta run {root} {n}")
        if not names:
            raise JuxtaError(f"Project {root} has no results yet; run its studies first (juxta run {root}).")
        notes: list[str] = []
        sections = []
        for n in names:
            rec = recorded[recorded.study == n].iloc[0]
            section = _build_section(store, project, n, rec)
            if section is None:
                notes.append(f"Study '{n}' has no finished evaluation cells yet, so it is not in this report.")
                continue
            sections.append(section)
        if not sections:
            raise JuxtaError(f"None of the studies {', '.join(names)} has finished evaluation cells yet; run them first.")
        appendix = _appendix(store, project, sections, recorded)
    finally:
        store.close()
    model = ReportModel(
        title="", author="", date="", introduction="", project=str(getattr(project, "name", root.name)),
        studies=sections, key_findings=[], glossary=[], appendix=appendix, notes=notes,
    )
    return apply_options(model, opts)


def _open_store(project: Any, attempts: int = 8, wait_s: float = 0.25):
    """Open the database read-only, retrying briefly while a writer holds the lock."""
    last: Exception | None = None
    for i in range(attempts):
        try:
            return project.store(read_only=True)
        except JuxtaError as exc:  # "in use by another Juxta process"
            last = exc
            if "in use" not in str(exc):
                raise
            time.sleep(wait_s * (i + 1))
    raise last  # type: ignore[misc]


def apply_options(model: ReportModel, options: ReportOptions | dict[str, Any] | None) -> ReportModel:
    """A copy of ``model`` with the chosen studies, charts, tables, comments and title page text.
    Touches no database (the Report page calls it on every edit)."""
    opts = ReportOptions.from_any(options)
    m = copy.copy(model)
    m.studies = [copy.copy(s) for s in model.studies]
    known = [s.name for s in m.studies]
    if opts.studies is not None:
        unknown = [s for s in opts.studies if s not in known]
        if unknown:
            raise JuxtaError(f"Report options name unknown stud{'ies' if len(unknown) > 1 else 'y'} "
                             f"{', '.join(unknown)}; this report has {', '.join(known)}.")
    for s in m.studies:
        s.included = opts.studies is None or s.name in opts.studies
        chosen_charts = (opts.charts or {}).get(s.name)
        chosen_tables = (opts.tables or {}).get(s.name)
        comments = (opts.comments or {}).get(s.name, {})
        s.charts = [copy.copy(c) for c in s.charts]
        for c in s.charts:
            if chosen_charts is not None:
                c.included = c.chart_id in chosen_charts
            elif c.params.get("default") is not None:
                c.included = bool(c.params["default"])
            c.comment = clean_text(comments.get(c.chart_id, ""), TEXT_LIMITS["comment"])
        s.tables = [copy.copy(t) for t in s.tables]
        for t in s.tables:
            t.included = (t.table_id in chosen_tables) if chosen_tables is not None else not t.optional
    included = m.included_studies
    m.title = clean_text(opts.title, TEXT_LIMITS["title"]) or _default_title(included, model.project)
    m.author = clean_text(opts.author, TEXT_LIMITS["author"])
    m.introduction = clean_text(opts.introduction, TEXT_LIMITS["introduction"])
    m.date = clean_text(opts.date, 100) or _today()
    m.key_findings = [f for s in included for f in s.findings]
    m.glossary = glossary(included)
    m.options = opts.as_dict()
    return m


def _today() -> str:
    d = _date.today()
    return f"{d.day} {d.strftime('%B %Y')}"


def _default_title(sections: list[StudySection], project: str) -> str:
    if len(sections) == 1:
        return sections[0].title or f"{sections[0].name}: results"
    return f"{project}: comparative study report"


# ---------------------------------------------------------------------------------------------
# one study


def _build_section(store, project: Any, name: str, rec: pd.Series) -> StudySection | None:
    from engine.study import parse_study_text

    spec_text = str(rec.spec_toml or "")
    try:
        study = parse_study_text(spec_text, str(rec.path or name))
    except Exception:  # an older schema: report what the database has
        study = None
    results = R.load_shift_results(store, name, n_resamples=study.metrics.bootstrap if study else 1000)
    if results.accuracy.empty:
        return None
    level = float(study.metrics.level) if study else 0.95
    n_resamples = int(study.metrics.bootstrap) if study else 1000
    infos = _condition_infos(store, name)
    metric_names = list(study.metrics.names) if study else sorted(set(results.cells.metric))
    metric_frame = _metric_frame(store, name, results, metric_names, n_resamples, level)
    status = _status(store, name)

    paired = PairedPredictions(store, name)
    cache: dict[tuple[str, str, str], PairedComparison] = {}

    def compare(a: str, b: str, condition: str) -> PairedComparison:
        key = (a, b, condition)
        if key not in cache:
            cache[key] = paired.compare(a, b, condition, n_resamples=n_resamples, level=level)
        return cache[key]

    acc = results.accuracy
    findings = F.shift_findings(name, acc, results.drop, results.robustness, infos, compare, n_resamples, level)
    compared = _arms(store, name, study, results)
    seeds = list(study.study.seeds) if study else sorted(int(s) for s in results.cells.seed.unique())
    n_examples = _n_examples(acc)
    notes = []
    if status.get("failed"):
        notes.append(f"{status['failed']} of {status['planned']} cells failed; the tables use the finished cells only "
                     "(juxta status lists the errors).")
    if status.get("missing"):
        notes.append(f"{status['missing']} of {status['planned']} cells have not been computed yet; the tables use the "
                     "finished cells only.")
    path = Path(project.root) / str(rec.path or f"{name}.study.toml")
    if path.is_file():
        try:
            if path.read_text(encoding="utf-8") != spec_text:
                notes.append(f"The study file {path.name} has changed since these results were computed; the report "
                             "describes the study as it was run (its file is in the appendix).")
        except (OSError, UnicodeDecodeError):
            pass
    title = (study.study.title if study else str(rec.title or "")) or name
    description = (study.study.description if study else "") or ""
    section = StudySection(
        name=name, title=title, kind=str(rec.kind or "shift"),
        question=title if title.endswith("?") else "",
        description=" ".join(description.split()),
        description_in_words=_in_words(study, results, compared, infos, seeds, n_examples, n_resamples, level),
        compared=compared, data_words=_data_words(study), conditions_summary=_conditions_summary(results, infos),
        seeds=seeds, metrics=metric_names, level=level, n_resamples=n_resamples, n_examples=n_examples,
        tables=[], charts=[], findings=findings, status=status, notes=notes, results=results,
        metric_frame=metric_frame,
    )
    section.tables = _tables(section, results, infos, compare, metric_frame)
    section.charts = _charts(results, infos)
    return section


class PairedPredictions:
    """Per-example correctness of every finished eval cell of a study, read once, for paired comparisons.

    Computes exactly what ``engine.results.compare_arms`` computes (``engine.stats.paired_comparison``
    on the two arms' predictions joined on seed and position), with the pairs always in (seed,
    position) order: the paired bootstrap depends on the order of the pairs, so a fixed order makes
    the report's intervals reproducible run after run. One query serves all comparisons.
    """

    def __init__(self, store, study: str):
        self.study = study
        preds = store.query(
            """SELECT sc.arm, sc.condition, sc.seed, p.position, p.correct
               FROM study_cells sc JOIN cells c USING (cell_key) JOIN predictions p USING (cell_id)
               WHERE sc.study = ? AND sc.kind = 'eval' AND c.status = 'done'
               ORDER BY sc.arm, sc.condition, sc.seed, p.position""",
            [study],
        )
        self.groups: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        if preds.empty:
            return
        keys = (preds.seed.to_numpy(np.int64) << 32) + preds.position.to_numpy(np.int64)
        correct = preds.correct.to_numpy(bool)
        arm = preds.arm.to_numpy(object)
        cond = preds.condition.to_numpy(object)
        change = np.flatnonzero((arm[1:] != arm[:-1]) | (cond[1:] != cond[:-1])) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(preds)]])
        for s, e in zip(starts, ends):
            self.groups[(str(arm[s]), str(cond[s]))] = (keys[s:e], correct[s:e])

    def compare(self, arm_a: str, arm_b: str, condition: str = "clean", n_resamples: int = 1000, seed: int = 0,
                level: float = 0.95) -> PairedComparison:
        from engine.stats import paired_comparison

        a = self.groups.get((arm_a, condition))
        b = self.groups.get((arm_b, condition))
        if a is None or b is None:
            raise JuxtaError(f"No shared examples for '{arm_a}' and '{arm_b}' under condition '{condition}' in study "
                             f"'{self.study}'.")
        _common, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
        if len(ia) == 0:
            raise JuxtaError(f"No shared examples for '{arm_a}' and '{arm_b}' under condition '{condition}' in study "
                             f"'{self.study}'.")
        return paired_comparison(a[1][ia], b[1][ib], n_resamples=n_resamples, seed=seed, level=level)


def _condition_infos(store, study: str) -> dict[str, ConditionInfo]:
    rows = store.query(
        """SELECT sc.condition, any_value(sc.family) AS family, any_value(sc.severity) AS severity,
                  any_value(json_extract_string(c.params, '$.condition')) AS cond
           FROM study_cells sc JOIN cells c USING (cell_key)
           WHERE sc.study = ? AND sc.kind = 'eval' GROUP BY sc.condition""",
        [study],
    )
    out = {}
    for r in rows.itertuples():
        try:
            params = json.loads(r.cond) if isinstance(r.cond, str) else {}
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


def _status(store, study: str) -> dict[str, int]:
    st = R.status_table(store, study)
    out = {"planned": 0, "done": 0, "failed": 0, "missing": 0}
    for r in st.itertuples():
        for k in out:
            out[k] += int(getattr(r, k) or 0)
    return out


def _n_examples(acc: pd.DataFrame) -> int | None:
    clean = acc[acc.condition == "clean"]
    if clean.empty:
        return None
    r = clean.iloc[0]
    return int(r.n // max(int(r.n_seeds), 1))


def _arms(store, study: str, spec, results) -> list[Arm]:
    params = store.query(
        """SELECT sc.arm, any_value(json_extract(c.info, '$.n_params')) AS n_params
           FROM study_cells sc JOIN cells c USING (cell_key)
           WHERE sc.study = ? AND sc.kind = 'train' AND c.status = 'done' GROUP BY sc.arm""",
        [study],
    )
    n_params = {r.arm: (int(r.n_params) if r.n_params is not None and str(r.n_params).isdigit() else None)
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

