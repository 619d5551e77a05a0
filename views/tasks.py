"""Run a slow callable off the GUI thread and get its result back as a Qt signal.

Usage: ``run_in_background(fn, *args, on_done=..., on_error=...)``. ``on_error`` receives the
exception's message (a JuxtaError's plain sentence, or "Type: message" for anything else).
"""

from __future__ import annotations

from typing import Any, Callable

import shiboken6

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

_live: set["_Task"] = set()  # keep tasks (and their signal objects) alive until they report


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Task(QRunnable):
    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict):
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = _Signals()
        self.setAutoDelete(False)

    def run(self) -> None:
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Exception as exc:  # reported to the view as a message, never a traceback
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self._emit(self.signals.failed, str(message))
        else:
            self._emit(self.signals.done, result)

    def _emit(self, signal: Any, value: Any) -> None:
        if shiboken6.isValid(self.signals):  # the application may have quit while this ran
            signal.emit(value)


def run_in_background(fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[str], None] | None = None, context: QObject | None = None,
                      **kwargs: Any) -> _Task:
    """``context``: a widget whose deletion (window closed meanwhile) cancels the callbacks."""
    task = _Task(fn, args, kwargs)
    _live.add(task)

    def finish(_: Any = None) -> None:
        _live.discard(task)

    def guarded(callback: Callable[[Any], None]) -> Callable[[Any], None]:
        def call(value: Any) -> None:
            if context is None or shiboken6.isValid(context):
                callback(value)

        return call

    if on_done is not None:
        task.signals.done.connect(guarded(on_done))
    if on_error is not None:
        task.signals.failed.connect(guarded(on_error))
    task.signals.done.connect(finish)
    task.signals.failed.connect(finish)
    QThreadPool.globalInstance().start(task)
    return task


class LatestLoad:
    """Background loads where only the newest request's answer counts, with their results cached
    by key: a form that asks again while an older answer is on its way shows the newer one only."""

    def __init__(self) -> None:
        self.cache: dict[tuple, Any] = {}
        self._latest = 0

    def next(self) -> int:
        self._latest += 1
        return self._latest

    def is_current(self, request: int) -> bool:
        return request == self._latest
