"""Shift studies give the numbers recorded before the study-kind refactor (tests/shift_golden.py):
same cell keys, bit-identical metrics, intervals and per-example predictions."""

from __future__ import annotations

import json

from tests.shift_golden import GOLDEN, compute


def test_shift_numbers_are_bit_identical_to_the_recorded_ones():
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = compute()
    for study, cells in golden.items():
        assert sorted(now[study]) == sorted(cells), f"{study}: the cell keys changed (a spec or version moved)"
        for key, record in cells.items():
            assert now[study][key] == record, f"{study}: cell {key} gives other numbers than before"
