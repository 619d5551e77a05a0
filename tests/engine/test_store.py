"""Tests for the results database (engine.core.store): cell ids, computed columns, schema upgrades."""

from __future__ import annotations

import json
from types import SimpleNamespace

import duckdb
import numpy as np
import pytest

from engine.core.errors import JuxtaError
from engine.core.store import SCHEMA_VERSION, CellResult, Store

# The tables schema 3 (the last before study kinds) wrote; schema 2 had 32-bit seeds in them.
SCHEMA_3 = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE studies (
    study VARCHAR PRIMARY KEY, kind VARCHAR, title VARCHAR, spec_toml VARCHAR, path VARCHAR,
    created TIMESTAMP, updated TIMESTAMP);
CREATE TABLE study_cells (
    study VARCHAR, cell_key VARCHAR, kind VARCHAR, arm VARCHAR, condition VARCHAR, family VARCHAR,
    severity INTEGER, seed BIGINT, PRIMARY KEY (study, cell_key));
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY, study VARCHAR, started TIMESTAMP, finished TIMESTAMP, status VARCHAR,
    host VARCHAR, backend VARCHAR, workers INTEGER, devices VARCHAR, versions JSON,
    planned INTEGER, skipped INTEGER, done INTEGER, failed INTEGER);
CREATE TABLE cells (
    cell_key VARCHAR PRIMARY KEY, cell_id INTEGER, study VARCHAR, run_id VARCHAR, kind VARCHAR, arm VARCHAR,
    condition VARCHAR, family VARCHAR, severity INTEGER, seed BIGINT, params JSON, info JSON,
    status VARCHAR, error VARCHAR, traceback VARCHAR, duration_s DOUBLE, device VARCHAR,
    peak_mem_mb DOUBLE, started TIMESTAMP, finished TIMESTAMP);
CREATE TABLE metrics (
    cell_key VARCHAR, metric VARCHAR, value DOUBLE, ci_low DOUBLE, ci_high DOUBLE, n INTEGER);
CREATE TABLE predictions (
    cell_id INTEGER, position INTEGER, example INTEGER, label SMALLINT, prediction SMALLINT,
    confidence REAL, energy REAL, nll REAL, brier REAL,
    correct BOOLEAN GENERATED ALWAYS AS (label = prediction) VIRTUAL, "group" VARCHAR);
CREATE TABLE curves (cell_key VARCHAR, step INTEGER, series VARCHAR, value DOUBLE);
CREATE TABLE artifacts (
    cell_key VARCHAR, kind VARCHAR, name VARCHAR, path VARCHAR, bytes BIGINT, sha256 VARCHAR);
