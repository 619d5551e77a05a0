"""Fonts shared by views: the system's fixed-width font for study files and code."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase


def monospace_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font
