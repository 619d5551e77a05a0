"""What a merge study's tables, charts and findings draw: ``MergeResults``, read through
``engine.core.queries`` (no torch).

Rows are the base, each expert and each merged configuration; columns are the tasks (one per
expert). Per row and task: accuracy with a bootstrap interval, and **normalized accuracy** — the
row's accuracy ÷ that task's expert's accuracy on it, with a paired interval (both resampled on the
same test examples). Averages over tasks resample each task independently. A method entry's grid
is a sweep; its chosen configuration is the one with the best average accuracy on the selection
split (validation, unless the study declared test-set tuning). Random methods' seeds are pooled
per example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.core import queries as Q
from engine.core.errors import StudyFileError
from engine.core.header import parse_study_text
from engine.core.store import Store
from engine.kinds.merge.study.plan import AXES, DIAGNOSE, EVAL, FIT
from engine.kinds.merge.catalog import METHOD_TITLES
from engine.kinds.merge.study.spec import MergeStudy

PARAMS = {"parameters": "$.merge.parameters", "conventions": "$.merge.conventions"}


@dataclass
class MergeResults:
    """A merge study's results. ``accuracy``: one row per (arm, task); ``rows``: one per arm;
    ``summary``: the base, each method entry's chosen configuration and the experts (each on its own
    task), the table the report leads with; ``sweeps``: entry -> its grid points."""

    study: str
    tasks: list[str]
    task_labels: dict[str, str]
    accuracy: pd.DataFrame  # arm, task, role, value, ci_low, ci_high, n, normalized, norm_low, norm_high, selection
    rows: pd.DataFrame  # arm, role, method, entry, label, grid, seeds, selection, accuracy (+ci), normalized (+ci), chosen, transductive
    summary: pd.DataFrame  # like rows, for the summary rows in order, with rank
    sweeps: dict[str, pd.DataFrame]
    similarity: pd.DataFrame | None = None  # experts × experts cosine similarity of task vectors
    conflicts: pd.DataFrame | None = None  # layer, rate, trimmed_rate, shared, total
    norms: pd.DataFrame | None = None  # layer, expert, norm, relative
    conflict_density: float | None = None
    fit_curves: pd.DataFrame | None = None  # arm, step, series, value (AdaMerging's entropy)
    tuning: str = "validation"
    conventions: str = "mergekit"
    level: float = 0.95
    n_resamples: int = 1000
    boot: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # arm -> R replicates of avg normalized acc
    boot_acc: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # arm -> R replicates of avg accuracy

    @property
    def empty(self) -> bool:
        return self.accuracy.empty

    def label(self, arm: str) -> str:
        hit = self.rows[self.rows.arm == arm]
        return str(hit.label.iloc[0]) if len(hit) else arm

    def chosen(self) -> pd.DataFrame:
        """The chosen configuration of every method entry."""
        return self.rows[(self.rows.role == "merged") & self.rows.chosen]

    def difference(self, a: str, b: str, what: str = "normalized") -> tuple[float, float, float]:
        """Paired difference a − b of the average over tasks (normalized accuracy or accuracy), with its interval."""
        boot = self.boot if what == "normalized" else self.boot_acc
        if a not in boot or b not in boot:
            return float("nan"), float("nan"), float("nan")
        column = "normalized" if what == "normalized" else "accuracy"
        frame = pd.concat([self.rows, self.summary[self.summary.arm == "experts"]], ignore_index=True).set_index("arm")
        diff = float(frame.loc[a, column] - frame.loc[b, column])
        alpha = (1 - self.level) / 2
        lo, hi = np.nanquantile(boot[a] - boot[b], [alpha, 1 - alpha])
        return diff, float(min(lo, diff)), float(max(hi, diff))


def study_spec(store: Store, study: str) -> MergeStudy | None:
    row = store.con.execute("SELECT spec_toml, path FROM studies WHERE study = ?", [study]).fetchone()
    if not row:
        return None
    try:
        spec = parse_study_text(str(row[0] or ""), str(row[1] or study), {MergeStudy.KIND: MergeStudy})
    except StudyFileError:
        return None
    return spec if isinstance(spec, MergeStudy) else None


def arm_label(method: str, entry: str, grid: dict[str, Any]) -> str:
    """'TIES (density 0.2, λ 0.5)'; an entry with its own id keeps it: 'ties-paper: TIES (…)'."""
    title = METHOD_TITLES.get(method, method)
    head = title if entry == method else f"{entry}: {title}"
    if not grid:
        return head
    words = ", ".join(f"{'λ' if k == 'lambda' else k} {_num(v)}" for k, v in grid.items())
    return f"{head} ({words})"


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def load_merge_results(store: Store, study: str, n_resamples: int | None = None, level: float | None = None) -> MergeResults:
    spec = study_spec(store, study)
    n_resamples = int(n_resamples if n_resamples is not None else (spec.metrics.bootstrap if spec else 1000)) or 1000
    level = float(level if level is not None else (spec.metrics.level if spec else 0.95))
    metrics = Q.finished_metrics(store, study, EVAL, AXES, params=PARAMS)
    tasks = _tasks(spec, metrics)
    labels = _task_labels(spec, tasks)
    tuning = spec.merge.tuning if spec else "validation"
    conventions = spec.merge.conventions if spec else "mergekit"
    empty = MergeResults(study, tasks, labels, pd.DataFrame(columns=["arm", "task", "role", "value", "ci_low", "ci_high"]),
                         pd.DataFrame(columns=["arm", "role", "method", "entry", "label", "chosen"]), pd.DataFrame(), {},
                         tuning=tuning, conventions=conventions, level=level, n_resamples=n_resamples)
    if metrics.empty:
        return empty
    arms = _arms(metrics, spec)
    preds = Q.predictions(store, study, EVAL, ["example", "correct"])
    acc, boots = _accuracy(preds, arms, tasks, n_resamples, level)
    sel = metrics[metrics.metric == "selection_accuracy"].groupby(["arm", "task"]).value.mean()
    acc["selection"] = [sel.get((a, t), np.nan) for a, t in zip(acc.arm, acc.task)]
    rows, boot_norm, boot_acc = _rows(arms, acc, boots, tasks, tuning, level)
    if tasks and all(t in boots.get(t, {}) for t in tasks):  # the experts, each on its own task
        boot_acc["experts"] = np.mean([boots[t][t] for t in tasks], axis=0)
        boot_norm["experts"] = np.ones_like(boot_acc["experts"])
    transductive = _transductive(store, study)
    rows["transductive"] = [bool(transductive.get(a, False)) for a in rows.arm]
    results = MergeResults(study, tasks, labels, acc, rows, pd.DataFrame(), {}, tuning=tuning, conventions=conventions,
                           level=level, n_resamples=n_resamples, boot=boot_norm, boot_acc=boot_acc)
    results.summary = _summary(results)
    results.sweeps = _sweeps(results)
    _diagnostics(store, study, results)
    curves = Q.curves(store, study, FIT)
    results.fit_curves = curves[["arm", "step", "series", "value"]] if not curves.empty else None
    return results


def _tasks(spec: MergeStudy | None, metrics: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(metrics.task)) if not metrics.empty else []
    if spec is None:
        return sorted(present)
    order = [e.id for e in spec.experts]
    return [t for t in order if t in present] + sorted(t for t in present if t not in order)


def _task_labels(spec: MergeStudy | None, tasks: list[str]) -> dict[str, str]:
    from engine.conditions.catalog import condition_label

    out = {}
    for t in tasks:
        e = next((x for x in spec.experts if x.id == t), None) if spec else None
        out[t] = t if e is None or e.condition == "clean" else f"{t} ({condition_label(e.condition)})"
    return out


def _arms(metrics: pd.DataFrame, spec: MergeStudy | None) -> pd.DataFrame:
    """One row per arm: role, method, entry, grid, label, seeds, in the study's order."""
    first = metrics.drop_duplicates("arm")
    out = []
    grids = {}
    if spec is not None:
        for entry in spec.merge.methods:
            for point in entry.grid():
                from engine.kinds.merge.study.plan import config_arm

                grids[config_arm(entry, point)] = ({k: point[k] for k in entry.varying()}, entry)
    for r in first.itertuples():
        role = str(r.role)
        if role == "merged":
            grid, _ = grids.get(r.arm, ({}, None))
            label = arm_label(str(r.method), str(r.entry), grid)
        else:
            grid, label = {}, ("Base model" if role == "base" else f"Expert {r.arm}")
        seeds = int(metrics[(metrics.arm == r.arm)].seed.nunique())
        out.append({"arm": r.arm, "role": role, "method": str(r.method), "entry": str(r.entry), "grid": grid,
                    "label": label, "seeds": seeds})
    frame = pd.DataFrame(out)
    order = {"base": 0, "expert": 1, "merged": 2}
    position = {a: i for i, a in enumerate(grids)}
    experts = [e.id for e in spec.experts] if spec else []
    frame["_o"] = [(order.get(r, 3), experts.index(a) if a in experts else position.get(a, 10**6), a)
                   for r, a in zip(frame.role, frame.arm)]
    return frame.sort_values("_o").drop(columns="_o").reset_index(drop=True)


