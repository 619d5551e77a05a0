"""Apply a theme to the application: Fusion with the theme's palette and style sheet (views.theme)."""

from __future__ import annotations

import gc

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from views.theme import colours, palette, style_sheet

THEMES = ("system", "light", "dark")


def resolve(choice: str) -> str:
    """'system' -> 'light' or 'dark' from the desktop's colour scheme."""
    if choice in ("light", "dark"):
        return choice
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else None
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def apply(app: QApplication, choice: str) -> str:
    """Apply a theme to the whole application; returns the resolved 'light' or 'dark'."""
    name = resolve(choice)
    if app.property("juxtaTheme") is None:
        # Once only: replacing the application style while a widget has its own style sheet
        # leaves that widget's style proxy pointing at the deleted style (a segfault on the next
        # style sheet change, seen after the wizard had been opened).
        app.setStyle("Fusion")
    c = colours(name)
    app.setProperty("juxtaTheme", name)  # first: widgets that rebuild on the palette change read it
    # Qt re-polishes every widget here and calls Python event filters on the way; Python's cycle
    # collector must not run meanwhile: freeing a Qt object held only by a reference cycle (an
    # offscreen chart's menu) in the middle of the restyle segfaulted. Collect before, pause during.
    gc.collect()
    gc.disable()
    try:
        app.setPalette(palette(c))
        app.setStyleSheet(style_sheet(c))
    finally:
        gc.enable()
    return name
