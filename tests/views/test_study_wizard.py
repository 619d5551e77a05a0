"""The new-study wizard: pages, live validation, gallery, priors chart, models, round trips."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QWizard  # noqa: E402

from engine.errors import JuxtaError, StudyFileError  # noqa: E402
from engine.shift.catalog import CORRUPTION_DESCRIPTIONS, CORRUPTION_NAMES, SEVERITIES  # noqa: E402
from engine.study import parse_study_text  # noqa: E402
from views.providers import DatasetPreview, ModelChoice, StudyProviders  # noqa: E402
from views.study_wizard import StudyWizard, problem_section, study_counts  # noqa: E402
from tests.views.contrast import low_contrast  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "projects" / "digits-demo" / "robustness.study.toml"


def real_validate(text: str) -> list[str]:
    try:
        parse_study_text(text, "study.toml")
    except StudyFileError as exc:
        return list(exc.problems)
    return []


class Fake:
    """Fake engine behind StudyProviders; records calls."""

    def __init__(self, root: Path):
        self.root = root
        self.calls: list[tuple] = []
        self.rng = np.random.default_rng(0)

    def builtin_models(self):
        return [
            ModelChoice("builtin:digits-mlp", "MLP (digits)", "Two hidden layers.", 17_226),
            ModelChoice("builtin:digits-cnn", "CNN (digits)", "Three conv layers.", 56_714),
            ModelChoice("builtin:digits-vit", "ViT (digits)", "A tiny vision transformer.", 69_194),
        ]

    def builtin_datasets(self):
        return [ModelChoice("builtin:digits", "Digits", "8×8 digits."), ModelChoice("builtin:wine", "Wine", "A table.")]

    def describe_model(self, source):
        self.calls.append(("describe", source))
        if "offline" in source:
            raise JuxtaError(f"Model '{source}' is not in the local Hugging Face cache and the hub cannot be reached.")
        return {"architecture": "ViTForImageClassification", "n_params": 86_000_000,
                "class_names": [str(i) for i in range(10)], "modality": "image"}

    def preview_dataset(self, source, options):
        self.calls.append(("preview", source, dict(options)))
        if source == "builtin:wine" or source.startswith("csv:"):
            return DatasetPreview(source, "tabular", 178, ["a", "b", "c"], [59, 71, 48],
                                  [({"alcohol": 13.2, "ash": 2.4}, "a")] * 3)
        samples = [((self.rng.random((8, 8)) * 255).astype(np.uint8), str(i % 10)) for i in range(12)]
        return DatasetPreview(source, "image", 1797, [str(i) for i in range(10)], [180] * 10, samples)

    def corruption_gallery(self, source, options, names, severities):
        self.calls.append(("gallery", source, tuple(names), tuple(severities)))
        return {n: [np.full((8, 8), 20 * s, dtype=np.uint8) for s in range(len(severities) + 1)] for n in names}

    def providers(self) -> StudyProviders:
        return StudyProviders(self.builtin_models, self.builtin_datasets, self.describe_model, self.preview_dataset,
                              self.corruption_gallery, real_validate, lambda: str(self.root))


@pytest.fixture
def fake(tmp_path):
    return Fake(tmp_path)


@pytest.fixture
def wizard(qtbot, fake):
    w = StudyWizard(fake.providers(), existing_names=["robustness"])
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.data_page.preview is not None)
    return w


def finish(w):
    return w.button(QWizard.WizardButton.FinishButton)


def save_and_run(w):
    return w.button(QWizard.WizardButton.CustomButton1)


def go_to(w, qtbot, page):
    while w.currentPage() is not page:
        w.next()
    qtbot.wait(10)


# ------------------------------------------------------------------------------------------------


def test_walking_all_pages_builds_a_valid_study(qtbot, wizard, fake):
    w = wizard
    w.name_page.name_edit.setText("noisy-scans")
    w.name_page.title_edit.setText("Which model survives noise?")
    w.name_page.description_edit.setPlainText("Line one.\nLine two.")
    w.next()

    m = w.models_page
    m.check_builtin("builtin:digits-cnn")
    m.check_builtin("builtin:digits-mlp")
    m.hf_edit.setText("google/vit-base-patch16-224")
    qtbot.mouseClick(m.hf_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(m.model_rows()) == 3)
    assert [r.id for r in m.model_rows()] == ["cnn", "mlp", "vit-base-patch16-224"]
    assert "86M parameters" in m.model_rows()[2].info
    w.next()

    assert w.data_page.source() == "builtin:digits"
    w.next()

    c = w.conditions_page
    qtbot.waitUntil(lambda: c.gallery.image_count() == 6 * len(CORRUPTION_NAMES))
    c.gallery.checks["gaussian_noise"].setChecked(True)
    c.gallery.checks["rotate"].setChecked(True)
    c.severity_checks[4].setChecked(False)
    assert not c.add_alpha_button.isEnabled()  # label shift is off until ticked
    c.label_box.setChecked(True)
    c.set_alpha(0.3)
    qtbot.mouseClick(c.add_alpha_button, Qt.MouseButton.LeftButton)
    c.set_alpha(3.0)
    qtbot.mouseClick(c.add_alpha_button, Qt.MouseButton.LeftButton)
    c.tweak_edit.setText("0.5")
    w.next()

    s = w.seeds_page
    s.seeds_edit.setText("0, 1, 7")
    s.metric_checks["ece"].setChecked(False)
    s.bootstrap.setValue(500)
    s.backend.setCurrentIndex(s.backend.findData("sequential"))
    w.next()

    assert w.currentPage() is w.review_page
    qtbot.waitUntil(lambda: w.is_valid())
    assert finish(w).isEnabled() and save_and_run(w).isEnabled()
    assert "Valid" in w.review_page.status.text()

    text = w.study_toml()
    assert w.review_page.toml_view.toPlainText() == text
    study = parse_study_text(text)
    assert study.name == "noisy-scans" == w.study_name()
    assert study.study.description == "Line one.\nLine two."
    assert [(x.id, x.source) for x in study.models] == [
        ("cnn", "builtin:digits-cnn"), ("mlp", "builtin:digits-mlp"),
        ("vit-base-patch16-224", "hf:google/vit-base-patch16-224")]
    assert study.data.source == "builtin:digits" and study.data.split == "test"
    assert study.shift.corruptions == ["gaussian_noise", "rotate"]
    assert study.shift.severities == [1, 2, 3, 5]
    assert study.shift.label_shift.dirichlet_alpha == [0.3, 3.0]
    assert study.shift.label_shift.tweak_one == [0.5]
    assert study.study.seeds == [0, 1, 7]
    assert "ece" not in study.metrics.names and study.metrics.bootstrap == 500
    assert study.execution.backend == "sequential"

    saved, runs = [], []
    w.accepted.connect(lambda: saved.append(w.study_toml()))
    w.runRequested.connect(runs.append)
    qtbot.mouseClick(save_and_run(w), Qt.MouseButton.LeftButton)
    assert saved == [text] and runs == ["noisy-scans"] and w.run_after_save


def test_save_button_accepts_only_when_valid(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
    go_to(w, qtbot, w.review_page)
    qtbot.waitUntil(lambda: finish(w).isEnabled())
    with qtbot.waitSignal(w.accepted, timeout=1000):
        qtbot.mouseClick(finish(w), Qt.MouseButton.LeftButton)


def test_removing_all_models_disables_save_and_shows_a_message(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
    go_to(w, qtbot, w.review_page)
    qtbot.waitUntil(lambda: w.is_valid())
    w.models_page.remove_all()
    qtbot.waitUntil(lambda: not w.is_valid())
    assert not finish(w).isEnabled() and not save_and_run(w).isEnabled()
    assert "'models' is required" in w.review_page.status.text()
    problems = w.models_page.problems_label
    assert not problems.isHidden() and "Add at least one model" in problems.text()
    w.models_page.check_builtin("builtin:digits-mlp")
    qtbot.waitUntil(lambda: w.is_valid())
    assert finish(w).isEnabled() and save_and_run(w).isEnabled()
    assert w.models_page.problems_label.isHidden()


def test_invalid_or_taken_name_disables_save(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
    go_to(w, qtbot, w.review_page)
    qtbot.waitUntil(lambda: w.is_valid())
    w.name_page.name_edit.setText("my study")
    qtbot.waitUntil(lambda: not finish(w).isEnabled())
    assert not save_and_run(w).isEnabled()
    assert "The name 'my study' cannot be used" in w.name_page.problems_label.text()
    assert problem_section(w.problems()[0]) == "name"
    w.name_page.name_edit.setText("robustness")  # already in the project
    qtbot.waitUntil(lambda: "already exists" in w.name_page.problems_label.text())
    assert not finish(w).isEnabled()
    w.name_page.name_edit.setText("robustness-2")
    qtbot.waitUntil(lambda: finish(w).isEnabled())


def test_duplicate_model_names_are_reported_on_the_models_page(qtbot, wizard):
    w = wizard
    m = w.models_page
    m.check_builtin("builtin:digits-cnn")
    m.check_builtin("builtin:digits-mlp")
    m.table.item(1, 0).setText("cnn")
    qtbot.waitUntil(lambda: "used twice" in m.problems_label.text())
    assert not m.problems_label.isHidden()
    assert not w.is_valid()


def test_gallery_shows_the_clean_image_and_every_severity(qtbot, wizard, fake):
    w = wizard
    go_to(w, qtbot, w.conditions_page)
    g = w.conditions_page.gallery
    qtbot.waitUntil(lambda: g.image_count() == len(CORRUPTION_NAMES) * (1 + len(SEVERITIES)))
    assert all(len(row) == 6 for row in g.images.values())
    call = next(c for c in fake.calls if c[0] == "gallery")
    assert call[1] == "builtin:digits" and call[2] == CORRUPTION_NAMES and call[3] == SEVERITIES
    check = g.checks["motion_blur"]
    assert check.toolTip() == CORRUPTION_DESCRIPTIONS["motion_blur"] and check.accessibleName()
    thumb = g.images["motion_blur"][3]
    assert thumb.accessibleName() == "Motion blur, severity 3"
    assert thumb.pixmap().width() > 8 * 4  # 8×8 enlarged, not drawn at its tiny size


def test_gallery_placeholder_until_ready_then_cached(qtbot, fake):
    import threading

    gate = threading.Event()
    real = fake.corruption_gallery

    def slow(*args):
        gate.wait(5)
        return real(*args)

    providers = fake.providers()
    providers.corruption_gallery = slow
    w = StudyWizard(providers)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.data_page.preview is not None)
    go_to(w, qtbot, w.conditions_page)
    g = w.conditions_page.gallery
    assert g.image_count() == 0 and not w.conditions_page.gallery_busy.isHidden()
    gate.set()
    qtbot.waitUntil(lambda: g.image_count() == 6 * len(CORRUPTION_NAMES))
    assert w.conditions_page.gallery_busy.isHidden()


def test_alpha_slider_redraws_the_priors(qtbot, wizard):
    w = wizard
    go_to(w, qtbot, w.conditions_page)
    c = w.conditions_page
    c.set_alpha(100.0)
    flat = c.priors_chart.heights()
    assert len(flat) == 10 and flat.sum() == pytest.approx(1.0)
    c.set_alpha(0.1)
    peaked = c.priors_chart.heights()
    assert peaked.sum() == pytest.approx(1.0)
    assert not np.allclose(flat, peaked) and peaked.max() > flat.max()
    assert c.alpha() == 0.1 and "0.1" in c.alpha_value.text()
    expected = np.random.default_rng(0).dirichlet(0.1 * np.ones(10))
    assert np.allclose(peaked, expected)  # seed = the first study seed
    before = c.priors_chart.heights()
    c.label_box.setChecked(True)
    c.alpha_slider.setFocus()
    qtbot.keyClick(c.alpha_slider, Qt.Key.Key_Right)  # the keyboard moves it too
    assert not np.allclose(before, c.priors_chart.heights())
    w.seeds_page.seeds_edit.setText("5, 6")
    assert np.allclose(c.priors_chart.heights(), np.random.default_rng(5).dirichlet(c.alpha() * np.ones(10)))
    assert "seed 5" in c.priors_caption.text()


def test_hub_model_that_cannot_be_described_is_not_added(qtbot, wizard):
    m = wizard.models_page
    m.hf_edit.setText("offline/model")
    qtbot.keyClick(m.hf_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Could not add" in m.add_status.text())
    assert "not in the local Hugging Face cache" in m.add_status.text()
    assert not m.add_status.isHidden()
    assert m.model_rows() == [] and m.hf_button.isEnabled()


def test_dropping_a_local_model_adds_a_file_source(qtbot, wizard, fake, tmp_path):
    w = wizard
    go_to(w, qtbot, w.models_page)
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "my net.safetensors"
    model.write_bytes(b"\0" * 16)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(model))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(w, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(w, drop)
    qtbot.waitUntil(lambda: len(w.models_page.model_rows()) == 1)
    row = w.models_page.model_rows()[0]
    assert row.source == "file:models/my net.safetensors"  # relative to the project root
    assert row.id == "my-net"
    assert ("describe", "file:models/my net.safetensors") in fake.calls


def test_local_models_that_cannot_work_are_refused_with_a_message(qtbot, wizard, tmp_path):
    m = wizard.models_page
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    m.add_local_model(str(folder))
    assert "config.json" in m.add_status.text()
    pickle = tmp_path / "m.pkl"
    pickle.write_bytes(b"x")
    m.add_local_model(str(pickle))
    assert "pickle" in m.add_status.text()
    hf_folder = tmp_path / "hf-model"
    hf_folder.mkdir()
    (hf_folder / "config.json").write_text("{}")
    m.add_local_model(str(hf_folder))
    qtbot.waitUntil(lambda: len(m.model_rows()) == 1)
    assert m.model_rows()[0].source == "file:hf-model"
    outside = tmp_path.parent / "elsewhere.safetensors"
    outside.write_bytes(b"x")
    m.add_local_model(str(outside))
    qtbot.waitUntil(lambda: len(m.model_rows()) == 2)
    assert m.model_rows()[1].source == f"file:{outside.resolve().as_posix()}"


def test_from_toml_round_trips_the_demo_study_exactly(qtbot, fake):
    text = DEMO.read_text(encoding="utf-8")
    w = StudyWizard.from_toml(text, fake.providers())
    qtbot.addWidget(w)
    assert w.study_toml() == text  # comments and formatting kept when nothing changed
    assert w.is_valid()
    assert [r.id for r in w.models_page.model_rows()] == ["mlp", "cnn", "vit"]
    assert w.conditions_page.label_box.isChecked()
    assert w.name_page.name_edit.text() == "robustness"
    w.conditions_page.gallery.checks["fog"].setChecked(False)
    edited = parse_study_text(w.study_toml())
    assert "fog" not in edited.shift.corruptions
    assert w.study_toml().startswith("# Which digits model survives")


FULL = '''schema_version = 1

[study]
name = "full"
kind = "shift"
title = "Everything"
seeds = [3, 4]

[[models]]
id = "cnn"
source = "builtin:cnn"
train = { epochs = 5, lr = 0.01 }

[[models]]
id = "vit"
source = "hf:google/vit-base-patch16-224@main"
trust_remote_code = false

[data]
source = "csv:data/table.csv"
split = "validation"
splits = { train = 0.6, validation = 0.2, test = 0.2 }
split_seed = 4
label_column = "y"
group_column = "site"
max_examples = 500
feature_columns = ["a", "b"]

[shift]
clean = false
tabular = ["feature_noise", "scale_drift"]
severities = [2, 4]
label_shift = { imbalance_ratio = [10.0] }
group_shift = { shares = [0.1, 0.5], groups = ["north"] }
[[shift.field]]
id = "phone"
source = "folder:data/phone"

[metrics]
names = ["accuracy", "nll", "worst_group_accuracy"]
bootstrap = 200
level = 0.9

[execution]
backend = "dask"
workers = 4
address = "tcp://scheduler:8786"
device = "cpu"
batch_size = 64
'''


def test_from_toml_round_trips_every_section(qtbot, fake):
    w = StudyWizard.from_toml(FULL, fake.providers())
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.data_page.preview is not None)
    assert w.data_page.modality() == "tabular"
    again = parse_study_text(w.study_toml())
    assert again.model_dump() == parse_study_text(FULL).model_dump()
    assert w.data_page.columns_box.isVisibleTo(w.data_page)
    assert w.conditions_page.group_box.isVisibleTo(w.conditions_page)
    # a second round trip is stable
    w2 = StudyWizard.from_toml(w.study_toml(), fake.providers())
    qtbot.addWidget(w2)
    assert w2.study_toml() == w.study_toml()


def test_from_toml_rejects_text_that_is_not_toml(fake):
    with pytest.raises(StudyFileError):
        StudyWizard.from_toml("[study\nname = ", fake.providers())


def test_table_data_offers_table_shifts_not_the_gallery(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-mlp")
    w.data_page.set_source("builtin:wine")
    qtbot.waitUntil(lambda: w.data_page.preview is not None and w.data_page.preview.modality == "tabular")
    go_to(w, qtbot, w.conditions_page)
    c = w.conditions_page
    assert c.left_stack.currentIndex() == 1
    c.tabular_list.checks["feature_noise"].setChecked(True)
    c.gallery.checks["fog"].setChecked(True)  # kept in memory, not written for table data
    study = parse_study_text(w.study_toml())
    assert study.shift.tabular == ["feature_noise"] and study.shift.corruptions == []
    assert w.data_page.samples_stack.currentIndex() == 1
    assert w.data_page.samples_table.rowCount() == 3


def test_dataset_preview_shows_samples_and_class_balance(qtbot, wizard):
    d = wizard.data_page
    assert len(d.thumbnails) == 12
    assert list(d.balance_chart.heights()) == [180.0] * 10
    assert "1,797" in d.rows_label.text() and "10" in d.rows_label.text()


def test_no_condition_at_all_is_a_problem_on_the_conditions_page(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
    w.conditions_page.clean_check.setChecked(False)
    qtbot.waitUntil(lambda: not w.conditions_page.problems_label.isHidden())
    assert "at least one condition" in w.conditions_page.problems_label.text()
    assert not w.is_valid()
    w.conditions_page.label_box.setChecked(True)
    w.conditions_page.alpha_edit.setText("1, x")
    qtbot.waitUntil(lambda: "'x' is not a number" in w.conditions_page.problems_label.text())


def test_bad_seeds_are_reported_on_the_seeds_page(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
    w.seeds_page.seeds_edit.setText("0, 0")
    qtbot.waitUntil(lambda: "seeds must not repeat" in w.seeds_page.problems_label.text())
    w.seeds_page.seeds_edit.setText("zero")
    qtbot.waitUntil(lambda: "not a number" in w.seeds_page.problems_label.text())
    w.seeds_page.seed_count.setValue(4)
    assert w.seeds_page.seeds_edit.text() == "0, 1, 2, 3"
    qtbot.waitUntil(lambda: w.is_valid())


def _tab_chain(qtbot, start, steps=40):
    start.setFocus()
    seen = []
    for _ in range(steps):
        widget = QApplication.focusWidget()
        seen.append(widget)
        qtbot.keyClick(widget, Qt.Key.Key_Tab)
    return seen


def test_keyboard_reaches_the_main_controls(qtbot, wizard):
    w = wizard
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    n = w.name_page
    chain = _tab_chain(qtbot, n.name_edit, 10)
    assert {n.name_edit, n.title_edit, n.description_edit, w.button(QWizard.WizardButton.NextButton)} <= set(chain)
    w.next()
    m = w.models_page
    chain = _tab_chain(qtbot, m.builtin_list, 16)
    assert {m.builtin_list, m.add_file_button, m.hf_edit, m.hf_button, m.table} <= set(chain)
    w.next()
    d = w.data_page
    chain = _tab_chain(qtbot, d.builtin_combo, 16)
    assert {d.builtin_combo, d.folder_button, d.table_button, d.hf_edit, d.split_combo} <= set(chain)
    w.next()
    c = w.conditions_page
    chain = _tab_chain(qtbot, c.clean_check, 40)
    assert {c.clean_check, c.severity_checks[1], c.gallery.checks["gaussian_noise"], c.label_box} <= set(chain)
    c.label_box.setChecked(True)
    chain = _tab_chain(qtbot, c.label_box, 8)
    assert {c.alpha_slider, c.add_alpha_button, c.alpha_edit} <= set(chain)
    w.next()
    s = w.seeds_page
    chain = _tab_chain(qtbot, s.seed_count, 20)
    assert {s.seed_count, s.seeds_edit, s.metric_checks["ece"], s.bootstrap, s.backend} <= set(chain)


def test_custom_widgets_have_accessible_names(wizard):
    w = wizard
    for widget in (w.data_page.balance_chart, w.conditions_page.priors_chart, w.conditions_page.gallery,
                   w.models_page.table, w.models_page.builtin_list, w.conditions_page.alpha_slider,
                   *w.data_page.thumbnails):
        assert widget.accessibleName()
    assert "0:" in w.data_page.balance_chart.accessibleDescription()


def test_problem_routing_and_counts():
    assert problem_section("line 5: 'study.name' is 'a b'; use letters") == "name"
    assert problem_section("line 9: study.seeds: seeds must not repeat.") == "seeds"
    assert problem_section("'models' needs at least 1 entry.") == "models"
    assert problem_section("model id 'x' is used twice; every [[models]] entry needs its own id.") == "models"
    assert problem_section("line 20: shift.severities: severity 6 is outside 1–5") == "conditions"
    assert problem_section("unknown key 'colour' in [metrics]; expected one of names") == "seeds"
    assert problem_section("line 3: 'data.source' is required but missing.") == "data"
    assert problem_section("is not valid TOML: oops") == "review"
    import tomllib

    counts = study_counts(tomllib.loads(DEMO.read_text(encoding="utf-8")))
    assert (counts["models"], counts["conditions"], counts["seeds"]) == (3, 64, 3)
    assert counts["eval_cells"] == 576 and counts["train_cells"] == 9  # as `juxta validate` reports


def test_corruption_descriptions_cover_the_catalogue():
    assert tuple(CORRUPTION_DESCRIPTIONS) == CORRUPTION_NAMES
    assert all(d.endswith(".") for d in CORRUPTION_DESCRIPTIONS.values())
    torch_corruptions = pytest.importorskip("engine.shift.corruptions")
    assert {k: v.description for k, v in torch_corruptions.CORRUPTIONS.items()} == CORRUPTION_DESCRIPTIONS


# -- theme: every text readable in light and dark (issue 8, item 3) ------------------------------


@pytest.fixture
def themed(qapp):
    """Apply a theme by name the way the app does; the light theme is put back afterwards."""
    from app import theme

    yield lambda name: theme.apply(qapp, name)
    theme.apply(qapp, "light")


def _page_contrast(w, qtbot) -> list[str]:
    qtbot.wait(30)
    return [f"{w.currentPage().plain_title}: {p}" for p in low_contrast(w)]


def test_every_text_on_every_page_reads_at_aa_contrast_in_both_themes(qtbot, wizard, themed):
    w = wizard
    m = w.models_page
    m.check_builtin("builtin:digits-cnn")
    m.check_builtin("builtin:digits-mlp")
    m.table.item(1, 0).setText("cnn")  # a clashing name is drawn in the error colour
    w.conditions_page.label_box.setChecked(True)
    w.conditions_page.tweak_edit.setText("1.5")
    problems: list[str] = []
    themed("light")
    while True:  # forward in light, built in light
        problems += _page_contrast(w, qtbot)
        if w.currentPage() is w.review_page:
            break
        w.next()
    themed("dark")  # the same wizard after a theme switch: nothing may keep a light colour
    while True:
        problems += ["dark: " + p for p in _page_contrast(w, qtbot)]
        if w.currentPage() is w.name_page:
            break
        w.back()
    m.table.item(1, 0).setText("mlp")
    w.conditions_page.tweak_edit.setText("0.5")
    go_to(w, qtbot, w.review_page)
    qtbot.waitUntil(lambda: w.is_valid())
    problems += ["dark, valid: " + p for p in _page_contrast(w, qtbot)]
    assert not problems, "\n".join(problems)


def test_the_wizard_writes_no_colour_of_its_own():
    """Colours come from views.theme only: no hex literal, named colour or per-widget style sheet."""
    import re

    sources = [ROOT / "views" / "study_wizard.py", *sorted((ROOT / "views" / "wizard").glob("*.py"))]
    pattern = re.compile(r"#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?(?:[0-9A-Fa-f]{2})?\b|setStyleSheet|background=\"w\"")
    found = [f"{p.name}:{i}: {line.strip()}" for p in sources
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not found, "\n".join(found)


def test_shift_names_come_from_the_catalog(qtbot, wizard):
    """One display name per condition (engine.shift.catalog), the same as the results page and report."""
    from engine.shift.catalog import TABULAR_SHIFT_NAMES, TEXT_SHIFT_NAMES, condition_label, family_label

    c = wizard.conditions_page
    for name in CORRUPTION_NAMES:
        assert c.gallery.checks[name].text().lower() == family_label(name).lower()
    assert c.gallery.checks["contrast"].text() == "Reduced contrast"  # not "Contrast"
    assert c.gallery.images["pixelate"][2].accessibleName() == "Pixelation, severity 2"
    assert [b.text().lower() for b in c.tabular_list.checks.values()] == [family_label(n) for n in TABULAR_SHIFT_NAMES]
    assert [b.text().lower() for b in c.text_list.checks.values()] == [family_label(n) for n in TEXT_SHIFT_NAMES]
    c.set_corruptions(["contrast", "invert"])
    c.label_box.setChecked(True)
    c.alpha_edit.setText("0.3")
    c.imbalance_edit.setText("10")
    summary = wizard.summary_html()
    assert "reduced contrast, colour inversion" in summary
    assert condition_label("dirichlet/0.3") in summary and condition_label("imbalance/10") in summary
