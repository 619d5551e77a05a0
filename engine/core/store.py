"""The results database: one DuckDB file per project, written only by the coordinator.

Each finished cell is written in one transaction (cell row, metrics, predictions, curves,
artifacts), so a crash or kill leaves whole cells or none. docs/schema.md documents the tables.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import duckdb
import numpy as np

from engine.core.errors import JuxtaError

DB_NAME = "juxta.duckdb"
SCHEMA_VERSION = "4"

# Schema 4 is kind-neutral: a cell has a ``type`` ("train", "eval", "ft.train", …) and ``axes``, a JSON
# object of what charts group by, kind-specific (shift: {"family": …, "severity": …}).
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS studies (
    study VARCHAR PRIMARY KEY, kind VARCHAR, title VARCHAR, spec_toml VARCHAR, path VARCHAR,
    created TIMESTAMP, updated TIMESTAMP);
CREATE TABLE IF NOT EXISTS study_cells (
    study VARCHAR, cell_key VARCHAR, type VARCHAR, arm VARCHAR, condition VARCHAR, axes JSON,
    seed BIGINT, PRIMARY KEY (study, cell_key));
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, study VARCHAR, started TIMESTAMP, finished TIMESTAMP, status VARCHAR,
    host VARCHAR, backend VARCHAR, workers INTEGER, devices VARCHAR, versions JSON,
    planned INTEGER, skipped INTEGER, done INTEGER, failed INTEGER);
CREATE TABLE IF NOT EXISTS cells (
    cell_key VARCHAR PRIMARY KEY, cell_id INTEGER, study VARCHAR, run_id VARCHAR, type VARCHAR, arm VARCHAR,
    condition VARCHAR, axes JSON, seed BIGINT, params JSON, info JSON,
    status VARCHAR, error VARCHAR, traceback VARCHAR, duration_s DOUBLE, device VARCHAR,
    peak_mem_mb DOUBLE, started TIMESTAMP, finished TIMESTAMP);
CREATE TABLE IF NOT EXISTS metrics (
    cell_key VARCHAR, metric VARCHAR, value DOUBLE, ci_low DOUBLE, ci_high DOUBLE, n INTEGER);
CREATE TABLE IF NOT EXISTS predictions (
    cell_id INTEGER, position INTEGER, example INTEGER, label SMALLINT, prediction SMALLINT,
    confidence REAL, energy REAL, nll REAL, brier REAL,
    correct BOOLEAN GENERATED ALWAYS AS (label = prediction) VIRTUAL, "group" VARCHAR);
CREATE TABLE IF NOT EXISTS curves (cell_key VARCHAR, step INTEGER, series VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS artifacts (
    cell_key VARCHAR, kind VARCHAR, name VARCHAR, path VARCHAR, bytes BIGINT, sha256 VARCHAR);
"""
CELL_TABLES = ("metrics", "curves", "artifacts", "cells")  # keyed by cell_key; predictions by cell_id
CELL_COLUMNS = (
    "cell_key", "cell_id", "study", "run_id", "type", "arm", "condition", "axes", "seed", "params",
    "info", "status", "error", "traceback", "duration_s", "device", "peak_mem_mb", "started", "finished",
)
PLAN_COLUMNS = ("study", "cell_key", "type", "arm", "condition", "axes", "seed")
# Storage types of the stored prediction columns (``correct`` is computed from label and
# prediction); workers convert before sending, so the single writer only joins arrays and the
# rows cross the process boundary at half the size.
PREDICTION_DTYPES = {
    "example": np.int32, "label": np.int16, "prediction": np.int16, "confidence": np.float32,
    "energy": np.float32, "nll": np.float32, "brier": np.float32,
}
CELL_TYPES = {  # columns whose values may all be None in a batch, or need a width
    "cell_id": "int32", "seed": "int64", "error": "string", "traceback": "string",
    "duration_s": "float64", "peak_mem_mb": "float64", "started": "timestamp[us]", "finished": "timestamp[us]",
    "params": "string", "info": "string", "device": "string", "axes": "string",
}
# Schema 1 kept the 32-character cell_key and a stored ``correct`` on every prediction row; a small
# integer id per cell and a computed ``correct`` make a million rows about a third faster to insert.
MIGRATE_FROM_1 = """
ALTER TABLE cells ADD COLUMN cell_id INTEGER;
UPDATE cells SET cell_id = n.id FROM (SELECT cell_key, row_number() OVER (ORDER BY cell_key) AS id FROM cells) n
WHERE cells.cell_key = n.cell_key;
ALTER TABLE predictions RENAME TO predictions_v1;
"""
MIGRATE_FROM_1_AFTER = """
INSERT INTO predictions BY NAME
    SELECT c.cell_id, p.* EXCLUDE (cell_key, correct) FROM predictions_v1 p JOIN cells c USING (cell_key);
DROP TABLE predictions_v1;
"""
# Schemas 1-3 were written by shift studies alone: a cell had a ``kind`` ("train" or "eval", now its
# ``type``) and ``family`` and ``severity`` columns (now its ``axes``; a training cell's family was
# the placeholder "train" and it has no axes); schema 2 also stored seeds as 32-bit integers. The old
# tables are set aside, the new ones created, the rows copied (seeds widen on the way) and the old
# tables dropped, all in the upgrade's one transaction.
AXES_FROM_3 = ("CASE WHEN kind = 'train' THEN '{}' "
               "ELSE json_object('family', family, 'severity', severity)::VARCHAR END")
