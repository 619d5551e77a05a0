"""The project tree: studies with their status, and the models and datasets they use.

Models and datasets are listed once per *source* (two studies using ``builtin:digits-mlp`` share a
row), named by the ids the studies give them with the source beside, so two different models both
called "mlp" can be told apart. Choosing one emits ``entrySelected`` for the details pane.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from views.theme import current, watch_theme

KIND_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass
class TreeStudy:
    name: str
    title: str
    status: str  # short: "not run", "running 12/585", "complete", "3 failed", "invalid", …
    tooltip: str = ""  # the whole story behind the status


@dataclass
class TreeEntry:
    kind: str  # "model" | "dataset"
    source: str
    uses: list[tuple[str, str]] = field(default_factory=list)  # (study, id in that study)
    keys: list[tuple[str, tuple[str | int, ...]]] = field(default_factory=list)  # (study, key path of the source)

    @property
    def ids(self) -> list[str]:
        return list(dict.fromkeys(i for _, i in self.uses))

    @property
    def studies(self) -> list[str]:
        return list(dict.fromkeys(s for s, _ in self.uses))


class ProjectTree(QTreeWidget):
    """Emits ``studySelected(name)`` for a study and ``entrySelected(kind, source)`` for a model or
    dataset."""

    studySelected = Signal(str)
    entrySelected = Signal(str, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setAccessibleName("Project contents")
        self.setColumnCount(2)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.header().setStretchLastSection(False)
        # Names whole, the status or source beside them elided when the panel is narrow: "expert-rotated" must
        # not become "exper…" to make room for "artifact:expert-rotated/full".
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.currentItemChanged.connect(self._changed)
        self._tops: dict[str, QTreeWidgetItem] = {}
        watch_theme(self, lambda _c: self._recolour())

    def set_project(self, studies: list[TreeStudy], models: list[TreeEntry], datasets: list[TreeEntry]) -> None:
        """Show a project's contents; keeps the current selection when it still exists."""
        keep = self._selection()
        self.blockSignals(True)
        self.clear()
        self._tops = {k: QTreeWidgetItem(self, [k.capitalize(), ""]) for k in ("studies", "models", "datasets")}
        for s in studies:
            item = QTreeWidgetItem(self._tops["studies"], [s.name, s.status])
            item.setData(0, Qt.ItemDataRole.UserRole, s.name)
            item.setData(0, KIND_ROLE, "study")
            item.setToolTip(0, s.title or s.name)
            item.setToolTip(1, s.tooltip or s.status)
            item.setData(1, KIND_ROLE, "invalid" if s.status == "invalid" else "status")
        for kind, entries in (("models", models), ("datasets", datasets)):
            for e in entries:
                label = ", ".join(e.ids) if e.kind == "model" else e.source.split(":", 1)[-1]
                item = QTreeWidgetItem(self._tops[kind], [label, e.source if e.kind == "model" else ""])
                item.setData(0, Qt.ItemDataRole.UserRole, e.source)
                item.setData(0, KIND_ROLE, e.kind)
                item.setData(1, KIND_ROLE, "source")
                uses = "; ".join(f"{study} ({what})" for study, what in e.uses)
                item.setToolTip(0, f"{e.source}\nUsed by: {uses}")
                item.setToolTip(1, f"{e.source}\nUsed by: {uses}")
        for top in self._tops.values():
            top.setFlags(top.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            top.setExpanded(True)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
        self._recolour()
        if keep is not None:
            self._select(*keep)
        self.blockSignals(False)

    def select_study(self, name: str) -> None:
        self._select("study", name)

    def study_status(self, name: str) -> str:
        item = self.item_for("study", name)
        return item.text(1) if item is not None else ""

    # -- internals --------------------------------------------------------------------------------

    def _recolour(self) -> None:
        c = current()
        colours = {"invalid": c.error, "status": c.muted, "source": c.muted}
        for top in self._tops.values():
            for i in range(top.childCount()):
                item = top.child(i)
                colour = colours.get(item.data(1, KIND_ROLE))
                if colour:
                    item.setForeground(1, QBrush(QColor(colour)))

    def _selection(self) -> tuple[str, str] | None:
        item = self.currentItem()
        if item is None or not item.data(0, KIND_ROLE):
            return None
        return item.data(0, KIND_ROLE), item.data(0, Qt.ItemDataRole.UserRole)

    def item_for(self, kind: str, key: str) -> QTreeWidgetItem | None:
        top = self._tops.get({"study": "studies", "model": "models", "dataset": "datasets"}[kind])
        for i in range(top.childCount() if top is not None else 0):
            if top.child(i).data(0, Qt.ItemDataRole.UserRole) == key:
                return top.child(i)
        return None

    def _select(self, kind: str, key: str) -> None:
        item = self.item_for(kind, key)
        if item is not None:
            self.setCurrentItem(item)

    def _changed(self, current_item: QTreeWidgetItem | None, _previous) -> None:
        if current_item is None or not current_item.data(0, KIND_ROLE):
            return
        kind, key = current_item.data(0, KIND_ROLE), current_item.data(0, Qt.ItemDataRole.UserRole)
        if kind == "study":
            self.studySelected.emit(key)
        else:
            self.entrySelected.emit(kind, key)
