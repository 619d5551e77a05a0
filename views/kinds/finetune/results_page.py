"""The Results page of a fine-tuning study: the report's key findings, five charts, the table of arms and
the learning rates tried.

``ResultsPage.set_results(results, findings)`` takes a ``FinetuneResults`` (read in the background with
``Project.results``) and, optionally, the kind's ``extra``: a callable returning the study's report
findings (paired comparisons: slow, so run here with ``views.tasks.run_in_background``); until they
arrive, and without them, the headline states the best arm's numbers with their intervals and claims
no difference. ``add_live_point`` draws a run's learning curve while it trains (the app's
``cell_curve`` events). The page keeps the ``views.kinds.base.ResultsView`` API the app uses.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Qt, Signal

from engine.kinds.finetune.methods import METHODS
from engine.kinds.finetune.report.tables import bytes_words, count_words, seconds_words
from engine.kinds.finetune.results import LR_RULE, FinetuneResults
from engine.report.findings import EN_DASH, ci_words, pct_ci, points
from views import charts as C
from views.kinds.finetune import charts as K
from views.results_widgets import ChartFrame, FrameModel, page_heading, scrolling_page
from views.tasks import run_in_background
from views.theme import current_name, set_tone, watch_theme

EMPTY_TEXT = "No results yet — run the study"
Findings = Callable[[], list]  # () -> the study's report findings (engine.report.schema.Finding)


def _num(v: Any, fmt: str = "{:.1f}", scale: float = 100.0) -> str:
    return fmt.format(scale * float(v)).replace("-", "\u2212") if v is not None and np.isfinite(float(v)) else "–"


def _with_ci(v: Any, lo: Any, hi: Any, fmt: str = "{:.1f}", scale: float = 100.0) -> str:
    head = _num(v, fmt, scale)
    if head == "–" or not (np.isfinite(float(lo)) and np.isfinite(float(hi))):
        return head
    return f"{head} ({_num(lo, fmt, scale)}{EN_DASH}{_num(hi, fmt, scale)})"


def budget_text(row: Any, results: FinetuneResults) -> str:
    """What an arm was given beyond its method: 'r=8', 'k=2', WiSE-FT's chosen 'α = 0.7', or ''."""
    if row.kind == "wise":
        return f"α = {row.alpha:g}" if np.isfinite(row.alpha) else ""
    method = METHODS.get(row.method)
    if method is None or not str(row.label).startswith(method.title):
        return ""
    return str(row.label)[len(method.title):].strip()


def share_text(share: float) -> str:
    """A share of the base's parameters: '0.38%', '8.2%', '100%'."""
    if not np.isfinite(share):
        return "–"
    return f"{100 * share:.2g}%" if share < 0.1 else f"{100 * share:.0f}%"


def headline_from_table(results: FinetuneResults) -> str:
    """The best arm on the target by its numbers alone (accuracy, gain and forgetting, each with its
    interval): what the page says until the report's findings, which compare arms pairwise, arrive."""
    t = results.table
    tuned = t[(t.kind != "base") & np.isfinite(t.id_acc.astype(float))]
    if tuned.empty:
        return "No tuned model has been scored on the target yet."
    best = tuned.sort_values("id_acc", ascending=False).iloc[0]
    level = results.level
    text = f"Highest target accuracy: {best.label}, {pct_ci(best.id_acc, best.id_lo, best.id_hi, level)}"
    if np.isfinite(best.gain) and best.kind != "base":
        text += f", {_points_ci(best.gain, best.gain_lo, best.gain_hi, level)} over the base"
    if np.isfinite(best.forgetting):
        text += f"; it forgets {_points_ci(best.forgetting, best.forgetting_lo, best.forgetting_hi, level)} of the source task"
    return text + "."


def _points_ci(v: float, lo: float, hi: float, level: float) -> str:
    head = f"{points(v)} points"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return head
    return f"{head} ({ci_words(level)} {points(lo)}{' to ' if lo < 0 else EN_DASH}{points(hi)})"


