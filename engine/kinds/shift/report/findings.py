"""Key findings of a shift study: a few plain sentences generated only from the numbers and their
statistics (the rules are in ``engine.report.findings``), and conditions in words.

The functions here take plain numbers, tables and a ``compare(a, b, condition)`` callable, so they
can be tested with constructed ``PairedComparison`` objects and no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.conditions.catalog import family_label
from engine.report.findings import (
    NBSP, Compare, comparison_sentence, decimals_for, evidence, finite, pct, pct_ci, points, ranges,
)
from engine.report.schema import Finding


@dataclass(frozen=True)
class ConditionInfo:
    """What a condition id means: its kind ('clean', 'corruption', 'label_shift', ...) and parameters."""

    condition: str
    family: str
    kind: str
    severity: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# conditions in words


def _num(v: Any) -> str:
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


def family_words(family: str) -> str:
    return family_label(family)


def condition_words(info: ConditionInfo) -> str:
    """'Gaussian noise at severity 5', 'label shift (Dirichlet α = 0.3)', 'the clean test set'."""
    k, p = info.kind, info.params or {}
    if info.condition == "clean" or k == "clean":
        return "the clean test set"
    if k in ("corruption", "tabular", "text") or info.severity is not None:
        return f"{family_words(info.family)} at severity {info.severity}" if info.severity is not None else family_words(info.family)
    if k == "label_shift":
        method = p.get("method", info.family)
        if method == "dirichlet":
            return f"label shift (Dirichlet \u03b1 = {_num(p.get('alpha', info.condition.split('/')[-1]))})"
        if method == "tweak_one":
            rho = p.get("rho", info.condition.split("/")[-1])
            try:
                share = f"{100 * float(rho):g}%"
            except (TypeError, ValueError):
                share = str(rho)
            return f"label shift (one class makes up {share} of the test set)"
        if method == "imbalance":
            return f"class imbalance (most to least frequent class {_num(p.get('ratio', info.condition.split('/')[-1]))}:1)"
        return f"label shift ({info.condition})"
    if k == "group_shift":
        g, share = p.get("group"), p.get("share")
        if g is not None and share is not None:
            try:
                return f"group shift (group {g} makes up {100 * float(share):g}% of the test set)"
            except (TypeError, ValueError):
                pass
        return f"group shift ({info.condition})"
    if k == "field":
        return f"field data ({info.condition.split('/', 1)[-1]})"
    return info.condition


def short_label(info: ConditionInfo) -> str:
    """A compact row label for tables: 'Gaussian noise · 5', 'label shift α 0.3', 'one class at 50%'."""
    k, p = info.kind, info.params or {}
    if info.condition == "clean" or k == "clean":
        return "clean"
    if info.severity is not None:
        return f"{family_words(info.family)} \u00b7 {info.severity}"
    if k == "label_shift":
        method = p.get("method", info.family)
        tail = info.condition.split("/")[-1]
        if method == "dirichlet":
            return f"label shift, \u03b1{NBSP}={NBSP}{_num(p.get('alpha', tail))}"
        if method == "tweak_one":
            try:
                return f"label shift, one class at {100 * float(p.get('rho', tail)):g}%"
            except (TypeError, ValueError):
                return f"label shift, one class at {tail}"
        if method == "imbalance":
            return f"class imbalance {_num(p.get('ratio', tail))}:1"
    if k == "group_shift" and p.get("group") is not None and p.get("share") is not None:
        try:
            return f"group {p['group']} at {100 * float(p['share']):g}%"
        except (TypeError, ValueError):
            pass
    if k == "field":
        return f"field: {info.condition.split('/', 1)[-1]}"
    return info.condition


def sentence_start(words: str) -> str:
    return "On the clean test set" if words == "the clean test set" else f"Under {words}"


def info_for(condition: str, infos: dict[str, ConditionInfo], family: str | None = None,
             severity: Any = None) -> ConditionInfo:
    if condition in infos:
        return infos[condition]
    sev = None if severity is None or pd.isna(severity) else int(severity)
    kind = "clean" if condition == "clean" else ("corruption" if sev is not None else "other")
    return ConditionInfo(condition, family or condition.split("/")[0], kind, sev)


# ---------------------------------------------------------------------------------------------
# sentences


def _row(table: pd.DataFrame, arm: str, condition: str) -> pd.Series | None:
    r = table[(table.arm == arm) & (table.condition == condition)]
    return None if r.empty else r.iloc[0]


def _ranked(table: pd.DataFrame, condition: str) -> pd.DataFrame:
    g = table[table.condition == condition]
    return g.sort_values(["value", "arm"], ascending=[False, True])


def clean_best(study: str, acc: pd.DataFrame, compare: Compare, n_resamples: int, level: float) -> Finding | None:
    ranked = _ranked(acc, "clean")
    if ranked.empty:
        return None
    best = ranked.iloc[0]
    ev: dict[str, Any] = {"condition": "clean", "best": best.arm, "value": best.value, "ci_low": best.ci_low,
                          "ci_high": best.ci_high}
    if len(ranked) == 1:
        return Finding(f"On the clean test set, {best.arm} reaches {pct_ci(best.value, best.ci_low, best.ci_high, level, 'accuracy')}.",
                       "clean_best", study, ev)
    runner = ranked.iloc[1]
    cmp = compare(best.arm, runner.arm, "clean")
    text, v = comparison_sentence("On the clean test set", best.arm, best, runner.arm, cmp, n_resamples, level, verb="reaches")
    ev.update({"runner_up": runner.arm, "runner_value": runner.value}, **evidence(cmp, v))
    return Finding(text, "clean_best", study, ev)


def hardest_shift(study: str, acc: pd.DataFrame, infos: dict[str, ConditionInfo], compare: Compare,
                  n_resamples: int, level: float, skip_worst: tuple[str, str] | None = None) -> Finding | None:
    """The shifted condition with the lowest mean accuracy over arms: who keeps most, and by how much."""
    shifted = acc[acc.condition != "clean"]
    if shifted.empty:
        return None
    n_arms = acc.arm.nunique()
    counts = shifted.groupby("condition").arm.nunique()
    complete = counts[counts == n_arms].index
    pool = shifted[shifted.condition.isin(complete)] if len(complete) else shifted
    means = pool.groupby("condition", sort=False).value.mean()
    hardest = str(means.sort_values(kind="stable").index[0])
    ranked = _ranked(acc, hardest)
    first = ranked.iloc[0]
    info = info_for(hardest, infos, first.family, first.severity)
    words = condition_words(info)
    start = sentence_start(words) + (", the hardest condition in this study" if len(means) > 1 else "")
    ev: dict[str, Any] = {"condition": hardest, "condition_words": words, "best": first.arm, "value": first.value,
                          "ci_low": first.ci_low, "ci_high": first.ci_high, "mean_over_arms": float(means[hardest])}
    if len(ranked) == 1:
        return Finding(f"{start}, {first.arm} keeps {pct_ci(first.value, first.ci_low, first.ci_high, level, 'accuracy')}.",
                       "hardest_shift", study, ev)
    runner = ranked.iloc[1]
    cmp = compare(first.arm, runner.arm, hardest)
    text, v = comparison_sentence(start, first.arm, first, runner.arm, cmp, n_resamples, level, verb="keeps")
    ev.update({"runner_up": runner.arm, "runner_value": runner.value}, **evidence(cmp, v))
    worst = ranked.iloc[-1]
    if len(ranked) >= 3 and (skip_worst is None or skip_worst != (worst.arm, hardest)):
        text += f" {worst.arm} falls to {pct_ci(worst.value, worst.ci_low, worst.ci_high, level)}."
        ev.update({"worst": worst.arm, "worst_value": worst.value, "worst_ci_low": worst.ci_low, "worst_ci_high": worst.ci_high})
    return Finding(text, "hardest_shift", study, ev)


def largest_drop(study: str, acc: pd.DataFrame, drop: pd.DataFrame, infos: dict[str, ConditionInfo],
                 level: float) -> Finding | None:
    if drop is None or drop.empty or "drop" not in drop:
        return None
    d = drop.dropna(subset=["drop"])
    if d.empty:
        return None
    top = d.sort_values(["drop", "arm", "condition"], ascending=[False, True, True]).iloc[0]
    if top["drop"] <= 0:
        return Finding("No shifted condition lowers any model's accuracy below its clean accuracy.", "largest_drop", study,
                       {"max_drop": float(top["drop"])})
    clean = _row(acc, top.arm, "clean")
    info = info_for(top.condition, infos, top.family, top.severity)
    words = condition_words(info)
    clean_txt = pct_ci(clean.value, clean.ci_low, clean.ci_high, level) if clean is not None else pct(top.clean)
    text = (f"The largest loss is {top.arm} under {words}: accuracy falls from {clean_txt} on the clean test set to "
            f"{pct_ci(top.value, top.ci_low, top.ci_high, level)}, a relative drop of {100 * top['drop']:.0f}%.")
    ev: dict[str, Any] = {"arm": top.arm, "condition": top.condition, "drop": float(top["drop"]), "clean": float(top.clean),
                          "value": float(top.value), "ci_low": float(top.ci_low), "ci_high": float(top.ci_high)}
    if info.severity is not None:
        fam = d[(d.arm == top.arm) & (d.family == top.family) & d.severity.notna()]
        if len(fam) > 1:
            sevs = sorted(int(s) for s in fam.severity)
            text = text[:-1] + (f"; averaged over severities {ranges(sevs)} of {family_words(top.family)} it loses "
                                f"{100 * fam['drop'].mean():.0f}% of its clean accuracy.")
            ev["family_mean_drop"] = float(fam["drop"].mean())
    return Finding(text, "largest_drop", study, ev)


def label_shift_change(study: str, acc: pd.DataFrame, infos: dict[str, ConditionInfo], level: float) -> Finding | None:
    """The largest change from clean accuracy under label or group shift (resampled test sets)."""
    conds = [c for c, i in infos.items() if i.kind in ("label_shift", "group_shift")]
    rows = acc[acc.condition.isin(conds)]
    clean = acc[acc.condition == "clean"].set_index("arm").value
    if rows.empty or clean.empty:
        return None
    rows = rows.assign(change=rows.value - rows.arm.map(clean)).dropna(subset=["change"])
    if rows.empty:
        return None
    rows = rows.assign(abschange=rows.change.abs())
    top = rows.sort_values(["abschange", "arm", "condition"], ascending=[False, True, True]).iloc[0]
    words = condition_words(info_for(top.condition, infos, top.family, None))
    d = decimals_for(top.ci_low, top.ci_high)
    change = points(top.abschange, 1)
    what = "label or group shift" if any(infos[c].kind == "group_shift" for c in conds) else "label shift"
    n = len(conds)
    inside = top.ci_low <= clean[top.arm] <= top.ci_high
    text = (f"Across {n} {what} condition{'s' if n != 1 else ''}, no model's accuracy moves more than "
            f"{change} point{'' if change == '1.0' else 's'} from its clean accuracy; the largest change is {top.arm} under {words}: "
            f"{pct_ci(top.value, top.ci_low, top.ci_high, level, 'accuracy')} against {pct(clean[top.arm], d)} on the clean test set"
            + ("; the clean value lies inside that interval." if inside else "."))
    return Finding(text, "label_shift", study, {
        "arm": top.arm, "condition": top.condition, "value": float(top.value), "ci_low": float(top.ci_low),
        "ci_high": float(top.ci_high), "clean": float(clean[top.arm]), "change": float(top.change),
        "clean_inside_interval": bool(inside), "n_conditions": n})


def effective_robustness_leader(study: str, robustness: Any) -> Finding | None:
    """The arm furthest above the accuracy-on-the-line fit, with the caveats the fit needs."""
    if robustness is None or getattr(robustness, "fit", None) is None:
        return None
    per_arm = robustness.per_arm.dropna(subset=["effective_robustness"])
    if len(per_arm) < 2:
        return None
    per_arm = per_arm.sort_values(["effective_robustness", "arm"], ascending=[False, True])
    lead = per_arm.iloc[0]
    others = ", ".join(f"{r.arm} {points(r.effective_robustness, 1, sign=True)}" for r in per_arm.iloc[1:].itertuples())
    pts = robustness.points
    spread = ""
    seeds_lead = pts[pts.arm == lead.arm].effective_robustness.dropna()
    if len(seeds_lead) > 1:
        spread = (f" ({points(seeds_lead.min(), 1, sign=True)} to {points(seeds_lead.max(), 1, sign=True)} "
                  f"across {len(seeds_lead)} seeds)")
    fit = robustness.fit
    text = (f"{lead.arm} has the highest effective robustness: {points(lead.effective_robustness, 1, sign=True)} points"
            f"{spread} above the line fitted through all models' clean and corrupted accuracy (probit scale); "
            f"{others}.")
    caveats = []
    n_arms, n_points = len(per_arm), len(pts)
    if n_arms < 3 or n_points < 3:
        caveats.append(f"with only {n_arms} model{'s' if n_arms != 1 else ''} ({n_points} points) the line rests on very few "
                       "points, so read this as a description of these models, not a trend")
    if fit is not None and finite(getattr(fit, "r2", None)) and fit.r2 < 0.5:
        caveats.append(f"the fitted line explains little of the variation (R\u00b2 {fit.r2:.2f}), so effective robustness here "
                       "mostly restates each model's corrupted accuracy")
    if caveats:
        c = "; ".join(caveats)
        text += " Caveat: " + c + "."
    return Finding(text, "effective_robustness", study, {
        "leader": lead.arm, "effective_robustness": {r.arm: float(r.effective_robustness) for r in per_arm.itertuples()},
        "r2": float(fit.r2) if fit is not None else None, "n_points": n_points, "n_arms": n_arms,
        "caveats": caveats})


def shift_findings(study: str, acc: pd.DataFrame, drop: pd.DataFrame, robustness: Any,
                   infos: dict[str, ConditionInfo], compare: Compare, n_resamples: int = 1000,
                   level: float = 0.95) -> list[Finding]:
    """Findings for a shift study, most important first."""
    if acc is None or acc.empty:
        return []
    out: list[Finding | None] = [clean_best(study, acc, compare, n_resamples, level)]
    ld = largest_drop(study, acc, drop, infos, level)
    skip = (ld.evidence["arm"], ld.evidence["condition"]) if ld is not None and "arm" in ld.evidence else None
    out.append(hardest_shift(study, acc, infos, compare, n_resamples, level, skip_worst=skip))
    out.append(ld)
    out.append(label_shift_change(study, acc, infos, level))
    out.append(effective_robustness_leader(study, robustness))
    return [f for f in out if f is not None]