def _accuracy(preds: pd.DataFrame, arms: pd.DataFrame, tasks: list[str], r: int, level: float):
    """Per (arm, task): accuracy and normalized accuracy with intervals; and the bootstrap replicates
    (arm -> task -> R accuracies), every arm resampled on the same examples per task."""
    alpha = (1 - level) / 2
    rng = np.random.default_rng(0)
    rows = []
    boots: dict[str, dict[str, np.ndarray]] = {a: {} for a in arms.arm}
    role = dict(zip(arms.arm, arms.role))
    for t in tasks:
        p = preds[preds.condition == t]
        if p.empty:
            continue
        pooled = p.groupby(["arm", "example"]).correct.mean().unstack("example")  # seeds pooled per example
        pooled = pooled.dropna(axis=1)  # the examples every arm was scored on
        if pooled.shape[1] == 0:
            continue
        n = pooled.shape[1]
        c = pooled.to_numpy(dtype=np.float64)
        counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(r)]).astype(np.float64)
        reps = c @ counts.T / n  # arms × R
        point = c.mean(axis=1)
        expert = t if t in pooled.index else None
        for i, arm in enumerate(pooled.index):
            boots.setdefault(arm, {})[t] = reps[i]
            lo, hi = np.quantile(reps[i], [alpha, 1 - alpha])
            row = {"arm": arm, "task": t, "role": role.get(arm, ""), "value": point[i], "ci_low": min(lo, point[i]),
                   "ci_high": max(hi, point[i]), "n": n}
            if expert is not None:
                j = list(pooled.index).index(expert)
                if point[j] > 0:
                    ratio = reps[i] / np.where(reps[j] > 0, reps[j], np.nan)
                    value = point[i] / point[j]
                    nlo, nhi = np.nanquantile(ratio, [alpha, 1 - alpha])
                    row.update(normalized=value, norm_low=min(nlo, value), norm_high=max(nhi, value))
                    boots[arm][f"norm:{t}"] = ratio
            rows.append(row)
    acc = pd.DataFrame(rows)
    for col in ("normalized", "norm_low", "norm_high"):
        if col not in acc:
            acc[col] = np.nan
    return acc, boots


