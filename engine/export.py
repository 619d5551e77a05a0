"""Export results tables as CSV or Parquet (DuckDB's own writers, so large tables stream)."""

from __future__ import annotations

from pathlib import Path

from engine.store import Store

TABLES = ("studies", "runs", "cells", "metrics", "predictions", "curves", "artifacts")


def export_tables(store: Store, out: Path, fmt: str, study: str | None = None) -> list[tuple[Path, int]]:
    """Write each table (optionally only one study's rows) into ``out``; returns (path, rows)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES:
        if study is None:
            sql = f"SELECT * FROM {table}"
        elif table in ("studies", "runs"):
            sql = f"SELECT * FROM {table} WHERE study = $study"
        elif table == "cells":
            sql = "SELECT c.* FROM cells c JOIN study_cells sc USING (cell_key) WHERE sc.study = $study"
        elif table == "predictions":
            sql = ("SELECT p.* FROM predictions p JOIN cells c USING (cell_id) JOIN study_cells sc USING (cell_key) "
                   "WHERE sc.study = $study")
        else:
            sql = f"SELECT t.* FROM {table} t JOIN study_cells sc USING (cell_key) WHERE sc.study = $study"
        path = out / f"{table}.{fmt}"
        options = "(FORMAT csv, HEADER)" if fmt == "csv" else "(FORMAT parquet)"
        params = {"study": study} if study else {}
        store.con.execute(f"COPY ({sql}) TO '{_quote(path)}' {options}", params)
        rows = store.con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
        written.append((path, int(rows)))
    return written


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
