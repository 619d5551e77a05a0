"""The study screen: a readable summary of one study, and its study file for people who like text.

The summary says what will be compared and how much work that is, in the study kind's own words
(``providers.describe``: the kind's ``describe()``, from the file alone). "Show as study file" swaps it
for an editor with the TOML: every edit is checked by the engine's validator (``providers.validate``)
after a short pause, problems are listed with their line numbers and marked in the margin, and Save /
Run follow the rules a person expects: Save only when the text is valid and changed, Run only when
what is on disk is valid (no unsaved changes).

The page never writes files: ``saveRequested(text)`` asks the app to; the app then calls
``set_study(name, text)`` (or ``mark_saved()``) so the page knows the text on disk.
"""

from __future__ import annotations

import html
import re
import tomllib
from typing import Any

from dataclasses import dataclass

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QSyntaxHighlighter, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from engine.core.header import STUDY_SUFFIX
from views.fonts import monospace_font
from views.providers import StudyProviders
from views.theme import COLOURS, Colours, current, set_tone, watch_theme

__all__ = ["StudyPage", "TomlHighlighter", "StudyFileEditor", "SyntaxColours", "SYNTAX", "syntax_colours", "problem_line"]

_LINE_RES = (re.compile(r"^line (\d+):"), re.compile(r"\bline (\d+)\b"))


def problem_line(problem: str) -> int | None:
    """The 1-based line a validator problem names ('line 6: …' or '… (at line 6, column 3)')."""
    for rx in _LINE_RES:
        m = rx.search(problem)
        if m:
            return int(m.group(1))
    return None


def _mix(base: str, tint: str, share: float) -> str:
    a, b = QColor(base), QColor(tint)
    return QColor(*(round(x * (1 - share) + y * share) for x, y in
                    ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue())))).name()


@dataclass(frozen=True)
class SyntaxColours:
    """The study-file editor's colours for one theme: every text colour reads at 4.5:1 or more on
    both ``background`` and ``problem_fill`` (the tint behind a line with a problem)."""

    background: str
    table: str  # [study], [[models]]
    key: str
    string: str
    number: str  # numbers and booleans
    comment: str
    gutter: str  # the line-number margin
    line_number: str
    problem: str  # the line number and dot of a line with a problem
    problem_fill: str


def syntax_colours(c: Colours) -> SyntaxColours:
    """Derived from the theme's named colours (each already meets 4.5:1 on its surfaces)."""
    return SyntaxColours(
        background=c.surface, table=c.accent, key=c.text, string=c.ok, number=c.warn, comment=c.muted,
        gutter=c.surface_alt, line_number=c.muted, problem=c.error, problem_fill=_mix(c.surface, c.error, 0.1),
    )


SYNTAX: dict[str, SyntaxColours] = {name: syntax_colours(c) for name, c in COLOURS.items()}


class TomlHighlighter(QSyntaxHighlighter):
    """Comments, table headers, keys, strings, numbers and booleans, line by line, in the theme's colours."""

    def __init__(self, document: Any, colours: SyntaxColours | None = None):
        super().__init__(document)
        self.set_colours(colours or SYNTAX[current().name], rehighlight=False)

    def set_colours(self, sc: SyntaxColours, rehighlight: bool = True) -> None:
        """Use another colour set (a theme change) and, by default, highlight the text again."""

        def fmt(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
            f = QTextCharFormat()
            f.setForeground(QColor(color))
            if bold:
                f.setFontWeight(QFont.Weight.Bold)
            f.setFontItalic(italic)
            return f

        self.colours = sc
        self._rules = [
            (re.compile(r"^\s*\[\[?[^\]]*\]\]?"), fmt(sc.table, bold=True)),
            (re.compile(r"^\s*[A-Za-z0-9_.\-\"]+(?=\s*=)"), fmt(sc.key)),
            (re.compile(r"(?<=[\s,{=\[])(true|false)\b"), fmt(sc.number)),
            (re.compile(r"(?<=[\s,{=\[])[-+]?\d[\d_]*(\.\d+)?([eE][-+]?\d+)?\b"), fmt(sc.number)),
            (re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'"), fmt(sc.string)),
        ]
        self._comment = fmt(sc.comment, italic=True)
        self._string = fmt(sc.string)
        if rehighlight:
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt API)
        inside = self.previousBlockState() == 1
        quotes = text.count('"""') + text.count("'''")
        if inside:  # continuation of a multi-line string
            end = max(text.find('"""'), text.find("'''"))
            if end < 0:
                self.setFormat(0, len(text), self._string)
                self.setCurrentBlockState(1)
                return
            self.setFormat(0, end + 3, self._string)
            self.setCurrentBlockState(1 if quotes % 2 == 0 else 0)
            return
        self.setCurrentBlockState(1 if quotes % 2 == 1 else 0)
        code = text
        comment_at = _comment_start(text)
        if comment_at is not None:
            self.setFormat(comment_at, len(text) - comment_at, self._comment)
            code = text[:comment_at]
        for rx, f in self._rules:
            for m in rx.finditer(code):
                self.setFormat(m.start(), m.end() - m.start(), f)
        if quotes % 2 == 1:  # a multi-line string opens here and runs to the end of the line
            starts = [i for i in (text.rfind('"""'), text.rfind("'''")) if i >= 0]
            start = max(starts)
            self.setFormat(start, len(text) - start, self._string)


def _comment_start(text: str) -> int | None:
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and (i == 0 or text[i - 1] != "\\"):
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return i
    return None


class _LineNumbers(QWidget):
    def __init__(self, editor: "StudyFileEditor"):
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.editor.line_number_width(), 0)

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        self.editor.paint_line_numbers(event)


