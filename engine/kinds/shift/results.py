"""Reading results back: tables with intervals, drops, effective robustness, OOD detection, paired
comparisons. Everything here is computed from the database; nothing re-runs a model.

Seeds: a table entry is the mean over seeds of each seed's value. For metrics that are means over
examples (accuracy, NLL, Brier) its interval is a bootstrap over examples pooled across seeds, with
each example resampled together with all its seeds (clusters = example). For ECE and macro-F1 the
per-seed bootstrap bounds are averaged. ``seed_sd`` is the spread over seeds (sample sd).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine import stats as S
from engine.core import queries as Q
from engine.core.errors import JuxtaError
from engine.core.store import Store
from engine.kinds.shift.spec import AXES

MEAN_METRICS = {"accuracy": "correct", "nll": "nll", "brier": "brier"}


def cell_metrics(store: Store, study: str) -> pd.DataFrame:
    """One row per finished eval cell and metric (the long format charts start from): arm, condition,
    family, severity, seed, metric, value, ci_low, ci_high, n, device, duration_s."""
    return Q.finished_metrics(store, study, "eval", AXES)


def metric_table(store: Store, study: str, metric: str = "accuracy", n_resamples: int = 1000,
                 level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """arm × condition: mean over seeds, interval, seed spread, example count."""
    per_cell = cell_metrics(store, study)
    per_cell = per_cell[per_cell.metric == metric]
    if per_cell.empty:
        return pd.DataFrame(columns=["arm", "condition", "family", "severity", "value", "ci_low", "ci_high", "seed_sd", "n_seeds", "n"])
    rows = []
    pooled = _pooled_intervals(store, study, metric, n_resamples, level, seed) if metric in MEAN_METRICS else {}
    for (arm, cond), g in per_cell.groupby(["arm", "condition"], sort=False):
        spread = S.seed_spread(g.value.tolist())
        low, high = pooled.get((arm, cond), (g.ci_low.mean(), g.ci_high.mean()))
        rows.append({
            "arm": arm, "condition": cond, "family": g.family.iloc[0],
            "severity": g.severity.iloc[0], "value": spread.mean, "ci_low": low, "ci_high": high,
            "seed_sd": spread.std, "n_seeds": spread.n_seeds, "n": int(g.n.sum()),
        })
    return _ordered(pd.DataFrame(rows))


def _pooled_intervals(store: Store, study: str, metric: str, n_resamples: int, level: float, seed: int) -> dict:
    """(arm, condition) -> bootstrap interval of the metric's mean over examples pooled across seeds,
    each example resampled with all its seeds (``S.bootstrap_mean`` with clusters = example).

    Same numbers as calling ``S.bootstrap_mean(values, clusters=example)`` per group, computed in
    bulk: the rows arrive sorted by group and example (one sort in DuckDB, no pandas groupby), the
    per-example sums come from one ``reduceat``, and groups whose examples all have the same number
    of seeds (the usual case) share the resample indices that ``S.bootstrap_mean`` would draw for
    them (the same seed and size give the same indices), so the indices are drawn once per size and
    the groups are resampled together. Groups with uneven seed coverage go through
    ``S.bootstrap_mean`` unchanged.
    """
    column = MEAN_METRICS[metric]
    level = S._check_level(level)
    groups, cols = Q.example_values(store, study, "eval", column)
    if not groups:
        return {}
    gid, example, v = cols["gid"], cols["example"], cols["v"]
    out: dict = {}
    if len(v) == 0:
        return out
    bounds = np.flatnonzero(np.diff(gid)) + 1
    g_start = np.concatenate([[0], bounds])
    g_end = np.concatenate([bounds, [len(v)]])
    # per-example runs inside each group (rows are sorted by group, then example)
    new_run = np.ones(len(v), dtype=bool)
    new_run[1:] = (gid[1:] != gid[:-1]) | (example[1:] != example[:-1])
    run_start = np.flatnonzero(new_run)
    run_sum = np.add.reduceat(v, run_start)
    run_size = np.diff(np.append(run_start, len(v)))
    run_group = np.searchsorted(g_start, run_start, side="right") - 1
    r_bounds = np.searchsorted(run_group, np.arange(len(g_start) + 1))

    even: dict[int, list[tuple[tuple, np.ndarray, float]]] = {}  # cluster count -> [((arm, condition), cluster means, value)]
    for k, (a, b) in enumerate(zip(g_start, g_end)):
        key = groups[int(gid[a])]
        sizes = run_size[r_bounds[k]:r_bounds[k + 1]]
        if n_resamples > 0 and np.all(sizes == sizes[0]) and np.all(np.isfinite(v[a:b])):
            x = run_sum[r_bounds[k]:r_bounds[k + 1]] / sizes[0]
            if len(x) * n_resamples <= S._DIRECT_LIMIT:
                even.setdefault(len(x), []).append((key, x, float(v[a:b].mean())))
                continue
            iv = S.bootstrap_mean(x, n_resamples=n_resamples, seed=seed, level=level)
        else:
            iv = S.bootstrap_mean(v[a:b], n_resamples=n_resamples, seed=seed, level=level, clusters=example[a:b])
        out[key] = (iv.low, iv.high)
    for n, members in even.items():
        dists = _shared_index_means(np.stack([x for _, x, _ in members]), n_resamples, seed)
        for (key, _, value), dist in zip(members, dists):
            iv = S._interval(value, dist, level, n)
            out[key] = (iv.low, iv.high)
    return out


def _shared_index_means(xs: np.ndarray, r: int, seed: int) -> np.ndarray:
    """``S._bootstrap_means(x, r, default_rng(seed))`` on its index path, for every row x of ``xs``:
    the indices depend only on the seed and the length, so each chunk of them is drawn once (same
    chunks, same order) and applied to every row with the same 2-D gather and mean, which keeps the
    results bit-identical."""
    g, n = xs.shape
    out = np.empty((g, r))
    rng = np.random.default_rng(seed)
    chunk = max(S._CHUNK_MIN, S._CHUNK_ELEMS // n)
    for s in range(0, r, chunk):
        rc = min(chunk, r - s)
        idx = rng.integers(0, n, size=(rc, n))
        for k in range(g):
            out[k, s:s + rc] = np.add.reduce(xs[k][idx], axis=1) / n  # what ndarray.mean computes
    return out


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Clean first, then conditions in study order by family and severity."""
    order = {"clean": 0}
    frame = frame.copy()
    frame["_fam"] = frame.family.map(lambda f: order.setdefault(f, len(order)))
    frame["_sev"] = frame.severity.fillna(0)
    return frame.sort_values(["_fam", "_sev", "condition", "arm"]).drop(columns=["_fam", "_sev"]).reset_index(drop=True)


