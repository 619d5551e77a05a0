"""The shift-study charts, each defined once from a ``ShiftResults``.

The same class draws a chart on screen (it is a ``pg.GraphicsLayoutWidget``) and into a report:
build it hidden, then call :func:`export_png` / :func:`export_svg` / :func:`export_csv`. Every chart
has a ``title``, a one-sentence plain-language ``description`` (tooltip and report caption),
``to_frame()`` / ``csv_rows()`` with exactly the numbers it draws, hover tooltips on its points and
``set_highlight(arm)`` for linked highlighting.

Colours are the Okabe–Ito palette and every arm also gets a marker shape, both assigned by sorted
arm name (:class:`ArmPalette`), so an arm looks the same in every chart, table and report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6 import QtCore, QtGui, QtWidgets

from engine.results import ShiftResults
from engine.stats import probit

# --------------------------------------------------------------------------------------------
# palette, markers, themes

# Okabe–Ito, ordered so that the first arms get the most distinct hues on both backgrounds; the
# yellow (hard to see on white) comes last, and black becomes near-white on the dark theme.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
MARKERS = ["o", "t1", "s", "d", "t", "star", "p", "h", "x", "+"]
MARKER_NAMES = {"o": "circle", "t1": "triangle", "s": "square", "d": "diamond", "t": "down-triangle",
                "star": "star", "p": "pentagon", "h": "hexagon", "x": "cross", "+": "plus"}


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    foreground: str  # titles, labels, reference lines
    axis: str  # tick labels and axis lines
    grid_alpha: float
    band_alpha: int  # 0..255, CI bands
    dim_opacity: float  # opacity of the arms that are not highlighted
    heat: tuple[str, ...]  # sequential colour ramp for the heatmap, low -> high


THEMES = {
    "light": Theme("light", "#FFFFFF", "#1F2328", "#57606A", 0.14, 46, 0.22,
                   ("#FFF7EC", "#FDD49E", "#FC8D59", "#D7301F", "#7F0000")),
    "dark": Theme("dark", "#1E2127", "#E6EDF3", "#9DA7B3", 0.16, 56, 0.25,
                  ("#262A31", "#5C2A1E", "#B5401C", "#F07F2D", "#FFD08A")),
}


def theme_of(theme: str | Theme) -> Theme:
    if isinstance(theme, Theme):
        return theme
    try:
        return THEMES[theme]
    except KeyError:
        raise ValueError(f"Unknown theme {theme!r}; use 'light' or 'dark'.") from None


class ArmPalette:
    """Colour and marker per arm, by sorted arm name (the same everywhere)."""

    def __init__(self, arms, theme: str | Theme = "light"):
        self.arms = sorted(dict.fromkeys(arms))
        self.theme = theme_of(theme)
        self._index = {a: i for i, a in enumerate(self.arms)}

    def index(self, arm: str) -> int:
        return self._index.get(arm, len(self._index))

    def color(self, arm: str) -> str:
        c = OKABE_ITO[self.index(arm) % len(OKABE_ITO)]
        if c == "#000000" and self.theme.name == "dark":
            return "#F0F0F0"
        return c

    def qcolor(self, arm: str, alpha: int = 255) -> QtGui.QColor:
        q = QtGui.QColor(self.color(arm))
        q.setAlpha(alpha)
        return q

    def symbol(self, arm: str) -> str:
        return MARKERS[self.index(arm) % len(MARKERS)]

    def icon(self, arm: str, size: int = 18, line: bool = True) -> QtGui.QIcon:
        """A small legend swatch (line and marker) for buttons and table cells."""
        return QtGui.QIcon(self.pixmap(arm, size, line))

    def pixmap(self, arm: str, size: int = 18, line: bool = True) -> QtGui.QPixmap:
        w = int(size * 1.6) if line else size
        pm = QtGui.QPixmap(w, size)
        pm.fill(QtCore.Qt.GlobalColor.transparent)
        p = QtGui.QPainter(pm)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        color = self.qcolor(arm)
        if line:
            p.setPen(QtGui.QPen(color, 2))
            p.drawLine(QtCore.QPointF(1, size / 2), QtCore.QPointF(w - 1, size / 2))
        p.translate(w / 2, size / 2)
        drawSymbol(p, self.symbol(arm), size * 0.55, pg.mkPen(self.theme.background, width=1), pg.mkBrush(color))
        p.end()
        return pm


# --------------------------------------------------------------------------------------------
# formatting


def pct(v: float, digits: int = 1) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.{digits}f}%"


def pts(v: float, digits: int = 1) -> str:
    """A difference of proportions in percentage points, with a real minus sign."""
    if v is None or not np.isfinite(v):
        return "–"
    s = f"{100 * v:+.{digits}f}"
    return s.replace("-", "−")


def _prob_label(p: float) -> str:
    for d in range(0, 4):
        s = f"{100 * p:.{d}f}"
        if abs(float(s) - 100 * p) < 1e-9:
            return s + "%"
    return f"{100 * p:.3f}%"


# --------------------------------------------------------------------------------------------
# axis, legend sample


# probit-paper ticks, by priority: the first level is always tried first
_PROBIT_TICKS = (
    (0.1, 0.5, 0.9, 0.99, 0.999),
    (0.01, 0.05, 0.3, 0.7, 0.95, 0.995, 0.9999),
    (0.02, 0.2, 0.4, 0.6, 0.8, 0.98, 0.998, 0.9995),
    (0.001, 0.005, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.97, 0.985, 0.9975, 0.9998),
)


class ProbitAxis(pg.AxisItem):
    """An axis whose coordinates are probit(accuracy) and whose labels are accuracies in percent,
    at the usual probit-paper values (…, 90%, 95%, 99%, 99.9%), as many as fit without crowding."""

    def tickValues(self, minVal, maxVal, size):
        if not (np.isfinite(minVal) and np.isfinite(maxVal)) or maxVal <= minVal or size <= 0:
            return []
        min_gap = (maxVal - minVal) * (48 if self.orientation in ("bottom", "top") else 30) / size
        keep: list[float] = []
        for level in _PROBIT_TICKS:
            for p in level:
                z = float(probit(p))
                if minVal <= z <= maxVal and all(abs(z - k) >= min_gap for k in keep):
                    keep.append(z)
        return [(1.0, sorted(keep))]

    def tickStrings(self, values, scale, spacing):
        from scipy.stats import norm

        return [_prob_label(round(float(norm.cdf(v)), 6)) for v in values]


class _Sample(ItemSample):
    """Legend swatch that does not hide its curve when clicked (clicks highlight the arm instead)."""

    def __init__(self, item):
        super().__init__(item)
        self.arm: str | None = None
        self.chart: ShiftChart | None = None

    def mouseClickEvent(self, event):
        if event.button() == QtCore.Qt.MouseButton.LeftButton and self.chart is not None and self.arm:
            self.chart.armClicked.emit(self.arm)
        event.accept()


# --------------------------------------------------------------------------------------------
# arm items and highlighting


@dataclass
class _ArmItem:
    item: Any
    kind: str  # "line" | "scatter" | "fill" | "mask" | "outline" | "text"
    color: str = ""
    width: float = 2.0
    size: Any = 8.0  # a marker size, or one per point
    main: bool = False

    def apply(self, state: str, theme: Theme) -> tuple[float, float]:
        """state: 'normal' | 'hi' | 'dim'; returns (width, opacity) of the item."""
        k = self.kind
        width = {"normal": self.width, "hi": self.width * 1.8, "dim": max(1.0, self.width * 0.7)}[state]
        opacity = theme.dim_opacity if state == "dim" else 1.0
        if k == "line":
            self.item.opts["symbolSize"] = np.asarray(self.size) * (1.3 if state == "hi" else 1.0)
            self.item.setPen(pg.mkPen(self.color, width=width))  # re-styles the markers too
            self.item.setOpacity(opacity)
        elif k == "scatter":
            self.item.setSize(self.size * (1.3 if state == "hi" else 1.0))
            self.item.setPen(pg.mkPen(theme.background if state != "hi" else theme.foreground, width=width / 2))
            self.item.setOpacity(opacity)
        elif k == "fill":
            self.item.setOpacity(opacity if state == "dim" else 1.0)
        elif k == "text":
            self.item.setOpacity(opacity)
        elif k == "mask":  # a background-coloured veil over an arm's heatmap column
            veil = 1.0 - theme.dim_opacity * 1.6 if state == "dim" else 0.0
            self.item.setOpacity(veil)
            opacity = 1.0 - veil
            width = 0.0
        elif k == "outline":
            self.item.setVisible(state == "hi")
            width = self.width if state == "hi" else 0.0
            opacity = 1.0
        if hasattr(self.item, "setZValue") and k in ("line", "scatter"):
            self.item.setZValue(20 if state == "hi" else (10 if state == "normal" else 5))
        return width, opacity


# --------------------------------------------------------------------------------------------
# base class


class ShiftChart(pg.GraphicsLayoutWidget):
    """Base class: a themed layout with one plot, a legend above it and per-arm item bookkeeping."""

    chart_id = "chart"
    title = ""
    description = ""
    armClicked = QtCore.Signal(str)

    def __init__(self, results: ShiftResults | None = None, theme: str = "light", parent=None):
        super().__init__(parent=parent)
        self._results: ShiftResults | None = None
        self._theme = theme_of(theme)
        self._highlight: str | None = None
        self._arm_items: dict[str, list[_ArmItem]] = {}
        self._styles: dict[str, dict[str, float]] = {}
        self._frame = pd.DataFrame()
        self.plot: pg.PlotItem | None = None
        self.legend: pg.LegendItem | None = None
        self.message: str = ""
        self.setAccessibleName(self.title)
        self.setAccessibleDescription(self.description)
        self.setMinimumSize(260, 180)
        self.ci.setContentsMargins(6, 4, 10, 6)
        self.ci.setSpacing(2)
        if results is not None:
            self.set_results(results)
        else:
            self.redraw()

    # -- public API ------------------------------------------------------------------------

    @property
    def results(self) -> ShiftResults | None:
        return self._results

    @property
    def theme(self) -> Theme:
        return self._theme

    @property
    def highlighted(self) -> str | None:
        return self._highlight

    def set_results(self, results: ShiftResults | None) -> None:
        self._results = results
        if results is None or self._highlight not in (results.arms if results else []):
            self._highlight = None
        self.redraw()

    def set_theme(self, theme: str) -> None:
        self._theme = theme_of(theme)
        self.redraw()

    def set_highlight(self, arm: str | None) -> None:
        """Emphasise one arm (thicker, on top, full opacity) and dim the others; None clears."""
        self._highlight = arm or None
        self._apply_highlight()

    def arm_style(self, arm: str) -> dict[str, float]:
        """How an arm is drawn now: the pen width of its main item and the lowest opacity of its
        items (what highlighting changes)."""
        return dict(self._styles.get(arm, {"width": 0.0, "opacity": 1.0}))

    def arm_items(self, arm: str) -> list[Any]:
        return [e.item for e in self._arm_items.get(arm, [])]

    def to_frame(self) -> pd.DataFrame:
        """The numbers this chart draws, one row per drawn value."""
        return self._frame.copy()

    def csv_rows(self) -> list[list[Any]]:
        f = self._frame
        return [list(f.columns)] + f.astype(object).where(f.notna(), None).values.tolist()

    def redraw(self) -> None:
        self._arm_items = {}
        self.ci.clear()
        self.plot = None
        self.legend = None
        self.message = ""
        self.setBackground(self._theme.background)
        self._frame = pd.DataFrame()
        if self._results is None or self._results.accuracy.empty:
            self._show_message("No results yet")
        else:
            self._draw(self._results)
        self._apply_highlight()

    # -- for subclasses ----------------------------------------------------------------------

    def _draw(self, results: ShiftResults) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _show_message(self, text: str) -> None:
        self.message = text
        self.ci.addLabel(text, row=0, col=0, color=self._theme.axis, size="10pt")

    def _new_plot(self, row: int = 0, col: int = 0, axisItems: dict | None = None) -> pg.PlotItem:
        t = self._theme
        plot = pg.PlotItem(axisItems=axisItems)
        self.ci.addItem(plot, row=row, col=col)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        tick_font = QtGui.QFont()
        tick_font.setPointSizeF(8.5)
        for name in ("left", "bottom"):
            ax = plot.getAxis(name)
            ax.setPen(pg.mkPen(t.axis, width=1))
            ax.setTextPen(pg.mkPen(t.axis))
            ax.setStyle(tickFont=tick_font, tickTextOffset=4, tickLength=-4)
        plot.showGrid(x=True, y=True, alpha=t.grid_alpha)
        self.plot = plot
        return plot

    def _label_axes(self, bottom: str, left: str) -> None:
        style = {"color": self._theme.foreground, "font-size": "9.5pt"}
        self.plot.setLabel("bottom", bottom, **style)
        self.plot.setLabel("left", left, **style)

    def _new_legend(self, columns: int = 1, row: int = 0, col: int = 1, colspan: int = 1) -> pg.LegendItem:
        """A legend to the right of the plot (charts are wider than tall), one entry per line."""
        t = self._theme
        legend = pg.LegendItem(offset=None, labelTextColor=t.foreground, labelTextSize="8.5pt",
                               colCount=max(1, columns), frame=False, sampleType=_Sample,
                               horSpacing=4, verSpacing=-4)
        legend.setFlag(legend.GraphicsItemFlag.ItemIgnoresTransformations, False)
        legend.setSizePolicy(QtWidgets.QSizePolicy.Policy.Maximum, QtWidgets.QSizePolicy.Policy.Maximum)
        self.ci.addItem(legend, row=row, col=col, colspan=colspan)
        self.ci.layout.setAlignment(legend, QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop)
        self.legend = legend
        return legend

    def _legend_add(self, item, name: str, arm: str | None = None) -> None:
        self.legend.addItem(item, name + "\u2003")
        sample = self.legend.items[-1][0]
        sample.chart, sample.arm = self, arm
        self.legend.updateSize()

    def _register(self, arm: str, item, kind: str, *, color: str = "", width: float = 2.0, size: float = 8.0,
                  main: bool = False) -> None:
        self._arm_items.setdefault(arm, []).append(_ArmItem(item, kind, color, width, size, main))

    def _connect_click(self, scatter: pg.ScatterPlotItem, arm: str) -> None:
        scatter.sigClicked.connect(lambda *_a, _arm=arm: self.armClicked.emit(_arm))

    def _state(self, arm: str) -> str:
        if self._highlight is None:
            return "normal"
        return "hi" if arm == self._highlight else "dim"

    def _apply_highlight(self) -> None:
        self._styles = {}
        for arm, entries in self._arm_items.items():
            state = self._state(arm)
            width, opacity = 0.0, 1.0
            for e in entries:
                w, o = e.apply(state, self._theme)
                opacity = min(opacity, o)
                if e.main:
                    width = w
            self._styles[arm] = {"width": width, "opacity": opacity}

    def _palette(self) -> ArmPalette:
        return ArmPalette(self._results.arms, self._theme)


def _hoverable(scatter: pg.ScatterPlotItem, tip) -> None:
    scatter.opts["hoverable"] = True
    scatter.opts["tip"] = tip


def _tip(x=None, y=None, data=None) -> str:
    return str(data.get("tip", "")) if isinstance(data, dict) else ""


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
                {"tip": f"{arm} · {c}\naccuracy {pct(v)} (95% CI {pct(lo)}–{pct(hi)})\n"
                        f"seed sd {100 * sd:.1f} pts · {int(ns)} seed{'s' if ns != 1 else ''}", "arm": arm, "condition": c}
                for c, v, lo, hi, sd, ns in zip(g.condition, g.value, g.ci_low, g.ci_high, g.seed_sd, g.n_seeds)
            ]
            curve = pg.PlotDataItem(x, 100 * g.value.to_numpy(float), pen=pg.mkPen(color, width=2), symbol=pal.symbol(arm),
                                    symbolSize=8, symbolBrush=color, symbolPen=pg.mkPen(t.background, width=1),
                                    antialias=True, data=tips)
            _hoverable(curve.scatter, _tip)
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


def _luminance(c: QtGui.QColor) -> float:
    return 0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF()


class DropHeatmap(ShiftChart):
    chart_id = "drop"
    title = "Relative drop from clean"
    description = ("How much of its clean accuracy each model loses under each kind of shift, in percent of the "
                   "clean accuracy (corruption severities averaged); the stronger the colour, the bigger the loss.")

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
        left.setTicks([[(r + 0.5, str(c)) for r, c in enumerate(m.index)]])
        lf = left.style.get("tickFont") or QtGui.QFont()
        fm = QtGui.QFontMetrics(lf)
        left.setWidth(max(fm.horizontalAdvance(str(c)) for c in m.index) + 12)
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
                color = "#111111" if _luminance(bg) > 0.5 else "#FFFFFF"
                txt = pg.TextItem(f"{v:.1f}".replace("-", "−"), color=color, anchor=(0.5, 0.5))
                txt.setFont(font)
                txt.setPos(c + 0.5, r + 0.5)
                plot.addItem(txt)
                self.texts.append(txt)
                self._register(arm, txt, "text")
                row = info.loc[(cond, arm)]
                nc = int(row.n_conditions)
                what = f"{cond} (mean of {nc} severities)" if nc > 1 else cond
                spots.append({"pos": (c + 0.5, r + 0.5), "data": {
                    "arm": arm, "condition": cond,
                    "tip": f"{arm} · {what}\nrelative drop {v:.1f}% of clean accuracy"
                           f"{' (better than clean)' if v < 0 else ''}\n"
                           f"accuracy {pct(row.clean_accuracy)} clean → {pct(row.shifted_accuracy)} shifted"}})
        hover = pg.ScatterPlotItem(spots=spots, symbol="s", size=1.0, pxMode=False, pen=None,
                                   brush=pg.mkBrush(0, 0, 0, 0))
        _hoverable(hover, _tip)
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
        self.ci.addItem(bar, row=0, col=1)
        self.colorbar = bar


# --------------------------------------------------------------------------------------------
# accuracy on the line


class OnTheLineChart(ShiftChart):
    chart_id = "on_the_line"
    title = "Clean vs shifted accuracy"
    description = ("Each point is one model and seed: clean accuracy across, accuracy under the corruptions up, "
                   "on probit scales; models above the fitted line are more robust than their clean accuracy predicts.")

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
        n_extra = 2 if fit is not None else 1
        self._new_legend()
        plot = self._new_plot(axisItems={"left": ProbitAxis("left"), "bottom": ProbitAxis("bottom")})
        self._label_axes("Clean accuracy (probit scale)", "Shifted accuracy (probit)")
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
            _hoverable(sc, _tip)
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
        plot.setXRange(lo, hi, padding=0)
        plot.setYRange(lo, hi, padding=0)


# --------------------------------------------------------------------------------------------
# reliability diagram


class ReliabilityChart(ShiftChart):
    chart_id = "reliability"
    title = "Reliability"
    description = ("Whether confidence can be trusted: for predictions grouped by confidence, how often they were "
                   "right; points on the dashed diagonal are perfectly calibrated, below it over-confident.")

    def __init__(self, results: ShiftResults | None = None, theme: str = "light", condition: str = "clean", parent=None):
        self._condition = condition
        super().__init__(results, theme, parent)

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
            _hoverable(curve.scatter, _tip)
            self._connect_click(curve.scatter, arm)
            plot.addItem(curve)
            self._legend_add(curve, f"{arm}: ECE {pct(self.ece(arm))}", arm)
            self._register(arm, curve, "line", color=color, width=1.6, size=sizes, main=True)
        self._legend_add(diag, "calibrated")
        plot.setXRange(-2, 102, padding=0)
        plot.setYRange(-3, 103, padding=0)


def _wilson(p: np.ndarray, n: np.ndarray, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion p observed on n trials."""
    n = np.maximum(n, 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


CHARTS: dict[str, type[ShiftChart]] = {
    c.chart_id: c for c in (SeverityChart, DropHeatmap, OnTheLineChart, ReliabilityChart)
}


# --------------------------------------------------------------------------------------------
# export


DEFAULT_EXPORT_SIZE = (720, 450)


def _prepare(chart: ShiftChart, size: tuple[int, int] | None) -> None:
    """Lay out a chart that is not on screen (the report path) at ``size`` logical pixels."""
    if size is None and chart.isVisible():
        return
    w, h = size or DEFAULT_EXPORT_SIZE
    chart.resize(int(w), int(h))
    chart.resizeEvent(None)
    chart.ci.layout.activate()
    QtWidgets.QApplication.processEvents()


def export_png(chart: ShiftChart, path: str | Path, width: int = 1600, size: tuple[int, int] | None = None) -> Path:
    """Write the chart as a PNG ``width`` pixels wide (scaled up from its on-screen layout, so text
    stays proportionate). A hidden chart is laid out at ``size`` (default 720×450) first."""
    from pyqtgraph.exporters import ImageExporter

    _prepare(chart, size)
    exp = ImageExporter(chart.ci)
    exp.parameters()["width"] = int(width)
    path = Path(path)
    exp.export(str(path))
    return path


def export_svg(chart: ShiftChart, path: str | Path, size: tuple[int, int] | None = None) -> Path:
    """Write the chart as SVG (vector; the heatmap's cells are an embedded image).

    Rendered with Qt's own SVG generator: pyqtgraph's SVGExporter cannot parse the path data that
    recent Qt versions write (a trailing ``Z``)."""
    from PySide6.QtSvg import QSvgGenerator

    _prepare(chart, size)
    source = chart.ci.sceneBoundingRect()
    w, h = int(round(source.width())), int(round(source.height()))
    path = Path(path)
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QtCore.QSize(w, h))
    gen.setViewBox(QtCore.QRect(0, 0, w, h))
    # the screen's DPI, so that QPicture-cached items (axes) replay at the size they were recorded
    screen = QtGui.QGuiApplication.primaryScreen()
    gen.setResolution(int(round(screen.logicalDotsPerInchX())) if screen is not None else 96)
    gen.setTitle(chart.title)
    gen.setDescription(chart.description)
    painter = QtGui.QPainter(gen)
    # export mode: markers are drawn as vector paths instead of cached pixmap fragments
    items = [i for i in chart.scene().items() if hasattr(i, "setExportMode")]
    opts = {"painter": painter, "antialias": True, "background": QtGui.QColor(chart.theme.background), "resolutionScale": 1.0}
    try:
        for item in items:
            item.setExportMode(True, opts)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.fillRect(QtCore.QRectF(0, 0, w, h), QtGui.QColor(chart.theme.background))
        chart.scene().render(painter, QtCore.QRectF(0, 0, w, h), source)
    finally:
        painter.end()
        for item in items:
            item.setExportMode(False, None)
    return path


def export_csv(chart: ShiftChart, path: str | Path) -> Path:
    path = Path(path)
    chart.to_frame().to_csv(path, index=False)
    return path


def export(chart: ShiftChart, path: str | Path, **kw) -> Path:
    """Export by file suffix: .png, .svg or .csv."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return export_png(chart, path, **kw)
    if suffix == ".svg":
        return export_svg(chart, path, **{k: v for k, v in kw.items() if k == "size"})
    if suffix == ".csv":
        return export_csv(chart, path)
    raise ValueError(f"Cannot export a chart as '{suffix}'; use .png, .svg or .csv.")
