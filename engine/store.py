"""The results database: one DuckDB file per project, written only by the coordinator.

Each finished cell is written in one transaction (cell row, metrics, predictions, curves,
artifacts), so a crash or kill leaves whole cells or none. docs/schema.md documents the tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import duckdb
import numpy as np

from engine.errors import JuxtaError

DB_NAME = "juxta.duckdb"
SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS studies (
    study VARCHAR PRIMARY KEY, kind VARCHAR, title VARCHAR, spec_toml VARCHAR, path VARCHAR,
    created TIMESTAMP, updated TIMESTAMP);
CREATE TABLE IF NOT EXISTS study_cells (
    study VARCHAR, cell_key VARCHAR, kind VARCHAR, arm VARCHAR, condition VARCHAR, family VARCHAR,
    severity INTEGER, seed INTEGER, PRIMARY KEY (study, cell_key));
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, study VARCHAR, started TIMESTAMP, finished TIMESTAMP, status VARCHAR,
    host VARCHAR, backend VARCHAR, workers INTEGER, devices VARCHAR, versions JSON,
    planned INTEGER, skipped INTEGER, done INTEGER, failed INTEGER);
CREATE TABLE IF NOT EXISTS cells (
    cell_key VARCHAR PRIMARY KEY, study VARCHAR, run_id VARCHAR, kind VARCHAR, arm VARCHAR,
    condition VARCHAR, family VARCHAR, severity INTEGER, seed INTEGER, params JSON, info JSON,
    status VARCHAR, error VARCHAR, traceback VARCHAR, duration_s DOUBLE, device VARCHAR,
    peak_mem_mb DOUBLE, started TIMESTAMP, finished TIMESTAMP);
CREATE TABLE IF NOT EXISTS metrics (
    cell_key VARCHAR, metric VARCHAR, value DOUBLE, ci_low DOUBLE, ci_high DOUBLE, n INTEGER);
CREATE TABLE IF NOT EXISTS predictions (
    cell_key VARCHAR, position INTEGER, example INTEGER, label SMALLINT, prediction SMALLINT,
    confidence REAL, energy REAL, nll REAL, brier REAL, correct BOOLEAN, "group" VARCHAR);
CREATE TABLE IF NOT EXISTS curves (cell_key VARCHAR, step INTEGER, series VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS artifacts (
    cell_key VARCHAR, kind VARCHAR, name VARCHAR, path VARCHAR, bytes BIGINT, sha256 VARCHAR);
"""
CELL_TABLES = ("metrics", "predictions", "curves", "artifacts", "cells")


