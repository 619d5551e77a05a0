"""The merge wizard's model pages: the base the experts were fine-tuned from (``[base]``), and the experts, each
with the task it is evaluated on (``[[experts]]``: a model made elsewhere — another study's artifact, a file,
a folder, a Hugging Face id — or fine-tuned from the base here, and a task condition such as ``rotate/3``)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from engine.conditions.catalog import (
    CORRUPTION_NAMES,
    SEVERITIES,
    TABULAR_SHIFT_NAMES,
    TEXT_SHIFT_NAMES,
    condition_label,
    family_label,
)
from engine.kinds.merge.study.spec import TuneSpec
from views.providers import ModelChoice
from views.wizard.formatting import fmt_count, project_relative, sanitize_id
from views.wizard.page_base import FieldProblem, WizardPage
from views.wizard.schema import schema_bound, schema_default
from views.wizard.widgets import FieldNote, heading, help_label, hf_row, set_tab_order

if TYPE_CHECKING:
    from views.wizard.base import KindWizard

SHIFTS = {"image": CORRUPTION_NAMES, "tabular": TABULAR_SHIFT_NAMES, "text": TEXT_SHIFT_NAMES}
SOURCE_HINT = "artifact:<study>/<arm>, file:…, folder:… or hf:…"


def model_source_for(path: str, root: str) -> str | None:
    """A model file (.safetensors) or Hugging Face folder (with config.json) as a study source; None otherwise."""
    p = Path(path)
    if p.is_dir():
        return "folder:" + project_relative(str(p), root) if (p / "config.json").is_file() else None
    if p.suffix.lower() == ".safetensors":
        return "file:" + project_relative(str(p), root)
    return None


# --------------------------------------------------------------------------------------------
# the base


class BasePage(WizardPage):
    section = "base"
    ACCEPTS_DROPS = True

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Choose the base model",
            "The model every expert was fine-tuned from: merging adds up what each expert changed in it. A built-in "
            "model is trained first on the study's data; a model of your own or from Hugging Face is used as it is.",
        )
        self._source = ""
        self.extra: dict[str, Any] = {}  # [base] keys besides the source (train, trust_remote_code), kept as read
        try:
            self.choices: list[ModelChoice] = list(wizard.providers.builtin_models())
            self.choices_error = ""
        except Exception as exc:  # the list is shown empty with the reason
            self.choices = []
            self.choices_error = getattr(exc, "message", str(exc))
        left, right = self.two_columns()
        left.addWidget(heading("Built-in models"))
        self.builtin_list = QListWidget()
        self.builtin_list.setAccessibleName("Built-in models")
        self.builtin_list.setWordWrap(True)
        self.builtin_list.setSpacing(2)
        for choice in self.choices:
            size = f"  ·  {fmt_count(choice.n_params)} parameters" if choice.n_params else ""
            item = QListWidgetItem(f"{choice.label}{size}\n{choice.description}")
            item.setData(Qt.ItemDataRole.UserRole, choice.source)
            item.setToolTip(f"{choice.source}\n{choice.description}")
            self.builtin_list.addItem(item)
        left.addWidget(self.builtin_list, 1)
        if self.choices_error:
            left.addWidget(help_label(f"Built-in models are unavailable: {html.escape(self.choices_error)}"))
        left.addWidget(heading("Your own model or another study's"))
        own = QHBoxLayout()
        self.file_button = QPushButton("Choose &file or folder…")
        self.file_button.setAccessibleName("Choose a model file or folder as the base")
        menu = QMenu(self.file_button)
        menu.addAction("Model file (.safetensors)…", self._choose_file)
        menu.addAction("Model folder (Hugging Face format, with config.json)…", self._choose_folder)
        self.file_button.setMenu(menu)
        own.addWidget(self.file_button)
        own.addStretch(1)
        left.addLayout(own)
        row, self.source_edit, self.use_button = hf_row(f"or type a source: {SOURCE_HINT}", "Base model source",
                                                        "&Use", "Use the typed source as the base")
        left.addLayout(row)

        right.addWidget(heading("Base model"))
        self.source_label = QLabel()
        self.source_label.setObjectName("card")
        self.source_label.setContentsMargins(8, 5, 8, 5)
        self.source_label.setWordWrap(True)
        self.source_label.setAccessibleName("Chosen base model")
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        right.addWidget(self.source_label)
        self.details = FieldNote(lines=2, name="About the base model")
        right.addWidget(self.details)
        self.source_note = self.add_note(FieldNote(lines=3, name="Problems with the base model"), ("base",))
        right.addWidget(self.source_note)
        right.addWidget(help_label("Every expert must have the base's architecture: merging works weight by weight. "
                                   "Each task keeps its own expert's final layer (heads are not merged)."))
        right.addStretch(1)
        self.finish_layout()
        self.builtin_list.currentItemChanged.connect(self._on_builtin)
        self.use_button.clicked.connect(self._on_typed)
        self.source_edit.returnPressed.connect(self._on_typed)
        set_tab_order([self.builtin_list, self.file_button, self.source_edit, self.use_button])
        self._show()

    def source(self) -> str:
        return self._source

    def set_source(self, source: str) -> None:
        self._source = source.strip()
        self.builtin_list.blockSignals(True)
        self.builtin_list.setCurrentRow(-1)
        for i in range(self.builtin_list.count()):
            if self.builtin_list.item(i).data(Qt.ItemDataRole.UserRole) == self._source:
                self.builtin_list.setCurrentRow(i)
        self.builtin_list.blockSignals(False)
        self._show()
        self.changed()

    def local_problems(self) -> list[FieldProblem]:
        if not self._source:
            return [FieldProblem(("base", "source"), "Choose the base model the experts were fine-tuned from")]
        return []

    def _show(self) -> None:
        if not self._source:
            self.source_label.setText("<i>No base model chosen yet.</i>")
            self.details.say("")
            return
        choice = next((c for c in self.choices if c.source == self._source), None)
        words = f" — {html.escape(choice.label)}" if choice else ""
        self.source_label.setText(f"Using <b>{html.escape(self._source)}</b>{words}")
        train = self.extra.get("train")
        if choice is not None:
            words = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in train.items()) if isinstance(train, dict) else ""
            self.details.say(choice.description + (f" Trained here first ({words})." if words else ""))
        else:
            self.details.say("")

    def _on_builtin(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        if item is not None:
            self.set_source(str(item.data(Qt.ItemDataRole.UserRole)))

    def _on_typed(self) -> None:
        text = self.source_edit.text().strip()
        if not text:
            self.details.say(f"Type a model source first: {SOURCE_HINT}.", "error")
            return
        self.set_source(text)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the base model file", self.wiz.project_root(),
                                              "Model files (*.safetensors)")
        if path:
            self.use_local_model(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the base model folder (with config.json)",
                                                self.wiz.project_root())
        if path:
            self.use_local_model(path)

    def drop_paths(self, paths: list[str]) -> None:
        self.use_local_model(paths[0])

    def use_local_model(self, path: str) -> bool:
        source = model_source_for(path, self.wiz.project_root())
        if source is None:
            self.details.say(f"“{Path(path).name}” is not a model Juxta can open: choose a .safetensors file or a "
                             "Hugging Face model folder with config.json.", "error")
            return False
        self.set_source(source)
        return True


# --------------------------------------------------------------------------------------------
# the experts


@dataclass
class ExpertRow:
    """One ``[[experts]]`` entry: its id, where the model comes from, the task condition; other keys kept."""

    id: str
    source: str | None = None  # a model made elsewhere, or None: fine-tuned here
    tune: dict[str, Any] | None = None
    condition: str = "clean"
    extra: dict[str, Any] = field(default_factory=dict)  # data, trust_remote_code: kept as read
    original: dict[str, Any] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        wanted: dict[str, Any] = {"id": self.id}
        if self.source is not None:
            wanted["source"] = self.source
        else:
            wanted["tune"] = dict(self.tune or {})
        if self.condition != "clean" or "condition" in self.original:
            wanted["condition"] = self.condition
        wanted.update(self.extra)
        if self.original == wanted:
            return dict(self.original)
        order = list(self.original) + [k for k in wanted if k not in self.original]
        return {k: wanted[k] for k in order if k in wanted}

    def origin_words(self) -> str:
        if self.source is not None:
            return self.source or "(no source yet)"
        epochs = (self.tune or {}).get("epochs", schema_default(TuneSpec, "epochs"))
        return f"fine-tuned here from the base ({epochs} epoch{'s' if epochs != 1 else ''})"


class ExpertsPage(WizardPage):
    section = "experts"
    ACCEPTS_DROPS = True

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Add the experts and their tasks",
            "Each expert is the base fine-tuned on one task, and is scored on that task: the data under a condition "
            "(rotated digits, noisy scans…). An expert is a model made elsewhere — another study's tuned model, a "
            "file, a folder — or the base fine-tuned here.",
        )
        self.rows: list[ExpertRow] = []
        self._filling = False
        self._modality = "image"
        left, right = self.two_columns()
        left.addWidget(heading("Experts"))
        self.table = QTableWidget(0, 3)
        self.table.setAccessibleName("Experts in this study")
        self.table.setHorizontalHeaderLabels(["Expert", "Model", "Task"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        left.addWidget(self.table, 1)
        self.experts_note = self.add_note(FieldNote(lines=2, name="Problems with the experts"), ("experts",))
        left.addWidget(self.experts_note)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("&Add expert")
        self.add_button.setAccessibleName("Add an expert")
        self.remove_button = QPushButton("&Remove expert")
        self.remove_button.setAccessibleName("Remove the selected expert")
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        left.addLayout(buttons)

        right.addWidget(heading("The selected expert"))
        form = QFormLayout()
        self.id_edit = QLineEdit()
        self.id_edit.setAccessibleName("Expert id")
        self.id_edit.setToolTip("How the expert and its task are called in the results: letters, digits, “-”, “_”, “.”")
        form.addRow("&Id:", self.id_edit)
        self.tune_radio = QRadioButton("Fine-tune the base &here on the task")
        self.source_radio = QRadioButton("A model fine-tuned &elsewhere")
        group = QButtonGroup(self)
        group.addButton(self.tune_radio)
        group.addButton(self.source_radio)
        form.addRow("Model:", self.tune_radio)
        self.epochs = QSpinBox()
        self.epochs.setRange(int(schema_bound(TuneSpec, "epochs", "ge") or 1), int(schema_bound(TuneSpec, "epochs", "le") or 200))
        self.epochs.setValue(int(schema_default(TuneSpec, "epochs")))
        self.epochs.setSuffix(" epochs")
        self.epochs.setAccessibleName("Fine-tuning epochs")
        self.epochs.setMaximumWidth(140)
        form.addRow("", self.epochs)
        form.addRow("", self.source_radio)
        source_row = QHBoxLayout()
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText(SOURCE_HINT)
        self.source_edit.setAccessibleName("Expert model source")
        self.source_edit.setToolTip("artifact:<study>/<arm> is a model another study of this project made (e.g. "
                                    "artifact:expert-rotated/full); file:, folder: and hf: name your own models.")
        self.browse_button = QPushButton("…")
        self.browse_button.setAccessibleName("Choose the expert's model file or folder")
        menu = QMenu(self.browse_button)
        menu.addAction("Model file (.safetensors)…", self._choose_file)
        menu.addAction("Model folder (Hugging Face format, with config.json)…", self._choose_folder)
        self.browse_button.setMenu(menu)
        source_row.addWidget(self.source_edit, 1)
        source_row.addWidget(self.browse_button)
        holder = QWidget()
        holder.setLayout(source_row)
        source_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("", holder)
        task_row = QHBoxLayout()
        self.shift_combo = QComboBox()
        self.shift_combo.setAccessibleName("The expert's task: the data under this condition")
        self.shift_combo.setToolTip("The condition the expert was fine-tuned for and is scored under.")
        self.severity = QSpinBox()
        self.severity.setRange(min(SEVERITIES), max(SEVERITIES))
        self.severity.setPrefix("severity ")
        self.severity.setAccessibleName("Severity of the task's condition")
        task_row.addWidget(self.shift_combo, 1)
        task_row.addWidget(self.severity)
        task_holder = QWidget()
        task_row.setContentsMargins(0, 0, 0, 0)
        task_holder.setLayout(task_row)
        form.addRow("&Task:", task_holder)
        right.addLayout(form)
        self.expert_note = self.add_note(FieldNote(lines=3, name="Problems with this expert"), ("experts", None))
        right.addWidget(self.expert_note)
        self.data_note = help_label("")
        right.addWidget(self.data_note)
        right.addWidget(help_label("The base is scored on every task too, and so is every expert: an expert on "
                                   "another's task shows how little transfers without merging."))
        right.addStretch(1)
        self.finish_layout()
        self._fill_shifts()

        self.table.itemSelectionChanged.connect(self._show_selected)
        self.add_button.clicked.connect(lambda: self.add_expert())
        self.remove_button.clicked.connect(self._remove_selected)
        self.id_edit.textEdited.connect(self._edited)
        self.tune_radio.toggled.connect(self._edited)
        self.epochs.valueChanged.connect(self._edited)
        self.source_edit.textEdited.connect(self._edited)
        self.shift_combo.currentIndexChanged.connect(self._edited)
        self.severity.valueChanged.connect(self._edited)
        set_tab_order([self.table, self.add_button, self.remove_button, self.id_edit, self.tune_radio, self.epochs,
                       self.source_radio, self.source_edit, self.browse_button, self.shift_combo, self.severity])
        self._refresh()

    # -- rows -----------------------------------------------------------------------------------

    def set_experts(self, experts: list[dict[str, Any]]) -> None:
        self.rows = []
        for e in experts:
            source = e.get("source")
            tune = e.get("tune") if isinstance(e.get("tune"), dict) else None
            extra = {k: v for k, v in e.items() if k not in ("id", "source", "tune", "condition")}
            self.rows.append(ExpertRow(str(e.get("id", "")), None if source is None else str(source),
                                       None if source is not None else dict(tune or {}),
                                       str(e.get("condition", "clean")), extra, dict(e)))
        self._refresh()
        if self.rows:
            self.table.selectRow(0)
        self.changed()

    def experts(self) -> list[dict[str, Any]]:
        return [r.entry() for r in self.rows]

    def add_expert(self, source: str | None = None, condition: str = "clean", expert_id: str | None = None) -> ExpertRow:
        """A new expert (fine-tuned here unless ``source`` names its model), selected for editing."""
        taken = {r.id for r in self.rows}
        base = sanitize_id(expert_id or (Path(source.partition(":")[2]).stem if source else "expert"))
        new_id, n = base, 2
        while new_id in taken:
            new_id, n = f"{base}-{n}", n + 1
        row = ExpertRow(new_id, source, None if source is not None else {"epochs": int(schema_default(TuneSpec, "epochs"))},
                        condition)
        self.rows.append(row)
        self._refresh()
        self.table.selectRow(len(self.rows) - 1)
        self.changed()
        return row

    def add_local_model(self, path: str) -> bool:
        """A model file or folder as a new expert (also what dropping it here does)."""
        source = model_source_for(path, self.wiz.project_root())
        if source is None:
            self.experts_note.say(f"“{Path(path).name}” is not a model Juxta can open: choose a .safetensors file or "
                                  "a Hugging Face model folder with config.json.", "error")
            return False
        self.add_expert(source)
        return True

    def drop_paths(self, paths: list[str]) -> None:
        for path in paths:
            self.add_local_model(path)

    def set_modality(self, modality: str) -> None:
        """The data's kind (image, tabular, text) decides which task conditions are offered."""
        if modality and modality != self._modality:
            self._modality = modality
            self._fill_shifts()
            self._show_selected()

    def local_problems(self) -> list[FieldProblem]:
        if not self.rows:
            return [FieldProblem(("experts",), "Add at least one expert, each with the task it was fine-tuned for")]
        problems = []
        for i, row in enumerate(self.rows):
            if row.source is not None and not row.source.strip():
                problems.append(FieldProblem(("experts", i, "source"), f"Expert '{row.id}' needs its model's source "
                                                                      f"({SOURCE_HINT})"))
        return problems

    def selected_index(self) -> int:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return rows[0] if rows else -1

    # -- drawing and editing --------------------------------------------------------------------

    def _fill_shifts(self) -> None:
        self._filling = True
        self.shift_combo.clear()
        self.shift_combo.addItem("clean — the data as it is", "clean")
        for name in SHIFTS.get(self._modality, CORRUPTION_NAMES):
            self.shift_combo.addItem(family_label(name), name)
        self._filling = False

    def _refresh(self) -> None:
        self._filling = True
        self.table.setRowCount(len(self.rows))
        for i in range(len(self.rows)):
            self._fill_row(i)
        self._filling = False
        self.remove_button.setEnabled(bool(self.rows))
        self._show_selected()

    def _fill_row(self, i: int) -> None:
        row = self.rows[i]
        task = "clean" if row.condition == "clean" else condition_label(row.condition)
        for col, text in enumerate((row.id, row.origin_words(), task)):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            self.table.setItem(i, col, item)

    def _show_selected(self) -> None:
        i = self.selected_index()
        row = self.rows[i] if 0 <= i < len(self.rows) else None
        editors = (self.id_edit, self.tune_radio, self.source_radio, self.epochs, self.source_edit, self.browse_button,
                   self.shift_combo, self.severity)
        for w in editors:
            w.setEnabled(row is not None)
        if row is None:
            self.data_note.setText("")
            return
        self._filling = True
        self.id_edit.setText(row.id)
        here = row.source is None
        self.tune_radio.setChecked(here)
        self.source_radio.setChecked(not here)
        self.epochs.setValue(int((row.tune or {}).get("epochs", schema_default(TuneSpec, "epochs"))))
        self.source_edit.setText(row.source or "")
        self.epochs.setEnabled(here)
        self.source_edit.setEnabled(not here)
        self.browse_button.setEnabled(not here)
        name, _, sev = row.condition.partition("/")
        index = self.shift_combo.findData(name)
        if index < 0 and name != "clean":  # a condition the data's kind does not offer: kept, shown as written
            self.shift_combo.addItem(family_label(name), name)
            index = self.shift_combo.count() - 1
        self.shift_combo.setCurrentIndex(max(index, 0))
        self.severity.setValue(int(sev) if sev.isdigit() else 3)
        self.severity.setEnabled(name != "clean")
        self._filling = False
        data = row.extra.get("data")
        self.data_note.setText(f"Its task's data: {html.escape(str(data.get('source', data)))} (its own, kept from "
                               "the file)." if isinstance(data, dict) else "Its task's data: the study's data (next page).")

    def _edited(self, *_: Any) -> None:
        if self._filling:
            return
        i = self.selected_index()
        if not 0 <= i < len(self.rows):
            return
        row = self.rows[i]
        row.id = self.id_edit.text().strip()
        if self.tune_radio.isChecked():
            row.tune = {**(row.tune or row.original.get("tune") or {}), "epochs": self.epochs.value()}
            row.source = None
        else:
            row.source = self.source_edit.text().strip()
            row.tune = None
        name = self.shift_combo.currentData() or "clean"
        row.condition = "clean" if name == "clean" else f"{name}/{self.severity.value()}"
        self._fill_row(i)
        here = row.source is None
        self.epochs.setEnabled(here)
        self.source_edit.setEnabled(not here)
        self.browse_button.setEnabled(not here)
        self.severity.setEnabled(name != "clean")
        self.changed()

    def _remove_selected(self) -> None:
        i = self.selected_index()
        if 0 <= i < len(self.rows):
            self.rows.pop(i)
            self._refresh()
            if self.rows:
                self.table.selectRow(min(i, len(self.rows) - 1))
            self.changed()

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the expert's model file", self.wiz.project_root(),
                                              "Model files (*.safetensors)")
        if path:
            self._use_path(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the expert's model folder (with config.json)",
                                                self.wiz.project_root())
        if path:
            self._use_path(path)

    def _use_path(self, path: str) -> None:
        source = model_source_for(path, self.wiz.project_root())
        if source is None:
            self.expert_note.say(f"“{Path(path).name}” is not a model Juxta can open.", "error")
            return
        self.source_radio.setChecked(True)
        self.source_edit.setText(source)
        self._edited()
