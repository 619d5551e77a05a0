"""The base of every wizard page: title, step line and the page's problem list."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWizardPage

from views.theme import current, watch_theme
from views.wizard.widgets import _message_label, _show_message

if TYPE_CHECKING:
    from views.study_wizard import StudyWizard


class _Page(QWizardPage):
    section = ""

    def __init__(self, wizard: "StudyWizard", title: str, subtitle: str):
        super().__init__()
        self.wiz = wizard
        self.plain_title = title
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(4, 4, 4, 4)
        self.outer.setSpacing(10)
        self.problems_label = _message_label(f"Problems on the {title} page")
        self._step = (0, 0)
        watch_theme(self, lambda _: self.set_step(*self._step))  # the step line's colour is in HTML

    def two_columns(self) -> tuple[QVBoxLayout, QVBoxLayout]:
        """A narrower left column (choices) beside a wider right one (details), filling the page."""
        columns = QHBoxLayout()
        columns.setSpacing(18)
        left, right = QVBoxLayout(), QVBoxLayout()
        left.setSpacing(6)
        right.setSpacing(6)
        columns.addLayout(left, 5)
        columns.addLayout(right, 6)
        self.outer.addLayout(columns, 1)
        return left, right

    def finish_layout(self) -> None:
        self.outer.addWidget(self.problems_label)

    def set_step(self, step: int, total: int) -> None:
        self._step = (step, total)
        self.setTitle(f"<span style='color:{current().muted}; font-size:9pt; font-weight:normal'>STEP {step} OF {total}</span><br>"
                      f"<span style='font-size:15pt; font-weight:600'>{html.escape(self.plain_title)}</span>")
        self.setAccessibleName(f"Step {step} of {total}: {self.plain_title}")

    def changed(self, *_: Any) -> None:
        self.wiz.schedule_validation()

    def show_problems(self, problems: list[str]) -> None:
        if problems:
            text = "\n".join(f"• {p}" for p in problems)
            _show_message(self.problems_label, "Fix before saving:\n" + text)
        else:
            _show_message(self.problems_label, "")