MIGRATE_FROM_3 = f"""
INSERT INTO study_cells BY NAME
    SELECT study, cell_key, kind AS type, arm, condition, {AXES_FROM_3} AS axes, seed FROM study_cells_v3;
INSERT INTO cells BY NAME
    SELECT * EXCLUDE (kind, family, severity), kind AS type, {AXES_FROM_3} AS axes FROM cells_v3;
DROP TABLE study_cells_v3;
DROP TABLE cells_v3;
"""


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


class SharedConnections:
    """One DuckDB connection per database file per process, shared by every ``Store`` on it.

    DuckDB refuses a second connection to a file in one process with another configuration
    (read-only next to read-write), so whoever opened first would decide for everyone. Here the file
    is opened read-write whenever possible, read-only only while another process reads it; each
    ``Store`` gets its own cursor, so a reader thread and the coordinator thread work side by side
    and readers see every committed cell. The connection closes when its last ``Store`` closes, so
    another process (a CLI run) can open the file afterwards.
    """

    def __init__(self, writer_wait_s: float = 10.0):
        self.writer_wait_s = writer_wait_s
        self._changed = threading.Condition()
        self._open: dict[Path, _Shared] = {}

    def acquire(self, path: Path, write: bool) -> duckdb.DuckDBPyConnection:
        """A new cursor on the file's shared connection, opening it if this process holds none."""
        key = path.resolve()
        deadline = time.monotonic() + self.writer_wait_s
        with self._changed:
            while True:
                shared = self._open.get(key)
                if shared is None:
                    shared = self._open[key] = _connect(path, write)
                elif write and shared.read_only:
                    # Opened read-only because another process was reading; wait for this process's
                    # readers to leave, then reopen read-write.
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _in_use(path)
                    self._changed.wait(left)
                    continue
                shared.users += 1
                return shared.con.cursor()

    def release(self, path: Path, cursor: duckdb.DuckDBPyConnection) -> None:
        key = path.resolve()
        with self._changed:
            cursor.close()
            shared = self._open.get(key)
            if shared is None:
                return
            shared.users -= 1
            if shared.users <= 0:
                del self._open[key]
                shared.con.close()
                self._changed.notify_all()

    def holds(self, path: Path) -> bool:
        """Whether this process has the file open (some ``Store`` on it is not closed yet)."""
        with self._changed:
            return path.resolve() in self._open


@dataclass
class _Shared:
    con: duckdb.DuckDBPyConnection
    read_only: bool
    users: int = 0


def _connect(path: Path, write: bool) -> _Shared:
    """Open the file read-write (creating and upgrading it) or, for a reader when it cannot be written
    now (another process reads it, or the file is read-only), read-only."""
    try:
        con = duckdb.connect(str(path))
    except duckdb.ConnectionException as exc:  # a connection opened outside this registry
        raise JuxtaError(f"The results database {path} is already open in this process with other settings: {exc}") from None
    except duckdb.IOException as exc:
        if write or not path.exists():
            raise _open_error(path, exc) from None
        return _connect_read_only(path, exc)
    try:
        _ensure_schema(con, path)
        _mark_interrupted_runs(con)
    except BaseException:
        con.close()
        raise
    return _Shared(con, read_only=False)


def _mark_interrupted_runs(con: duckdb.DuckDBPyConnection) -> None:
    """Runs still 'running' when the file is first opened read-write were killed or crashed.

    A coordinator holds its ``Store`` for the whole run, so while one runs its process keeps the
    file open (another process cannot open it read-write, and this process reuses the open
    connection instead of landing here). Their counts come from the cells they saved.
    """
    if not con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]:
        return  # the usual case: nothing to write
    con.execute("""
        UPDATE runs SET status = 'interrupted',
            finished = coalesce((SELECT max(c.finished) FROM cells c WHERE c.run_id = runs.run_id), runs.started),
            done = (SELECT count(*) FROM cells c WHERE c.run_id = runs.run_id AND c.status = 'done'),
            failed = (SELECT count(*) FROM cells c WHERE c.run_id = runs.run_id AND c.status = 'failed')
        WHERE status = 'running'""")


