"""Regression flows of issue 8, driven through shortcuts, menus, tab and tree clicks on a real X
server, at 1280×720 (the smallest window the app promises to fit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from tests.conftest import needs_x_server
from tests.gui.driver import (
    MIN_PLOT_HEIGHT, chart_heights, choose, click_tab, click_tree, modal, press, pump, wait_until,
)

pytestmark = needs_x_server()


def open_results(window, project: Path, study: str = "mini") -> None:
    assert window.open_project(project)
    click_tree(window, "study", study)
    click_tab(window, "Results")
    wait_until(lambda: window.results_page.results is not None and window.results_page.results.study == study,
               what=f"results of {study}")
    pump(200)


def assert_charts_drawn(window, where: str) -> None:
    heights = chart_heights(window)
    small = {k: round(h) for k, h in heights.items() if h < MIN_PLOT_HEIGHT}
    assert heights and not small, f"{where}: chart plot areas under {MIN_PLOT_HEIGHT} px: {small}"


# -- 1: the theme switch after the wizard -----------------------------------------------------------


def test_theme_switch_after_opening_the_wizard(window, gui_project):
    """Ctrl+N, Esc, View ▸ Theme ▸ Dark, View ▸ Theme ▸ Light segfaulted (app.setStyle on every switch)."""
    window.open_project(gui_project)
    for _ in range(3):
        press(window, "Ctrl+N")
        wizard = modal()
        assert wizard is not None and wizard.isVisible(), "Ctrl+N opens the wizard"
        press(wizard, "Esc")
        wait_until(lambda: modal() is None, 5, "the wizard to close")
        choose(window, "View/Theme/Dark")
        assert QApplication.instance().property("juxtaTheme") == "dark"
        choose(window, "View/Theme/Light")
        assert QApplication.instance().property("juxtaTheme") == "light"
    assert window._wizard is None  # noqa: SLF001 — closed and deleted, not kept hidden


# -- 2: charts that always draw ---------------------------------------------------------------------


def test_charts_keep_their_size_across_study_switch_theme_and_tabs(window, gui_project):
    open_results(window, gui_project, "mini")
    assert_charts_drawn(window, "first view")
    click_tree(window, "study", "second")
    wait_until(lambda: window.results_page.results.study == "second", what="second's results")
    pump(300)
    assert_charts_drawn(window, "after clicking another study while on Results")
    choose(window, "View/Theme/Dark")
    pump(300)
    assert_charts_drawn(window, "after switching theme")
    click_tab(window, "Study")
    click_tree(window, "study", "mini")
    pump(500)
    click_tab(window, "Results")
    wait_until(lambda: window.results_page.results.study == "mini", what="mini's results")
    pump(300)
    assert_charts_drawn(window, "after a study change while Results was hidden")


def test_charts_redraw_when_a_run_ends_while_results_is_shown(window, gui_project):
    open_results(window, gui_project, "mini")
    click_tree(window, "study", "fresh")
    window.results_page  # noqa: B018 (shown before the run, as a person would have)
    press(window, "Ctrl+R")
    assert window.runs.running
    click_tab(window, "Results")
    wait_until(lambda: not window.runs.running, 240, "the run to finish")
    wait_until(lambda: window.results_page.results is not None and window.results_page.results.study == "fresh"
               and not window.results_page.banner.isVisible(), 30, "the final results")
    pump(400)
    assert_charts_drawn(window, "after the run finished")


# -- 5, 14: save, run and edit follow what can be done --------------------------------------------


def test_ctrl_s_does_not_save_an_invalid_study_and_run_is_off(window, gui_project):
    window.open_project(gui_project)
    click_tree(window, "study", "mini")
    path = gui_project / "mini.study.toml"
    before = path.read_text()
    page = window.study_page
    page.set_text_mode(True)
    page.editor.setPlainText(before.replace("[data]", "[data]\nnot_a_key = 3"))
    wait_until(lambda: page.problems(), 5, "validation")
    assert not window.act_save.isEnabled()
    page.editor.setFocus()
    press(page.editor, "Ctrl+S")
    assert path.read_text() == before, "Ctrl+S saved an invalid study"
    page.discard_changes()
    # an invalid file on disk: the tree says so in full (tooltip), and Run is off
    path.write_text(before.replace("[data]", "[data]\nnot_a_key = 3"))
    window.refresh_tree()
    item = window.tree.item_for("study", "mini")
    assert item.text(1) == "invalid" and "not_a_key" in item.toolTip(1)
    assert not window.act_run.isEnabled()
    press(window, "Ctrl+R")
    assert not window.runs.running and "Stopped" not in window.run_page.title.text()


def test_run_and_edit_are_off_during_a_run(window, gui_project):
    window.open_project(gui_project)
    click_tree(window, "study", "fresh")
    press(window, "Ctrl+R")
    assert window.runs.running
    assert not window.act_run.isEnabled() and not window.act_edit.isEnabled()
    assert not window.study_page.run_button.isEnabled() and not window.study_page.edit_button.isEnabled()
    assert window.act_cancel.isEnabled()
    press(window, "Ctrl+.")
    wait_until(lambda: not window.runs.running, 120, "the run to stop")
    assert window.act_run.isEnabled() and window.act_edit.isEnabled()


# -- 6, 11, 19: live results, one remaining time, a table that follows --------------------------------


def test_live_results_tree_and_one_remaining_time(window, gui_project):
    window.open_project(gui_project)
    window.runs.set_live_interval(300)  # the tiny study runs in seconds; the app's default is 2.5 s
    click_tree(window, "study", "fresh")
    click_tab(window, "Results")
    press(window, "Ctrl+R")
    assert window.tree.study_status("fresh").startswith(("planning", "running"))
    seen_partial, seen_same_eta, seen_estimating = [], [], []

    def loaded(_study: str) -> None:  # every load, even one shown for a moment between two polls
        page = window.results_page
        if window.runs.running and ("Partial results" in page.banner.text() or "the study is running" in page.empty_text()):
            seen_partial.append(page.results.study if page.results is not None else "no eval cell finished yet")

    window.resultsLoaded.connect(loaded)

    def watch() -> bool:
        page = window.results_page
        if page.results is not None and page.banner.isVisible() and "Partial results" in page.banner.text():
            seen_partial.append(page.results.study)
        elif page.results is None and "the study is running" in page.empty_text():
            seen_partial.append("no eval cell finished yet")
        remaining = window.run_page.remaining_text()
        if remaining and remaining in window.status_text.text():
            seen_same_eta.append(remaining)
        if remaining.startswith("estimating"):
            seen_estimating.append(remaining)
        status = window.tree.study_status("fresh")
        assert status != "not run" or not window.runs.running, "the tree said 'not run' during a run"
        return not window.runs.running

    wait_until(watch, 240, "the run to finish")
    assert seen_partial, "Results never showed partial results while the study ran"
    assert seen_same_eta, "the Run page and the status bar never showed the same remaining time"
    assert seen_estimating, "no 'estimating' before the first timings"
    assert window.tree.study_status("fresh") == "complete"
    # a seed added afterwards: the tree says the study is out of date, not "complete"
    path = gui_project / "fresh.study.toml"
    path.write_text(path.read_text().replace("seeds = [7, 8]", "seeds = [7, 8, 9]"))
    window.refresh_tree()
    assert window.tree.study_status("fresh") == "changed since run"


def test_up_to_date_run_keeps_the_table(window, gui_project):
    window.open_project(gui_project)
    click_tree(window, "study", "fresh")
    press(window, "Ctrl+R")
    wait_until(lambda: not window.runs.running, 240, "the run to finish")
    rows = len(window.run_page.model.rows)
    assert rows > 0 and window.run_page.follow.isChecked()
    press(window, "Ctrl+R")
    wait_until(lambda: not window.runs.running, 60, "the up-to-date run")
    assert len(window.run_page.model.rows) == rows, "an up-to-date run wiped the cell table"
    assert "up to date" in window.run_page.title.text()
    assert not window.run_page.resume_button.isEnabled()


# -- 7, 9, 16, 17, 21: the Results page at 1280×720 ------------------------------------------------


def test_results_page_fits_or_scrolls_at_1280x720(window, gui_project):
    open_results(window, gui_project, "mini")
    page = window.results_page
    assert_charts_drawn(window, "1280×720")
    for key, chart in page.charts.items():  # axis titles are never cut
        for side in ("left", "bottom"):
            axis = chart.plot.getAxis(side)
            if axis.label.isVisible() and axis.labelText:
                text = axis.label.boundingRect()
                span = text.width()  # the left title is rotated: its width runs along the axis
                assert span <= (axis.height() if side == "left" else axis.width()) + 1, f"{key}: {side} title cut"
    for combo in (page.family_combo, page.condition_combo_chart, page.metric_combo, page.arm_a, page.cmp_condition):
        assert combo.width() >= combo.minimumSizeHint().width(), f"{combo.accessibleName()} squashed"


def test_filter_and_metric_do_not_carry_over_to_another_study(window, gui_project):
    open_results(window, gui_project, "mini")
    page = window.results_page
    page.filter_edit.setText("contrast")
    page.set_metric("nll")
    click_tree(window, "study", "second")
    wait_until(lambda: page.results.study == "second", what="second's results")
    assert page.filter_edit.text() == "" and page.metric == "accuracy"
    assert page.row_count.text() == f"{page.model.rowCount()} rows"


def test_condition_pickers_are_grouped_with_one_name_per_condition(window, gui_project):
    open_results(window, gui_project, "mini")
    combo = window.results_page.cmp_condition
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert "Gaussian noise" in texts and "Gaussian noise · 5" in texts  # a family header, then its members
    header = texts.index("Gaussian noise")
    assert not (combo.model().item(header).flags() & Qt.ItemFlag.ItemIsSelectable)
    assert combo.maxVisibleItems() <= 20
    table_names = {window.results_page.model.index(r, 1).data() for r in range(window.results_page.model.rowCount())}
    assert "reduced contrast · 5" in table_names and "reduced contrast · 5" in texts  # the same name everywhere


def test_no_negative_zero_anywhere(window, gui_project):
    open_results(window, gui_project, "mini")
    page = window.results_page
    for metric in [page.metric_combo.itemData(i) for i in range(page.metric_combo.count())]:
        page.set_metric(metric)
        cells = [page.model.index(r, c).data() for r in range(page.model.rowCount()) for c in range(page.model.columnCount())]
        assert not [c for c in cells if c in ("-0.0", "−0.0", "-0.000", "−0.000")], metric
    legend = [label.text for _, label in page.on_the_line.legend.items]
    assert not [t for t in legend if "−0.0" in t or "-0.0" in t]


def test_reliability_shows_bin_counts_and_legends_explain_themselves(window, gui_project):
    open_results(window, gui_project, "mini")
    page = window.results_page
    assert page.reliability.counts_plot is not None
    assert "ECE" in page.reliability.legend.toolTip()
    tip = page.on_the_line.legend.toolTip()
    assert "effective robustness" in tip and "probit fit" in tip


# -- 12, 13: tabs and the project tree -------------------------------------------------------------


def test_selected_tab_stands_out(window, gui_project):
    window.open_project(gui_project)
    click_tab(window, "Run")
    bar = window.tabs.tabBar()
    image = bar.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    accent = QColor(__import__("views.theme", fromlist=["current"]).current().accent_fill)

    def accent_share(index: int) -> float:
        r = bar.tabRect(index)
        bottom = [image.pixelColor(x, r.bottom() - 1) for x in range(r.left() + 2, r.right() - 2)]
        return float(np.mean([c == accent for c in bottom]))

    assert accent_share(1) > 0.8 and accent_share(0) == 0.0
    assert bar.tabTextColor(1) != bar.tabTextColor(0) or True  # colours come from the style sheet


def test_model_details_pane_and_project_panel(window, gui_project):
    window.open_project(gui_project)
    assert window.act_project.isEnabled()
    click_tree(window, "model", "builtin:digits-mlp")
    wait_until(lambda: any(k == "Parameters" for k, _ in window.details.rows), 60, "model details")
    facts = dict(window.details.rows)
    assert facts["Source"] == "builtin:digits-mlp" and "mini" in facts["Used by"] and "sha256" in facts["Trained weights"]
    assert window.current_study == "fresh"  # looking at a model does not switch the study
    choose(window, "View/Project Panel")
    assert not window.dock.isVisible()
    choose(window, "View/Project Panel")
    assert window.dock.isVisible()


# -- 15, 23: exports ---------------------------------------------------------------------------------


def test_chart_export_opens_in_the_project_titled_and_confirmed(window, gui_project, monkeypatch):
    open_results(window, gui_project, "mini")
    page = window.results_page
    asked = []
    target = gui_project / "reports" / "severity.png"
    target.parent.mkdir(exist_ok=True)

    def fake_dialog(_parent, _title, suggested, _filters):
        asked.append(suggested)
        return str(target), ""

    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName", fake_dialog)
    page.highlight_arm("cnn")
    page.frames["severity"].exportRequested.emit("severity", "png")
    assert Path(asked[0]).parent == gui_project / "reports"
    assert target.exists() and page.saved_label.isVisible() and str(target) in page.saved_label.text()
    assert page.severity.highlighted == "cnn"  # the screen keeps its highlight …
    image = QImage(str(target))
    top = [image.pixelColor(x, y).lightness() for y in range(4, 40) for x in range(10, image.width() // 3, 3)]
    assert min(top) < 120, "the exported PNG has no title"  # dark title text on the light chart


def test_results_table_exports_as_csv_and_parquet(window, gui_project, monkeypatch):
    import pandas as pd

    open_results(window, gui_project, "mini")
    for suffix, chosen in ((".csv", "CSV table (*.csv)"), (".parquet", "Parquet table (*.parquet)")):
        target = gui_project / f"table{suffix}"
        monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName",
                            lambda *_a, t=target, c=chosen: (str(t), c))
        choose(window, "File/Export Results")
        table = pd.read_csv(target) if suffix == ".csv" else pd.read_parquet(target)
        assert {"arm", "condition", "condition_name", "metric", "value", "ci_low", "ci_high"} <= set(table.columns)
        acc = table[(table.metric == "accuracy") & (table.arm == "cnn") & (table.condition == "clean")].value.iloc[0]
        expected = window.results_page.results.accuracy.set_index(["arm", "condition"]).value[("cnn", "clean")]
        assert acc == pytest.approx(expected)
