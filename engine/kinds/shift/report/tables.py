"""A shift study's report tables (accuracy, best model per condition, scorecard, metrics) and chart references."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.conditions.catalog import CORRUPTION_DESCRIPTIONS, FAMILY_LABELS
from engine.kinds.shift import results as R
from engine.kinds.shift.report.findings import ConditionInfo, condition_words, family_words, info_for, short_label
from engine.metrics import METRICS, PERCENT_METRICS
from engine.report import findings as F
from engine.report.findings import cell_pct, cell_num
from engine.report.schema import ChartRef, StudySection, Table, TableCell


# ---------------------------------------------------------------------------------------------
# tables


def _condition_label(condition: str, infos: dict[str, ConditionInfo], family_level: bool = False) -> str:
    if condition == "clean":
        return "clean"
    base = condition.split(" (mean of")[0]
    if family_level and base in FAMILY_LABELS:
        return family_words(base)
    info = infos.get(condition)
    if info is not None:
        return short_label(info)
    return condition


def tables(section: StudySection, results, infos, compare, metric_frame: pd.DataFrame) -> list[Table]:
    acc = results.accuracy
    arms = list(results.arms)
    level = section.level
    lv = f"{100 * level:g}%"
    seeds_txt = f"mean over {len(section.seeds)} seeds" if len(section.seeds) > 1 else f"seed {section.seeds[0]}"
    tables: list[Table] = []

    # accuracy per condition family
    fam = R.family_table(acc)
    rows = []
    for cond, g in fam.groupby("condition", sort=False):
        best = g.value.max()
        row = [TableCell(_condition_label(cond, infos, family_level=True),
                         "mean of severities" if "(mean of" in str(cond) else "")]
        for arm in arms:
            r = g[g.arm == arm]
            row.append(TableCell("\u2014", muted=True) if r.empty else
                       cell_pct(r.value.iloc[0], r.ci_low.iloc[0], r.ci_high.iloc[0], bold=bool(np.isclose(r.value.iloc[0], best))))
        rows.append(row)
    graded = acc.severity.notna().any()
    tables.append(Table(
        "accuracy", "Accuracy by condition",
        f"Accuracy (%), {seeds_txt}, with the {lv} interval underneath; the highest value in each row is in bold. "
        + ("Corruption rows average severities; their intervals are the average of the per-severity intervals. " if graded else "")
        + "The best-model table below says which differences are beyond noise.",
        ["Condition", *arms], rows, ["l"] + ["r"] * len(arms)))

    # best arm per condition, with paired comparisons
    tables.append(_best_table(section, acc, infos, compare, lv))

    # robustness summary
    rob = results.robustness
    clean = acc[acc.condition == "clean"].set_index("arm")
    er = rob.per_arm.set_index("arm") if rob is not None and not rob.per_arm.empty else pd.DataFrame()
    sd = acc.groupby("arm").seed_sd.mean()
    rrows = []
    have_er = rob is not None and rob.fit is not None
    shifted_mean = acc[acc.severity.notna()].groupby("arm").value.mean()
    for arm in arms:
        row = [TableCell(arm, arm=arm)]
        if arm in clean.index:
            c = clean.loc[arm]
            row.append(cell_pct(c.value, c.ci_low, c.ci_high))
        else:
            row.append(TableCell("\u2014", muted=True))
        row.append(TableCell(F.signed(f"{100 * shifted_mean[arm]:.1f}")) if arm in shifted_mean.index else TableCell("\u2014", muted=True))
        mine = acc[(acc.arm == arm) & (acc.condition != "clean")]
        if mine.empty:
            row.append(TableCell("\u2014", muted=True))
        else:
            w = mine.sort_values(["value", "condition"]).iloc[0]
            row.append(TableCell(_condition_label(str(w.condition), infos),
                                 F.signed(f"{100 * w.value:.1f}% ({100 * w.ci_low:.1f}{F.EN_DASH}{100 * w.ci_high:.1f})")))
        if have_er and arm in er.index and np.isfinite(er.loc[arm].effective_robustness):
            row.append(TableCell(F.points(er.loc[arm].effective_robustness, 1, sign=True)))
        else:
            row.append(TableCell("\u2014", muted=True))
        row.append(TableCell(f"{100 * sd.get(arm, np.nan):.1f}" if len(section.seeds) > 1 and np.isfinite(sd.get(arm, np.nan)) else "\u2014",
                             muted=len(section.seeds) <= 1))
        rrows.append(row)
    cap = ("Clean accuracy with its interval; mean accuracy over every corruption condition; the condition where the "
           "model is least accurate, with its accuracy and interval; effective robustness "
           "(points above or below the accuracy-on-the-line fit, probit scale); spread over seeds (mean standard "
           "deviation, points).")
    if have_er and rob.fit.r2 < 0.5:
        cap += f" The fit explains little of the variation here (R\u00b2 {rob.fit.r2:.2f}), so read effective robustness with care."
    if not have_er:
        cap += " Effective robustness needs at least two models with different clean accuracy and corrupted results."
    tables.append(Table("robustness", "Scorecard", cap,
                        ["Model", "Clean (%)", "Corrupted, mean (%)", "Worst condition", "Effective robustness (pts)",
                         "Seed sd (pts)"],
                        rrows, ["l", "r", "r", "l", "r", "r"]))

    # every metric on the clean test set
    if metric_frame is not None and not metric_frame.empty:
        cm = metric_frame[metric_frame.condition == "clean"]
        names = [m for m in section.metrics if m in set(cm.metric)]
        if names:
            mrows = []
            for arm in arms:
                row = [TableCell(arm, arm=arm)]
                for m in names:
                    r = cm[(cm.arm == arm) & (cm.metric == m)]
                    if r.empty:
                        row.append(TableCell("\u2014", muted=True))
                        continue
                    best_v = cm[cm.metric == m].value.max() if METRICS.get(m) is None or METRICS[m].higher_is_better else cm[cm.metric == m].value.min()
                    r0 = r.iloc[0]
                    bold = bool(np.isclose(r0.value, best_v))
                    row.append(cell_pct(r0.value, r0.ci_low, r0.ci_high, bold) if m in PERCENT_METRICS
                               else cell_num(r0.value, r0.ci_low, r0.ci_high, 3, bold))
                mrows.append(row)
            heads = []
            for m in names:
                d = METRICS.get(m)
                arrow = "" if d is None else (" \u2191" if d.higher_is_better else " \u2193")
                heads.append((d.label if d else m) + (" (%)" if m in PERCENT_METRICS else "") + arrow)
            tables.append(Table("metrics_clean", "All metrics on the clean test set",
                                f"{seeds_txt.capitalize()}, {lv} intervals underneath; \u2191 higher is better, \u2193 lower is better; "
                                "the best value per column is in bold. The glossary explains each metric.",
                                ["Model", *heads], mrows, ["l"] + ["r"] * len(names)))

    # every condition (optional)
    frows = []
    for cond, g in acc.groupby("condition", sort=False):
        best = g.value.max()
        row = [TableCell(_condition_label(cond, infos))]
        for arm in arms:
            r = g[g.arm == arm]
            row.append(TableCell("\u2014", muted=True) if r.empty else
                       cell_pct(r.value.iloc[0], r.ci_low.iloc[0], r.ci_high.iloc[0], bold=bool(np.isclose(r.value.iloc[0], best))))
        frows.append(row)
    tables.append(Table("accuracy_full", "Accuracy under every condition",
                        f"Accuracy (%) per condition and severity, {seeds_txt}, {lv} intervals underneath.",
                        ["Condition", *arms], frows, ["l"] + ["r"] * len(arms), included=False, optional=True))
    return tables


def _best_table(section: StudySection, acc: pd.DataFrame, infos, compare, lv: str) -> Table:
    """Best arm per condition: clean, each graded family at its strongest severity, every other
    condition; tied within noise when the paired comparison's interval contains 0."""
    conds: list[str] = []
    if "clean" in set(acc.condition):
        conds.append("clean")
    graded = acc[acc.severity.notna()]
    for fam_name, g in graded.groupby("family", sort=False):
        top = g.severity.max()
        conds.append(str(g[g.severity == top].condition.iloc[0]))
    conds += [c for c in dict.fromkeys(acc.condition) if c != "clean" and c not in conds and acc[acc.condition == c].severity.isna().all()]
    rows = []
    for cond in conds:
        ranked = acc[acc.condition == cond].sort_values(["value", "arm"], ascending=[False, True])
        if ranked.empty:
            continue
        best = ranked.iloc[0]
        label = _condition_label(cond, infos)
        if len(ranked) == 1:
            rows.append([TableCell(label), TableCell(best.arm, arm=best.arm), cell_pct(best.value, best.ci_low, best.ci_high),
                         TableCell("\u2014", muted=True), TableCell("\u2014", muted=True), TableCell("only one model", muted=True)])
            continue
        tied = []
        cmps = {}
        for other in ranked.arm.iloc[1:]:
            c = compare(best.arm, other, cond)
            cmps[other] = c
            if c.within_noise:
                tied.append(other)
        runner = ranked.iloc[1]
        c = cmps[runner.arm]
        v = F.verdict(c, section.n_resamples, section.level)
        d = F.decimals_for(c.low, c.high) or 1
        diff = TableCell(F.points(c.diff, d, sign=True),
                         F.signed(f"{100 * c.low:+.{d}f} to {100 * c.high:+.{d}f}"))
        if tied:
            who = TableCell(", ".join([best.arm, *tied]), "tied within noise", arm=None)
            verdict_cell = TableCell("tied within noise", muted=True)
        else:
            who = TableCell(best.arm, arm=best.arm, bold=True)
            verdict_cell = TableCell(v.label, F.p_text(v.p))
        rows.append([TableCell(label), who, cell_pct(best.value, best.ci_low, best.ci_high), TableCell(runner.arm, arm=runner.arm),
                     diff, verdict_cell])
    return Table(
        "best", "Best model per condition",
        f"For each condition (corruptions at their strongest severity), the most accurate model, its accuracy (%) and "
        f"{lv} interval, and its paired difference from the runner-up on the same examples (points, {lv} interval). "
        "\u201cTied within noise\u201d lists every model whose difference from the best has an interval containing 0.",
        ["Condition", "Best model", "Accuracy (%)", "Runner-up", "Difference (pts)", "Verdict"], rows,
        ["l", "l", "r", "l", "r", "l"])


