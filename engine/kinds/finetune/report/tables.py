"""A fine-tuning study's report tables and chart references.

Tables: the arms (chosen learning rate, cost, accuracy in and out of distribution, calibration,
forgetting, negative flips, each with its interval), the learning rates tried (validation accuracy),
accuracy per evaluation set, flips per set, and the WiSE-FT curve. Charts (drawn by the views with one
definition for screen and report): learning curves, accuracy against trainable parameters with the
Pareto front, target gain against source forgetting, the WiSE-FT curve, negative-flip bars.
"""

from __future__ import annotations

import numpy as np

from engine.kinds.finetune.results import FinetuneResults, shown_id
from engine.report.findings import EN_DASH, cell_num, cell_pct, signed
from engine.report.schema import ChartRef, Table, TableCell

DASH = "\u2014"
# chart kinds, for the views' chart registry
CURVES, PARETO, TRADEOFF, WISE, FLIPS = "ft_learning_curves", "ft_pareto", "ft_tradeoff", "ft_wise", "ft_flips"


def _missing() -> TableCell:
    return TableCell(DASH, muted=True)


def _pts(v: float, lo: float, hi: float) -> TableCell:
    """A difference in percentage points, its interval underneath."""
    if v is None or not np.isfinite(v):
        return _missing()
    sub = f"{100 * lo:+.1f} to {100 * hi:+.1f}" if np.isfinite(lo) and np.isfinite(hi) else ""
    return TableCell(signed(f"{100 * v:+.1f}"), signed(sub))


def count_words(n: float) -> str:
    """1,234 -> '1,234'; 56,714 -> '56.7k'; 1.2e6 -> '1.2M'."""
    if not np.isfinite(n):
        return DASH
    n = float(n)
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= 10 * div:
            return f"{n / div:.3g}{unit}"
    return f"{n:,.0f}"


def seconds_words(s: float) -> str:
    """0.042 -> '0.042 s'; 12.3 -> '12.3 s'."""
    if not np.isfinite(s):
        return DASH
    return f"{s:.2g} s" if s < 1 else f"{s:,.1f} s"


def bytes_words(b: float) -> str:
    if not np.isfinite(b) or b <= 0:
        return DASH
    return f"{b / 2**20:,.0f} MB" if b >= 2**20 else f"{b / 2**10:,.0f} kB"


def tables(r: FinetuneResults, seeds: list[int]) -> list[Table]:
    level = f"{100 * r.level:g}%"
    over = f"{len(seeds)} seeds pooled" if len(seeds) > 1 else f"seed {seeds[0]}"
    out = [_arms_table(r, level, over), _lr_table(r), _sets_table(r, level, over)]
    if not r.flips.empty:
        out.append(_flips_table(r, level))
    if not r.wise.empty:
        out.append(_wise_table(r, level))
    return out


