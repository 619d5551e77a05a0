"""The fine-tuning wizard: a new study, the demo's adapt study round trip, methods and budgets, shifts and
forgetting, problems next to their fields, contrast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.core.errors import StudyFileError
from engine.kinds import parse_study_text
from engine.kinds.finetune.methods import METHODS
from tests.views.contrast import low_contrast
from views.kinds import VIEW_KINDS
from views.kinds.finetune.wizard.study_wizard import FinetuneWizard
from views.providers import DatasetPreview, ModelChoice, StudyProviders, describe_study_text

ROOT = Path(__file__).resolve().parents[3]
ADAPT = ROOT / "projects" / "digits-demo" / "adapt.study.toml"


def real_validate(text: str) -> list:
    try:
        parse_study_text(text, "study.toml")
    except StudyFileError as exc:
        return list(exc.problems)
    return []


class Fake:
    """The engine behind StudyProviders, without reading data or models."""

    def __init__(self, root: Path):
        self.root = root
        self.calls: list[tuple] = []

    def builtin_models(self):
        return [ModelChoice("builtin:digits-mlp", "MLP (trained on digits)", "Two hidden layers.", 17_226),
                ModelChoice("builtin:digits-cnn", "CNN (trained on digits)", "Three conv layers.", 56_714)]

    def builtin_datasets(self):
        return [ModelChoice("builtin:digits", "digits", "8×8 digits."), ModelChoice("builtin:wine", "wine", "A table.")]

    def describe_model(self, source):
        self.calls.append(("describe", source))
        return {"architecture": "ViTForImageClassification", "n_params": 86_000_000, "class_names": list("0123456789"),
                "modality": "image"}

    def preview_dataset(self, source, options):
        self.calls.append(("preview", source))
        if source == "builtin:wine":
            return DatasetPreview(source, "tabular", 178, ["a", "b", "c"], [59, 71, 48], [({"alcohol": 13.2}, "a")] * 3)
        rng = np.random.default_rng(0)
        samples = [((rng.random((8, 8)) * 255).astype(np.uint8), str(i % 10)) for i in range(12)]
        return DatasetPreview(source, "image", 1797, list("0123456789"), [180] * 10, samples)

    def providers(self) -> StudyProviders:
        return StudyProviders(self.builtin_models, self.builtin_datasets, self.describe_model, self.preview_dataset,
                              lambda *a: {}, real_validate, lambda: str(self.root))


@pytest.fixture
def fake(tmp_path):
    return Fake(tmp_path)


@pytest.fixture
def adapt(qtbot, fake) -> FinetuneWizard:
    w = FinetuneWizard.from_toml(ADAPT.read_text(encoding="utf-8"), fake.providers())
    qtbot.addWidget(w)
    return w


def _study(w: FinetuneWizard):
    return parse_study_text(w.study_toml(), "w.study.toml")


# --------------------------------------------------------------------------------------------
# round trips


def test_the_adapt_study_round_trips_unchanged(adapt):
    text = ADAPT.read_text(encoding="utf-8")
    assert adapt.problems() == [] and adapt.is_valid()
    assert adapt.study_toml() == text  # comments, order and the keys the wizard does not show all kept
    assert _study(adapt).model_dump() == parse_study_text(text, "adapt.study.toml").model_dump()


def test_the_pages_show_what_the_adapt_study_says(adapt):
    assert adapt.base_page.source() == "builtin:digits-cnn"
    assert adapt.target_page.source() == "builtin:digits" and adapt.target_page.domain() == "invert/5"
    assert adapt.shifts_page.conditions() == ["gaussian_noise/3", "gaussian_blur/3"]
    assert adapt.shifts_page.measures_forgetting() and adapt.shifts_page.source() == "builtin:digits"
    checked = [r.method for r in adapt.methods_page.checked_rows()]
    assert checked == ["linear_probe", "full", "lp_ft", "bitfit", "lora", "ia3", "wise_ft"]
    assert adapt.methods_page.budget_edit("lora").text() == "2, 8"
    assert adapt.methods_page.budget_edit("wise_ft").currentText() == "full"
    assert adapt.methods_page.epochs.value() == 3 and adapt.methods_page.lr_sweep.isChecked()
    assert adapt.seeds_page.seeds()[0] == [0, 1, 2]
    assert adapt.windowTitle() == "Edit study — adapt"


def test_the_views_registry_opens_the_wizard_for_a_study_file(qtbot, fake, tmp_path):
    w = VIEW_KINDS["finetune"].wizard(fake.providers(), None, ["adapt"], ADAPT.read_text(encoding="utf-8"), None)
    qtbot.addWidget(w)
    assert isinstance(w, FinetuneWizard) and w.original_name == "adapt" and w.is_valid()
    model = tmp_path / "mine.safetensors"
    model.write_bytes(b"0")
    w2 = VIEW_KINDS["finetune"].wizard(fake.providers(), None, [], None, str(model))
    qtbot.addWidget(w2)
    assert w2.base_page.source() == "file:mine.safetensors"


def test_a_new_study_is_valid_and_described_by_the_engine(qtbot, fake):
    w = FinetuneWizard(fake.providers(), existing_names=["finetune-study"])
    qtbot.addWidget(w)
    assert w.study_name() == "finetune-study-2" and w.is_valid(), w.problems()
    study = _study(w)
    assert study.kind == "finetune" and study.base.source == "builtin:digits-cnn"
    assert [m.method for m in study.methods] == ["linear_probe", "full", "lora"]
    assert study.source is not None and study.source.source == "builtin:digits"
    d = describe_study_text(w.study_toml())
    assert d is not None and "tuning run" in d.cells_sentence
    assert d.cells_sentence in w.review_page.status.text()


def test_bad_toml_is_refused_in_plain_words(qtbot, fake):
    with pytest.raises(StudyFileError, match="is not valid TOML"):
        FinetuneWizard.from_toml("[study\nname=", fake.providers())


# --------------------------------------------------------------------------------------------
# methods


def test_every_registered_method_has_a_row_with_its_description(qtbot, fake):
    w = FinetuneWizard(fake.providers())
    qtbot.addWidget(w)
    page = w.methods_page
    assert [r.method for r in page.rows] == list(METHODS)
    for i, row in enumerate(page.rows):
        assert page.table.item(i, 0).toolTip() == METHODS[row.method].description
        assert page.table.item(i, 0).text() == METHODS[row.method].title


def test_budgets_and_new_methods_are_written(adapt):
    page = adapt.methods_page
    page.check("lp_ft", False)
    page.budget_edit("lora").setText("4")
    page.check("last_k")
    page.budget_edit("last_k").setText("1, 2")
    page.check("dora")
    adapt.revalidate()
    assert adapt.is_valid(), adapt.problems()
    study = _study(adapt)
    methods = {m.method: m for m in study.methods}
    assert "lp_ft" not in methods
    assert methods["lora"].model_extra["rank"] == [4]  # the file had a list: it stays one
    assert methods["last_k"].model_extra["k"] == [1, 2] and "k" not in methods["dora"].model_extra
    order = [m.method for m in study.methods]
    assert order[:6] == ["linear_probe", "full", "bitfit", "lora", "ia3", "wise_ft"]  # the file's own first
    assert set(order[6:]) == {"last_k", "dora"}
    assert "Last k blocks k = 1, 2" in page.labels() and "LoRA r = 4" in page.labels()


def test_a_budget_that_is_not_a_number_is_shown_at_the_methods(adapt):
    adapt.methods_page.budget_edit("lora").setText("2, eight")
    adapt.revalidate()
    assert not adapt.is_valid()
    assert any("LoRA's budget" in p and "'eight' is not a number" in p for p in adapt.problems())
    assert "eight" in adapt.methods_page.methods_note.text()
    assert "rank = [2, 8]" in adapt.study_toml()  # the file keeps its value until the text reads


def test_wise_ft_is_offered_full_weight_arms_only(adapt):
    combo = adapt.methods_page.budget_edit("wise_ft")
    offered = [combo.itemText(i) for i in range(combo.count())]
    assert offered == ["linear_probe", "full", "lp_ft", "bitfit"]
    combo.setEditText("lora-r2")
    adapt.revalidate()
    assert not adapt.is_valid()
    note = adapt.methods_page.methods_note.text()
    assert "lora-r2" in note and "full-weight" in note  # the engine's own sentence, at the methods


def test_no_method_at_all_is_a_problem_of_the_methods_page(qtbot, fake):
    w = FinetuneWizard(fake.providers())
    qtbot.addWidget(w)
    for name in ("linear_probe", "full", "lora"):
        w.methods_page.check(name, False)
    w.revalidate()
    assert not w.is_valid() and any(p.startswith("Methods & training: Tick at least one method") for p in w.problems())


def test_learning_rate_sweep_off_and_factors(adapt):
    adapt.methods_page.lr_factors.setText("0.5, 2")
    adapt.revalidate()
    assert _study(adapt).training.lr_factors == [0.5, 2.0]
    adapt.methods_page.lr_sweep.setChecked(False)
    adapt.revalidate()
    assert _study(adapt).training.lr_sweep is False and not adapt.methods_page.lr_factors.isEnabled()


# --------------------------------------------------------------------------------------------
# target, shifts and forgetting


def test_domain_and_splits(adapt):
    tp = adapt.target_page
    tp.domain_combo.setCurrentIndex(tp.domain_combo.findData("rotate"))
    tp.domain_severity.setValue(2)
    adapt.revalidate()
    assert _study(adapt).target.domain == "rotate/2"
    tp.domain_combo.setCurrentIndex(0)
    tp.split_spins["train"].setValue(60)
    tp.split_spins["validation"].setValue(20)
    adapt.revalidate()
    study = _study(adapt)
    assert study.target.domain is None and (study.target.splits.train, study.target.splits.validation) == (0.6, 0.2)
    tp.split_spins["test"].setValue(30)
    adapt.revalidate()
    assert not adapt.is_valid()
    assert "add up to 110%" in tp.splits_note.text()


def test_the_target_page_speaks_for_the_target_table(adapt):
    tp = adapt.target_page
    assert tp.plain_title == "Choose the target" and not tp.split_combo.isVisibleTo(tp)
    tp.set_source("")
    adapt.revalidate()
    assert "Choose the target data" in tp.source_note.text()
    assert any(p.startswith("Target: Choose the target data") for p in adapt.problems())


def test_shifted_conditions_keep_the_files_order_and_add_new_ones(adapt):
    sp = adapt.shifts_page
    families = [sp.grid.verticalHeaderItem(r).text() for r in range(sp.grid.rowCount())]
    row = families.index("Defocus blur")
    sp.grid.item(row, 0).setCheckState(Qt.CheckState.Checked)
    adapt.revalidate()
    assert _study(adapt).shifted.conditions == ["gaussian_noise/3", "gaussian_blur/3", "defocus_blur/1"]
    assert "Blurs the image through a round lens" in sp.grid.item(row, 0).toolTip()


def test_tabular_target_offers_table_shifts(adapt):
    adapt.target_page.set_source("builtin:wine")
    assert adapt.target_page.modality() == "tabular"
    sp = adapt.shifts_page
    rows = [sp.grid.verticalHeaderItem(r).text() for r in range(sp.grid.rowCount())]
    assert rows[:3] == ["Feature noise", "Missing features", "Scale drift"]
    assert "Gaussian noise" in rows  # the study's own conditions stay until unticked
    domains = [adapt.target_page.domain_combo.itemData(i) for i in range(adapt.target_page.domain_combo.count())]
    assert "feature_noise" in domains


def test_forgetting_off_removes_the_source_table(adapt):
    adapt.shifts_page.source_check.setChecked(False)
    adapt.revalidate()
    assert "[source]" not in adapt.study_toml() and _study(adapt).source is None
    assert not adapt.shifts_page.source_box.isEnabled()


def test_base_model_choices(qtbot, fake, tmp_path):
    w = FinetuneWizard(fake.providers())
    qtbot.addWidget(w)
    bp = w.base_page
    bp.builtin_list.setCurrentRow(0)
    assert bp.source() == "builtin:digits-mlp"
    bp.hf_edit.setText("google/vit-base-patch16-224")
    bp.hf_button.click()
    assert bp.source() == "hf:google/vit-base-patch16-224"
    qtbot.waitUntil(lambda: "86M parameters" in bp.details.text(), timeout=5000)
    assert not bp.use_local_model(str(tmp_path / "model.pkl")) and "not a model Juxta can open" in bp.details.text()
    assert bp.source() == "hf:google/vit-base-patch16-224"
    w.revalidate()
    assert _study(w).base.source == "hf:google/vit-base-patch16-224"


# --------------------------------------------------------------------------------------------
# contrast


@pytest.fixture
def themed(qapp):
    from app import theme

    yield lambda name: theme.apply(qapp, name)
    theme.apply(qapp, "light")


@pytest.mark.parametrize("name", ["light", "dark"])
def test_every_page_reads_in_both_themes(qtbot, themed, adapt, name):
    themed(name)
    adapt.show()
    qtbot.waitExposed(adapt)
    problems, seen = [], []
    while True:
        page = adapt.currentPage()
        qtbot.wait(30)
        seen.append(page.plain_title)
        problems += [f"{page.plain_title}: {p}" for p in low_contrast(adapt)]
        if page is adapt.methods_page:  # a problem note on screen too
            adapt.methods_page.budget_edit("lora").setText("2, x")
            adapt.revalidate()
            problems += [f"{page.plain_title} with a problem: {p}" for p in low_contrast(adapt)]
            adapt.methods_page.budget_edit("lora").setText("2, 8")
            adapt.revalidate()
        if page is adapt.review_page:
            break
        adapt.next()
    assert len(seen) == len(adapt._pages)
    assert not problems, "\n".join(problems)