class ResultsPage(QtWidgets.QWidget):
    """Findings, charts and tables of one fine-tuning study's results."""

    armHighlighted = Signal(str)  # the highlighted arm, or "" when highlighting is cleared

    def __init__(self, parent=None, theme: str = "light"):
        super().__init__(parent)
        self.setObjectName("resultsPage")
        self.setAccessibleName("Results")
        self._theme = C.theme_of(theme if theme else current_name()).name
        self._study = ""
        self._results: FinetuneResults | None = None
        self._findings_fn: Findings | None = None
        self._findings: list = []
        self._generation = 0
        self._highlight: str | None = None
        self._export_folder = lambda: str(Path.home())
        self._last_dir: str | None = None

        self._stack, self._empty, self._content, self.scroll_area = scrolling_page(self, EMPTY_TEXT)
        self._build_content()
        self._stack.setCurrentWidget(self._empty)
        watch_theme(self, lambda c: self.set_theme(c.name))

    # -- construction -----------------------------------------------------------------------

    def _build_content(self) -> None:
        outer = QtWidgets.QVBoxLayout(self._content)
        outer.setContentsMargins(12, 10, 12, 10)
        outer.setSpacing(8)
        self.heading, self.subheading, self.banner = page_heading(outer)

        box = QtWidgets.QFrame()
        box.setObjectName("panel")
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(4)
        self.headline = QtWidgets.QLabel()
        self.headline.setObjectName("headline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headline.setAccessibleName("Headline")
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.12)
        font.setBold(True)
        self.headline.setFont(font)
        lay.addWidget(self.headline)
        self.findings_label = QtWidgets.QLabel()
        self.findings_label.setWordWrap(True)
        self.findings_label.setTextFormat(Qt.TextFormat.RichText)
        self.findings_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findings_label.setAccessibleName("Key findings")
        lay.addWidget(self.findings_label)
        self.findings_state = QtWidgets.QLabel()
        self.findings_state.setWordWrap(True)
        self.findings_state.setAccessibleName("Key findings status")
        set_tone(self.findings_state, "muted")
        lay.addWidget(self.findings_state)
        outer.addWidget(box)
        self.saved_label = QtWidgets.QLabel()
        self.saved_label.setWordWrap(True)
        self.saved_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.saved_label.setAccessibleName("Export result")
        self.saved_label.hide()
        outer.addWidget(self.saved_label)

        # charts
        self.curves = K.LearningCurvesChart(theme=self._theme)
        self.pareto = K.ParetoChart(theme=self._theme)
        self.tradeoff = K.TradeoffChart(theme=self._theme)
        self.wise = K.WiseChart(theme=self._theme)
        self.flips = K.FlipsChart(theme=self._theme)
        self.charts: dict[str, K.FinetuneChart] = {c.chart_id: c for c in (self.curves, self.pareto, self.tradeoff,
                                                                         self.wise, self.flips)}
        self.frames: dict[str, ChartFrame] = {
            "curves": ChartFrame(self.curves, "Curve"),
            "pareto": ChartFrame(self.pareto),
            "tradeoff": ChartFrame(self.tradeoff),
            "wise": ChartFrame(self.wise),
            "flips": ChartFrame(self.flips, "Evaluation set"),
        }
        self.series_combo: QtWidgets.QComboBox = self.frames["curves"].selector
        for series, words in K.SERIES_NAMES.items():
            self.series_combo.addItem(words, series)
        self.series_combo.currentIndexChanged.connect(self._series_changed)
        self.set_combo: QtWidgets.QComboBox = self.frames["flips"].selector
        self.set_combo.currentIndexChanged.connect(self._set_changed)
        for key, frame in self.frames.items():
            frame.exportRequested.connect(self._export_dialog)
            self.charts[key].armClicked.connect(self.toggle_highlight)
        self.lr_panel = self._build_lr_panel()
        grid_w = QtWidgets.QWidget()
        self._grid = QtWidgets.QGridLayout(grid_w)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(8)
        self._grid.setColumnStretch(0, 1)
        self._grid.setColumnStretch(1, 1)
        outer.addWidget(grid_w)
        self.table_panel = self._build_table_panel()
        outer.addWidget(self.table_panel)
        outer.addStretch(1)

    def _build_lr_panel(self) -> QtWidgets.QFrame:
        box = QtWidgets.QFrame()
        box.setObjectName("chartFrame")
        box.setAccessibleName("Learning rates tried")
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.setSpacing(4)
        title = QtWidgets.QLabel("Learning rates tried")
        title.setObjectName("chartTitle")
        title.setToolTip(f"<p>{LR_RULE}</p>")
        lay.addWidget(title)
        note = QtWidgets.QLabel("Validation accuracy of each method at each learning rate; the chosen one is marked. "
                                "Test data played no part in the choice.")
        note.setWordWrap(True)
        set_tone(note, "muted")
        lay.addWidget(note)
        self.lr_model = FrameModel(self)
        self.lr_table = self._table_view(self.lr_model, "Learning rates tried")
        lay.addWidget(self.lr_table, 1)
        box.setMinimumHeight(290)
        return box

    def _table_view(self, model: QtCore.QAbstractTableModel, name: str) -> QtWidgets.QTableView:
        view = QtWidgets.QTableView()
        view.setModel(model)
        view.setAccessibleName(name)
        view.setAlternatingRowColors(True)
        view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        view.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        view.verticalHeader().setVisible(False)
        view.verticalHeader().setDefaultSectionSize(24)
        view.horizontalHeader().setStretchLastSection(True)
        view.horizontalHeader().setHighlightSections(False)
        view.setWordWrap(False)
        view.setTabKeyNavigation(False)
        view.setIconSize(QtCore.QSize(22, 12))
        return view

    def _build_table_panel(self) -> QtWidgets.QWidget:
        box = QtWidgets.QFrame()
        box.setObjectName("panel")
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(6)
        bar = QtWidgets.QHBoxLayout()
        title = QtWidgets.QLabel("Methods compared")
        title.setObjectName("panelTitle")
        bar.addWidget(title)
        bar.addStretch(1)
        self.export_table_button = QtWidgets.QToolButton()
        self.export_table_button.setText("Export ▾")
        self.export_table_button.setObjectName("exportButton")
        self.export_table_button.setAutoRaise(True)
        self.export_table_button.setAccessibleName("Export the table of methods")
        self.export_table_button.setToolTip("Save the table of methods (every number, interval and cost) as CSV or Parquet")
        self.export_table_button.clicked.connect(self.export_table_dialog)
        bar.addWidget(self.export_table_button)
        lay.addLayout(bar)
        self.model = FrameModel(self)
        self.table = self._table_view(self.model, "Table of methods")
        self.table.setSortingEnabled(False)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.selectionModel().selectionChanged.connect(self._table_selection_changed)
        lay.addWidget(self.table)
        self.table_note = QtWidgets.QLabel()
        self.table_note.setWordWrap(True)
        self.table_note.setAccessibleName("About the table of methods")
        set_tone(self.table_note, "muted")
        lay.addWidget(self.table_note)
        return box

    # -- public API (views.kinds.base.ResultsView) --------------------------------------------

    @property
    def results(self) -> FinetuneResults | None:
        return self._results

    @property
    def theme(self) -> str:
        return self._theme

    def empty_text(self) -> str:
        return self._empty.text()

    def begin_study(self, study: str) -> None:
        """Another study is about to be shown: its highlight, chosen curve and live runs belonged to the last one."""
        if study != self._study:
            self._study = study
            self._highlight = None
            self.curves.clear_live()
            if self._results is None:  # the live curves shown were the last study's
                self._show_state()

    def set_export_folder(self, folder: Callable[[], str]) -> None:
        self._export_folder = folder

    def set_results(self, results: FinetuneResults | None, findings: Findings | None = None, note: str = "") -> None:
        """Show a study's results (None, or nothing scored yet: the empty state). ``findings()`` returns the
        study's report findings; it may be slow and runs in a background thread. ``note`` says why the results
        may be partial, shown above them."""
        if results is not None and results.study != self._study:
            self.begin_study(results.study)
        self.banner.setText(note)
        self.banner.setVisible(bool(note))
        unfinished = results is not None and results.empty
        self._results = None if unfinished else results
        self._findings_fn = findings
        self._findings = []
        self._generation += 1
        for chart in self.charts.values():
            chart.set_results(self._results)
        if self._results is None:
            empty = "No finished results for this study yet — run the study" if unfinished else EMPTY_TEXT
            self._empty.setText(f"{empty}\n\n{note}" if note else empty)
            self._show_state()
            return
        r = self._results
        self._fill_header(r)
        self._fill_set_combo()
        self._fill_table(r)
        self._fill_lr_table(r)
        self._show_findings()
        self._show_state()
        self.highlight_arm(self._highlight if self._highlight in K.tuned_ids(r) else None, emit=False)
        self._load_findings()

    def set_theme(self, theme: str) -> None:
        theme = C.theme_of(theme).name
        if theme == self._theme:
            return
        self._theme = theme
        for chart in self.charts.values():
            chart.set_theme(theme)
        if self._results is not None:
            self._fill_table(self._results)
        self.highlight_arm(self._highlight, emit=False)

    def add_live_point(self, cell_key: str, step: int, series: str, value: float, arm: str = "",
                       lr: float | None = None, seed: int = 0) -> None:
        """One learning-curve point of a tuning run still training (a ``cell_curve`` RunEvent: its cell's key,
        arm, learning rate and seed, and the event's (step, series, value)); drawn at once on the learning
        curves, also before the study has any finished result."""
        self.curves.add_live_point(cell_key, step, series, value, arm=arm, lr=lr, seed=seed)
        if self._stack.currentWidget() is not self.scroll_area:
            self._show_state()

    def add_live_points(self, points: list) -> None:
        """Learning-curve points of the study's runs still training, as the app delivers them
        (``views.kinds.base.LivePoint``: cell key, arm, seed, step, series, value); drawn in one go."""
        self.curves.add_live_points([(p.cell_key, p.step, p.series, p.value, p.arm, getattr(p, "lr", None), p.seed)
                                     for p in points])
        if self._stack.currentWidget() is not self.scroll_area:
            self._show_state()

    def highlight_arm(self, arm: str | None, emit: bool = True) -> None:
        """Emphasise one arm in every chart (None clears)."""
        arm = arm or None
        self._highlight = arm
        for chart in self.charts.values():
            chart.set_highlight(arm)
        if emit:
            self.armHighlighted.emit(arm or "")

    def toggle_highlight(self, arm: str) -> None:
        self.highlight_arm(None if arm == self._highlight else arm)

    def findings(self) -> list:
        """The report findings shown (empty until they arrive)."""
        return list(self._findings)

    # -- exports ------------------------------------------------------------------------------

    def table_frame(self) -> pd.DataFrame:
        """The table of methods with every number (one row per arm; the base first): what Export saves."""
        if self._results is None:
            return pd.DataFrame()
        t = self._results.table.copy()
        t.insert(3, "budget", [budget_text(r, self._results) for r in t.itertuples()])
        t["lr_chosen_on"] = np.where(t.chosen_lr.notna(), "validation accuracy, mean over seeds", "")
        return t

    def export_table(self, path: str | Path) -> Path:
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
        name = f"{self._results.study}-methods.csv"
        filters = "CSV table (*.csv);;Parquet table (*.parquet)"
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(self, "Export the table of methods",
                                                             str(Path(self._dialog_folder()) / name), filters)
        if not path:
            return
        suffix = ".parquet" if "parquet" in chosen.lower() or path.lower().endswith(".parquet") else ".csv"
        if not path.lower().endswith(suffix):
            path += suffix
        self._save(lambda: self.export_table(path), path, "the table of methods")

    def export_chart(self, chart_id: str, path: str | Path) -> Path:
        """One chart by file suffix (.png, .svg, .csv); images carry the chart's title and no highlighting."""
        chart = self.charts[chart_id]
        path = Path(path)
        if path.suffix.lower() == ".csv":
            return C.export(chart, path)
        highlight = chart.highlighted
        chart.set_highlight(None)
        try:
            with C.titled(chart, chart.title):
                if path.suffix.lower() == ".png":
                    width = max(1200, 2 * chart.width()) if chart.isVisible() else 1600
                    return C.export_png(chart, path, width=width)
                return C.export(chart, path)
        finally:
            chart.set_highlight(highlight)

    # -- internals ----------------------------------------------------------------------------

    def _show_state(self) -> None:
        """Results, or live curves of a first run (the curves alone), or the empty state."""
        live_only = self._results is None and bool(self.curves.live_runs())
        if self._results is None and not live_only:
            self._stack.setCurrentWidget(self._empty)
            return
        if live_only:
            self.heading.setText(f"Training — {self._study}" if self._study else "Training")
            self.subheading.setText("Learning curves are drawn as the runs report them; the rest appears once runs finish.")
            self.headline.setText("No tuned model has been scored yet.")
            self.findings_label.clear()
            self.findings_state.clear()
        visible = ["curves"] if live_only else [k for k in self.frames if self._chart_useful(k)]
        while self._grid.count():
            self._grid.takeAt(0)
        panels = [self.frames[k] for k in visible] + ([] if live_only else [self.lr_panel])
        for frame in self.frames.values():
            frame.setVisible(frame in panels)
        self.lr_panel.setVisible(self.lr_panel in panels)
        for i, panel in enumerate(panels):
            self._grid.addWidget(panel, i // 2, i % 2)
        self.table_panel.setVisible(not live_only)
        self._stack.setCurrentWidget(self.scroll_area)

    def _chart_useful(self, key: str) -> bool:
        chart = self.charts[key]
        return chart.has_data(self._results) and not chart.message

    def _fill_header(self, r: FinetuneResults) -> None:
        tuned = [a for a in r.arms if a.kind != "base"]
        seeds = int(r.cells.seed.nunique()) if "seed" in r.cells and not r.cells.empty else 0
        self.heading.setText(f"Results — {r.study}")
        parts = [f"{len(tuned)} method{'s' if len(tuned) != 1 else ''} against the base"]
        if seeds:
            parts.append(f"{seeds} seed{'s' if seeds != 1 else ''}")
        parts.append(f"intervals are {100 * r.level:g}% bootstrap CIs")
        parts.append("learning rates chosen on validation")
        self.subheading.setText(" · ".join(parts))

    def _show_findings(self) -> None:
        r = self._results
        if r is None:
            return
        found = [f for f in self._findings if getattr(f, "kind", "") != "note"]
        set_tone(self.findings_state, "muted")
        if found:
            self.headline.setText(found[0].text)
            rest = found[1:]
            self.findings_label.setText("<ul style='margin:0 0 0 -24px'>" + "".join(
                f"<li>{html.escape(f.text, quote=False)}</li>" for f in rest) + "</ul>" if rest else "")
            self.findings_label.setVisible(bool(rest))
            self.findings_state.setText(LR_RULE)
        else:
            self.headline.setText(headline_from_table(r))
            self.findings_label.clear()
            self.findings_label.hide()
            self.findings_state.setText("Reading the report's findings (paired comparisons)…" if self._findings_fn
                                        else LR_RULE)

    def _load_findings(self) -> None:
        if self._findings_fn is None:
            return
        gen = self._generation
        run_in_background(self._findings_fn, on_done=lambda found, g=gen: self._findings_done(g, found),
                          on_error=lambda message, g=gen: self._findings_failed(g, message), context=self.headline)

    def _findings_done(self, gen: int, found: list) -> None:
        if gen != self._generation or self._results is None:
            return  # newer results (or none) replaced the ones these findings are about
        self._findings = list(found or [])
        self._show_findings()

    def _findings_failed(self, gen: int, message: str) -> None:
        if gen != self._generation:
            return
        set_tone(self.findings_state, "error")
        self.findings_state.setText(f"The report's findings could not be read: {message}")

    def _fill_set_combo(self) -> None:
        conds = self.flips.conditions()
        keep = self.set_combo.currentData()
        self.set_combo.blockSignals(True)
        self.set_combo.clear()
        for c in conds:
            self.set_combo.addItem(K.set_words(c)[:1].upper() + K.set_words(c)[1:], c)
        chosen = keep if keep in conds else self.flips.default_condition()
        if chosen is not None:
            self.set_combo.setCurrentIndex(self.set_combo.findData(chosen))
            if chosen != self.flips.condition:
                self.flips.set_condition(chosen)
        self.set_combo.setEnabled(len(conds) > 1)
        self.set_combo.blockSignals(False)

    def _series_changed(self, _index: int) -> None:
        series = self.series_combo.currentData()
        if series and series != self.curves.series:
            self.curves.set_series(series)
            self.curves.set_highlight(self._highlight)

    def _set_changed(self, _index: int) -> None:
        cond = self.set_combo.currentData()
        if cond and cond != self.flips.condition:
            self.flips.set_condition(cond)
            self.flips.set_highlight(self._highlight)

    def _fill_table(self, r: FinetuneResults) -> None:
        t = r.table
        base = t[t.kind == "base"]
        base_source = float(base.source_acc.iloc[0]) if not base.empty else float("nan")
        rows, keys = [], []
        for a in t.itertuples():
            is_base = a.kind == "base"
            flips = "–"
            if np.isfinite(a.nf_rate):
                flips = f"{int(a.nf_count)} · {_with_ci(a.nf_rate, a.nf_lo, a.nf_hi)}"
            source = "–"
            if np.isfinite(a.source_acc):
                source = _num(a.source_acc) if is_base else f"{_num(base_source)} → {_num(a.source_acc)}"
            rows.append([
                a.label, "–" if is_base else (budget_text(a, r) or "–"),
                "–" if not np.isfinite(a.chosen_lr) else f"{a.chosen_lr:g}",
                "0" if is_base else (f"{a.trainable:,.0f} · {share_text(a.share)}" if np.isfinite(a.trainable) else "–"),
                "–" if is_base else seconds_words(a.wall_s), "–" if is_base else bytes_words(a.peak_memory_bytes),
                _with_ci(a.id_acc, a.id_lo, a.id_hi), _with_ci(a.ood_acc, a.ood_lo, a.ood_hi),
                _with_ci(a.ece, a.ece_lo, a.ece_hi, "{:.3f}", 1.0), source, flips,
            ])
            keys.append([a.Index, a.label, a.chosen_lr, a.trainable, a.wall_s, a.peak_memory_bytes, a.id_acc,
                         a.ood_acc, a.ece, a.source_acc, a.nf_rate])
        nf_sets = {s for s in t.nf_set if isinstance(s, str) and s}
        flips_on = f"on the {next(iter(nf_sets))}, %" if len(nf_sets) == 1 else "%"
        # two-line headers: the table fits 1280 pixels without scrolling sideways
        columns = ["Method", "Budget", "Learning\nrate", "Trainable\n· of base", "Wall\ntime", "Memory", "Target %\n(CI)",
                   "Out of distr. %\n(CI)", "ECE\n(CI)", "Source %\nbefore → after", f"Negative flips\n{flips_on} (CI)"]
        display = pd.DataFrame(rows, columns=columns)
        sort_keys = [np.array([k[i] for k in keys], dtype=object) for i in range(len(columns))]
        level = f"{100 * r.level:g}%"
        memory = next((m for m in t.memory_kind if m), "peak memory")
        tips = [
            "The adaptation method (hover a name for what it does).",
            "The method's budget: LoRA's rank r, the number of blocks k, WiSE-FT's mixing weight α.",
            LR_RULE,
            "Parameters the method trains: count · share of the base model's parameters (PEFT's own printout divides "
            "by the base plus the adapters, a smaller share).",
            "Wall time of one tuning run at the chosen learning rate (mean over seeds).",
            f"Memory during a tuning run: {memory}.",
            f"Accuracy on the target's test set (in distribution), seeds pooled, {level} interval in brackets.",
            f"Accuracy on the target's test set under the shifted conditions (pooled), {level} interval in brackets.",
            "Expected calibration error on the target (lower is better), interval in brackets.",
            "Accuracy on the source task (what the base already did): the base's before tuning → this model's after.",
            "Predictions the base got right and this model gets wrong: count · rate (interval), on the source test set "
            "when the study measures forgetting, else on the target's.",
        ]
        numeric = [False, False] + [True] * 9
        pal = K.arm_palette(r, self._theme)
        icons = {a.label: pal.icon(a.id, 12) for a in r.arms if a.kind != "base"}
        descriptions = np.array([self._method_tip(a, r) for a in t.itertuples()], dtype=object)
        self.model.set_table(display, sort_keys, tips, numeric, icons, icon_col=0, cell_tips={0: descriptions})
        self.table.resizeColumnsToContents()
        self._fit_table_height()
        QtCore.QTimer.singleShot(0, self.table, self._fit_table_height)  # again once laid out at its real width
        self.table_note.setText(f"{LR_RULE} Accuracies in percent over all seeds with {level} intervals in brackets; "
                                "WiSE-FT at its α chosen on validation.")

    @staticmethod
    def _method_tip(row: Any, r: FinetuneResults) -> str:
        if row.kind == "base":
            return "The pretrained model, not tuned."
        method = METHODS.get(row.method)
        tip = method.description if method is not None else str(row.method)
        info = r.arm(row.arm)
        if row.kind == "wise" and info is not None and info.source:
            tip += f" Blends the base with {K.arm_label(r, info.source)}; α chosen on validation."
        return tip

    def _fit_table_height(self) -> None:
        """Tall enough for every row (the page scrolls, not the table), plus a scroll bar when it is wider
        than the page."""
        header = self.table.horizontalHeader()
        height = header.sizeHint().height() + 24 * self.model.rowCount() + 2 * self.table.frameWidth() + 2
        if header.length() > self.table.viewport().width():
            height += self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(height)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self._results is not None:
            QtCore.QTimer.singleShot(0, self.table, self._fit_table_height)

    def _fill_lr_table(self, r: FinetuneResults) -> None:
        order = {a.id: i for i, a in enumerate(r.arms)}
        lrs = r.lrs.assign(_o=r.lrs.arm.map(order)).sort_values(["_o", "lr"], kind="stable").drop(columns="_o")
        labels = {a.id: a.label for a in r.arms}
        display = pd.DataFrame({
            "Method": [labels.get(a, a) for a in lrs.arm],
            "Learning rate": [f"{v:g}" for v in lrs.lr],
            "Validation acc. %": [_num(v) for v in lrs.val_accuracy],
            "Seeds": [str(int(s)) for s in lrs.seeds],
            "Chosen": ["✓ chosen" if c else "" for c in lrs.chosen],
        })
        keys = [lrs.arm.to_numpy(object), lrs.lr.to_numpy(float), lrs.val_accuracy.to_numpy(float),
                lrs.seeds.to_numpy(float), lrs.chosen.to_numpy(bool)]
        tips = ["The method.", "A learning rate it was tuned with.", "Validation accuracy at that rate, mean over seeds.",
                "Seeds tuned at that rate.", LR_RULE]
        pal = K.arm_palette(r, self._theme)
        icons = {a.label: pal.icon(a.id, 12) for a in r.arms if a.kind != "base"}
        self.lr_model.set_table(display, keys, tips, [False, True, True, True, False], icons, icon_col=0)
        self.lr_table.resizeColumnsToContents()

    def _table_selection_changed(self, *_: Any) -> None:
        if self._results is None:
            return
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        arm = str(self._results.table.arm.iloc[rows[0].row()])
        self.highlight_arm(arm if arm in K.tuned_ids(self._results) else None)

    def _dialog_folder(self) -> str:
        return self._last_dir or self._export_folder()

    def _export_dialog(self, chart_id: str, fmt: str) -> None:
        chart = self.charts[chart_id]
        study = self._results.study if self._results is not None else "study"
        name = f"{study}-{chart_id}.{fmt}"
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
        except (OSError, ValueError, ImportError) as exc:
            self._say_saved(f"Could not save {what} to {path}: {getattr(exc, 'strerror', None) or exc}.", ok=False)
            return
        self._last_dir = str(Path(path).parent)
        self._say_saved(f"Saved {what} to {path}", ok=True)

    def _say_saved(self, text: str, ok: bool) -> None:
        set_tone(self.saved_label, "ok" if ok else "error")
        self.saved_label.setText(text)
        self.saved_label.show()
        QtCore.QTimer.singleShot(12000, self.saved_label, lambda: self._hide_saved(text))

    def _hide_saved(self, text: str) -> None:
        if self.saved_label.text() == text:
            self.saved_label.hide()
