"""The merge wizard's methods page: tick the merge methods to compare, give each the grid of knob values to
sweep (``density = 0.1, 0.2, 0.5``, ``λ = 0.3, 0.5, 1.0``), each knob with a plain-word tooltip and a tiny
preview of its effect, and say how coefficients are chosen (``[merge]``: conventions preset, tuning split).

Method names, titles and descriptions come from ``engine.kinds.merge.catalog``; the knobs (types, defaults,
bounds, descriptions) from the method registry, read off the GUI thread (:func:`knobs.method_knobs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QWidget,
)

from engine.kinds.merge.catalog import METHOD_DESCRIPTIONS, METHOD_KINDS, METHOD_TITLES, RANDOM_METHODS
from engine.kinds.merge.study.spec import ENTRY_KEYS, STUDY_METHODS, MergeSpec
from views.kinds.merge.wizard.knobs import SUGGESTED_GRIDS, Knob, as_setting, method_knobs, parse_values, values_text
from views.kinds.merge.wizard.preview import KnobPreview
from views.wizard.page_base import FieldProblem, WizardPage
from views.wizard.schema import schema_choices
from views.wizard.widgets import FieldNote, heading, help_label, set_tab_order

if TYPE_CHECKING:
    from views.wizard.base import KindWizard

DEFAULT_METHODS = ("linear", "task_arithmetic", "ties")  # ticked in a new study
NEW = 1000  # entries added here come after the file's own, in the catalogue's order
KNOBS: dict[str, list[Knob]] = {}  # the registry's knobs, once read (they do not change while Juxta runs)
TUNING_LABELS = {"validation": "the validation split (recommended)",
                 "test": "the test split — declared test-set tuning: every merged number is optimistic"}
CONVENTION_LABELS = {"mergekit": "mergekit — trim per tensor, as mergekit does",
                     "paper": "paper — trim over the whole task vector, as FusionBench and the papers do"}
PREVIEW_HELP = ("A toy example: three experts' updates, 24 entries each, coloured by direction (up or down). Filled "
                "squares are kept, outlines dropped; a struck square is outvoted by the sign elected for its entry "
                "(the dots below).")


@dataclass
class EntryRow:
    """One method entry: a ``[merge].methods`` item of the file (as read) or a method not in it yet."""

    method: str
    original: dict[str, Any] = field(default_factory=dict)  # the entry as read ({} for a new one)
    texts: dict[str, str] = field(default_factory=dict)  # knob -> the text of its field
    extra: dict[str, Any] = field(default_factory=dict)  # id, conventions, fit_on
    checked: bool = False
    order: float = NEW

    @property
    def name(self) -> str:
        return str(self.extra.get("id") or self.method)

    def parameters(self, knobs: dict[str, Knob]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The entry's parameters as the file holds them, and (knob, problem) for text that cannot be one."""
        params: dict[str, Any] = {}
        problems = []
        for key, text in self.texts.items():
            knob = knobs.get(key)
            values, error = parse_values(text, knob.kind if knob else None)
            if error:
                problems.append((key, f"{key}: {error}"))
                continue
            raw = self.original.get(key)
            old, _ = parse_values(values_text(raw), knob.kind if knob else None) if raw is not None else ([], None)
            setting = raw if raw is not None and old == values and _same_types(old, values) else as_setting(values)
            if setting is not None:
                params[key] = setting
        return params, problems

    def entry(self, knobs: dict[str, Knob]) -> dict[str, Any]:
        params, _ = self.parameters(knobs)
        wanted = {"method": self.method, **{k: v for k, v in self.extra.items() if v not in (None, "")}, **params}
        if self.original and _plain_equal(self.original, wanted):
            return dict(self.original)  # unchanged: its keys in the file's order
        order = list(self.original) + [k for k in wanted if k not in self.original]
        return {k: wanted[k] for k in order if k in wanted}

    def configurations(self, knobs: dict[str, Knob], seeds: int) -> int:
        params, _ = self.parameters(knobs)
        n = math.prod(len(v) if isinstance(v, list) else 1 for v in params.values())
        return n * (seeds if self.method in RANDOM_METHODS else 1)


