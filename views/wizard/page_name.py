"""Step 1: the study's name, title and description."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from engine.core.header import STUDY_SUFFIX
from views.wizard.page_base import FieldProblem, WizardPage
from views.wizard.widgets import FieldNote, help_label, set_tab_order, stacked

if TYPE_CHECKING:
    from views.wizard.base import KindWizard


class NamePage(WizardPage):
    section = "name"

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Name your study",
            f"{wizard.INTRO} Start with a short name and a title for the report.",
        )
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(8)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. robustness")
        self.name_edit.setAccessibleName("Study name")
        self.name_edit.setMaxLength(64)
        # under the name: the file it is saved as, or why the name cannot be used (two lines kept free)
        self.file_label = self.add_note(FieldNote(lines=2, name="Study file name"), ("study", "name"))
        self.file_label.lead = "This name cannot be used."
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("e.g. Which digits model survives noisy scans?")
        self.title_edit.setAccessibleName("Study title")
        self.description_edit = QPlainTextEdit()
        self.description_edit.setTabChangesFocus(True)
        self.description_edit.setPlaceholderText("What is compared and why — a few sentences for the report.")
        self.description_edit.setAccessibleName("Study description")
        self.description_edit.setFixedHeight(110)
        name_label = QLabel("&Name:")
        name_label.setBuddy(self.name_edit)
        title_label = QLabel("&Title:")
        title_label.setBuddy(self.title_edit)
        desc_label = QLabel("&Description:")
        desc_label.setBuddy(self.description_edit)
        form.addRow(name_label, stacked(self.name_edit, self.file_label))
        form.addRow(title_label, stacked(self.title_edit, help_label("Shown at the top of the results and the report. Optional.")))
        form.addRow(desc_label, self.description_edit)
        holder = QWidget()
        holder.setLayout(form)
        holder.setMaximumWidth(820)
        self.outer.addWidget(holder)
        self.outer.addSpacing(12)
        steps_box = QFrame()
        steps_box.setObjectName("card")
        steps_box.setMaximumWidth(820)
        box = QVBoxLayout(steps_box)
        box.setContentsMargins(14, 10, 14, 10)
        box.setSpacing(6)
        steps = QLabel(
            "<b>What comes next</b><ol style='margin-top:4px; margin-left:-20px'>"
            "<li><b>Models</b> — the models to compare: built-in, your own files, or from Hugging Face.</li>"
            "<li><b>Data</b> — the test data, with a preview.</li>"
            "<li><b>Conditions</b> — what changes in the data: noise, blur, rotation, class mix…</li>"
            "<li><b>Seeds &amp; metrics</b> — how often to repeat and what to measure.</li>"
            "<li><b>Review</b> — check, then save (and run).</li></ol>"
        )
        steps.setWordWrap(True)
        steps.setTextFormat(Qt.TextFormat.RichText)
        steps.setAccessibleName("What comes next")
        box.addWidget(steps)
        box.addWidget(help_label("Nothing is saved until you press Save on the last page. You can go back and change anything."))
        self.outer.addWidget(steps_box)
        self.outer.addStretch(1)
        self.finish_layout()
        self.name_edit.textChanged.connect(self._on_name)
        self.title_edit.textChanged.connect(self.changed)
        self.description_edit.textChanged.connect(self.changed)
        set_tab_order([self.name_edit, self.title_edit, self.description_edit])
        self._on_name(self.name_edit.text())

    def _on_name(self, text: str) -> None:
        shown = html.escape(text.strip() or "NAME")
        self.file_label.say(
            f"Saved as <b>{shown}{STUDY_SUFFIX}</b> in the project folder. "
            "Use letters, digits, “-”, “_” or “.”, no spaces.", rich=True
        )
        self.changed()

    def local_problems(self) -> list[FieldProblem]:
        name = self.name_edit.text().strip()
        if not name:
            return [FieldProblem(("study", "name"), "A study needs a name, e.g. robustness.")]
        if name in self.wiz.existing_names and name != self.wiz.original_name:
            return [FieldProblem(("study", "name"), f"A study named “{name}” already exists in this project; "
                                                    "choose another name.")]
        return []
