"""Planning: a study file becomes content-hashed cells (arm × condition × seed).

A cell's key hashes everything its result depends on: its spec, the fingerprints of its inputs and
the engine's version of that computation. A key that finished once is never computed again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from engine.data.base import Dataset, DataSummary, stratified_split
from engine.data.loaders import load_data
from engine.core.errors import JuxtaError, Problem, SourceError, StudyFileError, os_reason
from engine.models.recipes import DEFAULT_RECIPES, parse_builtin
from engine.core.sources import parse_source
from engine.study import ModelSpec, Study, outside_project_warnings, study_text
from engine.core.messages import problem_at

# Bump an entry when the computation behind that kind of cell changes its results.
# Bumped when a computation's results change, so earlier results are not reused as if current.
# eval 2: corruption noise drawn from pools, whole-pixel motion blur, JPEG chroma from its real extent.
COMPUTE_VERSION = {"train": 1, "eval": 2}


@dataclass(frozen=True)
class Condition:
    id: str  # e.g. "clean", "gaussian_noise/3", "dirichlet/0.3", "field/phone"
    family: str  # what charts group by: "clean", "gaussian_noise", "dirichlet", ...
    kind: Literal["clean", "corruption", "tabular", "text", "label_shift", "group_shift", "field"]
    severity: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cell:
    """One unit of work. ``spec`` is hashed into ``key``; ``inputs`` is filled at dispatch time."""

    key: str
    study: str
    kind: Literal["train", "eval"]
    arm: str
    condition: str
    family: str
    severity: int | None
    seed: int
    spec: dict[str, Any]
    depends_on: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        sev = f" severity {self.severity}" if self.severity else ""
        what = "train" if self.kind == "train" else self.family + sev
        return f"{self.arm} · {what} · seed {self.seed}"


@dataclass
class Plan:
    """A study's cells, plus what validation found worth saying that does not stop a run (``warnings``)."""

    study: Study
    cells: list[Cell]
    data_fingerprint: str
    split_sizes: dict[str, int]
    warnings: list[Problem] = field(default_factory=list)
    # What validation compares models against: (key path of the source, summary) for [data] and each field dataset.
    datasets: list[tuple[tuple[str | int, ...], DataSummary]] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def train_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "train"]

    @property
    def eval_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == "eval"]