def _arms_table(r: FinetuneResults, level: str, over: str) -> Table:
    rows = []
    best = r.table[r.table.kind != "base"].id_acc.max()
    for a in r.table.itertuples():
        lr = TableCell(DASH, muted=True) if not np.isfinite(a.chosen_lr) else TableCell(
            f"{a.chosen_lr:g}", f"α = {a.alpha:g}" if np.isfinite(a.alpha) else "")
        trainable = TableCell("0", "the base", muted=True) if a.kind == "base" else TableCell(
            count_words(a.trainable), f"{100 * a.share:.2g}% of the base" if np.isfinite(a.share) else "")
        flips = _missing() if not np.isfinite(a.nf_rate) else TableCell(
            f"{int(a.nf_count)}", signed(f"{100 * a.nf_rate:.1f}% ({100 * a.nf_lo:.1f}{EN_DASH}{100 * a.nf_hi:.1f})"))
        source = _missing() if not np.isfinite(a.source_acc) else cell_pct(a.source_acc, a.source_lo, a.source_hi)
        rows.append([
            TableCell(a.label, arm=a.arm, note=a.arm), lr, trainable,
            cell_pct(a.id_acc, a.id_lo, a.id_hi, bold=bool(np.isclose(a.id_acc, best))),
            cell_pct(a.ood_acc, a.ood_lo, a.ood_hi), cell_num(a.ece, a.ece_lo, a.ece_hi),
            source, _pts(a.gain, a.gain_lo, a.gain_hi), _pts(a.forgetting, a.forgetting_lo, a.forgetting_hi), flips,
            TableCell(seconds_words(a.wall_s) if a.kind != "base" else DASH, muted=a.kind == "base"),
            TableCell(bytes_words(a.peak_memory_bytes), muted=a.kind == "base"),
        ])
    memory = next((m for m in r.table.memory_kind if m), "peak memory")
    return Table(
        "arms", "Methods compared",
        f"Accuracy (%) on the target test set (in distribution) and under the shifted conditions (out of distribution, "
        f"pooled), calibration error (ECE) on the target, source-task accuracy after tuning, gain on the target and "
        f"forgetting of the source against the base in points, and negative flips (source predictions the base got "
        f"right and the tuned model gets wrong: count, rate and interval); {over}, {level} intervals underneath. "
        f"Each method at its learning rate chosen on validation accuracy (mean over seeds), never on test; WiSE-FT at "
        f"its α chosen the same way. Trainable parameters as a share of the base's parameters. Wall time per tuning "
        f"run; memory: {memory}.",
        ["Method", "Learning rate", "Trainable", "Target", "Out of distr.", "ECE", "Source after", "Gain", "Forgetting",
         "Negative flips", "Wall time", "Memory"],
        rows, ["l"] + ["r"] * 11)


def _lr_table(r: FinetuneResults) -> Table:
    labels = dict(zip(r.table.arm, r.table.label))
    width = int(r.lrs.groupby("arm").size().max()) if not r.lrs.empty else 0
    rows = []
    for arm, g in r.lrs.groupby("arm", sort=False):
        row = [TableCell(labels.get(arm, arm), arm=arm)]
        for t in g.sort_values("lr").itertuples():
            row.append(TableCell(f"{100 * t.val_accuracy:.1f}", f"lr {t.lr:g}" + (", chosen" if t.chosen else ""),
                                 bold=bool(t.chosen)))
        rows.append(row + [_missing()] * (width + 1 - len(row)))
    columns = ["Method", *(f"Rate {i + 1}" for i in range(width))]
    return Table("learning_rates", "Learning rates tried",
                 "Validation accuracy (%) of each method at each learning rate it was tuned with (lowest first; the "
                 "rate underneath), mean over seeds; the chosen rate is in bold. Test data played no part in the choice.",
                 columns, rows, ["l"] + ["r"] * width, optional=True)


def _sets_table(r: FinetuneResults, level: str, over: str) -> Table:
    conds = [c for c in dict.fromkeys(r.sets.condition) if c != "validation"]
    rows = []
    for a in r.arms:
        shown = shown_id(a, r.wise_alpha)
        row = [TableCell(r.row(a.id).label if r.row(a.id) is not None else a.label, arm=a.id)]
        for c in conds:
            hit = r.sets[(r.sets.arm == shown) & (r.sets.condition == c)]
            row.append(_missing() if hit.empty else cell_pct(hit.value.iloc[0], hit.ci_low.iloc[0], hit.ci_high.iloc[0]))
        rows.append(row)
    return Table("sets", "Accuracy per evaluation set",
                 f"Accuracy (%) on each evaluation set, {over}, {level} intervals underneath.",
                 ["Method", *(set_title(c) for c in conds)], rows, ["l"] + ["r"] * len(conds), optional=True)


def set_title(condition: str) -> str:
    """A short column title for an evaluation set: 'Target', 'Source', 'Gaussian noise · 3'."""
    from engine.conditions.catalog import condition_label

    if condition.startswith("ood:"):
        return condition_label(condition[4:])
    return {"target": "Target", "source": "Source", "validation": "Validation"}.get(condition, condition)


