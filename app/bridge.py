"""The bridge that runs engine work off the GUI thread and turns its events into throttled signals.

The coordinator (``Project.run``) runs in a plain background thread; its workers are separate
processes. Engine events land in a queue; a GUI-thread timer drains it every ``interval_ms`` and
emits one ``events`` signal per batch, so a burst of thousands of progress events costs the event
loop a few cheap slot calls.
"""

from __future__ import annotations

import queue
import threading
import traceback
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal


class RunBridge(QObject):
    events = Signal(list)  # batched RunEvents
    finished = Signal(object)  # RunSummary, or None after an error
    failed = Signal(str)  # a plain message when the run could not start or crashed

    def __init__(self, interval_ms: int = 100, parent: QObject | None = None):
        super().__init__(parent)
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._active = False  # from start() until ``finished`` is emitted (the thread may linger a moment)
        self._control = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._drain)

    @property
    def running(self) -> bool:
        """True from ``start`` until ``finished`` has been emitted: what the window may rely on."""
        return self._active

    def start(self, project: Any, study: str, **options: Any) -> None:
        """Run ``project.run(study)`` in the background. Raises RuntimeError if a run is active."""
        if self.running:
            raise RuntimeError("A run is already in progress.")
        if self._thread is not None:
            self._thread.join(5.0)  # the last run's thread has reported; it is only returning
        from engine.core.execute import RunControl  # torch-free; torch loads only if cells must run

        self._control = RunControl()
        self._queue = queue.Queue()

        def target() -> None:
            try:
                summary = project.run(study, on_event=self._queue.put, control=self._control, **options)
                self._queue.put(("finished", summary))
            except Exception as exc:  # shown as a message; the database stays consistent
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                self._queue.put(("error", str(message), traceback.format_exc()))

        self._thread = threading.Thread(target=target, name=f"juxta-run-{study}", daemon=True)
        self._active = True
        self._thread.start()
        self._timer.start()

    def cancel(self) -> None:
        if self._control is not None:
            self._control.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run thread ends (tests and application exit only)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        self._drain()
        return not self._thread.is_alive()

    def _drain(self) -> None:
        batch: list[Any] = []
        end: tuple | None = None
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, tuple):
                end = item
            else:
                batch.append(item)
        if batch:
            self.events.emit(batch)
        if end is not None:
            self._timer.stop()
            self._active = False
            if end[0] == "finished":
                self.finished.emit(end[1])
            else:
                self.failed.emit(end[1])
                self.finished.emit(None)
