"""The Run page: overall progress with elapsed and remaining time, a table of cells, a log.

It only displays what it is told (``begin``, ``apply_events``, ``finish``); the app's run bridge
feeds it batched engine events, so it never blocks and never touches the engine itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPlainTextEdit, QProgressBar,
    QPushButton, QSplitter, QTableView, QVBoxLayout, QWidget,
)

from views.theme import current

COLUMNS = ("model", "condition", "seed", "status", "device", "duration", "message")
STATUS_TONES = {"done": "ok", "failed": "error", "running": "accent", "queued": "muted", "cancelled": "warn"}


def fmt_clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(max(0.0, seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


@dataclass
class CellRow:
    key: str
    model: str
    condition: str
    seed: int
    status: str = "queued"
    device: str = ""
    duration: float | None = None
    message: str = ""
    progress: float = 0.0


class CellTableModel(QAbstractTableModel):
    """Rows for the cells of the current run; updated in place by key."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[CellRow] = []
        self._index: dict[str, int] = {}

    def reset(self, rows: list[CellRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self._index = {r.key: i for i, r in enumerate(rows)}
        self.endResetModel()

    def update(self, key: str, **changes: Any) -> int | None:
        """Change a row in place without notifying views; call ``changed`` once per batch."""
        i = self._index.get(key)
        if i is None:
            return None
        row = self.rows[i]
        for k, v in changes.items():
            setattr(row, k, v)
        return i

    def changed(self, rows: list[int]) -> None:
        """One notification for a batch of updated rows (views repaint once, not per event)."""
        rows = [r for r in rows if r is not None]
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(COLUMNS) - 1))

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole):  # noqa: N802
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section].capitalize()
        return None

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole):
        row = self.rows[index.row()]
        col = COLUMNS[index.column()]
        if role == Qt.DisplayRole:
            if col == "duration":
                return "" if row.duration is None else f"{row.duration:.2f} s"
            if col == "status" and row.status == "running" and row.progress:
                return f"running {100 * row.progress:.0f}%"
            return str(getattr(row, col))
        if role == Qt.ForegroundRole and col == "status":
            return QColor(getattr(current(), STATUS_TONES.get(row.status, "muted")))
        if role == Qt.ToolTipRole and col == "message" and row.message:
            return row.message
        if role == Qt.UserRole:  # sort key
            return row.duration if col == "duration" else getattr(row, col)
        return None


