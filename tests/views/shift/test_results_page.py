"""The Results page and the shift charts, on a real (tiny) study run once for the module."""

from __future__ import annotations



import csv
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from engine.core.errors import JuxtaError
from engine.kinds.shift.results import ShiftResults, compare_arms, load_shift_results
from engine.stats import PairedComparison
from engine.core.store import Store
from tests.conftest import write_study
from engine.stats import probit
from views import charts as C
from views.kinds.shift import charts as K
from views.kinds.shift.compare_panel import describe_comparison
from views.kinds.shift.results_page import EMPTY_TEXT, ResultsPage

STUDY = "mini"


@pytest.fixture(scope="module")
def study_db(tmp_path_factory) -> Path:
    from engine import open_project

    root = tmp_path_factory.mktemp("results_page") / "proj"
    root.mkdir()
    write_study(root, corruptions=("gaussian_noise", "contrast"), severities=(1, 3, 5), seeds=(0, 1))
    summary = open_project(root).run(STUDY)
    assert summary.failed == 0
    return root / "juxta.duckdb"


@pytest.fixture(scope="module")
def results(study_db) -> ShiftResults:
    with Store(study_db, read_only=True) as store:
        return load_shift_results(store, STUDY, n_resamples=200)


@pytest.fixture
def compare(study_db):
    def run(a: str, b: str, condition: str) -> PairedComparison:
        with Store(study_db, read_only=True) as store:
            return compare_arms(store, STUDY, a, b, condition)

    return run


@pytest.fixture
def page(qtbot, results, compare) -> ResultsPage:
    p = ResultsPage()
    qtbot.addWidget(p)
    p.resize(1300, 860)
    p.set_results(results, compare)
    return p


def _items(chart, kind):
    return [i for i in chart.plot.items if isinstance(i, kind)]


# --------------------------------------------------------------------------------------------
# charts


def test_results_fixture_has_what_the_charts_need(results):
    assert results.arms == ["cnn", "mlp"]
    assert results.corruption_families == ["gaussian_noise", "contrast"]
    assert "clean" in results.conditions and any(c.startswith("dirichlet") for c in results.conditions)


def test_severity_chart_one_curve_and_band_per_arm(qtbot, results):
    chart = K.SeverityChart(results, family="contrast")
    qtbot.addWidget(chart)
    curves = [i for i in _items(chart, pg.PlotDataItem) if i.opts.get("symbol")]
    bands = _items(chart, pg.FillBetweenItem)
    assert len(curves) == len(results.arms) == 2
    assert len(bands) == 2
    x, y = curves[0].getData()
    assert list(x) == [0, 1, 3, 5]  # clean + the three severities
    assert np.all((y >= 0) & (y <= 100))  # percent
    f = chart.to_frame()
    assert set(f.columns) >= {"arm", "severity", "condition", "accuracy", "ci_low", "ci_high"}
    assert set(f.condition) == {"clean", "contrast/1", "contrast/3", "contrast/5"}
    acc = results.accuracy.set_index(["arm", "condition"]).value
    for row in f.itertuples():
        assert row.accuracy == pytest.approx(acc[(row.arm, row.condition)])
    assert [e.text for _, e in chart.legend.items][0].startswith("cnn")
    # hover tooltips name arm, condition, value and interval
    tip = curves[0].scatter.data["data"][1]["tip"]
    assert "cnn" in tip and "reduced contrast · 1" in tip and "95% CI" in tip  # display names
    chart.set_family("gaussian_noise")
    assert set(chart.to_frame().condition) == {"clean", "gaussian_noise/1", "gaussian_noise/3", "gaussian_noise/5"}


def test_drop_heatmap_cells_and_colorbar(qtbot, results):
    chart = K.DropHeatmap(results)
    qtbot.addWidget(chart)
    m = chart.matrix()
    # graded families averaged over severities; label-shift conditions as their own columns
    label_shift = [c for c in results.conditions if c.startswith("dirichlet")]
    assert list(m.index) == ["gaussian_noise", "contrast"] + label_shift
    assert list(m.columns) == results.arms
    assert chart.image.image.shape == (len(m.index), len(m.columns))
    assert len(chart.texts) == m.size
    assert isinstance(chart.colorbar, pg.ColorBarItem)
    d = results.drop
    expected = d[(d.family == "contrast") & (d.arm == "cnn")]["drop"].mean()
    assert m.loc["contrast", "cnn"] == pytest.approx(expected)
    assert chart.texts[0].toPlainText() == f"{100 * m.iloc[0, 0]:.1f}".replace("-", "−")


