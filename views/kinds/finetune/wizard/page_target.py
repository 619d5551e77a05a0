"""Step 3 of the fine-tuning wizard: the target — the shared data page (source, options, preview) for the study
file's ``[target]``, plus an optional domain (a shift applied to every split) and the train / validation /
test shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSizePolicy, QSpinBox, QWidget

from engine.conditions.catalog import SEVERITIES, condition_label
from engine.data.spec import Splits
from views.kinds.finetune.wizard.conditions import families_for, family_choices
from views.wizard.page_base import FieldProblem, Pattern
from views.wizard.page_data import DatasetPage
from views.wizard.widgets import FieldNote, help_label

if TYPE_CHECKING:
    from views.wizard.base import KindWizard
    from views.wizard.widgets import FieldNote as Note

SPLITS = ("train", "validation", "test")


def as_target(key: tuple) -> tuple:
    """The shared data page speaks of ``[data]``; here its fields are ``[target]``'s."""
    return ("target", *key[1:]) if key and key[0] == "data" else key


class TargetPage(DatasetPage):
    section = "data"

    def __init__(self, wizard: "KindWizard"):
        super().__init__(wizard)
        self.plain_title = "Choose the target"
        self.setSubTitle("The new task or domain to adapt the base to. Juxta splits it into a part to tune on, a part "
                         "to choose learning rates on (validation) and a test part for the scores it reports.")
        for form in self.findChildren(QFormLayout):  # the target is split by shares, not evaluated on one split
            label = form.labelForField(self.split_combo)
            if label is not None:
                label.hide()
        self.split_combo.hide()
        self.max_examples.setAccessibleName("Use at most this many examples of each split")

        box = QGroupBox("Domain and splits")
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        form = QFormLayout(box)
        form.setVerticalSpacing(4)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.domain_combo = QComboBox()
        self.domain_combo.setAccessibleName("Target domain: a shift applied to every split")
        self.domain_combo.setToolTip("Optional: a shift applied to every split of the target (e.g. inverted digits); "
                                     "the base then has to adapt to it.")
        self.domain_severity = QSpinBox()
        self.domain_severity.setRange(min(SEVERITIES), max(SEVERITIES))
        self.domain_severity.setValue(max(SEVERITIES))
        self.domain_severity.setPrefix("severity ")
        self.domain_severity.setAccessibleName("Severity of the target domain's shift")
        row.addWidget(self.domain_combo, 1)
        row.addWidget(self.domain_severity)
        holder = QWidget()
        holder.setLayout(row)
        domain_label = QLabel("D&omain:")
        domain_label.setBuddy(self.domain_combo)
        form.addRow(domain_label, holder)
        self.domain_note = self.add_note(FieldNote("Optional: a shift on every split, e.g. inverted digits.",
                                                   name="Target domain"), ("target", "domain"))
        form.addRow("", self.domain_note)
        shares = QHBoxLayout()
        shares.setContentsMargins(0, 0, 0, 0)
        self.split_spins: dict[str, QSpinBox] = {}
        default = Splits()
        tips = {"train": "tunes the models", "validation": "chooses each method's learning rate (and WiSE-FT's α)",
                "test": "gives the reported scores"}
        for name in SPLITS:
            spin = QSpinBox()
            spin.setRange(0, 100)
            spin.setSuffix(" %")
            spin.setValue(round(100 * getattr(default, name)))
            spin.setAccessibleName(f"Share of the target for {name}")
            spin.setToolTip(f"The {name} part {tips[name]}.")
            label = QLabel(f"{name.capitalize()}:")
            label.setBuddy(spin)
            shares.addWidget(label)
            shares.addWidget(spin)
            self.split_spins[name] = spin
            spin.valueChanged.connect(self.changed)
        shares.addStretch(1)
        holder = QWidget()
        holder.setLayout(shares)
        form.addRow("Splits:", holder)
        self.splits_note = self.add_note(FieldNote("Train tunes, validation chooses learning rates, test is reported.",
                                                   name="Target splits"), ("target", "splits"), ("target", "split_seed"))
        form.addRow("", self.splits_note)
        left = self.outer.itemAt(0).layout().itemAt(0).layout()  # two_columns(): the choices column
        left.insertWidget(left.count() - 1, box)  # under the data's own fields, above the column's stretch
        self.domain_combo.currentIndexChanged.connect(self._domain_changed)
        self.domain_severity.valueChanged.connect(self.changed)
        self.refresh_domains()

    # the shared page registers its notes and problems under [data]: here they are [target]'s

    def add_note(self, note: "Note", *keys: Pattern, noun: str | None = None) -> "Note":
        return super().add_note(note, *(as_target(k) for k in keys), noun=noun)

    def local_problems(self) -> list[FieldProblem]:
        out = []
        for p in super().local_problems():
            text = p.text
            if p.key == ("data", "source"):
                text = "Choose the target data: a built-in dataset, your own files or a Hugging Face dataset"
            out.append(FieldProblem(as_target(p.key), text))
        total = sum(s.value() for s in self.split_spins.values())
        if total != 100:
            out.append(FieldProblem(("target", "splits"), f"The shares add up to {total}%; make them add up to 100%"))
        return out

    # -- domain and splits ----------------------------------------------------------------------

    def refresh_domains(self) -> None:
        """Offer the shifts that suit the data (image corruptions, table or text shifts), keeping the choice."""
        keep = self.domain_family()
        families = families_for(self.modality(), [keep] if keep else [])
        self.domain_combo.blockSignals(True)
        self.domain_combo.clear()
        self.domain_combo.addItem("none — the data as it is", "")
        for family, label, tip in family_choices(families):
            self.domain_combo.addItem(label, family)
            self.domain_combo.setItemData(self.domain_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.domain_combo.setCurrentIndex(max(self.domain_combo.findData(keep or ""), 0))
        self.domain_combo.blockSignals(False)
        self.domain_severity.setEnabled(bool(self.domain_family()))

    def domain_family(self) -> str:
        return str(self.domain_combo.currentData() or "") if hasattr(self, "domain_combo") else ""

    def domain(self) -> str | None:
        """The domain condition ('invert/5'), or None."""
        family = self.domain_family()
        return f"{family}/{self.domain_severity.value()}" if family else None

    def domain_words(self) -> str:
        d = self.domain()
        return condition_label(d) if d else ""

    def set_domain(self, condition: str | None) -> None:
        family, _, level = str(condition or "").partition("/")
        if family and self.domain_combo.findData(family) < 0:
            self.domain_combo.addItem(condition_label(family), family)
        self.domain_combo.setCurrentIndex(max(self.domain_combo.findData(family), 0))
        if level.isdigit():
            self.domain_severity.setValue(int(level))
        self.domain_severity.setEnabled(bool(family))

    def splits(self) -> dict[str, float]:
        return {name: spin.value() / 100 for name, spin in self.split_spins.items()}

    def set_splits(self, splits: dict[str, Any] | None) -> None:
        values = {**Splits().model_dump(), **(splits or {})}
        for name, spin in self.split_spins.items():
            spin.blockSignals(True)
            spin.setValue(round(100 * float(values.get(name, 0))))
            spin.blockSignals(False)

    def _domain_changed(self, _index: int) -> None:
        self.domain_severity.setEnabled(bool(self.domain_family()))
        self.changed()
