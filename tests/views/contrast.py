"""Text-versus-background contrast of what a widget tree shows, for GUI tests of any page (WCAG AA).

The foreground is what Qt will draw the text with: the widget's palette after ``ensurePolished``
(the style sheet's tones land there), plus every inline colour of rich text and every colour a
document or syntax highlighter sets. The background is what is really behind the text: the most
frequent pixel colour of a grab of the widget (parents' backgrounds, cards and notes included).

    problems = low_contrast(page)          # [] when every visible text reads at 4.5:1 or better
    assert not problems, "\\n".join(problems)
"""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import QModelIndex, QPoint, QRect, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QPlainTextEdit, QTextEdit, QWidget

from views.theme import contrast_ratio

AA = 4.5
_INLINE = re.compile(r"""(?:(?<![-\w])color\s*:\s*|<font[^>]*\bcolor\s*=\s*["']?)(#[0-9A-Fa-f]{3,8}\b|[A-Za-z]+\b)""")


def dominant_colour(image: QImage, keep_alpha: bool = False) -> QColor:
    """The most frequent pixel colour of an image (the background behind a line of text); with
    ``keep_alpha`` its alpha too (0 where nothing was painted)."""
    img = image.convertToFormat(QImage.Format.Format_ARGB32 if keep_alpha else QImage.Format.Format_RGB32)
    w, h = img.width(), img.height()
    if not w or not h:
        raise ValueError("the widget has no area to grab")
    stride = img.bytesPerLine() // 4
    pixels = np.frombuffer(img.constBits(), dtype=np.uint32, count=stride * h).reshape(h, stride)[:, :w]
    values, counts = np.unique(pixels, return_counts=True)
    value = int(values[int(np.argmax(counts))])
    if keep_alpha:
        return QColor.fromRgba(value)
    return QColor.fromRgb(value & 0xFFFFFF)


def background_of(widget: QWidget) -> QColor:
    """What is behind the widget's text: a grab of the widget (for a text edit, of its viewport). A
    widget with a transparent background (a label on a card) grabs as transparent pixels: then its
    area is taken from its window, as drawn there (parents' cards and panels included)."""
    target = widget.viewport() if isinstance(widget, (QTextEdit, QPlainTextEdit)) else widget
    own = target.grab().toImage().convertToFormat(QImage.Format.Format_ARGB32)
    if own.width() and own.height() and dominant_colour(own, keep_alpha=True).alpha() > 0:
        return dominant_colour(own)
    window = target.window()
    shown = target.visibleRegion().boundingRect()  # the part not clipped by a scroll area
    area = QRect(target.mapTo(window, shown.topLeft()), shown.size()).intersected(window.rect())
    if area.isEmpty():
        return dominant_colour(own)
    return dominant_colour(window.grab(area).toImage())


def on_screen(widget: QWidget) -> bool:
    """Whether any of the widget can be seen now (not scrolled out of its scroll area)."""
    return not widget.visibleRegion().isEmpty()


def foreground_of(widget: QWidget) -> QColor:
    """The colour Qt draws the widget's plain text with (palette after the style sheet polished it)."""
    widget.ensurePolished()
    role = QPalette.ColorRole.Text if isinstance(widget, (QTextEdit, QPlainTextEdit)) else widget.foregroundRole()
    return widget.palette().color(QPalette.ColorGroup.Active, role)


def inline_colours(text: str) -> list[str]:
    """Colours written into rich text: ``style='color: …'`` and ``<font color=…>``."""
    return [m.group(1) for m in _INLINE.finditer(text)]


def document_colours(widget: QTextEdit | QPlainTextEdit) -> list[str]:
    """Foreground colours a text edit's document uses: its fragments' formats and a syntax highlighter's."""
    found: set[str] = set()
    block = widget.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.foreground().style().value:  # not Qt.NoBrush
                found.add(fmt.foreground().color().name())
            it += 1
        for r in block.layout().formats():  # what a QSyntaxHighlighter set
            if r.format.foreground().style().value:
                found.add(r.format.foreground().color().name())
        block = block.next()
    return sorted(found)


def _shows_text(widget: QWidget) -> bool:
    text = widget.text() if isinstance(widget, QLabel) else widget.toPlainText()
    return bool(text.strip())


def text_widgets(root: QWidget) -> list[QWidget]:
    """Visible, enabled labels and text edits under ``root`` (``root`` included) that show text and
    are on screen now (scroll to check the rest).

    Disabled widgets are left out: WCAG exempts inactive controls, and they are drawn dimmed on purpose.
    """
    kinds = (QLabel, QTextEdit, QPlainTextEdit)
    found = [root] if isinstance(root, kinds) else []
    for kind in kinds:
        found += [w for w in root.findChildren(kind) if w not in found]
    return [w for w in found if w.isVisible() and w.isEnabled() and w.width() > 0 and w.height() > 0 and _shows_text(w)
            and on_screen(w)]


def _describe(widget: QWidget) -> str:
    name = widget.accessibleName() or widget.objectName() or type(widget).__name__
    text = widget.text() if isinstance(widget, QLabel) else widget.toPlainText()
    text = re.sub(r"<[^>]+>", "", text).strip().replace("\n", " ")
    return f"{name} “{text[:50]}”"


def widget_problems(widget: QWidget, minimum: float = AA) -> list[str]:
    """Each text colour of one widget that reads below ``minimum`` on what is behind it."""
    background = background_of(widget)
    colours = [("text", foreground_of(widget).name())]
    if isinstance(widget, QLabel) and widget.textFormat() != widget.textFormat().PlainText:
        colours += [("inline", c) for c in inline_colours(widget.text())]
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        colours += [("document", c) for c in document_colours(widget)]
    out = []
    for where, colour in colours:
        ratio = contrast_ratio(colour, background)
        if ratio < minimum:
            out.append(f"{_describe(widget)}: {where} colour {colour} on {background.name()} is {ratio:.2f}:1")
    return out


def item_problems(view: QAbstractItemView, minimum: float = AA) -> list[str]:
    """Each item of a list, table or tree whose own text colour reads below ``minimum`` on the view."""
    model = view.model()
    background = background_of(view.viewport())
    default = view.palette().color(QPalette.ColorRole.Text)
    out = []
    for row in range(model.rowCount(QModelIndex())):
        col = 0
        while (index := model.index(row, col)).isValid():
            col += 1
            value = index.data(Qt.ItemDataRole.ForegroundRole)
            colour = default if value is None else value.color() if isinstance(value, QBrush) else QColor(value)
            ratio = contrast_ratio(colour, background)
            if ratio < minimum:
                out.append(f"{view.accessibleName() or type(view).__name__} item “{index.data()}”: "
                           f"{colour.name()} on {background.name()} is {ratio:.2f}:1")
    return out


def low_contrast(root: QWidget, minimum: float = AA) -> list[str]:
    """Every visible text under ``root`` whose colour reads below ``minimum`` (4.5:1) on its background,
    labels, text edits and item views alike; [] when all are readable."""
    out: list[str] = []
    for widget in text_widgets(root):
        out += widget_problems(widget, minimum)
    for view in root.findChildren(QAbstractItemView):
        if (not isinstance(view, QHeaderView) and view.isVisible() and on_screen(view) and view.model() is not None
                and view.model().rowCount(QModelIndex())):
            out += item_problems(view, minimum)
    return out
