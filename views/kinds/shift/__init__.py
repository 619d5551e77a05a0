"""The shift kind's views: its Results page (four linked charts, a metric table, a paired comparison), the
chart classes it shares with reports, and its new-study wizard.

Modules: ``results_page`` and ``compare_panel`` (the page), ``charts`` (the four chart kinds),
``wizard/`` (the wizard: the shared pages of ``views.wizard`` plus the conditions page). Everything is
imported when first asked for: the app imports this package at start-up.
"""

from __future__ import annotations

from typing import Any

from views.kinds.base import KindViews


def _results_page(theme: str):
    from views.kinds.shift.results_page import ResultsPage

    return ResultsPage(theme=theme)


def _charts():
    from views.kinds.shift.charts import CHARTS

    return CHARTS


def _wizard(providers, parent, existing_names: list[str], text: str | None = None, model: str | None = None):
    from views.kinds.shift.wizard.study_wizard import StudyWizard

    if text is not None:
        return StudyWizard.from_toml(text, providers, parent, existing_names=existing_names)
    wizard = StudyWizard(providers, parent, existing_names=existing_names)
    if model:
        wizard.add_local_model(model)
    return wizard


def _compare(project: Any, study: str):
    """compare(arm_a, arm_b, condition) -> PairedComparison, read from the project's database when called."""

    def compare(arm_a: str, arm_b: str, condition: str):
        from engine.kinds.shift.results import compare_arms

        with project.store(read_only=True) as store:
            return compare_arms(store, study, arm_a, arm_b, condition)

    return compare


SHIFT_VIEWS = KindViews(results_page=_results_page, charts=_charts, wizard=_wizard, extra=_compare)
