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
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date as _date
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine import results as R
from engine.errors import JuxtaError
from engine.metrics import METRICS
from engine.report import findings as F
from engine.report.findings import ConditionInfo, Finding
from engine.shift.catalog import CORRUPTION_DESCRIPTIONS
from engine.stats import PairedComparison

REPORT_VERSION = 1
DEFAULT_TABLES = ("accuracy", "best", "robustness", "metrics_clean")
OPTIONAL_TABLES = ("accuracy_full",)
TEXT_LIMITS = {"title": 300, "author": 300, "introduction": 20_000, "comment": 5_000}
PCT_METRICS = {"accuracy", "macro_f1", "ece", "worst_group_accuracy"}


# ---------------------------------------------------------------------------------------------
# model


@dataclass
class TableCell:
    """One table cell: a main text, an optional small second line (an interval), emphasis."""

    text: str
    sub: str = ""
    bold: bool = False
    muted: bool = False
    arm: str | None = None  # an arm name: renderers draw its colour swatch
    note: str = ""  # a tooltip / footnote-like remark


@dataclass
class Table:
    table_id: str
    title: str
    caption: str
    columns: list[str]
    rows: list[list[TableCell]]
    align: list[str] = field(default_factory=list)  # "l" | "r" per column
    included: bool = True
    optional: bool = False  # off unless chosen

    @property
    def key(self) -> str:
        return self.table_id


@dataclass
class ChartRef:
    """A chart the renderer draws with the app's own chart definition (``views.charts``)."""

    chart_id: str  # "severity:gaussian_noise", "drop", "on_the_line", "reliability:clean"
    kind: str  # severity | drop | on_the_line | reliability
    params: dict[str, Any]
    title: str
    caption: str  # data-specific sentence; the renderer prefixes the chart's own description
    included: bool = True
    comment: str = ""
    rows: int = 0  # heatmap rows, to size the figure


@dataclass
class Arm:
    id: str
    source: str
    words: str  # the source in plain words
    n_params: int | None = None


@dataclass
class StudySection:
    name: str
    title: str
    kind: str
    question: str  # the study's title, or a generated question
    description: str  # the study file's own description
    description_in_words: str  # what was compared and how, generated from the study file
    compared: list[Arm]
    data_words: str
    conditions_summary: list[str]
    seeds: list[int]
    metrics: list[str]
    level: float
    n_resamples: int
    n_examples: int | None
    tables: list[Table]
    charts: list[ChartRef]
    findings: list[Finding]
    status: dict[str, int]
    notes: list[str] = field(default_factory=list)
    included: bool = True
    results: Any = field(default=None, repr=False)  # engine.results.ShiftResults, for the charts
    metric_frame: pd.DataFrame | None = field(default=None, repr=False)  # results.csv rows

    def chart(self, chart_id: str) -> ChartRef | None:
        return next((c for c in self.charts if c.chart_id == chart_id), None)

    def table(self, table_id: str) -> Table | None:
        return next((t for t in self.tables if t.table_id == table_id), None)

    @property
    def included_charts(self) -> list[ChartRef]:
        return [c for c in self.charts if c.included]

    @property
    def included_tables(self) -> list[Table]:
        return [t for t in self.tables if t.included]


@dataclass
class Appendix:
    study_files: list[dict[str, str]]  # name, filename, sha256, text, changed_on_disk
    models: list[dict[str, Any]]  # study, arm, seed, source, identity, artifact, sha256, bytes, n_params
    data: list[dict[str, Any]]  # study, source, split, fingerprint, examples
    packages: dict[str, str]  # what the runs used
    report_packages: dict[str, str]  # what wrote this report
    devices: list[str]
    seeds: dict[str, list[int]]
    runs: list[dict[str, Any]]
    compute: list[dict[str, Any]]  # study, kind, cells, total_s, mean_s
    juxta_version: str  # the version that ran the studies (latest run)
    report_juxta_version: str
    generated: str


