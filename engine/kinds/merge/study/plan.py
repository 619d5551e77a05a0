"""Planning a merge study: its file becomes content-hashed cells.

Cell types and what their specs hold (the key hashes the spec):

* ``train`` (shared with every kind): a built-in base trained on ``[data]``'s train split;
* ``merge.expert``: an expert made here, the base fine-tuned on its task's train split — base, task,
  recipe, seed;
* ``merge.fit``: a data-based method's configuration (AdaMerging, Fisher, RegMean) fitted once —
  merge (method, parameters, conventions, seed, base, experts, heads), the tasks, the split it fits on;
* ``merge.eval``: one row of the results × one task — the base, an expert, or a merged configuration
  (merged in memory, or the fit cell's weights; with ``batch_norm = "recompute"``, the calibration
  inputs its batch-norm statistics are re-estimated on) scored on the task's report split (and, for
  merged configurations, its selection split);
* ``merge.diagnose``: task-vector similarity, sign conflicts and update norms of the experts.

Deterministic configurations run with the study's first seed; random ones (DARE, DELLA) once per seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.cells import Cell, Plan, cell_key
from engine.core.errors import JuxtaError, Problem, StudyFileError
from engine.core.header import outside_project_warnings
from engine.core.messages import number
from engine.core.sources import parse_source
from engine.data.base import Dataset
from engine.data.loaders import load_data
from engine.data.spec import DataSpec, data_spec
from engine.kinds.merge.catalog import METHOD_KINDS, RANDOM_METHODS
from engine.kinds.merge.study.batchnorm import calibration
from engine.kinds.merge.study.spec import (
    ExpertSpec, MergeStudy, MethodEntry, condition_kind, parse_condition, source_entries,
)
from engine.models.identity import model_identity
from engine.models.spec import ModelSpec
from engine.models.training_cell import TRAIN_TYPE, TRAIN_VERSION, training_cell

EXPERT, FIT, EVAL, DIAGNOSE = "merge.expert", "merge.fit", "merge.eval", "merge.diagnose"
# Bump an entry when that cell type's computation changes its results.
VERSIONS = {TRAIN_TYPE: TRAIN_VERSION, EXPERT: 1, FIT: 1, EVAL: 1, DIAGNOSE: 1}
CELL_TYPES = (TRAIN_TYPE, EXPERT, FIT, EVAL, DIAGNOSE)
# What charts group an evaluation cell by (name -> SQL type, for engine.core.queries).
AXES = {"role": "VARCHAR", "method": "VARCHAR", "entry": "VARCHAR", "task": "VARCHAR"}
CONFLICT_DENSITY = 0.2  # sign conflicts are also measured after keeping each tensor's top 20% (TIES' default)
# A task's condition moves its data the same way whatever the study's seeds (as a fine-tuning study's
# target domain does, with the same seed 0), so an expert is scored on the domain it was tuned on.
CONDITION_SEED = 0


@dataclass(frozen=True)
class Config:
    """One merged configuration: a point of a method entry's grid (and a seed, for random methods)."""

    arm: str  # "ties[density=0.2,lambda=0.5]" (the same for every seed of a random method)
    entry: str  # the method entry's name
    index: int  # the entry's position in [merge].methods
    method: str
    parameters: dict[str, Any]
    grid: dict[str, Any]  # the varying parameters' values (what names the configuration)
    conventions: str
    seed: int
    fit_on: str | None
    batch_norm: str = "merge"  # "recompute": statistics re-estimated on the merged model (study.batchnorm)


@dataclass
class MergeStudyPlan(Plan):
    """A merge study's plan, with what validation checks against the models."""

    configs: list[Config] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # "base" and expert ids -> model dicts
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # expert id -> task dict
    summaries: dict[str, Any] = field(default_factory=dict)  # expert id -> DataSummary of its task's data


def config_arm(entry: MethodEntry, point: dict[str, Any]) -> str:
    varying = entry.varying()
    if not varying:
        return entry.name
    return f"{entry.name}[{','.join(f'{k}={_value(point[k])}' for k in varying)}]"


