"""The five merge chart kinds, drawn from the real results of the merge kind's example study."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
import pytest

from engine.kinds.merge.study.report.tables import merge_charts
from PySide6.QtCore import QCoreApplication, QEvent

from views import charts as C
from views.chart_base import release_menus
from views.kinds.merge import charts as K
from views.theme import contrast_ratio, readable_on


@pytest.fixture
def keep(qtbot):
    """Register a chart with qtbot and free it when the test ends, as the report renderer frees its charts:
    menus released, the widget deleted at once rather than at some later test's event loop."""
    charts = []

    def add(chart):
        qtbot.addWidget(chart)
        charts.append(chart)
        return chart

    yield add
    for chart in charts:
        release_menus(chart)
        chart.deleteLater()
        QCoreApplication.sendPostedEvents(chart, QEvent.Type.DeferredDelete)


def _legend(chart) -> list[str]:
    return [label.text.replace("\u2003", "").strip() for _, label in chart.legend.items]


def _items(chart, kind):
    return [i for i in chart.plot.items if isinstance(i, kind)]


def test_the_registry_draws_every_chart_kind_the_engine_refers_to(merge_results):
    kinds = {ref.kind for ref in merge_charts(merge_results)}
    assert kinds == {"merge_heatmap", "merge_normalized", "merge_sweep", "merge_similarity", "merge_conflicts"}
    assert set(K.CHARTS) == kinds
    assert all(cls.title and cls.description.endswith(".") for cls in K.CHARTS.values())


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_report_chart_builds_exports_and_says_what_it_draws(keep, merge_results, tmp_path, theme):
    for ref in merge_charts(merge_results):
        chart = keep(K.CHARTS[ref.kind].for_report(merge_results, ref, theme=theme))
        assert chart.message == "", (ref.kind, chart.message)  # drew, not "No results yet"
        assert not chart.to_frame().empty
        w, h = K.CHARTS[ref.kind].report_size(ref)
        png = C.export_png(chart, tmp_path / f"{ref.chart_id.replace(':', '-')}.png", width=800, size=(w, h))
        assert png.stat().st_size > 2000


def test_heatmap_writes_each_rows_accuracy_per_task_and_rings_the_experts_own_tasks(keep, merge_results):
    chart = keep(K.MergeHeatmap(merge_results))
    m = chart.matrix()
    r = merge_results
    rows = r.rows
    shown = list(rows[rows.role.isin(["base", "expert"]) | ((rows.role == "merged") & rows.chosen)].arm)
    assert list(m.index) == [K.row_name(r, a) for a in shown]
    assert list(m.columns) == [*r.tasks, "Average"]
    acc = r.accuracy.set_index(["arm", "task"])
    for arm in shown:
        for t in r.tasks:
            assert m.loc[K.row_name(r, arm), t] == pytest.approx(acc.loc[(arm, t), "value"])
        assert m.loc[K.row_name(r, arm), "Average"] == pytest.approx(rows.set_index("arm").loc[arm, "accuracy"])
    texts = {item.toPlainText() for item, _ in chart.cell_texts}
    assert f"{100 * acc.loc[('rotated', 'rotated'), 'value']:.1f}" in texts
    assert len(chart.cell_texts) == m.size
    rings = [i for i in chart.plot.items if type(i).__name__ == "QGraphicsRectItem"]
    assert len(rings) == len(r.tasks)  # one per expert, on its own task
    # the transductive method (AdaMerging on the test inputs) carries its dagger, explained under the chart
    assert "AdaMerging †" in m.index
    assert any(isinstance(i, pg.LabelItem) and "transductive" in i.text for i in chart.ci.items)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_matrix_cell_text_reads_at_aa_contrast_in_both_themes(keep, merge_results, theme):
    for cls in (K.MergeHeatmap, K.SimilarityMatrix):
        chart = keep(cls(merge_results, theme=theme))
        assert chart.cell_texts
        for item, cell in chart.cell_texts:
            assert contrast_ratio(item.color, cell) >= 4.5, (cls.__name__, item.toPlainText(), cell.name())


def test_cell_text_reads_on_every_colour_of_the_ramps():
    """Regression: readable_on's near-black (#111111) fell to 4.35:1 on mid-luminance cells (viridis at 0.46,
    the similarity ramp at 0.21); pure black or white reaches 4.5:1 on any colour."""
    for name in (K.ACCURACY_MAP, K.SIMILARITY_MAP):
        cmap = pg.colormap.get(name)
        for x in np.linspace(0, 1, 257):
            cell = cmap.map(x, mode="qcolor")
            assert contrast_ratio(readable_on(cell), cell) >= 4.5, (name, x, cell.name())


def test_normalized_bars_draw_the_summary_with_intervals_and_the_100_percent_line(keep, merge_results):
    chart = keep(K.NormalizedBars(merge_results))
    f = chart.to_frame()
    s = merge_results.summary
    assert list(f.arm) == list(s.arm)
    np.testing.assert_allclose(f.normalized, s.normalized)
    assert f.loc[f.arm == "experts", "normalized"].item() == 1.0
    assert len(_items(chart, pg.BarGraphItem)) == len(s)
    (err,) = _items(chart, pg.ErrorBarItem)
    assert len(err.opts["x"]) == int((s.norm_high > s.norm_low).sum())
    lines = _items(chart, pg.InfiniteLine)
    assert [line.value() for line in lines] == [100]
    # the base and the experts are references, drawn in the axis colour; each method entry has its own
    colours = {a: K.arm_colour(merge_results, a, chart.theme) for a in s.arm}
    assert colours["base"] == colours["experts"] == chart.theme.axis
    merged = [colours[a] for a in s.arm if a not in ("base", "experts")]
    assert len(set(merged)) == len(merged) and chart.theme.axis not in merged


