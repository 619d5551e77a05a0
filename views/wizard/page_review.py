"""Step 6: the study file as written, its problems and what it will run."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit

from views.fonts import monospace_font
from views.theme import set_tone, watch_theme
from views.wizard.page_base import WizardPage
from views.wizard.widgets import heading

if TYPE_CHECKING:
    from views.wizard.base import KindWizard


class ReviewPage(WizardPage):
    section = "review"

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Review and save",
            "Check the summary. Save keeps the study in the project; “Save and Run” also starts it. "
            "The study file below is what gets saved.",
        )
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAccessibleName("Study summary")
        self.outer.addWidget(self.summary)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setAccessibleName("Validation result")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outer.addWidget(self.status)
        label = heading("Study file")
        self.outer.addWidget(label)
        self.toml_view = QPlainTextEdit()
        self.toml_view.setReadOnly(True)
        self.toml_view.setFont(monospace_font())
        self.toml_view.setAccessibleName("Study file preview")
        self.toml_view.setTabChangesFocus(True)
        self.toml_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        from views.study_page import SYNTAX, TomlHighlighter  # here: study_page imports this module

        # the study page's highlighter, in the theme's syntax colours, re-highlighted on a theme change
        self.highlighter = TomlHighlighter(self.toml_view.document())
        watch_theme(self.toml_view, lambda c: self.highlighter.set_colours(SYNTAX[c.name]))
        self.outer.addWidget(self.toml_view, 1)
        watch_theme(self, lambda _: self.summary.setText(self.wiz.summary_html()))  # its colours are in HTML

    def initializePage(self) -> None:
        self.wiz.revalidate()

    def isComplete(self) -> bool:
        return self.wiz.is_valid()

    def validatePage(self) -> bool:
        self.wiz.revalidate()
        return self.wiz.is_valid()

    def show_result(self, text: str, problems: list[str], description: Any) -> None:
        """The study file, its problems, or (valid) the kind's ``Description`` of the work it plans."""
        if self.toml_view.toPlainText() != text:
            bar = self.toml_view.verticalScrollBar().value()
            self.toml_view.setPlainText(text)
            self.toml_view.verticalScrollBar().setValue(bar)
        if problems:
            items = "".join(f"<li>{html.escape(p, quote=False)}</li>" for p in problems)
            n = len(problems)
            set_tone(self.status, "error")
            self.status.setText(f"<b>✗ Not ready yet — {n} problem{'s' if n != 1 else ''} to fix:</b>"
                                f"<ul style='margin-top:2px'>{items}</ul>")
        elif description is not None:
            set_tone(self.status, "ok")
            self.status.setText(f"<b>✓ Valid — {html.escape(description.cells_sentence)}</b>")
        else:
            self.status.setText("")
        self.summary.setText(self.wiz.summary_html())