def _connect_read_only(path: Path, why_not_write: Exception) -> _Shared:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise _open_error(path, exc) from None
    if _version(con) != SCHEMA_VERSION:
        con.close()
        raise JuxtaError(
            f"The results database {path} must be upgraded to schema {SCHEMA_VERSION} before it is read, "
            f"but it cannot be written now ({why_not_write}); close other Juxta processes using it and try again."
        )
    return _Shared(con, read_only=True)


def _open_error(path: Path, exc: Exception) -> JuxtaError:
    if "lock" in str(exc).lower():
        return _in_use(path)
    return JuxtaError(f"The results database {path} cannot be opened: {exc}")


def _in_use(path: Path) -> JuxtaError:
    return JuxtaError(
        f"The results database {path} is in use by another Juxta process (a run in progress?); "
        "wait for it to finish or cancel it."
    )


CONNECTIONS = SharedConnections()


class Store:
    """A cursor on a project's results database (see ``SharedConnections``); close it when done."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self._shared = not (read_only and not self.path.exists())
        if self._shared:
            self.con = CONNECTIONS.acquire(self.path, write=not read_only)
        else:  # nothing to read yet: an empty database, without creating the file
            self.con = duckdb.connect(":memory:")
            _ensure_schema(self.con, self.path)
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._shared:
            CONNECTIONS.release(self.path, self.con)
        else:
            self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- studies and plans ---------------------------------------------------------------------

    def record_study(self, name: str, kind: str, title: str, spec_toml: str, path: str, cells: Iterable[Any]) -> None:
        """Remember a study's file and which cells make up its current plan."""
        now = _now()
        rows = [(name, c.key, c.type, c.arm, c.condition, _axes(c), c.seed) for c in cells]
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
                self._insert("study_cells", _table(PLAN_COLUMNS, rows, {"seed": "int64", "axes": "string"}))
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
        """``study/arm`` and ``study/arm/seedN`` -> path of the model a finished cell of a study's current plan saved.

        Only current plans count: after a study file changes and runs again, the models its old cells saved keep
        their names in ``artifacts``, and a study starting from ``artifact:<study>/<arm>`` must get the new one."""
        rows = self.con.execute(
            "SELECT DISTINCT name, path FROM artifacts JOIN cells USING (cell_key) WHERE cells.status = 'done' "
            "AND artifacts.kind = 'model' AND cell_key IN (SELECT cell_key FROM study_cells) ORDER BY name, path"
        ).fetchall()
        out: dict[str, str] = {}
        for name, path in rows:
            out[name] = path
            base = name.rsplit("/seed", 1)[0]
            out.setdefault(base, path)
        return out

    def outcomes(self, keys: Iterable[str]) -> dict[str, tuple[str, str | None, str | None]]:
        """cell key -> (status, error, path of the model it saved or None), for the keys with a row."""
        keys = list(keys)
        if not keys:
            return {}
        rows = self.con.execute(
            """SELECT c.cell_key, c.status, c.error,
                      (SELECT min(a.path) FROM artifacts a WHERE a.cell_key = c.cell_key AND a.kind = 'model')
               FROM cells c WHERE c.cell_key IN (SELECT unnest(?))""", [keys]).fetchall()
        return {k: (status, error, path) for k, status, error, path in rows}

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
        con = self.con
        keys = [cell.key for cell, _ in batch]
        con.execute("BEGIN TRANSACTION")
        try:
            # Only earlier attempts (failed cells being retried) have rows to replace; checking the
            # primary key first avoids scanning the large tables on every write.
            old = dict(con.execute(
                "SELECT cell_key, cell_id FROM cells WHERE cell_key IN (SELECT unnest(?))", [keys]).fetchall())
            if old:
                for table in CELL_TABLES:
                    con.execute(f"DELETE FROM {table} WHERE cell_key IN (SELECT unnest(?))", [list(old)])
                con.execute("DELETE FROM predictions WHERE cell_id IN (SELECT unnest(?))", [list(old.values())])
            next_id = con.execute("SELECT coalesce(max(cell_id), 0) + 1 FROM cells").fetchall()[0][0]
            ids = {}
            for key in keys:
                if key in old:
                    ids[key] = old[key]
                else:
                    ids[key], next_id = next_id, next_id + 1
            now = _now()
            cell_rows, metric_rows, curve_rows, artifact_rows, preds = [], [], [], [], []
            for cell, r in batch:
                started = datetime.fromtimestamp(r.started, timezone.utc).replace(tzinfo=None) if r.started else None
                cell_rows.append((
                    cell.key, ids[cell.key], cell.study, run_id, cell.type, cell.arm, cell.condition, _axes(cell),
                    cell.seed, json.dumps(cell.spec, default=str), json.dumps(r.info, default=str), r.status,
                    r.error, r.traceback, r.duration_s, r.device, r.peak_mem_mb, started, now,
                ))
                metric_rows += [(cell.key, m, _f(v), _f(lo), _f(hi), int(n)) for m, v, lo, hi, n in r.metrics]
                curve_rows += [(cell.key, int(st), name, float(v)) for st, name, v in r.curves]
                artifact_rows += [(cell.key, a["kind"], a["name"], a["path"], a["bytes"], a["sha256"]) for a in r.artifacts]
                if r.predictions is not None and len(r.predictions["label"]):
                    preds.append((ids[cell.key], r.predictions))
            self._insert("cells", _table(CELL_COLUMNS, cell_rows, CELL_TYPES))
            if metric_rows:
                self._insert("metrics", _table(("cell_key", "metric", "value", "ci_low", "ci_high", "n"), metric_rows,
                                               {"value": "float64", "ci_low": "float64", "ci_high": "float64"}))
            if preds:
                self._insert("predictions", _prediction_table(preds))
            if curve_rows:
                self._insert("curves", _table(("cell_key", "step", "series", "value"), curve_rows))
            if artifact_rows:
                self._insert("artifacts", _table(("cell_key", "kind", "name", "path", "bytes", "sha256"), artifact_rows,
                                                 {"bytes": "int64"}))
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise

    def _insert(self, table: str, rows) -> None:
        self.con.register("_rows", rows)
        try:
            self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
        finally:
            self.con.unregister("_rows")

    # -- reading -------------------------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | None = None):
        """Run SQL and return a pandas DataFrame."""
        return self.con.execute(sql, params or []).df()


