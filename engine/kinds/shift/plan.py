"""Planning a shift study: its file becomes content-hashed cells, model × condition × seed, plus a
training cell per built-in model and seed.

Cell types and what their specs hold (the key hashes the spec, so these must stay as they are for
existing results to be reused):

* ``train``: arch, recipe, data (with the training rows' fingerprint), seed, source;
* ``eval``: model (id, source, identity, trust_remote_code), data (with the evaluated rows'
  fingerprint), condition (id, kind, family, severity, parameters), metrics, seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from engine.core.cells import Cell, Plan, cell_key
from engine.core.errors import JuxtaError, Problem, StudyFileError
from engine.core.header import outside_project_warnings
from engine.core.messages import problem_at
from engine.core.sources import parse_source
from engine.data.base import Dataset, DataSummary, split_rows
from engine.data.loaders import load_data
from engine.data.spec import data_spec
from engine.kinds.shift.spec import ShiftStudy, source_entries
from engine.models.identity import model_identity
from engine.models.recipes import parse_builtin
from engine.models.training_cell import TRAIN_TYPE, TRAIN_VERSION, training_cell

# Bump an entry when the computation behind that type of cell changes its results, so earlier results
# are not reused as if current. eval 2: corruption noise drawn from pools, whole-pixel motion blur,
# JPEG chroma from its real extent.
VERSIONS = {TRAIN_TYPE: TRAIN_VERSION, "eval": 2}


@dataclass(frozen=True)
class Condition:
    id: str  # e.g. "clean", "gaussian_noise/3", "dirichlet/0.3", "field/phone"
    family: str  # what charts group by: "clean", "gaussian_noise", "dirichlet", ...
    kind: Literal["clean", "corruption", "tabular", "text", "label_shift", "group_shift", "field"]
    severity: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ShiftPlan(Plan):
    """A shift study's plan, with what validation compares models against."""

    # (key path of the source, summary) for [data] and each field dataset
    datasets: list[tuple[tuple[str | int, ...], DataSummary]] = field(default_factory=list)

    @property
    def train_cells(self) -> list[Cell]:
        return self.of_type("train")

    @property
    def eval_cells(self) -> list[Cell]:
        return self.of_type("eval")


def conditions(study: ShiftStudy, data: Dataset, fields: dict[str, Dataset]) -> list[Condition]:
    """Expand the [shift] table into conditions, refusing shifts that do not fit the data."""
    s = study.shift
    out: list[Condition] = []
    if s.clean:
        out.append(Condition("clean", "clean", "clean"))
    for kinds, names, modality in (("corruption", s.corruptions, "image"), ("tabular", s.tabular, "tabular"), ("text", s.text, "text")):
        if names and data.modality != modality:
            key = {"corruption": "corruptions"}.get(kinds, kinds)
            raise StudyFileError(
                "[shift]",
                [Problem(f"these shifts apply to {modality} data, but {data.source} holds {data.modality} data", ("shift", key))],
            )
        for name in names:
            for sev in s.severities:
                out.append(Condition(f"{name}/{sev}", name, kinds, sev, {"name": name, "severity": sev}))
    if s.label_shift:
        for a in s.label_shift.dirichlet_alpha:
            out.append(Condition(f"dirichlet/{a:g}", "dirichlet", "label_shift", None, {"method": "dirichlet", "alpha": a}))
        for r in s.label_shift.tweak_one:
            out.append(Condition(f"tweak_one/{r:g}", "tweak_one", "label_shift", None, {"method": "tweak_one", "rho": r}))
        for r in s.label_shift.imbalance_ratio:
            out.append(Condition(f"imbalance/{r:g}", "imbalance", "label_shift", None, {"method": "imbalance", "ratio": r}))
    if s.group_shift:
        if data.groups is None:
            raise StudyFileError("[shift]", [Problem("the data has no group column; set group_column in [data]", ("shift", "group_shift"))])
        present = sorted(set(map(str, data.groups)))
        chosen = s.group_shift.groups or present
        for i, g in enumerate(chosen):
            if g not in present:
                raise StudyFileError("[shift]", [Problem(f"group '{g}' is not in the data; groups are {', '.join(present)}",
                                                         ("shift", "group_shift", "groups", i))])
            for share in s.group_shift.shares:
                out.append(Condition(f"group/{g}={share:g}", "group_shift", "group_shift", None, {"group": g, "share": share}))
    for i, f in enumerate(s.field):
        fdata = fields[f.id]
        missing = sorted(set(fdata.class_names) - set(data.class_names))
        if missing:
            raise StudyFileError(
                "[shift]",
                [Problem(f"classes {', '.join(missing[:5])} of {f.source} (field dataset '{f.id}') are not classes "
                         f"of {data.source}", ("shift", "field", i, "source"))],
            )
        spec = {"source": f.source, "options": f.model_dump(exclude={"id", "source"}), "fingerprint": fdata.fingerprint()}
        out.append(Condition(f"field/{f.id}", "field", "field", None, spec))
    if not out:
        raise StudyFileError("[shift]", [Problem("the study has no conditions: set clean = true or list some shifts", ("shift",))])
    return out


