"""The five merge-study chart kinds, each drawn from a ``MergeResults`` on the Results page and in reports
(``CHARTS``: the chart kind of the engine's ``ChartRef`` -> class):

* ``merge_heatmap`` — accuracy per task (columns) of the base, each expert and each method's chosen
  configuration (rows), the value written in every cell;
* ``merge_normalized`` — normalized accuracy (merged ÷ that task's expert, averaged over tasks) as bars
  with their intervals, 100% being the experts on their own tasks;
* ``merge_sweep`` — one method entry's grid: average accuracy against one knob (λ, density…), a line
  per value of a second knob, on the selection split and on the test split, the chosen point ringed;
* ``merge_similarity`` — cosine similarity of the experts' task vectors;
* ``merge_conflicts`` — the share of shared updates whose signs disagree, layer by layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.kinds.merge.study.results import MergeResults
from engine.report.schema import ChartRef
from views.chart_base import ArmChart, ArmPalette, Theme, hover_tip, hoverable, pct
from views.theme import readable_on

# sequential ramp for accuracy (perceptually uniform, colour-blind safe, legible on both themes) and a
# diverging one for cosine similarity (−1 … 0 … 1); the text in each cell is black or white, whichever reads
ACCURACY_MAP = "viridis"
SIMILARITY_MAP = "CET-D1A"
SWEEP_COLUMNS = ("arm", "label", "grid", "selection", "accuracy", "acc_low", "acc_high", "normalized", "norm_low",
                 "norm_high", "chosen")


def row_arms(results: MergeResults) -> list[str]:
    """Every row a chart may draw: the arms of ``results.rows``, and ``experts`` (each on its own task)."""
    arms = [str(a) for a in results.rows.arm] if not results.rows.empty else []
    if not results.summary.empty and "experts" in set(results.summary.arm):
        arms.append("experts")
    return arms


def row_name(results: MergeResults, arm: str) -> str:
    """A row's display name; a transductive method (fitted on the test inputs) carries a dagger."""
    frame = results.summary if arm == "experts" else results.rows
    hit = frame[frame.arm == arm]
    if hit.empty:
        return arm
    label = str(hit.label.iloc[0])
    transductive = bool(hit.transductive.iloc[0]) if "transductive" in hit else False
    return label + (" †" if transductive else "")


def arm_colour(results: MergeResults, arm: str, theme: Theme) -> str:
    """A row's colour: each method entry its own (every configuration of a sweep shares it), the base and
    the experts — references, not contenders — the axis colour."""
    rows = results.rows
    hit = rows[(rows.arm == arm) & (rows.role == "merged")]
    if hit.empty:
        return theme.axis
    return entry_palette(results, theme).color(str(hit.entry.iloc[0]))


def entry_palette(results: MergeResults, theme: Theme) -> ArmPalette:
    """Colours and markers of the method entries (by name, the same everywhere)."""
    merged = results.rows[results.rows.role == "merged"] if not results.rows.empty else results.rows
    return ArmPalette([str(e) for e in merged.entry] if len(merged) else [], theme)


def tuning_words(results: MergeResults) -> str:
    """On which split the coefficients were chosen, as the charts and the page say it."""
    return ("chosen on the validation split" if results.tuning == "validation"
            else "chosen on the test split (declared test-set tuning: optimistic)")


def _minus(text: str) -> str:
    return text.replace("-", "\u2212")


