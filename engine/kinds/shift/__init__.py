"""The shift kind: how much does each model lose when the data moves away from what it was trained on?

Arms are models; conditions are the clean split, corruptions × severities, table and text shifts,
label and group shifts, and field datasets (``engine.conditions``). Modules: ``spec`` (the study
file), ``plan`` (conditions → cells), ``work`` (train and eval cells), ``results`` (tables with
intervals, drops, effective robustness), ``report`` (the report section), ``summary`` (``juxta results``),
``describe`` (for views).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from engine.conditions.catalog import condition_label
from engine.core.errors import Problem, StudyFileError
from engine.core.header import SourceEntry, study_text
from engine.core.messages import problem_at
from engine.core.sources import parse_source
from engine.core.store import Store
from engine.kinds.base import Description, StudyKind
from engine.kinds.shift.describe import describe
from engine.kinds.shift.plan import VERSIONS, ShiftPlan, model_problems, plan_study
from engine.kinds.shift.spec import ShiftStudy, source_entries
from engine.kinds.shift.work import eval_cell
from engine.models.training_cell import TRAIN_TYPE, train_cell

if TYPE_CHECKING:  # results and reports load pandas: imported when first asked for, not with the registry
    from engine.kinds.base import ResultsSummary
    from engine.kinds.shift.results import ShiftResults
    from engine.report.schema import StudySection

EXAMPLE = """schema_version = 1
[study]
name = "{name}"
kind = "shift"
title = "Which small digits model copes with noise?"
seeds = [0]

[[models]]
id = "mlp"
source = "builtin:digits-mlp"
train = {{ epochs = 2 }}

[[models]]
id = "cnn"
source = "builtin:digits-cnn"
train = {{ epochs = 1 }}

[data]
source = "builtin:digits"
max_examples = 100

[shift]
corruptions = ["gaussian_noise"]
severities = [3]
label_shift = {{ dirichlet_alpha = [0.5] }}

[metrics]
bootstrap = 50

[execution]
backend = "sequential"
"""


class ShiftKind(StudyKind):
    name = "shift"
    title = "Distribution shift"
    question = "How much does each model lose when the data moves away from what it was trained on?"
    spec = ShiftStudy
    work = {TRAIN_TYPE: train_cell, "eval": eval_cell}
    versions = VERSIONS

    def plan(self, study: ShiftStudy, root: Path, artifacts: dict[str, str]) -> ShiftPlan:
        return plan_study(study, root, artifacts)

    def check(self, study: ShiftStudy, root: Path, plan: ShiftPlan, text: str | None = None) -> list[Problem]:
        return model_problems(plan, root, text)

    def sources(self, study: ShiftStudy) -> list[SourceEntry]:
        return source_entries(study)

    def check_files(self, study: ShiftStudy, root: Path, path: str = "<study>", text: str | None = None) -> None:
        """Local files exist and are readable, and image corruptions are not asked of a table or text file."""
        text = text if text is not None else study_text(path)
        problems: list[Problem] = []
        try:
            super().check_files(study, root, path, text)
        except StudyFileError as exc:
            problems += exc.problems
        if study.shift.corruptions and parse_source(study.data.source, kind="data").scheme in ("csv", "parquet"):
            problems.append(problem_at(text, ("shift", "corruptions"), "image corruptions need image data; this is a "
                                       "table or text file, use [shift].tabular or [shift].text"))
        if problems:
            raise StudyFileError(path, problems)

    def load_results(self, store: Store, study: str) -> ShiftResults:
        from engine.kinds.shift.results import load_shift_results

        return load_shift_results(store, study)

    def report_section(self, store: Store, project: Any, study_name: str, record: Any) -> StudySection | None:
        from engine.kinds.shift.report.section import shift_section

        return shift_section(store, study_name, record)

    def results_summary(self, store: Store, study: str, options: Mapping[str, Any]) -> ResultsSummary:
        from engine.kinds.shift.summary import results_summary

        return results_summary(store, study, options)

    def describe(self, study: ShiftStudy) -> Description:
        return describe(study)

    def condition_label(self, condition: str) -> str:
        return condition_label(condition)

    def example_study(self, name: str) -> str:
        return EXAMPLE.format(name=name)
