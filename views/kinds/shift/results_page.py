"""The Results page of a shift study: four linked charts, a metric table and a paired comparison.

``ResultsPage.set_results(results, compare)`` takes a ``ShiftResults`` (read in the background with
``Project.results``) and an optional ``compare(arm_a, arm_b, condition)`` callable returning an
``engine.stats.PairedComparison`` (the shift views' ``extra``; run here with
``views.tasks.run_in_background``, so it may be slow). Drawing works on the aggregated tables only,
never on per-example rows. The page keeps the ``views.kinds.base.ResultsView`` API the app uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Qt, Signal

from engine.metrics import METRICS, PERCENT_METRICS
from engine.kinds.shift.results import ShiftResults
from engine.conditions.catalog import condition_label, family_label
from engine.stats import PairedComparison
from views import charts as C
from views.condition_combo import ConditionCombo
from views.kinds.shift import charts as K
from views.kinds.shift.compare_panel import ComparePanelMixin
from views.results_widgets import ChartFrame, FilterProxy, FrameModel, scrolling_page
from views.theme import current_name, set_tone, watch_theme

EMPTY_TEXT = "No results yet — run the study"

Compare = Callable[[str, str, str], PairedComparison]


# --------------------------------------------------------------------------------------------
# the page


class ResultsPage(ComparePanelMixin, QtWidgets.QWidget):
    """Charts, table and paired comparison for one shift study's results."""

    armHighlighted = Signal(str)  # the highlighted arm, or "" when highlighting is cleared

    def __init__(self, parent=None, theme: str = "light"):
        super().__init__(parent)
        self.setObjectName("resultsPage")
        self.setAccessibleName("Results")
        self._theme = C.theme_of(theme if theme else current_name()).name
        self._study = ""
        self._export_folder = lambda: str(Path.home())
        self._results: ShiftResults | None = None
        self._compare: Compare | None = None
        self._highlight: str | None = None
        self._metric_cache: dict[str, pd.DataFrame] = {}
        self._cmp_generation = 0
        self._cmp_task = None
        self._last_dir: str | None = None  # where the user last saved an export
        self._building = False

        self._stack, self._empty, self._content, self.scroll_area = scrolling_page(self, EMPTY_TEXT)
        self._build_content()
        self._stack.setCurrentWidget(self._empty)
        watch_theme(self, lambda c: self.set_theme(c.name))

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
        self.banner = QtWidgets.QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setAccessibleName("About these results")
        self.banner.hide()
        outer.addWidget(self.banner)
        self.saved_label = QtWidgets.QLabel()
        self.saved_label.setWordWrap(True)
        self.saved_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.saved_label.setAccessibleName("Export result")
        self.saved_label.hide()
        outer.addWidget(self.saved_label)

        # charts
        self.severity = K.SeverityChart(theme=self._theme)
        self.drop = K.DropHeatmap(theme=self._theme)
        self.on_the_line = K.OnTheLineChart(theme=self._theme)
        self.reliability = K.ReliabilityChart(theme=self._theme)
        self.charts: dict[str, K.ShiftChart] = {c.chart_id: c for c in (self.severity, self.drop, self.on_the_line, self.reliability)}
        self.frames: dict[str, ChartFrame] = {
            "severity": ChartFrame(self.severity, "Corruption"),
            "drop": ChartFrame(self.drop),
            "on_the_line": ChartFrame(self.on_the_line),
            "reliability": ChartFrame(self.reliability, "Condition", selector=ConditionCombo()),
        }
        self.family_combo = self.frames["severity"].selector
        self.condition_combo_chart: ConditionCombo = self.frames["reliability"].selector
        self.family_combo.currentIndexChanged.connect(self._family_changed)
        self.condition_combo_chart.conditionChanged.connect(self._reliability_condition_changed)
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
        bottom.setMinimumHeight(220)
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
        self.export_table_button = QtWidgets.QToolButton()
        self.export_table_button.setText("Export ▾")
        self.export_table_button.setObjectName("exportButton")
        self.export_table_button.setAutoRaise(True)
        self.export_table_button.setAccessibleName("Export the results table")
        self.export_table_button.setToolTip("Save every metric of this study (values, intervals, seeds) as CSV or Parquet")
        self.export_table_button.clicked.connect(self.export_table_dialog)
        bar.addWidget(self.export_table_button)
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

    # -- public API -------------------------------------------------------------------------

    def empty_text(self) -> str:
        """What the page says while it has no results to draw."""
        return self._empty.text()

    @property
    def results(self) -> ShiftResults | None:
        return self._results

    @property
    def theme(self) -> str:
        return self._theme

    def begin_study(self, study: str) -> None:
        """Another study is about to be shown: the table's filter and metric belong to the last one."""
        if study != self._study:
            self._study = study
            self.filter_edit.clear()
            i = self.metric_combo.findData("accuracy")
            if i >= 0:
                self.metric_combo.setCurrentIndex(i)

    def set_export_folder(self, folder: Callable[[], str]) -> None:
        """Where export dialogs open until the user saves somewhere else (the project's folder)."""
        self._export_folder = folder

    def set_results(self, results: ShiftResults | None, compare: Compare | None = None, note: str = "") -> None:
        """Show a study's results (None: the empty state). ``compare(a, b, condition)`` may be slow:
        it runs in a background thread. ``note`` says why the results may be incomplete (a run in
        progress, a study file changed since), shown above the charts."""
        if results is not None and results.study != self._study:
            self.begin_study(results.study)
        self.banner.setText(note)
        self.banner.setVisible(bool(note))
        unfinished = results is not None and (results.accuracy is None or results.accuracy.empty)
        self._results = None if unfinished else results  # ``results`` is None while nothing is drawn
        self._compare = compare
        self._metric_cache = {}
        self._cmp_generation += 1
        if self._results is None:
            empty = "No finished results for this study yet — run the study" if unfinished else EMPTY_TEXT
            self._empty.setText(f"{empty}\n\n{note}" if note else empty)
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
        self._stack.setCurrentWidget(self.scroll_area)
        self._refresh_table()
        if self._highlight not in results.arms:
            self._highlight = None
        self.highlight_arm(self._highlight, emit=False)
        self._schedule_compare()

    def set_theme(self, theme: str) -> None:
        """Charts draw with their own colours: re-draw them in ``theme`` (follows the application's
        theme by itself; callers may set it directly)."""
        theme = C.theme_of(theme).name
        if theme == self._theme:
            return
        self._theme = theme
        for chart in self.charts.values():
            chart.set_theme(self._theme)
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
        """Export one chart by file suffix (.png, .svg, .csv). Images carry the chart's title (and
        the corruption or condition shown) and no highlighting: they stand on their own."""
        chart = self.charts[chart_id]
        path = Path(path)
        if path.suffix.lower() == ".csv":
            return C.export(chart, path)
        title = chart.title + (f" — {self._chart_subject(chart_id)}" if self._chart_subject(chart_id) else "")
        highlight = chart.highlighted
        chart.set_highlight(None)
        try:
            with C.titled(chart, title):
                if path.suffix.lower() == ".png":
                    width = max(1200, 2 * chart.width()) if chart.isVisible() else 1600
                    return C.export_png(chart, path, width=width)
                return C.export(chart, path)
        finally:
            chart.set_highlight(highlight)

    def _chart_subject(self, chart_id: str) -> str:
        if chart_id == "severity" and self.severity.family:
            return family_label(self.severity.family)
        if chart_id == "reliability":
            return condition_label(self.reliability.condition)
        return ""

    def table_frame(self) -> pd.DataFrame:
        """Every metric of the study in one long table: what the Results table shows, per metric."""
        r = self._results
        if r is None:
            return pd.DataFrame()
        frames = []
        metrics = [self.metric_combo.itemData(i) for i in range(self.metric_combo.count())]
        for metric in metrics:
            f = self.metric_frame(metric).copy()
            f.insert(2, "metric", metric)
            f.insert(2, "condition_name", f.condition.map(condition_label))
            frames.append(f)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def export_table(self, path: str | Path) -> Path:
        """Write ``table_frame()`` as CSV or Parquet (by suffix)."""
        path = Path(path)
        table = self.table_frame()
        if path.suffix.lower() == ".parquet":
            table.to_parquet(path, index=False)
        elif path.suffix.lower() == ".csv":
            table.to_csv(path, index=False)
        else:
            raise ValueError(f"Cannot export the table as '{path.suffix}'; use .csv or .parquet.")
        return path

    def export_table_dialog(self) -> None:
        if self._results is None:
            self._say_saved("Nothing to export yet: run the study first.", ok=False)
            return
        name = f"{self._results.study}-results.csv"
        filters = "CSV table (*.csv);;Parquet table (*.parquet)"
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(self, "Export the results table",
                                                             str(Path(self._dialog_folder()) / name), filters)
        if not path:
            return
        suffix = ".parquet" if "parquet" in chosen.lower() or path.lower().endswith(".parquet") else ".csv"
        if not path.lower().endswith(suffix):
            path += suffix
        self._save(lambda: self.export_table(path), path, "the results table")

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
        keep = self.family_combo.currentData()
        self.family_combo.blockSignals(True)
        self.family_combo.clear()
        for fam in fams:
            self.family_combo.addItem(family_label(fam), fam)
        self.family_combo.setEnabled(bool(fams))
        self.severity._results = r  # so default_family sees the new results before the first draw
        fam = keep if keep in fams else self.severity.default_family()
        if fam:
            self.family_combo.setCurrentIndex(self.family_combo.findData(fam))
        self.family_combo.blockSignals(False)
        self.severity._family = fam
        have = set(r.reliability.condition) if not r.reliability.empty else set()
        self.condition_combo_chart.set_conditions([c for c in r.conditions if c in have])
        self.reliability._condition = self.condition_combo_chart.condition() or "clean"

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

    def _refresh_table(self) -> None:
        if self._results is None:
            return
        metric = self.metric
        f = self.metric_frame(metric)
        d = METRICS.get(metric)
        label = d.label if d else metric
        percent = metric in PERCENT_METRICS
        scale, unit, digits = (100.0, " (%)", 1) if percent else (1.0, "", 3)

        def fmt(values: pd.Series) -> list[str]:
            v = values.to_numpy(float) * scale
            # round first, so a value that rounds to zero never prints as "-0.0"
            rounded = np.round(np.nan_to_num(v, nan=0.0), digits) + 0.0
            out = np.char.mod(f"%.{digits}f", rounded).astype(object)
            out[~np.isfinite(v)] = "–"
            return list(out)

        labels = {c: condition_label(c) for c in f.condition.unique()}
        display = pd.DataFrame({
            "Arm": f.arm.to_numpy(object),
            "Condition": f.condition.map(labels).to_numpy(object),
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
        self.model.set_table(display, sort_keys, tips, numeric, icons, icon_col=0,
                             cell_tips={1: f.condition.to_numpy(object)})
        if 0 <= sort_col < len(display.columns):
            self.proxy.sort(sort_col, sort_order)
        self.table.resizeColumnsToContents()
        for c in range(2, 8):
            self.table.setColumnWidth(c, max(self.table.columnWidth(c), 64))
        self.table.setColumnWidth(1, self.table.columnWidth(1) + 16)
        self._update_row_count()

    def _update_row_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        words = " ".join(self.proxy.words)
        if shown == total:
            self.row_count.setText(f"{total} rows")
        elif shown == 0:
            self.row_count.setText(f"no row matches “{words}” ({total} rows)")
        else:
            self.row_count.setText(f"{shown} of {total} rows match “{words}”")

    def _family_changed(self, _index: int) -> None:
        fam = self.family_combo.currentData()
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

    def _dialog_folder(self) -> str:
        return self._last_dir or self._export_folder()

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
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, f"Export {chart.title}",
                                                        str(Path(self._dialog_folder()) / name), filters[fmt])
        if not path:
            return
        if not path.lower().endswith("." + fmt):
            path += "." + fmt
        self._save(lambda: self.export_chart(chart_id, path), path, f"the {chart.title.lower()} chart")

    def _save(self, write: Callable[[], Path], path: str, what: str) -> None:
        """Write an export and say where it went (or why not), on the page, in plain words."""
        try:
            write()
        except OSError as exc:
            self._say_saved(f"Could not save {what} to {path}: {exc.strerror or exc}.", ok=False)
            return
        self._last_dir = str(Path(path).parent)
        self._say_saved(f"Saved {what} to {path}", ok=True)

    def _say_saved(self, text: str, ok: bool) -> None:
        set_tone(self.saved_label, "ok" if ok else "error")
        self.saved_label.setText(text)
        self.saved_label.show()
        # bound to the label: the timer dies with it if the page closes first
        QtCore.QTimer.singleShot(12000, self.saved_label, lambda: self._hide_saved(text))

    def _hide_saved(self, text: str) -> None:
        if self.saved_label.text() == text:  # a newer message stays
            self.saved_label.hide()
