"""What every chart of arms shares, whatever the study kind: the Okabe–Ito palette, marker shapes and
themes (:class:`ArmPalette`), number formatting, the probit axis, linked highlighting and the
:class:`ArmChart` base class. A kind's chart classes are in ``views/kinds/<kind>/charts.py``;
``views.charts`` exports charts to files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
import shiboken6
from pyqtgraph.graphicsItems.LegendItem import ItemSample
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6 import QtCore, QtGui, QtWidgets

from engine.stats import probit
from views.theme import COLOURS

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


THEMES = {  # chart colours follow the application theme (views.theme): surface, text, muted text
    "light": Theme("light", COLOURS["light"].surface, COLOURS["light"].text, COLOURS["light"].muted, 0.14, 46, 0.22,
                   ("#FFF7EC", "#FDD49E", "#FC8D59", "#D7301F", "#7F0000")),
    "dark": Theme("dark", COLOURS["dark"].surface, COLOURS["dark"].text, COLOURS["dark"].muted, 0.16, 56, 0.25,
                  ("#2C3036", "#5C2A1E", "#B5401C", "#F07F2D", "#FFD08A")),
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


def _rounded(v: float, digits: int) -> float:
    """Round for display; a value that rounds to zero is +0, never "-0.0"."""
    return round(float(v), digits) + 0.0


def pct(v: float, digits: int = 1) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{_rounded(100 * v, digits):.{digits}f}%".replace("-", "−")


def pts(v: float, digits: int = 1) -> str:
    """A difference of proportions in percentage points, with a real minus sign ("±0.0" when it
    rounds to nothing)."""
    if v is None or not np.isfinite(v):
        return "–"
    r = _rounded(100 * v, digits)
    if r == 0:
        return f"±{0:.{digits}f}"
    return f"{r:+.{digits}f}".replace("-", "−")


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
        self.chart: ArmChart | None = None

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


class ArmChart(pg.GraphicsLayoutWidget):
    """Base class: a themed layout with one plot, a legend above it and per-arm item bookkeeping.

    ``results`` is the kind's results object, with ``arms`` (the arm names); a subclass draws it in
    ``_draw``, says in ``has_data`` whether there is anything to draw, and, to be drawn in reports,
    overrides ``for_report`` / ``report_size`` when its ``ChartRef`` params or size matter."""

    chart_id = "chart"
    title = ""
    description = ""
    armClicked = QtCore.Signal(str)
    REPORT_SIZE = (720, 450)

    def __init__(self, results: Any = None, theme: str = "light", parent=None):
        super().__init__(parent=parent)
        self._results: Any = None
        self._theme = theme_of(theme)
        self._highlight: str | None = None
        self._arm_items: dict[str, list[_ArmItem]] = {}
        self._styles: dict[str, dict[str, float]] = {}
        self._frame = pd.DataFrame()
        self._title: str | None = None  # drawn above the chart (exports only)
        self._top = 0  # the layout row where the chart's own items start
        self.plot: pg.PlotItem | None = None
        self.legend: pg.LegendItem | None = None
        self.message: str = ""
        self.setAccessibleName(self.title)
        self.setAccessibleDescription(self.description)
        self.setMinimumSize(260, 180)
        self.ci.setContentsMargins(6, 4, 10, 6)
        # The layout of plot and legend must always fill the view. Rebuilding a chart (new results,
        # another study, a theme switch) makes Qt re-activate the top-level layout later, and that
        # shrinks it to its preferred size (a ~20 px smudge until the window is resized): put it back.
        self.ci.geometryChanged.connect(self._fill_view)
        self.ci.setSpacing(2)
        if results is not None:
            self.set_results(results)
        else:
            self.redraw()

    # -- public API ------------------------------------------------------------------------

    @classmethod
    def for_report(cls, results: Any, ref: Any, theme: str = "light") -> "ArmChart":
        """The chart a report's ``ChartRef`` asks for (``views.kinds.base.ReportChart``)."""
        return cls(results, theme=theme)

    @classmethod
    def report_size(cls, ref: Any) -> tuple[int, int]:
        """Its logical size in a report."""
        return cls.REPORT_SIZE

    def has_data(self, results: Any) -> bool:
        """Whether ``results`` hold anything this chart can draw (otherwise it says "No results yet")."""
        return results is not None

    @property
    def results(self) -> Any:
        return self._results

    @property
    def theme(self) -> Theme:
        return self._theme

    @property
    def highlighted(self) -> str | None:
        return self._highlight

    def set_results(self, results: Any) -> None:
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

    def set_title(self, title: str | None) -> None:
        """A title drawn above the chart (for an exported file), or None for none."""
        self._title = title
        self.redraw()

    def redraw(self) -> None:
        self._arm_items = {}
        release_menus(self)
        self.ci.clear()
        self.plot = None
        self.legend = None
        self.message = ""
        self.setBackground(self._theme.background)
        self._frame = pd.DataFrame()
        self._top = 0
        if self._title:
            self.ci.addLabel(self._title, row=0, col=0, colspan=2, color=self._theme.foreground, size="11pt",
                             bold=True, justify="left")
            self._top = 1
        if not self.has_data(self._results):
            self._show_message("No results yet")
        else:
            self._draw(self._results)
        self._apply_highlight()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API): rebuilt while hidden (another tab)
        super().showEvent(event)
        self._fill_view()

    def _fill_view(self) -> None:
        view = QtCore.QRectF(0, 0, self.width(), self.height())
        if self.isVisible() and self.ci.geometry() != view and view.height() > 0:
            self.ci.setGeometry(view)

    # -- for subclasses ----------------------------------------------------------------------

    def _draw(self, results: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _add(self, item, row: int = 0, col: int = 0, rowspan: int = 1, colspan: int = 1) -> None:
        """Place a plot, legend or colour bar in the chart's grid (below the title, if any)."""
        self.ci.addItem(item, row=row + self._top, col=col, rowspan=rowspan, colspan=colspan)

    def _show_message(self, text: str) -> None:
        self.message = text
        self.ci.addLabel(text, row=self._top, col=0, color=self._theme.axis, size="10pt")

    def _new_plot(self, row: int = 0, col: int = 0, axisItems: dict | None = None) -> pg.PlotItem:
        t = self._theme
        plot = pg.PlotItem(axisItems=axisItems, enableMenu=False)  # no context menu: cheaper to build
        self._add(plot, row, col)
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
        self._add(legend, row, col, colspan=colspan)
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


def release_menus(view: pg.GraphicsView) -> None:
    """Delete the parentless context menus pyqtgraph builds for every plot and view box (charts here
    never show them). Left to Python's cycle collector, they were freed at an arbitrary moment — once
    in the middle of Qt restyling every widget for a theme switch, a segfault."""
    scene = view.scene()
    for item in scene.items() if scene is not None else []:
        for attr in ("ctrlMenu", "menu"):
            menu = getattr(item, attr, None)
            if isinstance(menu, QtWidgets.QMenu) and shiboken6.isValid(menu):
                menu.deleteLater()
                setattr(item, attr, None)


def hoverable(scatter: pg.ScatterPlotItem, tip) -> None:
    scatter.opts["hoverable"] = True
    scatter.opts["tip"] = tip


def hover_tip(x=None, y=None, data=None) -> str:
    return str(data.get("tip", "")) if isinstance(data, dict) else ""

