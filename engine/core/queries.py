"""Every read that joins a study's plan (``study_cells``) with computed cells (``cells``), in one place.

Kinds, reports, exports and the app read results through these functions and never write that join
themselves. Nothing here knows a kind: cells are selected by their type, a kind names the ``axes`` it
wants as columns (with their SQL types) and the parameters it filters on by JSON path.
Every function returns a pandas DataFrame unless it says otherwise; importing this module loads no pandas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from engine.core.store import Store

if TYPE_CHECKING:  # pandas loads on the first query that returns a frame, not at import (app start-up)
    import pandas as pd

Axes = Mapping[str, str]  # axis name -> SQL type of its values, e.g. {"family": "VARCHAR", "severity": "INTEGER"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL_TYPES = {"VARCHAR", "INTEGER", "BIGINT", "DOUBLE", "BOOLEAN"}


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a column or axis name: {name!r}")
    return name


def _axes_sql(axes: Axes, table: str = "sc") -> str:
    """``CAST(json_extract_string(sc.axes, '$.family') AS VARCHAR) AS family, …`` (leading comma)."""
    out = ""
    for name, sql_type in axes.items():
        if sql_type not in _SQL_TYPES:
            raise ValueError(f"axis {name!r}: unsupported SQL type {sql_type!r}")
        out += f", CAST(json_extract_string({table}.axes, '$.{_name(name)}') AS {sql_type}) AS {name}"
    return out


def _path(path: str) -> str:
    if not re.match(r"^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$", path):
        raise ValueError(f"not a JSON path: {path!r}")
    return path


# ---------------------------------------------------------------------------------------------
# plans and progress


def status(store: Store, study: str) -> pd.DataFrame:
    """Per cell type: how many cells are planned, done, failed, missing, and their compute seconds."""
    return store.query(
        """
        SELECT sc.type, count(*) AS planned,
               count(*) FILTER (WHERE c.status = 'done') AS done,
               count(*) FILTER (WHERE c.status = 'failed') AS failed,
               count(*) FILTER (WHERE c.status IS NULL) AS missing,
               sum(c.duration_s) AS compute_s
        FROM study_cells sc LEFT JOIN cells c USING (cell_key)
        WHERE sc.study = ? GROUP BY sc.type ORDER BY sc.type DESC
        """,
        [study],
    )


def failures(store: Store, study: str) -> pd.DataFrame:
    """arm, condition, seed, error of every failed cell of the study's plan."""
    return store.query(
        """SELECT sc.arm, sc.condition, sc.seed, c.error FROM study_cells sc JOIN cells c USING (cell_key)
           WHERE sc.study = ? AND c.status = 'failed' ORDER BY sc.arm, sc.condition, sc.seed""",
        [study],
    )


def plan_counts(store: Store) -> dict[str, tuple[int, int, int]]:
    """study -> (planned, done, failed) cells of its last plan; plain tuples (no pandas at start-up)."""
    rows = store.con.execute(
        """SELECT sc.study, count(*), count(*) FILTER (WHERE c.status = 'done'),
                  count(*) FILTER (WHERE c.status = 'failed')
           FROM study_cells sc LEFT JOIN cells c USING (cell_key) GROUP BY sc.study"""
    ).fetchall()
    return {s: (p, d, f) for s, p, d, f in rows}


# ---------------------------------------------------------------------------------------------
# metrics


def finished_metrics(store: Store, study: str, cell_type: str, axes: Axes = {}, *, metric: str | None = None,
                     params: Mapping[str, str] = {}) -> pd.DataFrame:
    """One row per finished cell of ``cell_type`` and metric: arm, condition, the ``axes``, seed, the
    ``params`` (column name -> JSON path into the cell's spec), metric, value, ci_low, ci_high, n,
    device, duration_s. ``metric`` keeps one metric only."""
    extra = "".join(f", json_extract_string(c.params, '{_path(p)}') AS {_name(n)}" for n, p in params.items())
    where = " AND m.metric = ?" if metric is not None else ""
    return store.query(
        f"""SELECT sc.arm, sc.condition{_axes_sql(axes)}, sc.seed{extra}, m.metric, m.value, m.ci_low, m.ci_high, m.n,
                   c.device, c.duration_s
            FROM study_cells sc JOIN cells c USING (cell_key) JOIN metrics m USING (cell_key)
            WHERE sc.study = ? AND sc.type = ? AND c.status = 'done'{where}""",
        [study, cell_type] + ([metric] if metric is not None else []),
    )


