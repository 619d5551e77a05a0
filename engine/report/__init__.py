"""Stakeholder reports: a report model built from the results database (no Qt here).

``build_report(project, studies, options)`` reads a project's results and returns a
:class:`~engine.report.model.ReportModel`: title page data, plain-language key findings backed by
intervals and paired comparisons, per-study tables and chart references, a methods glossary and a
reproducibility appendix. ``views.report_render`` draws the charts and writes the folder, HTML and
PDF formats from it.
"""

from engine.report.model import (
    ChartRef, Finding, ReportModel, ReportOptions, StudySection, Table, apply_options, build_report,
)

__all__ = ["ChartRef", "Finding", "ReportModel", "ReportOptions", "StudySection", "Table", "apply_options", "build_report"]
