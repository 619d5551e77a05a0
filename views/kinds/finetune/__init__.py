"""The fine-tuning kind's views: its Results page (the report's findings, five charts, the table of methods and
the learning rates tried), the chart classes it shares with reports, and its new-study wizard.

Modules: ``results_page`` (the page), ``charts`` (the five chart kinds of ``engine.kinds.finetune.report``),
``wizard/`` (the wizard: the shared pages of ``views.wizard`` plus the base, target, shifts and methods
pages). Everything is imported when first asked for: the app imports this package at start-up.
"""

from __future__ import annotations

from typing import Any

from views.kinds.base import KindViews


def _results_page(theme: str):
    from views.kinds.finetune.results_page import ResultsPage

    return ResultsPage(theme=theme)


def _charts():
    from views.kinds.finetune.charts import CHARTS

    return CHARTS


def _wizard(providers, parent, existing_names: list[str], text: str | None = None, model: str | None = None):
    from views.kinds.finetune.wizard.study_wizard import FinetuneWizard

    if text is not None:
        return FinetuneWizard.from_toml(text, providers, parent, existing_names=existing_names)
    wizard = FinetuneWizard(providers, parent, existing_names=existing_names)
    if model:
        wizard.use_local_model(model)
    return wizard


def _findings(project: Any, study: str):
    """findings() -> the study's report findings (paired comparisons on the same examples), read from the
    project's database when called (the page calls it off the GUI thread)."""

    def findings() -> list:
        from engine.report.model import build_report

        return [f for section in build_report(project, studies=[study]).studies for f in section.findings]

    return findings


FINETUNE_VIEWS = KindViews(results_page=_results_page, charts=_charts, wizard=_wizard, extra=_findings)