# ---------------------------------------------------------------------------------------------
# charts


def charts(results, infos: dict[str, ConditionInfo]) -> list[ChartRef]:
    charts: list[ChartRef] = []
    fams = list(results.corruption_families)
    drop = results.drop
    ranked = fams
    if fams and drop is not None and not drop.empty:
        means = drop[drop.severity.notna()].groupby("family", sort=False)["drop"].mean().reindex(fams)
        ranked = list(means.sort_values(ascending=False, kind="stable").index)
    default_fams = set(ranked[:3])
    for fam in ranked:
        words = family_words(fam)
        desc = CORRUPTION_DESCRIPTIONS.get(fam, "")
        charts.append(ChartRef(
            f"severity:{fam}", "severity", {"family": fam, "default": fam in default_fams},
            f"Accuracy vs severity: {words}", (f"{words[0].upper() + words[1:]}: {desc}" if desc else words[0].upper() + words[1:]),
            included=fam in default_fams))
    if drop is not None and not drop.empty:
        n_rows = len(set(np.where(drop.severity.notna(), drop.family.astype(str), drop.condition.astype(str))))
        charts.append(ChartRef("drop", "drop", {"default": True}, "Relative drop from clean accuracy",
                               "A negative value means the model did slightly better than on clean data.", rows=n_rows))
    rob = results.robustness
    if rob is not None and rob.points is not None and not rob.points.empty:
        cap = ""
        if rob.fit is not None:
            cap = f"The solid line is the probit-scale fit through all points (R\u00b2 {rob.fit.r2:.2f}); the dashed line is y = x."
        charts.append(ChartRef("on_the_line", "on_the_line", {"default": True}, "Clean vs corrupted accuracy", cap))
    if results.reliability is not None and not results.reliability.empty:
        have = set(results.reliability.condition)
        conds = [c for c in results.conditions if c in have]
        hardest = None
        shifted = results.accuracy[results.accuracy.condition != "clean"]
        if not shifted.empty:
            hardest = str(shifted.groupby("condition").value.mean().sort_values(kind="stable").index[0])
        for c in conds:
            if c != "clean" and c != hardest:
                continue
            words = condition_words(info_for(c, infos))
            charts.append(ChartRef(f"reliability:{c}", "reliability", {"condition": c, "default": c == "clean"},
                                   f"Reliability on {words}" if c == "clean" else f"Reliability under {words}",
                                   "Legend entries give each model's expected calibration error (ECE).", included=c == "clean"))
    return charts
