"""Step 3: the data to test on, its options and a preview."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from engine.data.spec import DataSpec
from views.providers import DatasetPreview, ModelChoice
from views.wizard.columns import table_columns
from views.wizard.formatting import project_relative
from views.wizard.page_base import FieldProblem, WizardPage
from views.wizard.schema import schema_bound, schema_choices, schema_default
from views.theme import set_tone
from views.wizard.widgets import (
    BarChart,
    FieldNote,
    SPLIT_LABELS,
    Thumbnail,
    heading,
    help_label,
    hf_row,
    set_tab_order,
)

if TYPE_CHECKING:
    from views.wizard.base import KindWizard


class DatasetPage(WizardPage):
    section = "data"
    ACCEPTS_DROPS = True

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Choose the test data",
            "Pick the data every model is tested on. The preview shows a few examples and how many "
            "there are of each class.",
        )
        self._source = ""
        self._extra: dict[str, Any] = {}  # [data] keys this page does not edit, kept as read
        self.preview: DatasetPreview | None = None
        self.preview_error = ""
        self.columns: list[str] | None = None  # a CSV's or Parquet file's columns, once read
        self.columns_error = ""  # why they could not be read
        self.columns_read = False  # the header was asked for and answered (None: no such file)
        try:
            self._choices: list[ModelChoice] = list(wizard.providers.builtin_datasets())
        except Exception:
            self._choices = []

        left, right = self.two_columns()

        left.addWidget(heading("Built-in example data"))
        self.builtin_combo = QComboBox()
        self.builtin_combo.setAccessibleName("Built-in dataset")
        self.builtin_combo.addItem("— choose a built-in dataset —", "")
        for choice in self._choices:
            self.builtin_combo.addItem(choice.label, choice.source)
            self.builtin_combo.setItemData(self.builtin_combo.count() - 1, choice.description, Qt.ItemDataRole.ToolTipRole)
        left.addWidget(self.builtin_combo)
        self.builtin_help = help_label("")
        left.addWidget(self.builtin_help)

        left.addSpacing(4)
        left.addWidget(heading("Your own data"))
        own = QHBoxLayout()
        self.folder_button = QPushButton("Image f&older…")
        self.folder_button.setAccessibleName("Choose an image folder with one sub-folder per class")
        self.table_button = QPushButton("&CSV / Parquet file…")
        self.table_button.setAccessibleName("Choose a CSV or Parquet table")
        own.addWidget(self.folder_button)
        own.addWidget(self.table_button)
        own.addStretch(1)
        left.addLayout(own)
        left.addWidget(help_label("An image folder has one sub-folder per class. A table needs a column with the class."))

        left.addSpacing(4)
        left.addWidget(heading("From Hugging Face"))
        hf, self.hf_edit, self.hf_button = hf_row(
            "e.g. uoft-cs/cifar10", "Hugging Face dataset id", "&Use", "Use the Hugging Face dataset")
        left.addLayout(hf)

        self.source_label = QLabel()
        self.source_label.setObjectName("card")
        self.source_label.setContentsMargins(8, 5, 8, 5)
        self.source_label.setWordWrap(True)
        self.source_label.setAccessibleName("Chosen dataset")
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left.addSpacing(4)
        left.addWidget(self.source_label)
        self.source_note = self.add_note(FieldNote(lines=2, name="Problems with the dataset"), ("data", "source"))
        left.addWidget(self.source_note)

        self.columns_box = QGroupBox("Columns of the table")
        cform = QFormLayout(self.columns_box)
        self.label_column = self._column_combo("Label column", "label")
        self.text_column = self._column_combo("Text column", "")
        self.group_column = self._column_combo("Group column", "")
        cform.addRow("Class (label) column:", self.label_column)
        cform.addRow("Text column:", self.text_column)
        cform.addRow("Group column:", self.group_column)
        self.columns_note = self.add_note(
            FieldNote("Leave Text empty when the other columns are numbers. A group column (e.g. site) enables "
                      "group shift.", lines=2, name="Columns of the table"),
            ("data", "label_column"), ("data", "text_column"), ("data", "group_column"))
        cform.addRow(self.columns_note)
        left.addWidget(self.columns_box)

        self.image_box = QGroupBox("Images")
        iform = QFormLayout(self.image_box)
        self.image_size = QSpinBox()
        self.image_size.setRange(0, int(schema_bound(DataSpec, "image_size", "le") or 1024))
        self.image_size.setSpecialValueText("keep the original size")
        self.image_size.setSuffix(" px")
        self.image_size.setAccessibleName("Resize images to a square of this side")
        self.grayscale = QCheckBox("Convert to grey")
        iform.addRow("Resize to:", self.image_size)
        iform.addRow("", self.grayscale)
        left.addWidget(self.image_box)

        split_row = QFormLayout()
        self.split_combo = QComboBox()
        self.split_combo.setAccessibleName("Which part of the data is evaluated")
        for split in schema_choices(DataSpec, "split"):
            self.split_combo.addItem(SPLIT_LABELS.get(split, split), split)
        self.split_combo.setCurrentIndex(max(self.split_combo.findData(schema_default(DataSpec, "split")), 0))
        self.max_examples = QSpinBox()
        self.max_examples.setRange(0, 10_000_000)
        self.max_examples.setSingleStep(100)
        self.max_examples.setSpecialValueText("all")
        self.max_examples.setAccessibleName("Evaluate at most this many examples")
        self.max_examples.setSuffix(" examples")
        self.max_examples.setMaximumWidth(180)
        split_label = QLabel("&Evaluate on:")
        split_label.setBuddy(self.split_combo)
        max_label = QLabel("At &most:")
        max_label.setBuddy(self.max_examples)
        split_row.addRow(split_label, self.split_combo)
        split_row.addRow(max_label, self.max_examples)
        left.addLayout(split_row)
        left.addStretch(1)

        # preview
        right.addWidget(heading("Preview"))
        self.rows_label = QLabel("Choose a dataset to see a preview.")
        self.rows_label.setWordWrap(True)
        self.rows_label.setAccessibleName("Dataset size")
        right.addWidget(self.rows_label)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.setAccessibleName("Loading the preview")
        self.busy.hide()
        right.addWidget(self.busy)
        self.samples_stack = QStackedWidget()
        self.samples_stack.setAccessibleName("Example rows")
        grid_host = QWidget()
        self.samples_grid = QGridLayout(grid_host)
        self.samples_grid.setContentsMargins(0, 0, 0, 0)
        self.samples_grid.setHorizontalSpacing(8)
        self.samples_grid.setVerticalSpacing(2)
        self.samples_table = QTableWidget(0, 0)
        self.samples_table.setAccessibleName("Example rows")
        self.samples_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.samples_table.verticalHeader().setVisible(False)
        self.samples_table.setTabKeyNavigation(False)
        self.samples_stack.addWidget(grid_host)
        self.samples_stack.addWidget(self.samples_table)
        self.samples_table.setMinimumHeight(200)
        right.addWidget(self.samples_stack)
        self.thumbnails: list[Thumbnail] = []
        self.balance_caption = help_label("How many examples of each class:")
        right.addWidget(self.balance_caption)
        self.balance_chart = BarChart("Class balance chart", "accent_fill", "examples")
        self.balance_chart.setMinimumHeight(150)
        self.balance_chart.setMaximumHeight(300)
        right.addWidget(self.balance_chart, 1)
        for widget in (self.balance_caption, self.balance_chart, self.samples_stack):
            widget.hide()  # until there is a preview
        right.addStretch(0)
        self.finish_layout()

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(400)
        self._preview_timer.timeout.connect(self.request_preview)
        self.builtin_combo.activated.connect(self._on_builtin)
        self.folder_button.clicked.connect(self._choose_folder)
        self.table_button.clicked.connect(self._choose_table)
        self.hf_button.clicked.connect(self._on_hf)
        self.hf_edit.returnPressed.connect(self._on_hf)
        for combo in (self.label_column, self.text_column, self.group_column):
            combo.editTextChanged.connect(self._options_changed)
        self.image_size.valueChanged.connect(self._options_changed)
        self.grayscale.toggled.connect(self._options_changed)
        self.split_combo.currentIndexChanged.connect(self.changed)
        self.max_examples.valueChanged.connect(self.changed)
        set_tab_order([self.builtin_combo, self.folder_button, self.table_button, self.hf_edit, self.hf_button,
                        self.label_column, self.text_column, self.group_column, self.image_size, self.grayscale,
                        self.split_combo, self.max_examples, self.samples_table])
        self._update_source_widgets()

    def _column_combo(self, name: str, default: str) -> QComboBox:
        combo = QComboBox()
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.setAccessibleName(name)
        combo.setEditText(default)
        return combo

    # -- source ---------------------------------------------------------------------------------

    def key(self) -> tuple:
        """The data as chosen now (source and options): what previews and galleries are cached by."""
        return (self.source(), json.dumps(self.options(), sort_keys=True, default=str))

    def source(self) -> str:
        return self._source

    def scheme(self) -> str:
        return self._source.partition(":")[0]

    def set_source(self, source: str, extra: dict[str, Any] | None = None) -> None:
        """Use this dataset (what the combo, the file buttons, the hub field and drops do)."""
        if source != self._source:
            old_scheme = self.scheme()
            self._source = source
            if source.partition(":")[0] != old_scheme:
                self._extra = {}
            self.preview = None
            self.preview_error = ""
            self.columns = None
            self.columns_error = ""
            self.columns_read = False
        if extra is not None:
            self._extra = dict(extra)
        index = self.builtin_combo.findData(source)
        self.builtin_combo.setCurrentIndex(max(index, 0))
        if source.startswith("hf:"):
            self.hf_edit.setText(source[3:])
        self._update_source_widgets()
        self.request_columns()
        self.request_preview()
        self.changed()
        self.wiz.data_changed()

    def drop_paths(self, paths: list[str]) -> None:
        self.add_local_data(paths[0])

    def add_local_data(self, path: str) -> bool:
        p = Path(path)
        rel = project_relative(str(p), self.wiz.project_root())
        if p.is_dir():
            self.set_source(f"folder:{rel}")
        elif p.suffix.lower() == ".csv":
            self.set_source(f"csv:{rel}")
        elif p.suffix.lower() in (".parquet", ".pq"):
            self.set_source(f"parquet:{rel}")
        else:
            self.preview_error = f"“{p.name}” is not a folder, CSV or Parquet file."
            self._show_preview_state()
            return False
        return True

    def _on_builtin(self, index: int) -> None:
        source = self.builtin_combo.itemData(index)
        if source:
            self.set_source(source)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose an image folder (one sub-folder per class)",
                                                self.wiz.project_root())
        if path:
            self.add_local_data(path)

    def _choose_table(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a table", self.wiz.project_root(),
                                              "Tables (*.csv *.parquet *.pq)")
        if path:
            self.add_local_data(path)

    def _on_hf(self) -> None:
        text = self.hf_edit.text().strip()
        if text:
            self.set_source(text if text.startswith("hf:") else f"hf:{text}")

    def _update_source_widgets(self) -> None:
        scheme = self.scheme()
        choice = next((c for c in self._choices if c.source == self._source), None)
        self.builtin_help.setText(choice.description if choice else "")
        self.builtin_help.setVisible(choice is not None)
        self.columns_box.setVisible(scheme in ("csv", "parquet", "hf"))
        self.image_box.setVisible(scheme in ("folder", "hf"))
        if self._source:
            self.source_label.setText(f"Using <b>{html.escape(self._source)}</b>")
        else:
            self.source_label.setText("<i>No dataset chosen yet.</i>")

    # -- options --------------------------------------------------------------------------------

    def options(self) -> dict[str, Any]:
        """The [data] options that change how the source is read (passed to the providers)."""
        scheme = self.scheme()
        out: dict[str, Any] = {}
        if scheme in ("csv", "parquet", "hf"):
            out["label_column"] = self.label_column.currentText().strip() or "label"
            for key, combo in (("text_column", self.text_column), ("group_column", self.group_column)):
                if combo.currentText().strip():
                    out[key] = combo.currentText().strip()
        if scheme in ("folder", "hf"):
            if self.image_size.value():
                out["image_size"] = self.image_size.value()
            if self.grayscale.isChecked():
                out["grayscale"] = True
        for key in ("image_column", "feature_columns", "hf_split", "hf_config"):
            if key in self._extra:
                out[key] = self._extra[key]
        return out

    def set_options(self, data: dict[str, Any]) -> None:
        for combo, key, default in ((self.label_column, "label_column", "label"), (self.text_column, "text_column", ""),
                                    (self.group_column, "group_column", "")):
            combo.blockSignals(True)
            combo.setEditText(str(data.get(key) or default))
            combo.blockSignals(False)
        self.image_size.blockSignals(True)
        self.image_size.setValue(int(data.get("image_size") or 0))
        self.image_size.blockSignals(False)
        self.grayscale.blockSignals(True)
        self.grayscale.setChecked(bool(data.get("grayscale", False)))
        self.grayscale.blockSignals(False)
        index = self.split_combo.findData(data.get("split", "test"))
        self.split_combo.setCurrentIndex(max(index, 0))
        self.max_examples.setValue(int(data.get("max_examples") or 0))

    def extra_keys(self) -> dict[str, Any]:
        return dict(self._extra)

    def _options_changed(self, *_: Any) -> None:
        self.preview = None
        self._preview_timer.start()
        self.changed()
        self.wiz.data_changed()

    def group_column_name(self) -> str:
        return self.options().get("group_column", "")

    def modality(self) -> str:
        if self.preview is not None:
            return self.preview.modality
        scheme = self.scheme()
        if scheme in ("csv", "parquet"):
            return "text" if self.options().get("text_column") else "tabular"
        if scheme == "builtin":
            return "image" if self._source in ("builtin:digits",) else "tabular"
        if scheme == "hf" and self.options().get("text_column"):
            return "text"
        return "image"

    def class_names(self) -> list[str]:
        return list(self.preview.class_names) if self.preview is not None else []

    # -- preview --------------------------------------------------------------------------------

    def request_columns(self) -> None:
        """Read a CSV's or Parquet file's header in the background and offer its columns in the pickers."""
        if self.scheme() not in ("csv", "parquet"):
            return
        source = self._source
        self.wiz.cached_load(self.wiz.column_loads, (source,), table_columns, source, self.wiz.project_root(),
                             on_done=lambda cols: self._columns_done(source, cols),
                             on_error=lambda message: self._columns_failed(source, message))

    def _columns_done(self, source: str, columns: list[str] | None) -> None:
        if source != self._source:
            return
        self.columns, self.columns_error, self.columns_read = columns, "", True
        self._offer_columns(columns or [])
        self.request_preview()
        self.wiz.schedule_validation()

    def _columns_failed(self, source: str, message: str) -> None:
        if source != self._source:
            return
        self.columns, self.columns_error, self.columns_read = None, message, True
        self.preview = None
        self.busy.hide()
        self._offer_columns([])
        self._show_preview_state()
        self.wiz.schedule_validation()

    def column_problems(self) -> list[FieldProblem]:
        """The chosen columns that the file does not have, or why its columns are unknown."""
        if self.scheme() not in ("csv", "parquet"):
            return []
        if self.columns_error:
            return [FieldProblem(("data", "label_column"), self.columns_error)]
        if self.columns is None:
            return []
        name = Path(self._source.partition(":")[2]).name
        out = []
        opts = self.options()
        for key, what in (("label_column", "class"), ("text_column", "text"), ("group_column", "group")):
            chosen = opts.get(key)
            if chosen and chosen not in self.columns:
                out.append(FieldProblem(("data", key), f"{name} has no column “{chosen}”: choose the {what} column "
                                                       "from the list"))
        return out

    def local_problems(self) -> list[FieldProblem]:
        if not self._source:
            return [FieldProblem(("data", "source"), "Choose the data to test on: a built-in dataset, your own files or "
                                                     "a Hugging Face dataset")]
        return self.column_problems()

    def request_preview(self) -> None:
        if not self._source:
            return
        if self.scheme() in ("csv", "parquet") and not self.columns_read:
            self.wiz.preview_loads.next()  # an older source's preview on its way is no longer wanted
            self.preview = None
            self._show_preview_state()
            self.busy.show()
            set_tone(self.rows_label, "")
            self.rows_label.setText(f"Reading {html.escape(self._source, quote=False)}…")
            return  # asked again once the header is read
        if self.column_problems():  # it could only fail: say what to choose instead
            self.preview = None
            self.preview_error = ""
            self.busy.hide()
            self._show_preview_state()
            return
        from_cache = self.wiz.cached_load(self.wiz.preview_loads, self.key(), self.wiz.providers.preview_dataset,
                                          self._source, self.options(), on_done=self._preview_done,
                                          on_error=self._preview_failed)
        if not from_cache:
            self.busy.show()
            set_tone(self.rows_label, "")
            self.rows_label.setText(f"Reading {html.escape(self._source, quote=False)}…")

    def _preview_done(self, preview: DatasetPreview) -> None:
        self.busy.hide()
        # asked before the header was read: a table whose chosen columns it lacks shows no preview
        self.preview = None if self.column_problems() else preview
        self.preview_error = ""
        self._show_preview_state()
        self.wiz.data_changed()

    def _preview_failed(self, message: str) -> None:
        self.busy.hide()
        self.preview = None
        self.preview_error = message
        self._show_preview_state()
        self.wiz.data_changed()

    def _show_preview_state(self) -> None:
        for thumb in self.thumbnails:
            thumb.deleteLater()
        while self.samples_grid.count():
            item = self.samples_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.thumbnails = []
        preview = self.preview
        # no preview, no chart: an empty chart would read as "no examples in any class"
        for widget in (self.balance_caption, self.balance_chart, self.samples_stack):
            widget.setVisible(preview is not None)
        if preview is None:
            if self.columns_error:
                set_tone(self.rows_label, "muted")
                self.rows_label.setText("No preview: the table's columns could not be read (see Columns of the table).")
            elif self.column_problems():
                set_tone(self.rows_label, "muted")
                self.rows_label.setText("The preview appears once the table's columns are chosen (see Columns of "
                                        "the table).")
            elif self.preview_error:
                set_tone(self.rows_label, "error")
                self.rows_label.setText(f"Could not open the data: {html.escape(self.preview_error, quote=False)}")
            self.balance_chart.set_bars([], [])
            self.samples_table.setRowCount(0)
            return
        k = len(preview.class_names)
        kind = {"image": "images", "tabular": "table rows", "text": "texts"}.get(preview.modality, preview.modality)
        shape = ""
        if preview.modality == "image" and preview.samples:
            img = np.asarray(preview.samples[0][0])
            shape = f" of {img.shape[1]}×{img.shape[0]} pixels" if img.ndim >= 2 else ""
        groups = " · has groups" if preview.has_groups else ""
        set_tone(self.rows_label, "")
        self.rows_label.setText(f"<b>{preview.n_rows:,}</b> {kind}{shape} · <b>{k}</b> classes{groups}")
        self.balance_chart.set_bars(list(preview.class_names), list(preview.class_counts))
        samples = list(preview.samples)[:12]
        if preview.modality == "image":
            self.samples_stack.setCurrentIndex(0)
            for i, (img, label) in enumerate(samples):
                thumb = Thumbnail(72, f"Example {i + 1}, class {label}")
                thumb.set_image(img)
                caption = QLabel(str(label))
                caption.setObjectName("muted")
                caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
                r, c = divmod(i, 6)
                self.samples_grid.addWidget(thumb, 2 * r, c, Qt.AlignmentFlag.AlignHCenter)
                self.samples_grid.addWidget(caption, 2 * r + 1, c, Qt.AlignmentFlag.AlignHCenter)
                self.thumbnails.append(thumb)
            self.samples_grid.setRowStretch(4, 1)
            self.samples_grid.setColumnStretch(6, 1)
        else:
            self.samples_stack.setCurrentIndex(1)
            if preview.modality == "text":
                columns = ["text", "class"]
                rows = [[str(s), str(label)] for s, label in samples]
            else:
                keys: list[str] = []
                for s, _ in samples:
                    for key in (s.keys() if isinstance(s, dict) else []):
                        if key not in keys:
                            keys.append(str(key))
                columns = [*keys, "class"]
                rows = [[_cell_text(s.get(key)) if isinstance(s, dict) else str(s) for key in keys] + [str(label)]
                        for s, label in samples]
                if self.scheme() not in ("csv", "parquet"):  # those offer the header's columns
                    self._offer_columns(keys)
            self.samples_table.setColumnCount(len(columns))
            self.samples_table.setHorizontalHeaderLabels(columns)
            self.samples_table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    item = QTableWidgetItem(value)
                    item.setToolTip(value)
                    self.samples_table.setItem(r, c, item)
            self.samples_table.resizeColumnsToContents()
            for c in range(self.samples_table.columnCount()):
                self.samples_table.setColumnWidth(c, min(self.samples_table.columnWidth(c), 260))

    def _offer_columns(self, keys: list[str]) -> None:
        for combo, blank in ((self.label_column, False), (self.text_column, True), (self.group_column, True)):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            if blank:
                combo.addItem("")
            combo.addItems(keys)
            combo.setEditText(current)
            combo.blockSignals(False)


def _cell_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