class MergeChart(ArmChart):
    """A chart of a merge study's results: something to draw once any evaluation is finished. Rows (the
    base, experts, merged configurations) are the arms: one colour and marker each, everywhere."""

    def has_data(self, results: MergeResults | None) -> bool:
        return results is not None and not results.empty

    def set_results(self, results: MergeResults | None) -> None:
        self._results = results
        if results is None or self._highlight not in row_arms(results):
            self._highlight = None
        self.redraw()

    # -- shared drawing ------------------------------------------------------------------------

    def _bare_plot(self) -> pg.PlotItem:
        """A plot without grid or axis lines, tick labels in the text colour (matrices, bar charts)."""
        t = self._theme
        plot = self._new_plot()
        plot.showGrid(x=False, y=False)
        for name in ("left", "bottom"):
            ax = plot.getAxis(name)
            ax.setPen(pg.mkPen(None))
            ax.setTextPen(pg.mkPen(t.foreground))
            ax.setStyle(tickLength=0)
        return plot

    def _legend_entry(self, item, name: str) -> None:
        """A legend line for a series that is not an arm. (``_legend_add`` ties its swatch to the chart for arm
        clicks: that cycle left the legend to the collector, which freed its labels mid-layout.)"""
        self.legend.addItem(item, name + "\u2003")

    def _footnote_transductive(self, names: list[str]) -> None:
        """Say under the chart what the dagger on a row means, when a row carries one."""
        if any(n.endswith(" †") for n in names):
            note = pg.LabelItem("† learned its coefficients from the unlabeled test inputs (transductive)",
                                color=self._theme.axis, size="8pt", justify="left")
            self._add(note, 1, 0, colspan=2)

    def _fit_left_axis(self, plot: pg.PlotItem, names: list[str]) -> None:
        left = plot.getAxis("left")
        font = left.style.get("tickFont") or QtGui.QFont()
        left.setWidth(max((QtGui.QFontMetrics(font).horizontalAdvance(n) for n in names), default=20) + 14)

    def _matrix(self, values: np.ndarray, rows: list[str], columns: list[str], cmap: pg.ColorMap,
                levels: tuple[float, float], texts: list[list[str]], tips: list[list[str]],
                bar_label: str) -> pg.PlotItem:
        """A heatmap: one coloured cell per value with its number written in it (black or white, whichever
        reads on the cell), row names on the left, column names on top, a colour bar on the right."""
        t = self._theme
        n_rows, n_cols = values.shape
        plot = self._bare_plot()
        plot.showAxis("top")
        plot.hideAxis("bottom")
        top = plot.getAxis("top")
        bold = QtGui.QFont()
        bold.setPointSizeF(9)
        bold.setBold(True)
        top.setStyle(tickFont=bold, tickLength=0, tickTextOffset=3)
        top.setPen(pg.mkPen(None))
        top.setTextPen(pg.mkPen(t.foreground))
        lo, hi = levels
        img = pg.ImageItem(np.nan_to_num(values, nan=lo), axisOrder="row-major")
        img.setColorMap(cmap)
        img.setLevels((lo, hi))
        img.setRect(QtCore.QRectF(0, 0, n_cols, n_rows))
        plot.addItem(img)
        self.image = img
        plot.invertY(True)
        top.setTicks([[(c + 0.5, name) for c, name in enumerate(columns)]])
        plot.getAxis("left").setTicks([[(r + 0.5, name) for r, name in enumerate(rows)]])
        self._fit_left_axis(plot, rows)
        font = QtGui.QFont()
        font.setPointSizeF(8.5 if n_rows <= 12 else 7.5)
        self.cell_texts: list[tuple[pg.TextItem, QtGui.QColor]] = []
        spots = []
        for r in range(n_rows):
            for c in range(n_cols):
                v = values[r, c]
                if not np.isfinite(v):
                    continue
                bg = cmap.map((np.clip(v, lo, hi) - lo) / ((hi - lo) or 1.0), mode="qcolor")
                item = pg.TextItem(texts[r][c], color=readable_on(bg), anchor=(0.5, 0.5))
                item.setFont(font)
                item.setPos(c + 0.5, r + 0.5)
                plot.addItem(item)
                self.cell_texts.append((item, bg))
                spots.append({"pos": (c + 0.5, r + 0.5), "data": {"tip": tips[r][c]}})
        hover = pg.ScatterPlotItem(spots=spots, symbol="s", size=1.0, pxMode=False, pen=None, brush=pg.mkBrush(0, 0, 0, 0))
        hoverable(hover, hover_tip)
        plot.addItem(hover)
        plot.setXRange(0, n_cols, padding=0)
        plot.setYRange(0, n_rows, padding=0)
        bar = pg.ColorBarItem(values=(lo, hi), colorMap=cmap, interactive=False, width=12, colorMapMenu=False)
        bar.setImageItem(img)
        for name in ("left", "right", "bottom", "top"):
            ax = bar.getAxis(name)
            ax.setPen(pg.mkPen(t.axis))
            ax.setTextPen(pg.mkPen(t.axis))
            ax.setStyle(tickFont=plot.getAxis("left").style.get("tickFont"))
        bar.getAxis("right").setLabel(bar_label, color=t.foreground, **{"font-size": "8.5pt"})
        self._add(bar, 0, 1)
        self.colorbar = bar
        return plot