@dataclass
class CellResult:
    """What a worker sends back for one cell; the coordinator writes it in one transaction."""

    cell_key: str
    status: str  # "done" | "failed" | "cancelled"
    error: str | None = None
    traceback: str | None = None
    duration_s: float = 0.0
    device: str = "cpu"
    peak_mem_mb: float | None = None
    started: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    metrics: list[tuple[str, float, float, float, int]] = field(default_factory=list)
    predictions: dict[str, np.ndarray] | None = None
    curves: list[tuple[int, str, float]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Store:
    """A connection to a project's results database."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        try:
            if read_only and not self.path.exists():
                self.con = duckdb.connect(":memory:")
            else:
                try:
                    self.con = duckdb.connect(str(self.path), read_only=read_only)
                except duckdb.ConnectionException:
                    # This process already holds the file read-write (the app while a run writes):
                    # DuckDB allows only one configuration per file and process, so share that one.
                    self.con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise JuxtaError(
                    f"The results database {self.path} is in use by another Juxta process (a run in progress?); "
                    "wait for it to finish or cancel it."
                ) from None
            raise JuxtaError(f"The results database {self.path} cannot be opened: {exc}") from None
        if not read_only or not self.path.exists():
            self._ensure_schema()

    def _ensure_schema(self) -> None:
        """Create missing tables; a database already at this version is not written to (readers
        in the app share the file with a running coordinator)."""
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchone()[0]
        if exists:
            row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row and row[0] == SCHEMA_VERSION:
                return
        self.con.execute(SCHEMA)
        self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- studies and plans ---------------------------------------------------------------------

    def record_study(self, name: str, kind: str, title: str, spec_toml: str, path: str, cells: Iterable[Any]) -> None:
        """Remember a study's file and which cells make up its current plan."""
        now = _now()
        rows = [(name, c.key, c.kind, c.arm, c.condition, c.family, c.severity, c.seed) for c in cells]
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                "INSERT INTO studies VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (study) DO UPDATE SET "
                "kind = excluded.kind, title = excluded.title, spec_toml = excluded.spec_toml, "
                "path = excluded.path, updated = excluded.updated",
                [name, kind, title, spec_toml, path, now, now],
            )
            self.con.execute("DELETE FROM study_cells WHERE study = ?", [name])
            if rows:
                import pandas as pd

                frame = pd.DataFrame(rows, columns=["study", "cell_key", "kind", "arm", "condition", "family", "severity", "seed"])
                frame["severity"] = frame["severity"].astype("Int32")
                self.con.register("_plan_rows", frame)
                self.con.execute("INSERT INTO study_cells SELECT * FROM _plan_rows")
                self.con.unregister("_plan_rows")
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise

    def finished_keys(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        if not keys:
            return set()
        import pandas as pd

        self.con.register("_want", pd.DataFrame({"k": keys}))
        found = self.con.execute(
            "SELECT cell_key FROM cells JOIN _want ON cells.cell_key = _want.k WHERE status = 'done'"
        ).fetchall()
        self.con.unregister("_want")
        return {r[0] for r in found}

    def artifact_index(self) -> dict[str, str]:
        """``study/arm`` and ``study/arm/seedN`` -> path of the model a finished cell saved."""
        rows = self.con.execute(
            "SELECT name, path FROM artifacts JOIN cells USING (cell_key) WHERE cells.status = 'done' AND artifacts.kind = 'model' "
            "ORDER BY name"
        ).fetchall()
        out: dict[str, str] = {}
        for name, path in rows:
            out[name] = path
            base = name.rsplit("/seed", 1)[0]
            out.setdefault(base, path)
        return out

    def artifact_for_cell(self, cell_key: str) -> str | None:
        row = self.con.execute(
            "SELECT path FROM artifacts JOIN cells USING (cell_key) WHERE cell_key = ? AND artifacts.kind = 'model' AND cells.status = 'done'",
            [cell_key],
        ).fetchone()
        return row[0] if row else None

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, run_id: str, study: str, host: str, backend: str, workers: int, versions: dict, planned: int, skipped: int) -> None:
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, NULL, 'running', ?, ?, ?, NULL, ?, ?, ?, 0, 0)",
            [run_id, study, _now(), host, backend, workers, json.dumps(versions), planned, skipped],
        )

    def finish_run(self, run_id: str, status: str, done: int, failed: int, devices: str) -> None:
        self.con.execute(
            "UPDATE runs SET finished = ?, status = ?, done = ?, failed = ?, devices = ? WHERE run_id = ?",
            [_now(), status, done, failed, devices, run_id],
        )

    # -- cells ---------------------------------------------------------------------------------

    def write_cell(self, cell: Any, run_id: str, result: CellResult) -> None:
        """Write one finished (or failed) cell atomically, replacing any earlier attempt."""
        self.write_cells([(cell, result)], run_id)

    def write_cells(self, batch: list[tuple[Any, CellResult]], run_id: str) -> None:
        """Write finished cells in one transaction: whole cells or none, one insert per table.

        The coordinator batches cells that finish close together; per-statement overhead, not
        data volume, dominates small writes.
        """
        if not batch:
            return
        import pyarrow as pa

        con = self.con
        keys = [cell.key for cell, _ in batch]
        con.execute("BEGIN TRANSACTION")
        try:
            # Only earlier attempts (failed cells being retried) have rows to replace; checking the
            # primary key first avoids scanning the large tables on every write.
            old = [r[0] for r in con.execute("SELECT cell_key FROM cells WHERE cell_key IN (SELECT unnest(?))", [keys]).fetchall()]
            if old:
                for table in CELL_TABLES:
                    con.execute(f"DELETE FROM {table} WHERE cell_key IN (SELECT unnest(?))", [old])
            now = _now()
            cell_rows, metric_rows, curve_rows, artifact_rows, preds = [], [], [], [], []
            for cell, r in batch:
                started = datetime.fromtimestamp(r.started, timezone.utc).replace(tzinfo=None) if r.started else None
                cell_rows.append((
                    cell.key, cell.study, run_id, cell.kind, cell.arm, cell.condition, cell.family, cell.severity,
                    cell.seed, json.dumps(cell.spec, default=str), json.dumps(r.info, default=str), r.status,
                    r.error, r.traceback, r.duration_s, r.device, r.peak_mem_mb, started, now,
                ))
                metric_rows += [(cell.key, m, _f(v), _f(lo), _f(hi), int(n)) for m, v, lo, hi, n in r.metrics]
                curve_rows += [(cell.key, int(st), name, float(v)) for st, name, v in r.curves]
                artifact_rows += [(cell.key, a["kind"], a["name"], a["path"], a["bytes"], a["sha256"]) for a in r.artifacts]
                if r.predictions is not None and len(r.predictions["label"]):
                    preds.append((cell.key, r.predictions))
            con.executemany("INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", cell_rows)
            if metric_rows:
                columns = list(zip(*metric_rows))
                self._insert("metrics", pa.table({n: pa.array(c) for n, c in zip(
                    ("cell_key", "metric", "value", "ci_low", "ci_high", "n"), columns)}))
            if preds:
                self._insert("predictions", _prediction_table(preds))
            if curve_rows:
                con.executemany("INSERT INTO curves VALUES (?, ?, ?, ?)", curve_rows)
            if artifact_rows:
                con.executemany("INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?)", artifact_rows)
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

    def _insert(self, table: str, rows) -> None:
        self.con.register("_rows", rows)
        try:
            self.con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
        finally:
            self.con.unregister("_rows")

    # -- reading -------------------------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | None = None):
        """Run SQL and return a pandas DataFrame."""
        return self.con.execute(sql, params or []).df()


