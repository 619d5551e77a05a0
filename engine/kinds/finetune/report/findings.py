"""Key findings of a fine-tuning study: plain sentences generated only from the numbers and their
intervals (the rules of ``engine.report.findings``: every accuracy with its interval, every "more
than" from a paired comparison on the same examples, a difference whose interval contains zero is
within noise).

The headline compares each cheaper arm with full fine-tuning: "LoRA r=8 reaches 94% of full
fine-tuning's gain (95% CI 88–99%) with 1.8% of its trainable parameters and forgets 6 points less
(95% CI 3–9)". Functions take the results object and a ``compare(a, b, set)`` callable.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from engine.kinds.finetune.results import LR_RULE, FinetuneResults, gain_ratio, shown_id
from engine.report.findings import (
    EN_DASH, ci_words, comparison_sentence, decimals_for, evidence, finite, pct, pct_ci, points, verdict,
)
from engine.report.schema import Finding
from engine.stats import PairedComparison

Compare = Callable[[str, str, str], PairedComparison]


class _Row:
    """What ``comparison_sentence`` reads from a table row: value and interval."""

    def __init__(self, value: float, low: float, high: float):
        self.value, self.ci_low, self.ci_high = value, low, high


def finetune_findings(study: str, r: FinetuneResults, compare: Compare, pairs: Callable[..., Any]) -> list[Finding]:
    """The sentences in order: the best on the target, each cheaper arm against full fine-tuning, the most
    forgetting, out-of-distribution, WiSE-FT, negative flips, and how learning rates were chosen."""
    t = r.table
    tuned = t[t.kind != "base"]
    if tuned.empty or not np.isfinite(tuned.id_acc).any():
        return [Finding("No tuned model has been scored yet.", "note", study)]
    out: list[Finding] = []
    level, n_res = r.level, r.n_resamples
    lbl = dict(zip(t.arm, t.label))
    shown = {a.id: shown_id(a, r.wise_alpha) for a in r.arms}

    ranked = tuned[np.isfinite(tuned.id_acc)].sort_values("id_acc", ascending=False)
    best = ranked.iloc[0]
    if len(ranked) > 1:
        runner = ranked.iloc[1]
        cmp = compare(shown[best.arm], shown[runner.arm], "target")
        text, v = comparison_sentence("On the target test set", lbl[best.arm], _Row(best.id_acc, best.id_lo, best.id_hi),
                                      lbl[runner.arm], cmp, n_res, level)
        out.append(Finding(text, "target_best", study, evidence(cmp, v)))
    base = t[t.kind == "base"]
    if not base.empty and finite(best.gain):
        b = base.iloc[0]
        out.append(Finding(
            f"{lbl[best.arm]} gains {_pts(best.gain, best.gain_lo, best.gain_hi, level)} on the target over the base, "
            f"which scores {pct_ci(b.id_acc, b.id_lo, b.id_hi, level)} there before tuning.", "target_gain", study,
            {"gain": best.gain, "gain_low": best.gain_lo, "gain_high": best.gain_hi}))
    out += _against_full(study, r, compare, pairs)
    out += _forgetting(study, r)
    out += _ood(study, r, compare, shown)
    out += _wise(study, r)
    out += _flips(study, r)
    out.append(Finding(LR_RULE, "note", study))
    return out


def _pts(diff: float, low: float, high: float, level: float) -> str:
    """'12 points (95% CI 9–15)' for an accuracy difference."""
    if not finite(diff):
        return "n/a"
    d = decimals_for(low, high) if finite(low, high) else 1
    head = f"{points(diff, d)} points"
    if not finite(low, high):
        return head
    joiner = " to " if low < 0 else EN_DASH  # "−2 to 9" reads better than "−2–9"
    return f"{head} ({ci_words(level)} {points(low, d)}{joiner}{points(high, d)})"


def _reference(r: FinetuneResults) -> Any:
    """The arm the others are measured against: full fine-tuning when the study has it."""
    t = r.table
    full = t[(t.method == "full") & np.isfinite(t.id_acc)]
    return None if full.empty else full.iloc[0]


def _against_full(study: str, r: FinetuneResults, compare: Compare, pairs: Callable[..., Any]) -> list[Finding]:
    ref = _reference(r)
    if ref is None:
        return []
    t = r.table
    out = []
    for row in t[(t.kind == "trained") & (t.arm != ref.arm) & np.isfinite(t.id_acc)].itertuples():
        triple = pairs(row.arm, ref.arm, "target")
        if triple is None:
            continue
        ratio = gain_ratio(*triple, r.n_resamples, r.level)
        if ratio is None:
            continue
        share = row.trainable / ref.trainable if ref.trainable else float("nan")
        ratio_text = f"{100 * ratio.value:.0f}% of {ref.label.lower()}'s gain"
        if finite(ratio.low, ratio.high):
            ratio_text += f" ({ci_words(r.level)} {100 * ratio.low:.0f}{EN_DASH}{100 * ratio.high:.0f}%)"
        else:
            ratio_text += " (no interval: the reference's own gain is not clearly above zero)"
        text = f"{row.label} reaches {ratio_text} with {_share(share)} of its trainable parameters"
        ev: dict[str, Any] = {"gain_ratio": ratio.value, "gain_ratio_low": ratio.low, "gain_ratio_high": ratio.high,
                              "param_share": share}
        if np.isfinite(row.source_acc) and np.isfinite(ref.source_acc):
            cmp = compare(row.arm, ref.arm, "source")  # > 0: keeps more of the source task = forgets less
            v = verdict(cmp, r.n_resamples, r.level)
            d = decimals_for(cmp.low, cmp.high)
            if v.label == "within noise":
                text += f" and forgets about as much ({v.phrase})"
            else:
                more = "less" if cmp.diff > 0 else "more"
                text += (f" and forgets {points(abs(cmp.diff), d)} points {more} ({ci_words(r.level)} "
                         f"{points(abs(cmp.low if cmp.diff > 0 else cmp.high), d)}{EN_DASH}"
                         f"{points(abs(cmp.high if cmp.diff > 0 else cmp.low), d)})")
            ev.update(evidence(cmp, v))
        out.append(Finding(text + ".", "gain_per_cost", study, ev))
    return out


def _share(share: float) -> str:
    if not finite(share):
        return "n/a"
    return f"{100 * share:.2g}%" if share < 0.1 else f"{100 * share:.0f}%"


def _forgetting(study: str, r: FinetuneResults) -> list[Finding]:
    t = r.table
    rows = t[(t.kind != "base") & np.isfinite(t.forgetting)]
    base = t[t.kind == "base"]
    if rows.empty or base.empty or not np.isfinite(base.iloc[0].source_acc):
        return []
    b = base.iloc[0]
    worst = rows.sort_values("forgetting", ascending=False).iloc[0]
    least = rows.sort_values("forgetting").iloc[0]
    if worst.forgetting_lo <= 0 <= worst.forgetting_hi:
        return [Finding(f"No method measurably forgets the source task: the largest drop, {worst.label}'s, is within noise "
                        f"({_pts(worst.forgetting, worst.forgetting_lo, worst.forgetting_hi, r.level)}).", "forgetting", study)]
    text = (f"{worst.label} forgets most of the source task: {pct(b.source_acc, 0)} before tuning, "
            f"{pct_ci(worst.source_acc, worst.source_lo, worst.source_hi, r.level)} after, a loss of "
            f"{_pts(worst.forgetting, worst.forgetting_lo, worst.forgetting_hi, r.level)}")
    if least.arm != worst.arm:
        text += f"; {least.label} forgets least: {_pts(least.forgetting, least.forgetting_lo, least.forgetting_hi, r.level)}"
    return [Finding(text + ".", "forgetting", study, {"arm": worst.arm, "forgetting": worst.forgetting})]


def _ood(study: str, r: FinetuneResults, compare: Compare, shown: dict[str, str | None]) -> list[Finding]:
    t = r.table
    rows = t[(t.kind != "base") & np.isfinite(t.ood_acc)].sort_values("ood_acc", ascending=False)
    if len(rows) < 2:
        return []
    best, runner = rows.iloc[0], rows.iloc[1]
    conds = [c for c in dict.fromkeys(r.sets.condition) if c.startswith("ood:")]
    if len(conds) != 1:  # the pooled OOD accuracy has no single paired comparison: say the numbers
        return [Finding(f"Out of distribution (the target's test set under {len(conds)} shifts, pooled), "
                        f"{best.label} does best: {pct_ci(best.ood_acc, best.ood_lo, best.ood_hi, r.level, what='accuracy')}, "
                        f"against {pct_ci(runner.ood_acc, runner.ood_lo, runner.ood_hi, r.level)} for {runner.label}.",
                        "ood_best", study)]
    cmp = compare(shown[best.arm], shown[runner.arm], conds[0])
    text, v = comparison_sentence("Out of distribution", best.label, _Row(best.ood_acc, best.ood_lo, best.ood_hi),
                                  runner.label, cmp, r.n_resamples, r.level)
    return [Finding(text, "ood_best", study, evidence(cmp, v))]


def _wise(study: str, r: FinetuneResults) -> list[Finding]:
    out = []
    for arm in (a for a in r.arms if a.kind == "wise"):
        alpha = r.wise_alpha.get(arm.id)
        w = r.wise[r.wise.arm == arm.id]
        if alpha is None or w.empty:
            continue

        def at(a: float, kind: str):
            rows = w[np.isclose(w.alpha, a) & (w.set == kind)]
            return None if rows.empty else rows.iloc[0]

        kind = "ood" if (w.set == "ood").any() else "target"
        chosen, end = at(alpha, kind), at(1.0, kind)
        if chosen is None or end is None:
            continue
        where = "out of distribution" if kind == "ood" else "on the target"
        if np.isclose(alpha, 1.0):
            out.append(Finding(f"{arm.label}: the best α on validation is 1, the tuned model itself; blending it with the "
                               f"base does not help here ({pct_ci(end.value, end.ci_low, end.ci_high, r.level)} {where}).",
                               "wise_ft", study, {"alpha": alpha}))
            continue
        out.append(Finding(
            f"{arm.label} at α = {alpha:g} (chosen on validation) reaches "
            f"{pct_ci(chosen.value, chosen.ci_low, chosen.ci_high, r.level)} {where}, against "
            f"{pct_ci(end.value, end.ci_low, end.ci_high, r.level)} for the tuned model it starts from (α = 1).",
            "wise_ft", study, {"alpha": alpha}))
    return out


def _flips(study: str, r: FinetuneResults) -> list[Finding]:
    t = r.table
    rows = t[(t.kind != "base") & np.isfinite(t.nf_rate.astype(float))]
    if rows.empty:
        return []
    worst = rows.sort_values("nf_rate", ascending=False).iloc[0]
    least = rows.sort_values("nf_rate").iloc[0]
    where = "source" if worst.nf_set == "source" else "target"
    text = (f"{worst.label} gets {int(worst.nf_count)} {where} predictions wrong that the base got right (negative flip "
            f"rate {pct_ci(worst.nf_rate, worst.nf_lo, worst.nf_hi, r.level, paren=False)}, over {int(worst.nf_n):,} "
            "predictions)")
    if least.arm != worst.arm:
        text += f"; {least.label} {int(least.nf_count)} ({pct(least.nf_rate, 1)})"
    return [Finding(text + ".", "negative_flips", study, {"arm": worst.arm, "rate": worst.nf_rate})]

