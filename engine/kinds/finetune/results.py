"""Reading a fine-tuning study back: one row per arm with its costs, accuracies in and out of
distribution, forgetting and negative flips (each with an interval), learning curves, the learning
rates tried and the WiSE-FT curve. Computed from the database; nothing re-runs a model.

Conventions:

* An accuracy pools every seed's predictions; its interval resamples examples, each with all its seeds
  (``engine.stats.bootstrap_mean`` with clusters = example). Out-of-distribution accuracy pools every
  shifted condition the same way (an example resampled with all its conditions).
* Gains, forgetting and flips are paired on the same examples (seed and position) against the base.
  Gain = accuracy on the target test − the base's; forgetting = the base's accuracy on the source −
  the arm's (positive: the arm lost that much of the old task).
* An arm's learning rate was chosen by its ``ft.select`` cells on validation accuracy (mean over
  seeds), never on test; WiSE-FT's α is chosen the same way here, from its validation cells.
* Cost figures (trainable parameters, wall time, peak memory) are means over the chosen learning
  rate's tuning runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine import stats as S
from engine.core import queries as Q
from engine.core.store import Store
from engine.kinds.finetune.plan import EVAL, SELECT, TUNE
from engine.kinds.finetune.spec import BASE_ARM, EVAL_AXES, TUNE_AXES

LR_RULE = "Learning rates were chosen per method on validation accuracy (mean over seeds), never on test data."


@dataclass(frozen=True)
class ArmInfo:
    """What an arm is: ``kind`` is "base", "trained" or "wise" (WiSE-FT points, ``source`` = its from-arm)."""

    id: str
    label: str
    method: str
    kind: str
    source: str = ""


@dataclass
class FinetuneResults:
    """Everything the fine-tuning charts and tables draw, read once from the database.

    ``table``: one row per arm (the base first, WiSE-FT at its chosen α) with costs, accuracies, gain,
    forgetting and flips (see ``TABLE_COLUMNS``). ``sets``: accuracy per arm and evaluation set.
    ``flips``: flips against the base per arm and set. ``curves``: every tuning run's learning curves
    (``chosen`` marks the chosen learning rate's). ``lrs``: mean validation accuracy per arm and
    learning rate. ``wise``: accuracy per WiSE-FT arm, α and set; ``wise_alpha``: the α chosen on
    validation per WiSE-FT arm.
    """

    study: str
    arms: list[ArmInfo]
    table: pd.DataFrame
    sets: pd.DataFrame
    flips: pd.DataFrame
    curves: pd.DataFrame
    lrs: pd.DataFrame
    wise: pd.DataFrame
    wise_alpha: dict[str, float]
    cells: pd.DataFrame  # finished_metrics of the evaluation cells (the long format)
    level: float = 0.95
    n_resamples: int = 1000
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.table.empty

    def arm(self, arm_id: str) -> ArmInfo | None:
        return next((a for a in self.arms if a.id == arm_id), None)

    def row(self, arm_id: str) -> pd.Series | None:
        rows = self.table[self.table.arm == arm_id]
        return None if rows.empty else rows.iloc[0]


TABLE_COLUMNS = [
    "arm", "label", "method", "kind", "chosen_lr", "alpha", "trainable", "share", "base_params", "peft_share", "wall_s",
    "peak_memory_bytes", "memory_kind", "id_acc", "id_lo", "id_hi", "ood_acc", "ood_lo", "ood_hi", "ece", "ece_lo",
    "ece_hi", "source_acc", "source_lo", "source_hi", "gain", "gain_lo", "gain_hi", "forgetting", "forgetting_lo",
    "forgetting_hi", "nf_count", "nf_n", "nf_rate", "nf_lo", "nf_hi", "pf_count", "pf_rate", "pf_lo", "pf_hi",
    "nf_set", "pareto",
]


class Predictions:
    """Per-example correctness of every finished evaluation cell, grouped by (arm, set), in (seed,
    position) order; a position is the same example in every seed and arm."""

    def __init__(self, store: Store, study: str):
        frame = Q.predictions(store, study, EVAL, ("correct",), order=("arm", "condition", "seed", "position"))
        self.groups: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        if frame.empty:
            return
        keys = (frame.seed.to_numpy(np.int64) << 32) + frame.position.to_numpy(np.int64)
        correct = frame.correct.to_numpy(bool)
        for (arm, cond), rows in frame.groupby(["arm", "condition"], sort=False).indices.items():
            self.groups[(str(arm), str(cond))] = (keys[rows], correct[rows])

    def get(self, arm: str, condition: str) -> tuple[np.ndarray, np.ndarray] | None:
        return self.groups.get((arm, condition))

    def paired(self, a: str, b: str, condition: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(a's correctness, b's, the example of each pair) on the pairs both have."""
        ga, gb = self.get(a, condition), self.get(b, condition)
        if ga is None or gb is None:
            return None
        _, ia, ib = np.intersect1d(ga[0], gb[0], assume_unique=True, return_indices=True)
        if len(ia) == 0:
            return None
        return ga[1][ia], gb[1][ib], ga[0][ia] & 0xFFFFFFFF


def pooled_accuracy(correct: np.ndarray, keys: np.ndarray, n_resamples: int, level: float) -> S.Interval:
    """Accuracy over all seeds, its interval resampling examples (a position) with all their seeds."""
    return S.bootstrap_mean(correct.astype(np.float64), n_resamples=n_resamples, seed=0, level=level,
                            clusters=keys & 0xFFFFFFFF)


def gain_ratio(arm: np.ndarray, ref: np.ndarray, base: np.ndarray, examples: np.ndarray, n_resamples: int,
               level: float) -> S.Interval | None:
    """(arm − base) / (ref − base) in accuracy, paired on the same examples, with a bootstrap interval
    over examples (each with all its seeds); None when the reference gains nothing."""
    _, inv = np.unique(examples, return_inverse=True)
    sizes = np.bincount(inv)
    da = np.bincount(inv, weights=arm.astype(float) - base) / sizes
    dr = np.bincount(inv, weights=ref.astype(float) - base) / sizes
    if dr.mean() <= 0:
        return None
    value = float(da.mean() / dr.mean())
    if n_resamples == 0:
        return S.Interval(value, value, value, len(sizes))
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(sizes), size=(n_resamples, len(sizes)))
    num, den = da[idx].mean(axis=1), dr[idx].mean(axis=1)
    ok = den > 0
    dist = num[ok] / den[ok]
    if len(dist) < 0.9 * n_resamples:  # the reference's gain is not clearly above zero
        return S.Interval(value, float("nan"), float("nan"), len(sizes))
    a = (1 - level) / 2
    lo, hi = np.quantile(dist, [a, 1 - a])
    return S.Interval(value, float(min(lo, value)), float(max(hi, value)), len(sizes))


