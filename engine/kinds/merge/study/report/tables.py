"""A merge study's tables and chart references (the charts are drawn by ``views.kinds.merge``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.kinds.merge.study.results import MergeResults
from engine.report.findings import cell_num, cell_pct, pct
from engine.report.schema import ChartRef, Table, TableCell


def _row_cell(row: dict) -> TableCell:
    note = "learned from the unlabeled test inputs (transductive)" if bool(row.get("transductive", False)) else ""
    text = str(row["label"]) + (" †" if note else "")
    return TableCell(text, bold=row["role"] == "experts", note=note, arm=None if row["role"] == "experts" else str(row["arm"]))


def merge_tables(results: MergeResults) -> list[Table]:
    tasks = results.tasks
    acc = results.accuracy.set_index(["arm", "task"])
    split = "validation split" if results.tuning == "validation" else "test split (declared: optimistic)"
    tables = []

    rows = []
    best = results.summary[results.summary.role != "experts"].accuracy.max() if not results.summary.empty else np.nan
    for r in results.summary.to_dict("records"):
        cells = [_row_cell(r)]
        for t in tasks:
            if r["role"] == "experts":
                a = acc.loc[(t, t)] if (t, t) in acc.index else None
            else:
                a = acc.loc[(r["arm"], t)] if (r["arm"], t) in acc.index else None
            cells.append(cell_pct(a.value, a.ci_low, a.ci_high) if a is not None else TableCell("\u2014", muted=True))
        cells.append(cell_pct(r["accuracy"], r.get("acc_low", np.nan), r.get("acc_high", np.nan),
                              bold=r["role"] != "experts" and r["accuracy"] == best))
        cells.append(cell_pct(r["normalized"], r.get("norm_low", np.nan), r.get("norm_high", np.nan)))
        rank = r.get("rank", np.nan)
        cells.append(TableCell(f"{rank:.1f}" if rank == rank else "\u2014", muted=rank != rank))
        rows.append(cells)
    tables.append(Table(
        "summary", "Accuracy per task: base, each method's chosen configuration, experts",
        f"Test accuracy in percent with its interval; each method's coefficients chosen on the {split}. Normalized: the "
        "row's accuracy ÷ that task's expert's, averaged over tasks. Rank: the mean over tasks of the row's rank among the "
        "base and the merges (1 = best). Each task is scored with its own expert's head (heads are not merged)."
        + (" † learned from the unlabeled test inputs." if results.summary.get("transductive", pd.Series(dtype=bool)).any() else ""),
        ["Model", *[results.task_labels[t] for t in tasks], "Average", "Normalized", "Rank"], rows,
        align=["l", *["r"] * (len(tasks) + 3)]))

    chosen = results.rows[(results.rows.role.isin(["base", "merged"])) & (results.rows.chosen | (results.rows.role == "base"))]
    rows = []
    for r in chosen.to_dict("records"):
        cells = [_row_cell(r)]
        for t in tasks:
            a = acc.loc[(r["arm"], t)] if (r["arm"], t) in acc.index else None
            cells.append(cell_pct(a.normalized, a.norm_low, a.norm_high) if a is not None else TableCell("\u2014", muted=True))
        cells.append(cell_pct(r["normalized"], r["norm_low"], r["norm_high"], bold=True))
        rows.append(cells)
    tables.append(Table("normalized", "Normalized accuracy per task (merged ÷ that task's expert)",
                        "Share of each task's expert accuracy kept, in percent, with paired intervals (the row and the "
                        "expert resampled on the same test examples).",
                        ["Model", *[results.task_labels[t] for t in tasks], "Average"], rows,
                        align=["l", *["r"] * (len(tasks) + 1)]))

    merged = results.rows[results.rows.role == "merged"]
    if len(merged) > len(merged.entry.unique()):
        rows = []
        for r in merged.to_dict("records"):
            rows.append([_row_cell(r),
                         cell_pct(r["selection"], np.nan, np.nan),
                         cell_pct(r["accuracy"], r["acc_low"], r["acc_high"]),
                         cell_pct(r["normalized"], r["norm_low"], r["norm_high"]),
                         TableCell("chosen" if r["chosen"] else "", bold=bool(r["chosen"]))])
        tables.append(Table("configurations", "Every merged configuration of the sweeps",
                            f"Average over tasks. Selection: accuracy on the {split}, which chose each method's row; "
                            "test accuracy and normalized accuracy with intervals.",
                            ["Configuration", "Selection", "Test accuracy", "Normalized", ""], rows,
                            align=["l", "r", "r", "r", "l"], optional=True))

    experts = [a for a in results.rows[results.rows.role == "expert"].arm]
    if experts:
        rows = []
        for e in experts:
            cells = [TableCell(f"Expert {e}", arm=e)]
            for t in tasks:
                a = acc.loc[(e, t)] if (e, t) in acc.index else None
                cells.append(cell_pct(a.value, a.ci_low, a.ci_high, bold=e == t) if a is not None else TableCell("\u2014", muted=True))
            rows.append(cells)
        tables.append(Table("experts", "Each expert on every task", "Test accuracy in percent; bold: the expert's own task.",
                            ["Expert", *[results.task_labels[t] for t in tasks]], rows,
                            align=["l", *["r"] * len(tasks)], optional=True))

    if results.similarity is not None:
        sim = results.similarity
        rows = [[TableCell(str(i))] + [cell_num(float(v), np.nan, np.nan, 2) for v in sim.loc[i]] for i in sim.index]
        tables.append(Table("similarity", "Cosine similarity of the experts' task vectors",
                            "Task vector: an expert's weights minus the base's, heads left out. 1: the same direction; "
                            "0: unrelated (orthogonal) updates, which merge with little interference.",
                            ["", *map(str, sim.columns)], rows, align=["l", *["r"] * len(sim.columns)]))
    if results.conflicts is not None and not results.conflicts.empty:
        rows = [[TableCell(str(r.layer)), TableCell(pct(r.rate)), TableCell(pct(r.trimmed_rate)), TableCell(f"{int(r.shared):,}")]
                for r in results.conflicts.itertuples() if r.shared > 0]
        tables.append(Table("conflicts", "Sign conflicts by layer",
                            "Among the weights two or more experts changed, the share changed in opposite directions; "
                            f"again after keeping each tensor's top {pct(results.conflict_density or 0.2, 0)} (as TIES trims).",
                            ["Layer", "Conflicts", "After trimming", "Shared updates"], rows,
                            align=["l", "r", "r", "r"], optional=True))
    return tables


def merge_charts(results: MergeResults) -> list[ChartRef]:
    n_rows = len(results.summary)
    charts = [
        ChartRef("merge_heatmap", "merge_heatmap", {}, "Accuracy per task and method",
                 "Test accuracy of the base, each method's chosen configuration and the experts, task by task.",
                 rows=n_rows),
        ChartRef("merge_normalized", "merge_normalized", {}, "Share of the experts' accuracy kept",
                 "Normalized accuracy averaged over tasks, with its interval; 100% is the experts on their own tasks.",
                 rows=n_rows),
    ]
    for entry, frame in results.sweeps.items():
        keys = [k for k in ("lambda", "density") if k in frame.columns] or [c for c in frame.columns
                                                                             if c not in ("arm", "label", "grid", "selection", "accuracy", "acc_low", "acc_high", "normalized", "norm_low", "norm_high", "chosen")][:2]
        charts.append(ChartRef(f"merge_sweep:{entry}", "merge_sweep", {"entry": entry, "x": keys[0] if keys else None,
                                                                       "series": keys[1] if len(keys) > 1 else None},
                               f"Sweep of {entry}", "Average accuracy on the selection split (line) and on the test split "
                               "(dashed) across the grid; the ring marks the configuration chosen.", rows=len(frame)))
    if results.similarity is not None:
        charts.append(ChartRef("merge_similarity", "merge_similarity", {}, "Task-vector similarity",
                               "Cosine similarity of the experts' updates (heads left out).", rows=len(results.similarity)))
    if results.conflicts is not None and not results.conflicts.empty:
        charts.append(ChartRef("merge_conflicts", "merge_conflicts", {}, "Sign conflicts by layer",
                               "Share of shared updates whose signs disagree, before and after trimming.",
                               rows=len(results.conflicts)))
    return charts
