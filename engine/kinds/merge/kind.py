"""The merge kind: which way of merging fine-tuned experts into one model keeps most of each expert?

A study names a base, experts (each with one evaluation task: a dataset under a condition), and
merge methods with parameter grids. Modules (``engine.kinds.merge.study``): ``spec`` (the study file),
``plan`` (cells), ``work`` (expert fine-tunings, fits of data-based methods, evaluations, diagnostics),
``sweep`` (in-memory merges), ``results`` (``MergeResults``), ``report`` (the report section),
``describe`` (for views), ``checks`` (validate-time checks), ``export`` (a study's merge as files).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from engine.core.cells import Cell
from engine.core.errors import Problem
from engine.core.header import SourceEntry
from engine.core.store import Store
from engine.kinds.base import Description, StudyKind
from engine.kinds.merge.study.describe import describe
from engine.kinds.merge.study.plan import DIAGNOSE, EVAL, EXPERT, FIT, VERSIONS, MergeStudyPlan, plan_study
from engine.kinds.merge.study.spec import MergeStudy, source_entries
from engine.kinds.merge.study.work import diagnose_cell, eval_cell, expert_cell, fit_cell
from engine.models.training_cell import TRAIN_TYPE, train_cell

if TYPE_CHECKING:  # results and reports load pandas: imported when first asked for
    from engine.kinds.base import ResultsSummary
    from engine.kinds.merge.study.results import MergeResults
    from engine.report.schema import StudySection

EXAMPLE = """schema_version = 1
[study]
name = "{name}"
kind = "merge"
title = "Which merge keeps most of two small digits experts?"
seeds = [0]

[base]
source = "builtin:digits-mlp"
train = {{ epochs = 3 }}

[data]
source = "builtin:digits"
max_examples = 120

[[experts]]
id = "rotated"
condition = "rotate/2"
tune = {{ epochs = 2 }}

[[experts]]
id = "inverted"
condition = "invert/5"
tune = {{ epochs = 2 }}

[merge]
methods = [
    {{ method = "linear" }},
    {{ method = "ties", density = [0.2, 0.5], lambda = 1.0 }},
    {{ method = "adamerging", steps = 3 }},
]

[metrics]
bootstrap = 50

[execution]
backend = "sequential"
"""


class MergeKind(StudyKind):
    name = "merge"
    title = "Model merging"
    question = "Which way of merging fine-tuned experts into one model keeps most of each expert?"
    spec = MergeStudy
    work = {TRAIN_TYPE: train_cell, EXPERT: expert_cell, FIT: fit_cell, EVAL: eval_cell, DIAGNOSE: diagnose_cell}
    versions = VERSIONS

    def plan(self, study: MergeStudy, root: Path, artifacts: dict[str, str]) -> MergeStudyPlan:
        return plan_study(study, root, artifacts)

    def check(self, study: MergeStudy, root: Path, plan: MergeStudyPlan, text: str | None = None) -> list[Problem]:
        from engine.kinds.merge.study.checks import study_problems

        return study_problems(plan, root, text)

    def sources(self, study: MergeStudy) -> list[SourceEntry]:
        return source_entries(study)

    def load_results(self, store: Store, study: str) -> MergeResults:
        from engine.kinds.merge.study.results import load_merge_results

        return load_merge_results(store, study)

    def report_section(self, store: Store, project: Any, study_name: str, record: Any) -> StudySection | None:
        from engine.kinds.merge.study.report.section import merge_section

        return merge_section(store, study_name, record)

    def results_summary(self, store: Store, study: str, options: Mapping[str, Any]) -> ResultsSummary:
        from engine.kinds.merge.study.summary import results_summary

        return results_summary(store, study, options)

    def describe(self, study: MergeStudy) -> Description:
        return describe(study)

    def condition_label(self, condition: str) -> str:
        return {"tune": "fine-tuning", "fit": "fitting", "all": "all experts", "train": "training"}.get(
            condition, f"task {condition}")

    def cell_label(self, cell: Cell) -> str:
        words = {TRAIN_TYPE: "training the base", EXPERT: "fine-tuning the expert", FIT: "fitting the merge",
                 DIAGNOSE: "comparing the experts' updates"}
        return words.get(cell.type, f"task {cell.condition}")

    def example_study(self, name: str) -> str:
        return EXAMPLE.format(name=name)