def conditions(store: Store, study: str, cell_type: str, axes: Axes = {}, param: str = "$") -> pd.DataFrame:
    """One row per condition of the study's plan that has a computed (done or failed) cell of
    ``cell_type``: condition, the ``axes``, and ``params``: the JSON text at ``param`` in one of its
    cells' specs."""
    picks = "".join(f", any_value(CAST(json_extract_string(sc.axes, '$.{_name(n)}') AS {t})) AS {n}"
                    for n, t in axes.items() if t in _SQL_TYPES)
    json_path = "$" if param == "$" else _path(param)
    return store.query(
        f"""SELECT sc.condition{picks}, any_value(json_extract_string(c.params, '{json_path}')) AS params
            FROM study_cells sc JOIN cells c USING (cell_key)
            WHERE sc.study = ? AND sc.type = ? GROUP BY sc.condition""",
        [study, cell_type],
    )


def arm_info(store: Store, study: str, cell_type: str, key: str) -> pd.DataFrame:
    """arm, value: a value from the info of each arm's finished cells of ``cell_type`` (``info.key``)."""
    return store.query(
        f"""SELECT sc.arm, any_value(json_extract(c.info, '$.{_name(key)}')) AS value
            FROM study_cells sc JOIN cells c USING (cell_key)
            WHERE sc.study = ? AND sc.type = ? AND c.status = 'done' GROUP BY sc.arm""",
        [study, cell_type],
    )


# ---------------------------------------------------------------------------------------------
# predictions


def predictions(store: Store, study: str, cell_type: str, columns: Sequence[str], *,
                conditions: Sequence[str] | None = None, arms: Sequence[str] | None = None,
                param_in: tuple[str, Sequence[str]] | None = None,
                order: Sequence[str] = ()) -> pd.DataFrame:
    """Per-example rows of the finished cells of ``cell_type``: arm, condition, seed, position and the
    prediction ``columns`` (example, label, prediction, confidence, energy, nll, brier, correct, group),
    optionally only some ``conditions`` or ``arms``, or cells whose spec has a value in a list at a JSON
    path (``param_in``), sorted by ``order`` (names among arm, condition, seed, position)."""
    cols = "".join(f', p."{_name(c)}"' for c in columns)
    where, args = "", [study, cell_type]
    if conditions is not None:
        where += " AND sc.condition IN (SELECT unnest(?))"
        args.append(list(conditions))
    if arms is not None:
        where += " AND sc.arm IN (SELECT unnest(?))"
        args.append(list(arms))
    if param_in is not None:
        where += f" AND json_extract_string(c.params, '{_path(param_in[0])}') IN (SELECT unnest(?))"
        args.append(list(param_in[1]))
    keys = {"arm": "sc.arm", "condition": "sc.condition", "seed": "sc.seed", "position": "p.position"}
    order_sql = f" ORDER BY {', '.join(keys[o] for o in order)}" if order else ""
    return store.query(
        f"""SELECT sc.arm, sc.condition, sc.seed, p.position{cols}
            FROM study_cells sc JOIN cells c USING (cell_key) JOIN predictions p USING (cell_id)
            WHERE sc.study = ? AND sc.type = ? AND c.status = 'done'{where}{order_sql}""",
        args,
    )


def example_values(store: Store, study: str, cell_type: str, column: str
                   ) -> tuple[list[tuple[str, str]], dict[str, np.ndarray]]:
    """A prediction column of every finished cell of ``cell_type``, grouped by (arm, condition) with the
    seeds pooled: the groups in (arm, condition) order, and numpy arrays ``gid`` (index into the
    groups), ``example`` and ``v`` (the column as float64, NaN for NULL), sorted by group then example."""
    con = store.con
    groups = con.execute(
        """SELECT arm, condition FROM (SELECT DISTINCT sc.arm, sc.condition
           FROM study_cells sc JOIN cells c USING (cell_key)
           WHERE sc.study = ? AND sc.type = ? AND c.status = 'done') ORDER BY arm, condition""",
        [study, cell_type],
    ).fetchall()
    if not groups:
        return [], {}
    import pandas as pd

    con.register("_pooled_groups", pd.DataFrame({"arm": [g[0] for g in groups], "condition": [g[1] for g in groups],
                                                 "gid": np.arange(len(groups), dtype=np.int64)}))
    try:
        cols = con.execute(
            f"""SELECT g.gid, p.example, CAST(p.{_name(column)} AS DOUBLE) AS v
                FROM study_cells sc JOIN cells c USING (cell_key) JOIN predictions p USING (cell_id)
                JOIN _pooled_groups g ON g.arm = sc.arm AND g.condition = sc.condition
                WHERE sc.study = ? AND sc.type = ? AND c.status = 'done'
                ORDER BY g.gid, p.example""",
            [study, cell_type],
        ).fetchnumpy()
    finally:
        con.unregister("_pooled_groups")
    v = cols["v"]
    v = v.astype(np.float64).filled(np.nan) if np.ma.isMaskedArray(v) else np.asarray(v, dtype=np.float64)  # NULL -> NaN
    return [(g[0], g[1]) for g in groups], {"gid": np.asarray(cols["gid"], dtype=np.int64),
                                            "example": np.asarray(cols["example"], dtype=np.int64), "v": v}


