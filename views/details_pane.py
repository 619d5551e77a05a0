"""Facts about the model or dataset chosen in the project tree: where it comes from, what it is, its
size and hash, and which studies use it. Plain labels in a form, so the theme colours them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QVBoxLayout, QWidget

from views.theme import set_tone


class DetailsPane(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("card")
        self.setAccessibleName("Details of the chosen model or dataset")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        self.title = QLabel("")
        self.title.setObjectName("sectionTitle")
        self.title.setWordWrap(True)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.form.setHorizontalSpacing(10)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        set_tone(self.note, "muted")
        layout.addWidget(self.title)
        layout.addLayout(self.form)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.rows: list[tuple[str, str]] = []
        self.hide()

    def set_facts(self, title: str, rows: list[tuple[str, str]], note: str = "") -> None:
        """Show ``rows`` of (what, value) under ``title``; ``note`` is a muted line below."""
        self.title.setText(title)
        while self.form.rowCount():
            self.form.removeRow(0)
        for what, value in rows:
            key = QLabel(what)
            set_tone(key, "muted")
            val = QLabel(value)
            val.setWordWrap(True)
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(key, val)
        self.rows = list(rows)
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.show()
