"""The fine-tuning kind: which way of adapting a pretrained model gives the most gain per cost, and what
does it forget?

A study names a base model, a target (train / validation / test, optionally moved to a domain), shifted
variants of the target's test split and a source dataset (the task the base already does); its arms are
methods × budgets, each tuned at a few learning rates × seeds. The kind on the seam:

* ``spec``       the study file (``[base]``, ``[target]``, ``[shifted]``, ``[source]``, ``[[methods]]``,
  ``[training]``); ``arms``: entries and budget sweeps -> arms with ids and labels;
* ``plan``       cells: the shared built-in base training, ``ft.tune``, ``ft.select``, ``ft.eval``;
* ``check``      validate-time checks (the base, its head, the source, adapters' targets and ranks);
* ``work``       the work functions; ``domain``: a target domain as data; ``saved``: a tuned model's
  artifact folder;
* ``results``    ``FinetuneResults``; ``report/``: the report section; ``describe``: for views.

And its algorithm library, which needs no study file, plan or store:

* ``methods/``   one file per method, registered in ``methods.METHODS``;
* ``layout``     where a model's head and blocks are, per architecture (``wrapping``: copies of
  classifiers, the plain model under a PEFT wrapper);
* ``head``       fitting the head to the target's classes, and the checks on the base and source;
* ``targets``    PEFT target modules per architecture (a visible default the user can change);
* ``features``   pre-head features computed once and cached (linear probing); ``batches``: dataset
  rows as model inputs;
* ``training``   the one training loop every method uses (``errors``: what it raises);
* ``memory``     peak memory of a run; ``params``: trainable-parameter counts;
* ``tune``       a base + a target + a method -> a tuned model, its curves and costs;
* ``export``     tuned models as safetensors, Hugging Face folders or PEFT adapter folders.

Results and report modules are imported inside the methods that use them: the registry is imported at
start-up and stays free of pandas and torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from engine.conditions.catalog import condition_label
from engine.core.cells import Cell
from engine.core.errors import Problem
from engine.core.header import SourceEntry
from engine.core.store import Store
from engine.kinds.base import Description, StudyKind
from engine.kinds.finetune.describe import describe
from engine.kinds.finetune.plan import EVAL, SELECT, TUNE, VERSIONS, FinetunePlan, plan_study
from engine.kinds.finetune.spec import FinetuneStudy, source_entries
from engine.kinds.finetune.work import eval_cell, select_cell, tune_cell
from engine.models.training_cell import TRAIN_TYPE, train_cell

if TYPE_CHECKING:  # results and reports load pandas: imported when first asked for, not with the registry
    from engine.kinds.finetune.results import FinetuneResults
    from engine.report.schema import StudySection

EXAMPLE = """schema_version = 1
[study]
name = "{name}"
kind = "finetune"
title = "How best to adapt a small digits model to inverted scans?"
seeds = [0]

[base]
source = "builtin:digits-mlp"
train = {{ epochs = 3 }}

[target]
source = "builtin:digits"
domain = "invert/5"
max_examples = 120

[shifted]
conditions = ["gaussian_noise/3"]

[source]
source = "builtin:digits"
max_examples = 120

[[methods]]
method = "linear_probe"

[[methods]]
method = "lora"
rank = [2]

[[methods]]
method = "full"

[[methods]]
method = "wise_ft"
from = "full"
alphas = [0.0, 0.5, 1.0]

[training]
epochs = 2
lr_sweep = false

[metrics]
names = ["accuracy", "ece"]
bootstrap = 50

[execution]
backend = "sequential"
"""

SET_WORDS = {"target": "the target test set (in distribution)", "source": "the source test set (forgetting)",
             "validation": "the target validation set", "select": "choosing the learning rate", "train": "training"}


class FinetuneKind(StudyKind):
    name = "finetune"
    title = "Fine-tuning"
    question = "Which way of adapting a pretrained model gives the most gain per cost, and what does it forget?"
    spec = FinetuneStudy
    work = {TRAIN_TYPE: train_cell, TUNE: tune_cell, SELECT: select_cell, EVAL: eval_cell}
    versions = VERSIONS

    def plan(self, study: FinetuneStudy, root: Path, artifacts: dict[str, str]) -> FinetunePlan:
        return plan_study(study, root, artifacts)

    def check(self, study: FinetuneStudy, root: Path, plan: FinetunePlan, text: str | None = None) -> list[Problem]:
        from engine.kinds.finetune.check import finetune_problems

        return finetune_problems(plan, root, text)

    def sources(self, study: FinetuneStudy) -> list[SourceEntry]:
        return source_entries(study)

    def load_results(self, store: Store, study: str) -> FinetuneResults:
        from engine.kinds.finetune.results import load_finetune_results

        return load_finetune_results(store, study)

    def report_section(self, store: Store, project: Any, study_name: str, record: Any) -> StudySection | None:
        from engine.kinds.finetune.report.section import finetune_section

        return finetune_section(store, study_name, record)

    def results_summary(self, store: Store, study: str, options: Mapping[str, Any]) -> Any:
        """``juxta results`` for a fine-tuning study: the arms table and the learning rates tried."""
        from engine.kinds.finetune.report.summary import results_summary

        return results_summary(store, study, options)

    def describe(self, study: FinetuneStudy) -> Description:
        return describe(study)

    def condition_label(self, condition: str) -> str:
        """'target', 'ood:gaussian_noise/3', 'source', 'validation', 'lr=0.005', 'select' in words."""
        if condition.startswith("ood:"):
            return f"the target test set under {condition_label(condition[4:])}"
        if condition.startswith("lr="):
            return f"learning rate {condition[3:]}"
        return SET_WORDS.get(condition, condition)

    def cell_label(self, cell: Cell) -> str:
        if cell.type == TUNE:
            return f"fine-tuning at {self.condition_label(cell.condition)}"
        if cell.type == SELECT:
            return "choosing the learning rate" if cell.arm != "base" else "publishing the base"
        return "training" if cell.type == TRAIN_TYPE else self.condition_label(cell.condition)

    def example_study(self, name: str) -> str:
        return EXAMPLE.format(name=name)