def family_table(table: pd.DataFrame) -> pd.DataFrame:
    """Average the severities of each graded shift (corruptions, tabular, text); keep the rest as is."""
    graded = table[table.severity.notna()]
    agg = graded.groupby(["arm", "family"], sort=False).agg(
        value=("value", "mean"), ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean"),
        seed_sd=("seed_sd", "mean"), n_conditions=("condition", "count"),
    ).reset_index()
    agg["condition"] = agg.family + np.where(agg.n_conditions > 1, " (mean of " + agg.n_conditions.astype(str) + " severities)", "")
    rest = table[table.severity.isna()]
    clean = rest[rest.condition == "clean"]
    return pd.concat([clean, agg, rest[rest.condition != "clean"]], ignore_index=True)


def relative_drop(table: pd.DataFrame) -> pd.DataFrame:
    """(clean − shifted) / clean per arm and condition, from a metric table (higher-is-better metrics)."""
    clean = table[table.condition == "clean"].set_index("arm").value
    out = table[table.condition != "clean"].copy()
    out["clean"] = out.arm.map(clean).astype(float)  # float even when no shifted rows remain
    out["drop"] = (out.clean - out.value) / out.clean
    return out


@dataclass
class Robustness:
    points: pd.DataFrame  # arm, seed, id_acc, shifted_acc, effective_robustness
    fit: S.LineFit | None
    curve: S.CurveFit | None
    per_arm: pd.DataFrame  # arm, id_acc, shifted_acc, effective_robustness (means over seeds)