def test_on_the_line_chart_points_fit_and_er_labels(qtbot, results):
    chart = K.OnTheLineChart(results)
    qtbot.addWidget(chart)
    scatters = _items(chart, pg.ScatterPlotItem)
    assert sum(len(s.data) for s in scatters) == len(results.robustness.points)  # one per arm × seed
    assert chart.fit_line is not None and chart.diagonal is not None
    x, y = chart.fit_line.getData()
    fit = results.robustness.fit
    assert y[0] == pytest.approx(fit.slope * x[0] + fit.intercept)
    names = [label.text for _, label in chart.legend.items]
    assert any(n.startswith("cnn: ER ") and "pts" in n for n in names)
    assert any("probit fit" in n for n in names) and any("y = x" in n for n in names)
    # axes are probit(accuracy) with percent labels
    axis = chart.plot.getAxis("bottom")
    assert axis.tickStrings([float(probit(0.9))], 1, 1) == ["90%"]


def test_reliability_chart_condition_and_ece(qtbot, results):
    chart = K.ReliabilityChart(results)
    qtbot.addWidget(chart)
    assert chart.condition == "clean"
    curves = [i for i in _items(chart, pg.PlotDataItem) if i.opts.get("symbol")]
    assert len(curves) == 2 and chart.diagonal is not None
    names = [label.text for _, label in chart.legend.items]
    assert any(n.startswith("mlp: ECE ") for n in names)
    ece = results.cells[(results.cells.metric == "ece") & (results.cells.arm == "mlp") & (results.cells.condition == "clean")].value.mean()
    assert chart.ece("mlp") == pytest.approx(ece)
    tip = curves[0].scatter.data["data"][-1]["tip"]
    assert "cnn · clean" in tip and "95% CI" in tip and "predictions" in tip
    chart.set_condition("contrast/5")
    assert set(chart.to_frame().condition) == {"contrast/5"}
    assert chart.to_frame()["count"].sum() == len(results.arms) * 2 * 120  # arms × seeds × examples


def test_charts_without_results_show_a_message(qtbot):
    for cls in K.CHARTS.values():
        chart = cls()
        qtbot.addWidget(chart)
        assert chart.message
        assert chart.to_frame().empty


def test_arm_palette_is_stable_and_colour_blind_safe():
    a = C.ArmPalette(["vit", "cnn", "mlp"])
    b = C.ArmPalette(["mlp", "cnn", "vit"], "dark")
    assert [a.color(x) for x in ("cnn", "mlp", "vit")] == [b.color(x) for x in ("cnn", "mlp", "vit")]
    assert {a.color(x) for x in a.arms} <= set(C.OKABE_ITO)
    assert len({a.symbol(x) for x in a.arms}) == 3
    many = C.ArmPalette([f"arm{i}" for i in range(8)], "dark")
    assert "#000000" not in {many.color(x) for x in many.arms}  # black becomes light on dark


# --------------------------------------------------------------------------------------------
# highlighting


def test_highlight_is_linked_across_all_charts(qtbot, page, results):
    normal = {cid: page.charts[cid].arm_style("cnn") for cid in page.charts}
    with qtbot.waitSignal(page.armHighlighted) as sig:
        page.arm_buttons["cnn"].click()
    assert sig.args == ["cnn"]
    for cid, chart in page.charts.items():
        hi, dim = chart.arm_style("cnn"), chart.arm_style("mlp")
        assert hi["width"] > normal[cid]["width"], cid
        assert hi["opacity"] == 1.0, cid
        assert dim["opacity"] < 1.0, cid
        assert chart.highlighted == "cnn"
    # the right items: the severity curve of cnn is the thick one
    curve = next(i for i in page.severity.arm_items("cnn") if isinstance(i, pg.PlotDataItem))
    assert curve.opts["pen"].widthF() > next(i for i in page.severity.arm_items("mlp") if isinstance(i, pg.PlotDataItem)).opts["pen"].widthF()
    # click again clears
    with qtbot.waitSignal(page.armHighlighted) as sig:
        page.arm_buttons["cnn"].click()
    assert sig.args == [""]
    for chart in page.charts.values():
        assert chart.arm_style("mlp")["opacity"] == 1.0 and chart.highlighted is None