# --------------------------------------------------------------------------------------------
# accuracy per task and row


class MergeHeatmap(MergeChart):
    chart_id = "merge_heatmap"
    title = "Accuracy per task and method"
    description = ("Test accuracy of the base, each expert and each method's chosen configuration on every expert's "
                   "task, in percent; a ringed cell is an expert on its own task, the best any row can be expected to do.")

    @classmethod
    def report_size(cls, ref: ChartRef) -> tuple[int, int]:
        return 720, max(240, min(900, 96 + 30 * (max(ref.rows, 1) + 1)))

    def matrix(self) -> pd.DataFrame:
        """Rows (display names, drawn order) × columns (task labels, then Average) of accuracy, as fractions."""
        f = self._frame
        if f.empty:
            return pd.DataFrame()
        m = f.pivot(index="row", columns="column", values="accuracy")
        return m.reindex(index=list(dict.fromkeys(f.row)), columns=list(dict.fromkeys(f.column)))

    def _draw(self, results: MergeResults) -> None:
        rows = results.rows
        shown = pd.concat([rows[rows.role.isin(["base", "expert"])], rows[(rows.role == "merged") & rows.chosen]])
        acc = results.accuracy.set_index(["arm", "task"])
        columns = [*results.tasks, "Average"]  # a task by its expert's id; the hover says its condition
        records = []
        for r in shown.itertuples():
            name = row_name(results, r.arm)
            for t in results.tasks:
                if (r.arm, t) in acc.index:
                    a = acc.loc[(r.arm, t)]
                    records.append({"arm": r.arm, "row": name, "task": t, "column": t,
                                    "accuracy": a.value, "ci_low": a.ci_low, "ci_high": a.ci_high,
                                    "normalized": a.normalized, "own_task": r.arm == t})
            records.append({"arm": r.arm, "row": name, "task": "average", "column": "Average", "accuracy": r.accuracy,
                            "ci_low": r.acc_low, "ci_high": r.acc_high, "normalized": r.normalized, "own_task": False})
        self._frame = pd.DataFrame(records)
        if self._frame.empty:
            self._show_message("No task has finished for every row yet")
            return
        m = self.matrix().reindex(columns=columns)
        values = 100 * m.to_numpy(float)
        info = self._frame.set_index(["row", "column"])
        r_labels = results.task_labels
        texts, tips = [], []
        for name in m.index:
            texts.append([])
            tips.append([])
            for col in m.columns:
                if (name, col) not in info.index:
                    texts[-1].append("")
                    tips[-1].append("")
                    continue
                x = info.loc[(name, col)]
                texts[-1].append(f"{100 * x.accuracy:.1f}")
                norm = (f"\nkeeps {pct(x.normalized)} of that task's expert" if col != "Average" and np.isfinite(x.normalized)
                        else f"\nkeeps {pct(x.normalized)} of the experts (average)" if np.isfinite(x.normalized) else "")
                what = "average over the tasks" if col == "Average" else r_labels.get(col, col)
                tips[-1].append(f"{name} · {what}\naccuracy {pct(x.accuracy)} (95% CI {pct(x.ci_low)}–{pct(x.ci_high)})"
                                + norm + ("\nthe expert on its own task" if x.own_task else ""))
        finite = values[np.isfinite(values)]
        lo = float(np.floor(finite.min() / 5) * 5) if finite.size else 0.0
        hi = float(np.ceil(finite.max() / 5) * 5) if finite.size else 100.0
        if hi - lo < 5:
            hi = lo + 5
        plot = self._matrix(values, list(m.index), list(m.columns), pg.colormap.get(ACCURACY_MAP), (lo, hi), texts, tips,
                            "accuracy (%)")
        self._footnote_transductive(list(m.index))
        t = self._theme
        # the experts' own tasks: the ceiling of each column
        for r, name in enumerate(m.index):
            for c, col in enumerate(m.columns):
                if (name, col) in info.index and bool(info.loc[(name, col)].own_task):
                    ring = QtWidgets.QGraphicsRectItem(QtCore.QRectF(c + 0.04, r + 0.08, 0.92, 0.84))
                    ring.setPen(pg.mkPen(t.foreground, width=2))
                    ring.setBrush(pg.mkBrush(None))
                    ring.setZValue(15)
                    plot.addItem(ring)
        # a thin rule between the average and the tasks
        rule = QtWidgets.QGraphicsLineItem(len(columns) - 1, 0, len(columns) - 1, len(m.index))
        rule.setPen(pg.mkPen(t.background, width=3))
        rule.setZValue(10)
        plot.addItem(rule)


