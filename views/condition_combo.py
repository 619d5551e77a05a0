"""A condition picker grouped by family: "Gaussian noise" then its severities, "label shift" then its
strengths… Conditions are shown by their one display name (engine.conditions.catalog) and identified by id."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from engine.conditions.catalog import condition_family, condition_label, family_label

ID_ROLE = Qt.ItemDataRole.UserRole
HEADER_ROLE = Qt.ItemDataRole.UserRole + 1


class _Indent(QStyledItemDelegate):
    """In the open list, conditions sit indented under their family's header."""

    def initStyleOption(self, option: QStyleOptionViewItem, index) -> None:  # noqa: N802 (Qt API)
        super().initStyleOption(option, index)
        if not index.data(HEADER_ROLE) and index.data(ID_ROLE) is not None and index.model().property("grouped"):
            option.rect.adjust(14, 0, 0, 0)


class ConditionCombo(QComboBox):
    conditionChanged = Signal(str)  # the chosen condition id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._model = QStandardItemModel(self)
        self.setModel(self._model)
        self.setItemDelegate(_Indent(self))
        self.setMaxVisibleItems(20)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setMinimumContentsLength(14)
        self.currentIndexChanged.connect(self._changed)

    def set_conditions(self, conditions: list[str], keep: str | None = None) -> None:
        """Fill with condition ids (in study order, grouped by family); keep ``keep`` when present."""
        keep = keep if keep is not None else self.condition()
        self.blockSignals(True)
        self._model.clear()
        families: dict[str, list[str]] = {}
        for c in conditions:
            families.setdefault(condition_family(c), []).append(c)
        grouped = any(len(members) > 1 for members in families.values())
        self._model.setProperty("grouped", grouped)
        for family, members in families.items():
            if grouped and len(members) > 1:
                header = QStandardItem(family_label(family)[:1].upper() + family_label(family)[1:])
                header.setFlags(Qt.ItemFlag.NoItemFlags)
                header.setData(True, HEADER_ROLE)
                font = QFont(self.font())
                font.setBold(True)
                header.setFont(font)
                self._model.appendRow(header)
            for c in members:
                item = QStandardItem(condition_label(c))
                item.setData(c, ID_ROLE)
                item.setToolTip(c)
                self._model.appendRow(item)
        self.setEnabled(bool(conditions))
        target = keep if keep in conditions else ("clean" if "clean" in conditions else (conditions[0] if conditions else None))
        if target is not None:
            self.set_condition(target)
        self.blockSignals(False)

    def condition(self) -> str:
        value = self.currentData(ID_ROLE)
        return str(value) if value is not None else ""

    def set_condition(self, condition: str) -> bool:
        i = self.findData(condition, ID_ROLE)
        if i >= 0:
            self.setCurrentIndex(i)
        return i >= 0

    def conditions(self) -> list[str]:
        return [str(self.itemData(i, ID_ROLE)) for i in range(self.count()) if self.itemData(i, ID_ROLE) is not None]

    def _changed(self, _index: int) -> None:
        self.conditionChanged.emit(self.condition())