class RunPage(QWidget):
    """Progress of the current run. Emits ``cancelRequested`` and ``resumeRequested``."""

    cancelRequested = Signal()
    resumeRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAccessibleName("Run progress")
        self._started: float | None = None
        self._ended: float | None = None
        self._eta: float | None = None  # the engine's estimate of the time left, seconds …
        self._eta_at: float = 0.0  # … as of this moment (monotonic), counted down between events
        self._running = False
        self._study = ""  # whose cells the table shows

        self.title = QLabel("No run yet")
        self.title.setObjectName("pageTitle")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Overall progress")
        self.progress.setTextVisible(True)
        self.timing = QLabel("")
        self.timing.setAccessibleName("Elapsed and remaining time")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the run: cells stop at their next batch; finished cells are kept.")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Compute the cells that are still missing or failed.")
        self.resume_button.clicked.connect(self.resumeRequested)
        self.cancel_button.setEnabled(False)
        self.resume_button.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.timing)
        top.addWidget(self.cancel_button)
        top.addWidget(self.resume_button)

        self.model = CellTableModel()
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.proxy.setSortRole(Qt.UserRole)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter cells (model, condition, status…)")
        self.filter.setAccessibleName("Filter cells")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.follow = QCheckBox("Follow running cells")
        self.follow.setChecked(True)
        self.follow.setToolTip("Keep the cells that are running in view; untick to look around the table freely.")
        self.table = QTableView()
        self.table.setAccessibleName("Cells of this run")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.AscendingOrder)  # plan order until a header is clicked
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.Interactive)  # ResizeToContents re-measures every row on each change
        header.setStretchLastSection(True)
        for column, width in zip(range(len(COLUMNS)), (90, 200, 50, 110, 70, 80)):
            header.resizeSection(column, width)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setAccessibleName("Run log")
        self.log.setMaximumBlockCount(5000)

        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.filter, 1)
        bar.addWidget(self.follow)
        tl.addLayout(bar)
        tl.addWidget(self.table)
        split = QSplitter(Qt.Vertical)
        split.addWidget(table_box)
        split.addWidget(self.log)
        split.setSizes([500, 160])

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    # -- driven by the app ------------------------------------------------------------------------

    def begin(self, study: str, cells: list[CellRow], skipped: int) -> None:
        """A run was planned. With nothing to compute the table of the last run stays as it is."""
        self._started = time.monotonic()
        self._ended = None
        self._eta = None
        self.resume_button.setEnabled(False)
        if not cells:
            if study != self._study:  # the table showed another study's run
                self.model.reset([])
            self._study = study
            self.title.setText(f"“{study}” is up to date")
            self.progress.setRange(0, max(1, skipped))
            self.progress.setValue(max(1, skipped))
            self.progress.setFormat(f"all {skipped} cells computed")
            self.append_log(f"“{study}” is up to date: all {skipped} cells are already computed.")
            return
        self._study = study
        self.model.reset(cells)
        self._running = True
        self.title.setText(f"Running study “{study}”")
        self.progress.setRange(0, max(1, len(cells)))
        self.progress.setValue(0)
        self.progress.setFormat(f"%v / {len(cells)} cells (%p%)")
        self.cancel_button.setEnabled(True)
        self.append_log(f"Planned {len(cells) + skipped} cells: {skipped} already computed, {len(cells)} to run.")
        self.tick()

    def apply_events(self, events: list[Any]) -> None:
        """Apply a batch of engine ``RunEvent``s (the bridge throttles them)."""
        touched: list[int | None] = []
        started: int | None = None
        for e in events:
            key = e.cell.key if e.cell is not None else None
            if e.kind in ("cell_started", "cell_finished"):
                self._eta, self._eta_at = e.eta_s, time.monotonic()
            if e.kind == "cell_started" and key:
                started = self.model.update(key, status="running", device=e.device)
                touched.append(started)
            elif e.kind == "cell_progress" and key:
                touched.append(self.model.update(key, status="running", progress=e.fraction))
            elif e.kind == "cell_finished" and key:
                touched.append(self.model.update(key, status=e.status, device=e.device, duration=e.duration_s,
                                                 message=e.error or "", progress=1.0))
                self.progress.setValue(e.done + e.failed)
                if e.status == "failed":
                    row = self.model.rows[touched[-1]] if touched[-1] is not None else None
                    what = f"{row.model} · {row.condition} · seed {row.seed}" if row else e.cell.label()
                    self.append_log(f"✗ {what}: {e.error}")
        self.model.changed(touched)
        if started is not None and self.follow.isChecked():
            # after the view has laid out what changed (right after a reset it has not yet)
            QTimer.singleShot(0, self, lambda row=started: self._show_row(row))
        self.tick()

    def _show_row(self, row: int) -> None:
        if self.follow.isChecked() and row < self.model.rowCount():
            self.table.doItemsLayout()  # rows reset moments ago are not laid out yet: scrollTo would do nothing
            self.table.scrollTo(self.proxy.mapFromSource(self.model.index(row, 0)), QAbstractItemView.ScrollHint.EnsureVisible)

    def finish(self, status: str, done: int, failed: int, cancelled: int, message: str = "") -> None:
        """The run ended. Resume is offered when cells are left to compute (cancelled, failed)."""
        self._ended = time.monotonic()
        self.cancel_button.setEnabled(False)
        self.resume_button.setEnabled(status in ("cancelled", "failed"))
        if status == "up-to-date":
            self._running = False
            self.tick()
            return
        self._running = False
        self.model.changed([self.model.update(row.key, status="cancelled") for row in self.model.rows
                            if status == "cancelled" and row.status in ("queued", "running")])
        words = {"done": "Finished", "failed": "Finished with failures", "cancelled": "Cancelled",
                 "up-to-date": "Up to date", "error": "Stopped"}.get(status, status)
        if status == "error":
            self.title.setText("The run could not start" if not done and not failed else f"{words}: {done} computed")
        else:
            self.title.setText(f"{words}: {done} computed, {failed} failed" + (f", {cancelled} not run" if cancelled else ""))
        self.append_log(message or f"{words}.")
        self._eta = 0.0 if status == "done" else None
        self.tick()

    def remaining_text(self) -> str:
        """'~12:05 left', or 'estimating…' until the engine has timed enough cells (the status bar
        shows the same text)."""
        if not self._running:
            return ""
        if self._eta is None:
            return "estimating time left…"
        return f"~{fmt_clock(max(0.0, self._eta - (time.monotonic() - self._eta_at)))} left"

    def elapsed_s(self) -> float:
        return 0.0 if self._started is None else (self._ended or time.monotonic()) - self._started

    def tick(self) -> None:
        """Refresh elapsed and remaining time (called by a timer while running)."""
        if self._started is None:
            self.timing.setText("")
            return
        remaining = self.remaining_text()
        self.timing.setText(f"{fmt_clock(self.elapsed_s())} elapsed" + (f" · {remaining}" if remaining else ""))

    def append_log(self, line: str) -> None:
        self.log.appendPlainText(f"[{time.strftime('%H:%M:%S')}] {line}")

    @property
    def running(self) -> bool:
        return self._running