def _flips_table(r: FinetuneResults, level: str) -> Table:
    labels = dict(zip(r.table.arm, r.table.label))
    rows = []
    for f in r.flips.itertuples():
        rows.append([TableCell(labels.get(f.arm, f.arm), arm=f.arm), TableCell(set_title(f.condition)),
                     TableCell(f"{f.negative}", signed(f"{100 * f.negative_rate:.1f}% ({100 * f.negative_low:.1f}{EN_DASH}"
                                                       f"{100 * f.negative_high:.1f})")),
                     TableCell(f"{f.positive}", signed(f"{100 * f.positive_rate:.1f}% ({100 * f.positive_low:.1f}{EN_DASH}"
                                                       f"{100 * f.positive_high:.1f})")),
                     TableCell(f"{f.n:,}")])
    return Table("flips", "Flips against the base",
                 "Negative flips: predictions the base got right and the tuned model gets wrong; positive flips: the "
                 f"reverse. Count over all seeds, rate over all predictions, {level} interval (examples resampled with "
                 "their seeds).", ["Method", "Set", "Negative flips", "Positive flips", "Predictions"], rows,
                 ["l", "l", "r", "r", "r"], optional=True)


def _wise_table(r: FinetuneResults, level: str) -> Table:
    kinds = [k for k in ("target", "ood", "source", "validation") if (r.wise.set == k).any()]
    titles = {"target": "Target", "ood": "Out of distr.", "source": "Source", "validation": "Validation"}
    rows = []
    for (arm, alpha), g in r.wise.groupby(["arm", "alpha"], sort=True):
        chosen = np.isclose(r.wise_alpha.get(arm, np.nan), alpha)
        row = [TableCell(f"{alpha:g}", "chosen" if chosen else "", bold=bool(chosen))]
        for k in kinds:
            hit = g[g.set == k]
            row.append(_missing() if hit.empty else cell_pct(hit.value.iloc[0], hit.ci_low.iloc[0], hit.ci_high.iloc[0]))
        rows.append(row)
    return Table("wise_ft", "WiSE-FT: blending the base and the tuned weights",
                 f"Accuracy (%) of θ = (1 − α)·base + α·tuned for each α, {level} intervals underneath; α = 0 is the base "
                 "(with the tuned head when the head was replaced), α = 1 the tuned model. The α in bold was chosen on "
                 "validation accuracy.", ["α", *(titles[k] for k in kinds)], rows, ["r"] * (1 + len(kinds)), optional=True)


def charts(r: FinetuneResults) -> list[ChartRef]:
    out = []
    if not r.curves.empty:
        out.append(ChartRef("learning_curves", CURVES, {"series": "val_accuracy"}, "Learning curves",
                            "Validation accuracy per epoch of every tuning run; the chosen learning rate's runs are drawn "
                            "solid, the others faint."))
    if r.table.trainable.notna().any():
        out.append(ChartRef("accuracy_vs_params", PARETO, {}, "Accuracy against trainable parameters",
                            "Target accuracy of each method against the parameters it trains (log scale); the line joins "
                            "the Pareto front, the methods no other beats on both counts."))
    if r.table.forgetting.notna().any():
        out.append(ChartRef("gain_vs_forgetting", TRADEOFF, {}, "Target gain against source forgetting",
                            "Each method's gain on the target against what it forgets of the source task (both in "
                            "points against the base, with intervals); up and to the left is better."))
    for arm in (a for a in r.arms if a.kind == "wise"):
        if (r.wise.arm == arm.id).any():
            out.append(ChartRef(f"wise_ft:{arm.id}", WISE, {"arm": arm.id}, f"{arm.label}: in against out of distribution",
                                "Accuracy in and out of distribution for each mixing weight α from the base (α = 0) to "
                                "the tuned model (α = 1)."))
    if not r.flips.empty:
        out.append(ChartRef("negative_flips", FLIPS, {}, "Negative flips",
                            "Share of predictions the base got right and each tuned model gets wrong, with intervals."))
    return out
