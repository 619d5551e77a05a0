"""The four shift-study chart kinds: accuracy vs severity, the relative-drop heatmap, accuracy on
the line and the reliability diagram (each a :class:`ShiftChart`, an :class:`~views.chart_base.ArmChart`
of a ``ShiftResults``), drawn on the Results page and in reports (``CHARTS``: chart kind -> class)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.kinds.shift.results import ShiftResults
from engine.conditions.catalog import condition_label, family_label
from engine.report.schema import ChartRef
from engine.stats import probit
from views.chart_base import ArmChart, ProbitAxis, Theme, hoverable, hover_tip, pct, pts
from views.theme import readable_on


class ShiftChart(ArmChart):
    """A chart of a shift study's results: something to draw once any accuracy is finished."""

    def has_data(self, results: ShiftResults | None) -> bool:
        return results is not None and not results.accuracy.empty


# --------------------------------------------------------------------------------------------
# accuracy vs severity


class SeverityChart(ShiftChart):
    chart_id = "severity"
    title = "Accuracy vs severity"
    description = ("How each model's accuracy falls as one corruption gets stronger; severity 0 is the clean "
                   "test set and the shaded bands are 95% confidence intervals.")

    def __init__(self, results: ShiftResults | None = None, theme: str = "light", family: str | None = None, parent=None):
        self._family = family
        super().__init__(results, theme, parent)

    @classmethod
    def for_report(cls, results: ShiftResults, ref: ChartRef, theme: str = "light") -> SeverityChart:
        return cls(results, theme=theme, family=ref.params.get("family"))

    @classmethod
    def report_size(cls, ref: ChartRef) -> tuple[int, int]:
        return 720, 390

    @property
    def family(self) -> str | None:
        return self._family

    def families(self) -> list[str]:
        return self._results.corruption_families if self._results is not None else []

    def set_family(self, family: str | None) -> None:
        self._family = family
        self.redraw()

    def default_family(self) -> str | None:
        """The corruption with the largest mean relative drop: the most telling one to show first."""
        fams = self.families()
        if not fams:
            return None
        drop = self._results.drop
        drop = drop[drop.severity.notna()]
        if drop.empty:
            return fams[0]
        means = drop.groupby("family", sort=False)["drop"].mean()
        means = means.reindex(fams)
        return str(means.idxmax()) if means.notna().any() else fams[0]

    def _draw(self, results: ShiftResults) -> None:
        fams = self.families()
        if not fams:
            self._show_message("This study has no graded corruptions")
            return
        if self._family not in fams:
            self._family = self.default_family()
        fam = self._family
        acc = results.accuracy
        rows = acc[(acc.family == fam) | (acc.condition == "clean")].copy()
        rows["x"] = rows.severity.astype("Float64").fillna(0).astype(float)
        rows = rows.sort_values(["arm", "x"])
        self._frame = pd.DataFrame({
            "arm": rows.arm.astype(str).values, "family": fam, "severity": rows.x.astype(int).values,
            "condition": rows.condition.astype(str).values, "accuracy": rows.value.values,
            "ci_low": rows.ci_low.values, "ci_high": rows.ci_high.values, "seed_sd": rows.seed_sd.values,
            "n_seeds": rows.n_seeds.values,
        })
        pal = self._palette()
        t = self._theme
        self._new_legend()
        plot = self._new_plot()
        self._label_axes("Severity (0 = clean)", "Accuracy (%)")
        xs = sorted(rows.x.unique())
        plot.getAxis("bottom").setTicks([[(x, "clean" if x == 0 else str(int(x))) for x in xs]])
        for arm in results.arms:
            g = rows[rows.arm == arm]
            if g.empty:
                continue
            color = pal.color(arm)
            x = g.x.to_numpy(float)
            lo_c = pg.PlotCurveItem(x, 100 * g.ci_low.to_numpy(float), pen=pg.mkPen(None))
            hi_c = pg.PlotCurveItem(x, 100 * g.ci_high.to_numpy(float), pen=pg.mkPen(None))
            band = pg.FillBetweenItem(lo_c, hi_c, brush=pal.qcolor(arm, t.band_alpha))
            band.setZValue(-5)
            plot.addItem(band)
            tips = [
                {"tip": f"{arm} · {condition_label(c)}\naccuracy {pct(v)} (95% CI {pct(lo)}–{pct(hi)})\n"
                        f"seed sd {100 * sd:.1f} pts · {int(ns)} seed{'s' if ns != 1 else ''}", "arm": arm, "condition": c}
                for c, v, lo, hi, sd, ns in zip(g.condition, g.value, g.ci_low, g.ci_high, g.seed_sd, g.n_seeds)
            ]
            curve = pg.PlotDataItem(x, 100 * g.value.to_numpy(float), pen=pg.mkPen(color, width=2), symbol=pal.symbol(arm),
                                    symbolSize=8, symbolBrush=color, symbolPen=pg.mkPen(t.background, width=1),
                                    antialias=True, data=tips)
            hoverable(curve.scatter, hover_tip)
            self._connect_click(curve.scatter, arm)
            plot.addItem(curve)
            self._legend_add(curve, arm, arm)
            self._register(arm, curve, "line", color=color, width=2.0, size=8.0, main=True)
            self._register(arm, band, "fill")
        plot.setXRange(min(xs) - 0.25, max(xs) + 0.25, padding=0)
        lo = float(np.nanmin(100 * rows.ci_low))
        hi = float(np.nanmax(100 * rows.ci_high))
        span = max(hi - lo, 2.0)
        plot.setYRange(max(0.0, lo - 0.06 * span) if lo > 0.5 else -0.03 * span, min(hi + 0.06 * span, 100 + 0.03 * span), padding=0)


