"""Storing and aggregating predictions: 1M rows into DuckDB, then a chart aggregate.

Target: insert 1M prediction rows and query an accuracy-per-(arm, condition) aggregate in ≤ 200 ms.
Baseline (same run, same rows): the same aggregate with a pandas groupby on an in-memory frame,
which stores nothing. Prints absolute times and the ratio ours / baseline.

    python bench/bench_store.py [--rows 1000000] [--cells 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from engine.core.store import PREDICTION_DTYPES, CellResult, Store

AGGREGATE = """
SELECT sc.arm, sc.condition, avg(p.correct::INT) AS accuracy, count(*) AS n
FROM predictions p JOIN cells c USING (cell_id) JOIN study_cells sc USING (cell_key)
WHERE sc.study = 'bench' GROUP BY ALL
"""


def make_rows(n_rows: int, n_cells: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Prediction columns as a worker sends them: already in the storage types."""
    rng = np.random.default_rng(seed)
    per = n_rows // n_cells
    rows = {
        "example": np.tile(np.arange(per), n_cells), "label": rng.integers(0, 10, n_rows),
        "prediction": rng.integers(0, 10, n_rows), "confidence": rng.random(n_rows),
        "energy": -rng.random(n_rows) * 5, "nll": rng.random(n_rows), "brier": rng.random(n_rows),
    }
    return {k: v.astype(PREDICTION_DTYPES[k]) for k, v in rows.items()} | {"group": None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cells", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5, help="fresh databases timed; the best is reported")
    args = ap.parse_args()
    per = args.rows // args.cells
    rows = make_rows(args.rows, args.cells)
    cells = [SimpleNamespace(key=f"k{i:05d}", study="bench", kind="eval", arm=f"m{i % 3}", condition=f"c{i // 3}",
                             family="f", severity=None, seed=0, spec={}) for i in range(args.cells)]
    results = [(c, CellResult(c.key, "done", predictions={k: (None if v is None else v[i * per:(i + 1) * per])
                                                            for k, v in rows.items()}))
               for i, c in enumerate(cells)]
    frame = pd.DataFrame({"arm": np.repeat([c.arm for c in cells], per), "condition": np.repeat([c.condition for c in cells], per),
                          "correct": rows["label"] == rows["prediction"]})
    totals, inserts, queries, bases = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            # bulk: every cell in one transaction (how a large batch of finished cells or an import lands)
            store = Store(Path(tmp) / f"bulk{rep}.duckdb")
            store.record_study("bench", "shift", "", "", "", cells)
            t0 = time.perf_counter()
            store.write_cells(results, "run")
            t1 = time.perf_counter()
            agg = store.query(AGGREGATE)
            t2 = time.perf_counter()
            assert int(agg.n.sum()) == args.rows
            store.close()
            inserts.append(t1 - t0)
            queries.append(t2 - t1)
            totals.append(t2 - t0)
            t0 = time.perf_counter()
            base = frame.groupby(["arm", "condition"]).correct.mean()
            bases.append(time.perf_counter() - t0)
            assert len(base) == len(agg)

        # as the coordinator writes them: whole cells, batches of up to 32 per transaction
        store = Store(Path(tmp) / "cells.duckdb")
        store.record_study("bench", "shift", "", "", "", cells)
        t0 = time.perf_counter()
        for start in range(0, len(results), 32):
            store.write_cells(results[start:start + 32], "run")
        t_cells = time.perf_counter() - t0
        t0 = time.perf_counter()
        agg2 = store.query(AGGREGATE)
        t_query2 = time.perf_counter() - t0
        assert int(agg2.n.sum()) == args.rows
        store.close()

    best = int(np.argmin(totals))
    total, t_base = totals[best], min(bases)
    print(f"rows: {args.rows:,} in {args.cells} cells; best of {args.repeats} (median in brackets)")
    print(f"bulk insert        {1000 * inserts[best]:8.1f} ms   (Store.write_cells, all cells in one transaction)")
    print(f"chart aggregate    {1000 * queries[best]:8.1f} ms")
    print(f"insert + aggregate {1000 * total:8.1f} ms   [{1000 * float(np.median(totals)):.1f}]   (target ≤ 200 ms)")
    print(f"coordinator writes {1000 * t_cells:8.1f} ms   ({args.cells} whole cells, 32 per transaction) "
          f"+ aggregate {1000 * t_query2:.1f} ms")
    print(f"baseline: pandas groupby in memory {1000 * t_base:.1f} ms")
    print(f"store: insert+aggregate {1000 * total:.0f} ms = {total / t_base:.1f}x the in-memory pandas aggregate "
          f"({'meets' if total <= 0.2 else 'misses'} the 200 ms target)")


if __name__ == "__main__":
    main()