class StudyFileEditor(QPlainTextEdit):
    """A monospace TOML editor with line numbers and marked problem lines."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFont(monospace_font())
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabChangesFocus(True)  # keyboard users can leave the editor with Tab
        self.setAccessibleName("Study file editor")
        self.highlighter = TomlHighlighter(self.document())
        self._numbers = _LineNumbers(self)
        self._bad_lines: set[int] = set()
        self.blockCountChanged.connect(self._update_margin)
        self.updateRequest.connect(self._update_numbers)
        self._update_margin()
        watch_theme(self, lambda c: self.set_syntax(SYNTAX[c.name]))

    def set_syntax(self, colours: SyntaxColours) -> None:
        """Recolour the text, the margin and the marked lines (called on a theme change)."""
        self.highlighter.set_colours(colours)
        self.mark_lines(self._bad_lines)

    def line_number_width(self) -> int:
        digits = max(3, len(str(max(1, self.blockCount()))))
        return 14 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margin(self, *_: Any) -> None:
        self.setViewportMargins(self.line_number_width(), 0, 0, 0)

    def _update_numbers(self, rect: QRect, dy: int) -> None:
        if dy:
            self._numbers.scroll(0, dy)
        else:
            self._numbers.update(0, rect.y(), self._numbers.width(), rect.height())

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        cr = self.contentsRect()
        self._numbers.setGeometry(QRect(cr.left(), cr.top(), self.line_number_width(), cr.height()))

    def paint_line_numbers(self, event: Any) -> None:
        sc = self.highlighter.colours
        painter = QPainter(self._numbers)
        painter.fillRect(event.rect(), QColor(sc.gutter))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible() and bottom >= event.rect().top():
                bad = (number + 1) in self._bad_lines
                painter.setPen(QColor(sc.problem if bad else sc.line_number))
                text = ("● " if bad else "") + str(number + 1)
                painter.drawText(0, top, self._numbers.width() - 6, height, Qt.AlignmentFlag.AlignRight, text)
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1

    def mark_lines(self, lines: set[int]) -> None:
        self._bad_lines = set(lines)
        selections = []
        for line in sorted(lines):
            block = self.document().findBlockByNumber(line - 1)
            if not block.isValid():
                continue
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(QColor(self.highlighter.colours.problem_fill))
            sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            sel.cursor = QTextCursor(block)
            selections.append(sel)
        self.setExtraSelections(selections)
        self._numbers.update()

    def marked_lines(self) -> set[int]:
        return set(self._bad_lines)

    def go_to_line(self, line: int) -> None:
        block = self.document().findBlockByNumber(max(line - 1, 0))
        if block.isValid():
            cursor = QTextCursor(block)
            self.setTextCursor(cursor)
            self.centerCursor()
            self.setFocus()


class StudyPage(QWidget):
    """One study: its summary, or its study file with live validation. Emits; never writes."""

    editRequested = Signal()
    saveRequested = Signal(str)
    runRequested = Signal()
    dirtyChanged = Signal(bool)
    canSaveChanged = Signal(bool)  # can_save() changed: the window's Save action follows it

    DEBOUNCE_MS = 300

    def __init__(self, providers: StudyProviders, parent: QWidget | None = None):
        super().__init__(parent)
        self.providers = providers
        self.setAccessibleName("Study")
        self._name = ""
        self._saved_text = ""
        self._checked_text: str | None = None
        self._problems: list[str] = []
        self._valid = False
        self._was_dirty = False
        self._running = False  # a run is in progress in the window: no second run, no wizard
        self._could_save = False
        self._raw: dict[str, Any] | None = None
        self._description: Any = None  # the kind's Description of the checked text, when it is valid

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(8)

        header = QHBoxLayout()
        header.setSpacing(8)
        self.name_label = QLabel()
        self.name_label.setAccessibleName("Study name")
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.45)
        font.setBold(True)
        self.name_label.setFont(font)
        self.file_label = QLabel()
        set_tone(self.file_label, "muted")
        header.addWidget(self.name_label)
        header.addWidget(self.file_label)
        header.addStretch(1)
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setToolTip("Change the study step by step in the study wizard.")
        self.edit_button.setAccessibleName("Edit the study in the wizard")
        self.text_toggle = QPushButton("Show as study &file")
        self.text_toggle.setCheckable(True)
        self.text_toggle.setToolTip("See and edit the study as text (TOML). Problems are listed with their line numbers.")
        self.text_toggle.setAccessibleName("Show as study file")
        self.revert_button = QPushButton("&Discard changes")
        self.revert_button.setAccessibleName("Discard unsaved changes to the study file")
        self.save_button = QPushButton("&Save")
        self.save_button.setAccessibleName("Save the study file")
        self.run_button = QPushButton("▶ &Run")
        self.run_button.setAccessibleName("Run the study")
        for b in (self.edit_button, self.text_toggle, self.revert_button, self.save_button, self.run_button):
            header.addWidget(b)
        layout.addLayout(header)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setAccessibleName("Validation result")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)

        self.stack = QStackedWidget()
        layout.addWidget(self.stack, 1)
        self.summary = QTextBrowser()
        self.summary.setAccessibleName("Study summary")
        self.summary.setOpenLinks(False)
        self.summary.setObjectName("card")  # the theme's surface and border (assets/style.qss)
        self.summary.document().setDocumentMargin(16)
        self.stack.addWidget(self.summary)

        editor_host = QWidget()
        editor_col = QVBoxLayout(editor_host)
        editor_col.setContentsMargins(0, 0, 0, 0)
        editor_col.setSpacing(4)
        hint = QLabel("Edit the study file directly. It is checked as you type; problems appear below with their "
                      "line numbers — press Enter on one to jump to it.")
        hint.setWordWrap(True)
        hint.setObjectName("hint")
        editor_col.addWidget(hint)
        split = QSplitter(Qt.Orientation.Vertical)
        self.editor = StudyFileEditor()
        self.problems_list = QListWidget()
        self.problems_list.setAccessibleName("Problems in the study file")
        self.problems_list.setWordWrap(True)
        set_tone(self.problems_list, "error")
        self.problems_list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        split.addWidget(self.editor)
        split.addWidget(self.problems_list)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        editor_col.addWidget(split, 1)
        self.stack.addWidget(editor_host)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.DEBOUNCE_MS)
        self._timer.timeout.connect(self.validate_now)

        self.editor.textChanged.connect(self._on_text_changed)
        self.text_toggle.toggled.connect(self.set_text_mode)
        self.edit_button.clicked.connect(self.editRequested)
        self.save_button.clicked.connect(self._on_save)
        self.run_button.clicked.connect(self._on_run)
        self.revert_button.clicked.connect(self.discard_changes)
        self.problems_list.itemActivated.connect(self._on_problem_activated)
        self.problems_list.itemClicked.connect(self._on_problem_activated)
        QWidget.setTabOrder(self.edit_button, self.text_toggle)
        QWidget.setTabOrder(self.text_toggle, self.revert_button)
        QWidget.setTabOrder(self.revert_button, self.save_button)
        QWidget.setTabOrder(self.save_button, self.run_button)
        QWidget.setTabOrder(self.run_button, self.summary)
        QWidget.setTabOrder(self.summary, self.editor)
        QWidget.setTabOrder(self.editor, self.problems_list)
        watch_theme(self, lambda _c: self._render_summary(self._raw))
        self._update_buttons()

    # -- public API -----------------------------------------------------------------------------

    def set_study(self, name: str, toml_text: str) -> None:
        """Show a study as saved on disk (call again after saving)."""
        self._name = name
        self._saved_text = toml_text
        self.name_label.setText(name)
        self.file_label.setText(f"{name}{STUDY_SUFFIX}")
        self.editor.blockSignals(True)
        self.editor.setPlainText(toml_text)
        self.editor.blockSignals(False)
        self.validate_now()

    def show_no_study(self, message: str) -> None:
        """No study to show (a project without studies): an empty, read-only page saying what to do."""
        self._name = ""
        self._saved_text = ""
        self.name_label.setText("No study")
        self.file_label.setText("")
        self.set_text_mode(False)
        self.editor.blockSignals(True)
        self.editor.setPlainText("")
        self.editor.blockSignals(False)
        self._raw = None
        self._description = None
        self._checked_text = ""
        self._problems = []
        self._valid = False
        self.status_label.setText("")
        self.summary.setPlainText(message)
        self._update_buttons()

    def mark_saved(self, text: str | None = None) -> None:
        """The app saved ``text`` (default: the editor's text); it becomes the clean state."""
        self._saved_text = self.text() if text is None else text
        self._update_buttons()

    def text(self) -> str:
        return self.editor.toPlainText()

    def name(self) -> str:
        return self._name

    def is_dirty(self) -> bool:
        return self.text() != self._saved_text

    def is_valid(self) -> bool:
        return self._valid and self._checked_text == self.text()

    def set_running(self, running: bool) -> None:
        """While a run is in progress Run and Edit are off (the window says so too)."""
        self._running = running
        self._update_buttons()

    def can_save(self) -> bool:
        """True only when the text has unsaved changes and is valid: the one rule for every Save
        (the page's button, the window's Save action and Ctrl+S). Text typed since the last check is
        checked now, so a quick Ctrl+S neither saves an unchecked text nor is ignored."""
        if self.is_dirty() and self._checked_text != self.text():
            self.validate_now()
        return self.is_dirty() and self.is_valid()

    def request_save(self) -> bool:
        """Ask the app to save the text (``saveRequested``) if :meth:`can_save`; returns whether it asked."""
        if not self.can_save():
            return False
        self.saveRequested.emit(self.text())
        return True

    def problems(self) -> list[str]:
        return list(self._problems)

    def text_mode(self) -> bool:
        return self.stack.currentIndex() == 1

    def set_text_mode(self, on: bool) -> None:
        if self.text_toggle.isChecked() != on:
            self.text_toggle.setChecked(on)  # re-enters through toggled
            return
        self.stack.setCurrentIndex(1 if on else 0)
        if self._checked_text == self.text():
            self._render_status()
        if on:
            self.editor.setFocus()

    def discard_changes(self) -> None:
        self.editor.setPlainText(self._saved_text)
        self.validate_now()

    # -- validation -----------------------------------------------------------------------------

    def _on_text_changed(self) -> None:
        self._timer.start()
        set_tone(self.status_label, "muted")
        self.status_label.setText("Checking…")
        self._update_buttons()

    def validate_now(self) -> None:
        self._timer.stop()
        text = self.text()
        try:
            problems = list(self.providers.validate(text))  # engine Problems: text with .key and .line
        except Exception as exc:  # a validator that raises is shown, never crashes the page
            problems = [getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"]
        description = None
        if not problems:
            try:
                description = self.providers.describe(text)
            except Exception as exc:  # a describe that raises is shown, never crashes the page
                problems = [f"Could not describe this study: {type(exc).__name__}: {exc}"]
        self._checked_text = text
        self._problems = problems
        self._valid = not problems
        self._description = description
        raw: dict[str, Any] | None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            raw = None
        self.problems_list.clear()
        lines: set[int] = set()
        for p in problems:
            line = getattr(p, "line", None) or problem_line(p)
            if line:
                lines.add(line)
            shown = re.sub(r"^line (\d+):\s*", r"Line \1: ", p)
            item = QListWidgetItem(("✗ " if line else "✗ ") + shown)
            item.setData(Qt.ItemDataRole.UserRole, line)
            item.setToolTip("Press Enter or click to go to this line." if line else "")
            self.problems_list.addItem(item)
        self.problems_list.setVisible(bool(problems))
        self.editor.mark_lines(lines)
        self._raw = raw
        self._render_status()
        self._render_summary(raw)
        self._update_buttons()

    def _render_status(self) -> None:
        problems, raw = self._problems, self._raw
        if problems:
            n = len(problems)
            first = html.escape(problems[0].rstrip("."), quote=False)
            more = f" (and {n - 1} more)" if n > 1 else ""
            where = "" if self.text_mode() else " Open “Show as study file” to fix it."
            set_tone(self.status_label, "error")
            self.status_label.setText(f"<b>✗ {n} problem{'s' if n != 1 else ''}:</b> {first}{more}.{where}")
        elif raw is not None and self._description is not None:
            set_tone(self.status_label, "ok")
            self.status_label.setText(f"<b>✓ Valid</b> — {html.escape(self._description.cells_sentence)}")
        else:
            set_tone(self.status_label, "")
            self.status_label.setText("")

    def _update_buttons(self) -> None:
        checked = self._checked_text == self.text()
        valid = self._valid and checked
        dirty = self.is_dirty()
        could_save = dirty and valid
        self.save_button.setEnabled(could_save)
        self.run_button.setEnabled(valid and not dirty and bool(self._name) and not self._running)
        self.revert_button.setVisible(dirty)
        self.edit_button.setEnabled(not dirty and not self._running and bool(self._name))
        self.text_toggle.setEnabled(bool(self._name))
        if dirty and not valid:
            why = "Fix the problems first." if checked else "Checking…"
            self.save_button.setToolTip(why)
        elif dirty:
            self.save_button.setToolTip("Save the study file.")
        else:
            self.save_button.setToolTip("Nothing to save: no changes.")
        if dirty:
            self.run_button.setToolTip("Save your changes before running.")
            self.edit_button.setToolTip("Save or discard your changes to the text first.")
        elif self._running:
            self.run_button.setToolTip("A run is in progress; wait for it or cancel it first.")
            self.edit_button.setToolTip("A run is in progress; the study cannot change until it ends.")
        else:
            self.run_button.setToolTip("Run the study." if valid else "Fix the problems before running.")
            self.edit_button.setToolTip("Change the study step by step in the study wizard.")
        if dirty != self._was_dirty:
            self._was_dirty = dirty
            self.dirtyChanged.emit(dirty)
        if could_save != self._could_save:
            self._could_save = could_save
            self.canSaveChanged.emit(could_save)

    def _on_save(self) -> None:
        self.request_save()

    def _on_run(self) -> None:
        if self._valid and not self.is_dirty():
            self.runRequested.emit()

    def _on_problem_activated(self, item: QListWidgetItem) -> None:
        line = item.data(Qt.ItemDataRole.UserRole)
        if line:
            self.editor.go_to_line(int(line))

    # -- summary --------------------------------------------------------------------------------

    def _render_summary(self, raw: dict[str, Any] | None) -> None:
        """The summary card's HTML, in the current theme's colours (rebuilt on a theme change): the title
        and description from the file's header, then the kind's summary rows (or what stops the study)."""
        c = current()
        if raw is None:
            self.summary.setHtml(f"<p style='color:{c.error}'>The study file cannot be read as TOML. "
                                 "Open “Show as study file” to fix it.</p>")
            return
        e = html.escape
        study = raw.get("study") if isinstance(raw.get("study"), dict) else {}
        title = e(str(study.get("title") or study.get("name") or self._name))
        desc = e(str(study.get("description") or "")).replace("\n", " ")
        d = self._description
        rows = d.rows if d is not None else []
        body = "".join(
            f"<tr><td style='color:{c.muted}; padding:4px 18px 4px 0; vertical-align:top; white-space:nowrap'>{e(k)}</td>"
            f"<td style='padding:4px 0'>{f'<b>{e(v)}</b>' if v == d.cells_sentence else e(v)}</td></tr>" for k, v in rows)
        problems = ""
        if self._problems:
            items = "".join(f"<li>{html.escape(p, quote=False)}</li>" for p in self._problems)
            problems = (f"<p style='color:{c.error}'><b>This study cannot run yet:</b></p><ul style='color:{c.error}'>{items}</ul>"
                        f"<p style='color:{c.muted}'>What it compares is shown here once the study file is valid.</p>")
        self.summary.setHtml(
            f"<h2 style='margin-bottom:2px'>{title}</h2>"
            + (f"<p style='margin-top:2px'>{desc}</p>" if desc else "")
            + problems
            + (f"<table cellspacing='0' style='margin-top:10px'>{body}</table>" if body else "")
        )
