"""The Results page of a shift study: four linked charts, a metric table and a paired comparison.

``ResultsPage.set_results(results, compare)`` takes a ``ShiftResults`` (read in the background with
``engine.results.load_shift_results``) and an optional ``compare(arm_a, arm_b, condition)`` callable
returning an ``engine.stats.PairedComparison`` (run here with ``views.tasks.run_in_background``, so it
may be slow). Drawing works on the aggregated tables only, never on per-example rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal

from engine.metrics import METRICS
from engine.results import ShiftResults
from engine.stats import PairedComparison
from views import charts as C
from views.tasks import run_in_background

EMPTY_TEXT = "No results yet — run the study"
PERCENT_METRICS = {"accuracy", "macro_f1", "ece", "worst_group_accuracy"}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1

Compare = Callable[[str, str, str], PairedComparison]

_PAGE_STYLE = {
    "light": {"frame_bg": "#FFFFFF", "border": "#D0D7DE", "title": "#1F2328", "muted": "#57606A",
              "page_bg": "#F6F8FA", "good": "#1A7F37", "accent": "#0969DA"},
    "dark": {"frame_bg": "#1E2127", "border": "#30363D", "title": "#E6EDF3", "muted": "#9DA7B3",
             "page_bg": "#16181D", "good": "#3FB950", "accent": "#58A6FF"},
}


# --------------------------------------------------------------------------------------------
# wording


def _p_text(p: float) -> str:
    """Conventional p-value wording; no false precision below 0.01 (a bootstrap p-value from R
    resamples cannot be smaller than 2/(R + 1))."""
    if p is None or not np.isfinite(p):
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    if p < 0.01:
        return "< 0.01"
    return f"= {p:.2f}"


def _num(v: float) -> str:
    return f"{100 * v:.1f}".replace("-", "−")


def describe_comparison(arm_a: str, arm_b: str, condition: str, pc: PairedComparison, level: float = 0.95) -> str:
    """One plain sentence: the difference A − B in points, its interval and whether it is beyond noise."""
    verdict = "within noise" if pc.within_noise else "beyond noise"
    tests = []
    if pc.p_value is not None and np.isfinite(pc.p_value):
        tests.append(f"paired bootstrap p {_p_text(pc.p_value)}")
    tests.append(f"McNemar p {_p_text(pc.mcnemar_p)}")
    return (f"{arm_a} − {arm_b} on {condition}: {C.pts(pc.diff)} points "
            f"({int(round(level * 100))}% CI {_num(pc.low)} to {_num(pc.high)}) — {verdict} ({'; '.join(tests)})")


def describe_counts(arm_a: str, arm_b: str, pc: PairedComparison) -> str:
    return (f"Paired over {pc.n:,} predictions (same examples and seeds): {arm_a} right where {arm_b} was wrong "
            f"{pc.b:,} times, the reverse {pc.c:,} times.")


# --------------------------------------------------------------------------------------------
# table model


class FrameModel(QtCore.QAbstractTableModel):
    """A read-only table over a pandas frame, formatted once (no per-row Python work on paint)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._display: np.ndarray = np.empty((0, 0), dtype=object)
        self._sort: list[np.ndarray] = []
        self._headers: list[str] = []
        self._header_tips: list[str] = []
        self._numeric: list[bool] = []
        self._icons: dict[str, QtGui.QIcon] = {}
        self._icon_col = -1

    def set_table(self, display: pd.DataFrame, sort_keys: list[np.ndarray], header_tips: list[str],
                  numeric: list[bool], icons: dict[str, QtGui.QIcon] | None = None, icon_col: int = -1) -> None:
        self.beginResetModel()
        self._display = display.to_numpy(dtype=object)
        self._headers = list(display.columns)
        self._sort = sort_keys
        self._header_tips = header_tips
        self._numeric = numeric
        self._icons = icons or {}
        self._icon_col = icon_col
        self.endResetModel()

    def rowCount(self, parent=QtCore.QModelIndex()) -> int:
        return 0 if parent.isValid() else self._display.shape[0]

    def columnCount(self, parent=QtCore.QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display[r, c]
        if role == SORT_ROLE:
            v = self._sort[c][r]
            return v.item() if hasattr(v, "item") else v
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if self._numeric[c]:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.DecorationRole and c == self._icon_col:
            return self._icons.get(self._display[r, c])
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or section >= len(self._headers):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._header_tips[section]
        return None


class FilterProxy(QtCore.QSortFilterProxyModel):
    """Sorts by the raw values; keeps rows whose arm or condition contains every typed word."""

    def __init__(self, parent=None, columns: tuple[int, ...] = (0, 1)):
        super().__init__(parent)
        self._words: list[str] = []
        self._columns = columns
        self.setSortRole(SORT_ROLE)

    def set_filter_text(self, text: str) -> None:
        words = [w.lower() for w in text.split()]
        if hasattr(self, "beginFilterChange"):  # Qt ≥ 6.10
            self.beginFilterChange()
            self._words = words
            self.endFilterChange()
        else:  # pragma: no cover - older Qt
            self._words = words
            self.invalidateFilter()

    def filterAcceptsRow(self, row, parent) -> bool:
        if not self._words:
            return True
        m = self.sourceModel()
        text = " ".join(str(m.data(m.index(row, c, parent))) for c in self._columns).lower()
        return all(w in text for w in self._words)


# --------------------------------------------------------------------------------------------
# chart frame


class ChartFrame(QtWidgets.QFrame):
    """A chart with its title, an optional selector and an export button."""

    exportRequested = Signal(str, str)  # chart_id, format

    def __init__(self, chart: C.ShiftChart, selector_label: str | None = None, parent=None):
        super().__init__(parent)
        self.chart = chart
        self.setObjectName("chartFrame")
        self.setAccessibleName(f"{chart.title} chart")
        self.setAccessibleDescription(chart.description)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 4)
        lay.setSpacing(2)
        head = QtWidgets.QHBoxLayout()
        head.setSpacing(6)
        self.title = QtWidgets.QLabel(chart.title)
        self.title.setObjectName("chartTitle")
        self.title.setToolTip(f"<p>{chart.description}</p>")
        self.title.setAccessibleName(chart.title)
        head.addWidget(self.title)
        self.selector: QtWidgets.QComboBox | None = None
        if selector_label:
            self.selector = QtWidgets.QComboBox()
            self.selector.setAccessibleName(f"{chart.title}: {selector_label}")
            self.selector.setToolTip(selector_label)
            self.selector.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
            self.selector.setMinimumContentsLength(10)
            head.addWidget(self.selector)
        head.addStretch(1)
        self.export_button = QtWidgets.QToolButton()
        self.export_button.setText("Export ▾")
        self.export_button.setObjectName("exportButton")
        self.export_button.setAccessibleName(f"Export the {chart.title} chart")
        self.export_button.setToolTip("Save this chart as PNG or SVG, or its numbers as CSV")
        self.export_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.export_button.setAutoRaise(True)
        menu = QtWidgets.QMenu(self.export_button)
        for fmt, text in (("png", "PNG image…"), ("svg", "SVG vector image…"), ("csv", "CSV data…")):
            act = menu.addAction(text)
            act.triggered.connect(lambda _=False, f=fmt: self.exportRequested.emit(self.chart.chart_id, f))
        self.export_button.setMenu(menu)
        head.addWidget(self.export_button)
        lay.addLayout(head)
        lay.addWidget(chart, 1)