def _rows(arms: pd.DataFrame, acc: pd.DataFrame, boots, tasks: list[str], tuning: str, level: float):
    alpha = (1 - level) / 2
    out = arms.copy()
    boot_norm: dict[str, np.ndarray] = {}
    boot_acc: dict[str, np.ndarray] = {}
    cols: dict[str, list] = {k: [] for k in ("accuracy", "acc_low", "acc_high", "normalized", "norm_low", "norm_high",
                                              "selection", "complete")}
    for arm in out.arm:
        a = acc[acc.arm == arm].set_index("task")
        complete = all(t in a.index for t in tasks)
        cols["complete"].append(complete)
        accs = [boots[arm][t] for t in tasks if t in boots.get(arm, {})]
        norms = [boots[arm][f"norm:{t}"] for t in tasks if f"norm:{t}" in boots.get(arm, {})]
        if complete and accs:
            rep = np.mean(accs, axis=0)
            boot_acc[arm] = rep
            v = float(a.loc[tasks, "value"].mean())
            lo, hi = np.quantile(rep, [alpha, 1 - alpha])
            cols["accuracy"].append(v), cols["acc_low"].append(min(lo, v)), cols["acc_high"].append(max(hi, v))
        else:
            cols["accuracy"].append(np.nan), cols["acc_low"].append(np.nan), cols["acc_high"].append(np.nan)
        if complete and len(norms) == len(tasks):
            rep = np.mean(norms, axis=0)
            boot_norm[arm] = rep
            v = float(a.loc[tasks, "normalized"].mean())
            lo, hi = np.nanquantile(rep, [alpha, 1 - alpha])
            cols["normalized"].append(v), cols["norm_low"].append(min(lo, v)), cols["norm_high"].append(max(hi, v))
        else:
            cols["normalized"].append(np.nan), cols["norm_low"].append(np.nan), cols["norm_high"].append(np.nan)
        source = a["selection"] if tuning == "validation" else a["value"]
        cols["selection"].append(float(source.reindex(tasks).mean()) if complete else np.nan)
    for k, v in cols.items():
        out[k] = v
    chosen = []
    for r in out.itertuples():
        if r.role != "merged":
            chosen.append(False)
            continue
        same = out[(out.entry == r.entry) & (out.role == "merged")]
        scores = same.selection.to_numpy(dtype=float)
        best = same.arm.iloc[int(np.nanargmax(scores))] if np.isfinite(scores).any() else None
        chosen.append(best == r.arm)
    out["chosen"] = chosen
    return out, boot_norm, boot_acc