# --------------------------------------------------------------------------------------------
# normalized accuracy


class NormalizedBars(MergeChart):
    chart_id = "merge_normalized"
    title = "Share of the experts' accuracy kept"
    description = ("Normalized accuracy — each row's accuracy on a task divided by that task's expert's, averaged over "
                   "the tasks — with its 95% interval; the dashed line at 100% is the experts on their own tasks.")

    @classmethod
    def report_size(cls, ref: ChartRef) -> tuple[int, int]:
        return 720, max(220, min(900, 80 + 34 * max(ref.rows, 1)))

    def _draw(self, results: MergeResults) -> None:
        s = results.summary
        s = s[s.normalized.notna()] if not s.empty else s
        if s.empty:
            self._show_message("Normalized accuracy needs every task finished for a row and its expert")
            return
        names = [row_name(results, a) for a in s.arm]
        self._frame = pd.DataFrame({
            "arm": s.arm.astype(str).values, "row": names, "role": s.role.astype(str).values,
            "normalized": s.normalized.to_numpy(float), "norm_low": s.norm_low.to_numpy(float),
            "norm_high": s.norm_high.to_numpy(float), "accuracy": s.accuracy.to_numpy(float),
        })
        t = self._theme
        plot = self._bare_plot()
        plot.showGrid(x=True, y=False, alpha=t.grid_alpha)
        plot.getAxis("bottom").setTextPen(pg.mkPen(t.axis))
        plot.invertY(True)
        n = len(s)
        y = np.arange(n, dtype=float)
        v = 100 * self._frame.normalized.to_numpy(float)
        lo = 100 * self._frame.norm_low.to_numpy(float)
        hi = 100 * self._frame.norm_high.to_numpy(float)
        for i, (arm, role) in enumerate(zip(self._frame.arm, self._frame.role)):
            colour = arm_colour(results, arm, t)
            bar = pg.BarGraphItem(x0=[0.0], y=[y[i]], width=[v[i]], height=0.62, brush=pg.mkBrush(colour),
                                  pen=pg.mkPen(None))
            plot.addItem(bar)
            self._register(arm, bar, "fill")
        has_ci = np.isfinite(lo) & np.isfinite(hi) & (hi > lo)
        if has_ci.any():
            err = pg.ErrorBarItem(x=v[has_ci], y=y[has_ci], left=(v - lo)[has_ci], right=(hi - v)[has_ci], beam=0.22,
                                  pen=pg.mkPen(t.foreground, width=1.4))
            err.setZValue(5)
            plot.addItem(err)
        font = QtGui.QFont()
        font.setPointSizeF(8.5)
        right_edge = np.where(np.isfinite(hi), hi, v)
        for i in range(n):
            label = pg.TextItem(pct(v[i] / 100), color=t.foreground, anchor=(0, 0.5))
            label.setFont(font)
            label.setPos(float(right_edge[i]) + 1.0, y[i])
            plot.addItem(label)
        tips = [{"tip": f"{name}\nkeeps {pct(a / 100)} of the experts' accuracy (95% CI {pct(b / 100)}–{pct(c / 100)})\n"
                        f"average accuracy {pct(acc)}", "arm": arm}
                for name, a, b, c, acc, arm in zip(self._frame.row, v, lo, hi, self._frame.accuracy, self._frame.arm)]
        hover = pg.ScatterPlotItem(x=v, y=y, data=tips, size=14, pen=None, brush=pg.mkBrush(0, 0, 0, 0))
        hoverable(hover, hover_tip)
        plot.addItem(hover)
        ref = pg.InfiniteLine(100, angle=90, pen=pg.mkPen(t.foreground, width=1.2, style=QtCore.Qt.PenStyle.DashLine))
        plot.addItem(ref)
        plot.getAxis("left").setTicks([[(float(i), name) for i, name in enumerate(self._frame.row)]])
        self._fit_left_axis(plot, list(self._frame.row))
        top = float(np.nanmax(np.concatenate([right_edge, [100.0]])))
        plot.setXRange(0, top * 1.12 + 4, padding=0)
        plot.setYRange(-0.6, n - 0.4, padding=0)
        plot.getAxis("bottom").setTicks([[(x, f"{x}%") for x in range(0, int(top * 1.12) + 5, 20)]])
        self._label_axes("Normalized accuracy (% of the experts')", "")
        self._footnote_transductive(list(self._frame.row))