def _same_types(a: list, b: list) -> bool:
    return [type(x) for x in a] == [type(x) for x in b]


def _plain_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a == b and all(type(a[k]) is type(b[k]) for k in a)


class MethodsPage(WizardPage):
    section = "methods"

    def __init__(self, wizard: "KindWizard"):
        super().__init__(
            wizard,
            "Methods and their knobs",
            "Tick the ways of merging to compare. Give a knob several values (e.g. density 0.1, 0.2, 0.5) to sweep "
            "it: every combination is one merged model, and the best is chosen on the validation split. Hover a knob "
            "for what it does.",
        )
        self.rows: list[EntryRow] = []
        self._filling = False
        self._current: EntryRow | None = None
        self.edits: dict[str, QLineEdit] = {}
        self.knobs_error = ""

        left, right = self.two_columns()
        left.addWidget(heading("Methods"))
        self.method_list = QListWidget()
        self.method_list.setAccessibleName("Merge methods to compare")
        self.method_list.setWordWrap(True)
        self.method_list.setSpacing(1)
        left.addWidget(self.method_list, 1)
        buttons = QHBoxLayout()
        self.another_button = QPushButton("Add &another entry of this method")
        self.another_button.setAccessibleName("Add another entry of the selected method")
        self.another_button.setToolTip("Compare the same method twice, e.g. under both conventions presets")
        buttons.addWidget(self.another_button)
        buttons.addStretch(1)
        left.addLayout(buttons)
        self.methods_note = self.add_note(FieldNote(lines=2, name="Problems with the methods"), ("merge", "methods"),
                                          ("merge",))
        left.addWidget(self.methods_note)

        self.entry_title = heading("")
        right.addWidget(self.entry_title)
        self.entry_about = help_label("")
        self.entry_about.setAccessibleName("What the method does")
        right.addWidget(self.entry_about)
        self.knob_host = QWidget()
        self.knob_form = QFormLayout(self.knob_host)
        self.knob_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.knob_form.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.knob_host)
        scroll.setMinimumHeight(150)
        right.addWidget(scroll, 1)
        self.entry_note = self.add_note(FieldNote(lines=2, name="Problems with this method's knobs"),
                                        ("merge", "methods", None))
        right.addWidget(self.entry_note)
        self.preview_title = QLabel()
        self.preview_title.setWordWrap(True)
        self.preview_title.setAccessibleName("What the preview shows")
        right.addWidget(self.preview_title)
        self.preview = KnobPreview()
        right.addWidget(self.preview)
        self.preview_help = help_label(PREVIEW_HELP)
        right.addWidget(self.preview_help)

        box = QGroupBox("How coefficients are chosen, for every method")
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        form = QFormLayout(box)
        self.conventions = QComboBox()
        self.conventions.setAccessibleName("Conventions preset")
        for name in schema_choices(MergeSpec, "conventions"):
            self.conventions.addItem(CONVENTION_LABELS.get(name, name), name)
        self.conventions.setToolTip("Tools and papers differ in small steps (where trimming looks, how dropped "
                                    "updates are rescaled); the preset fixes them all and is recorded with every merge.")
        self.tuning = QComboBox()
        self.tuning.setAccessibleName("Split the coefficients are chosen on")
        for name in schema_choices(MergeSpec, "tuning"):
            self.tuning.addItem(TUNING_LABELS.get(name, name), name)
        self.tuning.setToolTip("Each method's grid point (λ, density, …) is chosen where it scores best on this "
                               "split. Choosing on the test split makes the test numbers optimistic; it is said "
                               "everywhere the results appear.")
        form.addRow("&Conventions:", self.conventions)
        form.addRow("Choose on:", self.tuning)
        self.tuning_note = self.add_note(FieldNote(lines=2, name="About the tuning split"), ("merge", "tuning"),
                                         ("merge", "conventions"))
        form.addRow(self.tuning_note)
        self.outer.addWidget(box)
        self.finish_layout()

        self.method_list.itemChanged.connect(self._item_changed)
        self.method_list.currentRowChanged.connect(self._row_selected)
        self.another_button.clicked.connect(self.add_another)
        self.conventions.currentIndexChanged.connect(self.changed)
        self.tuning.currentIndexChanged.connect(self._tuning_changed)
        set_tab_order([self.method_list, self.another_button, self.knob_host, self.conventions, self.tuning])
        self.set_merge({"methods": [{"method": m, **SUGGESTED_GRIDS.get(m, {})} for m in DEFAULT_METHODS]}, fresh=True)
        self._tuning_changed()
        self._load_knobs()

    @property
    def current(self) -> EntryRow | None:
        """The entry shown on the right."""
        return self._current

    # -- the knobs ------------------------------------------------------------------------------

    def knobs(self, method: str) -> dict[str, Knob]:
        return {k.key: k for k in KNOBS.get(method, [])}

    def knobs_ready(self) -> bool:
        return bool(KNOBS)

    def _load_knobs(self) -> None:
        if KNOBS:
            return

        def done(found: dict[str, list[Knob]]) -> None:
            KNOBS.update(found)
            self._show_entry(self._current)
            self.changed()

        def failed(message: str) -> None:
            self.knobs_error = message
            self._show_entry(self._current)

        self.wiz.background(method_knobs, on_done=done, on_error=failed)

    # -- entries --------------------------------------------------------------------------------

    def set_merge(self, merge: dict[str, Any], fresh: bool = False) -> None:
        """The ``[merge]`` table of a study (a new study: the methods ticked by default, with suggested grids)."""
        entries = [e for e in merge.get("methods") or [] if isinstance(e, dict)]
        rows: list[EntryRow] = []
        for i, name in enumerate(STUDY_METHODS):
            mine = [(k, e) for k, e in enumerate(entries) if e.get("method") == name]
            for k, e in mine:
                extra = {key: e[key] for key in ENTRY_KEYS[1:] if key in e}
                texts = {key: values_text(v) for key, v in e.items() if key not in ENTRY_KEYS}
                rows.append(EntryRow(name, {} if fresh else dict(e), texts, extra, True, NEW + i if fresh else k))
            if not mine:
                rows.append(EntryRow(name, order=NEW + i))
        # a method this Juxta does not know stays in the file (the validator names it) but has no row
        self._unknown = [(k, e) for k, e in enumerate(entries) if e.get("method") not in STUDY_METHODS]
        self.rows = rows
        self.conventions.setCurrentIndex(max(self.conventions.findData(merge.get("conventions", "mergekit")), 0))
        self.tuning.setCurrentIndex(max(self.tuning.findData(merge.get("tuning", "validation")), 0))
        self._fill()
        first = next((i for i, r in enumerate(self.rows) if r.checked), 0)
        self.method_list.setCurrentRow(first)
        self.changed()

    def entries(self) -> list[dict[str, Any]]:
        """The ticked entries as the file holds them: the file's own first, in its order, then new ones."""
        chosen = sorted([r for r in self.rows if r.checked], key=lambda r: r.order)
        out = [(r.order, r.entry(self.knobs(r.method))) for r in chosen]
        out += [(float(k), e) for k, e in self._unknown]
        return [e for _, e in sorted(out, key=lambda x: x[0])]

    def checked_rows(self) -> list[EntryRow]:
        return sorted([r for r in self.rows if r.checked], key=lambda r: r.order)

    def check_method(self, method: str, checked: bool = True) -> None:
        """Tick (or untick) a method's first entry, as a click would."""
        for i, row in enumerate(self.rows):
            if row.method == method:
                self.method_list.item(i).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                return

    def select(self, method: str, entry_id: str | None = None) -> EntryRow:
        """Show a method's entry (the one with ``entry_id`` when there are several) on the right."""
        for i, row in enumerate(self.rows):
            if row.method == method and (entry_id is None or row.extra.get("id") == entry_id):
                self.method_list.setCurrentRow(i)
                return row
        raise KeyError(method)

    def set_values(self, key: str, text: str) -> None:
        """Type ``text`` into the shown entry's field for ``key``, as the person would."""
        self.edits[key].setText(text)

    def add_another(self) -> None:
        row = self._current
        if row is None:
            return
        taken = {r.name for r in self.rows if r.checked}
        n = 2
        while f"{row.method}-{n}" in taken:
            n += 1
        new = EntryRow(row.method, {}, dict(row.texts), {**row.extra, "id": f"{row.method}-{n}"}, True,
                       max([r.order for r in self.rows if r.checked], default=NEW) + 0.5)
        index = self.rows.index(row) + 1
        while index < len(self.rows) and self.rows[index].method == row.method:
            index += 1
        self.rows.insert(index, new)
        self._fill()
        self.method_list.setCurrentRow(index)
        self.changed()

    def local_problems(self) -> list[FieldProblem]:
        problems = []
        entries = [r for r in self.checked_rows()]
        if not entries:
            return [FieldProblem(("merge", "methods"), "Tick at least one merge method to compare")]
        for i, row in enumerate(entries):
            _, errors = row.parameters(self.knobs(row.method))
            for key, error in errors:
                problems.append(FieldProblem(("merge", "methods", i, key), f"{METHOD_TITLES[row.method]}: {error}"))
        return problems

    # -- drawing --------------------------------------------------------------------------------

    def _fill(self) -> None:
        self._filling = True
        self.method_list.clear()
        for row in self.rows:
            title = METHOD_TITLES[row.method] + (f" — {row.extra['id']}" if row.extra.get("id") else "")
            tags = []
            if METHOD_KINDS[row.method] == "model":
                tags.append("learns from inputs")
            if row.method in RANDOM_METHODS:
                tags.append("random")
            item = QListWidgetItem(title + (f"  ·  {', '.join(tags)}" if tags else ""))
            item.setToolTip(self._about(row.method))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if row.checked else Qt.CheckState.Unchecked)
            self.method_list.addItem(item)
        self._filling = False

    @staticmethod
    def _about(method: str) -> str:
        words = METHOD_DESCRIPTIONS[method]
        text = f"{METHOD_TITLES[method]} {words}"
        if method in RANDOM_METHODS:
            text += " It drops updates at random: one merge per seed, the seeds' results pooled."
        if method == "adamerging":
            text += (" When it learns on the test inputs (the default), it has seen the inputs it is scored on: "
                     "its results are marked transductive.")
        return text

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        row = self.rows[self.method_list.row(item)]
        row.checked = item.checkState() == Qt.CheckState.Checked
        if row.checked and not row.texts and not row.original:
            row.texts = {k: values_text(v) for k, v in SUGGESTED_GRIDS.get(row.method, {}).items()}
            if row is self._current:
                self._show_entry(row)
        if row.checked and row.order >= NEW:
            row.order = max([r.order for r in self.rows if r.checked and r is not row], default=NEW) + 0.5
        self.changed()

    def _row_selected(self, index: int) -> None:
        self._show_entry(self.rows[index] if 0 <= index < len(self.rows) else None)

    def _show_entry(self, row: EntryRow | None) -> None:
        self._current = row
        while self.knob_form.rowCount():
            self.knob_form.removeRow(0)
        self.edits = {}
        if row is None:
            self.entry_title.setText("")
            self.entry_about.setText("")
            return
        self.entry_title.setText(METHOD_TITLES[row.method] + (f" — {row.extra['id']}" if row.extra.get("id") else ""))
        settings = [f"{k.replace('_', ' ')} {v}" for k, v in row.extra.items() if k != "id"]
        self.entry_about.setText(self._about(row.method) + (f" This entry: {', '.join(settings)}." if settings else ""))
        knobs = self.knobs(row.method)
        keys = list(knobs) + [k for k in row.texts if k not in knobs]
        if not knobs and not self.knobs_ready():
            self.knob_form.addRow(help_label(self.knobs_error and f"The knobs could not be read: {self.knobs_error}"
                                             or "Reading the methods' knobs…"))
        elif not keys:
            self.knob_form.addRow(help_label(f"{METHOD_TITLES[row.method]} has no knob to set."))
        for key in keys:
            knob = knobs.get(key)
            edit = QLineEdit(row.texts.get(key, ""))
            label = QLabel(("λ (lambda)" if key == "lambda" else key) + ":")
            label.setBuddy(edit)
            if knob is not None:
                default = "none" if knob.default is None else values_text(knob.default)
                edit.setPlaceholderText(f"default {default}")
                edit.setToolTip(knob.tooltip())
                label.setToolTip(knob.tooltip())
            else:
                edit.setToolTip(f"{METHOD_TITLES[row.method]} has no knob called '{key}' that this Juxta knows.")
            edit.setAccessibleName(f"{METHOD_TITLES[row.method]}: values of {key}")
            edit.textChanged.connect(lambda text, r=row, k=key: self._text_changed(r, k, text))
            edit.installEventFilter(self)
            self.knob_form.addRow(label, edit)
            self.edits[key] = edit
        self._show_preview(next((k for k in ("density", "lambda") if k in self.edits), None))

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 (Qt API): a focused knob gets the preview
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.FocusIn:
            for key, edit in self.edits.items():
                if edit is obj:
                    self._show_preview(key)
        return False

    def _show_preview(self, key: str | None) -> None:
        row = self._current
        show = row is not None and key is not None and KnobPreview.can_show(row.method, key)
        if show:
            knob = self.knobs(row.method).get(key)
            values, _ = parse_values(row.texts.get(key, ""), knob.kind if knob else None)
            if not values and knob is not None and knob.default is not None:
                values = [knob.default]
            self.preview.show_knob(row.method, key, values)
            show = bool(self.preview.values)
        self.preview.setVisible(show)
        self.preview_title.setVisible(show)
        self.preview_help.setVisible(show and key == "density")
        if show:
            what = "density" if key == "density" else "λ"
            self.preview_title.setText(f"<b>Preview</b> — what {what} does at each value of the grid")

    def _text_changed(self, row: EntryRow, key: str, text: str) -> None:
        if text.strip():
            row.texts[key] = text
        else:
            row.texts.pop(key, None)
        if row is self._current and KnobPreview.can_show(row.method, key):
            self._show_preview(key)
        self.changed()

    def _tuning_changed(self, *_: Any) -> None:
        if self.tuning.currentData() == "test":
            self.tuning_note.say("Declared test-set tuning: the coefficients are chosen on the data they are scored "
                                 "on, so every merged number is optimistic — said in the results and the report.", "warn")
        else:
            self.tuning_note.say("Coefficients are chosen on the validation split; the test split only scores.")
        self.changed()

    def conventions_value(self) -> str:
        return str(self.conventions.currentData())

    def tuning_value(self) -> str:
        return str(self.tuning.currentData())

    def labels(self) -> list[str]:
        """'TIES: density 0.1, 0.2, 0.5 × λ 0.3, 0.5, 1.0' per ticked entry (the Review page's summary)."""
        out = []
        for row in self.checked_rows():
            params, _ = row.parameters(self.knobs(row.method))
            grid = " × ".join(f"{'λ' if k == 'lambda' else k} {values_text(v)}" for k, v in params.items())
            out.append(METHOD_TITLES[row.method] + (f" ({row.extra['id']})" if row.extra.get("id") else "")
                       + (f": {grid}" if grid else ""))
        return out

