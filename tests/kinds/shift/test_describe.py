"""The shift kind describes a study from its file alone: counts, the cells sentence and summary rows."""

from __future__ import annotations

from pathlib import Path

from engine.kinds import get_kind, load_study, parse_study_text

ROOT = Path(__file__).resolve().parents[3]
SHIFT = get_kind("shift")


def test_the_demo_in_numbers():
    d = SHIFT.describe(load_study(ROOT / "projects/digits-demo/robustness.study.toml"))
    assert d.cells_sentence == "3 models × 64 conditions × 3 seeds = 576 evaluation cells, plus 9 training runs"
    assert d.counts == {"models": 3, "conditions": 64, "seeds": 3, "cells": 585, "eval": 576, "train": 9}
    rows = dict(d.rows)
    assert rows["Planned work"] == d.cells_sentence and rows["Seeds"] == "0, 1, 2"
    assert rows["Conditions"].startswith("64 — clean data, 12 corruptions × 5 severities")
    assert "Gaussian noise" in rows["Corruptions"] and not d.approximate


STUDY = """schema_version = 1
[study]
name = "g"
[[models]]
id = "m"
source = "hf:org/model"
[data]
source = "csv:t.csv"
group_column = "site"
[shift]
tabular = ["feature_noise"]
severities = [2, 4]
group_shift = {{ shares = [0.2, 0.8]{groups} }}
[[shift.field]]
id = "phone"
source = "csv:phone.csv"
"""


def test_a_group_shift_over_every_group_is_approximate_until_the_data_is_read():
    d = SHIFT.describe(parse_study_text(STUDY.format(groups="")))
    assert d.approximate and d.counts["conditions"] == 1 + 2 + 1  # clean, 2 severities, field; groups unknown
    assert d.cells_sentence == "1 model × 4 conditions × 1 seed = 4 evaluation cells (plus group shifts, one per group)"
    named = SHIFT.describe(parse_study_text(STUDY.format(groups=', groups = ["a", "b"]')))
    assert not named.approximate and named.counts["conditions"] == 1 + 2 + 4 + 1
    assert named.counts["train"] == 0 and "training" not in named.cells_sentence