def reliability(store: Store, study: str, cell_type: str, n_bins: int = 15) -> pd.DataFrame:
    """Reliability-diagram bins per arm and condition (seeds pooled): arm, condition, bin, confidence,
    accuracy, count, with the ECE binning convention (bins (lo, hi], the first [0, 1/n])."""
    n_bins = int(n_bins)
    return store.query(
        f"""SELECT sc.arm, sc.condition,
                   least(greatest(ceil(p.confidence * {n_bins}) - 1, 0), {n_bins - 1})::INT AS bin,
                   avg(p.confidence) AS confidence, avg(p.correct::INT) AS accuracy, count(*) AS count
            FROM study_cells sc JOIN cells c USING (cell_key) JOIN predictions p USING (cell_id)
            WHERE sc.study = ? AND sc.type = ? AND c.status = 'done'
            GROUP BY ALL ORDER BY sc.arm, sc.condition, bin""",
        [study, cell_type],
    )


# ---------------------------------------------------------------------------------------------
# curves, artifacts, reproducibility


def curves(store: Store, study: str, cell_type: str | None = None) -> pd.DataFrame:
    """arm, condition, seed, step, series, value of the finished cells' curves (training losses, sweeps)."""
    where, args = ("", [study]) if cell_type is None else (" AND sc.type = ?", [study, cell_type])
    return store.query(
        f"""SELECT sc.arm, sc.condition, sc.seed, k.step, k.series, k.value
            FROM study_cells sc JOIN cells c USING (cell_key) JOIN curves k USING (cell_key)
            WHERE sc.study = ? AND c.status = 'done'{where} ORDER BY sc.arm, sc.condition, sc.seed, k.series, k.step""",
        args,
    )


def finished_cells(store: Store, studies: Sequence[str]) -> pd.DataFrame:
    """study, type, arm, seed, device, duration_s, params of every finished cell of these studies' plans."""
    return store.query(
        """SELECT sc.study, sc.type, sc.arm, sc.seed, c.device, c.duration_s, c.params
           FROM study_cells sc JOIN cells c USING (cell_key) WHERE sc.study IN (SELECT unnest(?)) AND c.status = 'done'""",
        [list(studies)],
    )


def artifacts(store: Store, studies: Sequence[str]) -> pd.DataFrame:
    """study, arm, seed, name, path, bytes, sha256, kind of what the finished cells of these studies saved."""
    return store.query(
        """SELECT sc.study, sc.arm, sc.seed, a.name, a.path, a.bytes, a.sha256, a.kind
           FROM study_cells sc JOIN cells c USING (cell_key) JOIN artifacts a USING (cell_key)
           WHERE sc.study IN (SELECT unnest(?)) AND c.status = 'done'""",
        [list(studies)],
    )


def study_table_sql(table: str) -> str:
    """SQL selecting one study's rows (``$study``) of a results table, for exports."""
    if table in ("studies", "runs"):
        return f"SELECT * FROM {_name(table)} WHERE study = $study"
    if table == "cells":
        return "SELECT c.* FROM cells c JOIN study_cells sc USING (cell_key) WHERE sc.study = $study"
    if table == "predictions":
        return ("SELECT p.* FROM predictions p JOIN cells c USING (cell_id) JOIN study_cells sc USING (cell_key) "
                "WHERE sc.study = $study")
    return f"SELECT t.* FROM {_name(table)} t JOIN study_cells sc USING (cell_key) WHERE sc.study = $study"
