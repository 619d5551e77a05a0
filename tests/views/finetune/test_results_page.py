"""The fine-tuning Results page and its five charts, on the kind's example study run once for the module."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyqtgraph as pg
import pytest

from engine import open_project
from engine.kinds import get_kind
from engine.kinds.finetune.report.tables import CURVES, FLIPS, PARETO, TRADEOFF, WISE, charts as chart_refs
from engine.kinds.finetune.results import FinetuneResults
from tests.views.contrast import low_contrast
from views import charts as C
from views.kinds import VIEW_KINDS, chart_class
from views.kinds.finetune import charts as K
from views.kinds.finetune.results_page import EMPTY_TEXT, ResultsPage, budget_text, headline_from_table, share_text

STUDY = "ft-views"


@dataclass
class Ran:
    root: Path
    results: FinetuneResults


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Ran:
    root = tmp_path_factory.mktemp("ft-views") / "proj"
    root.mkdir()
    (root / f"{STUDY}.study.toml").write_text(get_kind("finetune").example_study(STUDY), encoding="utf-8")
    summary = open_project(root).run(STUDY, backend="sequential")
    assert summary.failed == 0, summary.errors
    return Ran(root, open_project(root).results(STUDY))


@pytest.fixture
def results(ran) -> FinetuneResults:
    return ran.results


@pytest.fixture
def page(qtbot, results) -> ResultsPage:
    p = ResultsPage()
    qtbot.addWidget(p)
    p.resize(1280, 720)
    p.set_results(results)
    return p


def _tuned(r: FinetuneResults) -> pd.DataFrame:
    return r.table[r.table.kind != "base"]


# --------------------------------------------------------------------------------------------
# charts


def test_the_charts_are_registered_under_the_engines_chart_kinds():
    assert set(K.CHARTS) == {CURVES, PARETO, TRADEOFF, WISE, FLIPS}
    for kind, cls in K.CHARTS.items():
        assert chart_class("finetune", kind) is cls and cls.title and cls.description.endswith(".")


def test_every_report_chart_builds_from_its_ref(qtbot, results):
    refs = chart_refs(results)
    assert {r.kind for r in refs} == set(K.CHARTS)  # the example has every chart
    for ref in refs:
        cls = chart_class("finetune", ref.kind)
        chart = cls.for_report(results, ref)
        qtbot.addWidget(chart)
        w, h = cls.report_size(ref)
        assert w > 200 and h > 200
        assert not chart.message and not chart.to_frame().empty, ref.kind


def test_learning_curves_draw_every_run_with_the_chosen_rate_solid(qtbot, results):
    chart = K.LearningCurvesChart(results)
    qtbot.addWidget(chart)
    f = chart.to_frame()
    expected = results.curves[results.curves.series == "val_accuracy"]
    assert len(f) == len(expected) and set(f.arm) == set(expected.arm) and not f.live.any()
    assert np.allclose(np.sort(f.value.to_numpy(float)), np.sort(expected.value.to_numpy(float)))
    legend = [label.text for _, label in chart.legend.items]
    chosen = results.lrs[results.lrs.chosen]
    for arm, lr in zip(chosen.arm, chosen.lr):
        assert any(K.arm_label(results, arm) in t and f"lr {lr:g}" in t for t in legend), (arm, legend)
    chart.set_series("train_loss")
    assert set(chart.to_frame().series) == {"train_loss"}
    assert chart.plot.getAxis("left").labelText == "Training loss"
    with pytest.raises(ValueError, match="No 'loss' learning curve"):
        chart.set_series("loss")


def test_live_points_are_drawn_and_give_way_to_the_finished_run(qtbot, results):
    chart = K.LearningCurvesChart(None)
    qtbot.addWidget(chart)
    assert chart.message  # nothing yet
    run = results.curves[(results.curves.arm == "lora") & (results.curves.chosen)]
    points = [("k-lora", int(s), str(se), float(v), "lora", None, int(seed))
              for s, se, v, seed in zip(run.step, run.series, run.value, run.seed)]
    chart.add_live_points(points + [("k-other", 1, "val_accuracy", 0.5, "full", None, 7)])
    f = chart.to_frame()
    assert not chart.message and f.live.all() and len(f) == int((run.series == "val_accuracy").sum()) + 1
    assert any("training now" in label.text for _, label in chart.legend.items)
    chart.set_results(results)  # the LoRA run is in the results now (same values); the seed-7 run is not
    assert set(chart.live_runs()) == {"k-other"}
    assert chart.to_frame().live.sum() == 1


def test_pareto_chart_log_counts_intervals_and_front(qtbot, results):
    chart = K.ParetoChart(results)
    qtbot.addWidget(chart)
    f = chart.to_frame().set_index("arm")
    t = _tuned(results).set_index("arm")
    assert set(f.index) == set(t.index)
    assert np.allclose(f.id_accuracy, t.id_acc[f.index]) and np.allclose(f.trainable, t.trainable[f.index])
    assert list(f.pareto) == list(t.pareto[f.index].astype(bool))
    bars = [i for i in chart.plot.items if isinstance(i, pg.ErrorBarItem)]
    assert len(bars) == len(f)
    axis = chart.plot.getAxis("bottom")
    assert axis.tickStrings([3.0, 4.0, np.log10(56_714)], 1, 1) == ["1,000", "10k", "56.7k"]
    # full fine-tuning and WiSE-FT train the same weights: drawn side by side, not on top of each other
    xs = K.dodged(np.log10(t.trainable.to_numpy(float)))
    assert len(set(np.round(xs, 9))) == len(xs)


def test_tradeoff_chart_has_both_intervals(qtbot, results):
    chart = K.TradeoffChart(results)
    qtbot.addWidget(chart)
    f = chart.to_frame().set_index("arm")
    t = _tuned(results).set_index("arm")
    assert np.allclose(f.gain, t.gain[f.index]) and np.allclose(f.forgetting, t.forgetting[f.index])
    bar = next(i for i in chart.plot.items if isinstance(i, pg.ErrorBarItem))
    assert all(bar.opts[k] is not None for k in ("top", "bottom", "left", "right"))


def test_wise_chart_follows_alpha_with_labelled_ends(qtbot, results):
    chart = K.WiseChart(results)
    qtbot.addWidget(chart)
    f = chart.to_frame()
    assert list(f.alpha) == [0.0, 0.5, 1.0] and chart.y_set() == "ood"
    assert f.chosen.sum() == 1 and float(f[f.chosen].alpha.iloc[0]) == results.wise_alpha["wise_ft"]
    texts = [i.textItem.toPlainText() for i in chart.plot.items if isinstance(i, pg.TextItem)]
    assert "α = 0 · base" in texts and "α = 1 · tuned" in texts
    w = results.wise
    target = w[(w.set == "target")].sort_values("alpha").value.to_numpy(float)
    assert np.allclose(f.id_accuracy.to_numpy(float), target)


def test_flips_chart_shows_the_source_by_default_and_switches_set(qtbot, results):
    chart = K.FlipsChart(results)
    qtbot.addWidget(chart)
    assert chart.condition == "source"
    f = chart.to_frame()
    src = results.flips[results.flips.condition == "source"].set_index("arm")
    assert np.allclose(f.set_index("arm").negative_rate, src.negative_rate[f.arm])
    assert chart.conditions() == ["target", "ood:gaussian_noise/3", "source"]
    chart.set_condition("target")
    assert set(chart.to_frame().set) == {"target"}
    assert "the target test set" in chart.plot.getAxis("bottom").labelText


def test_charts_without_results_say_so(qtbot):
    for cls in K.CHARTS.values():
        chart = cls(None)
        qtbot.addWidget(chart)
        assert chart.message == "No results yet" and chart.to_frame().empty


def test_highlight_one_arm_in_every_chart(qtbot, page):
    page.highlight_arm("lora")
    for chart in page.charts.values():
        if chart.arm_items("lora"):
            assert chart.arm_style("lora")["opacity"] == 1.0
            others = [a for a in K.tuned_ids(page.results) if a != "lora" and chart.arm_items(a)]
            assert all(chart.arm_style(a)["opacity"] < 1.0 for a in others)
    page.toggle_highlight("lora")
    assert all(c.highlighted is None for c in page.charts.values())


def test_chart_exports(qtbot, page, tmp_path):
    for chart_id in page.charts:
        for suffix in (".png", ".svg", ".csv"):
            out = page.export_chart(chart_id, tmp_path / f"{chart_id}{suffix}")
            assert out.stat().st_size > 100, out
    assert list(pd.read_csv(tmp_path / "pareto.csv").columns)[:3] == ["arm", "label", "trainable"]


# --------------------------------------------------------------------------------------------
# the page


def test_page_shows_the_table_of_methods(qtbot, page, results):
    m = page.model
    assert m.rowCount() == len(results.table)
    headers = [m.headerData(c, pg.QtCore.Qt.Orientation.Horizontal) for c in range(m.columnCount())]
    assert headers[:3] == ["Method", "Budget", "Learning\nrate"]
    cells = {str(m.index(r, 0).data()): [m.index(r, c).data() for c in range(m.columnCount())] for r in range(m.rowCount())}
    full = results.row("full")
    row = cells[full.label]
    assert row[2] == f"{full.chosen_lr:g}"
    assert row[3] == f"{full.trainable:,.0f} · 100%"
    assert row[6].startswith(f"{100 * full.id_acc:.1f} (")
    assert row[9] == f"{100 * results.row('base').source_acc:.1f} → {100 * full.source_acc:.1f}"
    assert row[10].startswith(f"{int(full.nf_count)} · ")
    assert cells["WiSE-FT"][1] == f"α = {results.wise_alpha['wise_ft']:g}"
    tip = m.headerData(2, pg.QtCore.Qt.Orientation.Horizontal, pg.QtCore.Qt.ItemDataRole.ToolTipRole)
    assert "validation" in tip and "never on test" in tip
    assert "chosen per method on validation" in page.table_note.text()


def test_headline_until_the_findings_arrive_states_numbers_only(page, results):
    best = _tuned(results).sort_values("id_acc").iloc[-1]
    assert page.headline.text() == headline_from_table(results)
    assert page.headline.text().startswith(f"Highest target accuracy: {best.label}, ")
    assert "95%\u00a0CI" in page.headline.text() and "more than" not in page.headline.text()


def test_the_reports_findings_replace_the_headline(qtbot, ran, results):
    project = open_project(ran.root)
    views = VIEW_KINDS["finetune"]
    p = views.results_page("light")
    qtbot.addWidget(p)
    p.set_results(results, views.extra(project, STUDY))
    qtbot.waitUntil(lambda: bool(p.findings()), timeout=60_000)
    found = [f for f in p.findings() if f.kind != "note"]
    assert p.headline.text() == found[0].text
    assert all(f.text in p.findings_label.text() or f is found[0] for f in found[:3])


def test_findings_of_older_results_are_dropped(qtbot, results):
    p = ResultsPage()
    qtbot.addWidget(p)
    p.set_results(results, lambda: [])
    old = p._generation
    p.set_results(None)
    p._findings_done(old, [type("F", (), {"kind": "x", "text": "stale"})()])
    assert p.findings() == [] and "stale" not in p.headline.text()


def test_table_export_csv_and_parquet(qtbot, page, results, tmp_path):
    csv = pd.read_csv(page.export_table(tmp_path / "t.csv"))
    assert list(csv.arm) == list(results.table.arm) and "budget" in csv and "lr_chosen_on" in csv
    pq = pd.read_parquet(page.export_table(tmp_path / "t.parquet"))
    assert np.allclose(pq.id_acc, results.table.id_acc)
    with pytest.raises(ValueError, match="use .csv or .parquet"):
        page.export_table(tmp_path / "t.xlsx")


def test_empty_state_and_back(qtbot, page, results):
    page.set_results(None)
    assert page.results is None and page.empty_text() == EMPTY_TEXT
    assert page._stack.currentWidget() is page._empty
    page.set_results(results, note="A run is in progress: results are partial.")
    assert page.results is results and page.banner.text().startswith("A run is in progress")


def test_live_points_show_the_curves_before_any_result(qtbot):
    from views.kinds.base import LivePoint

    p = ResultsPage()
    qtbot.addWidget(p)
    p.resize(1280, 720)
    p.show()
    p.begin_study("new")
    p.add_live_points([LivePoint("key1", "lora", 0, 1, "val_accuracy", 0.4), LivePoint("key1", "lora", 0, 2, "val_accuracy", 0.6)])
    assert p.results is None and p._stack.currentWidget() is p.scroll_area
    assert p.frames["curves"].isVisible() and not p.frames["pareto"].isVisible() and not p.table_panel.isVisible()
    assert list(p.curves.to_frame().value) == [0.4, 0.6]
    p.begin_study("another")  # live runs belong to the study they were measured for
    assert not p.curves.live_runs() and p._stack.currentWidget() is p._empty


def test_nothing_is_cut_at_1280_by_720(qtbot, page):
    page.show()
    qtbot.waitExposed(page)
    qtbot.wait(50)
    assert page.scroll_area.horizontalScrollBar().maximum() == 0
    assert page.scroll_area.verticalScrollBar().maximum() > 0  # the page scrolls instead of squashing charts
    for frame in page.frames.values():
        if frame.isVisible():
            assert frame.height() >= frame.minimumHeight() and frame.chart.height() > 150
    header = page.table.horizontalHeader()
    assert header.length() <= page.table.viewport().width()  # every column of the table fits
    assert page.table.height() >= header.height() + 24 * page.model.rowCount()  # and every row


def test_formatting_helpers():
    assert share_text(0.0038) == "0.38%" and share_text(0.082) == "8.2%" and share_text(1.0) == "100%"
    assert share_text(float("nan")) == "–"


def test_budget_words(results):
    rows = {r.arm: r for r in results.table.itertuples()}
    assert budget_text(rows["full"], results) == ""
    assert budget_text(rows["wise_ft"], results) == f"α = {results.wise_alpha['wise_ft']:g}"


# --------------------------------------------------------------------------------------------
# themes


@pytest.fixture
def themed(qapp):
    from app import theme

    yield lambda name: theme.apply(qapp, name)
    theme.apply(qapp, "light")


def test_theme_switch_with_the_page_open(qtbot, themed, results):
    p = ResultsPage(theme="light")
    qtbot.addWidget(p)
    p.resize(1280, 720)
    p.set_results(results)
    p.show()
    qtbot.waitExposed(p)
    for name in ("light", "dark", "light", "dark", "light"):
        themed(name)
        gc.collect()
        qtbot.wait(20)
        assert p.theme == name
        assert all(c.theme.name == name for c in p.charts.values())
    assert p.curves.theme.background == C.THEMES["light"].background


@pytest.mark.parametrize("name", ["light", "dark"])
def test_text_contrast(qtbot, themed, results, name):
    themed(name)
    p = ResultsPage(theme=name)
    qtbot.addWidget(p)
    p.resize(1280, 720)
    p.set_results(results, note="A run is in progress.")
    p.show()
    qtbot.waitExposed(p)
    problems = []
    sb = p.scroll_area.verticalScrollBar()
    for value in range(0, sb.maximum() + 1, 500):
        sb.setValue(value)
        qtbot.wait(20)
        problems += low_contrast(p)
    sb.setValue(sb.maximum())
    qtbot.wait(20)
    problems += low_contrast(p)
    assert not problems, "\n".join(sorted(set(problems)))
