"""Fonts and the small widgets the wizard pages share: labels, messages, thumbnails, bar charts.

No colour is written here: text takes a tone or an objectName that the application style sheet
colours (``views.theme``), and what is painted (bar charts) reads ``views.theme.current()`` and
repaints on a theme change.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from views.theme import Colours, current, set_tone, watch_theme

BACKEND_LABELS = {
    "loky": "This computer — several processes at once",
    "sequential": "This computer — one cell at a time (simplest)",
    "dask": "A Dask cluster",
}
DEVICE_LABELS = {"auto": "Automatic (GPU if there is one)", "cpu": "CPU only", "cuda": "NVIDIA GPU (CUDA)", "mps": "Apple GPU (MPS)"}
SPLIT_LABELS = {
    "test": "Test part — held out from training (recommended)",
    "validation": "Validation part",
    "train": "Training part (what built-in models learn from)",
    "all": "All rows",
}


def help_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText if "<" in text else Qt.TextFormat.PlainText)
    return label


def hf_row(placeholder: str, edit_name: str, button_text: str, button_name: str) -> tuple[QHBoxLayout, QLineEdit, QPushButton]:
    """A 'Hugging Face id' line edit with its button, as the Models and Dataset pages show it."""
    row = QHBoxLayout()
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setAccessibleName(edit_name)
    button = QPushButton(button_text)
    button.setAccessibleName(button_name)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row, edit, button


def heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.08)
    label.setFont(font)
    return label


class FieldNote(QLabel):
    """The line under a field: its help or status, or what is wrong with the field.

    Its height is reserved (``lines`` lines) whether or not it says anything, so a message that
    appears or goes does not move the page. Problems read in the error tone once the person has
    acted on the page (touched it or tried to go on); before that they read as a neutral to-do.
    """

    def __init__(self, text: str = "", *, lines: int = 1, name: str = ""):
        super().__init__()
        self.lines = lines
        self.lead = ""  # said before the problems, e.g. "This name cannot be used."
        self._said, self._tone = text, "muted"
        self._problems: list[str] = []
        self._as_error = True
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if name:
            self.setAccessibleName(name)
        self._reserve()
        self._refresh()

    def say(self, text: str, tone: str = "muted", *, rich: bool = False) -> None:
        """Help or status (plain text unless ``rich``), shown whenever the field has no problem."""
        self._said, self._tone = (text if rich else html.escape(text, quote=False)), tone
        self._refresh()

    def show_problems(self, problems: list[str], *, as_error: bool = True) -> None:
        self._problems, self._as_error = list(problems), as_error
        self._refresh()

    def problems(self) -> list[str]:
        return list(self._problems)

    def _refresh(self) -> None:
        if self._problems:
            text = " ".join(sentence(p) for p in self._problems)
            set_tone(self, "error" if self._as_error else "muted")
            self.setText(html.escape(f"{self.lead} {text}" if self.lead else text, quote=False))
        else:
            set_tone(self, self._tone)
            self.setText(self._said)

    def _reserve(self) -> None:
        self.setMinimumHeight(self.fontMetrics().lineSpacing() * self.lines + 2)


def sentence(text: str) -> str:
    """'seeds must not repeat' -> 'Seeds must not repeat.'"""
    text = text.strip()
    if not text:
        return text
    first = text.split(" ", 1)[0]
    if first.isalpha() and first.isascii() and first.islower():  # not ρ, a quote or a file name
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def image_pixmap(image: Any, size: int) -> QPixmap:
    """A uint8 (or [0, 1] float) HxW / HxWx3 / CxHxW image as a pixmap fitting ``size``×``size``.

    Small images are enlarged with nearest-neighbour so single pixels stay crisp (8×8 digits).
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.transpose(a, (1, 2, 0))
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        if a.size and np.nanmax(a) <= 1.0:
            a = a * 255.0
        a = np.clip(np.nan_to_num(a), 0, 255).astype(np.uint8)
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    if a.ndim == 2:
        qimg = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8)
    elif a.shape[2] == 4:
        qimg = QImage(a.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
    else:
        qimg = QImage(a[:, :, :3].copy().data, w, h, 3 * w, QImage.Format.Format_RGB888)
    qimg = qimg.copy()  # own the pixels
    mode = Qt.TransformationMode.FastTransformation if max(h, w) < size else Qt.TransformationMode.SmoothTransformation
    return QPixmap.fromImage(qimg).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)


