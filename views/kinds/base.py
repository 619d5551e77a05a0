"""What the app and the report renderer ask of a study kind's views: :class:`KindViews`.

A kind's views live in ``views/kinds/<kind>/``; its ``__init__`` builds one ``KindViews`` whose
callables import the kind's pages, charts and wizard only when first called (the registry is imported
at start-up; pages pull in pandas and pyqtgraph). Kinds' views never import each other
(import-linter); what they share (palette, chart base, table model, wizard pages) is in ``views/``.

A results page is a QWidget with the methods of :class:`ResultsView`; the app calls nothing else on
it. A chart a report can draw is a class with the two class methods of :class:`ReportChart`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget, QWizard

    from engine.report.schema import ChartRef
    from views.providers import StudyProviders


@dataclass(frozen=True)
class LivePoint:
    """One point of a learning curve a running cell just measured (a ``cell_curve`` run event, as plain data):
    a page that draws curves while they are being trained implements ``add_live_points``."""

    cell_key: str
    arm: str
    seed: int
    step: int
    series: str  # "loss", "val_accuracy", …
    value: float


class ResultsView(Protocol):
    """A kind's Results page, one per kind in a window, shown for the current study of that kind."""

    @property
    def results(self) -> Any:
        """The results on screen (what ``Project.results`` returned), or None."""

    def begin_study(self, study: str) -> None:
        """Another study is about to be shown: forget what belonged to the last one (filters, choices)."""

    def set_results(self, results: Any, extra: Any = None, note: str = "") -> None:
        """Show a study's results, read off the GUI thread with ``Project.results(name)``; None (or results with
        nothing finished) shows the page's empty state. ``extra``: what ``KindViews.extra(project, study)``
        made (None when the kind has none). ``note``: why the results may be partial (a run in progress, a
        changed study file), shown above them."""

    def empty_text(self) -> str:
        """What the page says while it has nothing to draw."""

    def set_export_folder(self, folder: Callable[[], str]) -> None:
        """Where export dialogs open until the user saves somewhere else."""

    def export_table_dialog(self) -> None:
        """File ▸ Export Results: ask where, then save the study's results table."""

    def set_theme(self, theme: str) -> None:
        """Redraw in "light" or "dark" (pages also follow the application's theme by themselves)."""

    # Optional: ``add_live_points(points: list[LivePoint])`` — draw learning-curve points of the study on screen
    # while it runs (the app calls it only on pages that have it, for the study they show).


class ReportChart(Protocol):
    """A chart class a report can draw: built hidden from a study section's results and a ``ChartRef``."""

    title: str
    description: str  # one plain sentence, the figure's caption starts with it

    @classmethod
    def for_report(cls, results: Any, ref: ChartRef, theme: str = "light") -> QWidget:
        """The chart for ``ref`` (its ``params`` choose what it shows), drawn from the section's results."""

    @classmethod
    def report_size(cls, ref: ChartRef) -> tuple[int, int]:
        """Its logical size in a report (width, height in CSS pixels / points)."""


# (providers, parent, existing study names, text of the study to edit or None, a dropped model or None) -> wizard
WizardFactory = Callable[["StudyProviders", "QWidget | None", list[str], "str | None", "str | None"], "QWizard"]


@dataclass(frozen=True)
class KindViews:
    """A study kind's views, as the app and the report renderer find them in ``VIEW_KINDS``.

    ``results_page(theme)``: a new :class:`ResultsView`. ``charts()``: chart kind (``ChartRef.kind``) -> a
    :class:`ReportChart` class. ``wizard``: builds the kind's new-study wizard (``text`` given: to edit that
    study; raises when the text cannot fill it) or None while the kind has none — New Study then starts from
    the kind's ``example_study()`` in the study file editor. The wizard emits ``runRequested(str)`` and
    ``finished(int)`` and answers ``study_name()`` and ``study_toml()``; it never writes files. ``extra``:
    (project, study) -> what the results page may ask for later, beyond the loaded results (shift: a paired
    comparison of two arms, computed off the GUI thread), or None.
    """

    results_page: Callable[[str], ResultsView]
    charts: Callable[[], Mapping[str, type[ReportChart]]]
    wizard: WizardFactory | None = None
    extra: Callable[[Any, str], Any] | None = None