"""


def _cell(key: str, arm: str = "a") -> SimpleNamespace:
    return SimpleNamespace(key=key, study="s", type="eval", arm=arm, condition="clean",
                           axes={"family": "clean", "severity": None}, seed=0, spec={"k": key})


def _preds(n: int, wrong: int = 0) -> dict[str, np.ndarray]:
    label = np.arange(n) % 3
    prediction = label.copy()
    prediction[:wrong] = (label[:wrong] + 1) % 3
    conf = np.linspace(0.5, 0.9, n)
    return {"example": np.arange(n) * 2, "label": label, "prediction": prediction, "confidence": conf,
            "energy": -conf, "nll": 1 - conf, "brier": conf / 2}


def test_cells_get_small_ids_and_predictions_join_through_them(tmp_path):
    with Store(tmp_path / "juxta.duckdb") as s:
        cells = [_cell(f"k{i}") for i in range(3)]
        s.record_study("s", "shift", "", "", "", cells)
        s.write_cells([(c, CellResult(c.key, "done", predictions=_preds(4 + i, wrong=i))) for i, c in enumerate(cells)], "r")
        got = s.query("""SELECT c.cell_key, c.cell_id, count(*) AS n, sum(p.correct::INT) AS right, min(p.position) AS first
                         FROM cells c JOIN predictions p USING (cell_id) GROUP BY ALL ORDER BY c.cell_key""")
    assert got.cell_id.tolist() == [1, 2, 3]
    assert got.n.tolist() == [4, 5, 6]
    assert got.right.tolist() == [4, 4, 4]  # correct is computed: label = prediction
    assert got.first.tolist() == [0, 0, 0]


def test_a_retried_cell_keeps_its_id_and_replaces_its_rows(tmp_path):
    with Store(tmp_path / "juxta.duckdb") as s:
        a, b = _cell("ka"), _cell("kb")
        s.write_cells([(a, CellResult("ka", "failed", error="boom")), (b, CellResult("kb", "done", predictions=_preds(3)))], "r1")
        s.write_cell(a, "r2", CellResult("ka", "done", predictions=_preds(5)))
        rows = s.query("SELECT cell_key, cell_id, status FROM cells ORDER BY cell_key")
        counts = s.query("SELECT cell_id, count(*) AS n FROM predictions GROUP BY ALL ORDER BY cell_id")
    assert rows.cell_id.tolist() == [1, 2] and rows.status.tolist() == ["done", "done"]
    assert counts.n.tolist() == [5, 3]


def test_groups_are_stored_only_when_a_cell_has_them(tmp_path):
    with Store(tmp_path / "juxta.duckdb") as s:
        with_groups = _preds(4) | {"group": np.array(["x", "y", "x", "y"], dtype=object)}
        s.write_cells([(_cell("k1"), CellResult("k1", "done", predictions=_preds(2))),
                       (_cell("k2"), CellResult("k2", "done", predictions=with_groups))], "r")
        got = s.query('SELECT cell_id, "group" FROM predictions ORDER BY cell_id, position')
    assert got.group.isna().tolist() == [True, True, False, False, False, False]
    assert got.group.tolist()[2:] == ["x", "y", "x", "y"]


def _schema_1_database(path) -> None:
    """A database as Juxta's schema 1 wrote it: cell_key and a stored ``correct`` on every prediction."""
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE cells (
            cell_key VARCHAR PRIMARY KEY, study VARCHAR, run_id VARCHAR, kind VARCHAR, arm VARCHAR,
            condition VARCHAR, family VARCHAR, severity INTEGER, seed INTEGER, params JSON, info JSON,
            status VARCHAR, error VARCHAR, traceback VARCHAR, duration_s DOUBLE, device VARCHAR,
            peak_mem_mb DOUBLE, started TIMESTAMP, finished TIMESTAMP);
        CREATE TABLE predictions (
            cell_key VARCHAR, position INTEGER, example INTEGER, label SMALLINT, prediction SMALLINT,
            confidence REAL, energy REAL, nll REAL, brier REAL, correct BOOLEAN, "group" VARCHAR);
        INSERT INTO cells (cell_key, study, status) VALUES ('kb', 's', 'done'), ('ka', 's', 'done');
        INSERT INTO predictions VALUES
            ('ka', 0, 7, 1, 1, 0.9, -1, 0.1, 0.02, true, NULL),
            ('ka', 1, 8, 2, 0, 0.6, -1, 0.9, 0.70, false, NULL),
            ('kb', 0, 7, 1, 1, 0.8, -1, 0.2, 0.05, true, 'g');
    """)
    con.close()


@pytest.mark.parametrize("read_only", [False, True])
def test_a_schema_1_database_is_upgraded_without_losing_a_row(tmp_path, read_only):
    path = tmp_path / "juxta.duckdb"
    _schema_1_database(path)
    with Store(path, read_only=read_only) as s:
        version = s.query("SELECT value FROM meta WHERE key = 'schema_version'").value[0]
        got = s.query("""SELECT c.cell_key, p.position, p.example, p.correct, p."group"
                         FROM predictions p JOIN cells c USING (cell_id) ORDER BY c.cell_key, p.position""")
    assert version == SCHEMA_VERSION
    assert got.cell_key.tolist() == ["ka", "ka", "kb"]
    assert got.example.tolist() == [7, 8, 7]
    assert got.correct.tolist() == [True, False, True]
    assert got.group.isna().tolist() == [True, True, False] and got.group[2] == "g"
    with Store(path) as s:  # and it takes new cells afterwards
        s.write_cell(_cell("kc"), "r", CellResult("kc", "done", predictions=_preds(2)))
        assert s.query("SELECT cell_id FROM cells WHERE cell_key = 'kc'").cell_id[0] == 3


def test_a_database_from_a_newer_juxta_is_refused_plainly(tmp_path):
    path = tmp_path / "juxta.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR); INSERT INTO meta VALUES ('schema_version', '99')")
    con.close()
    with pytest.raises(JuxtaError, match="schema version 99"):
        Store(path)


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted_on_the_next_open(tmp_path):
    path = tmp_path / "juxta.duckdb"
    with Store(path) as s:  # a coordinator that was killed: start_run, two cells, no finish_run
        s.start_run("killed", "s", "host", "loky", 2, {}, 5, 0)
        s.write_cells([(_cell("k1"), CellResult("k1", "done")), (_cell("k2"), CellResult("k2", "failed", error="x"))], "killed")
        s.start_run("ended", "s", "host", "loky", 2, {}, 5, 0)
        s.finish_run("ended", "done", 5, 0, "cpu")
    with Store(path, read_only=True) as s:
        runs = s.query("SELECT run_id, status, done, failed, finished IS NOT NULL AS has_end FROM runs ORDER BY run_id")
    assert runs.status.tolist() == ["done", "interrupted"]
    assert runs.done.tolist() == [5, 1] and runs.failed.tolist() == [0, 1] and runs.has_end.all()


def test_a_run_in_progress_in_this_process_is_not_marked_interrupted(tmp_path):
    path = tmp_path / "juxta.duckdb"
    with Store(path) as coordinator:
        coordinator.start_run("live", "s", "host", "loky", 2, {}, 5, 0)
        with Store(path) as other, Store(path, read_only=True) as reader:  # the app's tree and Results page
            other.record_study("s", "shift", "", "", "", [])
            assert reader.query("SELECT status FROM runs").status.tolist() == ["running"]
        coordinator.finish_run("live", "done", 5, 0, "cpu")
        assert coordinator.query("SELECT status FROM runs").status.tolist() == ["done"]


def test_a_schema_2_database_gets_64_bit_seeds_and_keeps_its_rows(tmp_path):
    path = tmp_path / "juxta.duckdb"
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_3.replace("seed BIGINT", "seed INTEGER"))  # schema 2 stored 32-bit seeds
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    con.execute("INSERT INTO cells (cell_key, cell_id, study, seed, status) VALUES ('ka', 1, 's', 7, 'done')")
    con.execute("INSERT INTO study_cells VALUES ('s', 'ka', 'eval', 'a', 'clean', 'clean', NULL, 7)")
    con.close()
    big = 2**63 - 1
    with Store(path) as s:
        assert s.query("SELECT value FROM meta WHERE key = 'schema_version'").value[0] == SCHEMA_VERSION == "4"
        assert s.query("SELECT seed FROM study_cells").seed.tolist() == [7]
        kb = SimpleNamespace(**{**vars(_cell("kb")), "seed": big})
        s.record_study("s", "shift", "", "", "", [_cell("ka"), kb])
        s.write_cell(kb, "r", CellResult("kb", "done"))
        assert s.query("SELECT seed FROM cells ORDER BY cell_key").seed.tolist() == [7, big]
        assert s.query("SELECT seed FROM study_cells ORDER BY cell_key").seed.tolist() == [0, big]


def _schema_3_database(path) -> None:
    """A shift project's database as schema 3 wrote it: a training cell, and evaluation cells clean, under a
    corruption and under label shift, with metrics, predictions, curves and a saved model."""
    con = duckdb.connect(str(path))
    con.execute(SCHEMA_3)
    con.execute("""
        INSERT INTO meta VALUES ('schema_version', '3');
        INSERT INTO studies VALUES ('s', 'shift', 'T', 'schema_version = 1', 's.study.toml', now(), now());
        INSERT INTO runs VALUES ('r', 's', now(), now(), 'done', 'h', 'loky', 2, 'cpu', '{}', 4, 0, 4, 0);
        INSERT INTO study_cells VALUES
            ('s', 'kt', 'train', 'cnn', 'train', 'train', NULL, 0),
            ('s', 'kc', 'eval', 'cnn', 'clean', 'clean', NULL, 0),
            ('s', 'kg', 'eval', 'cnn', 'gaussian_noise/3', 'gaussian_noise', 3, 0),
            ('s', 'kd', 'eval', 'cnn', 'dirichlet/0.5', 'dirichlet', NULL, 0);
        INSERT INTO cells (cell_key, cell_id, study, run_id, kind, arm, condition, family, severity, seed, params, info,
                           status, duration_s, device)
            SELECT cell_key, row_number() OVER (ORDER BY cell_key), study, 'r', kind, arm, condition, family, severity,
                   seed, '{"condition": {"kind": "x"}}', '{"examples": 2}', 'done', 0.5, 'cpu' FROM study_cells;
        INSERT INTO metrics SELECT cell_key, 'accuracy', 0.5, 0.1, 0.9, 2 FROM study_cells WHERE kind = 'eval';
        INSERT INTO predictions (cell_id, position, example, label, prediction, confidence, energy, nll, brier)
            SELECT c.cell_id, p.i, p.i, 1, p.i, 0.8, -1, 0.2, 0.1 FROM cells c, range(2) p(i) WHERE c.kind = 'eval';
        INSERT INTO curves VALUES ('kt', 1, 'train_loss', 0.7), ('kt', 2, 'train_loss', 0.4);
        INSERT INTO artifacts VALUES ('kt', 'model', 's/cnn/seed0', 'artifacts/models/x.safetensors', 10, 'abc');
    """)
    con.close()


def test_a_schema_3_database_is_upgraded_to_kind_neutral_cells_without_losing_a_row(tmp_path):
    path = tmp_path / "juxta.duckdb"
    _schema_3_database(path)
    tables = ("studies", "runs", "study_cells", "cells", "metrics", "predictions", "curves", "artifacts")
    con = duckdb.connect(str(path), read_only=True)
    before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    con.close()
    with Store(path) as s:
        assert s.query("SELECT value FROM meta WHERE key = 'schema_version'").value[0] == SCHEMA_VERSION == "4"
        assert {t: s.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables} == before
        for table in ("study_cells", "cells"):
            columns = [r[0] for r in s.con.execute(f"DESCRIBE {table}").fetchall()]
            assert "type" in columns and "axes" in columns
            assert not {"kind", "family", "severity"} & set(columns)
            rows = s.query(f"SELECT cell_key, type, axes FROM {table} ORDER BY cell_key")
            assert rows.type.tolist() == ["eval", "eval", "eval", "train"]  # kc, kd, kg, kt
            assert [json.loads(a) for a in rows["axes"]] == [
                {"family": "clean", "severity": None}, {"family": "dirichlet", "severity": None},
                {"family": "gaussian_noise", "severity": 3}, {}]
        kept = s.query("SELECT cell_id, study, run_id, arm, condition, seed, status, duration_s, device FROM cells "
                       "ORDER BY cell_key")
        assert kept.cell_id.tolist() == [1, 2, 3, 4] and set(kept.run_id) == {"r"} and set(kept.status) == {"done"}
        assert kept.condition.tolist() == ["clean", "dirichlet/0.5", "gaussian_noise/3", "train"]
        joined = s.query("SELECT count(*) AS n FROM predictions p JOIN cells c USING (cell_id) WHERE c.type = 'eval'")
        assert joined.n[0] == 6
        assert s.artifact_index() == {"s/cnn/seed0": "artifacts/models/x.safetensors", "s/cnn": "artifacts/models/x.safetensors"}
        s.record_study("s", "shift", "T", "", "s.study.toml", [_cell("kn")])  # and it takes new plans and cells
        s.write_cell(_cell("kn"), "r2", CellResult("kn", "done", predictions=_preds(2)))
        assert s.query("SELECT cell_id, axes FROM cells WHERE cell_key = 'kn'").iloc[0].tolist() == [
            5, '{"family":"clean","severity":null}']


def test_a_failed_upgrade_leaves_the_schema_3_database_as_it_was(tmp_path, monkeypatch):
    from engine.core import store as store_module

    path = tmp_path / "juxta.duckdb"
    _schema_3_database(path)
    monkeypatch.setattr(store_module, "MIGRATE_FROM_3", store_module.MIGRATE_FROM_3 + "\nSELECT error('disk full');")
    with pytest.raises(duckdb.Error, match="disk full"):
        Store(path)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"
    assert con.execute("SELECT count(*) FROM cells WHERE family IS NOT NULL").fetchone()[0] == 4
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '%_v3'").fetchone()[0] == 0
    con.close()
