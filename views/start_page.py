"""The start page: recent projects, the demo, and opening or creating a project."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget


class StartPage(QWidget):
    openDemo = Signal()
    openFolder = Signal()
    newProject = Signal()
    openRecent = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAccessibleName("Start page")
        title = QLabel("Juxta")
        title.setObjectName("heroTitle")
        subtitle = QLabel(
            "Compare models side by side: how much each one loses under distribution shift, with every number's "
            "uncertainty, resumable runs and charts ready for a report."
        )
        subtitle.setWordWrap(True)
        subtitle.setObjectName("heroSubtitle")

        self.demo_button = QPushButton("Open the demo project")
        self.demo_button.setObjectName("primaryButton")
        self.demo_button.setToolTip("Digits models under noise, blur and label shift: runs offline on a laptop CPU in a "
                                    "few minutes. Opens your own copy (made in ~/Juxta on first use).")
        self.demo_button.clicked.connect(self.openDemo)
        self.open_button = QPushButton("Open a project folder…")
        self.open_button.clicked.connect(self.openFolder)
        self.new_button = QPushButton("New project…")
        self.new_button.clicked.connect(self.newProject)
        buttons = QHBoxLayout()
        for b in (self.demo_button, self.open_button, self.new_button):
            b.setMinimumHeight(36)
            buttons.addWidget(b)
        buttons.addStretch(1)

        recent_label = QLabel("Recent projects")
        recent_label.setObjectName("sectionTitle")
        self.recent_hint = QLabel("Click a project to open it.")
        self.recent_hint.setObjectName("hint")
        self.recent = QListWidget()
        self.recent.setAccessibleName("Recent projects: click one to open it")
        self.recent.setMaximumHeight(280)
        self.recent.setCursor(Qt.CursorShape.PointingHandCursor)
        # one click opens (a list of places to go, like a browser's history); Enter does too
        self.recent.itemClicked.connect(self._open)
        self.recent.itemActivated.connect(self._open)
        self._opened: tuple[str, float] = ("", 0.0)
        self.empty_recent = QLabel("Projects you open appear here.")
        self.empty_recent.setObjectName("hint")

        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addSpacing(18)
        column.addLayout(buttons)
        column.addSpacing(24)
        column.addWidget(recent_label)
        column.addWidget(self.recent_hint)
        column.addWidget(self.recent)
        column.addWidget(self.empty_recent)
        column.addStretch(1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        inner = QWidget()
        inner.setLayout(column)
        inner.setMaximumWidth(760)
        outer.addWidget(inner, 4)
        outer.addStretch(1)

    def _open(self, item: QListWidgetItem) -> None:
        """Once per click: a double click (or a style that activates on click) must not open twice."""
        path, now = item.data(Qt.UserRole), time.monotonic()
        if self._opened[0] == path and now - self._opened[1] < 1.0:
            return
        self._opened = (path, now)
        self.openRecent.emit(path)

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for p in paths:
            item = QListWidgetItem(f"{Path(p).name}    —    {p}")
            item.setData(Qt.UserRole, p)
            item.setToolTip(p)
            self.recent.addItem(item)
        self.empty_recent.setVisible(not paths)
        self.recent.setVisible(bool(paths))
        self.recent_hint.setVisible(bool(paths))