def load_finetune_results(store: Store, study: str, n_resamples: int = 1000, level: float = 0.95) -> FinetuneResults:
    cells = Q.finished_metrics(store, study, EVAL, EVAL_AXES)
    tune = Q.finished_metrics(store, study, TUNE, TUNE_AXES)
    select = Q.finished_metrics(store, study, SELECT)
    arms = _arms(store, study)
    preds = Predictions(store, study)
    chosen_lr = select[select.metric == "chosen_lr"].groupby("arm").value.first().to_dict()
    lrs = _lr_table(tune, chosen_lr)
    curves = _curves(store, study, chosen_lr)
    wise, wise_alpha = _wise(cells, arms, preds, n_resamples, level)
    sets = _sets(cells, preds, n_resamples, level)
    flips = _flips(arms, wise_alpha, preds, sets, n_resamples, level)
    table = _table(store, study, arms, tune, cells, chosen_lr, wise_alpha, preds, sets, flips, n_resamples, level)
    return FinetuneResults(study, arms, table, sets, flips, curves, lrs, wise, wise_alpha, cells, level, n_resamples,
                           [LR_RULE])


def _arms(store: Store, study: str) -> list[ArmInfo]:
    """The study's arms as its plan has them (labels from the tuning cells' specs)."""
    from engine.kinds.finetune.methods import METHODS

    rows = store.query(
        """SELECT sc.arm, sc.type, any_value(json_extract_string(sc.axes, '$.method')) AS method,
                  min(sc.cell_key) AS key
           FROM study_cells sc WHERE sc.study = ? AND sc.type IN (?, ?) GROUP BY sc.arm, sc.type
           ORDER BY min(sc.rowid)""", [study, TUNE, EVAL])
    specs = dict(store.con.execute(
        "SELECT c.cell_key, c.params FROM cells c WHERE c.cell_key IN (SELECT unnest(?))", [rows.key.tolist()]).fetchall())
    out: list[ArmInfo] = [ArmInfo(BASE_ARM, "Base (not tuned)", BASE_ARM, "base")]
    seen = {BASE_ARM}
    for r in rows.itertuples():
        arm = str(r.arm).split("@", 1)[0]
        if arm in seen or r.method is None:
            continue
        seen.add(arm)
        method = METHODS.get(str(r.method))
        title = method.title if method else str(r.method)
        if method is not None and not method.trains:
            spec = json.loads(specs.get(r.key) or "{}") if r.key in specs else {}
            out.append(ArmInfo(arm, f"{title}", str(r.method), "wise", _wise_source(spec)))
            continue
        label = title
        if method is not None and method.budget:
            params = json.loads(specs[r.key]).get("params", {}) if r.key in specs else {}
            mark = {"rank": "r", "k": "k"}.get(method.budget, method.budget)
            if arm != method.name and params.get(method.budget) is not None:
                label = f"{title} {mark}={params[method.budget]}"
        out.append(ArmInfo(arm, label, str(r.method), "trained"))
    return out


