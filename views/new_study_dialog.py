"""New Study, first step: what to compare. One short list, a row per registered study kind with its title
and the question it answers; choosing one emits ``chosen(kind)`` and the app opens that kind's wizard
(or, for a kind without one yet, a new study file from its example in the study file editor).

The dialog never imports the engine: the app hands it the kinds as :class:`KindChoice` rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget,
)

KIND_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class KindChoice:
    kind: str  # the engine's name, [study].kind
    title: str  # "Distribution shift"
    question: str  # what a study of this kind answers, one sentence
    has_wizard: bool = True  # False: the study starts as the kind's example file, edited as text


class NewStudyDialog(QDialog):
    """Window-modal and non-blocking (``open()``); deleted by the app when it closes."""

    chosen = Signal(str)  # the kind

    def __init__(self, kinds: list[KindChoice], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New study")
        self.setAccessibleName("New study: what to compare")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        title = QLabel("What do you want to compare?")
        title.setObjectName("pageTitle")
        layout.addWidget(title)
        self.list = QListWidget()
        self.list.setAccessibleName("Kinds of study")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setWordWrap(True)
        self.list.setSpacing(3)
        for choice in kinds:
            how = "" if choice.has_wizard else "\nStarts from an example study file you edit as text."
            item = QListWidgetItem(f"{choice.title}\n{choice.question}{how}")
            item.setData(KIND_ROLE, choice.kind)
            item.setToolTip(choice.question)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.itemActivated.connect(lambda _item: self.accept())
        layout.addWidget(self.list, 1)
        hint = QLabel("Each kind of study asks one question of your models; the next steps depend on it.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.next_button = buttons.addButton("&Next >", QDialogButtonBox.ButtonRole.AcceptRole)
        self.next_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.list.setFocus()

    def kind(self) -> str:
        """The kind chosen now ("" when none is)."""
        item = self.list.currentItem()
        return str(item.data(KIND_ROLE)) if item is not None else ""

    def accept(self) -> None:
        kind = self.kind()
        if not kind:
            return
        super().accept()
        self.chosen.emit(kind)