def _summary(results: MergeResults) -> pd.DataFrame:
    """Base, each entry's chosen configuration, then the experts on their own tasks; with the
    multi-task rank (the mean over tasks of each row's rank among the base and the merges)."""
    rows = results.rows
    base = rows[rows.role == "base"]
    chosen = rows[(rows.role == "merged") & rows.chosen]
    summary = pd.concat([base, chosen], ignore_index=True)
    acc = results.accuracy.set_index(["arm", "task"])
    ranks = []
    for t in results.tasks:
        vals = {a: acc.value.get((a, t), np.nan) for a in summary.arm}
        ordered = pd.Series(vals).rank(ascending=False, method="average")
        ranks.append(ordered)
    summary["rank"] = pd.concat(ranks, axis=1).mean(axis=1).reindex(summary.arm).to_numpy() if ranks else np.nan
    experts = _experts_row(results)
    if experts is not None:
        summary = pd.concat([summary, pd.DataFrame([experts])], ignore_index=True)
    return summary


def _experts_row(results: MergeResults) -> dict[str, Any] | None:
    """Each expert on its own task, as one row (normalized accuracy 100% by definition)."""
    acc = results.accuracy
    own = acc[(acc.role == "expert") & (acc.arm == acc.task)]
    if len(own) != len(results.tasks) or own.empty:
        return None
    alpha = (1 - results.level) / 2
    v = float(own.value.mean())
    row = {"arm": "experts", "role": "experts", "method": "experts", "entry": "experts", "grid": {},
           "label": "Experts (each on its own task)", "seeds": 1, "accuracy": v, "normalized": 1.0, "norm_low": 1.0,
           "norm_high": 1.0, "chosen": False, "complete": True, "selection": np.nan, "transductive": False, "rank": np.nan}
    rep = results.boot_acc.get("experts")
    lo, hi = np.quantile(rep, [alpha, 1 - alpha]) if rep is not None else (np.nan, np.nan)
    row.update(acc_low=min(lo, v), acc_high=max(hi, v))
    return row


def _sweeps(results: MergeResults) -> dict[str, pd.DataFrame]:
    out = {}
    merged = results.rows[results.rows.role == "merged"]
    for entry, g in merged.groupby("entry", sort=False):
        if len(g) < 2:
            continue
        frame = g[["arm", "label", "grid", "selection", "accuracy", "acc_low", "acc_high", "normalized", "norm_low",
                   "norm_high", "chosen"]].copy()
        for key in (g.grid.iloc[0] or {}):
            frame[key] = [gr.get(key) for gr in g.grid]
        out[str(entry)] = frame.reset_index(drop=True)
    return out


def _transductive(store: Store, study: str) -> dict[str, bool]:
    info = Q.arm_info(store, study, FIT, "transductive")
    return {r.arm: str(r.value).lower() == "true" for r in info.itertuples()}


def _diagnostics(store: Store, study: str, results: MergeResults) -> None:
    values = {}
    for key in ("experts", "similarity", "conflicts", "norms", "density"):
        got = Q.arm_info(store, study, DIAGNOSE, key)
        values[key] = json.loads(got.value.iloc[0]) if len(got) and got.value.iloc[0] is not None else None
    if values["experts"] is None:
        return
    ids = values["experts"]
    if values["similarity"] is not None:
        results.similarity = pd.DataFrame(values["similarity"], index=ids, columns=ids)
    if values["conflicts"]:
        conflicts = pd.DataFrame(values["conflicts"])
        results.conflicts = conflicts[conflicts.shared > 0].reset_index(drop=True)  # layers some expert changed
    if values["norms"]:
        results.norms = pd.DataFrame(values["norms"])
    results.conflict_density = values["density"]
