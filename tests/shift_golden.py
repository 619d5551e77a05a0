"""Golden numbers of shift studies, recorded before the engine moved onto the study-kind seam
(issue 9): the same study files must give the same cell keys and bit-identical metrics and
predictions after any refactor. ``python -m tests.shift_golden --write`` records them again — only
when a change of results is intended (and then the compute version is bumped)."""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "data" / "shift_golden.json"

STUDIES = {
    "images": """
schema_version = 1
[study]
name = "images"
seeds = [0, 1]
[[models]]
id = "mlp"
source = "builtin:digits-mlp"
train = { epochs = 2 }
[[models]]
id = "cnn"
source = "builtin:digits-cnn"
train = { epochs = 2 }
[data]
source = "builtin:digits"
max_examples = 150
[shift]
corruptions = ["gaussian_noise", "contrast", "jpeg_compression", "rotate"]
severities = [2, 5]
label_shift = { dirichlet_alpha = [0.5], tweak_one = [0.4] }
[metrics]
names = ["accuracy", "macro_f1", "nll", "ece", "brier"]
bootstrap = 200
[execution]
backend = "sequential"
""",
    "table": """
schema_version = 1
[study]
name = "table"
seeds = [3]
[[models]]
id = "mlp"
source = "builtin:mlp"
train = { epochs = 4 }
[data]
source = "builtin:wine"
[shift]
tabular = ["feature_noise", "missing_features", "scale_drift"]
severities = [1, 4]
label_shift = { imbalance_ratio = [4.0] }
[metrics]
bootstrap = 200
[execution]
backend = "sequential"
""",
}


def compute() -> dict:
    """Run the golden studies in a temporary project; return {study: {cell_key: record}}."""
    from engine import open_project

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in STUDIES.items():
            (root / f"{name}.study.toml").write_text(text.lstrip(), encoding="utf-8")
        project = open_project(root)
        for name in STUDIES:
            summary = project.run(name)
            assert summary.failed == 0, summary.errors
        with project.store(read_only=True) as store:
            con = store.con
            for name in STUDIES:
                cells = {}
                keys = [k for (k,) in con.execute(
                    "SELECT cell_key FROM study_cells WHERE study = ? ORDER BY cell_key", [name]).fetchall()]
                for key in keys:
                    metrics = con.execute(
                        "SELECT metric, value, ci_low, ci_high, n FROM metrics WHERE cell_key = ? ORDER BY metric",
                        [key]).fetchall()
                    preds = con.execute(
                        "SELECT p.example, p.label, p.prediction, p.confidence, p.nll FROM predictions p "
                        "JOIN cells c USING (cell_id) WHERE c.cell_key = ? ORDER BY p.position", [key]).fetchall()
                    digest = hashlib.sha256(repr(preds).encode()).hexdigest()
                    cells[key] = {
                        "metrics": [[m, _hex(v), _hex(lo), _hex(hi), n] for m, v, lo, hi, n in metrics],
                        "predictions": digest if preds else None,
                    }
                out[name] = cells
    return out


def _hex(v):
    return None if v is None else float(v).hex()


if __name__ == "__main__":
    if "--write" not in sys.argv:
        raise SystemExit("usage: python -m tests.shift_golden --write  (records the golden numbers again)")
    GOLDEN.write_text(json.dumps(compute(), indent=1, sort_keys=True), encoding="utf-8")
    print("wrote", GOLDEN)
