"""The Results page of a merge study: a headline in words, five charts and the table of rows.

``MergeResultsPage.set_results(results)`` takes a ``MergeResults`` (read in the background with
``Project.results``). The page scrolls rather than squash its charts (nothing is cut at 1280×720), says
on which split the coefficients were chosen (and loudly when they were tuned on the test split), and
exports its table as CSV or Parquet. It keeps the ``views.kinds.base.ResultsView`` API the app uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from PySide6 import QtCore, QtWidgets
from PySide6.QtCore import Qt

from engine.kinds.merge.study.report.findings import merge_findings
from engine.kinds.merge.study.results import MergeResults
from views import charts as C
from views.kinds.merge import charts as K
from views.kinds.merge.table import ROLE_ORDER, export_frame, table_rows
from views.results_widgets import (
    MIN_CHART_FRAME_HEIGHT, ChartFrame, FilterProxy, FrameModel, page_heading, scrolling_page,
)
from views.theme import current_name, set_tone, watch_theme

EMPTY_TEXT = "No results yet — run the study"
UNFINISHED_TEXT = "No finished evaluations for this study yet — run the study"


def _pct(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{round(100 * v, 1) + 0.0:.1f}"


def _with_ci(v: float, lo: float, hi: float) -> str:
    if not np.isfinite(v):
        return "–"
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return _pct(v)
    return f"{_pct(v)}  ({_pct(lo)}–{_pct(hi)})"


def _row_tip(row: Any) -> str:
    """What a table row is, in words (the Model column's tooltip)."""
    if row.role == "merged":
        return f"{row.arm}: {'the configuration chosen' if row.chosen else 'a configuration of the sweep'}"
    return {"base": "the model the experts were fine-tuned from", "expert": "an expert, on every task",
            "experts": "each expert on its own task: the 100% of normalized accuracy"}.get(row.role, row.arm)


class MergeResultsPage(QtWidgets.QWidget):
    """Headline, charts and table for one merge study's results."""

    CHART_ORDER = ("merge_heatmap", "merge_normalized", "merge_sweep", "merge_similarity", "merge_conflicts")

    def __init__(self, parent=None, theme: str = "light"):
        super().__init__(parent)
        self.setObjectName("resultsPage")
        self.setAccessibleName("Results")
        self._theme = C.theme_of(theme if theme else current_name()).name
        self._study = ""
        self._export_folder: Callable[[], str] = lambda: str(Path.home())
        self._last_dir: str | None = None
        self._results: MergeResults | None = None
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
        self.heading, self.subheading, self.banner = page_heading(outer)
        self.headline = QtWidgets.QLabel()
        self.headline.setObjectName("headline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.headline.setAccessibleName("The main finding")
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.headline.setFont(font)
        outer.addWidget(self.headline)
        self.tuning_note = QtWidgets.QLabel()
        self.tuning_note.setWordWrap(True)
        self.tuning_note.setAccessibleName("Where the coefficients were chosen")
        outer.addWidget(self.tuning_note)
        self.saved_label = QtWidgets.QLabel()
        self.saved_label.setWordWrap(True)
        self.saved_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.saved_label.setAccessibleName("Export result")
        self.saved_label.hide()
        outer.addWidget(self.saved_label)

        self.heatmap = K.MergeHeatmap(theme=self._theme)
        self.normalized = K.NormalizedBars(theme=self._theme)
        self.sweep = K.SweepChart(theme=self._theme)
        self.similarity = K.SimilarityMatrix(theme=self._theme)
        self.conflicts = K.ConflictBars(theme=self._theme)
        self.charts: dict[str, K.MergeChart] = {c.chart_id: c for c in (
            self.heatmap, self.normalized, self.sweep, self.similarity, self.conflicts)}
        self.frames: dict[str, ChartFrame] = {key: ChartFrame(chart) for key, chart in self.charts.items()}
        self.frames["merge_sweep"] = ChartFrame(self.sweep, "Method")
        self.entry_combo: QtWidgets.QComboBox = self.frames["merge_sweep"].selector
        self.entry_combo.currentIndexChanged.connect(self._entry_changed)
        grid = QtWidgets.QGridLayout()
        grid.setSpacing(8)
        # The heatmap gets the page's whole width: a column per task plus the average, each wide enough for
        # its number and its task's name (half the page at 1280 px wrote the names over each other).
        grid.addWidget(self.frames["merge_heatmap"], 0, 0, 1, 2)
        for i, key in enumerate(self.CHART_ORDER[1:]):
            grid.addWidget(self.frames[key], 1 + i // 2, i % 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        for frame in self.frames.values():
            frame.exportRequested.connect(self._export_dialog)
        outer.addLayout(grid)
        outer.addWidget(self._build_table_panel())

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
        self.every_check = QtWidgets.QCheckBox("Every &configuration")
        self.every_check.setAccessibleName("Show every configuration of the sweeps")
        self.every_check.setToolTip("Also list the configurations of each sweep that were not chosen")
        self.every_check.toggled.connect(self._refresh_table)
        bar.addWidget(self.every_check)
        bar.addStretch(1)
        self.filter_edit = QtWidgets.QLineEdit()
        self.filter_edit.setPlaceholderText("Filter models…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter the table by model")
        self.filter_edit.setToolTip("Type words that must all appear in the model's name, e.g. “ties 0.2”")
        self.filter_edit.setMinimumWidth(200)
        self.filter_edit.textChanged.connect(self._filter_changed)
        bar.addWidget(self.filter_edit)
        self.row_count = QtWidgets.QLabel()
        set_tone(self.row_count, "muted")
        bar.addWidget(self.row_count)
        self.export_table_button = QtWidgets.QToolButton()
        self.export_table_button.setText("Export ▾")
        self.export_table_button.setObjectName("exportButton")
        self.export_table_button.setAutoRaise(True)
        self.export_table_button.setAccessibleName("Export the results table")
        self.export_table_button.setToolTip("Save every row of this study (each task and the average, with intervals, "
                                            "every configuration) as CSV or Parquet")
        self.export_table_button.clicked.connect(self.export_table_dialog)
        bar.addWidget(self.export_table_button)
        lay.addLayout(bar)
        self.table_note = QtWidgets.QLabel()
        self.table_note.setWordWrap(True)
        set_tone(self.table_note, "muted")
        lay.addWidget(self.table_note)
        self.model = FrameModel(self)
        self.proxy = FilterProxy(self, columns=(0,))
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
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setHighlightSections(False)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.setIconSize(QtCore.QSize(22, 12))
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setMinimumHeight(200)
        lay.addWidget(self.table, 1)
        return box

    # -- ResultsView ------------------------------------------------------------------------

    @property
    def results(self) -> MergeResults | None:
        return self._results

    @property
    def theme(self) -> str:
        return self._theme

    def empty_text(self) -> str:
        return self._empty.text()

    def begin_study(self, study: str) -> None:
        """Another study is about to be shown: the filter and the sweep shown belong to the last one."""
        if study != self._study:
            self._study = study
            self.filter_edit.clear()
            self.every_check.setChecked(False)
            self.sweep.set_entry(None)

    def set_export_folder(self, folder: Callable[[], str]) -> None:
        self._export_folder = folder

    def set_results(self, results: MergeResults | None, extra: Any = None, note: str = "") -> None:
        """Show a study's results (None, or nothing finished: the empty state); ``note`` says why they may be
        partial (a run in progress, a changed study file)."""
        if results is not None and results.study != self._study:
            self.begin_study(results.study)
        self.banner.setText(note)
        self.banner.setVisible(bool(note))
        unfinished = results is not None and results.empty
        self._results = None if unfinished else results
        if self._results is None:
            empty = UNFINISHED_TEXT if unfinished else EMPTY_TEXT
            self._empty.setText(f"{empty}\n\n{note}" if note else empty)
            self._stack.setCurrentWidget(self._empty)
            for chart in self.charts.values():
                chart.set_results(None)
            return
        self._building = True
        try:
            self._fill_header(results)
            self._fill_entries(results)
            for chart in self.charts.values():
                chart.set_results(results)
            self._fit_frames(results)
        finally:
            self._building = False
        self._stack.setCurrentWidget(self.scroll_area)
        self._refresh_table()

    def set_theme(self, theme: str) -> None:
        theme = C.theme_of(theme).name
        if theme == self._theme:
            return
        self._theme = theme
        for chart in self.charts.values():
            chart.set_theme(theme)
        self._refresh_table()

    # -- exports ----------------------------------------------------------------------------

    def table_frame(self) -> pd.DataFrame:
        """What File ▸ Export Results saves: every row and task of the study, averages included."""
        return export_frame(self._results) if self._results is not None else pd.DataFrame()

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

    def export_chart(self, chart_id: str, path: str | Path) -> Path:
        """One chart by file suffix (.png, .svg, .csv); images carry the chart's title."""
        chart = self.charts[chart_id]
        path = Path(path)
        if path.suffix.lower() == ".csv":
            return C.export(chart, path)
        subject = f" — {chart.entry}" if chart is self.sweep and chart.entry else ""
        with C.titled(chart, chart.title + subject):
            if path.suffix.lower() == ".png":
                width = max(1200, 2 * chart.width()) if chart.isVisible() else 1600
                return C.export_png(chart, path, width=width)
            return C.export(chart, path)

    # -- internals --------------------------------------------------------------------------

    def _fill_header(self, r: MergeResults) -> None:
        self.heading.setText(f"Results — {r.study}")
        merged = r.rows[r.rows.role == "merged"]
        n_entries = merged.entry.nunique()
        parts = [f"{len(r.tasks)} task{'s' if len(r.tasks) != 1 else ''} (one per expert)",
                 f"{n_entries} method{'s' if n_entries != 1 else ''}, {len(merged)} merged configuration"
                 f"{'s' if len(merged) != 1 else ''}", f"{r.conventions} conventions",
                 f"intervals are {r.level:.0%} bootstrap CIs"]
        self.subheading.setText(" · ".join(parts))
        findings = merge_findings(r.study, r)
        self.headline.setText(findings[0].text if findings else "")
        self.headline.setToolTip("\n\n".join(f.text for f in findings[1:]))
        if r.tuning == "test":
            self.tuning_note.setText("⚠ Coefficients (λ, density, …) were tuned on the test split, as the study declares: "
                                     "every merged number here is optimistic.")
            set_tone(self.tuning_note, "warn")
        else:
            self.tuning_note.setText("Each method's coefficients (λ, density, …) were chosen on the validation split; "
                                     "the numbers shown are on the test split.")
            set_tone(self.tuning_note, "muted")

    def _fill_entries(self, r: MergeResults) -> None:
        entries = list(r.sweeps)
        keep = self.sweep.entry
        self.entry_combo.blockSignals(True)
        self.entry_combo.clear()
        for e in entries:
            rows = r.rows[(r.rows.entry == e) & (r.rows.role == "merged")]
            title = str(rows.label.iloc[0]).split(" (")[0] if len(rows) else e
            self.entry_combo.addItem(title, e)
        chosen = keep if keep in entries else (entries[0] if entries else None)
        if chosen is not None:
            self.entry_combo.setCurrentIndex(self.entry_combo.findData(chosen))
        self.entry_combo.setEnabled(len(entries) > 1)
        self.entry_combo.blockSignals(False)
        self.sweep.set_entry(chosen, redraw=False)  # drawn with the new results next

    def _fit_frames(self, r: MergeResults) -> None:
        """Tall enough that every heatmap row and bar keeps room; frames with nothing to show are hidden."""
        n_heat = int((r.rows.role.isin(["base", "expert"]) | ((r.rows.role == "merged") & r.rows.chosen)).sum())
        self.frames["merge_heatmap"].setMinimumHeight(max(MIN_CHART_FRAME_HEIGHT, 90 + 30 * n_heat))
        self.frames["merge_normalized"].setMinimumHeight(max(MIN_CHART_FRAME_HEIGHT, 90 + 30 * len(r.summary)))
        n_layers = len(r.conflicts) if r.conflicts is not None else 0
        conflicts = max(MIN_CHART_FRAME_HEIGHT - 70, 110 + 26 * min(n_layers, 40))
        self.frames["merge_conflicts"].setMinimumHeight(conflicts)
        self.frames["merge_conflicts"].setMaximumHeight(conflicts + 40)
        self.frames["merge_sweep"].setVisible(bool(r.sweeps))
        self.frames["merge_similarity"].setVisible(r.similarity is not None)
        self.frames["merge_conflicts"].setVisible(r.conflicts is not None and not r.conflicts.empty)

    def _entry_changed(self, _i: int) -> None:
        entry = self.entry_combo.currentData()
        if not self._building and entry and self._results is not None:
            self.sweep.set_entry(entry)

    def _refresh_table(self, *_: Any) -> None:
        r = self._results
        if r is None:
            return
        f = table_rows(r, self.every_check.isChecked())
        tasks = r.tasks
        display = {"Model": f.name.to_numpy(object)}
        sort_keys: list[np.ndarray] = [np.array([1000 * ROLE_ORDER.get(x, 9) + i for i, x in enumerate(f.role)], dtype=float)]
        tips = ["The base model, each expert, each method's configuration, and the experts each on its own task."]
        for t in tasks:
            display[t] = [_with_ci(v, lo, hi) for v, lo, hi in
                                                zip(f[f"acc:{t}"], f[f"low:{t}"], f[f"high:{t}"])]
            sort_keys.append(f[f"acc:{t}"].to_numpy(float))
            tips.append(f"Test accuracy (%) on {r.task_labels.get(t, t)}: the task of expert {t}, with its "
                        f"{r.level:.0%} interval.")
        display["Average"] = [_with_ci(v, lo, hi) for v, lo, hi in zip(f.accuracy, f.acc_low, f.acc_high)]
        display["Normalized"] = [_with_ci(v, lo, hi) for v, lo, hi in zip(f.normalized, f.norm_low, f.norm_high)]
        display["Rank"] = [f"{v:.2f}".rstrip("0").rstrip(".") if np.isfinite(v) else "–" for v in f["rank"]]
        split = "validation" if r.tuning == "validation" else "test"
        display[f"Chosen on ({split})"] = [_pct(v) + ("  ✓" if c else "") if np.isfinite(v) else "–"
                                          for v, c in zip(f.selection, f.chosen)]
        sort_keys += [f.accuracy.to_numpy(float), f.normalized.to_numpy(float), f["rank"].to_numpy(float),
                      f.selection.to_numpy(float)]
        tips += [
            "Test accuracy (%) averaged over the tasks, with its interval.",
            "The row's accuracy on each task ÷ that task's expert's, averaged over tasks (100% = the experts), with a "
            "paired interval.",
            "Multi-task rank: the mean over tasks of the row's rank among the base and the chosen merges (1 = best).",
            f"Average accuracy on the {split} split, which chose each method's configuration (✓ = chosen)."
            + (" Tuned on the test split: optimistic." if split == "test" else ""),
        ]
        frame = pd.DataFrame(display)
        numeric = [False] + [True] * (len(frame.columns) - 1)
        pal = K.entry_palette(r, C.theme_of(self._theme))
        entry = dict(zip(r.rows.arm, r.rows.entry))
        icons = {name: pal.icon(str(entry[arm]), 12) for name, arm, role in zip(f.name, f.arm, f.role) if role == "merged"}
        header = self.table.horizontalHeader()
        sort_col, sort_order = header.sortIndicatorSection(), header.sortIndicatorOrder()
        self.model.set_table(frame, sort_keys, tips, numeric, icons, icon_col=0,
                             cell_tips={0: np.array([_row_tip(x) for x in f.itertuples()], dtype=object)})
        if 0 <= sort_col < len(frame.columns):
            self.proxy.sort(sort_col, sort_order)
        self.table.resizeColumnsToContents()
        notes = []
        if f.transductive.any():
            notes.append("† learned its coefficients from the unlabeled test inputs (transductive).")
        notes.append("Each task is scored with its own expert's head (heads are not merged).")
        self.table_note.setText(" ".join(notes))
        self._update_row_count()

    def _update_row_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.row_count.setText(f"{total} rows" if shown == total else f"{shown} of {total} rows")

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self._update_row_count()

    def _dialog_folder(self) -> str:
        return self._last_dir or self._export_folder()

    def _export_dialog(self, chart_id: str, fmt: str) -> None:
        chart = self.charts[chart_id]
        study = self._results.study if self._results is not None else "study"
        extra = f"-{self.sweep.entry}" if chart is self.sweep and self.sweep.entry else ""
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
        QtCore.QTimer.singleShot(12000, self.saved_label, lambda: self._hide_saved(text))

    def _hide_saved(self, text: str) -> None:
        if self.saved_label.text() == text:
            self.saved_label.hide()

