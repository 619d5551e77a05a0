"""Planning a fine-tuning study: its file becomes content-keyed cells.

Cell types and what their specs hold (the key hashes the spec):

* ``train`` (shared, ``engine.models.training_cell``): a built-in base, one per seed; the same spec as
  a shift study's for the same model and data, so both share one cell and one artifact;
* ``ft.tune``: one per trained arm × learning rate × seed: the base (source and identity), the method
  and its parameters, the training settings with the lr, the target data (train and validation
  fingerprints), its domain and the seed. Saves the tuned model;
* ``ft.select``: one per arm × seed: which ``ft.tune`` cells compete (every lr × every seed of the arm)
  and, for a built-in base, one for the base itself. Chooses the lr with the best mean validation
  accuracy over seeds — never test data — and publishes the chosen model as ``artifact:<study>/<arm>``
  (``<study>/<arm>/seed<N>``). Its spec names the study and arm, so each study publishes its own names
  even when two studies share tuning cells;
* ``ft.eval``: one per evaluated model (the base, each arm's chosen model, each WiSE-FT α point) ×
  evaluation set × seed: the target's test split in its domain ("target"), each shifted condition on
  it ("ood:<condition>"), the source's split ("source", for forgetting), and for WiSE-FT points the
  target's validation split ("validation", to choose α). Stores per-example predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.cells import Cell, Plan, cell_key
from engine.core.errors import JuxtaError, Problem, StudyFileError
from engine.core.header import outside_project_warnings
from engine.core.sources import parse_source
from engine.data.base import Dataset, DataSummary, split_rows
from engine.data.loaders import load_data
from engine.data.spec import DataSpec, data_spec
from engine.kinds.finetune.arms import Arm, lr_candidates, study_arms
from engine.kinds.finetune.spec import BASE_ARM, FinetuneStudy, parse_condition, source_entries
from engine.models.identity import model_identity
from engine.models.recipes import ARCHITECTURES, parse_builtin
from engine.models.spec import ModelSpec
from engine.models.training_cell import TRAIN_TYPE, TRAIN_VERSION, training_cell

TUNE, SELECT, EVAL = "ft.tune", "ft.select", "ft.eval"
# Bump an entry when the computation behind that type of cell changes its results.
VERSIONS = {TRAIN_TYPE: TRAIN_VERSION, TUNE: 1, SELECT: 1, EVAL: 1}
CLEAN = {"id": "clean", "kind": "clean", "family": "clean", "severity": None}
_MODALITY_OF_KIND = {"corruption": "image", "tabular": "tabular", "text": "text"}


@dataclass
class FinetunePlan(Plan):
    """A fine-tuning study's plan, with what its checks compare the base against."""

    arms: list[Arm] = field(default_factory=list)
    lrs: dict[str, list[float]] = field(default_factory=dict)  # arm id -> learning rates tried
    target: DataSummary | None = None
    source: DataSummary | None = None
    builtin_base: bool = False  # the base's architecture is a built-in one (its default learning rates apply)


def eval_sets(study: FinetuneStudy) -> list[tuple[str, str]]:
    """(set id, set kind) of every evaluation set, in display order."""
    sets = [("target", "target")] + [(f"ood:{c}", "ood") for c in study.shifted.conditions]
    if study.source is not None:
        sets.append(("source", "source"))
    return sets


