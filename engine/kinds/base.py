"""What a study kind is: the one interface the project, the coordinator, reports and views use.

A kind is a folder, ``engine/kinds/<name>/``, whose ``__init__`` defines a ``StudyKind`` subclass;
``engine/kinds/__init__.py`` registers one instance of it in ``KINDS``. Kinds import the core, the
shared libraries (data, models, conditions, metrics, stats) and the report vocabulary
(``engine.report.schema``/``findings``/``words``/``paired``), never each other (import-linter checks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from engine.core.cells import Cell, Plan, WorkFunction
from engine.core.errors import JuxtaError, Problem, StudyFileError
from engine.core.header import SourceEntry, StudyFile, local_source_problems, study_text
from engine.core.messages import field_words
from engine.core.store import Store
from engine.models.training_cell import TRAIN_TYPE

if TYPE_CHECKING:  # the report vocabulary loads pandas; the registry does not need it to import
    from engine.report.schema import StudySection, Table


@dataclass
class Description:
    """A study in numbers and plain words, from its file alone (no data loaded), for views.

    ``counts``: e.g. models, conditions, seeds, cells (evaluation cells), training cells — equal to what
    ``plan`` makes, except where ``approximate`` says they depend on the data (a group shift over every
    group of the data). ``cells_sentence``: "3 models × 64 conditions × 3 seeds = 576 evaluation
    cells, plus 9 training runs". ``rows``: the study page's summary, label -> plain text.
    """

    counts: dict[str, int]
    cells_sentence: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    approximate: bool = False


@dataclass
class ResultsSummary:
    """What ``juxta results`` prints for a study: tables in the report's own vocabulary
    (``engine.report.schema.Table``: title, caption, columns, rows of ``TableCell`` text with an optional
    interval as ``sub``, alignment per column), then plain sentences (a paired comparison, the spread
    over seeds)."""

    tables: list[Table] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


class StudyKind(ABC):
    """One kind of study: its file's model, how it becomes cells, how cells are computed, how results
    are read back, reported and described."""

    name: ClassVar[str]  # the value of [study].kind, e.g. "shift"
    title: ClassVar[str]  # "Distribution shift"
    question: ClassVar[str]  # one plain sentence: what this kind of study answers
    spec: ClassVar[type[StudyFile]]  # the whole study file's model (header included)
    work: ClassVar[dict[str, WorkFunction]]  # cell type -> module-level work function (cell, ctx) -> CellResult
    versions: ClassVar[dict[str, int]]  # cell type -> compute version (bump when results change)

    @abstractmethod
    def plan(self, study: Any, root: Path, artifacts: dict[str, str]) -> Plan:
        """The study's cells (content-keyed), loading what it must to fingerprint inputs; raises
        StudyFileError (with key paths) when the study does not fit its data."""

    def check(self, study: Any, root: Path, plan: Plan, text: str | None = None) -> list[Problem]:
        """Cheap validate-time checks beyond planning (models against data, …); nothing is run.
        ``text``: the study file's, for line numbers."""
        return []

    @abstractmethod
    def sources(self, study: Any) -> list[SourceEntry]:
        """Every model and dataset source the study names: (key path, source text, 'model' or 'data')."""

    def check_files(self, study: Any, root: Path, path: str = "<study>", text: str | None = None) -> None:
        """Refuse, with every problem at once, a study whose local files are missing or unreadable
        (``text``: the study file's, for line numbers; read from ``path`` by default)."""
        text = text if text is not None else study_text(path)
        problems = local_source_problems(self.sources(study), root, text)
        if problems:
            raise StudyFileError(path, problems)

    @abstractmethod
    def load_results(self, store: Store, study: str) -> Any:
        """The kind's results object for a study (what its charts and tables draw)."""

    @abstractmethod
    def report_section(self, store: Store, project: Any, study_name: str, record: Any) -> StudySection | None:
        """The study's report section (``record``: its row of the studies table, with the file as run), or
        None while nothing is finished to report."""

    @abstractmethod
    def describe(self, study: Any) -> Description:
        """Counts, a cells sentence and summary rows for views, from the study file alone."""

    def results_summary(self, store: Store, study: str, options: Mapping[str, Any]) -> ResultsSummary:
        """A finished (or partly finished) study's results in a few tables, for ``juxta results``.

        ``options`` are the command's flags, each None or False when not given: ``metric`` (a metric
        name), ``full`` (every condition instead of a summary per family), ``compare`` (two arms, for
        a paired comparison), ``condition`` (where to compare), ``drop`` (relative drop from the
        reference condition), ``ood`` (how well scores detect shifted inputs). A kind reads the ones it
        has a meaning for and refuses, with a JuxtaError naming the flag, one it cannot honour; bad
        values (an unknown metric or arm) get one plain sentence. Raises JuxtaError when nothing is
        finished yet. Every kind should give one (the contract test asks); until it does, the command says so."""
        raise JuxtaError(f"`juxta results` cannot summarise {self.title.lower()} studies yet; "
                         "see them in the app, or write their tables with `juxta export`.")

    def condition_label(self, condition: str) -> str:
        """The display name of a condition id of this kind."""
        return condition

    def cell_label(self, cell: Cell) -> str:
        """What a cell computes, in a few words, for the Run page's condition column and progress lines:
        "training" for the shared training of a built-in model, else its condition's display name. A kind
        with cells of other types (tuning, merging) says what they do ("fine-tuning")."""
        return "training" if cell.type == TRAIN_TYPE else self.condition_label(cell.condition)

    def field_words(self, key: tuple[str | int, ...]) -> str:
        """What a key of this kind's study file is called in plain words (for forms and messages)."""
        return field_words(key, self.spec.WORDS)

    @abstractmethod
    def example_study(self, name: str) -> str:
        """A tiny valid study file of this kind named ``name``: quick to run (contract tests, a wizard's seed)."""