class Thumbnail(QLabel):
    """A fixed-size image tile (a card) with a placeholder until its picture arrives."""

    def __init__(self, size: int, accessible_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._size = size
        self.setObjectName("card")
        self.setFixedSize(size, size)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAccessibleName(accessible_name)
        self.set_placeholder("…")

    def set_placeholder(self, text: str) -> None:
        self.clear()
        set_tone(self, "muted")
        self.setText(text)

    def set_image(self, image: Any) -> None:
        set_tone(self, "")
        self.setPixmap(image_pixmap(image, self._size - 2))

    def has_image(self) -> bool:
        pm = self.pixmap()
        return pm is not None and not pm.isNull()


class BarChart(pg.PlotWidget):
    """A small read-only bar chart (class balance, class priors) in the theme's colours.

    ``colour`` names a colour of ``views.theme.Colours`` (e.g. ``"accent_fill"``), so the bars follow
    the theme too.
    """

    def __init__(self, accessible_name: str, colour: str = "accent_fill", y_label: str | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent=parent)
        self._colour = colour
        self._y_label = y_label
        self.setAccessibleName(accessible_name)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        item = self.getPlotItem()
        for side in ("left", "bottom"):
            item.getAxis(side).enableAutoSIPrefix(False)
        self._bars = pg.BarGraphItem(x=[0], height=[0], width=0.7, pen=pg.mkPen(None))
        self.addItem(self._bars)
        self._reference = pg.InfiniteLine(angle=0)
        self._reference.hide()
        self.addItem(self._reference)
        self._heights = np.zeros(0)
        self.setMinimumHeight(120)
        self.apply_theme(current())
        watch_theme(self, self.apply_theme)

    def apply_theme(self, c: Colours) -> None:
        """Background, axes, bars and the reference line in the theme's colours."""
        self.setBackground(c.surface)
        item = self.getPlotItem()
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(c.border))
            axis.setTextPen(pg.mkPen(c.text))
        if self._y_label:
            item.setLabel("left", self._y_label, color=c.text)
        self._bars.setOpts(brush=pg.mkBrush(getattr(c, self._colour)))
        self._reference.setPen(pg.mkPen(c.muted, width=1, style=Qt.PenStyle.DashLine))

    def set_bars(self, labels: list[str], values: Any, *, reference: float | None = None,
                 y_max: float | None = None, percent: bool = False) -> None:
        values = np.asarray(values, dtype=float)
        self._heights = values.copy()
        if percent:  # drawn as percentages, kept as fractions
            values = values * 100.0
            reference = None if reference is None else reference * 100.0
            y_max = None if y_max is None else y_max * 100.0
        x = np.arange(len(values))
        self._bars.setOpts(x=x, height=values, width=0.7)
        step = max(1, math.ceil(len(labels) / 20))
        ticks = [(i, str(lbl)[:10]) for i, lbl in enumerate(labels) if i % step == 0]
        self.getPlotItem().getAxis("bottom").setTicks([ticks])
        top = y_max if y_max is not None else (float(values.max()) * 1.15 if len(values) and values.max() > 0 else 1.0)
        self.setXRange(-0.6, max(len(values), 1) - 0.4, padding=0)
        self.setYRange(0, top, padding=0)
        if reference is None:
            self._reference.hide()
        else:
            self._reference.setPos(reference)
            self._reference.show()
        fmt = (lambda v: f"{v:.0f}%") if percent else (lambda v: f"{v:g}")
        self.setAccessibleDescription("; ".join(f"{lbl}: {fmt(v)}" for lbl, v in zip(labels, values))[:1000])

    def heights(self) -> np.ndarray:
        return self._heights.copy()


def stacked(*widgets: QWidget) -> QWidget:
    """Widgets one above the other with tight spacing (a field and its help line)."""
    host = QWidget()
    col = QVBoxLayout(host)
    col.setContentsMargins(0, 0, 0, 4)
    col.setSpacing(3)
    for w in widgets:
        col.addWidget(w)
    return host


def set_tab_order(widgets: list[QWidget]) -> None:
    for a, b in zip(widgets, widgets[1:]):
        QWidget.setTabOrder(a, b)
