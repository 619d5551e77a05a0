"""The views of each study kind, registered in one place: ``VIEW_KINDS`` maps ``[study].kind`` to its
:class:`~views.kinds.base.KindViews` (results page, report charts, wizard, extra callables).

The app and the report renderer find a kind's views here and nowhere else; adding a kind's views is one
folder (``views/kinds/<name>/``) and one line here. ``tests/kinds/test_contract.py`` holds every kind of
``engine.kinds.KINDS`` to having an entry whose page shows that kind's results.
"""

from __future__ import annotations

from views.kinds.base import KindViews, LivePoint, ReportChart, ResultsView
from views.kinds.finetune import FINETUNE_VIEWS
from views.kinds.merge import MERGE_VIEWS
from views.kinds.shift import SHIFT_VIEWS

VIEW_KINDS: dict[str, KindViews] = {"shift": SHIFT_VIEWS, "finetune": FINETUNE_VIEWS, "merge": MERGE_VIEWS}

__all__ = ["VIEW_KINDS", "KindViews", "LivePoint", "ReportChart", "ResultsView", "chart_class"]


def chart_class(kind: str, chart_kind: str) -> type[ReportChart]:
    """The class that draws ``chart_kind`` for studies of ``kind``; KeyError with a plain message otherwise."""
    views = VIEW_KINDS.get(kind)
    charts = views.charts() if views is not None else {}
    if chart_kind not in charts:
        raise KeyError(f"This Juxta cannot draw a '{chart_kind}' chart for a study of kind '{kind}'.")
    return charts[chart_kind]