@dataclass
class ReportModel:
    title: str
    author: str
    date: str
    introduction: str
    project: str
    studies: list[StudySection]
    key_findings: list[Finding]
    glossary: list[tuple[str, str]]
    appendix: Appendix
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def included_studies(self) -> list[StudySection]:
        return [s for s in self.studies if s.included]

    def study(self, name: str) -> StudySection | None:
        return next((s for s in self.studies if s.name == name), None)

    def results_frame(self) -> pd.DataFrame:
        """Every metric of the included studies, one row per study × arm × condition × metric."""
        frames = [s.metric_frame.assign(study=s.name) for s in self.included_studies if s.metric_frame is not None]
        cols = ["study", "arm", "condition", "family", "severity", "metric", "value", "ci_low", "ci_high",
                "seed_sd", "n_seeds", "n"]
        if not frames:
            return pd.DataFrame(columns=cols)
        return pd.concat(frames, ignore_index=True)[cols]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (no data frames): title page, findings, sections, appendix."""
        def section(s: StudySection) -> dict[str, Any]:
            return {
                "name": s.name, "title": s.title, "question": s.question, "description_in_words": s.description_in_words,
                "compared": [asdict(a) for a in s.compared], "conditions": s.conditions_summary, "seeds": s.seeds,
                "charts": [{"id": c.chart_id, "title": c.title, "comment": c.comment} for c in s.included_charts],
                "tables": [t.table_id for t in s.included_tables], "findings": [f.text for f in s.findings],
            }
        return {
            "report_version": REPORT_VERSION, "title": self.title, "author": self.author, "date": self.date,
            "project": self.project, "introduction": self.introduction,
            "key_findings": [{"text": f.text, "study": f.study, "kind": f.kind, "evidence": _jsonable(f.evidence)}
                             for f in self.key_findings],
            "studies": [section(s) for s in self.included_studies],
            "juxta_version": self.appendix.report_juxta_version,
        }


@dataclass
class ReportOptions:
    """What goes into a report. ``None`` means the default for that part."""

    title: str | None = None
    author: str | None = None
    introduction: str | None = None
    date: str | None = None
    studies: list[str] | None = None
    charts: dict[str, list[str]] | None = None  # study -> chart ids to include
    tables: dict[str, list[str]] | None = None  # study -> table ids to include
    comments: dict[str, dict[str, str]] = field(default_factory=dict)  # study -> chart id -> comment

    @classmethod
    def from_any(cls, options: "ReportOptions | dict[str, Any] | None") -> "ReportOptions":
        if options is None:
            return cls()
        if isinstance(options, ReportOptions):
            return copy.deepcopy(options)
        if not isinstance(options, dict):
            raise JuxtaError("Report options must be a dictionary.")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise JuxtaError(f"Unknown report option(s): {', '.join(unknown)}; expected {', '.join(sorted(known))}.")
        out = cls(**{k: copy.deepcopy(v) for k, v in options.items() if k != "comments"})
        comments = options.get("comments") or {}
        nested: dict[str, dict[str, str]] = {}
        for key, value in comments.items():
            if isinstance(value, dict):
                nested.setdefault(str(key), {}).update({str(k): str(v) for k, v in value.items()})
            elif "/" in str(key):  # flat "study/chart_id" keys
                s, _, c = str(key).partition("/")
                nested.setdefault(s, {})[c] = str(value)
        out.comments = nested
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
               FROM study_cells sc JOIN cells c USING (cell_key) JOIN predictions p USING (cell_key)
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


def source_words(source: str, kind: str = "model", data_source: str | None = None) -> str:
    """A source string in plain words, e.g. 'builtin:digits-cnn' -> 'Small convolutional network … trained by Juxta on digits'."""
    from engine.sources import parse_source

    try:
        src = parse_source(source, kind=kind)
    except Exception:
        return source
    if kind == "model":
        if src.scheme == "builtin":
            from engine.models.recipes import ARCHITECTURES, parse_builtin

            try:
                data, arch = parse_builtin(src.value)
            except Exception:
                return f"built-in model {src.value}"
            what = ARCHITECTURES[arch][1].rstrip(".")
            on = data or (parse_source(data_source, kind="data").value if data_source else "the study's data")
            return f"{what}; trained by Juxta on {on}."
        if src.scheme == "file":
            return f"Weights loaded from the file {src.value}."
        if src.scheme == "hf":
            rev = f" (revision {src.revision})" if src.revision else ""
            return f"Hugging Face model {src.value}{rev}."
        if src.scheme == "artifact":
            return f"The model produced by {src.value} in this project."
        return str(src)
    if src.scheme == "builtin":
        from engine.data.loaders import BUILTIN_DATASETS

        return BUILTIN_DATASETS.get(src.value, f"built-in dataset {src.value}")
    words = {"folder": "image folder", "csv": "CSV file", "parquet": "Parquet file", "hf": "Hugging Face dataset"}
    return f"{words.get(src.scheme, src.scheme)} {src.value}"


def _data_words(spec) -> str:
    if spec is None:
        return ""
    d = spec.data
    return source_words(d.source, "data")


def _conditions_summary(results, infos: dict[str, ConditionInfo]) -> list[str]:
    acc = results.accuracy
    out = []
    if "clean" in set(acc.condition):
        out.append("the clean test set")
    graded = acc[acc.severity.notna()]
    if not graded.empty:
        fams = list(dict.fromkeys(graded.family))
        sevs = sorted({int(s) for s in graded.severity})
        kinds = {infos[c].kind for c in graded.condition if c in infos}
        what = "image corruptions" if kinds <= {"corruption"} else "graded shifts"
        sev = f"severity {sevs[0]}" if len(sevs) == 1 else f"severities {F.ranges(sevs)}"
        out.append(f"{len(fams)} {what} ({', '.join(F.family_words(f) for f in fams)}) at {sev}")
    others = [c for c in dict.fromkeys(acc.condition) if c != "clean" and acc[acc.condition == c].severity.isna().all()]
    for c in others:
        out.append(F.condition_words(F.info_for(c, infos)))
    return out


def _in_words(spec, results, compared: list[Arm], infos, seeds: list[int], n_examples: int | None,
              n_resamples: int, level: float) -> str:
    arms = [a.id for a in compared if a.id in set(results.arms)] or list(results.arms)
    n = len(arms)
    parts = [f"This study compares {n} model{'s' if n != 1 else ''} ({_join(arms)})"]
    if spec is not None:
        d = spec.data
        split = {"all": "all the data", "test": "the held-out test split", "validation": "the validation split",
                 "train": "the training split"}.get(d.split, d.split)
        parts.append(f" on {split} of {_data_phrase(d.source)}")
    if n_examples:
        parts.append(f" ({n_examples:,} examples)")
    conds = _conditions_summary(results, infos)
    shifted = [c for c in conds if c != "the clean test set"]
    if shifted:
        parts.append(f", clean and under {_join(shifted)}")
    text = "".join(parts) + "."
    ns = len(seeds)
    text += (f" Each model was trained and evaluated with {ns} seed{'s' if ns != 1 else ''} ({_join([str(s) for s in seeds])})"
             f"; every number is the mean over seeds and" if ns > 1 else
             f" Each model was evaluated with seed {seeds[0] if seeds else 0}; every number")
    text += (f" comes with a {100 * level:g}% bootstrap interval over test examples ({n_resamples:,} resamples), and "
             "differences between models are tested on the same examples (paired bootstrap and McNemar's test).")
    return text


def _data_phrase(source: str) -> str:
    from engine.sources import parse_source

    try:
        src = parse_source(source, kind="data")
    except Exception:
        return source
    if src.scheme == "builtin":
        return {"digits": "scikit-learn's handwritten digits", "wine": "scikit-learn's wine data",
                "breast-cancer": "scikit-learn's breast-cancer data"}.get(src.value, src.value)
    return source_words(source, "data")


def _join(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------------------------------------
# tables


def _cell_pct(v: float, lo: float, hi: float, bold: bool = False, digits: int = 1) -> TableCell:
    if v is None or not np.isfinite(v):
        return TableCell("\u2014", muted=True)
    sub = f"{100 * lo:.{digits}f}{F.EN_DASH}{100 * hi:.{digits}f}" if np.isfinite(lo) and np.isfinite(hi) else ""
    return TableCell(F.signed(f"{100 * v:.{digits}f}"), F.signed(sub), bold=bold)


def _cell_num(v: float, lo: float, hi: float, digits: int = 3, bold: bool = False) -> TableCell:
    if v is None or not np.isfinite(v):
        return TableCell("\u2014", muted=True)
    sub = f"{lo:.{digits}f}{F.EN_DASH}{hi:.{digits}f}" if np.isfinite(lo) and np.isfinite(hi) else ""
    return TableCell(F.signed(f"{v:.{digits}f}"), F.signed(sub), bold=bold)


def _condition_label(condition: str, infos: dict[str, ConditionInfo], family_level: bool = False) -> str:
    if condition == "clean":
        return "clean"
    base = condition.split(" (mean of")[0]
    if family_level and base in F.FAMILY_WORDS:
        return F.family_words(base)
    info = infos.get(condition)
    if info is not None:
        return F.short_label(info)
    return condition


def _tables(section: StudySection, results, infos, compare, metric_frame: pd.DataFrame) -> list[Table]:
    acc = results.accuracy
    arms = list(results.arms)
    level = section.level
    lv = f"{100 * level:g}%"
    seeds_txt = f"mean over {len(section.seeds)} seeds" if len(section.seeds) > 1 else f"seed {section.seeds[0]}"
    tables: list[Table] = []

    # accuracy per condition family
    fam = R.family_table(acc)
    rows = []
    for cond, g in fam.groupby("condition", sort=False):
        best = g.value.max()
        row = [TableCell(_condition_label(cond, infos, family_level=True),
                         "mean of severities" if "(mean of" in str(cond) else "")]
        for arm in arms:
            r = g[g.arm == arm]
            row.append(TableCell("\u2014", muted=True) if r.empty else
                       _cell_pct(r.value.iloc[0], r.ci_low.iloc[0], r.ci_high.iloc[0], bold=bool(np.isclose(r.value.iloc[0], best))))
        rows.append(row)
    graded = acc.severity.notna().any()
    tables.append(Table(
        "accuracy", "Accuracy by condition",
        f"Accuracy (%), {seeds_txt}, with the {lv} interval underneath; the highest value in each row is in bold. "
        + ("Corruption rows average severities; their intervals are the average of the per-severity intervals. " if graded else "")
        + "The best-model table below says which differences are beyond noise.",
        ["Condition", *arms], rows, ["l"] + ["r"] * len(arms)))

    # best arm per condition, with paired comparisons
    tables.append(_best_table(section, acc, infos, compare, lv))

    # robustness summary
    rob = results.robustness
    clean = acc[acc.condition == "clean"].set_index("arm")
    er = rob.per_arm.set_index("arm") if rob is not None and not rob.per_arm.empty else pd.DataFrame()
    sd = acc.groupby("arm").seed_sd.mean()
    rrows = []
    have_er = rob is not None and rob.fit is not None
    shifted_mean = acc[acc.severity.notna()].groupby("arm").value.mean()
    for arm in arms:
        row = [TableCell(arm, arm=arm)]
        if arm in clean.index:
            c = clean.loc[arm]
            row.append(_cell_pct(c.value, c.ci_low, c.ci_high))
        else:
            row.append(TableCell("\u2014", muted=True))
        row.append(TableCell(F.signed(f"{100 * shifted_mean[arm]:.1f}")) if arm in shifted_mean.index else TableCell("\u2014", muted=True))
        mine = acc[(acc.arm == arm) & (acc.condition != "clean")]
        if mine.empty:
            row.append(TableCell("\u2014", muted=True))
        else:
            w = mine.sort_values(["value", "condition"]).iloc[0]
            row.append(TableCell(_condition_label(str(w.condition), infos),
                                 F.signed(f"{100 * w.value:.1f}% ({100 * w.ci_low:.1f}{F.EN_DASH}{100 * w.ci_high:.1f})")))
        if have_er and arm in er.index and np.isfinite(er.loc[arm].effective_robustness):
            row.append(TableCell(F.points(er.loc[arm].effective_robustness, 1, sign=True)))
        else:
            row.append(TableCell("\u2014", muted=True))
        row.append(TableCell(f"{100 * sd.get(arm, np.nan):.1f}" if len(section.seeds) > 1 and np.isfinite(sd.get(arm, np.nan)) else "\u2014",
                             muted=len(section.seeds) <= 1))
        rrows.append(row)
    cap = ("Clean accuracy with its interval; mean accuracy over every corruption condition; the condition where the "
           "model is least accurate, with its accuracy and interval; effective robustness "
           "(points above or below the accuracy-on-the-line fit, probit scale); spread over seeds (mean standard "
           "deviation, points).")
    if have_er and rob.fit.r2 < 0.5:
        cap += f" The fit explains little of the variation here (R\u00b2 {rob.fit.r2:.2f}), so read effective robustness with care."
    if not have_er:
        cap += " Effective robustness needs at least two models with different clean accuracy and corrupted results."
    tables.append(Table("robustness", "Scorecard", cap,
                        ["Model", "Clean (%)", "Corrupted, mean (%)", "Worst condition", "Effective robustness (pts)",
                         "Seed sd (pts)"],
                        rrows, ["l", "r", "r", "l", "r", "r"]))

    # every metric on the clean test set
    if metric_frame is not None and not metric_frame.empty:
        cm = metric_frame[metric_frame.condition == "clean"]
        names = [m for m in section.metrics if m in set(cm.metric)]
        if names:
            mrows = []
            for arm in arms:
                row = [TableCell(arm, arm=arm)]
                for m in names:
                    r = cm[(cm.arm == arm) & (cm.metric == m)]
                    if r.empty:
                        row.append(TableCell("\u2014", muted=True))
                        continue
                    best_v = cm[cm.metric == m].value.max() if METRICS.get(m) is None or METRICS[m].higher_is_better else cm[cm.metric == m].value.min()
                    r0 = r.iloc[0]
                    bold = bool(np.isclose(r0.value, best_v))
                    row.append(_cell_pct(r0.value, r0.ci_low, r0.ci_high, bold) if m in PCT_METRICS
                               else _cell_num(r0.value, r0.ci_low, r0.ci_high, 3, bold))
                mrows.append(row)
            heads = []
            for m in names:
                d = METRICS.get(m)
                arrow = "" if d is None else (" \u2191" if d.higher_is_better else " \u2193")
                heads.append((d.label if d else m) + (" (%)" if m in PCT_METRICS else "") + arrow)
            tables.append(Table("metrics_clean", "All metrics on the clean test set",
                                f"{seeds_txt.capitalize()}, {lv} intervals underneath; \u2191 higher is better, \u2193 lower is better; "
                                "the best value per column is in bold. The glossary explains each metric.",
                                ["Model", *heads], mrows, ["l"] + ["r"] * len(names)))

    # every condition (optional)
    frows = []
    for cond, g in acc.groupby("condition", sort=False):
        best = g.value.max()
        row = [TableCell(_condition_label(cond, infos))]
        for arm in arms:
            r = g[g.arm == arm]
            row.append(TableCell("\u2014", muted=True) if r.empty else
                       _cell_pct(r.value.iloc[0], r.ci_low.iloc[0], r.ci_high.iloc[0], bold=bool(np.isclose(r.value.iloc[0], best))))
        frows.append(row)
    tables.append(Table("accuracy_full", "Accuracy under every condition",
                        f"Accuracy (%) per condition and severity, {seeds_txt}, {lv} intervals underneath.",
                        ["Condition", *arms], frows, ["l"] + ["r"] * len(arms), included=False, optional=True))
    return tables


def _best_table(section: StudySection, acc: pd.DataFrame, infos, compare, lv: str) -> Table:
    """Best arm per condition: clean, each graded family at its strongest severity, every other
    condition; tied within noise when the paired comparison's interval contains 0."""
    conds: list[str] = []
    if "clean" in set(acc.condition):
        conds.append("clean")
    graded = acc[acc.severity.notna()]
    for fam_name, g in graded.groupby("family", sort=False):
        top = g.severity.max()
        conds.append(str(g[g.severity == top].condition.iloc[0]))
    conds += [c for c in dict.fromkeys(acc.condition) if c != "clean" and c not in conds and acc[acc.condition == c].severity.isna().all()]
    rows = []
    for cond in conds:
        ranked = acc[acc.condition == cond].sort_values(["value", "arm"], ascending=[False, True])
        if ranked.empty:
            continue
        best = ranked.iloc[0]
        label = _condition_label(cond, infos)
        if len(ranked) == 1:
            rows.append([TableCell(label), TableCell(best.arm, arm=best.arm), _cell_pct(best.value, best.ci_low, best.ci_high),
                         TableCell("\u2014", muted=True), TableCell("\u2014", muted=True), TableCell("only one model", muted=True)])
            continue
        tied = []
        cmps = {}
        for other in ranked.arm.iloc[1:]:
            c = compare(best.arm, other, cond)
            cmps[other] = c
            if c.within_noise:
                tied.append(other)
        runner = ranked.iloc[1]
        c = cmps[runner.arm]
        v = F.verdict(c, section.n_resamples, section.level)
        d = F.decimals_for(c.low, c.high) or 1
        diff = TableCell(F.points(c.diff, d, sign=True),
                         F.signed(f"{100 * c.low:+.{d}f} to {100 * c.high:+.{d}f}"))
        if tied:
            who = TableCell(", ".join([best.arm, *tied]), "tied within noise", arm=None)
            verdict_cell = TableCell("tied within noise", muted=True)
        else:
            who = TableCell(best.arm, arm=best.arm, bold=True)
            verdict_cell = TableCell(v.label, F.p_text(v.p))
        rows.append([TableCell(label), who, _cell_pct(best.value, best.ci_low, best.ci_high), TableCell(runner.arm, arm=runner.arm),
                     diff, verdict_cell])
    return Table(
        "best", "Best model per condition",
        f"For each condition (corruptions at their strongest severity), the most accurate model, its accuracy (%) and "
        f"{lv} interval, and its paired difference from the runner-up on the same examples (points, {lv} interval). "
        "\u201cTied within noise\u201d lists every model whose difference from the best has an interval containing 0.",
        ["Condition", "Best model", "Accuracy (%)", "Runner-up", "Difference (pts)", "Verdict"], rows,
        ["l", "l", "r", "l", "r", "l"])


