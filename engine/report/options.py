"""Choosing what goes into a report: studies, charts, tables, comments and the title page.

``apply_options(model, options)`` returns a copy of a built report model and touches no database,
so the Report page can update its live preview on every edit. Imports no kind.
"""

from __future__ import annotations

import copy
from datetime import date as _date
from typing import Any

from engine.core.errors import JuxtaError
from engine.report.schema import ReportModel, ReportOptions, StudySection
from engine.report.words import glossary

TEXT_LIMITS = {"title": 300, "author": 300, "introduction": 20_000, "comment": 5_000}
KEY_FINDINGS_PER_STUDY = 3  # in a report of several studies; each study's section lists all of its own


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
    # One study: all its findings lead the report. Several: each study's first few (a kind puts its headline
    # first), so the box stays a summary; every finding is still in its study's own section.
    per_study = None if len(included) == 1 else KEY_FINDINGS_PER_STUDY
    m.key_findings = [f for s in included for f in s.findings[:per_study]]
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