# --------------------------------------------------------------------------------------------
# relative drop heatmap


def _heat_cmap(theme: Theme) -> pg.ColorMap:
    return pg.ColorMap(np.linspace(0, 1, len(theme.heat)), [pg.mkColor(c) for c in theme.heat])


class DropHeatmap(ShiftChart):
    chart_id = "drop"
    title = "Relative drop from clean"
    description = ("How much of its clean accuracy each model loses under each kind of shift, in percent of the "
                   "clean accuracy (corruption severities averaged); the stronger the colour, the bigger the loss.")

    @classmethod
    def report_size(cls, ref: ChartRef) -> tuple[int, int]:
        return 720, max(260, min(900, 64 + 30 * max(ref.rows, 1)))

    def row_label(self, row: str) -> str:
        """A row's display name: a corruption family (severities averaged) or one condition."""
        return family_label(row) if "/" not in row and row != "clean" else condition_label(row)

    def matrix(self) -> pd.DataFrame:
        """conditions (rows, display order) × arms (columns) of relative drop, as fractions."""
        f = self._frame
        if f.empty:
            return pd.DataFrame()
        m = f.pivot(index="condition", columns="arm", values="relative_drop")
        order = list(dict.fromkeys(f.condition))
        return m.reindex(index=order, columns=[a for a in self._results.arms if a in m.columns])

    def _draw(self, results: ShiftResults) -> None:
        drop = results.drop
        if drop is None or drop.empty:
            self._show_message("No shifted conditions to compare with clean")
            return
        d = drop.copy()
        graded = d.severity.notna()
        d["column"] = np.where(graded, d.family.astype(str), d.condition.astype(str))
        # order columns as the conditions appear in the study
        order = list(dict.fromkeys(d.column))
        agg = d.groupby(["column", "arm"], sort=False).agg(
            relative_drop=("drop", "mean"), clean_accuracy=("clean", "mean"), shifted_accuracy=("value", "mean"),
            n_conditions=("condition", "count"),
        ).reset_index().rename(columns={"column": "condition"})
        agg["condition"] = pd.Categorical(agg.condition, order, ordered=True)
        agg["arm"] = pd.Categorical(agg.arm, results.arms, ordered=True)
        agg = agg.sort_values(["condition", "arm"])
        agg["condition"] = agg.condition.astype(str)
        agg["arm"] = agg.arm.astype(str)
        self._frame = agg[["arm", "condition", "relative_drop", "clean_accuracy", "shifted_accuracy", "n_conditions"]].reset_index(drop=True)
        m = self.matrix()
        t = self._theme
        vals = 100 * m.to_numpy(float)  # rows = conditions, cols = arms
        n_rows, n_cols = vals.shape
        finite = vals[np.isfinite(vals)]
        vmax = float(max(5.0, np.ceil(finite.max() / 5) * 5)) if finite.size else 5.0
        vmin = 0.0
        cmap = _heat_cmap(t)

        plot = self._new_plot(row=0, col=0)
        plot.getAxis("bottom").setStyle(tickLength=0)
        plot.getAxis("left").setStyle(tickLength=0)
        plot.showGrid(x=False, y=False)
        plot.getAxis("bottom").setPen(pg.mkPen(None))
        plot.getAxis("left").setPen(pg.mkPen(None))
        plot.showAxis("top")
        plot.hideAxis("bottom")
        top = plot.getAxis("top")
        tf = QtGui.QFont()
        tf.setPointSizeF(9)
        tf.setBold(True)
        top.setStyle(tickFont=tf, tickLength=0, tickTextOffset=3)
        top.setPen(pg.mkPen(None))
        top.setTextPen(pg.mkPen(t.foreground))
        plot.getAxis("left").setTextPen(pg.mkPen(t.foreground))
        img = pg.ImageItem(np.nan_to_num(vals, nan=0.0), axisOrder="row-major")
        img.setColorMap(cmap)
        img.setLevels((vmin, vmax))
        img.setRect(QtCore.QRectF(0, 0, n_cols, n_rows))
        plot.addItem(img)
        self.image = img
        plot.invertY(True)
        top.setTicks([[(c + 0.5, a) for c, a in enumerate(m.columns)]])
        left = plot.getAxis("left")
        row_names = [self.row_label(c) for c in m.index]
        left.setTicks([[(r + 0.5, name) for r, name in enumerate(row_names)]])
        lf = left.style.get("tickFont") or QtGui.QFont()
        fm = QtGui.QFontMetrics(lf)
        left.setWidth(max(fm.horizontalAdvance(name) for name in row_names) + 12)
        pal = self._palette()
        self.texts = []
        font = QtGui.QFont()
        font.setPointSizeF(8 if n_rows > 12 else 8.5)
        lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=False)
        spots = []
        info = self._frame.set_index(["condition", "arm"])
        for r, cond in enumerate(m.index):
            for c, arm in enumerate(m.columns):
                v = vals[r, c]
                if not np.isfinite(v):
                    continue
                k = int(np.clip((v - vmin) / (vmax - vmin), 0, 1) * 255)
                bg = QtGui.QColor(*[int(x) for x in lut[k][:3]])
                txt = pg.TextItem(f"{round(v, 1) + 0.0:.1f}".replace("-", "−"), color=readable_on(bg), anchor=(0.5, 0.5))
                txt.setFont(font)
                txt.setPos(c + 0.5, r + 0.5)
                plot.addItem(txt)
                self.texts.append(txt)
                self._register(arm, txt, "text")
                row = info.loc[(cond, arm)]
                nc = int(row.n_conditions)
                what = f"{self.row_label(cond)} (mean of {nc} severities)" if nc > 1 else self.row_label(cond)
                spots.append({"pos": (c + 0.5, r + 0.5), "data": {
                    "arm": arm, "condition": cond,
                    "tip": f"{arm} · {what}\nrelative drop {v:.1f}% of clean accuracy"
                           f"{' (better than clean)' if v < 0 else ''}\n"
                           f"accuracy {pct(row.clean_accuracy)} clean → {pct(row.shifted_accuracy)} shifted"}})
        hover = pg.ScatterPlotItem(spots=spots, symbol="s", size=1.0, pxMode=False, pen=None,
                                   brush=pg.mkBrush(0, 0, 0, 0))
        hoverable(hover, hover_tip)
        hover.sigClicked.connect(lambda _s, pts, _ev: pts and self.armClicked.emit(pts[0].data()["arm"]))
        plot.addItem(hover)
        veil_color = QtGui.QColor(t.background)
        for c, arm in enumerate(m.columns):
            veil = QtWidgets.QGraphicsRectItem(QtCore.QRectF(c, 0, 1, n_rows))
            veil.setPen(pg.mkPen(None))
            veil.setBrush(pg.mkBrush(veil_color))
            veil.setZValue(5)
            plot.addItem(veil)
            outline = QtWidgets.QGraphicsRectItem(QtCore.QRectF(c + 0.02, 0.02, 0.96, n_rows - 0.04))
            outline.setPen(pg.mkPen(pal.color(arm), width=3))
            outline.setBrush(pg.mkBrush(None))
            outline.setZValue(15)
            plot.addItem(outline)
            self._register(arm, veil, "mask")
            self._register(arm, outline, "outline", width=3.0, main=True)
        plot.setXRange(0, n_cols, padding=0)
        plot.setYRange(0, n_rows, padding=0)
        bar = pg.ColorBarItem(values=(vmin, vmax), colorMap=cmap, interactive=False, width=12, colorMapMenu=False)
        bar.setImageItem(img)
        bax = bar.getAxis("right") if bar.getAxis("right").isVisible() else bar.getAxis("left")
        for name in ("left", "right", "bottom", "top"):
            ax = bar.getAxis(name)
            ax.setPen(pg.mkPen(t.axis))
            ax.setTextPen(pg.mkPen(t.axis))
            ax.setStyle(tickFont=self.plot.getAxis("left").style.get("tickFont"))
        bax.setLabel("relative drop (% of clean)", color=t.foreground, **{"font-size": "8.5pt"})
        self._add(bar, 0, 1)
        self.colorbar = bar


