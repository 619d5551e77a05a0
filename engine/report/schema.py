"""The report model's data: findings, tables, chart references, study sections, the appendix, the
report and its options.

Plain dataclasses (no Qt, no database, no kind): a study kind builds its ``StudySection``
(``StudyKind.report_section``), ``engine.report.model`` assembles the report, and ``views.report_render``
draws it.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.core.errors import JuxtaError

REPORT_VERSION = 1


# ---------------------------------------------------------------------------------------------
# model


@dataclass
class Finding:
    """One sentence for the key-findings box, with the numbers it rests on."""

    text: str
    kind: str  # what the sentence is about, e.g. clean_best | hardest_shift | largest_drop | note
    study: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


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
    """One study's part of a report, built by its kind. ``status`` and ``notes`` about unfinished cells
    and a changed study file are added by the assembly (``engine.report.model``)."""

    name: str
    title: str
    kind: str  # the study kind ("shift")
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
    status: dict[str, int] = field(default_factory=dict)  # planned, done, failed, missing cells
    notes: list[str] = field(default_factory=list)
    included: bool = True
    results: Any = field(default=None, repr=False)  # the kind's results object (shift: ShiftResults), for the charts
    metric_frame: pd.DataFrame | None = field(default=None, repr=False)  # results.csv rows: arm, condition, axes…, metric, …
    glossary: list[tuple[str, str]] = field(default_factory=list)  # the kind's terms (conditions, methods), before metrics
    models: list[dict[str, Any]] = field(default_factory=list)  # appendix rows: study, arm, seed, source, identity
    data: list[dict[str, Any]] = field(default_factory=list)  # appendix rows: study, source, split, fingerprint, …

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
    compute: list[dict[str, Any]]  # study, type (of cell), cells, total_s, mean_s
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
        """Every metric of the included studies, one row per study × arm × condition × metric (the columns
        after ``study`` are each kind's metric frame's)."""
        frames = [s.metric_frame.assign(study=s.name) for s in self.included_studies if s.metric_frame is not None]
        if not frames:
            return pd.DataFrame(columns=["study", "arm", "condition", "metric", "value", "ci_low", "ci_high"])
        frame = pd.concat(frames, ignore_index=True)
        return frame[["study", *[c for c in frame.columns if c != "study"]]]

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
