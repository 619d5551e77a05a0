"""Relative drop from clean, including a study that has only the clean condition."""

from __future__ import annotations

import pandas as pd

from engine.kinds.shift.results import relative_drop


def test_relative_drop_per_arm_and_condition():
    table = pd.DataFrame({"arm": ["a", "a", "b", "b"], "condition": ["clean", "noise/1", "clean", "noise/1"],
                          "value": [0.8, 0.6, 0.5, 0.5]})
    drop = relative_drop(table).set_index("arm")["drop"]
    assert abs(drop["a"] - 0.25) < 1e-12 and drop["b"] == 0.0


def test_a_clean_only_study_has_an_empty_float_drop_table():
    table = pd.DataFrame({"arm": ["a"], "condition": ["clean"], "value": [0.9]}).astype({"arm": "string[pyarrow]"})
    drop = relative_drop(table)
    assert drop.empty and drop["drop"].dtype.kind == "f"