def effective_robustness(store: Store, study: str, kinds: tuple[str, ...] = ("corruption",)) -> Robustness:
    """Accuracy on the line: fit shifted vs clean accuracy in probit space across arms × seeds."""
    acc = Q.finished_metrics(store, study, "eval", AXES, metric="accuracy", params={"condition_kind": "$.condition.kind"})
    acc = acc[(acc.condition == "clean") | acc.condition_kind.isin(kinds)]
    clean = acc[acc.condition == "clean"].set_index(["arm", "seed"]).value.rename("id_acc")
    shifted = acc[acc.condition != "clean"].groupby(["arm", "seed"]).value.mean().rename("shifted_acc")
    points = pd.concat([clean, shifted], axis=1).dropna().reset_index()
    fit = curve = None
    points["effective_robustness"] = np.nan
    if points.id_acc.nunique() >= 2:
        fit = S.fit_on_the_line(points.id_acc, points.shifted_acc)
        points["effective_robustness"] = S.effective_robustness(fit, points.id_acc, points.shifted_acc)
        if points.id_acc.nunique() >= 3:
            curve = S.fit_curve(points.id_acc, points.shifted_acc)
    per_arm = points.groupby("arm")[["id_acc", "shifted_acc", "effective_robustness"]].mean().reset_index()
    return Robustness(points, fit, curve, per_arm)


def ood_detection(store: Store, study: str) -> pd.DataFrame:
    """Per arm and shifted condition: how well scores separate shifted from clean examples.

    Positive class: the shifted example (see ``engine.stats.OOD_CONVENTION``). Scores come from the
    stored max-softmax confidence and energy; seeds are pooled.
    """
    preds = Q.predictions(store, study, "eval", ("confidence", "energy"),
                          param_in=("$.condition.kind", ("clean", "corruption", "tabular", "text", "field")))
    rows = []
    for arm, g in preds.groupby("arm"):
        clean = g[g.condition == "clean"]
        if clean.empty:
            continue
        for cond, s in g[g.condition != "clean"].groupby("condition"):
            msp_in, msp_out = -clean.confidence.to_numpy(np.float64), -s.confidence.to_numpy(np.float64)
            e_in, e_out = clean.energy.to_numpy(np.float64), s.energy.to_numpy(np.float64)
            rows.append({
                "arm": arm, "condition": cond,
                "auroc_msp": S.auroc(msp_out, msp_in), "fpr95_msp": S.fpr_at_tpr(msp_out, msp_in),
                "auroc_energy": S.auroc(e_out, e_in), "fpr95_energy": S.fpr_at_tpr(e_out, e_in),
            })
    return pd.DataFrame(rows)


def compare_arms(store: Store, study: str, arm_a: str, arm_b: str, condition: str = "clean",
                 n_resamples: int = 1000, seed: int = 0, level: float = 0.95) -> S.PairedComparison:
    """Paired comparison of two arms on the same examples (same condition, seeds and positions)."""
    preds = Q.predictions(store, study, "eval", ("correct",), conditions=[condition], arms=[arm_a, arm_b],
                          order=("arm", "seed", "position"))
    a = preds[preds.arm == arm_a].set_index(["seed", "position"]).correct
    b = preds[preds.arm == arm_b].set_index(["seed", "position"]).correct
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").sort_index()
    if joined.empty:
        raise JuxtaError(f"No shared examples for '{arm_a}' and '{arm_b}' under condition '{condition}' in study '{study}'.")
    return S.paired_comparison(joined.a.to_numpy(), joined.b.to_numpy(), n_resamples=n_resamples, seed=seed, level=level)


def reliability_bins(store: Store, study: str, n_bins: int = 15) -> pd.DataFrame:
    """Reliability diagram data per arm and condition (seeds pooled), with the ECE binning convention."""
    return Q.reliability(store, study, "eval", n_bins)


@dataclass
class ShiftResults:
    """Everything the shift charts and tables draw, read once from the database."""

    study: str
    arms: list[str]
    conditions: list[str]  # in display order, clean first
    accuracy: pd.DataFrame  # metric_table(..., "accuracy")
    cells: pd.DataFrame  # cell_metrics: arm, condition, family, severity, seed, metric, value, ci_low, ci_high, n, device, duration_s
    drop: pd.DataFrame  # relative_drop(accuracy)
    robustness: Robustness
    reliability: pd.DataFrame  # reliability_bins

    @property
    def corruption_families(self) -> list[str]:
        graded = self.accuracy[self.accuracy.severity.notna()]
        return list(dict.fromkeys(graded.family))


def load_shift_results(store: Store, study: str, n_resamples: int = 1000) -> ShiftResults:
    accuracy = metric_table(store, study, "accuracy", n_resamples=n_resamples)
    return ShiftResults(
        study=study,
        arms=sorted(set(accuracy.arm)),
        conditions=list(dict.fromkeys(accuracy.condition)),
        accuracy=accuracy,
        cells=cell_metrics(store, study),
        drop=relative_drop(accuracy) if not accuracy.empty else accuracy,
        robustness=effective_robustness(store, study),
        reliability=reliability_bins(store, study),
    )
