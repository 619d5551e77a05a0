"""A shift study's results in a few tables, for ``juxta results`` (``ShiftKind.results_summary``).

The default is one table of a metric per condition (graded shifts averaged over their severities)
and arm, with its interval and the effective robustness of each arm; ``full`` shows every severity,
``drop`` the relative drop from clean, ``compare`` a paired comparison of two arms on one condition,
``ood`` how well each model's scores detect shifted inputs.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.core.errors import JuxtaError
from engine.core.store import Store
from engine.kinds.base import ResultsSummary
from engine.kinds.shift import results as R
from engine.metrics import METRICS, PERCENT_METRICS
from engine.report.schema import Table, TableCell

CORRUPTION_CAPTION = "Corruptions are -C-style, computed in memory; not comparable with published CIFAR-10-C numbers."


def results_summary(store: Store, study: str, options: Mapping[str, Any]) -> ResultsSummary:
    if options.get("compare"):
        return _comparison(store, study, *options["compare"], options.get("condition") or "clean")
    if options.get("ood"):
        return _ood(store, study, bool(options.get("full")))
    return _metric(store, study, options.get("metric") or "accuracy", bool(options.get("full")), bool(options.get("drop")))


def _interval(v: float, lo: float, hi: float, pct: bool) -> TableCell:
    if pct:
        return TableCell(f"{100 * v:5.1f}", f"[{100 * lo:.1f}–{100 * hi:.1f}]")
    return TableCell(f"{v:.3f}", f"[{lo:.3f}–{hi:.3f}]")


def _check_metric(store: Store, study: str, metric: str) -> None:
    """Say plainly when a metric does not exist, or exists but this study did not compute it."""
    computed = sorted(set(R.cell_metrics(store, study).metric))
    if metric in computed or (metric in METRICS and not computed):
        return
    if metric in METRICS:
        raise JuxtaError(f"Study '{study}' did not compute '{metric}'; it computed {', '.join(computed)}. "
                         "Add it to [metrics].names in the study file and run it again.")
    known = list(METRICS) + [m for m in computed if m not in METRICS]
    raise JuxtaError(f"Unknown metric '{metric}'; the metrics are: {', '.join(known)}.")


def _metric(store: Store, study: str, metric: str, full: bool, drop: bool) -> ResultsSummary:
    _check_metric(store, study, metric)
    table = R.metric_table(store, study, metric)
    if table.empty:
        raise JuxtaError(f"Study '{study}' has no finished cells with metric '{metric}' yet; run it first.")
    if drop:
        d = R.relative_drop(table)
        table = d.assign(value=d["drop"], ci_low=(d.clean - d.ci_high) / d.clean, ci_high=(d.clean - d.ci_low) / d.clean)
    shown = table if full else R.family_table(table)
    arms = list(dict.fromkeys(table.arm))
    pct = metric in PERCENT_METRICS
    what = f"relative drop in {metric} from clean" if drop else metric
    rows = []
    for cond, g in shown.groupby("condition", sort=False):
        cells = [TableCell(str(cond))]
        for arm in arms:
            r = g[g.arm == arm]
            cells.append(TableCell("—") if r.empty else _interval(r.value.iloc[0], r.ci_low.iloc[0], r.ci_high.iloc[0], pct))
        rows.append(cells)
    if metric == "accuracy" and not drop:
        rob = R.effective_robustness(store, study)
        if rob.fit is not None:
            er = rob.per_arm.set_index("arm").effective_robustness
            rows.append([TableCell("effective robustness (pts)", bold=True)]
                        + [TableCell(f"{100 * er.get(a, float('nan')):+.1f}") for a in arms])
    out = Table("results", f"{study}: {what}{' (%)' if pct else ''}, mean over seeds [95% CI]", CORRUPTION_CAPTION,
                ["condition", *arms], rows, ["l"] + ["r"] * len(arms))
    lines = []
    seeds = int(table.n_seeds.max())
    if seeds > 1:
        sd = table.groupby("arm").seed_sd.mean()
        lines.append(f"Spread over {seeds} seeds (mean sd): "
                     + ", ".join(f"{a} ±{100 * sd[a] if pct else sd[a]:.2f}" for a in arms))
    return ResultsSummary([out], lines)


def _comparison(store: Store, study: str, a: str, b: str, condition: str) -> ResultsSummary:
    c = R.compare_arms(store, study, a, b, condition)
    verdict = "within noise" if c.within_noise else "beyond noise"
    return ResultsSummary(lines=[
        f"{a} − {b} on '{condition}': {100 * c.diff:+.1f} points (95% CI {100 * c.low:+.1f} to {100 * c.high:+.1f}), "
        f"{verdict}; paired bootstrap p = {c.p_value:.3g}, McNemar p = {c.mcnemar_p:.3g} "
        f"({c.b} examples only {a} got right, {c.c} only {b}; n = {c.n})."
    ])


def _ood(store: Store, study: str, full: bool) -> ResultsSummary:
    from engine.stats import OOD_CONVENTION

    frame = R.ood_detection(store, study)
    if frame.empty:
        raise JuxtaError(f"Study '{study}' has no clean and shifted cells to compare yet.")
    frame["family"] = frame.condition.str.split("/").str[0]
    if not full:
        frame = frame.groupby(["arm", "family"], sort=False).mean(numeric_only=True).reset_index().rename(
            columns={"family": "condition"})
    arms = list(dict.fromkeys(frame.arm))
    rows = []
    for cond, g in frame.groupby("condition", sort=False):
        row = [TableCell(str(cond))]
        for arm in arms:
            r = g[g.arm == arm]
            row += [TableCell("—"), TableCell("—")] if r.empty else [
                TableCell(f"{r.auroc_msp.iloc[0]:.2f} / {r.fpr95_msp.iloc[0]:.2f}"),
                TableCell(f"{r.auroc_energy.iloc[0]:.2f} / {r.fpr95_energy.iloc[0]:.2f}")]
        rows.append(row)
    columns = ["condition", *(f"{arm} {score}" for arm in arms for score in ("MSP", "energy"))]
    out = Table("ood", f"{study}: detecting shifted inputs (AUROC ↑ / FPR at 95% TPR ↓), positive = shifted example",
                OOD_CONVENTION.split(":")[0] + ".", columns, rows, ["l"] + ["r"] * (len(columns) - 1))
    return ResultsSummary([out])