def _prediction_table(preds: list[tuple[str, dict[str, np.ndarray]]]):
    """One Arrow table for the prediction rows of several cells (columns in schema order)."""
    import pyarrow as pa

    sizes = [len(p["label"]) for _, p in preds]
    cat = lambda name, dtype: np.concatenate([np.asarray(p[name]).astype(dtype) for _, p in preds])  # noqa: E731
    groups = [p.get("group") for _, p in preds]
    group = None
    if any(g is not None for g in groups):
        group = np.concatenate([np.asarray(g, dtype=object) if g is not None else np.full(n, None, dtype=object)
                                for g, n in zip(groups, sizes)])
    n = sum(sizes)
    return pa.table({
        # take() repeats the few keys in C++; converting a million Python strings would dominate
        "cell_key": pa.array([k for k, _ in preds], pa.string()).take(pa.array(np.repeat(np.arange(len(preds)), sizes))),
        "position": pa.array(np.concatenate([np.arange(m, dtype=np.int32) for m in sizes])),
        "example": pa.array(cat("example", np.int32)),
        "label": pa.array(cat("label", np.int16)),
        "prediction": pa.array(cat("prediction", np.int16)),
        "confidence": pa.array(cat("confidence", np.float32)),
        "energy": pa.array(cat("energy", np.float32)),
        "nll": pa.array(cat("nll", np.float32)),
        "brier": pa.array(cat("brier", np.float32)),
        "correct": pa.array(cat("correct", bool)),
        "group": pa.array(group, pa.string()) if group is not None else pa.nulls(n, pa.string()),
    })


def _f(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