def _wise_source(spec: dict) -> str:
    return str((spec.get("model") or {}).get("from") or "")


def _lr_table(tune: pd.DataFrame, chosen: dict) -> pd.DataFrame:
    acc = tune[tune.metric == "val_accuracy"]
    if acc.empty:
        return pd.DataFrame(columns=["arm", "lr", "val_accuracy", "seeds", "chosen"])
    out = acc.groupby(["arm", "lr"], sort=False).agg(val_accuracy=("value", "mean"), seeds=("seed", "nunique")).reset_index()
    out["chosen"] = [chosen.get(a) is not None and np.isclose(lr, chosen[a]) for a, lr in zip(out.arm, out.lr)]
    return out


def _curves(store: Store, study: str, chosen: dict) -> pd.DataFrame:
    c = Q.curves(store, study, TUNE)
    if c.empty:
        return pd.DataFrame(columns=["arm", "lr", "seed", "step", "series", "value", "chosen"])
    c["lr"] = c.condition.str.removeprefix("lr=").astype(float)
    c["chosen"] = [chosen.get(a) is not None and np.isclose(lr, chosen[a]) for a, lr in zip(c.arm, c.lr)]
    return c.drop(columns=["condition"])


def _sets(cells: pd.DataFrame, preds: Predictions, n_resamples: int, level: float) -> pd.DataFrame:
    rows = []
    for (arm, cond), (keys, correct) in preds.groups.items():
        iv = pooled_accuracy(correct, keys, n_resamples, level)
        rows.append({"arm": arm, "condition": cond, "set": set_kind(cond), "value": iv.value, "ci_low": iv.low, "ci_high": iv.high,
                     "n_seeds": len(np.unique(keys >> 32)), "n": len(keys)})
    frame = pd.DataFrame(rows, columns=["arm", "condition", "set", "value", "ci_low", "ci_high", "n_seeds", "n"])
    order = {"target": 0, "ood": 1, "source": 2, "validation": 3}
    return frame.sort_values("set", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def set_kind(condition: str) -> str:
    """'target', 'ood', 'source' or 'validation' for an evaluation set id ('ood:gaussian_noise/3' -> 'ood')."""
    return "ood" if condition.startswith("ood:") else condition


def _wise(cells: pd.DataFrame, arms: list[ArmInfo], preds: Predictions, n_resamples: int, level: float
          ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Accuracy per WiSE-FT arm, α and set (OOD sets pooled as "ood"), and the α chosen on validation."""
    rows, chosen = [], {}
    acc = cells[(cells.metric == "accuracy") & cells.alpha.notna()]
    for arm in (a for a in arms if a.kind == "wise"):
        mine = acc[acc.arm.str.startswith(arm.id + "@")]
        val = mine[mine.set == "validation"].groupby("alpha").value.mean()
        if not val.empty:
            chosen[arm.id] = float(max(val.index, key=lambda a: (round(val[a], 12), -abs(a - 0.5))))
        for alpha in sorted(mine.alpha.unique()):
            point = f"{arm.id}@{alpha:g}"
            by_set: dict[str, list] = {}
            for cond in sorted(set(mine[mine.alpha == alpha].condition)):
                got = preds.get(point, cond)
                if got is not None:
                    by_set.setdefault(set_kind(cond), []).append(got)
            for kind, parts in by_set.items():
                keys = np.concatenate([k + (i << 48) for i, (k, _) in enumerate(parts)])
                correct = np.concatenate([c for _, c in parts])
                iv = S.bootstrap_mean(correct.astype(float), n_resamples=n_resamples, seed=0, level=level,
                                      clusters=keys & 0xFFFFFFFF)
                rows.append({"arm": arm.id, "alpha": float(alpha), "set": kind, "value": iv.value, "ci_low": iv.low,
                             "ci_high": iv.high})
    return pd.DataFrame(rows, columns=["arm", "alpha", "set", "value", "ci_low", "ci_high"]), chosen


def shown_id(arm: ArmInfo, wise_alpha: dict[str, float]) -> str | None:
    """The evaluated arm id that stands for an arm in tables: a WiSE-FT arm's point at its chosen α."""
    if arm.kind != "wise":
        return arm.id
    alpha = wise_alpha.get(arm.id)
    return None if alpha is None else f"{arm.id}@{alpha:g}"


def _flips(arms: list[ArmInfo], wise_alpha: dict[str, float], preds: Predictions, sets: pd.DataFrame,
           n_resamples: int, level: float) -> pd.DataFrame:
    rows = []
    conditions = list(dict.fromkeys(sets.condition))
    for arm in arms:
        shown = shown_id(arm, wise_alpha)
        if arm.kind == "base" or shown is None:
            continue
        for cond in conditions:
            pair = preds.paired(BASE_ARM, shown, cond)
            if pair is None or cond == "validation":
                continue
            base, new, examples = pair
            f = S.flips(base, new, level=level, clusters=examples, n_resamples=n_resamples)
            rows.append({"arm": arm.id, "condition": cond, "negative": f.negative, "positive": f.positive, "n": f.n,
                         "negative_rate": f.negative_rate.value, "negative_low": f.negative_rate.low,
                         "negative_high": f.negative_rate.high, "positive_rate": f.positive_rate.value,
                         "positive_low": f.positive_rate.low, "positive_high": f.positive_rate.high})
    return pd.DataFrame(rows, columns=["arm", "condition", "negative", "positive", "n", "negative_rate", "negative_low",
                                       "negative_high", "positive_rate", "positive_low", "positive_high"])


def _table(store: Store, study: str, arms: list[ArmInfo], tune: pd.DataFrame, cells: pd.DataFrame, chosen_lr: dict,
           wise_alpha: dict[str, float], preds: Predictions, sets: pd.DataFrame, flips: pd.DataFrame,
           n_resamples: int, level: float) -> pd.DataFrame:
    costs = _costs(store, study, tune, chosen_lr)
    ece = cells[cells.metric == "ece"]
    rows = []
    for arm in arms:
        shown = shown_id(arm, wise_alpha)
        if shown is None:
            continue
        cost_arm = arm.source if arm.kind == "wise" else arm.id
        r: dict = {"arm": arm.id, "label": arm.label, "method": arm.method, "kind": arm.kind,
                   "chosen_lr": chosen_lr.get(cost_arm, np.nan), "alpha": wise_alpha.get(arm.id, np.nan)}
        c = costs.get(cost_arm, {}) if arm.kind != "base" else \
            {"base_params": next((v["base_params"] for v in costs.values()), np.nan)}
        r.update({k: c.get(k, 0 if arm.kind == "base" else np.nan) for k in ("trainable", "share", "wall_s")})
        r.update({k: c.get(k, np.nan) for k in ("base_params", "peft_share", "peak_memory_bytes")})
        r["memory_kind"] = c.get("memory_kind", "")
        r.update(_acc(preds, shown, "target", "id", n_resamples, level))
        r.update(_ood(preds, shown, [cd for cd in dict.fromkeys(sets.condition) if cd.startswith("ood:")], n_resamples, level))
        r.update(_acc(preds, shown, "source", "source", n_resamples, level))
        e = ece[(ece.arm == shown) & (ece.condition == "target")]
        r.update({"ece": e.value.mean() if len(e) else np.nan, "ece_lo": e.ci_low.mean() if len(e) else np.nan,
                  "ece_hi": e.ci_high.mean() if len(e) else np.nan})
        r.update(_paired(preds, shown, "target", "gain", n_resamples, level, base_first=False))
        r.update(_paired(preds, shown, "source", "forgetting", n_resamples, level, base_first=True))
        nf_set = "source" if ((flips.arm == arm.id) & (flips.condition == "source")).any() else "target"
        f = flips[(flips.arm == arm.id) & (flips.condition == nf_set)]
        if len(f):
            f = f.iloc[0]
            r.update({"nf_count": f.negative, "nf_n": f.n, "nf_rate": f.negative_rate, "nf_lo": f.negative_low,
                      "nf_hi": f.negative_high, "pf_count": f.positive, "pf_rate": f.positive_rate, "pf_lo": f.positive_low,
                      "pf_hi": f.positive_high, "nf_set": nf_set})
        rows.append(r)
    table = pd.DataFrame(rows).reindex(columns=TABLE_COLUMNS)
    table["pareto"] = pareto_front(table)
    return table


def pareto_front(table: pd.DataFrame) -> list[bool]:
    """Arms no other arm beats on both counts: as accurate on the target or more, with as few trainable
    parameters or fewer (and strictly better on one). The base is not a contender."""
    pts = [(r.trainable, r.id_acc) if r.kind != "base" and np.isfinite(r.trainable) and np.isfinite(r.id_acc) else None
           for r in table.itertuples()]
    out = []
    for p in pts:
        if p is None:
            out.append(False)
            continue
        out.append(not any(q is not None and q[0] <= p[0] and q[1] >= p[1] and (q[0] < p[0] or q[1] > p[1]) for q in pts))
    return out


def _costs(store: Store, study: str, tune: pd.DataFrame, chosen_lr: dict) -> dict[str, dict]:
    """Per arm, the chosen learning rate's tuning runs: mean trainable count and share, wall time, peak memory."""
    kinds = Q.arm_info(store, study, TUNE, "memory")
    memory = {r.arm: str(json.loads(r.value)) if isinstance(r.value, str) else "" for r in kinds.itertuples()}
    out: dict[str, dict] = {}
    for arm, g in tune.groupby("arm"):
        lr = chosen_lr.get(arm)
        mine = g[np.isclose(g.lr, lr)] if lr is not None else g
        values = mine.groupby("metric").value.mean()
        peft = values.get("peft_trainable_params", np.nan) / values.get("peft_total_params", np.nan)
        out[arm] = {"trainable": values.get("trainable_params", np.nan), "share": values.get("trainable_share", np.nan),
                    "wall_s": values.get("wall_s", np.nan), "base_params": values.get("base_params", np.nan),
                    "peak_memory_bytes": values.get("peak_memory_bytes", np.nan), "peft_share": peft,
                    "memory_kind": memory.get(arm, "")}
    return out


def _acc(preds: Predictions, arm: str, condition: str, prefix: str, n_resamples: int, level: float) -> dict:
    got = preds.get(arm, condition)
    if got is None:
        return {f"{prefix}_acc": np.nan, f"{prefix}_lo": np.nan, f"{prefix}_hi": np.nan}
    iv = pooled_accuracy(got[1], got[0], n_resamples, level)
    return {f"{prefix}_acc": iv.value, f"{prefix}_lo": iv.low, f"{prefix}_hi": iv.high}


def _ood(preds: Predictions, arm: str, conditions: list[str], n_resamples: int, level: float) -> dict:
    parts = [preds.get(arm, c) for c in conditions]
    parts = [p for p in parts if p is not None]
    if not parts:
        return {"ood_acc": np.nan, "ood_lo": np.nan, "ood_hi": np.nan}
    keys = np.concatenate([k for k, _ in parts])
    correct = np.concatenate([c for _, c in parts])
    iv = pooled_accuracy(correct, keys, n_resamples, level)
    return {"ood_acc": iv.value, "ood_lo": iv.low, "ood_hi": iv.high}


def _paired(preds: Predictions, arm: str, condition: str, name: str, n_resamples: int, level: float,
            base_first: bool) -> dict:
    """Accuracy difference against the base on the same examples: arm − base (``base_first`` False) or
    base − arm (forgetting)."""
    pair = preds.paired(BASE_ARM, arm, condition)
    if pair is None or arm == BASE_ARM:
        return {name: 0.0 if arm == BASE_ARM else np.nan, f"{name}_lo": np.nan, f"{name}_hi": np.nan}
    base, new, _ = pair
    cmp = S.paired_comparison(base, new, n_resamples, 0, level) if base_first else \
        S.paired_comparison(new, base, n_resamples, 0, level)
    return {name: cmp.diff, f"{name}_lo": cmp.low, f"{name}_hi": cmp.high}
