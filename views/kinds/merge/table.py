"""The rows of a merge study's results table, for the Results page and its CSV / Parquet export.

Rows: the base, each expert, each method's chosen configuration (or every configuration of the sweeps),
and the experts each on its own task (the 100% that normalized accuracy divides by). Per row: accuracy
on every task with its interval, the average over tasks, normalized accuracy, the multi-task rank and
the accuracy on the split the coefficients were chosen on.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from engine.kinds.merge.study.results import MergeResults
from views.kinds.merge.charts import row_name

ROLE_ORDER = {"base": 0, "expert": 1, "merged": 2, "experts": 3}


def table_rows(results: MergeResults, every_configuration: bool = False) -> pd.DataFrame:
    """One row per model shown: arm, name, role, chosen, transductive, average and normalized accuracy
    with intervals, rank, selection accuracy, and per task ``acc:<task>``, ``low:<task>``, ``high:<task>``."""
    rows = results.rows
    if rows.empty:
        return pd.DataFrame()
    keep = rows.role.isin(["base", "expert"]) | ((rows.role == "merged") & (rows.chosen | every_configuration))
    shown = rows[keep].copy()
    experts = results.summary[results.summary.arm == "experts"] if not results.summary.empty else pd.DataFrame()
    shown = pd.concat([shown, experts], ignore_index=True) if not experts.empty else shown.reset_index(drop=True)
    rank = dict(zip(results.summary.arm, results.summary["rank"])) if "rank" in results.summary else {}
    acc = results.accuracy.set_index(["arm", "task"])
    out = pd.DataFrame({
        "arm": shown.arm.astype(str).values,
        "name": [row_name(results, a) for a in shown.arm],
        "role": shown.role.astype(str).values,
        "method": shown.method.astype(str).values,
        "chosen": shown.chosen.astype(bool).values,
        "transductive": shown.get("transductive", pd.Series(False, index=shown.index)).fillna(False).astype(bool).values,
        "accuracy": shown.accuracy.to_numpy(float), "acc_low": shown.acc_low.to_numpy(float),
        "acc_high": shown.acc_high.to_numpy(float), "normalized": shown.normalized.to_numpy(float),
        "norm_low": shown.norm_low.to_numpy(float), "norm_high": shown.norm_high.to_numpy(float),
        "rank": [float(rank.get(a, np.nan)) if r != "experts" else np.nan for a, r in zip(shown.arm, shown.role)],
        "selection": shown.selection.to_numpy(float),
    })
    for t in results.tasks:
        values, lows, highs = [], [], []
        for arm, role in zip(out.arm, out.role):
            key = (t, t) if role == "experts" else (arm, t)  # the experts' row: each expert on its own task
            hit = acc.loc[key] if key in acc.index else None
            values.append(np.nan if hit is None else float(hit.value))
            lows.append(np.nan if hit is None else float(hit.ci_low))
            highs.append(np.nan if hit is None else float(hit.ci_high))
        out[f"acc:{t}"], out[f"low:{t}"], out[f"high:{t}"] = values, lows, highs
    return out


def export_frame(results: MergeResults) -> pd.DataFrame:
    """Every evaluated row of the study in one long table (one line per row and task, plus its average over
    tasks as task ``average``), every merged configuration included, with how it was chosen."""
    rows = results.rows
    if rows.empty:
        return pd.DataFrame()
    info = rows.set_index("arm")
    rank = dict(zip(results.summary.arm, results.summary["rank"])) if "rank" in results.summary else {}
    records = []
    for r in results.accuracy.itertuples():
        records.append({"arm": r.arm, "task": r.task, "task_label": results.task_labels.get(r.task, r.task),
                        "accuracy": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, "normalized": r.normalized,
                        "norm_low": r.norm_low, "norm_high": r.norm_high, "selection_accuracy": r.selection, "n": r.n})
    for r in rows.itertuples():
        records.append({"arm": r.arm, "task": "average", "task_label": "average over tasks", "accuracy": r.accuracy,
                        "ci_low": r.acc_low, "ci_high": r.acc_high, "normalized": r.normalized, "norm_low": r.norm_low,
                        "norm_high": r.norm_high, "selection_accuracy": r.selection, "n": np.nan})
    f = pd.DataFrame(records)
    f.insert(0, "study", results.study)
    f.insert(2, "label", [str(info.label.get(a, a)) for a in f.arm])
    f.insert(3, "role", [str(info.role.get(a, "")) for a in f.arm])
    f.insert(4, "method", [str(info.method.get(a, "")) for a in f.arm])
    f.insert(5, "entry", [str(info.entry.get(a, "")) for a in f.arm])
    f.insert(6, "configuration", [json.dumps(info.grid.get(a) or {}, sort_keys=True) for a in f.arm])
    f["chosen"] = [bool(info.chosen.get(a, False)) for a in f.arm]
    f["transductive"] = [bool(info.transductive.get(a, False)) if "transductive" in info else False for a in f.arm]
    f["rank"] = [float(rank.get(a, np.nan)) if t == "average" else np.nan for a, t in zip(f.arm, f.task)]
    f["tuning"] = results.tuning
    f["conventions"] = results.conventions
    f["level"] = results.level
    order = {a: i for i, a in enumerate(rows.arm)}
    tasks = {t: i for i, t in enumerate([*results.tasks, "average"])}
    f["_o"] = [(order.get(a, 10**6), tasks.get(t, 10**6)) for a, t in zip(f.arm, f.task)]
    return f.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
