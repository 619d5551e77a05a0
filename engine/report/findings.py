"""Numbers in words for reports, whatever the kind: percentages with the digits their interval
supports, intervals, p-values, and the verdict of a paired comparison of two arms.

Rules (tested):

* every accuracy quoted comes with its interval; every "more than" comes from a paired comparison
  of the two arms on the same examples (paired bootstrap interval and p-value, McNemar's test);
* a difference whose interval contains 0 is said to be *within noise* and is never called a win;
* wording is deterministic (same numbers, same sentence) and numbers are rounded to what their
  interval supports: whole percentages when the interval is at least 5 points wide, else one
  decimal.

The functions here take plain numbers and ``PairedComparison`` objects, so they can be tested with
constructed comparisons and no database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from engine.report.schema import TableCell
from engine.stats import PairedComparison

MINUS = "\u2212"
EN_DASH = "\u2013"
NBSP = "\u00a0"  # keeps "p < 0.001" and "95% CI" on one line

# (arm a, arm b, condition) -> their paired comparison on the same examples
Compare = Callable[[str, str, str], PairedComparison]


# ---------------------------------------------------------------------------------------------
# number formatting


def finite(*values: float | None) -> bool:
    return all(v is not None and isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v)) for v in values)


def decimals_for(low: float | None, high: float | None) -> int:
    """Whole percentages when the interval is at least 5 points wide, else one decimal."""
    if not finite(low, high):
        return 1
    return 0 if (float(high) - float(low)) >= 0.05 else 1


def signed(text: str) -> str:
    return text.replace("-", MINUS)


def pct(value: float, digits: int = 1) -> str:
    """0.613 -> '61.3%' (digits=1)."""
    if not finite(value):
        return "n/a"
    return signed(f"{100 * float(value):.{digits}f}%")


def pct_ci(value: float, low: float, high: float, level: float = 0.95, what: str = "", paren: bool = True) -> str:
    """'61% accuracy (95% CI 58–64)' (or '61%, 95% CI 58–64' with ``paren=False``), rounded to what
    the interval supports."""
    d = decimals_for(low, high)
    head = pct(value, d) + (f" {what}" if what else "")
    if not finite(low, high):
        return head
    ci = signed(f"{ci_words(level)} {100 * low:.{d}f}{EN_DASH}{100 * high:.{d}f}")
    return f"{head} ({ci})" if paren else f"{head}, {ci}"


def points(diff: float, digits: int = 1, sign: bool = False) -> str:
    """A difference of proportions in percentage points: 0.192 -> '19.2' (or '+19.2')."""
    if not finite(diff):
        return "n/a"
    return signed(f"{100 * float(diff):{'+' if sign else ''}.{digits}f}")


def level_words(level: float) -> str:
    return f"{100 * level:g}%"


def ci_words(level: float) -> str:
    return f"{level_words(level)}{NBSP}CI"


def p_text(p: float) -> str:
    if not finite(p):
        return "p not available"
    if p < 0.001:
        return f"p{NBSP}<{NBSP}0.001"
    if p < 0.01:
        return f"p{NBSP}={NBSP}{p:.3f}"
    return f"p{NBSP}={NBSP}{p:.2f}"


def reported_p(cmp: PairedComparison, n_resamples: int = 1000) -> float:
    """The p-value quoted for a paired comparison: the larger (more cautious) of the paired
    bootstrap and McNemar p-values, except when the bootstrap is at its resolution floor
    (2 / (R + 1): no resample crossed zero), where only McNemar can say how small p is."""
    boot, mc = cmp.p_value, cmp.mcnemar_p
    if not finite(boot):
        return float(mc)
    floor = 2.0 / (max(int(n_resamples), 0) + 1)
    if boot <= floor * (1 + 1e-9):
        return float(mc) if finite(mc) else float(boot)
    return float(max(boot, mc)) if finite(mc) else float(boot)


@dataclass(frozen=True)
class Verdict:
    label: str  # "well beyond noise" | "beyond noise" | "borderline" | "within noise"
    phrase: str  # the words after "the difference is"
    p: float


def verdict(cmp: PairedComparison, n_resamples: int = 1000, level: float = 0.95) -> Verdict:
    """How a paired difference reads: within noise when its interval contains 0."""
    p = reported_p(cmp, n_resamples)
    if cmp.within_noise:
        d = decimals_for(cmp.low, cmp.high) or 1
        return Verdict("within noise", (
            f"within noise (difference {points(cmp.diff, d, sign=True)} points, {ci_words(level)} "
            f"{points(cmp.low, d, sign=True)} to {points(cmp.high, d, sign=True)})"), p)
    if p < 0.001:
        return Verdict("well beyond noise", f"well beyond noise (paired bootstrap and McNemar, {p_text(p)})", p)
    if p < 0.05:
        return Verdict("beyond noise", f"beyond noise (paired bootstrap and McNemar, {p_text(p)})", p)
    return Verdict("borderline", (
        f"borderline: its {level_words(level)} interval excludes zero but McNemar's test gives {p_text(p)}"), p)


def ranges(values: list[int]) -> str:
    """[1, 2, 3, 4, 5] -> '1–5'; [1, 5] -> '1 and 5'; [1, 3, 5] -> '1, 3 and 5'."""
    values = sorted(values)
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}{EN_DASH}{values[-1]}"
    if len(values) == 1:
        return str(values[0])
    return ", ".join(map(str, values[:-1])) + f" and {values[-1]}"


def cell_pct(v: float, lo: float, hi: float, bold: bool = False, digits: int = 1) -> TableCell:
    """A proportion as a table cell in percent, its interval on the second line; a dash when missing."""
    if v is None or not np.isfinite(v):
        return TableCell("\u2014", muted=True)
    sub = f"{100 * lo:.{digits}f}{EN_DASH}{100 * hi:.{digits}f}" if np.isfinite(lo) and np.isfinite(hi) else ""
    return TableCell(signed(f"{100 * v:.{digits}f}"), signed(sub), bold=bold)


def cell_num(v: float, lo: float, hi: float, digits: int = 3, bold: bool = False) -> TableCell:
    """A number as a table cell, its interval on the second line; a dash when missing."""
    if v is None or not np.isfinite(v):
        return TableCell("\u2014", muted=True)
    sub = f"{lo:.{digits}f}{EN_DASH}{hi:.{digits}f}" if np.isfinite(lo) and np.isfinite(hi) else ""
    return TableCell(signed(f"{v:.{digits}f}"), signed(sub), bold=bold)


# ---------------------------------------------------------------------------------------------
# comparisons


def comparison_sentence(start: str, best: str, best_row: Any, runner: str, cmp: PairedComparison,
                        n_resamples: int = 1000, level: float = 0.95, verb: str = "reaches") -> tuple[str, Verdict]:
    """'Under X, A keeps 61% accuracy (95% CI 58–64), 19 points more than B; the difference is …'
    or, within noise, 'Under X, A (…) and B are tied within noise (difference …)'."""
    v = verdict(cmp, n_resamples, level)
    if v.label == "within noise":
        acc = pct_ci(best_row.value, best_row.ci_low, best_row.ci_high, level, paren=False)
        return (f"{start}, {best} ({acc}) and {runner} are tied {v.phrase}.", v)
    acc = pct_ci(best_row.value, best_row.ci_low, best_row.ci_high, level, what="accuracy")
    d = decimals_for(cmp.low, cmp.high)
    gap = points(abs(cmp.diff), d)
    more = "more" if cmp.diff > 0 else "less"
    unit = "point" if gap == "1" else "points"
    return (f"{start}, {best} {verb} {acc}, {gap} {unit} {more} than {runner}; the difference is {v.phrase}.", v)


def evidence(cmp: PairedComparison, v: Verdict) -> dict[str, Any]:
    return {"diff": cmp.diff, "diff_low": cmp.low, "diff_high": cmp.high, "p_bootstrap": cmp.p_value,
            "p_mcnemar": cmp.mcnemar_p, "p_reported": v.p, "n_pairs": cmp.n, "only_a_right": cmp.b,
            "only_b_right": cmp.c, "within_noise": bool(cmp.within_noise), "verdict": v.label}
