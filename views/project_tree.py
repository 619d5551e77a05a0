"""The project tree: studies, models and datasets of the open project."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget


@dataclass
class TreeStudy:
    name: str
    title: str
    status: str  # "not run", "12/585 done", "complete", "3 failed", "invalid: …"
    models: list[tuple[str, str, str]]  # (id, source, size text such as "0.1M")
    dataset: str


class ProjectTree(QTreeWidget):
    """Emits ``studySelected(name)`` when a study (or one of its models) is chosen."""

    studySelected = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setAccessibleName("Project contents")
        self.setColumnCount(2)
        self.currentItemChanged.connect(self._changed)

    def set_project(self, studies: list[TreeStudy]) -> None:
        self.blockSignals(True)
        self.clear()
        top_studies = QTreeWidgetItem(self, ["Studies", ""])
        top_models = QTreeWidgetItem(self, ["Models", ""])
        top_data = QTreeWidgetItem(self, ["Datasets", ""])
        seen_models: dict[str, QTreeWidgetItem] = {}
        seen_data: set[str] = set()
        for s in studies:
            item = QTreeWidgetItem(top_studies, [s.name, s.status])
            item.setData(0, Qt.UserRole, s.name)
            item.setToolTip(0, s.title or s.name)
            item.setToolTip(1, s.status)
            for mid, source, size in s.models:
                if source not in seen_models:
                    m = QTreeWidgetItem(top_models, [mid, size])
                    m.setToolTip(0, source)
                    m.setData(0, Qt.UserRole, s.name)
                    seen_models[source] = m
            if s.dataset not in seen_data:
                d = QTreeWidgetItem(top_data, [s.dataset, ""])
                d.setData(0, Qt.UserRole, s.name)
                seen_data.add(s.dataset)
        for top in (top_studies, top_models, top_data):
            top.setFlags(top.flags() & ~Qt.ItemIsSelectable)
            top.setExpanded(True)
        self.resizeColumnToContents(0)
        self.blockSignals(False)

    def select_study(self, name: str) -> None:
        top = self.topLevelItem(0)
        for i in range(top.childCount() if top else 0):
            if top.child(i).data(0, Qt.UserRole) == name:
                self.setCurrentItem(top.child(i))
                return

    def _changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is not None and current.data(0, Qt.UserRole):
            self.studySelected.emit(current.data(0, Qt.UserRole))
