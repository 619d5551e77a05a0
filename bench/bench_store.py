"""Storing and aggregating predictions: 1M rows into DuckDB, then a chart aggregate.

Target: insert 1M prediction rows and query an accuracy-per-(arm, condition) aggregate in ≤ 200 ms.
Baseline (same run, same rows): the same aggregate with a pandas groupby on an in-memory frame,
which stores nothing. Prints absolute times and the ratio ours / baseline.

    python bench/bench_store.py [--rows 1000000] [--cells 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from engine.store import CellResult, Store

AGGREGATE = """
SELECT sc.arm, sc.condition, avg(p.correct::INT) AS accuracy, count(*) AS n
FROM predictions p JOIN study_cells sc USING (cell_key)
WHERE sc.study = 'bench' GROUP BY ALL
"""


def make_rows(n_rows: int, n_cells: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    per = n_rows // n_cells
    return {
        "example": np.tile(np.arange(per), n_cells), "label": rng.integers(0, 10, n_rows),
        "prediction": rng.integers(0, 10, n_rows), "confidence": rng.random(n_rows),
        "energy": -rng.random(n_rows) * 5, "nll": rng.random(n_rows), "brier": rng.random(n_rows),
        "correct": rng.random(n_rows) < 0.8, "group": None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cells", type=int, default=1000)
    args = ap.parse_args()
    per = args.rows // args.cells
    rows = make_rows(args.rows, args.cells)
    cells = [SimpleNamespace(key=f"k{i:05d}", study="bench", kind="eval", arm=f"m{i % 3}", condition=f"c{i // 3}",
                             family="f", severity=None, seed=0, spec={}) for i in range(args.cells)]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "juxta.duckdb")
        store.record_study("bench", "shift", "", "", "", cells)

        # bulk: all rows in one insert (how a large cell or an import lands)
        keys = [c.key for c in cells]
        t0 = time.perf_counter()
        store.con.execute("BEGIN TRANSACTION")
        _insert_bulk(store, keys, rows)
        store.con.execute("COMMIT")
        t_insert = time.perf_counter() - t0
        t0 = time.perf_counter()
        agg = store.query(AGGREGATE)
        t_query = time.perf_counter() - t0
        assert int(agg.n.sum()) == args.rows

        # as the coordinator writes them: whole cells, batches of up to 32 per transaction
        store.con.execute("DELETE FROM predictions")
        results = [(c, CellResult(c.key, "done", predictions={k: (None if v is None else v[i * per:(i + 1) * per])
                                                                for k, v in rows.items()}))
                   for i, c in enumerate(cells)]
        t0 = time.perf_counter()
        for start in range(0, len(results), 32):
            store.write_cells(results[start:start + 32], "run")
        t_cells = time.perf_counter() - t0
        t0 = time.perf_counter()
        agg2 = store.query(AGGREGATE)
        t_query2 = time.perf_counter() - t0
        assert int(agg2.n.sum()) == args.rows
        store.close()

    frame = pd.DataFrame({"arm": np.repeat([c.arm for c in cells], per), "condition": np.repeat([c.condition for c in cells], per),
                          "correct": rows["correct"]})
    t0 = time.perf_counter()
    base = frame.groupby(["arm", "condition"]).correct.mean()
    t_base = time.perf_counter() - t0
    assert len(base) == len(agg)

    total = t_insert + t_query
    print(f"rows: {args.rows:,} in {args.cells} cells")
    print(f"bulk insert        {1000 * t_insert:8.1f} ms")
    print(f"chart aggregate    {1000 * t_query:8.1f} ms")
    print(f"insert + aggregate {1000 * total:8.1f} ms   (target ≤ 200 ms)")
    print(f"coordinator writes {1000 * t_cells:8.1f} ms   ({args.cells} whole cells, 32 per transaction) "
          f"+ aggregate {1000 * t_query2:.1f} ms")
    print(f"baseline: pandas groupby in memory {1000 * t_base:.1f} ms")
    print(f"store: insert+aggregate {1000 * total:.0f} ms = {total / t_base:.1f}x the in-memory pandas aggregate "
          f"({'meets' if total <= 0.2 else 'misses'} the 200 ms target)")


def _insert_bulk(store: Store, keys: list[str], rows: dict[str, np.ndarray]) -> None:
    import pyarrow as pa

    n = len(rows["label"])
    per = n // len(keys)
    table = pa.table({
        "cell_key": pa.array(keys, pa.string()).take(pa.array(np.repeat(np.arange(len(keys)), per))), "position": pa.array(np.arange(n, dtype=np.int32)),
        "example": pa.array(rows["example"].astype(np.int32)), "label": pa.array(rows["label"].astype(np.int16)),
        "prediction": pa.array(rows["prediction"].astype(np.int16)), "confidence": pa.array(rows["confidence"].astype(np.float32)),
        "energy": pa.array(rows["energy"].astype(np.float32)), "nll": pa.array(rows["nll"].astype(np.float32)),
        "brier": pa.array(rows["brier"].astype(np.float32)), "correct": pa.array(rows["correct"]),
        "group": pa.nulls(n, pa.string()),
    })
    store.con.register("_bulk", table)
    store.con.execute("INSERT INTO predictions SELECT * FROM _bulk")
    store.con.unregister("_bulk")


if __name__ == "__main__":
    main()
