"""The base of every wizard page: title, step line, and each problem shown next to its field.

A problem is a :class:`FieldProblem`: the study-file key path it concerns (``engine.core.errors.Problem.key``,
e.g. ``("shift", "label_shift", "tweak_one", 0)``) and a sentence. A page registers the note under
each of its fields with the key paths it answers for (:meth:`WizardPage.add_note`); a problem goes to the
note with the longest matching key, or to the page's own note at the bottom.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWizardPage

from views.theme import current, watch_theme
from views.wizard.widgets import FieldNote

if TYPE_CHECKING:
    from views.wizard.base import KindWizard

Key = tuple[str | int, ...]
# a registered key: None stands for any list index, e.g. ("models", None, "id")
Pattern = tuple[str | int | None, ...]

SECTION_NAMES = {"name": "Name", "models": "Models", "data": "Data", "conditions": "Conditions",
                 "seeds": "Seeds & metrics", "review": "Study file"}  # a kind's wizard may add its own sections


@dataclass(frozen=True)
class FieldProblem:
    """What the wizard says about one key of the study file (``()``: the file as a whole)."""

    key: Key
    text: str


def section_of(key: Key, sections: dict[str, str]) -> str:
    """Which page answers for a key path: [study] keys go to the name page (seeds to the seeds page), the
    file as a whole to review, and any other table to ``sections[table]`` (review when not listed)."""
    if not key:
        return "review"
    head = key[0]
    if head == "study":
        return "seeds" if key[1:2] == ("seeds",) else "name"
    return sections.get(str(head), "review")


def _matches(pattern: Pattern, key: Key) -> bool:
    return len(pattern) <= len(key) and all(p is None or p == k for p, k in zip(pattern, key))


class WizardPage(QWizardPage):
    section = ""
    ACCEPTS_DROPS = False  # files dropped on the wizard go to drop_paths while this page is in front

    def __init__(self, wizard: "KindWizard", title: str, subtitle: str):
        super().__init__()
        self.wiz = wizard
        self.plain_title = title
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.outer = QVBoxLayout(self)
        self.outer.setContentsMargins(4, 4, 4, 4)
        self.outer.setSpacing(10)
        self.page_note = FieldNote(lines=2, name=f"Problems on the {title} page")
        self.acted = False  # touched, or tried to go on: from then on problems read as errors
        self._notes: list[tuple[Pattern, FieldNote, str | None]] = []
        self._problems: list[FieldProblem] = []
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
        self.outer.addWidget(self.page_note)

    def set_step(self, step: int, total: int) -> None:
        self._step = (step, total)
        self.setTitle(f"<span style='color:{current().muted}; font-size:9pt; font-weight:normal'>STEP {step} OF {total}</span><br>"
                      f"<span style='font-size:15pt; font-weight:600'>{html.escape(self.plain_title)}</span>")
        self.setAccessibleName(f"Step {step} of {total}: {self.plain_title}")

    # -- problems -------------------------------------------------------------------------------

    def add_note(self, note: FieldNote, *keys: Pattern, noun: str | None = None) -> FieldNote:
        """Show the problems of ``keys`` (and of the keys below them) in ``note``.

        ``noun``: what the field is called on this page, used where the engine's sentence starts
        with its own name for the key ("A tweak-one share must be …" -> "ρ must be …").
        """
        for key in keys:
            self._notes.append((key, note, noun))
        return note

    def _note_for(self, key: Key) -> tuple[FieldNote, str | None]:
        best: tuple[int, FieldNote, str | None] = (-1, self.page_note, None)
        for pattern, note, noun in self._notes:
            if _matches(pattern, key) and len(pattern) > best[0]:
                best = (len(pattern), note, noun)
        return best[1], best[2]

    def field_text(self, key: Key, message: str) -> str:
        """An engine message about ``key`` in this page's words for the field."""
        _, noun = self._note_for(key)
        if noun:
            theirs = self.wiz.field_words(key)
            theirs = theirs[:1].upper() + theirs[1:]
            if message.startswith(theirs + " "):
                return noun + message[len(theirs):]
        return message

    def drop_paths(self, paths: list[str]) -> None:
        """Files or folders dropped on the wizard while this page is in front (when ``ACCEPTS_DROPS``)."""

    def local_problems(self) -> list[FieldProblem]:
        """Problems the page finds itself (typed text the study file cannot hold, a taken name…)."""
        return []

    def show_problems(self, problems: list[FieldProblem]) -> None:
        """Put each problem next to its field; fields without one show their help again."""
        self._problems = list(problems)
        shown: dict[int, tuple[FieldNote, list[str]]] = {id(self.page_note): (self.page_note, [])}
        for _, note, _ in self._notes:
            shown.setdefault(id(note), (note, []))
        for p in problems:
            note, _ = self._note_for(p.key)
            shown[id(note)][1].append(p.text)
        for note, texts in shown.values():
            note.show_problems(texts, as_error=self.acted)

    def problems(self) -> list[FieldProblem]:
        return list(self._problems)

    def changed(self, *_: Any) -> None:
        if self.wiz.user_editing():
            self.acted = True
        self.wiz.schedule_validation()

    def validatePage(self) -> bool:  # noqa: N802 (Qt API): Next, or Save on the last page
        """Going on is refused while this page has problems; they now read as errors."""
        self.acted = True
        self.wiz.revalidate()
        return not self._problems