# ---------------------------------------------------------------------------------------------
# charts


def _charts(results, infos: dict[str, ConditionInfo]) -> list[ChartRef]:
    charts: list[ChartRef] = []
    fams = list(results.corruption_families)
    drop = results.drop
    ranked = fams
    if fams and drop is not None and not drop.empty:
        means = drop[drop.severity.notna()].groupby("family", sort=False)["drop"].mean().reindex(fams)
        ranked = list(means.sort_values(ascending=False, kind="stable").index)
    default_fams = set(ranked[:3])
    for fam in ranked:
        words = F.family_words(fam)
        desc = CORRUPTION_DESCRIPTIONS.get(fam, "")
        charts.append(ChartRef(
            f"severity:{fam}", "severity", {"family": fam, "default": fam in default_fams},
            f"Accuracy vs severity: {words}", (f"{words[0].upper() + words[1:]}: {desc}" if desc else words[0].upper() + words[1:]),
            included=fam in default_fams))
    if drop is not None and not drop.empty:
        n_rows = len(set(np.where(drop.severity.notna(), drop.family.astype(str), drop.condition.astype(str))))
        charts.append(ChartRef("drop", "drop", {"default": True}, "Relative drop from clean accuracy",
                               "A negative value means the model did slightly better than on clean data.", rows=n_rows))
    rob = results.robustness
    if rob is not None and rob.points is not None and not rob.points.empty:
        cap = ""
        if rob.fit is not None:
            cap = f"The solid line is the probit-scale fit through all points (R\u00b2 {rob.fit.r2:.2f}); the dashed line is y = x."
        charts.append(ChartRef("on_the_line", "on_the_line", {"default": True}, "Clean vs corrupted accuracy", cap))
    if results.reliability is not None and not results.reliability.empty:
        have = set(results.reliability.condition)
        conds = [c for c in results.conditions if c in have]
        hardest = None
        shifted = results.accuracy[results.accuracy.condition != "clean"]
        if not shifted.empty:
            hardest = str(shifted.groupby("condition").value.mean().sort_values(kind="stable").index[0])
        for c in conds:
            if c != "clean" and c != hardest:
                continue
            words = F.condition_words(F.info_for(c, infos))
            charts.append(ChartRef(f"reliability:{c}", "reliability", {"condition": c, "default": c == "clean"},
                                   f"Reliability on {words}" if c == "clean" else f"Reliability under {words}",
                                   "Legend entries give each model's expected calibration error (ECE).", included=c == "clean"))
    return charts