def plan_study(study: FinetuneStudy, root: Path, artifacts: dict[str, str] | None = None) -> FinetunePlan:
    """Expand a validated study into cells; loads the target and source data once to fingerprint and
    check them."""
    artifacts = artifacts or {}
    tdata = load_data(study.target.source, root, study.target.options())
    domain = parse_condition(study.target.domain) if study.target.domain else None
    _check_modality(study, tdata)
    tspec = _target_spec(study)
    parts = split_rows(tdata, tspec)
    for split in ("train", "validation", "test"):
        if len(parts[split]) == 0:
            raise StudyFileError("[target]", [Problem(f"the '{split}' split of {study.target.source} has zero rows; "
                                                      "give it a larger share", ("target", "splits", split))])
    prints = {split: tdata.subset(parts[split]).fingerprint() for split in ("train", "validation", "test")}
    sdata = sspec = None
    if study.source is not None:
        sdata = load_data(study.source.source, root, study.source.options())
        sspec = data_spec(_as_data_spec(study.source))
        srows = split_rows(sdata, sspec)[study.source.split]
        if len(srows) == 0:
            raise StudyFileError("[source]", [Problem(f"the '{study.source.split}' split of {study.source.source} has "
                                                      "zero rows", ("source", "split"))])
        sspec["fingerprint"] = sdata.subset(srows).fingerprint()

    arms = study_arms(study)
    trained = [a for a in arms if a.trained]
    base_src = parse_source(study.base.source, kind="model")
    builtin = _builtin_architecture(study, root, artifacts)
    lrs = {a.id: lr_candidates(a, a.method.default_lr if builtin else a.method.pretrained_lr,
                               study.training.lr_factors, study.training.lr_sweep) for a in trained}
    sets = eval_sets(study)
    metrics = study.metrics.model_dump()
    cells: list[Cell] = []
    tune_keys: dict[str, dict[tuple[float, int], str]] = {a.id: {} for a in trained}
    per_seed: list[tuple[int, str | None, str]] = []  # (seed, train key, base identity)
    for seed in study.study.seeds:
        train_key = None
        if base_src.scheme == "builtin":
            train = _base_training(study, tdata, parts, sdata, seed)
            train_key = train.key
            cells.append(train)
        identity = _base_identity(study, root, train_key, artifacts)
        per_seed.append((seed, train_key, identity))
        base = {"source": study.base.source, "identity": identity, "trust_remote_code": study.base.trust_remote_code}
        for arm in trained:
            for lr in lrs[arm.id]:
                spec = {
                    "base": base, "method": arm.method.name,
                    "params": arm.params.model_dump(mode="json", by_alias=True),
                    "training": {**study.training.model_dump(exclude={"lr_sweep", "lr_factors"}), "lr": lr},
                    "data": {**tspec, "train_fingerprint": prints["train"], "validation_fingerprint": prints["validation"]},
                    "domain": domain, "seed": seed,
                }
                key = cell_key(TUNE, VERSIONS[TUNE], spec)
                tune_keys[arm.id][(lr, seed)] = key
                cells.append(Cell(key, study.name, TUNE, arm.id, f"lr={lr:g}", seed, spec,
                                  axes={"method": arm.method.name, "lr": lr},
                                  depends_on=(train_key,) if train_key else ()))
    for seed, train_key, identity in per_seed:
        base_deps = (train_key,) if train_key else ()
        chosen: dict[str, str] = {}
        if train_key:
            cells.append(_select(study, BASE_ARM, seed, [[None, seed, train_key]]))
        for arm in trained:
            candidates = [[lr, s, k] for (lr, s), k in sorted(tune_keys[arm.id].items())]
            select = _select(study, arm.id, seed, candidates)
            chosen[arm.id] = select.key
            cells.append(select)
        model_base = {"identity": identity, "source": study.base.source, "key": train_key,
                      "trust_remote_code": study.base.trust_remote_code}
        evaluated: list[tuple[str, str, dict[str, Any], tuple[str, ...], list[tuple[str, str]]]] = [
            (BASE_ARM, BASE_ARM, {"base": model_base, "tuned": None, "alpha": None, "from": None}, base_deps, sets)]
        for arm in arms:
            if arm.trained:
                model = {"base": model_base, "tuned": chosen[arm.id], "alpha": None, "from": None}
                evaluated.append((arm.id, arm.method.name, model, (chosen[arm.id], *base_deps), sets))
            else:
                start = chosen[arm.params.from_]  # type: ignore[attr-defined]
                for alpha in arm.alphas:
                    model = {"base": model_base, "tuned": start, "alpha": alpha, "from": arm.params.from_}  # type: ignore[attr-defined]
                    evaluated.append((arm.point_id(alpha), arm.method.name, model, (start, *base_deps),
                                      [("validation", "validation"), *sets]))
        for arm_id, method, model, deps, arm_sets in evaluated:
            for set_id, set_kind in arm_sets:
                spec = _eval_spec(study, model, set_id, set_kind, tspec, prints, sspec, domain, metrics, seed)
                key = cell_key(EVAL, VERSIONS[EVAL], spec)
                cells.append(Cell(key, study.name, EVAL, arm_id, set_id, seed, spec,
                                  axes={"set": set_kind, "method": method, "alpha": model["alpha"]}, depends_on=deps))
    warnings = outside_project_warnings(source_entries(study), root)
    summary = _summary(cells, len(parts["train"]), len(parts["test"]))
    return FinetunePlan(study, cells, warnings=warnings, artifacts=artifacts, summary=summary, arms=arms, lrs=lrs,
                        target=tdata.summary(), source=sdata.summary() if sdata is not None else None,
                        builtin_base=builtin)


def _target_spec(study: FinetuneStudy) -> dict[str, Any]:
    t = study.target
    return {
        "source": t.source, "options": t.model_dump(exclude={"source", "domain", "splits", "split_seed", "max_examples"}),
        "split": "train", "splits": t.splits.model_dump(), "split_seed": t.split_seed, "max_examples": t.max_examples,
    }


def _as_data_spec(s: Any) -> DataSpec:
    return DataSpec(**s.model_dump())


def _check_modality(study: FinetuneStudy, data: Dataset) -> None:
    """Shift conditions must fit the target's kind of data (image corruptions on images, …)."""
    problems = []
    if study.target.domain:
        cond = parse_condition(study.target.domain)
        if _MODALITY_OF_KIND[cond["kind"]] != data.modality:
            problems.append(Problem(f"the domain '{cond['id']}' is a shift of {_MODALITY_OF_KIND[cond['kind']]} data, but "
                                    f"{data.source} holds {data.modality} data", ("target", "domain")))
    for i, c in enumerate(study.shifted.conditions):
        cond = parse_condition(c)
        if _MODALITY_OF_KIND[cond["kind"]] != data.modality:
            problems.append(Problem(f"'{c}' is a shift of {_MODALITY_OF_KIND[cond['kind']]} data, but {data.source} holds "
                                    f"{data.modality} data", ("shifted", "conditions", i)))
    if problems:
        raise StudyFileError("[target]", problems)


