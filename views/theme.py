"""The one source of colour for every widget, chart, HTML view and style sheet, per theme.

A widget never hard-codes a colour. It either
- takes it from the application palette (Qt roles, set by ``app.theme`` from :data:`COLOURS`), or
- asks for a *tone* with :func:`set_tone` (``muted``, ``error``, ``ok``, ``warn``, ``accent``), which
  the application style sheet (:func:`style_sheet`) colours for the current theme, or
- reads :func:`current` when it paints or builds HTML, and rebuilds on a theme change
  (:func:`watch_theme`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from string import Template
from typing import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget

STYLE_TEMPLATE = Path(__file__).resolve().parents[1] / "assets" / "style.qss"
TONES = ("", "muted", "error", "ok", "warn", "accent")


@dataclass(frozen=True)
class Colours:
    """Named colours of one theme. Every text colour has a contrast of at least 4.5:1 (WCAG AA)
    on ``window``, ``surface`` and ``surface_alt``; ``on_accent`` on ``accent_fill`` too."""

    name: str
    window: str  # page background
    surface: str  # cards, panels, charts, inputs
    surface_alt: str  # alternate table rows, code blocks, the selected tab's neighbours
    text: str
    muted: str  # secondary text
    border: str
    accent: str  # links and accent text
    accent_fill: str  # primary buttons, selection, the selected tab's marker
    on_accent: str  # text on accent_fill
    error: str
    ok: str
    warn: str
    note_fill: str  # background of notes and comments (text colour: ``text``)
    disabled: str  # text of disabled controls (exempt from the contrast rule, as WCAG allows)


COLOURS: dict[str, Colours] = {
    "light": Colours(
        "light", window="#F5F6F8", surface="#FFFFFF", surface_alt="#EEF1F5", text="#1D1F23", muted="#59616D",
        border="#C9CED6", accent="#005F99", accent_fill="#0067A6", on_accent="#FFFFFF", error="#B3261E",
        ok="#1B7A38", warn="#8A5300", note_fill="#FFF3D6", disabled="#9AA1AB",
    ),
    "dark": Colours(
        "dark", window="#1C1E22", surface="#24272C", surface_alt="#2C3036", text="#E6E8EB", muted="#A4ACB8",
        border="#3E434B", accent="#6CC0F0", accent_fill="#0067A6", on_accent="#FFFFFF", error="#FF8F85",
        ok="#6BD48A", warn="#F0B94D", note_fill="#3A3222", disabled="#6B727C",
    ),
}


def colours(name: str) -> Colours:
    try:
        return COLOURS[name]
    except KeyError:
        raise ValueError(f"Unknown theme {name!r}; use 'light' or 'dark'.") from None


def current_name() -> str:
    """'light' or 'dark': the theme the application shows now (from its palette if none was set)."""
    app = QGuiApplication.instance()
    if app is None:
        return "light"
    name = app.property("juxtaTheme")
    if name in COLOURS:
        return str(name)
    return "dark" if QGuiApplication.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.5 else "light"


def current() -> Colours:
    return COLOURS[current_name()]


# -- application palette and style sheet ------------------------------------------------------------


def palette(c: Colours) -> QPalette:
    """The Qt palette of a theme (Fusion draws every standard widget from it)."""
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: c.window, QPalette.ColorRole.WindowText: c.text, QPalette.ColorRole.Base: c.surface,
        QPalette.ColorRole.AlternateBase: c.surface_alt, QPalette.ColorRole.Text: c.text,
        QPalette.ColorRole.Button: c.surface_alt, QPalette.ColorRole.ButtonText: c.text,
        QPalette.ColorRole.Highlight: c.accent_fill, QPalette.ColorRole.HighlightedText: c.on_accent,
        QPalette.ColorRole.ToolTipBase: c.surface, QPalette.ColorRole.ToolTipText: c.text,
        QPalette.ColorRole.Mid: c.border, QPalette.ColorRole.PlaceholderText: c.muted,
        QPalette.ColorRole.Link: c.accent, QPalette.ColorRole.LinkVisited: c.accent,
        QPalette.ColorRole.BrightText: c.error,
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.disabled))
    return p


def style_sheet(c: Colours) -> str:
    """The application style sheet for a theme (``assets/style.qss`` with the theme's colours)."""
    return Template(STYLE_TEMPLATE.read_text(encoding="utf-8")).substitute(asdict(c), assets=STYLE_TEMPLATE.parent.as_posix())


# -- tones and theme changes ------------------------------------------------------------------------


def set_tone(widget: QWidget, tone: str) -> None:
    """Colour a label's text by meaning (the style sheet maps tones to the theme's colours)."""
    if tone not in TONES:
        raise ValueError(f"Unknown tone {tone!r}; use one of {', '.join(t or '(none)' for t in TONES)}.")
    if widget.property("tone") == tone:
        return
    widget.setProperty("tone", tone)
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)
    widget.update()


class _ThemeWatcher(QObject):
    """Calls back when the application's theme changes (once per change, not per palette event).

    The callback runs from the event loop *after* the switch, never inside it: Qt is then still
    walking every widget to re-polish it, and a callback that rebuilds widgets there (new buttons,
    redrawn charts) leaves Qt holding deleted ones — a segfault in ``setStyleSheet``."""

    def __init__(self, widget: QWidget, callback: Callable[[Colours], None]):
        super().__init__(widget)
        self._callback = callback
        self._seen = current_name()
        self._pending = False
        widget.installEventFilter(self)

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.StyleChange):
            if current_name() != self._seen and not self._pending:
                self._pending = True
                QTimer.singleShot(0, self, self._notify)
        return False

    def _notify(self) -> None:
        self._pending = False
        name = current_name()
        if name != self._seen:
            self._seen = name
            self._callback(COLOURS[name])


def watch_theme(widget: QWidget, callback: Callable[[Colours], None]) -> None:
    """Run ``callback(colours)`` whenever the theme changes while ``widget`` lives (HTML and painted
    colours are rebuilt there; tones and palette roles follow by themselves)."""
    _ThemeWatcher(widget, callback)


# -- contrast (WCAG 2.x) ----------------------------------------------------------------------------


def relative_luminance(colour: str | QColor) -> float:
    q = QColor(colour)

    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(q.redF()) + 0.7152 * lin(q.greenF()) + 0.0722 * lin(q.blueF())


def contrast_ratio(a: str | QColor, b: str | QColor) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(background: str | QColor) -> str:
    """Black or white text, whichever reads better on ``background`` (heatmap cells, swatches). Pure black:
    then the better of the two reaches at least 4.58:1 on any colour (a near-black fell to 4.35:1 on
    mid-luminance cells)."""
    return "#000000" if contrast_ratio("#000000", background) >= contrast_ratio("#FFFFFF", background) else "#FFFFFF"