# ---------------------------------------------------------------------------------------------
# glossary


LABEL_SHIFT_WORDS = {
    "dirichlet": ("Label shift (Dirichlet)", "The test set is resampled so that the class proportions follow a random draw "
                  "from a Dirichlet distribution; a smaller \u03b1 gives a more lopsided mix of classes. The inputs themselves "
                  "are unchanged, so only how often each class occurs differs from training."),
    "tweak_one": ("Label shift (tweak-one)", "The test set is resampled so that one class makes up a fixed share \u03c1 of "
                  "the examples and the other classes share the rest equally; the inputs are unchanged."),
    "imbalance": ("Class imbalance", "The test set is resampled so that class frequencies fall off steadily, the most "
                  "common class being the stated ratio times as frequent as the rarest."),
    "group_shift": ("Group shift", "The test set is resampled so that one group (for example a site or a device) makes up "
                    "the stated share of the examples, to see how a model fares when the population changes."),
    "field": ("Field data", "A second dataset with the same classes but collected differently, evaluated as it is."),
}

STAT_TERMS = [
    ("95% interval (CI)", "The range of values compatible with the test data: repeating the evaluation on new test sets of "
     "the same size would put the true value inside such an interval 95% of the time. Juxta computes it by resampling "
     "the test examples (the bootstrap)."),
    ("Within noise / beyond noise", "A difference between two models is within noise when its 95% interval contains zero: "
     "the test set cannot tell the models apart. Beyond noise means the interval excludes zero; well beyond noise means, "
     "in addition, p < 0.001."),
    ("Paired comparison", "Both models are scored on exactly the same test examples and the difference is resampled example "
     "by example (paired bootstrap), which removes the noise of which examples happen to be easy or hard."),
    ("McNemar's test", "A test that looks only at the examples on which exactly one of the two models is right; a small "
     "p-value means such a lopsided split is unlikely if the models were equally accurate."),
    ("p-value", "How surprising the observed difference would be if the two models were in fact equally accurate; the "
     "report quotes the more cautious of the paired-bootstrap and McNemar p-values."),
    ("Severity", "Corruptions come in five strengths, from 1 (mild) to 5 (strong); severity 0 in the charts is the clean "
     "test set."),
    ("Relative drop", "The share of its clean accuracy a model loses under a shift: (clean \u2212 shifted) / clean. A "
     "negative value means the model did slightly better than on clean data."),
    ("Effective robustness", "How far a model's accuracy under corruption lies above (or below) what its clean accuracy "
     "predicts, where the prediction is a straight line fitted through all models on probit scales (Miller et al., "
     "2021, \u201caccuracy on the line\u201d). Positive values mean more robust than expected."),
    ("Seed spread", "The standard deviation of a result over training seeds: how much retraining the same model changes "
     "the number. The interval, by contrast, reflects the finite test set."),
]


