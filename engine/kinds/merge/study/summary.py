"""A merge study's results in a few tables, for ``juxta results`` (the report's tables and findings)."""

from __future__ import annotations

from typing import Any, Mapping

from engine.core.errors import JuxtaError
from engine.core.store import Store


def results_summary(store: Store, study: str, options: Mapping[str, Any]):
    from engine.kinds.base import ResultsSummary
    from engine.kinds.merge.study.report.findings import merge_findings
    from engine.kinds.merge.study.report.tables import merge_tables
    from engine.kinds.merge.study.results import load_merge_results
    from engine.report.findings import EN_DASH, ci_words, points

    for flag in ("drop", "ood", "condition"):
        if options.get(flag):
            raise JuxtaError(f"--{flag} has no meaning for a merge study; its rows are merged models and its columns tasks.")
    metric = options.get("metric")
    if metric and metric != "accuracy":
        raise JuxtaError(f"A merge study reports accuracy and normalized accuracy; --metric {metric} is not available.")
    results = load_merge_results(store, study)
    if results.empty:
        raise JuxtaError(f"Study '{study}' has no finished evaluation cells yet; run it first.")
    wanted = {"summary", "normalized"} | ({"configurations", "experts", "similarity", "conflicts"} if options.get("full") else set())
    tables = [t for t in merge_tables(results) if t.table_id in wanted]
    lines = [f.text for f in merge_findings(study, results)]
    compare = options.get("compare")
    if compare:
        a, b = compare
        known = set(results.rows.arm) | {"experts"}
        for arm in (a, b):
            if arm not in known:
                raise JuxtaError(f"'{arm}' is not a row of study '{study}'; its rows are: {', '.join(sorted(known))}.")
        d, lo, hi = results.difference(a, b)
        lines.append(f"{results.label(a)} − {results.label(b)}: {points(d, 1, sign=True)} points of normalized accuracy "
                     f"({ci_words(results.level)} {points(lo)}{EN_DASH}{points(hi)}; paired over the same test examples).")
    return ResultsSummary(tables=tables, lines=lines)