# --------------------------------------------------------------------------------------------
# sweeps


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _value_text(v: Any) -> str:
    return f"{v:g}" if _is_number(v) else str(v).lower() if isinstance(v, bool) else str(v)


def _knob(key: str) -> str:
    return "λ" if key == "lambda" else key


class SweepChart(MergeChart):
    chart_id = "merge_sweep"
    title = "Sweep of a method's knobs"
    description = ("Average accuracy over the tasks across one method's grid: on the split the coefficients are chosen "
                   "on (solid) and on the test split (dashed); the ring marks the configuration chosen.")
    REPORT_SIZE = (720, 400)

    def __init__(self, results: MergeResults | None = None, theme: str = "light", entry: str | None = None,
                 x: str | None = None, series: str | None = None, parent=None):
        self._entry, self._x, self._series = entry, x, series
        self.fixed: dict[str, Any] = {}  # the other varying knobs, held at the chosen configuration's values
        super().__init__(results, theme, parent)

    @classmethod
    def for_report(cls, results: MergeResults, ref: ChartRef, theme: str = "light") -> "SweepChart":
        p = ref.params
        return cls(results, theme=theme, entry=p.get("entry"), x=p.get("x"), series=p.get("series"))

    @property
    def entry(self) -> str | None:
        return self._entry

    def entries(self) -> list[str]:
        return list(self._results.sweeps) if self._results is not None else []

    def set_entry(self, entry: str | None, redraw: bool = True) -> None:
        """Show another method entry's sweep (its knobs chosen as the report does: λ across, density as lines);
        ``redraw=False`` when new results follow anyway."""
        if entry != self._entry:
            self._entry, self._x, self._series = entry, None, None
            if redraw:
                self.redraw()

    def knobs(self, frame: pd.DataFrame) -> list[str]:
        """The entry's varying knobs, λ and density first (the report's order)."""
        keys = [c for c in frame.columns if c not in SWEEP_COLUMNS]
        return [k for k in ("lambda", "density") if k in keys] + [k for k in keys if k not in ("lambda", "density")]

    def _draw(self, results: MergeResults) -> None:
        entries = self.entries()
        if not entries:
            self._show_message("No method in this study sweeps a grid of values")
            return
        if self._entry not in entries:
            self._entry, self._x, self._series = entries[0], None, None
        frame = results.sweeps[self._entry]
        knobs = self.knobs(frame)
        x_key = self._x if self._x in knobs else (knobs[0] if knobs else None)
        if x_key is None:
            self._show_message("This sweep has no knob to draw across")
            return
        series_key = self._series if self._series in knobs and self._series != x_key else next(
            (k for k in knobs if k != x_key), None)
        chosen = frame[frame.chosen]
        others = [k for k in knobs if k not in (x_key, series_key)]
        self.fixed = {k: chosen[k].iloc[0] for k in others} if not chosen.empty else {}
        f = frame
        for k, value in self.fixed.items():
            f = f[f[k] == value]
        test_tuned = results.tuning == "test"
        x_values = list(dict.fromkeys(sorted(f[x_key], key=lambda v: (not _is_number(v), v if _is_number(v) else str(v)))))
        numeric = all(_is_number(v) for v in x_values)
        pos = {v: (float(v) if numeric else float(i)) for i, v in enumerate(x_values)}
        groups = [(None, f)] if series_key is None else list(f.groupby(series_key, sort=True))
        self._frame = pd.DataFrame({
            "entry": self._entry, "arm": f.arm.values, "configuration": f.label.values, x_key: f[x_key].values,
            **({series_key: f[series_key].values} if series_key else {}),
            **{k: [v] * len(f) for k, v in self.fixed.items()},
            "selection_accuracy": f.selection.values, "test_accuracy": f.accuracy.values, "test_low": f.acc_low.values,
            "test_high": f.acc_high.values, "normalized": f.normalized.values, "chosen": f.chosen.values,
        })
        t = self._theme
        names = [f"{_knob(series_key)} {_value_text(v)}" for v, _ in groups] if series_key else [self._entry]
        pal = ArmPalette(names, t)
        self._new_legend()
        plot = self._new_plot()
        for name in ("left", "bottom"):  # densities of 0.2 and 0.5 read as such, not "200, 500 (x0.001)"
            plot.getAxis(name).enableAutoSIPrefix(False)
        self._label_axes(_knob(x_key), "Average accuracy (%)")
        if not numeric:
            plot.getAxis("bottom").setTicks([[(pos[v], _value_text(v)) for v in x_values]])
        ys = []
        for (value, g), name in zip(groups, names):
            g = g.assign(_x=[pos[v] for v in g[x_key]]).sort_values("_x")
            colour = pal.color(name)
            xs = g._x.to_numpy(float)
            test = 100 * g.accuracy.to_numpy(float)
            sel = 100 * g.selection.to_numpy(float)
            ys += [test, sel]
            tips = [{"tip": f"{lab}\ntest accuracy {pct(a)} (95% CI {pct(lo)}–{pct(hi)})"
                            + ("" if test_tuned else f"\nvalidation accuracy {pct(s)}")
                            + (f"\nchosen ({tuning_words(results)})" if c else "")}
                    for lab, a, lo, hi, s, c in zip(g.label, g.accuracy, g.acc_low, g.acc_high, g.selection, g.chosen)]
            test_curve = pg.PlotDataItem(xs, test, pen=pg.mkPen(colour, width=1.6, style=QtCore.Qt.PenStyle.SolidLine
                                                              if test_tuned else QtCore.Qt.PenStyle.DashLine),
                                         symbol=pal.symbol(name), symbolSize=7, symbolBrush=t.background if not test_tuned else colour,
                                         symbolPen=pg.mkPen(colour, width=1.4), antialias=True, data=tips)
            hoverable(test_curve.scatter, hover_tip)
            plot.addItem(test_curve)
            if test_tuned:
                self._legend_entry(test_curve, f"{name} · test (tuned on it)" if series_key else "test split (tuned on it)")
                continue
            sel_curve = pg.PlotDataItem(xs, sel, pen=pg.mkPen(colour, width=2), symbol=pal.symbol(name), symbolSize=8,
                                        symbolBrush=colour, symbolPen=pg.mkPen(t.background, width=1), antialias=True,
                                        data=tips)
            hoverable(sel_curve.scatter, hover_tip)
            plot.addItem(sel_curve)
            self._legend_entry(sel_curve, f"{name} · validation" if series_key else "validation split")
            self._legend_entry(test_curve, f"{name} · test" if series_key else "test split")
        self.chosen_ring = None
        if not chosen.empty and chosen.arm.iloc[0] in set(f.arm):
            c = chosen.iloc[0]
            cy = 100 * float(c.accuracy if test_tuned else c.selection)
            ring = pg.ScatterPlotItem([pos[c[x_key]]], [cy], symbol="o", size=20, brush=pg.mkBrush(None),
                                      pen=pg.mkPen(t.foreground, width=2.2))
            ring.setZValue(30)
            plot.addItem(ring)
            self.chosen_ring = ring
            self._legend_entry(ring, "chosen on the test split (optimistic)" if test_tuned else "chosen on validation")
        if self.fixed:
            held = ", ".join(f"{_knob(k)} {_value_text(v)}" for k, v in self.fixed.items())
            note = pg.LabelItem(f"other knobs at the chosen values: {held}", color=t.axis, size="8pt", justify="left")
            self._add(note, 1, 0, colspan=2)
        flat = np.concatenate(ys) if ys else np.array([])
        flat = flat[np.isfinite(flat)]
        if flat.size:
            lo, hi = float(flat.min()), float(flat.max())
            span = max(hi - lo, 2.0)
            plot.setYRange(max(0.0, lo - 0.12 * span), min(100.0, hi + 0.12 * span), padding=0)
        xs_all = list(pos.values())
        pad = 0.06 * (max(xs_all) - min(xs_all)) if len(xs_all) > 1 else 0.5
        plot.setXRange(min(xs_all) - pad, max(xs_all) + pad, padding=0)


