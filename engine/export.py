"""Export results tables as CSV or Parquet (DuckDB's own writers, so large tables stream)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from engine.core.errors import JuxtaError, os_reason
from engine.core.queries import study_table_sql
from engine.core.store import Store

TABLES = ("studies", "runs", "cells", "metrics", "predictions", "curves", "artifacts")


def ensure_writable(folder: Path) -> None:
    """Prove a file can be written in ``folder`` (or in its nearest existing parent), or say plainly why not.

    Run before long work (an export, a report) so a read-only project fails at once with "Cannot write
    to …: permission denied" rather than with a library's error half-way. Creates nothing that stays.
    """
    target = folder
    while not target.exists() and target.parent != target:
        target = target.parent
    try:
        if not target.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(target))
        with tempfile.NamedTemporaryFile(dir=target, prefix=".juxta-write-check-"):
            pass
    except OSError as exc:
        raise JuxtaError(f"Cannot write to {folder}: {os_reason(exc)}.") from None


def export_tables(store: Store, out: Path, fmt: str, study: str | None = None) -> list[tuple[Path, int]]:
    """Write each table (optionally only one study's rows) into ``out``; returns (path, rows)."""
    ensure_writable(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JuxtaError(f"Cannot write to {out}: {os_reason(exc)}.") from None
    written = []
    for table in TABLES:
        sql = f"SELECT * FROM {table}" if study is None else study_table_sql(table)
        path = out / f"{table}.{fmt}"
        options = "(FORMAT csv, HEADER)" if fmt == "csv" else "(FORMAT parquet)"
        params = {"study": study} if study else {}
        try:
            store.con.execute(f"COPY ({sql}) TO '{_quote(path)}' {options}", params)
        except duckdb.IOException as exc:
            raise JuxtaError(f"Cannot write to {path}: {str(exc).splitlines()[0]}") from None
        rows = store.con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
        written.append((path, int(rows)))
    return written


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