def test_highlight_by_keyboard_and_from_a_chart(qtbot, page):
    page.show()
    qtbot.waitExposed(page)
    button = page.arm_buttons["mlp"]
    assert button.focusPolicy() & QtCore.Qt.FocusPolicy.TabFocus
    button.setFocus()
    qtbot.keyClick(button, QtCore.Qt.Key.Key_Space)
    assert page.highlighted == "mlp"
    page.on_the_line.armClicked.emit("cnn")  # a click on a chart point
    assert page.highlighted == "cnn" and page.arm_buttons["cnn"].isChecked() and not button.isChecked()


# --------------------------------------------------------------------------------------------
# table


def _column(page, name):
    for c in range(page.proxy.columnCount()):
        if page.proxy.headerData(c, QtCore.Qt.Orientation.Horizontal) == name:
            return c
    raise AssertionError(f"no column {name}")


def _cells(page, col):
    return [page.proxy.index(r, col).data() for r in range(page.proxy.rowCount())]


def test_table_sorts_and_filters(qtbot, page, results):
    assert page.proxy.rowCount() == len(results.accuracy)
    acc = _column(page, "Accuracy (%)")
    page.table.sortByColumn(acc, QtCore.Qt.SortOrder.DescendingOrder)
    values = [float(v) for v in _cells(page, acc)]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(round(100 * results.accuracy.value.max(), 1))
    page.table.sortByColumn(acc, QtCore.Qt.SortOrder.AscendingOrder)
    assert [float(v) for v in _cells(page, acc)] == sorted(values)
    qtbot.keyClicks(page.filter_edit, "cnn contrast")
    arms, conds = _cells(page, 0), _cells(page, 1)
    assert len(arms) == 3 and set(arms) == {"cnn"} and all(c.startswith("reduced contrast · ") for c in conds)
    assert page.row_count.text() == f"3 of {len(results.accuracy)} rows match “cnn contrast”"
    page.filter_edit.setText("nothing-like-this")
    assert page.row_count.text() == f"no row matches “nothing-like-this” ({len(results.accuracy)} rows)"
    page.filter_edit.clear()
    assert page.proxy.rowCount() == len(results.accuracy)
    headers = [page.proxy.headerData(c, QtCore.Qt.Orientation.Horizontal) for c in range(page.proxy.columnCount())]
    assert headers == ["Arm", "Condition", "Accuracy (%)", "CI low", "CI high", "Seed sd", "Seeds", "n"]
    tip = page.proxy.headerData(acc, QtCore.Qt.Orientation.Horizontal, QtCore.Qt.ItemDataRole.ToolTipRole)
    assert "highest-probability class" in tip  # the metric's plain description


def test_metric_switch_changes_the_table(qtbot, page, results):
    metrics = [page.metric_combo.itemData(i) for i in range(page.metric_combo.count())]
    assert metrics[0] == "accuracy" and set(metrics) == set(results.cells.metric)
    page.set_metric("nll")
    header = page.proxy.headerData(2, QtCore.Qt.Orientation.Horizontal)
    assert header == "NLL"
    cells = results.cells[results.cells.metric == "nll"]
    expected = cells[(cells.arm == "mlp") & (cells.condition == "clean")].value.mean()
    frame = page.metric_frame("nll")
    row = frame[(frame.arm == "mlp") & (frame.condition == "clean")].iloc[0]
    assert row.value == pytest.approx(expected) and row.n_seeds == 2
    shown = {(page.proxy.index(r, 0).data(), page.proxy.index(r, 1).data()): page.proxy.index(r, 2).data()
             for r in range(page.proxy.rowCount())}
    assert shown[("mlp", "clean")] == f"{expected:.3f}"
    assert "cross-entropy" in page.metric_combo.toolTip()
    page.set_metric("accuracy")
    assert page.proxy.headerData(2, QtCore.Qt.Orientation.Horizontal) == "Accuracy (%)"


