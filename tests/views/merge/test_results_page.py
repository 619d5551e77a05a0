"""The merge Results page on the real results of the merge kind's example study: headline, charts, table,
exports, empty states, test-set tuning, theme switches, contrast and the 1280×720 window."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtWidgets import QMainWindow

from engine.kinds.merge.study.report.findings import merge_findings
from tests.views.contrast import low_contrast
from views.chart_base import release_menus
from views.kinds import VIEW_KINDS
from views.kinds.merge import charts as K
from views.kinds.merge.results_page import EMPTY_TEXT, UNFINISHED_TEXT, MergeResultsPage
from views.kinds.merge.table import export_frame, table_rows


@pytest.fixture
def page(qtbot):
    """A page in a 1280×720 window, shown; freed at once when the test ends (charts included)."""
    p = MergeResultsPage()
    window = QMainWindow()
    window.setCentralWidget(p)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    yield p
    for chart in p.charts.values():
        release_menus(chart)
    window.deleteLater()
    QCoreApplication.sendPostedEvents(window, QEvent.Type.DeferredDelete)


def _column(page, name: str) -> list[str]:
    model = page.proxy
    col = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())].index(name)
    return [model.index(r, col).data() for r in range(model.rowCount())]


def test_the_kind_registers_this_page_and_its_charts(qapp):
    views = VIEW_KINDS["merge"]
    assert set(views.charts()) == set(K.CHARTS)
    page = views.results_page("dark")
    try:
        assert isinstance(page, MergeResultsPage) and page.theme == "dark" and page.results is None
    finally:
        page.deleteLater()


def test_the_page_shows_the_headline_charts_and_table(page, merge_results):
    r = merge_results
    page.begin_study(r.study)
    page.set_results(r)
    assert page.results is r
    assert page.heading.text() == f"Results — {r.study}"
    assert page.headline.text() == merge_findings(r.study, r)[0].text
    assert "validation split" in page.tuning_note.text() and page.tuning_note.property("tone") == "muted"
    for key, chart in page.charts.items():
        assert chart.results is r and chart.message == "", key
        assert page.frames[key].isVisible(), key
    assert page.sweep.entry == "ties" and page.entry_combo.currentData() == "ties"
    # rows: the base, each expert, each method's chosen configuration, then the experts on their own tasks
    chosen = list(r.rows[(r.rows.role == "merged") & r.rows.chosen].label)
    expected = ["Base model", "Expert rotated", "Expert inverted"] + [
        name + (" †" if name == "AdaMerging" else "") for name in chosen] + ["Experts (each on its own task)"]
    assert _column(page, "Model") == expected
    acc = r.accuracy.set_index(["arm", "task"])
    base = acc.loc[("base", "rotated")]
    assert _column(page, "rotated")[0] == f"{100 * base.value:.1f}  ({100 * base.ci_low:.1f}–{100 * base.ci_high:.1f})"
    assert _column(page, "Normalized")[-1].startswith("100.0")
    assert "transductive" in page.table_note.text()
    ranks = dict(zip(r.summary.label, r.summary["rank"]))
    assert _column(page, "Rank")[0] == f"{ranks['Base model']:.2f}".rstrip("0").rstrip(".")
    assert sum("✓" in v for v in _column(page, "Chosen on (validation)")) == len(chosen)


def test_every_configuration_and_the_filter(page, merge_results, qtbot):
    page.set_results(merge_results)
    n = page.proxy.rowCount()
    page.every_check.setChecked(True)
    merged = int((merge_results.rows.role == "merged").sum())
    chosen = int(merge_results.rows.chosen.sum())
    assert page.proxy.rowCount() == n + merged - chosen
    assert "TIES (density 0.5)" in _column(page, "Model")
    page.filter_edit.setText("ties")
    assert _column(page, "Model") == ["TIES (density 0.2)", "TIES (density 0.5)"]
    assert page.row_count.text() == f"2 of {n + merged - chosen} rows"
    page.begin_study("another")
    assert page.filter_edit.text() == "" and not page.every_check.isChecked()


def test_table_rows_hold_the_results_numbers(merge_results):
    f = table_rows(merge_results)
    r = merge_results
    s = r.summary.set_index("arm")
    for row in f[f.role.isin(["base", "merged", "experts"])].itertuples():
        assert row.normalized == pytest.approx(s.loc[row.arm, "normalized"])
    experts = f[f.role == "experts"].iloc[0]
    own = r.accuracy[(r.accuracy.arm == r.accuracy.task)].set_index("task").value
    for t in r.tasks:
        assert experts[f"acc:{t}"] == pytest.approx(own[t])


def test_export_table_csv_and_parquet(page, merge_results, tmp_path):
    page.set_results(merge_results)
    csv = page.export_table(tmp_path / "t.csv")
    parquet = page.export_table(tmp_path / "t.parquet")
    a, b = pd.read_csv(csv), pd.read_parquet(parquet)
    assert len(a) == len(b) == len(export_frame(merge_results))
    r = merge_results
    assert set(a.arm) == set(r.rows.arm)  # every configuration, chosen or not
    assert len(a[a.task == "average"]) == len(r.rows)
    row = a[(a.arm == "base") & (a.task == "rotated")].iloc[0]
    truth = r.accuracy.set_index(["arm", "task"]).loc[("base", "rotated")]
    assert row.accuracy == pytest.approx(truth.value) and row.ci_low == pytest.approx(truth.ci_low)
    assert set(a.tuning) == {"validation"} and a.chosen.sum() == 3 * r.rows.chosen.sum()
    with pytest.raises(ValueError, match="use .csv or .parquet"):
        page.export_table(tmp_path / "t.xlsx")


def test_export_charts(page, merge_results, tmp_path):
    page.set_results(merge_results)
    for key in page.charts:
        for suffix in ("png", "svg", "csv"):
            path = page.export_chart(key, tmp_path / f"{key}.{suffix}")
            assert path.stat().st_size > 100, (key, suffix)
        assert page.charts[key]._title is None  # the export's title is gone again


def test_empty_and_unfinished_states(page, merge_results):
    assert page.results is None and page.empty_text() == EMPTY_TEXT
    page.set_results(merge_results)
    empty = dataclasses.replace(merge_results, accuracy=merge_results.accuracy.iloc[0:0])
    page.set_results(empty, note="A run is in progress.")
    assert page.results is None
    assert page.empty_text() == f"{UNFINISHED_TEXT}\n\nA run is in progress."
    page.set_results(None)
    assert page.empty_text() == EMPTY_TEXT
    assert all(c.results is None for c in page.charts.values())


def test_test_set_tuning_is_said_on_the_page_in_the_warning_tone(page, merge_results):
    page.set_results(dataclasses.replace(merge_results, tuning="test"))
    assert "tuned on the test split" in page.tuning_note.text() and "optimistic" in page.tuning_note.text()
    assert page.tuning_note.property("tone") == "warn"
    assert "Chosen on (test)" in [page.proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(page.proxy.columnCount())]


def test_diagnostics_missing_hides_their_charts(page, merge_results):
    page.set_results(dataclasses.replace(merge_results, similarity=None, conflicts=None, sweeps={}))
    assert not page.frames["merge_similarity"].isVisible()
    assert not page.frames["merge_conflicts"].isVisible()
    assert not page.frames["merge_sweep"].isVisible()
    assert page.frames["merge_heatmap"].isVisible()


def test_nothing_is_cut_at_1280_by_720(page, merge_results, qtbot):
    page.set_results(merge_results)
    qtbot.wait(50)
    assert page.scroll_area.horizontalScrollBar().maximum() == 0  # nothing wider than the window
    assert page.scroll_area.verticalScrollBar().maximum() > 0  # the rest scrolls instead of being squashed
    for key, frame in page.frames.items():
        assert frame.height() >= frame.minimumHeight() > 0, key
    heat = page.heatmap
    assert heat.plot.getViewBox().height() >= 30 * len(heat.matrix()) * 0.8  # every row keeps its room


def test_theme_switch_with_the_page_open_redraws_and_keeps_text_readable(page, merge_results, qtbot, themed):
    page.set_results(merge_results)
    problems = []
    for name in ("light", "dark", "light"):
        themed(name)
        qtbot.waitUntil(lambda n=name: page.theme == n)
        qtbot.wait(30)
        assert all(c.theme.name == name for c in page.charts.values())
        for chart in (page.heatmap, page.similarity):
            assert all(item.color == K.readable_on(cell) for item, cell in chart.cell_texts)
        for _ in range(6):  # scroll through the whole page
            problems += [f"{name}: {p}" for p in low_contrast(page)]
            bar = page.scroll_area.verticalScrollBar()
            bar.setValue(bar.value() + page.scroll_area.viewport().height())
            qtbot.wait(10)
        page.scroll_area.verticalScrollBar().setValue(0)
    assert not problems, "\n".join(problems)
    assert page.results is merge_results


def test_the_page_writes_no_colour_of_its_own():
    import re
    from pathlib import Path

    import views.kinds.merge as pkg

    pattern = re.compile(r"#[0-9A-Fa-f]{6}\b|setStyleSheet|QColor\(\s*\d")
    for path in Path(pkg.__file__).parent.rglob("*.py"):
        assert not pattern.findall(path.read_text(encoding="utf-8")), path


def test_arm_colours_match_between_table_and_bars(page, merge_results):
    page.set_results(merge_results)
    pal = K.entry_palette(merge_results, page.normalized.theme)
    icon_rows = [page.model.data(page.model.index(r, 0), Qt.ItemDataRole.DecorationRole) is not None for r in range(page.model.rowCount())]
    roles = list(table_rows(merge_results).role)
    assert icon_rows == [role == "merged" for role in roles]
    assert len({pal.color(e) for e in merge_results.rows[merge_results.rows.role == "merged"].entry.unique()}) == \
        merge_results.rows[merge_results.rows.role == "merged"].entry.nunique()
    assert np.isfinite(table_rows(merge_results).normalized).all()
