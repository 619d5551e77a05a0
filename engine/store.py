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
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            # Only an earlier attempt (a failed cell being retried) has rows to replace; checking the
            # primary key first avoids scanning the large tables on every write.
            if con.execute("SELECT 1 FROM cells WHERE cell_key = ?", [cell.key]).fetchone():
                for table in CELL_TABLES:
                    con.execute(f"DELETE FROM {table} WHERE cell_key = ?", [cell.key])
            started = datetime.fromtimestamp(result.started, timezone.utc).replace(tzinfo=None) if result.started else None
            con.execute(
                "INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    cell.key, cell.study, run_id, cell.kind, cell.arm, cell.condition, cell.family, cell.severity,
                    cell.seed, json.dumps(cell.spec, default=str), json.dumps(result.info, default=str), result.status,
                    result.error, result.traceback, result.duration_s, result.device, result.peak_mem_mb, started, _now(),
                ],
            )
            if result.metrics:
                con.executemany(
                    "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                    [(cell.key, m, _f(v), _f(lo), _f(hi), int(n)) for m, v, lo, hi, n in result.metrics],
                )
            if result.predictions is not None and len(result.predictions["label"]):
                self._insert_predictions(cell.key, result.predictions)
            if result.curves:
                con.executemany("INSERT INTO curves VALUES (?, ?, ?, ?)", [(cell.key, int(s), n, float(v)) for s, n, v in result.curves])
            for a in result.artifacts:
                con.execute(
                    "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?, ?)",
                    [cell.key, a["kind"], a["name"], a["path"], a["bytes"], a["sha256"]],
                )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

    def _insert_predictions(self, key: str, p: dict[str, np.ndarray]) -> None:
        import pyarrow as pa

        n = len(p["label"])
        table = pa.table(
            {
                "cell_key": pa.array([key] * n, pa.string()).dictionary_encode(),
                "position": pa.array(np.arange(n, dtype=np.int32)),
                "example": pa.array(p["example"].astype(np.int32)),
                "label": pa.array(p["label"].astype(np.int16)),
                "prediction": pa.array(p["prediction"].astype(np.int16)),
                "confidence": pa.array(p["confidence"].astype(np.float32)),
                "energy": pa.array(p["energy"].astype(np.float32)),
                "nll": pa.array(p["nll"].astype(np.float32)),
                "brier": pa.array(p["brier"].astype(np.float32)),
                "correct": pa.array(p["correct"].astype(bool)),
                "group": pa.array(p["group"] if p.get("group") is not None else [None] * n, pa.string()),
            }
        )
        self.con.register("_preds", table)
        self.con.execute("INSERT INTO predictions SELECT * FROM _preds")
        self.con.unregister("_preds")

    # -- reading -------------------------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | None = None):
        """Run SQL and return a pandas DataFrame."""
        return self.con.execute(sql, params or []).df()


def _f(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