# --------------------------------------------------------------------------------------------
# paired comparison


def test_compare_panel_states_the_real_comparison(qtbot, page, results, compare):
    page.arm_a.setCurrentText("cnn")
    page.arm_b.setCurrentText("mlp")
    assert page.cmp_condition.set_condition("contrast/5")
    page.compare_now()
    qtbot.waitUntil(lambda: "noise" in page.compare_text, timeout=20000)
    pc = compare("cnn", "mlp", "contrast/5")
    assert page.compare_text == describe_comparison("cnn", "mlp", "contrast/5", pc)
    assert ("within noise" if pc.within_noise else "beyond noise") in page.compare_text
    assert page.compare_text.startswith("cnn − mlp on reduced contrast · 5: ")
    assert f"{pc.n:,}" in page.cmp_detail.text()


def _pc(diff, low, high, within):
    return PairedComparison(diff, low, high, 0.0004 if not within else 0.41, 0.003 if not within else 0.52, 240, 60, 14, within)


def test_compare_wording_beyond_and_within_noise(qtbot, page):
    answers = {"clean": _pc(0.192, 0.168, 0.215, False), "contrast/1": _pc(-0.004, -0.02, 0.012, True)}
    page.set_results(page.results, lambda a, b, c: answers[c])
    assert page.cmp_condition.set_condition("clean")
    page.compare_now()
    qtbot.waitUntil(lambda: "noise" in page.compare_text, timeout=5000)
    assert page.compare_text.endswith("+19.2 points (95% CI 16.8 to 21.5) — beyond noise (paired bootstrap p < 0.001; McNemar p < 0.01)")
    assert page.cmp_condition.set_condition("contrast/1")
    page.compare_now()
    qtbot.waitUntil(lambda: "within noise" in page.compare_text, timeout=5000)
    assert "−0.4 points (95% CI −2.0 to 1.2) — within noise (paired bootstrap p = 0.41; McNemar p = 0.52)" in page.compare_text


def test_compare_errors_are_shown_as_text(qtbot, page):
    def boom(a, b, c):
        raise JuxtaError("No shared examples for these arms.")

    page.set_results(page.results, boom)
    page.compare_now()
    qtbot.waitUntil(lambda: "could not" in page.compare_text, timeout=5000)
    assert "No shared examples" in page.compare_text
    page.arm_b.setCurrentText(page.arm_a.currentText())
    page.compare_now()
    assert "different arms" in page.compare_text


def test_compare_runs_off_the_gui_thread(qtbot, page):
    threads = []

    def slow(a, b, c):
        threads.append(QtCore.QThread.currentThread())
        time.sleep(0.3)
        return _pc(0.1, 0.05, 0.15, False)

    page.set_results(page.results, slow)
    t0 = time.perf_counter()
    page.compare_now()
    assert time.perf_counter() - t0 < 0.2  # returned before the callable finished
    assert "Comparing" in page.compare_text
    qtbot.waitUntil(lambda: "noise" in page.compare_text, timeout=5000)
    assert threads and threads[0] is not QtWidgets.QApplication.instance().thread()


# --------------------------------------------------------------------------------------------
# export, empty state, screenshot, speed


EXPECTED_CSV = {
    "severity": {"arm", "family", "severity", "condition", "accuracy", "ci_low", "ci_high", "seed_sd", "n_seeds"},
    "drop": {"arm", "condition", "relative_drop", "clean_accuracy", "shifted_accuracy", "n_conditions"},
    "on_the_line": {"arm", "seed", "id_accuracy", "shifted_accuracy", "effective_robustness", "fit_prediction"},
    "reliability": {"arm", "condition", "bin", "confidence", "accuracy", "count"},
}


