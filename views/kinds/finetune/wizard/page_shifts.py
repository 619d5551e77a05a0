"""Step 4 of the fine-tuning wizard: the shifted variants of the target's test split (out of distribution) and
the source dataset on which forgetting is measured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
)

from engine.conditions.catalog import SEVERITIES, condition_label
from engine.kinds.finetune.spec import SourceSpec
from views.kinds.finetune.wizard.conditions import families_for, family_choices
from views.providers import ModelChoice
from views.wizard.page_base import WizardPage
from views.wizard.schema import schema_choices, schema_default
from views.wizard.widgets import SPLIT_LABELS, FieldNote, heading, help_label, set_tab_order

if TYPE_CHECKING:
    from views.wizard.base import KindWizard


class ShiftsPage(WizardPage):
    section = "conditions"

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Shifts and forgetting",
            "Out of distribution: the target's test examples under shifts the tuning never saw. Forgetting: how much "
            "of the task the base already did each method loses.",
        )
        self._order: list[str] = []  # conditions as the file listed them: kept in that order
        self._filling = False
        left, right = self.two_columns()

        left.addWidget(heading("Out of distribution"))
        left.addWidget(help_label("Tick a kind of shift at a severity (1 mild … 5 strong); each ticked box scores every "
                                  "tuned model on the target's test set under that shift."))
        self.grid = QTableWidget(0, len(SEVERITIES))
        self.grid.setAccessibleName("Shifted conditions: kinds of shift by severity")
        self.grid.setHorizontalHeaderLabels([str(s) for s in SEVERITIES])
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.grid.setTabKeyNavigation(False)
        self.grid.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.grid.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        left.addWidget(self.grid, 1)
        self.shifted_note = self.add_note(FieldNote(lines=2, name="Problems with the shifted conditions"), ("shifted",))
        left.addWidget(self.shifted_note)

        right.addWidget(heading("Forgetting"))
        self.source_check = QCheckBox("&Measure what the base forgets of its own task")
        self.source_check.setAccessibleName("Measure forgetting on a source dataset")
        self.source_check.setChecked(True)
        right.addWidget(self.source_check)
        right.addWidget(help_label("Every model, the base included, is scored on this dataset — the task the base was "
                                   "trained for. Its classes must be the base's."))
        self.source_box = QGroupBox("Source dataset")
        form = QFormLayout(self.source_box)
        self.source_combo = QComboBox()
        self.source_combo.setEditable(True)
        self.source_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.source_combo.setAccessibleName("Source dataset")
        self.source_combo.lineEdit().setPlaceholderText("builtin:digits, csv:old.csv, hf:…")
        try:
            choices: list[ModelChoice] = list(wizard.providers.builtin_datasets())
        except Exception:
            choices = []
        for choice in choices:
            self.source_combo.addItem(choice.source, choice.source)
            self.source_combo.setItemData(self.source_combo.count() - 1, choice.description, Qt.ItemDataRole.ToolTipRole)
        self.source_combo.setEditText("")
        self.source_split = QComboBox()
        self.source_split.setAccessibleName("Part of the source dataset to score")
        for split in schema_choices(SourceSpec, "split"):
            self.source_split.addItem(SPLIT_LABELS.get(split, split), split)
        self.source_split.setCurrentIndex(max(self.source_split.findData(schema_default(SourceSpec, "split")), 0))
        self.source_max = QSpinBox()
        self.source_max.setRange(0, 10_000_000)
        self.source_max.setSingleStep(100)
        self.source_max.setSpecialValueText("all")
        self.source_max.setSuffix(" examples")
        self.source_max.setAccessibleName("Score at most this many source examples")
        form.addRow("&Dataset:", self.source_combo)
        form.addRow("&Part:", self.source_split)
        form.addRow("At &most:", self.source_max)
        self.source_note = self.add_note(FieldNote(lines=3, name="Problems with the source dataset"), ("source",))
        form.addRow(self.source_note)
        right.addWidget(self.source_box)
        right.addStretch(1)
        self.finish_layout()

        self.grid.itemChanged.connect(self._grid_changed)
        self.source_check.toggled.connect(self._source_toggled)
        self.source_combo.editTextChanged.connect(self.changed)
        self.source_split.currentIndexChanged.connect(self.changed)
        self.source_max.valueChanged.connect(self.changed)
        set_tab_order([self.grid, self.source_check, self.source_combo, self.source_split, self.source_max])
        self.refresh_for_data("image")

    # -- shifted conditions ---------------------------------------------------------------------

    def refresh_for_data(self, modality: str, chosen: list[str] | None = None) -> None:
        """Rows for the shifts that suit the data (and any the study names), with ``chosen`` (default: the
        ticks now) ticked."""
        chosen = self.conditions() if chosen is None else chosen
        families = families_for(modality, [c.partition("/")[0] for c in chosen])
        self._filling = True
        self.grid.setRowCount(len(families))
        self.grid.setVerticalHeaderLabels([label for _, label, _ in family_choices(families)])
        for r, (family, label, tip) in enumerate(family_choices(families)):
            self.grid.verticalHeaderItem(r).setToolTip(tip)
            for c, severity in enumerate(SEVERITIES):
                condition = f"{family}/{severity}"
                item = QTableWidgetItem()
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Checked if condition in chosen else Qt.CheckState.Unchecked)
                item.setData(Qt.ItemDataRole.UserRole, condition)
                item.setToolTip(f"{condition_label(condition)}: {tip}")
                item.setData(Qt.ItemDataRole.AccessibleTextRole, condition_label(condition))
                self.grid.setItem(r, c, item)
        self._filling = False

    def conditions(self) -> list[str]:
        """The ticked conditions: those the file listed in its order, then new ones in the grid's order."""
        ticked = [self.grid.item(r, c).data(Qt.ItemDataRole.UserRole) for r in range(self.grid.rowCount())
                  for c in range(self.grid.columnCount())
                  if self.grid.item(r, c) is not None and self.grid.item(r, c).checkState() == Qt.CheckState.Checked]
        return [c for c in self._order if c in ticked] + [c for c in ticked if c not in self._order]

    def set_conditions(self, conditions: list[str], modality: str) -> None:
        self._order = [str(c) for c in conditions]
        self.refresh_for_data(modality, self._order)
        self.changed()

    def _grid_changed(self, _item: QTableWidgetItem) -> None:
        if not self._filling:
            self.changed()

    # -- source ---------------------------------------------------------------------------------

    def measures_forgetting(self) -> bool:
        return self.source_check.isChecked()

    def source(self) -> str:
        return self.source_combo.currentText().strip()

    def set_source(self, table: dict[str, Any] | None) -> None:
        self.source_check.setChecked(table is not None)
        table = table or {}
        self.source_combo.setEditText(str(table.get("source", "")))
        self.source_split.setCurrentIndex(max(self.source_split.findData(table.get("split", "test")), 0))
        self.source_max.setValue(int(table.get("max_examples") or 0))
        self._source_toggled(self.source_check.isChecked())

    def _source_toggled(self, on: bool) -> None:
        self.source_box.setEnabled(on)
        self.changed()