# --------------------------------------------------------------------------------------------
# accuracy on the line


ON_THE_LINE_LEGEND_TIP = (
    "<p><b>ER</b> — effective robustness: how many percentage points a model's shifted accuracy lies above "
    "(+) or below (−) what the fitted line predicts from its clean accuracy. Positive means more robust than "
    "its clean accuracy alone would suggest.</p>"
    "<p><b>probit fit</b> — the straight line through all points after a probit transform of both axes "
    "(Miller et al. 2021, “accuracy on the line”); R² says how well one line explains them.</p>"
    "<p><b>y = x</b> — no loss at all under the shift.</p>")


class OnTheLineChart(ShiftChart):
    chart_id = "on_the_line"
    title = "Clean vs shifted accuracy"
    description = ("Each point is one model and seed: clean accuracy across, accuracy under the corruptions up, "
                   "on probit scales; models above the fitted line are more robust than their clean accuracy predicts.")
    REPORT_SIZE = (620, 500)

    def _draw(self, results: ShiftResults) -> None:
        rob = results.robustness
        pts_ = rob.points
        if pts_ is None or pts_.empty:
            self._show_message("Clean and corrupted results are both needed")
            return
        pal = self._palette()
        t = self._theme
        fit = rob.fit
        f = pts_.copy()
        f["fit_prediction"] = fit.predict(f.id_acc.to_numpy(float)) if fit is not None else np.nan
        self._frame = pd.DataFrame({
            "arm": f.arm.astype(str), "seed": f.seed, "id_accuracy": f.id_acc, "shifted_accuracy": f.shifted_acc,
            "effective_robustness": f.effective_robustness, "fit_prediction": f.fit_prediction,
        }).reset_index(drop=True)
        self._new_legend()
        plot = self._new_plot(axisItems={"left": ProbitAxis("left"), "bottom": ProbitAxis("bottom")})
        self._label_axes("Clean accuracy (probit scale)", "Shifted accuracy")
        x_all = probit(f.id_acc.to_numpy(float))
        y_all = probit(f.shifted_acc.to_numpy(float))
        lo = float(min(x_all.min(), y_all.min()))
        hi = float(max(x_all.max(), y_all.max()))
        pad = max(0.08 * (hi - lo), 0.05)
        lo, hi = lo - pad, hi + pad
        per_arm = rob.per_arm.set_index("arm") if rob.per_arm is not None and not rob.per_arm.empty else None
        for arm in results.arms:
            g = f[f.arm == arm]
            if g.empty:
                continue
            color = pal.color(arm)
            er = float(per_arm.effective_robustness.get(arm, np.nan)) if per_arm is not None else np.nan
            name = f"{arm}: ER {pts(er)} pts" if np.isfinite(er) else arm
            spots = [{
                "pos": (float(probit(a)), float(probit(b))),
                "data": {"arm": arm, "tip": f"{arm} · seed {int(s)}\nclean {pct(a)} → corrupted (mean) {pct(b)}\n"
                                            f"effective robustness {pts(e)} pts"}}
                for a, b, s, e in zip(g.id_acc, g.shifted_acc, g.seed, g.effective_robustness)]
            sc = pg.ScatterPlotItem(spots=spots, symbol=pal.symbol(arm), size=10, brush=pg.mkBrush(color),
                                    pen=pg.mkPen(t.background, width=1), antialias=True)
            hoverable(sc, hover_tip)
            self._connect_click(sc, arm)
            plot.addItem(sc)
            self._legend_add(sc, name, arm)
            self._register(arm, sc, "scatter", color=color, width=2.0, size=10.0, main=True)
        diag = pg.PlotDataItem([lo, hi], [lo, hi], pen=pg.mkPen(t.axis, width=1.2, style=QtCore.Qt.PenStyle.DashLine))
        diag.setZValue(-2)
        plot.addItem(diag)
        self.diagonal = diag
        self.fit_line = None
        if fit is not None:
            xs = np.array([lo, hi])
            line = pg.PlotDataItem(xs, fit.slope * xs + fit.intercept, pen=pg.mkPen(t.foreground, width=1.6), antialias=True)
            line.setZValue(-1)
            plot.addItem(line)
            self.fit_line = line
            self._legend_add(line, f"probit fit (R² {fit.r2:.2f})")
        self._legend_add(diag, "y = x")
        self.legend.setToolTip(ON_THE_LINE_LEGEND_TIP)
        plot.setXRange(lo, hi, padding=0)
        plot.setYRange(lo, hi, padding=0)


