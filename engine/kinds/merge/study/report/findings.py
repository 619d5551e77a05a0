"""A merge study's findings in words, each with its numbers and intervals.

Every percentage is quoted with its interval; a "more than" comes from a paired bootstrap of the two
rows on the same test examples, and is called within noise when that interval contains zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.report.findings import EN_DASH, ci_words, decimals_for, finite, pct, pct_ci, points, signed
from engine.report.schema import Finding
from engine.kinds.merge.study.results import MergeResults


def _row(results: MergeResults, arm: str) -> pd.Series:
    frame = results.summary if arm == "experts" else results.rows
    return frame[frame.arm == arm].iloc[0]


def _name(row) -> str:
    return str(row.label) + (" (transductive)" if bool(getattr(row, "transductive", False)) else "")


def _diff_words(d: float, lo: float, hi: float, level: float) -> str:
    """'7.1 points more … (95% CI 4.0–10.2)' parts: (gap text, direction, interval)."""
    digits = decimals_for(lo, hi)
    ci = f"{ci_words(level)} {points(lo, digits)}{EN_DASH}{points(hi, digits)}"
    return f"{points(abs(d), digits)} points {'more' if d > 0 else 'less'}", ci


def merge_findings(name: str, results: MergeResults) -> list[Finding]:
    out: list[Finding] = []
    level = results.level
    rows = results.rows
    chosen = rows[(rows.role == "merged") & rows.chosen & rows.normalized.notna()]
    if chosen.empty:
        return [Finding("No merged configuration has finished on every task yet.", "note", name)]
    split = "validation split" if results.tuning == "validation" else "test split (declared test-set tuning, optimistic)"
    best = chosen.sort_values("normalized", ascending=False).iloc[0]
    text = (f"{_name(best)}, chosen on the {split}, keeps "
            f"{pct_ci(best.normalized, best.norm_low, best.norm_high, level)} of the experts' accuracy")
    evidence = {"arm": best.arm, "normalized": best.normalized, "low": best.norm_low, "high": best.norm_high}
    averaging = chosen[chosen.method == "linear"]
    if not averaging.empty and averaging.arm.iloc[0] != best.arm:
        ref = averaging.iloc[0]
        d, lo, hi = results.difference(best.arm, ref.arm)
        if finite(d, lo, hi):
            gap, ci = _diff_words(d, lo, hi, level)
            noise = lo <= 0 <= hi
            text += (f", {gap} than averaging ({ci})" + ("; the difference is within noise" if noise else ""))
            evidence.update(versus=ref.arm, diff=d, diff_low=lo, diff_high=hi, within_noise=bool(noise))
    out.append(Finding(text + ".", "best_merge", name, evidence))

    order = chosen.sort_values("normalized")
    parts = [f"{_name(r)} {pct(r.normalized, 0)}" for r in order.itertuples()]
    if "experts" in set(results.summary.arm):
        parts.append("the experts 100%")
    out.append(Finding("Ordered by the share of the experts' accuracy they keep (average over tasks): "
                       + " < ".join(parts) + ".", "ordering", name,
                       {"order": [r.arm for r in order.itertuples()], "normalized": [float(v) for v in order.normalized]}))

    if "experts" in set(results.summary.arm):
        d, lo, hi = results.difference(best.arm, "experts", "accuracy")
        experts = _row(results, "experts")
        if finite(d, lo, hi):
            gap, ci = _diff_words(d, lo, hi, level)
            out.append(Finding(
                f"On average over the tasks, {best.label} reaches {pct_ci(best.accuracy, best.acc_low, best.acc_high, level)} "
                f"accuracy against {pct_ci(experts.accuracy, experts.acc_low, experts.acc_high, level)} for the experts "
                f"on their own tasks: {gap} ({ci}).", "gap_to_experts", name, {"diff": d, "low": lo, "high": hi}))

    acc = results.accuracy
    per_task = acc[(acc.arm == best.arm) & acc.normalized.notna()]
    if len(per_task) > 1:
        worst = per_task.sort_values("normalized").iloc[0]
        out.append(Finding(
            f"{best.label} keeps least on {results.task_labels.get(worst.task, worst.task)}: "
            f"{pct_ci(worst.normalized, worst.norm_low, worst.norm_high, level)} of that expert's accuracy.",
            "hardest_task", name, {"task": worst.task, "normalized": worst.normalized}))

    base = rows[rows.role == "base"]
    if not base.empty and finite(base.normalized.iloc[0]):
        b = base.iloc[0]
        out.append(Finding(f"The base model alone keeps {pct_ci(b.normalized, b.norm_low, b.norm_high, level)} of the "
                           "experts' accuracy: what merging starts from.", "base", name, {"normalized": b.normalized}))

    if results.similarity is not None and len(results.similarity) > 1:
        sim = results.similarity.to_numpy()
        off = sim[~np.eye(len(sim), dtype=bool)]
        words = "nearly orthogonal" if abs(off.mean()) < 0.2 else "aligned" if off.mean() > 0.5 else "partly aligned"
        spread = f", from {signed(f'{off.min():.2f}')} to {signed(f'{off.max():.2f}')}" if len(sim) > 2 else ""
        text = (f"The experts' task vectors are {words} ({'mean pairwise ' if len(sim) > 2 else ''}cosine similarity "
                f"{signed(f'{off.mean():.2f}')}{spread})")
        if results.conflicts is not None and not results.conflicts.empty:
            c = results.conflicts
            shared = c.shared.sum()
            rate = float((c.rate * c.shared).sum() / shared) if shared else float("nan")
            trimmed = c.trimmed_rate.mean()
            text += (f"; where two or more experts change a weight, their signs disagree {pct(rate, 0)} of the time "
                     f"(layer average {pct(trimmed, 0)} after keeping each tensor's top {pct(results.conflict_density or 0.2, 0)})")
        out.append(Finding(text + ".", "similarity", name, {"mean_cosine": float(off.mean())}))

    transductive = rows[(rows.role == "merged") & rows.transductive & rows.chosen]
    if not transductive.empty:
        out.append(Finding(", ".join(transductive.label) + " learned its coefficients from the unlabeled test inputs "
                           "(transductive): it has seen the inputs it is scored on, so it is not directly comparable "
                           "with methods that did not.", "transductive", name))
    if results.tuning == "test":
        out.append(Finding("The study declared test-set tuning: λ, density and the other coefficients were chosen on the "
                           "test split, so every merged number is optimistic.", "tuning", name))
    return out