def _base_training(study: FinetuneStudy, tdata: Dataset, parts: dict, sdata: Dataset | None, seed: int) -> Cell:
    """The shared training cell of a built-in base. A base named with its dataset (``digits-cnn``) trains
    on that built-in dataset as a shift study would (so both share the cell); one without
    (``builtin:cnn``) trains on the [source] data, the task it then already does."""
    data_name, _ = parse_builtin(parse_source(study.base.source).value)
    overrides = study.base.train.model_dump(exclude_none=True) if study.base.train else None
    if data_name is not None:
        same = study.source is not None and study.source.source == f"builtin:{data_name}"
        dspec = data_spec(_as_data_spec(study.source)) if same else data_spec(DataSpec(source=f"builtin:{data_name}"))
        return training_cell(study.name, BASE_ARM, study.base.source, overrides, dspec, tdata, parts["train"], seed)
    if study.source is None or sdata is None:
        raise StudyFileError("[base]", [Problem(
            f"'{study.base.source}' names an architecture without a dataset, so it is trained on the [source] "
            "dataset (the task it then already does); add a [source] table, or name a dataset, e.g. 'builtin:digits-cnn'",
            ("base", "source"))])
    dspec = data_spec(_as_data_spec(study.source))
    srows = split_rows(sdata, dspec)["train"]
    return training_cell(study.name, BASE_ARM, study.base.source, overrides, dspec, sdata, srows, seed)


def _base_identity(study: FinetuneStudy, root: Path, train_key: str | None, artifacts: dict[str, str]) -> str:
    try:
        return model_identity(ModelSpec(id=BASE_ARM, source=study.base.source, trust_remote_code=study.base.trust_remote_code),
                              root, train_key, artifacts)
    except JuxtaError as exc:
        raise StudyFileError("[base]", [Problem(str(exc).rstrip("."), ("base", "source"))]) from None


def _builtin_architecture(study: FinetuneStudy, root: Path, artifacts: dict[str, str]) -> bool:
    """Whether the base is one of Juxta's built-in architectures (trained here or saved by Juxta), whose
    methods' default learning rates differ from pretrained checkpoints' (``Method.lr_for``)."""
    src = parse_source(study.base.source, kind="model")
    if src.scheme == "builtin":
        return True
    path = None
    if src.scheme == "artifact" and src.value in artifacts:
        path = root / artifacts[src.value]
    elif src.scheme == "file":
        path = src.path(root)
    if path is None or not path.is_file() or path.suffix.lower() != ".safetensors":
        return False
    from engine.models.loaders import read_juxta_header

    try:
        return read_juxta_header(path).get("arch") in ARCHITECTURES
    except JuxtaError:  # the base's check reports an unreadable file
        return False


def _select(study: FinetuneStudy, arm: str, seed: int, candidates: list[list[Any]]) -> Cell:
    spec = {"study": study.name, "arm": arm, "seed": seed, "candidates": candidates}
    return Cell(cell_key(SELECT, VERSIONS[SELECT], spec), study.name, SELECT, arm, "select", seed, spec,
                axes={}, depends_on=tuple(k for _, _, k in candidates))


def _eval_spec(study: FinetuneStudy, model: dict[str, Any], set_id: str, set_kind: str, tspec: dict[str, Any],
               prints: dict[str, str], sspec: dict[str, Any] | None, domain: dict[str, Any] | None,
               metrics: dict[str, Any], seed: int) -> dict[str, Any]:
    if set_kind == "source":
        data, dom, cond = dict(sspec or {}), None, CLEAN
    else:
        split = "validation" if set_kind == "validation" else "test"
        data, dom = {**tspec, "split": split, "fingerprint": prints[split]}, domain
        cond = parse_condition(set_id.split(":", 1)[1]) if set_kind == "ood" else CLEAN
    return {"model": model, "data": data, "domain": dom, "condition": cond, "set": set_kind, "metrics": metrics,
            "seed": seed}


def _summary(cells: list[Cell], n_train: int, n_test: int) -> str:
    count = {t: sum(c.type == t for c in cells) for t in (TUNE, EVAL, TRAIN_TYPE)}
    text = f"{_n(count[TUNE], 'tuning run')} and {_n(count[EVAL], 'evaluation cell')}"
    if count[TRAIN_TYPE]:
        text += f", after {_n(count[TRAIN_TYPE], 'base training run')}"
    return text + f"; target train split {_n(n_train, 'example')}, test split {_n(n_test, 'example')}"


def _n(k: int, noun: str) -> str:
    return f"{k:,} {noun}" + ("" if k == 1 else "s")
