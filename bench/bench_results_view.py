"""Results view on a large study: ~1M stored predictions, read back and drawn.

A synthetic shift study (3 arms × (clean + 13 corruptions × 5 severities) × 3 seeds × 1,700 examples
= 1,009,800 prediction rows) is written straight into the results schema with DuckDB bulk inserts.
Then, timed in the same run:

* baseline: one plain DuckDB aggregate over the same rows (accuracy per arm × condition);
* background part: ``engine.kinds.shift.results.load_shift_results`` (tables, 1,000-resample bootstrap
  intervals, drops, accuracy-on-the-line fit, reliability bins) — the app runs it off the GUI thread;
* GUI part: ``ResultsPage.set_results`` + ``processEvents`` until drawn (target ≤ 1 s), and a full
  ``grab()`` of the page (everything rendered once more into an image).

Prints absolute times and ratios to the baseline.

    QT_QPA_PLATFORM=offscreen python bench/bench_results_view.py [--examples 1700] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.core.store import DB_NAME, Store

STUDY = "bench"
ARMS = ["cnn", "mlp", "vit"]
FAMILIES = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "motion_blur", "zoom_blur", "snow",
            "frost", "fog", "brightness", "contrast", "pixelate", "jpeg_compression"]

BASELINE = """
SELECT sc.arm, sc.condition, avg(p.correct::INT) AS accuracy, count(*) AS n
FROM predictions p JOIN cells c USING (cell_id) JOIN study_cells sc USING (cell_key)
WHERE sc.study = ? AND sc.type = 'eval' GROUP BY ALL
"""


def synthesise(store: Store, n_examples: int, seeds: list[int], rng_seed: int = 0) -> int:
    """Write a finished shift study; returns the number of prediction rows."""
    rng = np.random.default_rng(rng_seed)
    conditions = [("clean", "clean", None, "clean")] + [
        (f"{f}/{s}", f, s, "corruption") for f in FAMILIES for s in range(1, 6)
    ]
    cells = []
    for a, arm in enumerate(ARMS):
        clean_acc = 0.97 - 0.02 * a
        for cond, fam, sev, kind in conditions:
            for seed in seeds:
                hardness = 0.0 if sev is None else (0.03 + 0.02 * (hash(fam) % 7)) * sev * (1 + 0.3 * a)
                p = float(np.clip(clean_acc - hardness + rng.normal(0, 0.005), 0.05, 0.999))
                cells.append({"cell_key": f"k{len(cells):05d}", "arm": arm, "condition": cond, "family": fam,
                              "severity": sev, "seed": seed, "kind": kind, "p": p})
    frame = pd.DataFrame(cells)
    n_cells, n = len(frame), n_examples
    total = n_cells * n

    axes = [json.dumps({"family": f, "severity": None if pd.isna(s) else int(s)}, separators=(",", ":"))
            for f, s in zip(frame.family, frame.severity)]
    plan = frame.assign(study=STUDY, type="eval", axes=axes)[["study", "cell_key", "type", "arm", "condition", "axes", "seed"]]
    params = [json.dumps({"condition": {"id": c, "kind": k, "family": f, "severity": s}})
              for c, k, f, s in zip(frame.condition, frame.kind, frame.family, frame.severity)]
    cell_rows = pd.DataFrame({
        "cell_key": frame.cell_key, "cell_id": np.arange(1, n_cells + 1, dtype=np.int32), "study": STUDY, "run_id": "bench", "type": "eval", "arm": frame.arm,
        "condition": frame.condition, "axes": axes, "seed": frame.seed, "params": params, "info": "{}", "status": "done", "error": None, "traceback": None,
        "duration_s": 0.1, "device": "cpu", "peak_mem_mb": None, "started": pd.Timestamp("2025-01-01"),
        "finished": pd.Timestamp("2025-01-01"),
    })

    # predictions: the same examples in every cell, correct with the cell's accuracy
    p_cell = np.repeat(frame.p.to_numpy(), n)
    correct = rng.random(total) < p_cell
    conf = np.clip(np.where(correct, rng.beta(8, 1.2, total), rng.beta(3, 2.5, total)), 0.1, 1.0).astype(np.float32)
    label = rng.integers(0, 10, total).astype(np.int16)
    pred = np.where(correct, label, (label + rng.integers(1, 10, total)) % 10).astype(np.int16)
    nll = np.where(correct, -np.log(conf), -np.log(np.clip((1 - conf) / 9, 1e-6, 1))).astype(np.float32)
    brier = ((1 - conf) ** 2 + np.where(correct, 0, 1)).astype(np.float32)
    preds = pa.table({
        "cell_id": pa.array(np.repeat(np.arange(1, n_cells + 1, dtype=np.int32), n)),
        "position": pa.array(np.tile(np.arange(n, dtype=np.int32), n_cells)),
        "example": pa.array(np.tile(np.arange(n, dtype=np.int32), n_cells)),
        "label": pa.array(label), "prediction": pa.array(pred), "confidence": pa.array(conf),
        "energy": pa.array((-5 * conf).astype(np.float32)), "nll": pa.array(nll), "brier": pa.array(brier),
    })

    # per-cell metrics as the worker would store them (cheap normal-approximation bounds)
    acc = correct.reshape(n_cells, n).mean(1)
    half = 1.96 * np.sqrt(acc * (1 - acc) / n)
    per_cell_nll = nll.reshape(n_cells, n).mean(1)
    per_cell_brier = brier.reshape(n_cells, n).mean(1)
    ece = np.abs(conf.reshape(n_cells, n).mean(1) - acc)
    values = {"accuracy": (acc, acc - half, acc + half), "macro_f1": (acc * 0.99, acc - half, acc + half),
              "nll": (per_cell_nll, per_cell_nll * 0.9, per_cell_nll * 1.1), "ece": (ece, ece * 0.7, ece * 1.4),
              "brier": (per_cell_brier, per_cell_brier * 0.9, per_cell_brier * 1.1)}
    metrics = pd.concat([
        pd.DataFrame({"cell_key": frame.cell_key, "metric": m, "value": v, "ci_low": lo, "ci_high": hi, "n": n})
        for m, (v, lo, hi) in values.items()
    ], ignore_index=True)

    con = store.con
    con.execute("BEGIN TRANSACTION")
    for name, table in (("study_cells", plan), ("cells", cell_rows), ("metrics", metrics), ("predictions", preds)):
        con.register("_bulk", table)
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _bulk")
        con.unregister("_bulk")
    con.execute("INSERT INTO studies VALUES (?, 'shift', 'bench', '', '', now(), now())", [STUDY])
    con.execute("COMMIT")
    return total


def _check_pooled_intervals(store: Store, results, n_groups: int = 4) -> int:
    """The bulk pooled bootstrap gives exactly what ``S.bootstrap_mean`` gives per group."""
    from engine import stats as S

    acc = results.accuracy
    picks = acc.iloc[np.linspace(0, len(acc) - 1, n_groups).astype(int)]
    for row in picks.itertuples():
        g = store.query(
            """SELECT p.example, CAST(p.correct AS DOUBLE) AS v FROM study_cells sc JOIN cells c USING (cell_key) JOIN predictions p USING (cell_id)
               WHERE sc.study = ? AND sc.arm = ? AND sc.condition = ?""", [STUDY, row.arm, row.condition])
        iv = S.bootstrap_mean(g.v.to_numpy(), n_resamples=1000, seed=0, clusters=g.example.to_numpy())
        assert (iv.low, iv.high) == (row.ci_low, row.ci_high), (row.arm, row.condition, iv, row)
    return len(picks)


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=1700)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from engine.kinds.shift import results as R

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / DB_NAME
        store = Store(path)
        t0 = time.perf_counter()
        rows = synthesise(store, args.examples, list(range(args.seeds)))
        t_write = time.perf_counter() - t0
        store.close()
        store = Store(path, read_only=True)
        print(f"synthetic study: {rows:,} prediction rows, {len(ARMS)} arms × {1 + 5 * len(FAMILIES)} conditions × "
              f"{args.seeds} seeds (written in {t_write:.2f} s)")

        t_base, base = _best(lambda: store.query(BASELINE, [STUDY]), args.repeat)
        assert int(base.n.sum()) == rows
        t_load, results = _best(lambda: R.load_shift_results(store, STUDY), args.repeat)
        parts = {
            "metric_table (pooled bootstrap)": lambda: R.metric_table(store, STUDY, "accuracy"),
            "cell_metrics": lambda: R.cell_metrics(store, STUDY),
            "effective_robustness": lambda: R.effective_robustness(store, STUDY),
            "reliability_bins": lambda: R.reliability_bins(store, STUDY),
        }
        part_times = {k: _best(f, 1)[0] for k, f in parts.items()}
        checked = _check_pooled_intervals(store, results)
        store.close()

    from PySide6 import QtWidgets

    from views.kinds.shift.results_page import ResultsPage

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    page = ResultsPage()
    page.resize(1400, 900)
    page.show()
    app.processEvents()

    def draw():
        page.set_results(results)
        app.processEvents()

    draw()  # first draw pays one-off costs (fonts, pyqtgraph caches) — the app pays them once too
    t_gui, _ = _best(draw, args.repeat)
    t_grab, _ = _best(lambda: page.grab(), args.repeat)

    print(f"pooled intervals identical to per-group S.bootstrap_mean: {checked} groups checked")
    print(f"baseline  DuckDB avg(correct) per arm × condition: {1000 * t_base:8.1f} ms")
    print(f"background load_shift_results:                   {1000 * t_load:8.1f} ms   ratio {t_load / t_base:6.1f}×")
    for k, v in part_times.items():
        print(f"    {k:<32s}             {1000 * v:8.1f} ms")
    print(f"GUI set_results + processEvents:                 {1000 * t_gui:8.1f} ms   ratio {t_gui / t_base:6.1f}×   "
          f"target ≤ 1000 ms: {'OK' if t_gui <= 1.0 else 'MISSED'}")
    print(f"GUI full repaint (page.grab):                    {1000 * t_grab:8.1f} ms")
    # tear the widgets down while the QApplication is alive (not in the interpreter's final GC)
    page.close()
    page.deleteLater()
    app.processEvents()
    del page, results


if __name__ == "__main__":
    main()