def plan_study(study: ShiftStudy, root: Path, artifacts: dict[str, str] | None = None) -> ShiftPlan:
    """Expand a validated study into cells. Loads the data once to fingerprint and check it."""
    artifacts = artifacts or {}
    dspec = data_spec(study.data)
    data = load_data(study.data.source, root, study.data.options())
    parts = split_rows(data, dspec)
    eval_rows = parts[study.data.split]
    if len(eval_rows) == 0:
        raise StudyFileError("[data]", [Problem(f"the '{study.data.split}' split of {study.data.source} has zero rows",
                                                ("data", "split"))])
    fingerprint = data.subset(eval_rows).fingerprint()
    fields = {f.id: load_data(f.source, root, f.options()) for f in study.shift.field}
    conds = conditions(study, data, fields)
    dspec["fingerprint"] = fingerprint
    metrics = study.metrics.model_dump()
    cells: list[Cell] = []
    for m in study.models:
        src = parse_source(m.source, kind="model")
        for seed in study.study.seeds:
            train_key = None
            if src.scheme == "builtin":
                train = training_cell(study.name, m.id, m.source, m.train.model_dump(exclude_none=True) if m.train else None,
                                      dspec, data, parts["train"], seed)
                train_key = train.key
                cells.append(train)
            ident = model_identity(m, root, train_key, artifacts)
            for c in conds:
                spec = {
                    "model": {"id": m.id, "source": m.source, "identity": ident, "trust_remote_code": m.trust_remote_code},
                    "data": dspec,
                    "condition": {"id": c.id, "kind": c.kind, "family": c.family, "severity": c.severity, **c.params},
                    "metrics": metrics,
                    "seed": seed,
                }
                key = cell_key("eval", VERSIONS["eval"], spec)
                cells.append(Cell(key, study.name, "eval", m.id, c.id, seed, spec,
                                  axes={"family": c.family, "severity": c.severity},
                                  depends_on=(train_key,) if train_key else ()))
    sizes = {k: int(len(v)) for k, v in parts.items()}
    warnings = outside_project_warnings(source_entries(study), root) + data_warnings(study, data.subset(eval_rows))
    datasets = [(("data", "source"), data.summary())]
    datasets += [(("shift", "field", i, "source"), fields[f.id].summary()) for i, f in enumerate(study.shift.field)]
    n_eval, n_train = sum(c.type == "eval" for c in cells), sum(c.type == "train" for c in cells)
    split = study.data.split
    summary = (_count(n_eval, "evaluation cell") + (f" and {_count(n_train, 'training cell')}" if n_train else "")
               + f"; {split} split {_count(sizes.get(split, 0), 'example')}")
    return ShiftPlan(study, cells, warnings=warnings, artifacts=artifacts, summary=summary, datasets=datasets)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def model_problems(plan: ShiftPlan, root: Path, text: str | None = None) -> list[Problem]:
    """Every model checked against the data without running it; one problem per model that will not work.

    What can be known cheaply: whether the model will load (headers, configs, refused pickles, the
    offline hub cache) and whether it fits the data (modality, input shape, number and names of classes,
    for the evaluated data and every field dataset). Each problem names the model and its source;
    ``text`` is the study file's, for line numbers.
    """
    from engine.models.base import check_fits
    from engine.models.describe import check_architecture, inspect_model

    (_, main), *fields = plan.datasets
    problems: list[Problem] = []
    for i, m in enumerate(plan.study.models):
        key = ("models", i, "source")
        try:
            info = inspect_model(m.source, root, plan.artifacts, trust_remote_code=m.trust_remote_code)
        except JuxtaError as exc:
            problems.append(problem_at(text, key, f"model '{m.id}' ({m.source}): {exc}"))
            continue
        try:
            if info is None:  # a built-in architecture trained on this study's data
                check_architecture(parse_builtin(parse_source(m.source).value)[1], main.modality, main.source)
                continue
            check_fits(info, main, m.id)
            for _, summary in fields:  # field classes are mapped onto the main data's classes
                check_fits(info, replace(summary, class_names=main.class_names), m.id)
        except JuxtaError as exc:
            problems.append(problem_at(text, key, str(exc)))
    return problems


def data_warnings(study: ShiftStudy, evaluated: Dataset) -> list[Problem]:
    """What makes results from the evaluated split hard to read, though they can be computed."""
    import numpy as np

    present = [evaluated.class_names[k] for k in np.unique(evaluated.y)]
    if len(present) < 2:
        split = study.data.split
        return [Problem(
            f"the '{split}' split of {study.data.source} holds only one class ('{present[0]}'), so accuracy is meaningless "
            f"there: a model that always answers '{present[0]}' scores 100%. Add examples of other classes",
            ("data", "split"))]
    return []
