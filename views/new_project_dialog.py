"""New project: a name typed by the user and the folder to put it in; the project folder is created.

A folder picker alone cannot take a folder that does not exist yet, which is what "new" means.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
    QWidget,
)

from views.theme import set_tone

_NAME = re.compile(r"^[^/\\:*?\"<>|]+$")


def project_problem(parent: str, name: str) -> str:
    """Why ``parent/name`` cannot become a new project ('' when it can)."""
    name = name.strip()
    if not name:
        return "Type a name for the project."
    if not _NAME.match(name) or name in (".", ".."):
        return "A project name cannot contain / \\ : * ? \" < > |."
    if not parent.strip():
        return "Choose the folder to create the project in."
    base = Path(parent).expanduser()
    if base.exists() and not base.is_dir():
        return f"{base} is a file, not a folder."
    target = base / name
    if target.exists() and any(target.iterdir()):
        return f"{target} already exists and is not empty; open it with File ▸ Open Project instead."
    return ""


class NewProjectDialog(QDialog):
    created = Signal(str)  # the new project's folder

    def __init__(self, parent_folder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setAccessibleName("New project")
        self.setMinimumWidth(560)
        self.name_edit = QLineEdit("my-study")
        self.name_edit.setAccessibleName("Project name")
        self.name_edit.selectAll()
        self.folder_edit = QLineEdit(parent_folder)
        self.folder_edit.setAccessibleName("Folder to create the project in")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.folder_edit, 1)
        where.addWidget(browse)
        form = QFormLayout()
        form.addRow("&Name:", self.name_edit)
        form.addRow("&In folder:", where)
        self.path_label = QLabel()
        self.path_label.setWordWrap(True)
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        set_tone(self.problem_label, "error")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton("Create", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._create)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.path_label)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._update)
        self.folder_edit.textChanged.connect(self._update)
        self._update()

    def target(self) -> Path:
        return Path(self.folder_edit.text().strip()).expanduser() / self.name_edit.text().strip()

    def _update(self) -> None:
        problem = project_problem(self.folder_edit.text(), self.name_edit.text())
        self.problem_label.setText(problem)
        self.path_label.setText("" if problem else f"Creates {self.target()}")
        self.create_button.setEnabled(not problem)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder to create the project in", self.folder_edit.text())
        if path:
            self.folder_edit.setText(path)

    def _create(self) -> None:
        if project_problem(self.folder_edit.text(), self.name_edit.text()):
            return
        target = self.target()
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.problem_label.setText(f"Cannot create {target}: {exc.strerror or exc}.")
            return
        self.accept()
        self.created.emit(str(target))
