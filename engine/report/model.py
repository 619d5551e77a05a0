"""The report model: everything a stakeholder report says, built from a project's results database.

No Qt here and nothing that imports torch: ``views.report_render`` turns this model into a folder,
a single HTML file and a PDF, and the app's Report page previews it.

``build_report(project, studies=None, options=None)`` reads the database once (read-only) and asks
each study's kind for its section (``StudyKind.report_section``: tables, chart references,
findings), adds what every section says whatever its kind (cell counts, notes) and the
reproducibility appendix; ``engine.report.options.apply_options`` then chooses what goes in.

``project`` is anything with ``root`` (a folder), ``name``, ``store(read_only=True)`` and
``study_paths()`` — an ``engine.project.Project`` in practice (not imported here: it pulls in the
execution machinery).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.core import queries as Q
from engine.core.errors import JuxtaError
from engine.core.header import DEFAULT_KIND, STUDY_SUFFIX
from engine.core.store import DB_NAME
from engine.kinds import KINDS
from engine.report.appendix import build_appendix
from engine.report.options import apply_options
from engine.report.schema import ReportModel, ReportOptions, StudySection


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
    db_path = root / DB_NAME
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
            kind = str(rec.kind or DEFAULT_KIND)
            if kind not in KINDS:
                notes.append(f"Study '{n}' is a {kind} study, which this Juxta cannot report; it is left out.")
                continue
            section = KINDS[kind].report_section(store, project, n, rec)
            if section is None:
                notes.append(f"Study '{n}' has no finished evaluation cells yet, so it is not in this report.")
                continue
            sections.append(section)
        if not sections:
            raise JuxtaError(f"None of the studies {', '.join(names)} has finished evaluation cells yet; run them first.")
        for section in sections:
            _add_status(store, project, section, recorded[recorded.study == section.name].iloc[0])
        appendix = build_appendix(store, project, sections, recorded)
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


# ---------------------------------------------------------------------------------------------
# what every section says, whatever its kind


def _add_status(store, project: Any, section: StudySection, rec: Any) -> None:
    """The section's cell counts, and notes on unfinished cells and a study file changed since its run."""
    counts = {"planned": 0, "done": 0, "failed": 0, "missing": 0}
    for r in Q.status(store, section.name).itertuples():
        for k in counts:
            counts[k] += int(getattr(r, k) or 0)
    section.status = counts
    notes = []
    if counts["failed"]:
        notes.append(f"{counts['failed']} of {counts['planned']} cells failed; the tables use the finished cells only "
                     "(juxta status lists the errors).")
    if counts["missing"]:
        notes.append(f"{counts['missing']} of {counts['planned']} cells have not been computed yet; the tables use the "
                     "finished cells only.")
    path = Path(project.root) / str(rec.path or f"{section.name}{STUDY_SUFFIX}")
    if path.is_file():
        try:
            if path.read_text(encoding="utf-8") != str(rec.spec_toml or ""):
                notes.append(f"The study file {path.name} has changed since these results were computed; the report "
                             "describes the study as it was run (its file is in the appendix).")
        except (OSError, UnicodeDecodeError):
            notes.append(f"The study file {path.name} cannot be read now; the report describes the study as it was run "
                         "(its file is in the appendix).")
    section.notes = notes + section.notes