def glossary(sections: list[StudySection]) -> list[tuple[str, str]]:
    """Every corruption, shift and metric used by the included studies, and the statistical terms."""
    terms: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(term: str, text: str) -> None:
        if term not in seen:
            seen.add(term)
            terms.append((term, text))

    shifts: list[tuple[str, str]] = []
    metrics: list[tuple[str, str]] = []
    for s in sections:
        res = s.results
        if res is None:
            continue
        for fam in res.corruption_families:
            text = CORRUPTION_DESCRIPTIONS.get(fam) or _graded_description(fam)
            label = F.family_words(fam)
            shifts.append((label[0].upper() + label[1:], f"{text} (In study files: {fam}.)" if text else f"In study files: {fam}."))
        fams = set(res.accuracy.family)
        for key, (term, text) in LABEL_SHIFT_WORDS.items():
            if key in fams or (key == "group_shift" and any(str(f).startswith("group") for f in fams)) or \
                    (key == "field" and any(str(c).startswith("field/") for c in res.conditions)):
                shifts.append((term, text))
        for m in s.metrics:
            d = METRICS.get(m)
            if d is not None:
                metrics.append((d.label, d.description))
    for t in shifts:
        add(*t)
    for t in metrics:
        add(*t)
    for term, text in STAT_TERMS:
        add(term, text)
    return terms