# --------------------------------------------------------------------------------------------
# diagnostics


class SimilarityMatrix(MergeChart):
    chart_id = "merge_similarity"
    title = "Task-vector similarity"
    description = ("Cosine similarity of the experts' task vectors (their weights minus the base's, heads left out): "
                   "1 is the same direction, 0 unrelated updates that merge with little interference, −1 opposite.")

    @classmethod
    def report_size(cls, ref: ChartRef) -> tuple[int, int]:
        return 560, max(260, min(720, 110 + 48 * max(ref.rows, 1)))

    def has_data(self, results: MergeResults | None) -> bool:
        return results is not None and results.similarity is not None

    def _draw(self, results: MergeResults) -> None:
        sim = results.similarity
        ids = [str(i) for i in sim.index]
        long = sim.stack().reset_index()
        long.columns = ["expert_a", "expert_b", "cosine"]
        self._frame = long
        values = sim.to_numpy(float)
        texts = [[_minus(f"{v:.2f}") for v in row] for row in values]
        tips = [[f"{a} · {b}\ncosine similarity {_minus(f'{v:.3f}')}" for b, v in zip(ids, row)] for a, row in zip(ids, values)]
        self._matrix(values, ids, ids, pg.colormap.get(SIMILARITY_MAP), (-1.0, 1.0), texts, tips, "cosine similarity")