# --------------------------------------------------------------------------------------------
# reliability diagram


RELIABILITY_LEGEND_TIP = (
    "<p>Each point is a group of predictions with similar confidence: across, how confident the model was; "
    "up, how often it was right. On the dashed line confidence matches accuracy.</p>"
    "<p><b>ECE</b> — expected calibration error: the average gap between confidence and accuracy over the 15 "
    "confidence bins, weighted by how many predictions each holds (0% is perfectly calibrated).</p>"
    "<p>The bars underneath count the predictions in each bin: points over few predictions are noisy.</p>")


class ReliabilityChart(ShiftChart):
    chart_id = "reliability"
    N_BINS = 15
    title = "Reliability"
    description = ("Whether confidence can be trusted: for predictions grouped by confidence, how often they were "
                   "right; points on the dashed diagonal are perfectly calibrated, below it over-confident.")

    REPORT_SIZE = (620, 470)

    def __init__(self, results: ShiftResults | None = None, theme: str = "light", condition: str = "clean", parent=None):
        self._condition = condition
        super().__init__(results, theme, parent)

    @classmethod
    def for_report(cls, results: ShiftResults, ref: ChartRef, theme: str = "light") -> ReliabilityChart:
        return cls(results, theme=theme, condition=ref.params.get("condition", "clean"))

    @property
    def condition(self) -> str:
        return self._condition

    def conditions(self) -> list[str]:
        if self._results is None:
            return []
        have = set(self._results.reliability.condition) if not self._results.reliability.empty else set()
        return [c for c in self._results.conditions if c in have]

    def set_condition(self, condition: str) -> None:
        self._condition = condition
        self.redraw()

    def ece(self, arm: str) -> float:
        """ECE for the chosen condition: the mean over seeds of the stored per-cell ECE (as in the
        table); from the pooled bins when no ECE was stored."""
        cells = self._results.cells
        sel = cells[(cells.metric == "ece") & (cells.arm == arm) & (cells.condition == self._condition)]
        if not sel.empty:
            return float(sel.value.mean())
        b = self._frame[self._frame.arm == arm]
        if b.empty:
            return float("nan")
        return float(np.sum(b["count"] * (b.accuracy - b.confidence).abs()) / b["count"].sum())

    def _draw(self, results: ShiftResults) -> None:
        rel = results.reliability
        conds = self.conditions()
        if not conds:
            self._show_message("No per-example predictions stored")
            return
        if self._condition not in conds:
            self._condition = "clean" if "clean" in conds else conds[0]
        sel = rel[rel.condition == self._condition].sort_values(["arm", "bin"])
        self._frame = pd.DataFrame({
            "arm": sel.arm.astype(str), "condition": sel.condition.astype(str), "bin": sel["bin"].astype(int),
            "confidence": sel.confidence.astype(float), "accuracy": sel.accuracy.astype(float), "count": sel["count"].astype(int),
        }).reset_index(drop=True)
        pal = self._palette()
        t = self._theme
        self._new_legend()
        plot = self._new_plot()
        self._label_axes("Confidence (%)", "Accuracy (%)")
        for name in ("left", "bottom"):
            plot.getAxis(name).setTicks([[(v, str(v)) for v in range(0, 101, 20)]])
        diag = pg.PlotDataItem([0, 100], [0, 100], pen=pg.mkPen(t.axis, width=1.2, style=QtCore.Qt.PenStyle.DashLine))
        diag.setZValue(-2)
        plot.addItem(diag)
        self.diagonal = diag
        for arm in results.arms:
            g = self._frame[self._frame.arm == arm]
            if g.empty:
                continue
            color = pal.color(arm)
            lo, hi = _wilson(g.accuracy.to_numpy(float), g["count"].to_numpy(float))
            tips = [{"arm": arm, "tip": f"{arm} · {self._condition}\nconfidence {pct(c)} → accuracy {pct(a)} "
                                        f"(95% CI {pct(l)}–{pct(h)}, Wilson)\n{int(n)} predictions (seeds pooled)"}
                    for c, a, n, l, h in zip(g.confidence, g.accuracy, g["count"], lo, hi)]
            # marker area grows with the number of predictions in the bin (sparse bins are noisy)
            sizes = 5.0 + 2.2 * np.log10(np.maximum(g["count"].to_numpy(float), 1.0))
            curve = pg.PlotDataItem(100 * g.confidence.to_numpy(float), 100 * g.accuracy.to_numpy(float),
                                    pen=pg.mkPen(color, width=1.6), symbol=pal.symbol(arm), symbolSize=sizes,
                                    symbolBrush=color, symbolPen=pg.mkPen(t.background, width=1), antialias=True, data=tips)
            hoverable(curve.scatter, hover_tip)
            self._connect_click(curve.scatter, arm)
            plot.addItem(curve)
            self._legend_add(curve, f"{arm}: ECE {pct(self.ece(arm))}", arm)
            self._register(arm, curve, "line", color=color, width=1.6, size=sizes, main=True)
        self._legend_add(diag, "calibrated")
        self.legend.setToolTip(RELIABILITY_LEGEND_TIP)
        plot.setXRange(-2, 102, padding=0)
        plot.setYRange(-3, 103, padding=0)
        plot.getAxis("bottom").setLabel("")
        plot.getAxis("bottom").setStyle(showValues=False)  # the counts strip below carries the scale
        self.counts_plot = self._draw_counts(results.arms, pal)

    def _draw_counts(self, arms: list[str], pal) -> pg.PlotItem:
        """How many predictions fall in each confidence bin, per arm: a sparse bin is a noisy point."""
        t = self._theme
        main = self.plot
        counts = self._new_plot(row=1, col=0)
        self.plot = main  # the diagram stays the chart's main plot
        counts.enableAutoRange(x=False, y=False)
        counts.setXRange(-2, 102, padding=0)
        counts.setXLink(main)
        counts.setMaximumHeight(64)
        counts.setMinimumHeight(52)
        counts.showGrid(x=False, y=False)
        counts.getAxis("left").setTicks(None)
        counts.setLabel("bottom", "Confidence (%)", color=t.foreground, **{"font-size": "9.5pt"})
        counts.setLabel("left", "n", color=t.foreground, **{"font-size": "8.5pt"})
        counts.getAxis("bottom").setTicks([[(v, str(v)) for v in range(0, 101, 20)]])
        width = 100.0 / self.N_BINS
        shown = [a for a in arms if not self._frame[self._frame.arm == a].empty]
        step = width * 0.8 / max(1, len(shown))
        top = 1.0
        for k, arm in enumerate(shown):
            g = self._frame[self._frame.arm == arm]
            x = (g["bin"].to_numpy(float) + 0.1) * width + (k + 0.5) * step
            n = g["count"].to_numpy(float)
            top = max(top, float(n.max()))
            bars = pg.BarGraphItem(x=x, height=n, width=step, brush=pal.qcolor(arm, 200), pen=pg.mkPen(None))
            bars.setToolTip(f"{arm}: predictions per confidence bin ({int(n.sum())} in all)")
            counts.addItem(bars)
            self._register(arm, bars, "text")
        counts.setYRange(0, top * 1.05, padding=0)
        counts.getAxis("left").setTicks([[(top, f"{int(top):,}")]])
        self.ci.layout.setRowStretchFactor(self._top, 5)
        self.ci.layout.setRowStretchFactor(self._top + 1, 1)
        return counts


def _wilson(p: np.ndarray, n: np.ndarray, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion p observed on n trials."""
    n = np.maximum(n, 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


CHARTS: dict[str, type[ShiftChart]] = {c.chart_id: c for c in (SeverityChart, DropHeatmap, OnTheLineChart, ReliabilityChart)}