@pytest.mark.parametrize("chart_id", ["severity", "drop", "on_the_line", "reliability"])
def test_export_png_svg_csv(qtbot, page, tmp_path, chart_id):
    png = page.export_chart(chart_id, tmp_path / f"{chart_id}.png")
    img = QtGui.QImage(str(png))
    assert png.stat().st_size > 2000 and img.width() == 1600 and img.height() > 400
    svg = page.export_chart(chart_id, tmp_path / f"{chart_id}.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 20
    if chart_id in ("severity", "on_the_line", "reliability"):  # markers and lines stay vector graphics
        assert not [e for e in root.iter() if e.tag.endswith("image")]
    path = page.export_chart(chart_id, tmp_path / f"{chart_id}.csv")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert set(rows[0]) == EXPECTED_CSV[chart_id] and len(rows) > 2
    chart = page.charts[chart_id]
    assert chart.csv_rows()[0] == rows[0] and len(chart.csv_rows()) == len(rows)
    with pytest.raises(ValueError):
        page.export_chart(chart_id, tmp_path / "x.gif")


def test_export_works_for_a_chart_never_shown(qtbot, results, tmp_path):
    chart = K.OnTheLineChart(results, theme="dark")
    qtbot.addWidget(chart)
    out = C.export_png(chart, tmp_path / "otl.png", width=900, size=(600, 400))
    img = QtGui.QImage(str(out))
    assert img.width() == 900 and img.height() == 600
    assert QtGui.QColor(img.pixel(3, 3)).name() == C.THEMES["dark"].background.lower()


def test_empty_state(qtbot):
    p = ResultsPage()
    qtbot.addWidget(p)
    assert p._stack.currentWidget() is p._empty and p._empty.text() == EMPTY_TEXT
    p.set_results(None)
    assert p._empty.text() == "No results yet — run the study"


def test_empty_state_after_results(qtbot, page):
    page.set_results(None)
    assert page._stack.currentWidget() is page._empty


def test_page_screenshot_is_not_blank(qtbot, page, tmp_path):
    page.show()
    qtbot.waitExposed(page)
    QtWidgets.QApplication.processEvents()
    path = tmp_path / "page.png"
    assert page.grab().save(str(path))
    img = QtGui.QImage(str(path)).convertToFormat(QtGui.QImage.Format.Format_RGB32)
    assert img.width() >= 1200
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, count=img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    assert arr.std() > 10  # not one flat colour
    assert len(np.unique(arr[::7, ::7])) > 50  # charts, text and colours drawn


def test_dark_theme_applies_to_charts(qtbot, page):
    page.set_theme("dark")
    for chart in page.charts.values():
        assert chart.theme.name == "dark"
        assert chart.backgroundBrush().color().name() == C.THEMES["dark"].background.lower()
    page.set_theme("light")


def test_selectors_drive_the_charts(qtbot, page):
    assert page.family_combo.count() == 2
    page.family_combo.setCurrentIndex(page.family_combo.findData("gaussian_noise"))
    assert page.family_combo.currentText() == "Gaussian noise"  # one display name, from the catalog
    assert page.severity.family == "gaussian_noise"
    assert page.condition_combo_chart.set_condition("contrast/3")
    assert page.reliability.condition == "contrast/3"


def test_accessible_names_everywhere(qtbot, page):
    for w in page.findChildren(QtWidgets.QWidget):
        if isinstance(w, (QtWidgets.QComboBox, QtWidgets.QToolButton, QtWidgets.QLineEdit, QtWidgets.QTableView, K.ShiftChart)):
            if isinstance(w, QtWidgets.QToolButton) and not w.isVisibleTo(page) and w.parent() is not None and "QLineEdit" in type(w.parent()).__name__:
                continue
            if w.parent() is not None and isinstance(w.parent(), (QtWidgets.QLineEdit, QtWidgets.QComboBox, QtWidgets.QAbstractScrollArea)):
                continue
            assert w.accessibleName(), type(w).__name__
    for chart in page.charts.values():
        assert chart.accessibleDescription() == chart.description


def test_set_results_is_quick(qtbot, results):
    p = ResultsPage()
    qtbot.addWidget(p)
    p.resize(1300, 860)
    p.show()
    t0 = time.perf_counter()
    p.set_results(results)
    QtWidgets.QApplication.processEvents()
    assert time.perf_counter() - t0 < 1.0
