"""The Qt binding itself: PySide6 6.12.0 on Python 3.11 dropped a reference to None on every Qt call
that returns nothing, and the app aborted ("none_dealloc") after a few thousand calls."""

from __future__ import annotations

import sys


def test_qt_calls_keep_none_alive(qapp):
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        label.update()
    assert sys.getrefcount(None) >= before - 50  # a leak per call would be 4000 short
