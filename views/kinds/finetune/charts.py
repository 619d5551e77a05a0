"""The five fine-tuning chart kinds, each drawn on the Results page and in reports from a ``FinetuneResults``
(``CHARTS``: the engine's chart kind -> class, ``engine.kinds.finetune.report.tables``):

* :class:`LearningCurvesChart` — loss or validation accuracy per epoch of every tuning run (the chosen
  learning rate's runs solid, the others faint), and runs still training, point by point, as they stream in;
* :class:`ParetoChart` — target accuracy against trainable parameters (log scale), the Pareto front joined;
* :class:`TradeoffChart` — gain on the target against forgetting of the source, both with intervals;
* :class:`WiseChart` — the WiSE-FT curve: in- against out-of-distribution accuracy for each mixing weight α;
* :class:`FlipsChart` — negative-flip rate per method on one evaluation set, with intervals.

Arms are the study's tuned arms by id (colour and marker from :func:`arm_palette`); the base is a
reference line or point, never an arm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from engine.kinds.finetune.report.tables import CURVES, FLIPS, PARETO, TRADEOFF, WISE, count_words, set_title
from engine.kinds.finetune.results import FinetuneResults, shown_id
from engine.report.schema import ChartRef
from views.chart_base import ArmChart, ArmPalette, hover_tip, hoverable, pct, pts

SERIES = {"val_accuracy": "Validation accuracy (%)", "train_loss": "Training loss", "val_loss": "Validation loss"}
SERIES_NAMES = {"val_accuracy": "Validation accuracy", "train_loss": "Training loss", "val_loss": "Validation loss"}
FAINT = 70  # alpha of runs at learning rates that were not chosen, and of single seeds under their mean


def tuned_ids(results: FinetuneResults | None) -> list[str]:
    """The ids of the study's tuned arms (trained and WiSE-FT), in the study's order; not the base."""
    return [] if results is None else [a.id for a in results.arms if a.kind != "base"]


def arm_palette(results: FinetuneResults | None, theme: Any = "light", extra: list[str] = ()) -> ArmPalette:
    """Colour and marker per arm (``extra``: arms known only from live points), the same in every chart and
    table of the study, on screen and in its report (whose chips colour all its arm ids, the base's included)."""
    ids = [a.id for a in results.arms] if results is not None else []
    return ArmPalette([*ids, *extra], theme)


def arm_label(results: FinetuneResults | None, arm: str) -> str:
    info = results.arm(arm) if results is not None else None
    return info.label if info is not None else arm


def set_words(condition: str) -> str:
    """An evaluation set in words: 'the source test set', 'the target under Gaussian noise · 3'."""
    if condition.startswith("ood:"):
        return f"the target under {set_title(condition)}"
    return {"target": "the target test set", "source": "the source test set"}.get(condition, set_title(condition))


def _finite(*values: Any) -> bool:
    return all(v is not None and np.isfinite(float(v)) for v in values)


def _ci(lo: float, hi: float, fmt=pct) -> str:
    return f" (95% CI {fmt(lo)} to {fmt(hi)})" if _finite(lo, hi) else ""


class FinetuneChart(ArmChart):
    """A chart of a fine-tuning study's results; ``arms`` are its tuned arms' ids."""

    def has_data(self, results: FinetuneResults | None) -> bool:
        return results is not None and not results.empty

    def set_results(self, results: FinetuneResults | None) -> None:
        self._results = results
        if self._highlight not in tuned_ids(results):
            self._highlight = None
        self.redraw()

    def _palette(self) -> ArmPalette:
        return arm_palette(self._results, self._theme)

    def _label(self, arm: str) -> str:
        return arm_label(self._results, arm)

    def _error_bars(self, plot: pg.PlotItem, arm: str, color: str, x, y, **bars) -> None:
        """Interval bars around (x, y): ``top``/``bottom``/``left``/``right`` as lengths (NaN: no bar)."""
        bars = {k: np.nan_to_num(np.asarray(v, float), nan=0.0).clip(min=0) for k, v in bars.items()}
        item = pg.ErrorBarItem(x=np.asarray(x, float), y=np.asarray(y, float), beam=0, pen=pg.mkPen(color, width=1.4), **bars)
        item.setZValue(2)
        plot.addItem(item)
        self._register(arm, item, "text")

    def _reference_line(self, plot: pg.PlotItem, value: float, angle: int, text: str = "") -> pg.InfiniteLine:
        t = self._theme
        line = pg.InfiniteLine(pos=value, angle=angle, pen=pg.mkPen(t.axis, width=1.1, style=QtCore.Qt.PenStyle.DashLine))
        line.setZValue(-3)
        plot.addItem(line)
        if text:
            label = pg.InfLineLabel(line, text, position=0.02 if angle == 0 else 0.96, anchors=[(0, 1), (0, 1)],
                                    color=t.axis)
            label.setFont(_font(8))
        return line

    def _points(self, plot: pg.PlotItem, arm: str, x, y, tips: list[str], size: float = 10.0) -> pg.ScatterPlotItem:
        pal = self._palette()
        color = pal.color(arm)
        spots = [{"pos": (float(a), float(b)), "data": {"arm": arm, "tip": tip}} for a, b, tip in zip(x, y, tips)]
        sc = pg.ScatterPlotItem(spots=spots, symbol=pal.symbol(arm), size=size, brush=pg.mkBrush(color),
                                pen=pg.mkPen(self._theme.background, width=1), antialias=True)
        sc.setZValue(10)
        hoverable(sc, hover_tip)
        self._connect_click(sc, arm)
        plot.addItem(sc)
        self._register(arm, sc, "scatter", color=color, width=2.0, size=size, main=True)
        return sc


def _font(points: float) -> QtGui.QFont:
    f = QtGui.QFont()
    f.setPointSizeF(points)
    return f


# --------------------------------------------------------------------------------------------
# learning curves


@dataclass
class LiveRun:
    """A tuning run still training, as its ``cell_curve`` events arrive: (step -> value) per series."""

    arm: str
    lr: float | None
    seed: int
    points: dict[str, dict[int, float]] = field(default_factory=dict)


class LearningCurvesChart(FinetuneChart):
    chart_id = "curves"
    title = "Learning curves"
    description = ("How each method learned, epoch by epoch: every tuning run, the chosen learning rate's runs "
                   "drawn solid (their mean thicker when there are several seeds), the other learning rates faint.")
    REPORT_SIZE = (720, 420)

    def __init__(self, results: FinetuneResults | None = None, theme: str = "light", series: str = "val_accuracy",
                 parent=None):
        self._series = series if series in SERIES else "val_accuracy"
        self._live: dict[str, LiveRun] = {}
        super().__init__(results, theme, parent)

    @classmethod
    def for_report(cls, results: FinetuneResults, ref: ChartRef, theme: str = "light") -> LearningCurvesChart:
        return cls(results, theme=theme, series=ref.params.get("series", "val_accuracy"))

    @property
    def series(self) -> str:
        return self._series

    def set_series(self, series: str) -> None:
        if series not in SERIES:
            raise ValueError(f"No '{series}' learning curve; choose one of {', '.join(SERIES)}.")
        self._series = series
        self.redraw()

    def has_data(self, results: FinetuneResults | None) -> bool:
        return bool(self._live) or (results is not None and not results.curves.empty)

    def set_results(self, results: FinetuneResults | None) -> None:
        self._drop_finished(results)
        super().set_results(results)

    def live_runs(self) -> dict[str, LiveRun]:
        return dict(self._live)

    def add_live_point(self, cell_key: str, step: int, series: str, value: float, arm: str = "",
                       lr: float | None = None, seed: int = 0) -> None:
        """One point of a run still training (a ``cell_curve`` event); drawn at once over the finished runs."""
        self.add_live_points([(cell_key, step, series, value, arm, lr, seed)])

    def add_live_points(self, points: list[tuple]) -> None:
        """Points of runs still training, each (cell key, step, series, value, arm, learning rate or None, seed);
        redrawn once when any is of the series shown."""
        shown = False
        for cell_key, step, series, value, arm, lr, seed in points:
            run = self._live.get(cell_key)
            if run is None:
                run = self._live[cell_key] = LiveRun(arm or cell_key[:8], lr, int(seed))
            run.points.setdefault(str(series), {})[int(step)] = float(value)
            shown = shown or series == self._series
        if shown:
            self.redraw()

    def clear_live(self) -> None:
        if self._live:
            self._live = {}
            self.redraw()

    def _drop_finished(self, results: FinetuneResults | None) -> None:
        """Live runs the results now hold finished are drawn from the results instead: the same arm and seed,
        and the same values at every step streamed (the stored curve is the streamed one, whole)."""
        if results is None or results.curves.empty or not self._live:
            return
        curves = results.curves
        keep = {}
        for key, run in self._live.items():
            mine = curves[(curves.arm == run.arm) & (curves.seed == run.seed)]
            if run.lr is not None:
                mine = mine[np.isclose(mine.lr.to_numpy(float), run.lr)]
            finished = False
            for _, stored in mine.groupby("lr"):
                values = {(str(s), int(st)): float(v) for s, st, v in zip(stored.series, stored.step, stored.value)}
                streamed = [(s, st, v) for s, pts_ in run.points.items() for st, v in pts_.items()]
                if streamed and all((s, st) in values and np.isclose(values[(s, st)], v, rtol=1e-9, atol=0)
                                    for s, st, v in streamed):
                    finished = True
                    break
            if not finished:
                keep[key] = run
        self._live = keep

    def _palette(self) -> ArmPalette:
        return arm_palette(self._results, self._theme, [r.arm for r in self._live.values()])

    def _draw(self, results: FinetuneResults | None) -> None:
        series = self._series
        scale = 100.0 if series == "val_accuracy" else 1.0
        curves = results.curves if results is not None else pd.DataFrame(columns=["arm", "lr", "seed", "step", "series",
                                                                                     "value", "chosen"])
        c = curves[curves.series == series]
        live_rows = [(r.arm, r.lr, r.seed, step, value) for r in self._live.values()
                     for step, value in sorted(r.points.get(series, {}).items())]
        if c.empty and not live_rows:
            self._show_message(f"No {SERIES_NAMES[series].lower()} was recorded")
            return
        self._frame = pd.concat([
            pd.DataFrame({"arm": c.arm.astype(str).values, "lr": c.lr.values, "seed": c.seed.values,
                          "step": c.step.values, "series": series, "value": c.value.values,
                          "chosen": c.chosen.astype(bool).values, "live": False}),
            pd.DataFrame([{"arm": a, "lr": lr, "seed": s, "step": st, "series": series, "value": v, "chosen": False,
                           "live": True} for a, lr, s, st, v in live_rows],
                         columns=["arm", "lr", "seed", "step", "series", "value", "chosen", "live"]),
        ], ignore_index=True)
        pal = self._palette()
        t = self._theme
        self._new_legend()
        plot = self._new_plot()
        self._label_axes("Epoch", SERIES[series])
        arms = [a for a in tuned_ids(results) if a in set(c.arm)]
        for arm in arms:
            color = pal.color(arm)
            g = c[c.arm == arm]
            for (lr, seed), run in g[~g.chosen].groupby(["lr", "seed"], sort=True):
                run = run.sort_values("step")
                faint = pg.PlotDataItem(run.step.to_numpy(float), scale * run.value.to_numpy(float),
                                        pen=pg.mkPen(pal.qcolor(arm, FAINT), width=1, style=QtCore.Qt.PenStyle.DashLine),
                                        antialias=True)
                faint.setToolTip(f"{self._label(arm)} · learning rate {lr:g} (not chosen) · seed {int(seed)}")
                plot.addItem(faint)
                self._register(arm, faint, "text")
            chosen = g[g.chosen]
            if chosen.empty:
                continue
            lr = float(chosen.lr.iloc[0])
            seeds = sorted(chosen.seed.unique())
            if len(seeds) > 1:
                for seed in seeds:
                    run = chosen[chosen.seed == seed].sort_values("step")
                    thin = pg.PlotDataItem(run.step.to_numpy(float), scale * run.value.to_numpy(float),
                                           pen=pg.mkPen(pal.qcolor(arm, FAINT + 40), width=1), antialias=True)
                    plot.addItem(thin)
                    self._register(arm, thin, "text")
            mean = chosen.groupby("step").value.agg(["mean", "min", "max", "count"]).reset_index()
            tips = [{"arm": arm, "tip": f"{self._label(arm)} · learning rate {lr:g} (chosen on validation)\n"
                                        f"epoch {int(s)}: {self._value_text(m)}"
                                        + (f" (mean of {int(n)} seeds, {self._value_text(lo)} to {self._value_text(hi)})"
                                           if n > 1 else "")}
                    for s, m, lo, hi, n in zip(mean.step, mean["mean"], mean["min"], mean["max"], mean["count"])]
            line = pg.PlotDataItem(mean.step.to_numpy(float), scale * mean["mean"].to_numpy(float),
                                   pen=pg.mkPen(color, width=2), symbol=pal.symbol(arm), symbolSize=7, symbolBrush=color,
                                   symbolPen=pg.mkPen(t.background, width=1), antialias=True, data=tips)
            hoverable(line.scatter, hover_tip)
            self._connect_click(line.scatter, arm)
            plot.addItem(line)
            self._legend_add(line, f"{self._label(arm)} · lr {lr:g}", arm)
            self._register(arm, line, "line", color=color, width=2.0, size=7.0, main=True)
        for key, run in self._live.items():
            pts_ = sorted(run.points.get(series, {}).items())
            if not pts_:
                continue
            color = pal.color(run.arm)
            x = np.array([p[0] for p in pts_], float)
            y = scale * np.array([p[1] for p in pts_], float)
            what = f"{self._label(run.arm)}" + (f" · lr {run.lr:g}" if run.lr is not None else "") + f" · seed {run.seed}"
            tips = [{"arm": run.arm, "tip": f"{what} (training now)\nepoch {int(s)}: {self._value_text(v)}"} for s, v in pts_]
            live = pg.PlotDataItem(x, y, pen=pg.mkPen(color, width=2, style=QtCore.Qt.PenStyle.DotLine),
                                   symbol=pal.symbol(run.arm), symbolSize=7, symbolBrush=pg.mkBrush(t.background),
                                   symbolPen=pg.mkPen(color, width=1.5), antialias=True, data=tips)
            hoverable(live.scatter, hover_tip)
            plot.addItem(live)
            self._legend_add(live, f"{what} — training now", run.arm)
            self._register(run.arm, live, "text")
        steps = self._frame.step.to_numpy(float)
        lo, hi = float(np.nanmin(steps)), float(np.nanmax(steps))
        plot.getAxis("bottom").setTicks([[(float(s), str(int(s))) for s in sorted(set(steps.astype(int)))]]
                                        if hi - lo <= 20 else None)
        plot.setXRange(lo - 0.2, hi + 0.2, padding=0)
        if series == "val_accuracy":
            values = scale * self._frame.value.to_numpy(float)
            top, bottom = float(np.nanmax(values)), float(np.nanmin(values))
            span = max(top - bottom, 5.0)
            plot.setYRange(max(0.0, bottom - 0.08 * span), min(100.0 + 0.02 * span, top + 0.08 * span), padding=0)

    def _value_text(self, v: float) -> str:
        return pct(v) if self._series == "val_accuracy" else f"{v:.3f}"


# --------------------------------------------------------------------------------------------
# accuracy against trainable parameters


class CountAxis(pg.AxisItem):
    """A log₁₀ axis labelled in plain counts (100, 1k, 10k, 1.2M) at powers of ten, and at 2× and 5× when
    the range is short."""

    def tickValues(self, minVal, maxVal, size):
        if not (np.isfinite(minVal) and np.isfinite(maxVal)) or maxVal <= minVal:
            return []
        decades = range(int(np.floor(minVal)), int(np.ceil(maxVal)) + 1)
        major = [float(d) for d in decades if minVal <= d <= maxVal]
        minor = [float(d + np.log10(m)) for d in decades for m in (2, 5) if minVal <= d + np.log10(m) <= maxVal]
        return [(1.0, major), (0.5, minor if maxVal - minVal < 3 or len(major) < 2 else [])]

    def tickStrings(self, values, scale, spacing):
        return [count_words(round(10 ** v)) for v in values]


def dodged(x: np.ndarray, step: float = 0.045) -> np.ndarray:
    """Positions on a log axis with arms of equal parameter counts (full fine-tuning, LP-FT and WiSE-FT train
    the same weights) spread side by side around their true position, so none hides another."""
    out = np.asarray(x, float).copy()
    for value in np.unique(out):
        same = np.flatnonzero(out == value)
        if len(same) > 1:
            out[same] = value + step * (np.arange(len(same)) - (len(same) - 1) / 2)
    return out


class ParetoChart(FinetuneChart):
    chart_id = "pareto"
    title = "Accuracy against trainable parameters"
    description = ("Target accuracy of each method against how many parameters it trains (log scale), with 95% "
                   "intervals; the line joins the Pareto front, the methods no other beats on both counts. Methods "
                   "that train as many parameters are drawn side by side.")
    REPORT_SIZE = (720, 430)

    def _draw(self, results: FinetuneResults) -> None:
        t = results.table
        rows = t[(t.kind != "base") & (t.trainable > 0) & np.isfinite(t.id_acc.astype(float))]
        if rows.empty:
            self._show_message("No tuned model has been scored on the target yet")
            return
        self._frame = pd.DataFrame({
            "arm": rows.arm.values, "label": rows.label.values, "trainable": rows.trainable.values,
            "share": rows.share.values, "id_accuracy": rows.id_acc.values, "ci_low": rows.id_lo.values,
            "ci_high": rows.id_hi.values, "pareto": rows.pareto.astype(bool).values,
        })
        t_ = self._theme
        self._new_legend()
        plot = self._new_plot(axisItems={"bottom": CountAxis("bottom")})
        self._label_axes("Trainable parameters (log scale)", "Target accuracy (%)")
        x_all = dodged(np.log10(rows.trainable.to_numpy(float)))
        for r, x in zip(rows.itertuples(), x_all):
            share = f" ({100 * r.share:.2g}% of the base)" if _finite(r.share) else ""
            tip = (f"{r.label}\n{count_words(r.trainable)} trainable parameters{share}\n"
                   f"target accuracy {pct(r.id_acc)}{_ci(r.id_lo, r.id_hi)}" + ("\non the Pareto front" if r.pareto else ""))
            color = self._palette().color(r.arm)
            self._error_bars(plot, r.arm, color, [x], [100 * r.id_acc], top=[100 * (r.id_hi - r.id_acc)],
                             bottom=[100 * (r.id_acc - r.id_lo)])
            sc = self._points(plot, r.arm, [x], [100 * r.id_acc], [tip])
            self._legend_add(sc, f"{r.label} · {count_words(r.trainable)}", r.arm)
        on_front = rows.pareto.astype(bool).to_numpy()
        front = pd.DataFrame({"x": x_all[on_front], "y": 100 * rows.id_acc.to_numpy(float)[on_front]}).sort_values("x")
        self.front_line = None
        if len(front) > 1:
            line = pg.PlotDataItem(front.x.to_numpy(float), front.y.to_numpy(float),
                                   pen=pg.mkPen(t_.foreground, width=1.4), antialias=True)
            line.setZValue(1)
            plot.addItem(line)
            self.front_line = line
            self._legend_add(line, "Pareto front")
        base = t[t.kind == "base"]
        ys = [100 * rows.id_lo.to_numpy(float), 100 * rows.id_hi.to_numpy(float), 100 * rows.id_acc.to_numpy(float)]
        if not base.empty and _finite(base.id_acc.iloc[0]):
            b = float(base.id_acc.iloc[0])
            self._reference_line(plot, 100 * b, 0, f"base, not tuned: {pct(b)}")
            ys.append(np.array([100 * b]))
        lo, hi = float(x_all.min()), float(x_all.max())
        pad = max(0.15 * (hi - lo), 0.25)
        plot.setXRange(lo - pad, hi + pad, padding=0)
        y = np.concatenate(ys)
        y = y[np.isfinite(y)]
        span = max(float(y.max() - y.min()), 4.0)
        plot.setYRange(max(0.0, float(y.min()) - 0.08 * span), min(100.0 + 0.02 * span, float(y.max()) + 0.08 * span),
                       padding=0)


# --------------------------------------------------------------------------------------------
# gain against forgetting


class TradeoffChart(FinetuneChart):
    chart_id = "tradeoff"
    title = "Target gain against source forgetting"
    description = ("What each method gains on the target against what it forgets of the task the base already did, "
                   "both in points against the base with 95% intervals; up and to the left is better.")
    REPORT_SIZE = (640, 470)

    def _draw(self, results: FinetuneResults) -> None:
        t = results.table
        rows = t[(t.kind != "base") & np.isfinite(t.gain.astype(float)) & np.isfinite(t.forgetting.astype(float))]
        if rows.empty:
            self._show_message("Forgetting needs a [source] dataset scored before and after tuning")
            return
        self._frame = pd.DataFrame({
            "arm": rows.arm.values, "label": rows.label.values, "gain": rows.gain.values, "gain_low": rows.gain_lo.values,
            "gain_high": rows.gain_hi.values, "forgetting": rows.forgetting.values,
            "forgetting_low": rows.forgetting_lo.values, "forgetting_high": rows.forgetting_hi.values,
        })
        self._new_legend()
        plot = self._new_plot()
        self._label_axes("Forgetting of the source (points; left is better)", "Gain on the target (points)")
        self._reference_line(plot, 0.0, 0)
        self._reference_line(plot, 0.0, 90)
        xs, ys = [0.0], [0.0]
        for r in rows.itertuples():
            x, y = 100 * r.forgetting, 100 * r.gain
            tip = (f"{r.label}\ngain on the target {pts(r.gain)} points{_ci(r.gain_lo, r.gain_hi, pts)}\n"
                   f"forgetting of the source {pts(r.forgetting)} points{_ci(r.forgetting_lo, r.forgetting_hi, pts)}")
            color = self._palette().color(r.arm)
            self._error_bars(plot, r.arm, color, [x], [y], top=[100 * (r.gain_hi - r.gain)],
                             bottom=[100 * (r.gain - r.gain_lo)], left=[100 * (r.forgetting - r.forgetting_lo)],
                             right=[100 * (r.forgetting_hi - r.forgetting)])
            sc = self._points(plot, r.arm, [x], [y], [tip])
            self._legend_add(sc, r.label, r.arm)
            xs += [x, 100 * r.forgetting_lo, 100 * r.forgetting_hi]
            ys += [y, 100 * r.gain_lo, 100 * r.gain_hi]
        origin = pg.TextItem("base", color=self._theme.axis, anchor=(-0.1, 1.1))
        origin.setFont(_font(8))
        origin.setPos(0, 0)
        plot.addItem(origin)
        for values, setter in ((np.array(xs, float), plot.setXRange), (np.array(ys, float), plot.setYRange)):
            values = values[np.isfinite(values)]
            lo, hi = float(values.min()), float(values.max())
            pad = max(0.1 * (hi - lo), 1.0)
            setter(lo - pad, hi + pad, padding=0)


# --------------------------------------------------------------------------------------------
# the WiSE-FT curve


class WiseChart(FinetuneChart):
    chart_id = "wise"
    title = "WiSE-FT: in against out of distribution"
    description = ("Accuracy on the target (in distribution) against accuracy under the shifts (out of distribution) "
                   "for each mixing weight α from the base (α = 0) to the tuned model (α = 1), with 95% intervals; "
                   "the ringed point is the α chosen on validation.")
    REPORT_SIZE = (640, 470)

    def __init__(self, results: FinetuneResults | None = None, theme: str = "light", arm: str | None = None, parent=None):
        self._arm = arm
        super().__init__(results, theme, parent)

    @classmethod
    def for_report(cls, results: FinetuneResults, ref: ChartRef, theme: str = "light") -> WiseChart:
        return cls(results, theme=theme, arm=ref.params.get("arm"))

    def has_data(self, results: FinetuneResults | None) -> bool:
        return results is not None and not results.wise.empty

    def y_set(self) -> str:
        """What the vertical axis shows: 'ood' (the shifts, pooled), or 'source' when the study has no shifts."""
        sets = set(self._results.wise.set) if self._results is not None else set()
        return "ood" if "ood" in sets else "source"

    def _draw(self, results: FinetuneResults) -> None:
        w = results.wise
        ys = self.y_set()
        arms = [a for a in results.arms if a.kind == "wise" and (self._arm is None or a.id == self._arm)]
        rows = []
        for a in arms:
            g = w[w.arm == a.id]
            x = g[g.set == "target"].set_index("alpha")
            y = g[g.set == ys].set_index("alpha")
            chosen = results.wise_alpha.get(a.id)
            for alpha in sorted(set(x.index) & set(y.index)):
                rows.append({"arm": a.id, "alpha": float(alpha), "id_accuracy": x.value[alpha], "id_low": x.ci_low[alpha],
                             "id_high": x.ci_high[alpha], f"{ys}_accuracy": y.value[alpha], f"{ys}_low": y.ci_low[alpha],
                             f"{ys}_high": y.ci_high[alpha], "chosen": chosen is not None and np.isclose(alpha, chosen)})
        if not rows:
            self._show_message("WiSE-FT needs the target and shifted sets scored at each α")
            return
        f = pd.DataFrame(rows)
        self._frame = f
        t = self._theme
        pal = self._palette()
        self._new_legend()
        plot = self._new_plot()
        self._label_axes("Target accuracy, in distribution (%)",
                         "Out-of-distribution accuracy (%)" if ys == "ood" else "Source accuracy (%)")
        for a in arms:
            g = f[f.arm == a.id].sort_values("alpha")
            if g.empty:
                continue
            color = pal.color(a.id)
            x, y = 100 * g.id_accuracy.to_numpy(float), 100 * g[f"{ys}_accuracy"].to_numpy(float)
            self._error_bars(plot, a.id, color, x, y, top=100 * g[f"{ys}_high"].to_numpy(float) - y,
                             bottom=y - 100 * g[f"{ys}_low"].to_numpy(float), left=x - 100 * g.id_low.to_numpy(float),
                             right=100 * g.id_high.to_numpy(float) - x)
            line = pg.PlotDataItem(x, y, pen=pg.mkPen(color, width=2), antialias=True)
            plot.addItem(line)
            self._register(a.id, line, "line", color=color, width=2.0, size=0.0)
            where = "out of distribution" if ys == "ood" else "on the source"
            tips = [f"{a.label} · α = {al:g}{' (chosen on validation)' if ch else ''}\n"
                    f"target {pct(xi / 100)}{_ci(lo, hi)}\n{where} {pct(yi / 100)}{_ci(ylo, yhi)}"
                    for al, ch, xi, yi, lo, hi, ylo, yhi in zip(g.alpha, g.chosen, x, y, g.id_low, g.id_high,
                                                                g[f"{ys}_low"], g[f"{ys}_high"])]
            sc = self._points(plot, a.id, x, y, tips, size=9)
            source = arm_label(results, a.source) if a.source else ""
            self._legend_add(sc, f"{a.label} (from {source})" if source else a.label, a.id)
            for chosen in g[g.chosen].itertuples():
                ring = pg.ScatterPlotItem([100 * chosen.id_accuracy], [100 * getattr(chosen, f"{ys}_accuracy")],
                                          symbol="o", size=20, brush=pg.mkBrush(None), pen=pg.mkPen(t.foreground, width=1.6))
                ring.setZValue(11)
                plot.addItem(ring)
                self._register(a.id, ring, "text")
            # the curve leaves the base up and to the right and reaches the tuned model from below left: a
            # label below right of the one and above left of the other stays clear of it (and inside the plot)
            for end, words, anchor in ((g.iloc[0], "base", (-0.04, -0.05)), (g.iloc[-1], "tuned", (1.04, 1.05))):
                text = pg.TextItem(f"α = {end.alpha:g} · {words}", color=t.foreground, anchor=anchor)
                text.setFont(_font(8))
                text.setPos(100 * end.id_accuracy, 100 * end[f"{ys}_accuracy"])
                plot.addItem(text)
                self._register(a.id, text, "text")
        self.ring_legend = pg.ScatterPlotItem(symbol="o", size=12, brush=pg.mkBrush(None), pen=pg.mkPen(t.foreground, width=1.6))
        self._legend_add(self.ring_legend, "α chosen on validation")
        for lo, hi, setter in ((f.id_low, f.id_high, plot.setXRange), (f[f"{ys}_low"], f[f"{ys}_high"], plot.setYRange)):
            values = 100 * np.concatenate([lo.to_numpy(float), hi.to_numpy(float)])
            values = values[np.isfinite(values)]
            a, b = float(values.min()), float(values.max())
            pad = max(0.12 * (b - a), 2.0)  # room for the endpoint labels
            setter(max(a - pad, -2.0), min(b + pad, 102.0), padding=0)


# --------------------------------------------------------------------------------------------
# negative flips


class FlipsChart(FinetuneChart):
    chart_id = "flips"
    title = "Negative flips"
    description = ("Share of predictions the base got right and each tuned model gets wrong, with 95% intervals "
                   "(examples resampled with all their seeds).")

    def __init__(self, results: FinetuneResults | None = None, theme: str = "light", condition: str | None = None,
                 parent=None):
        self._condition = condition
        super().__init__(results, theme, parent)

    @classmethod
    def for_report(cls, results: FinetuneResults, ref: ChartRef, theme: str = "light") -> FlipsChart:
        return cls(results, theme=theme, condition=ref.params.get("set"))

    @classmethod
    def report_size(cls, ref: ChartRef) -> tuple[int, int]:
        return 720, max(260, min(700, 110 + 34 * max(ref.rows, 6)))

    def has_data(self, results: FinetuneResults | None) -> bool:
        return results is not None and not results.flips.empty

    @property
    def condition(self) -> str | None:
        return self._condition

    def conditions(self) -> list[str]:
        """The evaluation sets with flips, in the study's order."""
        return [] if self._results is None else list(dict.fromkeys(self._results.flips.condition))

    def default_condition(self) -> str | None:
        """The source (forgetting) when the study measures it, else the target: the table's negative-flip set."""
        conds = self.conditions()
        return next((c for c in ("source", "target") if c in conds), conds[0] if conds else None)

    def set_condition(self, condition: str) -> None:
        self._condition = condition
        self.redraw()

    def _draw(self, results: FinetuneResults) -> None:
        if self._condition not in self.conditions():
            self._condition = self.default_condition()
        cond = self._condition
        fl = results.flips[results.flips.condition == cond]
        order = {a: i for i, a in enumerate(tuned_ids(results))}
        fl = fl.assign(_o=fl.arm.map(order)).sort_values("_o").drop(columns="_o")
        self._frame = pd.DataFrame({
            "arm": fl.arm.values, "label": [self._label(a) for a in fl.arm], "set": cond, "negative": fl.negative.values,
            "n": fl.n.values, "negative_rate": fl.negative_rate.values, "ci_low": fl.negative_low.values,
            "ci_high": fl.negative_high.values,
        })
        pal = self._palette()
        t = self._theme
        plot = self._new_plot()
        self._label_axes(f"Negative flips on {set_words(cond)} (% of its predictions)", "")
        n = len(self._frame)
        ys = np.arange(n, dtype=float)
        left = plot.getAxis("left")
        left.setTicks([[(float(y), label) for y, label in zip(ys, self._frame.label)]])
        left.setTextPen(pg.mkPen(t.foreground))
        fm = QtGui.QFontMetrics(left.style.get("tickFont") or QtGui.QFont())
        left.setWidth(max((fm.horizontalAdvance(s) for s in self._frame.label), default=40) + 14)
        plot.invertY(True)
        plot.showGrid(x=True, y=False, alpha=t.grid_alpha)
        for y, r in zip(ys, self._frame.itertuples()):
            color = pal.color(r.arm)
            bar = pg.BarGraphItem(x0=[0.0], y=[y], width=[100 * r.negative_rate], height=0.62, brush=pal.qcolor(r.arm, 215),
                                  pen=pg.mkPen(None))
            bar.setToolTip(f"{r.label}: {int(r.negative)} of {int(r.n):,} predictions flipped from right to wrong, "
                           f"{pct(r.negative_rate)}{_ci(r.ci_low, r.ci_high)}")
            plot.addItem(bar)
            self._register(r.arm, bar, "text")
            self._error_bars(plot, r.arm, t.foreground, [100 * r.negative_rate], [y],
                             left=[100 * (r.negative_rate - r.ci_low)], right=[100 * (r.ci_high - r.negative_rate)])
            tip = (f"{r.label}\n{int(r.negative)} of {int(r.n):,} predictions right before tuning and wrong after\n"
                   f"negative flip rate {pct(r.negative_rate)}{_ci(r.ci_low, r.ci_high)}")
            sc = pg.ScatterPlotItem([100 * r.negative_rate], [y], symbol=pal.symbol(r.arm), size=9, brush=pg.mkBrush(color),
                                    pen=pg.mkPen(t.background, width=1), data=[{"arm": r.arm, "tip": tip}])
            sc.setZValue(10)
            hoverable(sc, hover_tip)
            self._connect_click(sc, r.arm)
            plot.addItem(sc)
            self._register(r.arm, sc, "scatter", color=color, width=2.0, size=9.0, main=True)
            count = pg.TextItem(f"{int(r.negative)}", color=t.axis, anchor=(-0.25, 0.5))
            count.setFont(_font(8))
            count.setPos(100 * (r.ci_high if _finite(r.ci_high) else r.negative_rate), y)
            plot.addItem(count)
            self._register(r.arm, count, "text")
        top = float(np.nanmax(100 * self._frame[["negative_rate", "ci_high"]].to_numpy(float))) if n else 1.0
        plot.setXRange(0, max(top * 1.15, 1.0), padding=0)
        plot.setYRange(-0.6, n - 0.4, padding=0)


CHARTS: dict[str, type[FinetuneChart]] = {
    CURVES: LearningCurvesChart, PARETO: ParetoChart, TRADEOFF: TradeoffChart, WISE: WiseChart, FLIPS: FlipsChart,
}