# --------------------------------------------------------------------------------------------
# the page


class ResultsPage(QtWidgets.QWidget):
    """Charts, table and paired comparison for one shift study's results."""

    armHighlighted = Signal(str)  # the highlighted arm, or "" when highlighting is cleared

    def __init__(self, parent=None, theme: str = "light"):
        super().__init__(parent)
        self.setObjectName("resultsPage")
        self.setAccessibleName("Results")
        self._theme = C.theme_of(theme).name
        self._results: ShiftResults | None = None
        self._compare: Compare | None = None
        self._highlight: str | None = None
        self._metric_cache: dict[str, pd.DataFrame] = {}
        self._cmp_generation = 0
        self._cmp_task = None
        self._last_dir = str(Path.home())
        self._building = False

        self._stack = QtWidgets.QStackedLayout(self)
        self._empty = QtWidgets.QLabel(EMPTY_TEXT)
        self._empty.setObjectName("emptyState")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setAccessibleName("No results")
        self._stack.addWidget(self._empty)
        self._content = QtWidgets.QWidget()
        self._stack.addWidget(self._content)
        self._build_content()
        self._apply_style()
        self._stack.setCurrentWidget(self._empty)

    # -- construction -----------------------------------------------------------------------

    def _build_content(self) -> None:
        outer = QtWidgets.QVBoxLayout(self._content)
        outer.setContentsMargins(12, 10, 12, 10)
        outer.setSpacing(8)

        # header: study summary and the arm strip
        head = QtWidgets.QHBoxLayout()
        head.setSpacing(10)
        titles = QtWidgets.QVBoxLayout()
        titles.setSpacing(0)
        self.heading = QtWidgets.QLabel()
        self.heading.setObjectName("pageHeading")
        self.subheading = QtWidgets.QLabel()
        self.subheading.setObjectName("pageSubheading")
        titles.addWidget(self.heading)
        titles.addWidget(self.subheading)
        head.addLayout(titles)
        head.addStretch(1)
        lbl = QtWidgets.QLabel("Highlight")
        lbl.setObjectName("muted")
        head.addWidget(lbl)
        self.arm_strip = QtWidgets.QWidget()
        self.arm_strip.setAccessibleName("Arms: click one to highlight it in every chart")
        self._arm_layout = QtWidgets.QHBoxLayout(self.arm_strip)
        self._arm_layout.setContentsMargins(0, 0, 0, 0)
        self._arm_layout.setSpacing(4)
        head.addWidget(self.arm_strip)
        self.arm_buttons: dict[str, QtWidgets.QToolButton] = {}
        outer.addLayout(head)

        # charts
        self.severity = C.SeverityChart(theme=self._theme)
        self.drop = C.DropHeatmap(theme=self._theme)
        self.on_the_line = C.OnTheLineChart(theme=self._theme)
        self.reliability = C.ReliabilityChart(theme=self._theme)
        self.charts: dict[str, C.ShiftChart] = {c.chart_id: c for c in (self.severity, self.drop, self.on_the_line, self.reliability)}
        self.frames: dict[str, ChartFrame] = {
            "severity": ChartFrame(self.severity, "Corruption"),
            "drop": ChartFrame(self.drop),
            "on_the_line": ChartFrame(self.on_the_line),
            "reliability": ChartFrame(self.reliability, "Condition"),
        }
        self.family_combo = self.frames["severity"].selector
        self.condition_combo_chart = self.frames["reliability"].selector
        self.family_combo.currentTextChanged.connect(self._family_changed)
        self.condition_combo_chart.currentTextChanged.connect(self._reliability_condition_changed)
        grid_w = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(grid_w)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(8)
        for i, key in enumerate(("severity", "drop", "on_the_line", "reliability")):
            frame = self.frames[key]
            frame.exportRequested.connect(self._export_dialog)
            grid.addWidget(frame, i // 2, i % 2)
            self.charts[key].armClicked.connect(self.toggle_highlight)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)

        # bottom: table and comparison
        bottom = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        bottom.setChildrenCollapsible(False)
        bottom.addWidget(self._build_table_panel())
        bottom.addWidget(self._build_compare_panel())
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        self._bottom = bottom

        split = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(grid_w)
        split.addWidget(bottom)
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 3)
        bottom.setMinimumHeight(200)
        grid_w.setMinimumHeight(360)
        self._split = split
        self._sized = False
        outer.addWidget(split, 1)

    def _build_table_panel(self) -> QtWidgets.QWidget:
        box = QtWidgets.QFrame()
        box.setObjectName("panel")
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(6)
        bar = QtWidgets.QHBoxLayout()
        title = QtWidgets.QLabel("Table")
        title.setObjectName("panelTitle")
        bar.addWidget(title)
        bar.addSpacing(8)
        mlabel = QtWidgets.QLabel("&Metric")
        bar.addWidget(mlabel)
        self.metric_combo = QtWidgets.QComboBox()
        self.metric_combo.setAccessibleName("Metric shown in the table")
        self.metric_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        mlabel.setBuddy(self.metric_combo)
        self.metric_combo.currentIndexChanged.connect(self._metric_changed)
        bar.addWidget(self.metric_combo)
        bar.addStretch(1)
        self.filter_edit = QtWidgets.QLineEdit()
        self.filter_edit.setPlaceholderText("Filter arms or conditions…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter the table by arm or condition")
        self.filter_edit.setToolTip("Type words that must all appear in the arm or condition, e.g. “cnn fog”")
        self.filter_edit.setMinimumWidth(220)
        self.filter_edit.textChanged.connect(self._filter_changed)
        bar.addWidget(self.filter_edit)
        self.row_count = QtWidgets.QLabel()
        self.row_count.setObjectName("muted")
        bar.addWidget(self.row_count)
        lay.addLayout(bar)
        self.model = FrameModel(self)
        self.proxy = FilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Results table")
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setHighlightSections(False)
        self.table.horizontalHeader().setResizeContentsPrecision(64)  # size columns from a sample of rows
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.setIconSize(QtCore.QSize(22, 12))
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        lay.addWidget(self.table, 1)
        return box

    def _build_compare_panel(self) -> QtWidgets.QWidget:
        box = QtWidgets.QFrame()
        box.setObjectName("panel")
        box.setAccessibleName("Compare two arms")
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(12, 8, 12, 10)
        lay.setSpacing(8)
        title = QtWidgets.QLabel("Compare two arms")
        title.setObjectName("panelTitle")
        title.setToolTip("<p>A paired comparison on the same test examples and seeds: the accuracy difference "
                         "with a paired-bootstrap 95% interval, and McNemar's test on the examples where "
                         "exactly one of the two is right. “Within noise” means the interval includes 0.</p>")
        lay.addWidget(title)
        form = QtWidgets.QGridLayout()
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(6)
        self.arm_a = QtWidgets.QComboBox()
        self.arm_b = QtWidgets.QComboBox()
        self.cmp_condition = QtWidgets.QComboBox()
        self.arm_a.setAccessibleName("Arm A")
        self.arm_b.setAccessibleName("Arm B")
        self.cmp_condition.setAccessibleName("Condition to compare on")
        self.cmp_condition.setMaxVisibleItems(20)
        la, lb, lc = QtWidgets.QLabel("Arm &A"), QtWidgets.QLabel("Arm &B"), QtWidgets.QLabel("C&ondition")
        la.setBuddy(self.arm_a)
        lb.setBuddy(self.arm_b)
        lc.setBuddy(self.cmp_condition)
        self.swap_button = QtWidgets.QToolButton()
        self.swap_button.setText("⇄")
        self.swap_button.setToolTip("Swap A and B")
        self.swap_button.setAccessibleName("Swap arm A and arm B")
        self.swap_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.swap_button.clicked.connect(self._swap_arms)
        form.addWidget(la, 0, 0)
        form.addWidget(self.arm_a, 0, 1)
        form.addWidget(self.swap_button, 0, 2, 2, 1)
        form.addWidget(lb, 1, 0)
        form.addWidget(self.arm_b, 1, 1)
        form.addWidget(lc, 2, 0)
        form.addWidget(self.cmp_condition, 2, 1, 1, 2)
        form.setColumnStretch(1, 1)
        lay.addLayout(form)
        self.cmp_result = QtWidgets.QLabel()
        self.cmp_result.setObjectName("compareResult")
        self.cmp_result.setWordWrap(True)
        self.cmp_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.cmp_result.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.cmp_result.setAccessibleName("Comparison result")
        self.cmp_detail = QtWidgets.QLabel()
        self.cmp_detail.setObjectName("muted")
        self.cmp_detail.setWordWrap(True)
        lay.addWidget(self.cmp_result)
        lay.addWidget(self.cmp_detail)
        lay.addStretch(1)
        self._cmp_timer = QtCore.QTimer(self)
        self._cmp_timer.setSingleShot(True)
        self._cmp_timer.setInterval(120)
        self._cmp_timer.timeout.connect(self.compare_now)
        for combo in (self.arm_a, self.arm_b, self.cmp_condition):
            combo.currentIndexChanged.connect(self._schedule_compare)
        return box

    # -- public API -------------------------------------------------------------------------

    @property
    def results(self) -> ShiftResults | None:
        return self._results

    @property
    def theme(self) -> str:
        return self._theme

    def set_results(self, results: ShiftResults | None, compare: Compare | None = None) -> None:
        """Show a study's results (None: the empty state). ``compare(a, b, condition)`` may be slow:
        it runs in a background thread."""
        self._results = results
        self._compare = compare
        self._metric_cache = {}
        self._cmp_generation += 1
        if results is None or results.accuracy is None or results.accuracy.empty:
            self._empty.setText(EMPTY_TEXT if results is None else
                                "No finished results for this study yet — run the study")
            self._stack.setCurrentWidget(self._empty)
            for chart in self.charts.values():
                chart.set_results(None)
            self._highlight = None
            return
        self._building = True
        try:
            self._fill_header(results)
            self._fill_selectors(results)
            for chart in self.charts.values():
                chart.set_results(results)
            self._fill_metric_combo(results)
            self._fill_compare(results)
        finally:
            self._building = False
        self._stack.setCurrentWidget(self._content)
        self._refresh_table()
        if self._highlight not in results.arms:
            self._highlight = None
        self.highlight_arm(self._highlight, emit=False)
        self._schedule_compare()

    def set_theme(self, theme: str) -> None:
        self._theme = C.theme_of(theme).name
        for chart in self.charts.values():
            chart.set_theme(self._theme)
        self._apply_style()
        if self._results is not None:
            self._rebuild_arm_strip(self._results.arms)
            self._refresh_table()
        self.highlight_arm(self._highlight, emit=False)

    def highlight_arm(self, arm: str | None, emit: bool = True) -> None:
        """Emphasise one arm in all four charts (None clears)."""
        arm = arm or None
        self._highlight = arm
        for chart in self.charts.values():
            chart.set_highlight(arm)
        for name, button in self.arm_buttons.items():
            button.blockSignals(True)
            button.setChecked(name == arm)
            button.blockSignals(False)
        if emit:
            self.armHighlighted.emit(arm or "")

    def toggle_highlight(self, arm: str) -> None:
        self.highlight_arm(None if arm == self._highlight else arm)

    @property
    def highlighted(self) -> str | None:
        return self._highlight

    def metric_frame(self, metric: str) -> pd.DataFrame:
        """arm × condition rows for the table: value, ci_low, ci_high, seed_sd, n_seeds, n."""
        if metric in self._metric_cache:
            return self._metric_cache[metric]
        r = self._results
        cols = ["arm", "condition", "value", "ci_low", "ci_high", "seed_sd", "n_seeds", "n"]
        if r is None:
            return pd.DataFrame(columns=cols)
        if metric == "accuracy":
            f = r.accuracy[cols].copy()
        else:
            c = r.cells[r.cells.metric == metric]
            if c.empty:
                f = pd.DataFrame(columns=cols)
            else:
                f = c.groupby(["arm", "condition"], sort=False).agg(
                    value=("value", "mean"), ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean"),
                    seed_sd=("value", "std"), n_seeds=("seed", "nunique"), n=("n", "sum"),
                ).reset_index()
                f["seed_sd"] = f.seed_sd.fillna(0.0)
                order = {c: i for i, c in enumerate(r.conditions)}
                f["_o"] = f.condition.map(order).fillna(len(order))
                f = f.sort_values(["_o", "arm"], kind="stable").drop(columns="_o").reset_index(drop=True)
        f["arm"] = f.arm.astype(str)
        f["condition"] = f.condition.astype(str)
        self._metric_cache[metric] = f
        return f

    @property
    def metric(self) -> str:
        return self.metric_combo.currentData() or "accuracy"

    def set_metric(self, metric: str) -> None:
        i = self.metric_combo.findData(metric)
        if i < 0:
            raise ValueError(f"No '{metric}' results in this study.")
        self.metric_combo.setCurrentIndex(i)

    def export_chart(self, chart_id: str, path: str | Path) -> Path:
        """Export one chart by file suffix (.png, .svg, .csv)."""
        chart = self.charts[chart_id]
        path = Path(path)
        if path.suffix.lower() == ".png":
            width = max(1200, 2 * chart.width()) if chart.isVisible() else 1600
            return C.export_png(chart, path, width=width)
        return C.export(chart, path)

    def compare_now(self) -> None:
        """Run the selected comparison (in the background) and show its sentence when it arrives."""
        self._cmp_timer.stop()
        r = self._results
        if r is None:
            return
        a, b, cond = self.arm_a.currentText(), self.arm_b.currentText(), self.cmp_condition.currentText()
        self._cmp_generation += 1
        gen = self._cmp_generation
        self.cmp_detail.setText("")
        if not a or not b or not cond:
            self._set_compare_text("Pick two arms and a condition.", "muted")
            return
        if a == b:
            self._set_compare_text("Pick two different arms to compare.", "muted")
            return
        if self._compare is None:
            self._set_compare_text("Paired comparisons are not available here.", "muted")
            return
        self._set_compare_text(f"Comparing {a} and {b} on {cond}…", "muted")
        self._cmp_task = run_in_background(
            self._compare, a, b, cond,
            on_done=lambda pc, g=gen, a=a, b=b, c=cond: self._compare_done(g, a, b, c, pc),
            on_error=lambda msg, g=gen: self._compare_failed(g, msg),
        )

    @property
    def compare_text(self) -> str:
        return self.cmp_result.text()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:  # first show: charts get about five eighths of the height, table 3/5 of the width
            self._sized = True
            h = max(self._split.height(), 600)
            self._split.setSizes([int(h * 0.66), h - int(h * 0.66)])
            w = max(self._bottom.width(), 800)
            self._bottom.setSizes([int(w * 0.6), w - int(w * 0.6)])

    # -- internals --------------------------------------------------------------------------

    def _fill_header(self, r: ShiftResults) -> None:
        seeds = int(r.cells.seed.nunique()) if "seed" in r.cells and not r.cells.empty else 0
        self.heading.setText(f"Results — {r.study}")
        parts = [f"{len(r.arms)} arm{'s' if len(r.arms) != 1 else ''}", f"{len(r.conditions)} conditions"]
        if seeds:
            parts.append(f"{seeds} seed{'s' if seeds != 1 else ''}")
        parts.append("intervals are 95% bootstrap CIs")
        self.subheading.setText(" · ".join(parts))
        self._rebuild_arm_strip(r.arms)

    def _rebuild_arm_strip(self, arms: list[str]) -> None:
        while self._arm_layout.count():
            item = self._arm_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.arm_buttons = {}
        pal = C.ArmPalette(arms, self._theme)
        for arm in arms:
            b = QtWidgets.QToolButton()
            b.setText(arm)
            b.setIcon(pal.icon(arm, 16))
            b.setIconSize(QtCore.QSize(26, 16))
            b.setCheckable(True)
            b.setAutoRaise(True)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            b.setAccessibleName(f"Highlight {arm}")
            b.setToolTip(f"Highlight {arm} ({C.MARKER_NAMES.get(pal.symbol(arm), pal.symbol(arm))} marker) in every chart; "
                         "click again to clear")
            b.setObjectName("armButton")
            b.toggled.connect(lambda on, a=arm: self.highlight_arm(a if on else None))
            self._arm_layout.addWidget(b)
            self.arm_buttons[arm] = b

    def _fill_selectors(self, r: ShiftResults) -> None:
        fams = list(r.corruption_families)
        keep = self.family_combo.currentText()
        self.family_combo.blockSignals(True)
        self.family_combo.clear()
        self.family_combo.addItems(fams)
        self.family_combo.setEnabled(bool(fams))
        self.family_combo.blockSignals(False)
        self.severity._results = r  # so default_family sees the new results before the first draw
        fam = keep if keep in fams else self.severity.default_family()
        if fam:
            self.family_combo.setCurrentText(fam)
        self.severity._family = fam
        have = set(r.reliability.condition) if not r.reliability.empty else set()
        conds = [c for c in r.conditions if c in have]
        keepc = self.condition_combo_chart.currentText()
        self.condition_combo_chart.blockSignals(True)
        self.condition_combo_chart.clear()
        self.condition_combo_chart.addItems(conds)
        self.condition_combo_chart.setEnabled(bool(conds))
        self.condition_combo_chart.blockSignals(False)
        cond = keepc if keepc in conds else ("clean" if "clean" in conds else (conds[0] if conds else ""))
        if cond:
            self.condition_combo_chart.setCurrentText(cond)
        self.reliability._condition = cond or "clean"

    def _fill_metric_combo(self, r: ShiftResults) -> None:
        present = list(dict.fromkeys(r.cells.metric)) if not r.cells.empty else []
        names = [m for m in METRICS if m in present or m == "accuracy"] + [m for m in present if m not in METRICS]
        keep = self.metric_combo.currentData()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        for i, m in enumerate(names):
            d = METRICS.get(m)
            self.metric_combo.addItem(d.label if d else m, m)
            if d:
                better = "higher is better" if d.higher_is_better else "lower is better"
                self.metric_combo.setItemData(i, f"{d.description} ({better})", Qt.ItemDataRole.ToolTipRole)
        self.metric_combo.setCurrentIndex(max(0, self.metric_combo.findData(keep if keep in names else "accuracy")))
        self.metric_combo.blockSignals(False)
        self._update_metric_tooltip()

    def _update_metric_tooltip(self) -> None:
        d = METRICS.get(self.metric)
        self.metric_combo.setToolTip(d.description if d else "")

    def _fill_compare(self, r: ShiftResults) -> None:
        keep = (self.arm_a.currentText(), self.arm_b.currentText(), self.cmp_condition.currentText())
        for combo, items in ((self.arm_a, r.arms), (self.arm_b, r.arms), (self.cmp_condition, r.conditions)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(items)
            combo.blockSignals(False)
        pal = C.ArmPalette(r.arms, self._theme)
        for combo in (self.arm_a, self.arm_b):
            for i, arm in enumerate(r.arms):
                combo.setItemIcon(i, pal.icon(arm, 14))
        a = keep[0] if keep[0] in r.arms else (r.arms[0] if r.arms else "")
        b = keep[1] if keep[1] in r.arms and keep[1] != a else next((x for x in r.arms if x != a), a)
        cond = keep[2] if keep[2] in r.conditions else ("clean" if "clean" in r.conditions else (r.conditions[0] if r.conditions else ""))
        for combo, v in ((self.arm_a, a), (self.arm_b, b), (self.cmp_condition, cond)):
            combo.blockSignals(True)
            combo.setCurrentText(v)
            combo.blockSignals(False)

    def _refresh_table(self) -> None:
        if self._results is None:
            return
        metric = self.metric
        f = self.metric_frame(metric)
        d = METRICS.get(metric)
        label = d.label if d else metric
        percent = metric in PERCENT_METRICS
        scale, unit, digits = (100.0, " (%)", 1) if percent else (1.0, "", 3)

        def fmt(values: pd.Series, signed: bool = False) -> list[str]:
            v = values.to_numpy(float) * scale
            out = np.char.mod(f"%.{digits}f", np.nan_to_num(v, nan=0.0)).astype(object)
            out[~np.isfinite(v)] = "–"
            return list(out)

        display = pd.DataFrame({
            "Arm": f.arm.to_numpy(object),
            "Condition": f.condition.to_numpy(object),
            f"{label}{unit}": fmt(f.value),
            "CI low": fmt(f.ci_low),
            "CI high": fmt(f.ci_high),
            "Seed sd": fmt(f.seed_sd),
            "Seeds": f.n_seeds.astype(int).astype(str).to_numpy(object),
            "n": np.char.mod("%d", f.n.to_numpy(np.int64)).astype(object),
        })
        cond_order = {c: i for i, c in enumerate(self._results.conditions)}
        sort_keys = [
            f.arm.to_numpy(object), f.condition.map(cond_order).fillna(len(cond_order)).to_numpy(float),
            f.value.to_numpy(float), f.ci_low.to_numpy(float), f.ci_high.to_numpy(float),
            f.seed_sd.to_numpy(float), f.n_seeds.to_numpy(float), f.n.to_numpy(float),
        ]
        desc = d.description if d else metric
        better = (" Higher is better." if d.higher_is_better else " Lower is better.") if d else ""
        tips = [
            "The arm (model or variant) that was evaluated.",
            "The test condition: clean, a corruption at a severity, or a label shift.",
            f"{desc}{better} Mean over seeds.",
            "Lower end of the 95% bootstrap confidence interval.",
            "Upper end of the 95% bootstrap confidence interval.",
            "Standard deviation of the value across training seeds (how much it moves from run to run)"
            + (", in percentage points." if percent else "."),
            "Number of seeds (independent training runs) averaged.",
            "Number of test predictions behind the value (examples × seeds).",
        ]
        numeric = [False, False, True, True, True, True, True, True]
        pal = C.ArmPalette(self._results.arms, self._theme)
        icons = {a: pal.icon(a, 12) for a in self._results.arms}
        header = self.table.horizontalHeader()
        sort_col, sort_order = header.sortIndicatorSection(), header.sortIndicatorOrder()
        self.model.set_table(display, sort_keys, tips, numeric, icons, icon_col=0)
        if 0 <= sort_col < len(display.columns):
            self.proxy.sort(sort_col, sort_order)
        self.table.resizeColumnsToContents()
        for c in range(2, 8):
            self.table.setColumnWidth(c, max(self.table.columnWidth(c), 64))
        self.table.setColumnWidth(1, self.table.columnWidth(1) + 16)
        self._update_row_count()

    def _update_row_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.row_count.setText(f"{shown} of {total} rows" if shown != total else f"{total} rows")

    def _apply_style(self) -> None:
        s = _PAGE_STYLE[self._theme]
        self.setStyleSheet(f"""
            QFrame#chartFrame, QFrame#panel {{
                background: {s['frame_bg']}; border: 1px solid {s['border']}; border-radius: 6px; }}
            QFrame#chartFrame QLabel, QFrame#panel QLabel {{ background: transparent; border: none; }}
            QLabel#chartTitle, QLabel#panelTitle {{ color: {s['title']}; font-weight: 600; font-size: 10.5pt; }}
            QLabel#chartInfo {{ color: {s['muted']}; }}
            QLabel#pageHeading {{ color: {s['title']}; font-weight: 600; font-size: 13pt; }}
            QLabel#pageSubheading, QLabel#muted {{ color: {s['muted']}; }}
            QLabel#emptyState {{ color: {s['muted']}; font-size: 14pt; }}
            QLabel#compareResult {{ color: {s['title']}; font-size: 10.5pt; }}
            QToolButton#armButton {{ padding: 2px 6px; border-radius: 4px; }}
            QToolButton#exportButton {{ padding: 2px 6px; border-radius: 4px; color: {s['title']}; }}
            QToolButton#exportButton::menu-indicator {{ image: none; width: 0px; }}
            QToolButton#armButton:checked {{ background: {s['border']}; font-weight: 600; }}
            QTableView {{ border: none; }}
        """)

    def _family_changed(self, fam: str) -> None:
        if self._building or not fam or self._results is None:
            return
        self.severity.set_family(fam)
        self.severity.set_highlight(self._highlight)

    def _reliability_condition_changed(self, cond: str) -> None:
        if self._building or not cond or self._results is None:
            return
        self.reliability.set_condition(cond)
        self.reliability.set_highlight(self._highlight)

    def _metric_changed(self, _i: int) -> None:
        self._update_metric_tooltip()
        self._refresh_table()

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self._update_row_count()

    def _swap_arms(self) -> None:
        a, b = self.arm_a.currentText(), self.arm_b.currentText()
        self.arm_a.blockSignals(True)
        self.arm_a.setCurrentText(b)
        self.arm_a.blockSignals(False)
        self.arm_b.setCurrentText(a)

    def _schedule_compare(self, *_: Any) -> None:
        if not self._building and self._results is not None:
            self._cmp_timer.start()

    def _set_compare_text(self, text: str, kind: str) -> None:
        s = _PAGE_STYLE[self._theme]
        color = {"muted": s["muted"], "beyond": s["title"], "within": s["title"], "error": "#CF222E" if self._theme == "light" else "#F85149"}[kind]
        weight = "600" if kind == "beyond" else "normal"
        self.cmp_result.setStyleSheet(f"color: {color}; font-weight: {weight};")
        self.cmp_result.setText(text)

    def _compare_done(self, gen: int, a: str, b: str, cond: str, pc: PairedComparison) -> None:
        if gen != self._cmp_generation:
            return  # a newer request (or new results) superseded this one
        try:
            self._set_compare_text(describe_comparison(a, b, cond, pc), "within" if pc.within_noise else "beyond")
            self.cmp_detail.setText(describe_counts(a, b, pc))
        except RuntimeError:  # the page was closed while the comparison ran
            pass

    def _compare_failed(self, gen: int, message: str) -> None:
        if gen != self._cmp_generation:
            return
        try:
            self._set_compare_text(f"The comparison could not be computed: {message}", "error")
        except RuntimeError:
            pass

    def _export_dialog(self, chart_id: str, fmt: str) -> None:
        chart = self.charts[chart_id]
        study = self._results.study if self._results is not None else "study"
        extra = ""
        if chart_id == "severity" and self.severity.family:
            extra = f"-{self.severity.family}"
        elif chart_id == "reliability":
            extra = f"-{self.reliability.condition.replace('/', '-')}"
        name = f"{study}-{chart_id}{extra}.{fmt}"
        filters = {"png": "PNG image (*.png)", "svg": "SVG image (*.svg)", "csv": "CSV table (*.csv)"}
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, f"Export {chart.title}", str(Path(self._last_dir) / name), filters[fmt])
        if not path:
            return
        if not path.lower().endswith("." + fmt):
            path += "." + fmt
        self._last_dir = str(Path(path).parent)
        try:
            self.export_chart(chart_id, path)
        except Exception as exc:  # shown to the user, never a traceback
            QtWidgets.QMessageBox.warning(self, "Export failed", f"The chart could not be saved to {path}: {exc}")
