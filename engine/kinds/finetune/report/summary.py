"""``juxta results`` for a fine-tuning study: the methods table, optionally every evaluation set and the
learning rates tried, or a paired comparison of two arms on one set."""

from __future__ import annotations

from typing import Any, Mapping

from engine.core.errors import JuxtaError
from engine.core.store import Store
from engine.kinds.finetune.plan import EVAL
from engine.kinds.finetune.report.tables import tables
from engine.kinds.finetune.results import load_finetune_results, shown_id
from engine.report.findings import comparison_sentence, pct_ci

_NOT_HERE = {"drop": "--drop (a relative drop from a clean condition)",
             "ood": "--ood (scores that detect shifted inputs)"}


def results_summary(store: Store, study: str, options: Mapping[str, Any]) -> Any:
    from engine.kinds.base import ResultsSummary

    for flag, words in _NOT_HERE.items():
        if options.get(flag):
            raise JuxtaError(f"{words} is a shift-study view; '{study}' is a fine-tuning study. Its results show accuracy "
                             "in and out of distribution, forgetting and negative flips per method.")
    metric = options.get("metric")
    if metric not in (None, "accuracy"):
        raise JuxtaError(f"--metric {metric}: a fine-tuning study's table shows accuracy, calibration (ECE), forgetting "
                         "and flips together; leave --metric out.")
    r = load_finetune_results(store, study)
    if r.table.empty:
        raise JuxtaError(f"Study '{study}' has no finished evaluations yet; run it first (juxta run).")
    seeds = sorted(int(s) for s in r.cells.seed.unique())
    all_tables = {t.table_id: t for t in tables(r, seeds)}
    shown = [all_tables["arms"]]
    if options.get("full"):
        shown += [t for key, t in all_tables.items() if key != "arms"]
    lines = list(r.notes)
    if options.get("compare"):
        lines.append(_compare(store, study, r, list(options["compare"]), options.get("condition") or "target"))
    return ResultsSummary(tables=shown, lines=lines)


def _compare(store: Store, study: str, r, arms: list[str], condition: str) -> str:
    from engine.report.paired import PairedPredictions

    known = {a.id: a for a in r.arms}
    for arm in arms:
        if arm not in known:
            raise JuxtaError(f"Study '{study}' has no arm '{arm}'; its arms are {', '.join(known)}.")
    conditions = [c for c in dict.fromkeys(r.sets.condition)]
    if condition not in conditions:
        raise JuxtaError(f"Study '{study}' has no evaluation set '{condition}'; its sets are {', '.join(conditions)}.")
    a, b = (shown_id(known[x], r.wise_alpha) for x in arms)
    cmp = PairedPredictions(store, study, EVAL).compare(a, b, condition, level=r.level)
    hit = r.sets[(r.sets.arm == a) & (r.sets.condition == condition)].iloc[0]
    text, _ = comparison_sentence(f"On {condition}", arms[0], hit, arms[1], cmp, r.n_resamples, r.level)
    return text + f" ({arms[0]}: {pct_ci(hit.value, hit.ci_low, hit.ci_high, r.level)})"