def _value(v: Any) -> str:
    return str(v).lower() if isinstance(v, bool) else number(v) if isinstance(v, (int, float)) else str(v)


def configurations(study: MergeStudy) -> list[Config]:
    """Every merged configuration of the study, entry by entry, in grid order."""
    out = []
    seeds = list(study.study.seeds)
    for i, entry in enumerate(study.merge.methods):
        conv = entry.conventions or study.merge.conventions
        bn = entry.batch_norm or study.merge.batch_norm
        fit_on = entry.fit_on or ("test" if entry.method == "adamerging" else "train") if METHOD_KINDS[entry.method] == "model" else None
        for point in entry.grid():
            arm = config_arm(entry, point)
            grid = {k: point[k] for k in entry.varying()}
            run_seeds = seeds if entry.method in RANDOM_METHODS else seeds[:1]
            for s in run_seeds:  # a random method's seeds are one row of the results, averaged
                out.append(Config(arm, entry.name, i, entry.method, dict(point), grid, conv, s, fit_on, bn))
    return out


def check_configurations(study: MergeStudy, text: str | None = None) -> list[Problem]:
    """Each entry's parameters against its method (names, bounds, model counts), one problem per entry."""
    from engine.core.messages import problem_at
    from engine.kinds.merge.checks import MergeError
    from engine.kinds.merge.methods import get_method
    from engine.kinds.merge.validation import check_counts, validate_params

    problems: list[Problem] = []
    n = len(study.experts)
    for i, entry in enumerate(study.merge.methods):
        key = ("merge", "methods", i)
        method = get_method(entry.method)
        try:
            check_counts(method, n, True, n + (0 if method.base == "unused" else 1))
            globals_ = set(_keys(method.options))
            per_model = set(_keys(method.model_params))
            for name in entry.parameters:
                if name not in globals_ | per_model:
                    known = ", ".join(sorted(globals_ | per_model)) or "none"
                    raise MergeError(f"{entry.method} has no parameter '{name}'; its parameters are: {known}")
            for point in entry.grid():
                validate_params(method.options, {k: v for k, v in point.items() if k in globals_}, entry.method, "in the grid")
                validate_params(method.model_params, {k: v for k, v in point.items() if k in per_model}, entry.method,
                                "in the grid")
        except MergeError as exc:
            problems.append(problem_at(text, key, str(exc).rstrip(".")))
    return problems


def _keys(model) -> list[str]:
    from engine.kinds.merge.methods.base import param_keys

    return param_keys(model)


def task_dict(study: MergeStudy, expert: ExpertSpec, dspec: dict[str, Any]) -> dict[str, Any]:
    name, severity = parse_condition(expert.condition)
    cond = {"id": expert.condition, "kind": condition_kind(name)}
    if name != "clean":
        cond.update({"name": name, "severity": severity})
    return {"id": expert.id, "data": dspec, "condition": cond, "condition_seed": CONDITION_SEED}


def _model(mid: str, source: str, identity: str, trust: bool, cell: str | None) -> dict[str, Any]:
    return {"id": mid, "source": source, "identity": identity, "trust_remote_code": trust, "cell": cell}


