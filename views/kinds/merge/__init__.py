"""The merge kind's views: its Results page (a headline, five charts, the table of rows), the chart classes
it shares with reports, and its new-study wizard.

Modules: ``results_page`` (the page), ``table`` (its rows, for screen and export), ``charts`` (the five chart
kinds), ``wizard/`` (the shared pages of ``views.wizard`` plus the base, experts and methods pages).
Everything is imported when first asked for: the app imports this package at start-up.
"""

from __future__ import annotations

from views.kinds.base import KindViews


def _results_page(theme: str):
    from views.kinds.merge.results_page import MergeResultsPage

    return MergeResultsPage(theme=theme)


def _charts():
    from views.kinds.merge.charts import CHARTS

    return CHARTS


def _wizard(providers, parent, existing_names: list[str], text: str | None = None, model: str | None = None):
    from views.kinds.merge.wizard.merge_wizard import MergeWizard

    if text is not None:
        return MergeWizard.from_toml(text, providers, parent, existing_names=existing_names)
    wizard = MergeWizard(providers, parent, existing_names=existing_names)
    if model:
        wizard.add_local_model(model)
    return wizard


MERGE_VIEWS = KindViews(results_page=_results_page, charts=_charts, wizard=_wizard)
