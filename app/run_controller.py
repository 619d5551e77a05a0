"""The window's side of a run: starts and cancels it through ``RunBridge``, feeds the Run page, keeps
the status bar saying the same as the Run page, and tells the window when finished cells are worth
showing (``cellsSaved``, at most every ``live_interval_ms``) so Results and the tree update live.
Cells are labelled by the study's kind (``StudyKind.cell_label``: a condition's display name, "training").
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QProgressBar

from app.bridge import RunBridge
from app.project_status import RunningInfo
from engine.kinds import StudyKind, get_kind
from views.kinds import LivePoint
from views.run_page import CellRow, RunPage, fmt_clock


class RunController(QObject):
    started = Signal(str)  # study
    cellsSaved = Signal(str)  # study: new finished cells are in the database (throttled)
    ended = Signal(str, object)  # study, RunSummary (None when the run could not start or crashed)
    failed = Signal(str)  # a plain message
    curvePoints = Signal(str, object)  # study, list[LivePoint]: learning-curve points measured since the last batch

    def __init__(self, run_page: RunPage, status_text: QLabel, status_progress: QProgressBar,
                 live_interval_ms: int = 2500, parent: QObject | None = None):
        super().__init__(parent)
        self.run_page = run_page
        self.status_text = status_text
        self.status_progress = status_progress
        self.bridge = RunBridge(parent=self)
        self.bridge.events.connect(self._on_events)
        self.bridge.finished.connect(self._on_finished)
        self.bridge.failed.connect(self._on_failed)
        self.info: RunningInfo | None = None
        self._kind: StudyKind | None = None
        self._clock = QTimer(self)
        self._clock.setInterval(500)
        self._clock.timeout.connect(self._tick)
        self._live = QTimer(self)
        self._live.setSingleShot(True)
        self._live.setInterval(live_interval_ms)
        self._live.timeout.connect(self._announce)
        self._unannounced = False
        self._queue: list[tuple[str, str]] = []  # (study, kind) to run after the running one, in order
        self._project: Any = None

    def set_live_interval(self, ms: int) -> None:
        """How often, at most, finished cells are announced for live results."""
        self._live.setInterval(ms)

    @property
    def running(self) -> bool:
        return self.bridge.running

    @property
    def study(self) -> str | None:
        return self.info.study if self.info is not None else None

    def start(self, project: Any, study: str, kind: str) -> None:
        """Run ``study``, a study of ``kind`` (what labels its cells)."""
        self._kind = get_kind(kind)
        self.info = RunningInfo(study)
        self.run_page.title.setText(f"Planning “{study}”…")
        self.run_page.append_log(f"Planning study “{study}”…")
        self.status_text.setText(f"Planning {study}…")
        self.bridge.start(project, study)
        self._clock.start()
        self.started.emit(study)

    def start_in_order(self, project: Any, order: list[str], kind_of: Callable[[str], str]) -> None:
        """Run the studies of ``order`` one after another (``Project.run_order``: the last is the one asked for, the
        others make models it starts from); the next starts only when the last finished, and none after a study
        that did not. ``ended`` is emitted for each study."""
        self._queue, self._project = [(name, kind_of(name)) for name in order[1:]], project
        self.start(project, order[0], kind_of(order[0]))
        if self._queue:
            makers = order[:-1]
            self.run_page.append_log(f"“{order[-1]}” starts from models that {', '.join(makers)} "
                                     f"{'makes' if len(makers) == 1 else 'make'}: running "
                                     f"{'it' if len(makers) == 1 else 'them'} first.")

    def cancel(self) -> None:
        self._queue.clear()
        if self.bridge.running:
            self.bridge.cancel()
            self.run_page.append_log("Cancelling: cells stop at their next batch; finished cells are kept.")
            self.status_text.setText("Cancelling…")

    def status_line(self) -> str:
        """'Running 112/585 cells · 0:41 elapsed · ~0:14 left': the Run page's own numbers."""
        info = self.info
        if info is None or not info.total:
            return ""
        remaining = self.run_page.remaining_text()
        return (f"Running {info.done}/{info.total} cells · {fmt_clock(self.run_page.elapsed_s())} elapsed"
                + (f" · {remaining}" if remaining else ""))

    # -- events -----------------------------------------------------------------------------------

    def _on_events(self, events: list) -> None:
        info = self.info
        for e in events:
            if e.kind == "planned":
                rows = [CellRow(c.key, c.arm, self._kind.cell_label(c), c.seed) for c in e.cells or []]
                self.run_page.begin(info.study, rows, e.skipped)
                info.total = e.total
                self.status_progress.setRange(0, max(1, e.total))
                self.status_progress.setValue(0)
                self.status_progress.setVisible(e.total > 0)
        self.run_page.apply_events([e for e in events if e.kind not in ("planned", "cell_curve")])
        points = [LivePoint(e.cell.key, e.cell.arm, e.cell.seed, *e.curve) for e in events
                  if e.kind == "cell_curve" and e.cell is not None and e.curve is not None]
        if points:
            self.curvePoints.emit(info.study, points)
        last = events[-1]
        info.done = last.done + last.failed
        if any(e.kind == "cell_finished" for e in events):
            self._unannounced = True
            if not self._live.isActive():
                self._live.start()
        if info.total:
            self.status_progress.setValue(info.done)
            self._tick()

    def _announce(self) -> None:
        if self._unannounced and self.info is not None:
            self._unannounced = False
            self.cellsSaved.emit(self.info.study)

    def _tick(self) -> None:
        self.run_page.tick()
        line = self.status_line()
        if line:
            self.status_text.setText(line)

    def _on_finished(self, summary) -> None:
        self._clock.stop()
        self._live.stop()
        self.status_progress.hide()
        study = self.info.study if self.info is not None else ""
        if summary is not None:
            self.run_page.finish(summary.status, summary.done, summary.failed, summary.cancelled)
            words = {"done": "finished", "failed": "finished with failures", "cancelled": "cancelled",
                     "up-to-date": "is up to date"}
            self.status_text.setText(f"Study {summary.study} {words.get(summary.status, summary.status)}: "
                                     f"{summary.done} computed, {summary.skipped} already done, {summary.failed} failed.")
        self.info = None
        self.ended.emit(study, summary)
        if self._queue:
            if summary is not None and summary.status in ("done", "up-to-date"):
                name, kind = self._queue.pop(0)
                self.start(self._project, name, kind)
                return
            waiting, self._queue = [name for name, _ in self._queue], []
            self.failed.emit(f"{', '.join(waiting)} did not run: “{study}”, whose models "
                             f"{'it starts' if len(waiting) == 1 else 'they start'} from, did not finish.")

    def _on_failed(self, message: str) -> None:
        self._queue.clear()
        self.run_page.finish("error", 0, 0, 0, message=f"The run stopped: {message}")
        self.failed.emit(message)