def _version(con: duckdb.DuckDBPyConnection) -> str | None:
    if not _has_table(con, "meta"):
        return None
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row[0] if row else None


def _ensure_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Create missing tables and bring an older database up to this version, in one transaction; a
    database already at this version is not written to."""
    version = _version(con)
    if version == SCHEMA_VERSION:
        return
    if version is not None and version not in ("1", "2", "3"):
        raise JuxtaError(
            f"The results database {path} has schema version {version}, which this Juxta does not "
            f"know (it writes version {SCHEMA_VERSION}); open it with the Juxta that wrote it."
        )
    con.execute("BEGIN TRANSACTION")
    try:
        if version == "1":
            con.execute(MIGRATE_FROM_1)
        if version is not None:
            con.execute("ALTER TABLE cells RENAME TO cells_v3")
            if not _has_table(con, "study_cells"):  # schema 1 kept no plans
                con.execute("CREATE TABLE study_cells (study VARCHAR, cell_key VARCHAR, kind VARCHAR, arm VARCHAR, "
                            "condition VARCHAR, family VARCHAR, severity INTEGER, seed BIGINT)")
            con.execute("ALTER TABLE study_cells RENAME TO study_cells_v3")
        con.execute(SCHEMA)
        if version is not None:
            con.execute(MIGRATE_FROM_3)
        if version == "1":
            con.execute(MIGRATE_FROM_1_AFTER)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0])


def _axes(cell: Any) -> str:
    """A cell's axes as stored: compact JSON."""
    return json.dumps(cell.axes, separators=(",", ":"), default=str)


def _table(names: tuple[str, ...], rows: list[tuple], types: dict[str, Any] | None = None):
    """Rows as one Arrow table: a single insert, where ``executemany`` costs a millisecond a row."""
    import pyarrow as pa

    types = types or {}
    return pa.table({n: pa.array(list(col), types.get(n)) for n, col in zip(names, zip(*rows))})


def _prediction_table(preds: list[tuple[int, dict[str, np.ndarray]]]):
    """One Arrow table for the prediction rows of several cells, given as (cell_id, columns)."""
    import pyarrow as pa

    sizes = np.array([len(p["label"]) for _, p in preds], dtype=np.int64)
    n = int(sizes.sum())

    def cat(name: str) -> np.ndarray:  # a no-op conversion when the worker sent storage types
        return np.concatenate([np.asarray(p[name]) for _, p in preds]).astype(PREDICTION_DTYPES[name], copy=False)

    groups = [p.get("group") for _, p in preds]
    group = None
    if any(g is not None for g in groups):
        group = np.concatenate([np.asarray(g, dtype=object) if g is not None else np.full(m, None, dtype=object)
                                for g, m in zip(groups, sizes)])
    starts = np.cumsum(sizes) - sizes
    columns = {
        "cell_id": pa.array(np.repeat(np.array([i for i, _ in preds], dtype=np.int32), sizes)),
        "position": pa.array((np.arange(n) - np.repeat(starts, sizes)).astype(np.int32)),
        **{name: pa.array(cat(name)) for name in PREDICTION_DTYPES},
    }
    if group is not None:  # left out, the column is NULL: cheaper than inserting a column of NULLs
        columns["group"] = pa.array(group, pa.string())
    return pa.table(columns)


def _f(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