class ConflictBars(MergeChart):
    chart_id = "merge_conflicts"
    title = "Sign conflicts by layer"
    description = ("Among the weights two or more experts changed, the share changed in opposite directions, layer by "
                   "layer: for all the updates, and again after keeping each tensor's largest ones (as TIES trims).")

    @classmethod
    def report_size(cls, ref: ChartRef) -> tuple[int, int]:
        return 720, max(240, min(1000, 90 + 28 * max(ref.rows, 1)))

    def has_data(self, results: MergeResults | None) -> bool:
        return results is not None and results.conflicts is not None and not results.conflicts.empty

    def _draw(self, results: MergeResults) -> None:
        c = results.conflicts.reset_index(drop=True)
        density = results.conflict_density or 0.2
        self._frame = c[["layer", "rate", "trimmed_rate", "shared", "total"]].copy()
        t = self._theme
        series = [("rate", "all shared updates"), ("trimmed_rate", f"after keeping each tensor's top {pct(density, 0)}")]
        pal = ArmPalette([s for s, _ in series], t)
        self._new_legend()
        plot = self._bare_plot()
        plot.showGrid(x=True, y=False, alpha=t.grid_alpha)
        plot.getAxis("bottom").setTextPen(pg.mkPen(t.axis))
        plot.invertY(True)
        n = len(c)
        y = np.arange(n, dtype=float)
        height = 0.38
        for k, (column, words) in enumerate(series):
            v = 100 * c[column].to_numpy(float)
            offset = (k - 0.5) * height
            bars = pg.BarGraphItem(x0=np.zeros(n), y=y + offset, width=np.nan_to_num(v), height=height * 0.92,
                                   brush=pal.qcolor(column), pen=pg.mkPen(None))
            plot.addItem(bars)
            tips = [{"tip": f"{layer}: {pct(val / 100)} of {int(shared):,} shared updates disagree in sign ({words})"}
                    for layer, val, shared in zip(c.layer, v, c.shared)]
            hover = pg.ScatterPlotItem(x=np.nan_to_num(v), y=y + offset, data=tips, size=10, pen=None,
                                       brush=pg.mkBrush(0, 0, 0, 0))
            hoverable(hover, hover_tip)
            plot.addItem(hover)
            self.legend.addItem(bars, words + "\u2003")
        experts = len(results.similarity) if results.similarity is not None else len(results.tasks)
        self.chance = 1 - 2 * 0.5 ** max(experts, 2)  # independent random signs: not all equal
        chance = pg.InfiniteLine(100 * self.chance, angle=90,
                                 pen=pg.mkPen(t.axis, width=1.2, style=QtCore.Qt.PenStyle.DotLine))
        plot.addItem(chance)
        sample = pg.PlotDataItem([], [], pen=chance.pen)  # a legend swatch for the line
        self.legend.addItem(sample, f"chance with {max(experts, 2)} experts\u2003")
        step = max(1, int(np.ceil(n / 28)))
        names = [str(x) for x in c.layer]
        plot.getAxis("left").setTicks([[(float(i), names[i]) for i in range(0, n, step)]])
        self._fit_left_axis(plot, names[::step])
        plot.setXRange(0, 100, padding=0.02)
        plot.getAxis("bottom").setTicks([[(x, f"{x}%") for x in range(0, 101, 25)]])
        plot.setYRange(-0.6, n - 0.4, padding=0)
        self._label_axes("Shared updates with opposite signs (%)", "")
        self.legend.setToolTip(f"The dotted line at {pct(self.chance, 0)} is what {experts} experts' unrelated updates would "
                               "give: signs agreeing only by chance.")


CHARTS: dict[str, type[MergeChart]] = {c.chart_id: c for c in (MergeHeatmap, NormalizedBars, SweepChart,
                                                                SimilarityMatrix, ConflictBars)}