def plan_study(study: MergeStudy, root: Path, artifacts: dict[str, str] | None = None, text: str | None = None
               ) -> MergeStudyPlan:
    """Expand a validated merge study into cells; loads each task's data once to fingerprint its splits."""
    artifacts = artifacts or {}
    problems = check_configurations(study, text)
    if problems:
        raise StudyFileError("[merge]", problems)
    seed0 = study.study.seeds[0]
    report_split = study.data.split
    selection = "validation" if study.merge.tuning == "validation" else None
    loaded: dict[str, tuple[Dataset, dict]] = {}
    specs: dict[str, dict[str, Any]] = {}
    tasks: dict[str, dict[str, Any]] = {}
    summaries: dict[str, Any] = {}
    recompute = any(c.batch_norm == "recompute" for c in configurations(study))  # calibrates on the train splits
    for i, e in enumerate(study.experts):
        d = study.task_data(e)
        dspec, data, parts = _fingerprinted(d, root, loaded, i if e.data is not None else None, selection,
                                            e.tune is not None or recompute)
        specs[e.id] = dspec
        name, _ = parse_condition(e.condition)
        kind = condition_kind(name)
        wanted = {"corruption": "image", "tabular": "tabular", "text": "text"}.get(kind)
        if wanted and data.modality != wanted:
            key = ("experts", i, "condition")
            raise StudyFileError("[[experts]]", [Problem(f"'{e.condition}' applies to {wanted} data, but {d.source} holds "
                                                         f"{data.modality} data", key)])
        tasks[e.id] = task_dict(study, e, dspec)
        summaries[e.id] = data.summary()
    cells: list[Cell] = []
    base_data = study.data
    bspec, bdata, bparts = _fingerprinted(base_data, root, loaded, None, None, False)
    summaries["base"] = bdata.summary()
    bsrc = parse_source(study.base.source, kind="model")
    base_cell = None
    if bsrc.scheme == "builtin":
        train = training_cell(study.name, "base", study.base.source,
                              study.base.train.model_dump(exclude_none=True) if study.base.train else None,
                              data_spec(base_data), bdata, bparts["train"], seed0)
        cells.append(train)
        base_cell = train.key
    ident = _identity("base", study.base.source, root, base_cell, artifacts, ("base", "source"))
    base = _model("base", study.base.source, ident, study.base.trust_remote_code, base_cell)
    models: dict[str, dict[str, Any]] = {"base": base}
    for i, e in enumerate(study.experts):
        if e.tune is not None:
            if bsrc.scheme == "hf":
                raise StudyFileError("[[experts]]", [Problem(
                    f"expert '{e.id}': tune fine-tunes a built-in or Juxta base here; for a Hugging Face base, fine-tune "
                    "in a fine-tuning study and name its artifact as the expert's source", ("experts", i, "tune"))])
            tspec = {"base": base, "task": tasks[e.id], "recipe": e.tune.model_dump(), "seed": seed0}
            key = cell_key(EXPERT, VERSIONS[EXPERT], tspec)
            cells.append(Cell(key, study.name, EXPERT, e.id, "tune", seed0, tspec, axes={"task": e.id},
                              depends_on=(base_cell,) if base_cell else ()))
            models[e.id] = _model(e.id, f"tune:{e.id}", f"tune:{key}", False, key)
        else:
            eident = _identity(e.id, e.source, root, None, artifacts, ("experts", i, "source"))
            models[e.id] = _model(e.id, e.source, eident, e.trust_remote_code, None)
    experts = [models[e.id] for e in study.experts]
    heads = list(study.merge.heads) if study.merge.heads else None
    made = tuple(m["cell"] for m in [base, *experts] if m["cell"])
    metrics = study.metrics.model_dump()

    def eval_cell(arm: str, role: str, task: dict[str, Any], seed: int, extra: dict[str, Any], deps: tuple[str, ...],
                  method: str, entry: str) -> Cell:
        spec = {"role": role, "task": task, "metrics": metrics, "split": report_split, **extra}
        key = cell_key(EVAL, VERSIONS[EVAL], spec)
        return Cell(key, study.name, EVAL, arm, task["id"], seed, spec,
                    axes={"role": role, "method": method, "entry": entry, "task": task["id"]}, depends_on=deps)

    for t in tasks.values():
        cells.append(eval_cell("base", "base", t, seed0, {"model": base}, (base_cell,) if base_cell else (), "base", "base"))
    for e in study.experts:
        m = models[e.id]
        for t in tasks.values():
            cells.append(eval_cell(e.id, "expert", t, seed0, {"model": m}, (m["cell"],) if m["cell"] else (), "expert", e.id))
    configs = configurations(study)
    task_list = [tasks[e.id] for e in study.experts]
    for c in configs:
        merge = {"method": c.method, "parameters": c.parameters, "conventions": c.conventions, "seed": c.seed,
                 "base": base, "experts": experts, "heads": heads}
        deps = made
        fit_key = None
        if METHOD_KINDS[c.method] == "model":
            fspec = {"merge": merge, "tasks": task_list, "fit_on": c.fit_on}
            if c.batch_norm == "recompute" and c.method == "adamerging":  # fits with batch statistics
                fspec["batch_norm"] = "recompute"
            fit_key = cell_key(FIT, VERSIONS[FIT], fspec)
            cells.append(Cell(fit_key, study.name, FIT, c.arm, "fit", c.seed, fspec,
                              axes={"role": "merged", "method": c.method, "entry": c.entry}, depends_on=made))
            deps = (*made, fit_key)
        for t in task_list:
            extra = {"merge": merge, "fit": fit_key, "selection": selection, "head": t["id"]}
            if c.batch_norm == "recompute":  # absent otherwise: the keys of studies that merge statistics stay as they were
                extra["batch_norm"] = calibration(task_list)
            cells.append(eval_cell(c.arm, "merged", t, c.seed, extra, deps, c.method, c.entry))
    dspec = {"base": base, "experts": experts, "heads": heads, "density": CONFLICT_DENSITY}
    cells.append(Cell(cell_key(DIAGNOSE, VERSIONS[DIAGNOSE], dspec), study.name, DIAGNOSE, "diagnostics", "all", seed0,
                      dspec, depends_on=made))
    arms = {c.arm for c in configs}
    clash = sorted(arms & set(models))
    if clash:
        raise StudyFileError("[merge]", [Problem(f"'{clash[0]}' names both an expert and a method entry; rename one",
                                                 ("merge", "methods"))])
    warnings = outside_project_warnings(source_entries(study), root)
    n_eval = sum(c.type == EVAL for c in cells)
    summary = (f"{n_eval:,} evaluation cells ({len({c.arm for c in configs}):,} merged configurations, {len(tasks)} tasks)"
               + (f", {sum(c.type == FIT for c in cells)} fit cells" if any(c.type == FIT for c in cells) else "")
               + (f", {sum(c.type == EXPERT for c in cells)} expert fine-tunings" if any(c.type == EXPERT for c in cells) else "")
               + f"; coefficients chosen on the {'validation' if selection else report_split + ' (declared test-set tuning)'} split")
    return MergeStudyPlan(study, cells, warnings=warnings, artifacts=artifacts, summary=summary, configs=configs,
                          models=models, tasks=tasks, summaries=summaries)


