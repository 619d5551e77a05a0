"""The merge kind's views: its Results page (a headline, five charts, the table of rows) and the chart classes
it shares with reports.

Modules: ``results_page`` (the page), ``table`` (its rows, for screen and export), ``charts`` (the five chart
kinds).
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


MERGE_VIEWS = KindViews(results_page=_results_page, charts=_charts)