def test_sweep_draws_the_grid_on_both_splits_and_rings_the_chosen_point(keep, merge_results, tmp_path):
    (ref,) = [r for r in merge_charts(merge_results) if r.kind == "merge_sweep"]
    chart = keep(K.SweepChart.for_report(merge_results, ref))
    sweep = merge_results.sweeps["ties"]
    f = chart.to_frame()
    assert chart.entry == "ties" and list(f["density"]) == list(sweep["density"])
    np.testing.assert_allclose(f.selection_accuracy, sweep.selection)
    np.testing.assert_allclose(f.test_accuracy, sweep.accuracy)
    chosen = sweep[sweep.chosen].iloc[0]
    (x,), (y,) = chart.chosen_ring.getData()
    assert (x, y) == pytest.approx((chosen.density, 100 * chosen.selection))
    names = _legend(chart)
    assert any("validation" in n for n in names) and any("test split" in n for n in names)
    assert any("chosen on validation" in n for n in names)
    C.export_png(chart, tmp_path / "sweep.png", width=720, size=(720, 400))
    assert chart.plot.getAxis("bottom").labelString().startswith("<span") and "x0.001" not in \
        chart.plot.getAxis("bottom").labelString()  # regression: densities 0.2, 0.5 were drawn "200, 500 (x0.001)"


def test_a_sweep_tuned_on_the_test_split_says_so_and_rings_the_test_value(keep, merge_results):
    tuned = dataclasses.replace(merge_results, tuning="test")
    chart = keep(K.SweepChart(tuned, entry="ties"))
    chosen = tuned.sweeps["ties"][tuned.sweeps["ties"].chosen].iloc[0]
    (_,), (y,) = chart.chosen_ring.getData()
    assert y == pytest.approx(100 * chosen.accuracy)
    names = " | ".join(_legend(chart))
    assert "tuned on it" in names and "optimistic" in names and "validation" not in names


def test_a_sweep_of_two_knobs_draws_a_line_per_value_of_the_second(keep, merge_results):
    """λ across and density as lines, as the report's ChartRef asks; a third knob is held at the chosen value."""
    sweep = merge_results.sweeps["ties"]
    grid = sweep.loc[sweep.index.repeat(2)].reset_index(drop=True)
    grid["lambda"] = [0.5, 1.0] * len(sweep)
    grid["chosen"] = [bool(c) and lam == 1.0 for c, lam in zip(grid.chosen, grid["lambda"])]
    grid["selection"] = grid.selection + 0.01 * grid["lambda"]
    results = dataclasses.replace(merge_results, sweeps={"ties": grid})
    chart = keep(K.SweepChart(results, entry="ties", x="lambda", series="density"))
    names = _legend(chart)
    assert {"density 0.2 · validation", "density 0.5 · validation", "density 0.2 · test", "density 0.5 · test"} <= set(names)
    (x,), _ = chart.chosen_ring.getData()
    assert x == 1.0 and chart.fixed == {}


def test_similarity_matrix_shows_the_cosines(keep, merge_results):
    chart = keep(K.SimilarityMatrix(merge_results))
    sim = merge_results.similarity
    f = chart.to_frame()
    assert len(f) == sim.size
    for row in f.itertuples():
        assert row.cosine == pytest.approx(sim.loc[row.expert_a, row.expert_b])
    texts = {item.toPlainText() for item, _ in chart.cell_texts}
    assert "1.00" in texts and f"{sim.iloc[0, 1]:.2f}".replace("-", "\u2212") in texts
    assert tuple(chart.image.levels) == (-1.0, 1.0)


def test_conflict_bars_draw_both_rates_per_layer_and_the_chance_line(keep, merge_results):
    chart = keep(K.ConflictBars(merge_results))
    c = merge_results.conflicts
    bars = _items(chart, pg.BarGraphItem)
    assert len(bars) == 2
    np.testing.assert_allclose(bars[0].opts["width"], 100 * c.rate)
    np.testing.assert_allclose(bars[1].opts["width"], 100 * c.trimmed_rate)
    assert chart.chance == pytest.approx(0.5)  # two experts: signs disagree half the time by chance
    assert [line.value() for line in _items(chart, pg.InfiniteLine)] == [50]
    assert list(chart.to_frame().layer) == list(c.layer)


def test_charts_without_results_or_diagnostics_say_so(keep, merge_results):
    for cls in K.CHARTS.values():
        chart = keep(cls())
        assert chart.message == "No results yet"
    bare = dataclasses.replace(merge_results, similarity=None, conflicts=None, sweeps={})
    for cls in (K.SimilarityMatrix, K.ConflictBars):
        chart = keep(cls(bare))
        assert chart.message == "No results yet"
    sweep = keep(K.SweepChart(bare))
    assert sweep.message == "No method in this study sweeps a grid of values"


def test_sweep_charts_left_to_the_collector_free_cleanly(qapp, merge_results, tmp_path):
    """Regression: the sweep's legend swatches held the chart (arm-click wiring), so a dropped chart was freed by
    the cycle collector, which cleared its legend labels before Qt laid them out once more: "LabelItem has no
    attribute _sizeHint" from inside Qt (pytest-qt fails the test on it)."""
    import gc

    for i in range(6):
        chart = K.SweepChart(merge_results, theme="light" if i % 2 else "dark", entry="ties")
        C.export_png(chart, tmp_path / "sweep.png", width=400, size=(720, 400))
        del chart
        gc.collect()
        QCoreApplication.processEvents()