def cell_key(kind: str, spec: dict[str, Any]) -> str:
    blob = json.dumps({"kind": kind, "version": COMPUTE_VERSION[kind], "spec": spec}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def data_spec(study: Study) -> dict[str, Any]:
    d = study.data
    return {
        "source": d.source,
        "options": d.model_dump(exclude={"source", "split", "splits", "split_seed", "max_examples"}),
        "split": d.split,
        "splits": d.splits.model_dump(),
        "split_seed": d.split_seed,
        "max_examples": d.max_examples,
    }


def split_rows(data: Dataset, spec: dict[str, Any]) -> dict[str, Any]:
    """The recorded split of a dataset: row positions per split name (seeded, stratified)."""
    import numpy as np

    parts = stratified_split(data.y, spec["splits"], spec["split_seed"])
    parts["all"] = np.arange(len(data), dtype=np.int64)
    if spec.get("max_examples"):
        rng = np.random.default_rng(spec["split_seed"])
        for name in list(parts):
            rows = parts[name]
            if len(rows) > spec["max_examples"]:
                parts[name] = np.sort(rng.choice(rows, spec["max_examples"], replace=False))
    return parts


def conditions(study: Study, data: Dataset, fields: dict[str, Dataset]) -> list[Condition]:
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


def model_identity(m: ModelSpec, root: Path, train_key: str | None, artifacts: dict[str, str]) -> str:
    """What a model's results depend on: a training key, a file hash, a hub id and revision."""
    src = parse_source(m.source, kind="model")
    if src.scheme == "builtin":
        return f"train:{train_key}"
    if src.scheme == "artifact":
        if src.value not in artifacts:
            raise SourceError(
                f"Model '{m.id}': artifact '{src.value}' does not exist yet; run the study that makes it first "
                f"(known artifacts: {', '.join(sorted(artifacts)) or 'none'})."
            )
        return f"artifact:{artifacts[src.value]}"
    if src.is_local_path:
        path = src.path(root)
        if not path.exists():
            raise SourceError(f"Model '{m.id}': {path} does not exist.")
        return f"file:{hash_path(path)}"
    return f"hf:{src.value}@{_cached_commit(src.value, src.revision) or src.revision or 'main'}"


def _cached_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit a hub revision resolves to in the local cache, so a moved branch re-plans cells."""
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(repo_id, revision=revision, local_files_only=True, allow_patterns=["config.json"])
    except Exception:  # not cached (or not reachable): the cell itself reports that clearly
        return None
    return Path(path).name


def hash_path(path: Path) -> str:
    """sha256 of a file, or of every file in a folder (names and contents)."""
    h = hashlib.sha256()
    try:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for p in files:
            h.update(str(p.relative_to(path) if path.is_dir() else p.name).encode())
            with p.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    except OSError as exc:
        raise SourceError(f"Cannot read {exc.filename or path}: {os_reason(exc)}.") from None
    return h.hexdigest()


def plan_study(study: Study, root: Path, artifacts: dict[str, str] | None = None) -> Plan:
    """Expand a validated study into cells. Loads the data once to fingerprint and check it."""
    artifacts = artifacts or {}
    dspec = data_spec(study)
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
                train_source, arch = parse_builtin(src.value)
                recipe = DEFAULT_RECIPES[arch]
                if m.train:
                    recipe = type(recipe)(**{**recipe.as_dict(), **m.train.model_dump(exclude_none=True)})
                tdspec = dict(dspec) if train_source is None else {
                    **dspec, "source": f"builtin:{train_source}", "options": {}, "fingerprint": None,
                }
                tdspec["train_fingerprint"] = (
                    data.subset(parts["train"]).fingerprint() if train_source is None else f"builtin:{train_source}"
                )
                tspec = {"arch": arch, "recipe": recipe.as_dict(), "data": tdspec, "seed": seed, "source": m.source}
                train_key = cell_key("train", tspec)
                cells.append(Cell(train_key, study.name, "train", m.id, "train", "train", None, seed, tspec))
            ident = model_identity(m, root, train_key, artifacts)
            for c in conds:
                spec = {
                    "model": {"id": m.id, "source": m.source, "identity": ident, "trust_remote_code": m.trust_remote_code},
                    "data": dspec,
                    "condition": {"id": c.id, "kind": c.kind, "family": c.family, "severity": c.severity, **c.params},
                    "metrics": metrics,
                    "seed": seed,
                }
                key = cell_key("eval", spec)
                cells.append(Cell(key, study.name, "eval", m.id, c.id, c.family, c.severity, seed, spec, depends_on=train_key))
    sizes = {k: int(len(v)) for k, v in parts.items()}
    warnings = outside_project_warnings(study, root) + data_warnings(study, data.subset(eval_rows))
    datasets = [(("data", "source"), data.summary())]
    datasets += [(("shift", "field", i, "source"), fields[f.id].summary()) for i, f in enumerate(study.shift.field)]
    return Plan(study, cells, fingerprint, sizes, warnings=warnings, datasets=datasets, artifacts=artifacts)


def check_models(plan: Plan, root: Path, path: str = "<study>") -> None:
    """Check every model against the data without running it; raise StudyFileError listing each problem.

    What can be known cheaply: whether the model will load (headers, configs, refused pickles, the
    offline hub cache) and whether it fits the data (modality, input shape, number and names of classes,
    for the evaluated data and every field dataset). Each problem names the model and its source.
    """
    from engine.models.base import check_fits
    from engine.models.describe import check_architecture, inspect_model

    text = study_text(path)
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
    if problems:
        raise StudyFileError(path, problems)


def data_warnings(study: Study, evaluated: Dataset) -> list[Problem]:
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
