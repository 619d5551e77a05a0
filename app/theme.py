"""Light and dark themes: Fusion with an explicit palette, following the system unless chosen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

ASSETS = Path(__file__).resolve().parents[1] / "assets"
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
    p = QPalette()
    if name == "dark":
        colours = {
            QPalette.Window: "#1f2124", QPalette.WindowText: "#e8e8e8", QPalette.Base: "#17181a",
            QPalette.AlternateBase: "#24262a", QPalette.Text: "#e8e8e8", QPalette.Button: "#2a2d31",
            QPalette.ButtonText: "#e8e8e8", QPalette.Highlight: "#0072B2", QPalette.HighlightedText: "#ffffff",
            QPalette.ToolTipBase: "#2a2d31", QPalette.ToolTipText: "#e8e8e8", QPalette.Mid: "#8a8f98",
            QPalette.PlaceholderText: "#8a8f98", QPalette.Link: "#56B4E9",
        }
    else:
        colours = {
            QPalette.Window: "#f5f6f8", QPalette.WindowText: "#1d1f23", QPalette.Base: "#ffffff",
            QPalette.AlternateBase: "#f2f4f7", QPalette.Text: "#1d1f23", QPalette.Button: "#eceef1",
            QPalette.ButtonText: "#1d1f23", QPalette.Highlight: "#0072B2", QPalette.HighlightedText: "#ffffff",
            QPalette.ToolTipBase: "#ffffff", QPalette.ToolTipText: "#1d1f23", QPalette.Mid: "#6b7280",
            QPalette.PlaceholderText: "#8a8f98", QPalette.Link: "#0072B2",
        }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    p.setColor(QPalette.Disabled, QPalette.Text, QColor("#8a8f98"))
    p.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#8a8f98"))
    app.setPalette(p)
    app.setStyleSheet((ASSETS / "style.qss").read_text(encoding="utf-8"))
    app.setProperty("juxtaTheme", name)
    return name