def _identity(mid: str, source: str, root: Path, train_key: str | None, artifacts: dict[str, str],
              key: tuple[str | int, ...]) -> str:
    try:
        return model_identity(ModelSpec(id=mid, source=source), root, train_key, artifacts)
    except JuxtaError as exc:
        raise StudyFileError("[study]", [Problem(exc.message, key)]) from None


def _fingerprinted(d: DataSpec, root: Path, loaded: dict[str, tuple[Dataset, dict]], expert_index: int | None,
                   selection: str | None, train_needed: bool) -> tuple[dict[str, Any], Dataset, dict]:
    """The data spec of a task with the fingerprints of the rows it reports on, selects on and trains on."""
    from engine.data.base import split_rows

    spec = data_spec(d)
    key = repr(sorted(spec.items(), key=lambda kv: kv[0]))
    if key not in loaded:
        data = load_data(d.source, root, d.options())
        loaded[key] = (data, split_rows(data, spec))
    data, parts = loaded[key]
    where = ("experts", expert_index, "data") if expert_index is not None else ("data",)
    for split in [d.split] + ([selection] if selection else []) + (["train"] if train_needed else []):
        if len(parts[split]) == 0:
            raise StudyFileError("[data]", [Problem(f"the '{split}' split of {d.source} has zero rows", (*where, "splits"))])
    spec["fingerprint"] = data.subset(parts[d.split]).fingerprint()
    if selection:
        spec["selection_fingerprint"] = data.subset(parts[selection]).fingerprint()
    spec["train_fingerprint"] = data.subset(parts["train"]).fingerprint() if len(parts["train"]) else None
    return spec, data, parts