def _graded_description(family: str) -> str:
    try:
        from engine.shift.tabular import TABULAR_SHIFTS

        if family in TABULAR_SHIFTS:
            return TABULAR_SHIFTS[family].description
        from engine.shift.text import TEXT_SHIFTS

        if family in TEXT_SHIFTS:
            return TEXT_SHIFTS[family].description
    except Exception:
        pass
    return ""


# ---------------------------------------------------------------------------------------------
# appendix


def _juxta_version() -> str:
    try:
        return metadata.version("juxta")
    except metadata.PackageNotFoundError:
        return "unknown"


def _report_packages() -> dict[str, str]:
    out = {}
    for name in ("juxta", "numpy", "scipy", "pandas", "duckdb", "PySide6-Essentials", "PySide6", "pyqtgraph", "reportlab", "Jinja2"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "PySide6-Essentials" in out and "PySide6" not in out:
        out["PySide6"] = out.pop("PySide6-Essentials")
    else:
        out.pop("PySide6-Essentials", None)
    return out


def _appendix(store, project: Any, sections: list[StudySection], recorded: pd.DataFrame) -> Appendix:
    names = [s.name for s in sections]
    files = []
    for s in sections:
        rec = recorded[recorded.study == s.name].iloc[0]
        text = str(rec.spec_toml or "")
        filename = str(rec.path or f"{s.name}.study.toml")
        disk = Path(project.root) / filename
        changed = False
        if disk.is_file():
            try:
                changed = disk.read_text(encoding="utf-8") != text
            except (OSError, UnicodeDecodeError):
                changed = True
        files.append({"name": s.name, "filename": Path(filename).name, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                      "text": text, "changed_on_disk": changed})

    runs = store.query(
        """SELECT run_id, study, started, finished, status, backend, workers, devices, versions, planned, skipped, done, failed
           FROM runs WHERE study IN ? ORDER BY started""", [names])
    run_rows = []
    packages: dict[str, str] = {}
    juxta_version = "unknown"
    for r in runs.itertuples():
        dur = (r.finished - r.started).total_seconds() if pd.notna(r.finished) and pd.notna(r.started) else None
        run_rows.append({
            "study": r.study, "run_id": r.run_id, "started": _ts(r.started), "finished": _ts(r.finished),
            "duration_s": dur, "status": r.status, "backend": r.backend, "workers": _int(r.workers),
            "devices": r.devices or "", "computed": _int(r.done), "skipped": _int(r.skipped), "failed": _int(r.failed),
        })
        try:
            v = json.loads(r.versions) if isinstance(r.versions, str) else {}
        except ValueError:
            v = {}
        if isinstance(v, dict):
            packages.update({str(k): str(val) for k, val in v.items()})
            juxta_version = str(v.get("juxta", juxta_version))

    cells = store.query(
        """SELECT sc.study, sc.kind, sc.arm, sc.seed, c.device, c.duration_s, c.params
           FROM study_cells sc JOIN cells c USING (cell_key) WHERE sc.study IN ? AND c.status = 'done'""", [names])
    devices = sorted({str(d) for d in cells.device.dropna().unique()})
    compute = []
    for (study, kind), g in cells.groupby(["study", "kind"], sort=True):
        compute.append({"study": study, "kind": kind, "cells": int(len(g)), "total_s": float(g.duration_s.sum()),
                        "mean_s": float(g.duration_s.mean())})

    models: dict[tuple[str, str, int], dict[str, Any]] = {}
    data: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in cells[cells.kind == "eval"].itertuples():
        try:
            p = json.loads(r.params) if isinstance(r.params, str) else {}
        except ValueError:
            continue
        m = p.get("model") or {}
        key = (r.study, r.arm, int(r.seed))
        if key not in models:
            models[key] = {"study": r.study, "arm": r.arm, "seed": int(r.seed), "source": m.get("source", ""),
                           "identity": m.get("identity", ""), "artifact": "", "sha256": "", "bytes": None}
        d = p.get("data") or {}
        dkey = (r.study, str(d.get("source", "")), str(d.get("fingerprint", "")))
        if dkey not in data and d:
            data[dkey] = {"study": r.study, "source": d.get("source", ""), "split": d.get("split", ""),
                          "split_seed": d.get("split_seed"), "fingerprint": d.get("fingerprint") or "", "max_examples": d.get("max_examples")}
    arts = store.query(
        """SELECT sc.study, sc.arm, sc.seed, a.name, a.path, a.bytes, a.sha256, a.kind
           FROM study_cells sc JOIN cells c USING (cell_key) JOIN artifacts a USING (cell_key)
           WHERE sc.study IN ? AND c.status = 'done'""", [names])
    for a in arts.itertuples():
        key = (a.study, a.arm, int(a.seed))
        entry = models.setdefault(key, {"study": a.study, "arm": a.arm, "seed": int(a.seed), "source": "", "identity": "",
                                        "artifact": "", "sha256": "", "bytes": None})
        entry.update({"artifact": str(a.path or a.name), "sha256": str(a.sha256 or ""), "bytes": _int(a.bytes)})
    n_params = {}
    for s in sections:
        for arm in s.compared:
            n_params[(s.name, arm.id)] = arm.n_params
    model_rows = sorted(models.values(), key=lambda d: (d["study"], d["arm"], d["seed"]))
    for mrow in model_rows:
        mrow["n_params"] = n_params.get((mrow["study"], mrow["arm"]))

    return Appendix(
        study_files=files, models=model_rows, data=sorted(data.values(), key=lambda d: (d["study"], d["source"])),
        packages=dict(sorted(packages.items())), report_packages=_report_packages(), devices=devices,
        seeds={s.name: s.seeds for s in sections}, runs=run_rows, compute=compute, juxta_version=juxta_version,
        report_juxta_version=_juxta_version(), generated=datetime.now().astimezone().isoformat(timespec="seconds"),
    )


def _ts(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v):
        return ""
    return pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S UTC")


def _int(v: Any) -> int | None:
    try:
        return None if v is None or pd.isna(v) else int(v)
    except (TypeError, ValueError):
        return None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj
