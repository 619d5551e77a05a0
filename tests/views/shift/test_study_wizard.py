"""The new-study wizard: pages, live validation, gallery, priors chart, models, round trips."""

from __future__ import annotations



from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QWizard  # noqa: E402

from engine.core.errors import JuxtaError, StudyFileError  # noqa: E402
from engine.conditions.catalog import CORRUPTION_DESCRIPTIONS, CORRUPTION_NAMES, SEVERITIES  # noqa: E402
from engine.kinds import parse_study_text  # noqa: E402
from views.providers import DatasetPreview, ModelChoice, StudyProviders  # noqa: E402
from views.kinds.shift.wizard.study_wizard import StudyWizard, page_of  # noqa: E402
from tests.views.contrast import low_contrast  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
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
        if "broken" in source:
            raise JuxtaError(f"Dataset '{source}' has zero rows: no image files found under broken.")
        if source == "builtin:wine" or source.startswith(("csv:", "parquet:")):
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
    """Press Next until ``page`` (a page with problems refuses to be left: then this fails)."""
    while w.currentPage() is not page:
        before = w.currentPage()
        w.next()
        assert w.currentPage() is not before, f"Next refused on {before.plain_title}: {before.problems()}"
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
    assert "Models: Add at least one model" in w.review_page.status.text()
    note = w.models_page.models_note
    assert "Add at least one model" in note.text()
    w.models_page.check_builtin("builtin:digits-mlp")
    qtbot.waitUntil(lambda: w.is_valid())
    assert finish(w).isEnabled() and save_and_run(w).isEnabled()
    assert note.text() == ""


def test_invalid_or_taken_name_disables_save(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
    go_to(w, qtbot, w.review_page)
    qtbot.waitUntil(lambda: w.is_valid())
    w.name_page.name_edit.setText("my study")
    qtbot.waitUntil(lambda: not finish(w).isEnabled())
    assert not save_and_run(w).isEnabled()
    assert "This name cannot be used" in w.name_page.file_label.text()
    assert w.problems()[0].startswith("Name: ")
    w.name_page.name_edit.setText("robustness")  # already in the project
    qtbot.waitUntil(lambda: "already exists" in w.name_page.file_label.text())
    assert not finish(w).isEnabled()
    w.name_page.name_edit.setText("robustness-2")
    qtbot.waitUntil(lambda: finish(w).isEnabled())


def test_a_model_cannot_be_renamed_to_another_models_name(qtbot, wizard):
    w = wizard
    m = w.models_page
    m.check_builtin("builtin:digits-cnn")
    m.check_builtin("builtin:digits-mlp")
    m.table.item(1, 0).setText("cnn")
    qtbot.waitUntil(lambda: "“cnn” is already the name of another model" in m.models_note.text())
    assert m.table.item(1, 0).text() == "mlp"  # the name is kept, and the note says why
    assert m.model_ids() == ["cnn", "mlp"]
    qtbot.waitUntil(lambda: w.is_valid())
    m.table.item(1, 0).setText("my mlp")  # not a usable name: the engine's sentence, in the table's words
    qtbot.waitUntil(lambda: not w.is_valid())
    assert m.models_note.text().startswith("The name is")
    assert "models[1].id" not in m.models_note.text()


def test_gallery_shows_the_clean_image_and_every_severity(qtbot, wizard, fake):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
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
    w.models_page.check_builtin("builtin:digits-cnn")
    go_to(w, qtbot, w.conditions_page)
    g = w.conditions_page.gallery
    assert g.image_count() == 0 and not w.conditions_page.gallery_busy.isHidden()
    gate.set()
    qtbot.waitUntil(lambda: g.image_count() == 6 * len(CORRUPTION_NAMES))
    assert w.conditions_page.gallery_busy.isHidden()


def test_alpha_slider_redraws_the_priors(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
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
    (fake.root / "data").mkdir()
    (fake.root / "data" / "table.csv").write_text("a,b,y,site\n1,2,p,north\n3,4,q,south\n")
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
    qtbot.waitUntil(lambda: "at least one condition" in w.conditions_page.page_note.text())
    assert not w.is_valid()
    w.conditions_page.label_box.setChecked(True)
    w.conditions_page.alpha_edit.setText("1, x")
    qtbot.waitUntil(lambda: "'x' is not a number" in w.conditions_page.alpha_note.text())


def test_bad_seeds_are_reported_on_the_seeds_page(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
    w.seeds_page.seeds_edit.setText("0, 0")
    qtbot.waitUntil(lambda: "Seeds must not repeat" in w.seeds_page.seeds_note.text())
    w.seeds_page.seeds_edit.setText("zero")
    qtbot.waitUntil(lambda: "not a number" in w.seeds_page.seeds_note.text())
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
    w.models_page.check_builtin("builtin:digits-cnn")
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
    c.label_box.setChecked(False)  # on without values, it would keep the page from being left
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


def test_problem_routing_by_key_path():
    assert page_of(("study", "name")) == "name"
    assert page_of(("study", "seeds", 1)) == "seeds"
    assert page_of(("models",)) == "models" == page_of(("models", 1, "id"))
    assert page_of(("shift", "severities")) == "conditions"
    assert page_of(("metrics", "colour")) == "seeds" == page_of(("execution", "workers"))
    assert page_of(("data", "source")) == "data"
    assert page_of(()) == "review" == page_of(("schema_version",))


def test_review_says_the_planned_work_in_the_kinds_own_words(qtbot, fake):
    """The wizard re-derived counts from the TOML (``study_counts``); it now shows the kind's describe()."""
    w = StudyWizard.from_toml(DEMO.read_text(encoding="utf-8"), fake.providers())
    qtbot.addWidget(w)
    w.revalidate()
    assert w.is_valid()
    status = w.review_page.status.text()
    assert "3 models × 64 conditions × 3 seeds = 576 evaluation cells, plus 9 training runs" in status


def test_corruption_descriptions_cover_the_catalogue():
    assert tuple(CORRUPTION_DESCRIPTIONS) == CORRUPTION_NAMES
    assert all(d.endswith(".") for d in CORRUPTION_DESCRIPTIONS.values())
    torch_corruptions = pytest.importorskip("engine.conditions.corruptions")
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
    m, c = w.models_page, w.conditions_page
    m.check_builtin("builtin:digits-cnn")
    m.check_builtin("builtin:digits-mlp")
    m.add_status.say("Could not add hf:x: offline.", "error")
    c.label_box.setChecked(True)
    problems: list[str] = []
    themed("light")
    while True:  # forward in light, built in light
        if w.currentPage() is c:  # a problem next to a field, in the error tone
            c.tweak_edit.setText("1.5")
            w.revalidate()
            assert c.tweak_note.text()
        problems += _page_contrast(w, qtbot)
        if w.currentPage() is w.review_page:
            break
        c.tweak_edit.setText("0.5")
        go_to(w, qtbot, w.page(w.currentId() + 1))
    themed("dark")  # the same wizard after a theme switch: nothing may keep a light colour
    m.table.item(1, 0).setText("my mlp")  # a bad name is drawn in the error colour
    c.tweak_edit.setText("1.5")
    w.revalidate()
    while True:
        problems += ["dark: " + p for p in _page_contrast(w, qtbot)]
        if w.currentPage() is w.name_page:
            break
        w.back()
    m.table.item(1, 0).setText("mlp")
    c.tweak_edit.setText("0.5")
    go_to(w, qtbot, w.review_page)
    qtbot.waitUntil(lambda: w.is_valid())
    problems += ["dark, valid: " + p for p in _page_contrast(w, qtbot)]
    assert not problems, "\n".join(problems)


def test_the_wizard_writes_no_colour_of_its_own():
    """Colours come from views.theme only: no hex literal, named colour or per-widget style sheet."""
    import re

    sources = [*sorted((ROOT / "views" / "kinds" / "shift" / "wizard").glob("*.py")), *sorted((ROOT / "views" / "wizard").glob("*.py"))]
    assert len(sources) > 10
    pattern = re.compile(r"#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?(?:[0-9A-Fa-f]{2})?\b|setStyleSheet|background=\"w\"")
    found = [f"{p.name}:{i}: {line.strip()}" for p in sources
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not found, "\n".join(found)


def test_shift_names_come_from_the_catalog(qtbot, wizard):
    """One display name per condition (engine.conditions.catalog), the same as the results page and report."""
    from engine.conditions.catalog import TABULAR_SHIFT_NAMES, TEXT_SHIFT_NAMES, condition_label, family_label

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


# -- messages next to their fields, in the field's words (issue 8, items 10 and 18) ------------------


def test_a_range_problem_shows_under_its_field_in_the_fields_words_and_clears_when_fixed(qtbot, wizard):
    w = wizard
    w.models_page.check_builtin("builtin:digits-cnn")
    go_to(w, qtbot, w.conditions_page)
    c = w.conditions_page
    c.label_box.setChecked(True)
    c.tweak_edit.setText("1.5")
    qtbot.waitUntil(lambda: bool(c.tweak_note.text()))
    note = c.tweak_note.text()
    assert note == "ρ must be more than 0 and less than 1 (got 1.5)."
    for jargon in ("shift.label_shift", "tweak_one", "tweak-one", "lt 1.0", "expected a value"):
        assert jargon not in note and all(jargon not in p for p in w.problems())
    assert c.page_note.text() == "" and c.alpha_note.text() == ""  # next to its own field only
    assert "Conditions: ρ must be more than 0 and less than 1 (got 1.5)." in w.problems()
    assert c.tweak_note.property("tone") == "error"  # the person typed it
    c.tweak_edit.setText("0.5")
    qtbot.waitUntil(lambda: c.tweak_note.text() == "")
    assert w.problems() == []


def test_seed_problems_show_under_the_seeds_and_clear(qtbot, wizard):
    s = wizard.seeds_page
    s.seeds_edit.setText("0, 0")
    qtbot.waitUntil(lambda: s.seeds_note.text() == "Seeds must not repeat.")
    assert "study.seeds" not in " ".join(wizard.problems())
    s.seeds_edit.setText("0, 1")
    qtbot.waitUntil(lambda: s.seeds_note.text() == "")


def _write_csv(root: Path, name: str, text: str | bytes) -> str:
    path = root / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return f"csv:{name}"


def _items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def test_csv_column_pickers_list_the_files_columns(qtbot, wizard, fake):
    d = wizard.data_page
    source = _write_csv(fake.root, "flowers.csv", "sepal,petal,species,site\n5.1,3.5,a,x\n4.9,3.0,b,y\n")
    d.set_source(source)
    qtbot.waitUntil(lambda: "no column" in d.columns_note.text())
    assert _items(d.label_column) == ["sepal", "petal", "species", "site"]
    assert _items(d.text_column)[1:] == _items(d.group_column)[1:] == ["sepal", "petal", "species", "site"]
    # the default class column "label" is not in this file: said under the pickers, no preview attempted
    assert d.columns_note.text() == "flowers.csv has no column “label”: choose the class column from the list."
    assert not any(c[0] == "preview" and c[1] == source for c in fake.calls)
    assert d.balance_chart.isHidden() and "columns are chosen" in d.rows_label.text()
    d.label_column.setCurrentIndex(d.label_column.findText("species"))
    qtbot.waitUntil(lambda: d.preview is not None)
    assert ("preview", source, {"label_column": "species"}) in fake.calls
    qtbot.waitUntil(lambda: "no column" not in d.columns_note.text())
    assert not d.balance_chart.isHidden()


def test_parquet_columns_are_listed_too(qtbot, wizard, fake):
    import pandas as pd

    pd.DataFrame({"x1": [1.0, 2.0], "label": [0, 1]}).to_parquet(fake.root / "t.parquet")
    d = wizard.data_page
    d.set_source("parquet:t.parquet")
    qtbot.waitUntil(lambda: d.columns is not None)
    assert _items(d.label_column) == ["x1", "label"]
    qtbot.waitUntil(lambda: d.preview is not None)  # "label" is there: the preview is read


@pytest.mark.parametrize("content, words", [
    ("5.1,3.5,1.4\n4.9,3.0,1.4\n", "holds values (5.1, 3.5, 1.4), not column names: add a header line"),
    (b"\xff\xfe\x00\x81\x00\x9d", "is not a text file in UTF-8"),
    ("", "is empty"),
])
def test_a_csv_without_a_header_or_unreadable_gets_a_plain_message(qtbot, wizard, fake, content, words):
    d = wizard.data_page
    d.set_source(_write_csv(fake.root, "bad.csv", content))
    qtbot.waitUntil(lambda: words in d.columns_note.text())
    assert bool(d.columns_error) and d.columns_note.text().startswith(("The first line of bad.csv", "bad.csv"))
    assert "Traceback" not in d.columns_note.text() and "Error:" not in d.columns_note.text()
    assert _items(d.label_column) == [] and not wizard.is_valid()
    assert d.balance_chart.isHidden() and "could not be read" in d.rows_label.text()


def test_a_failed_dataset_hides_the_chart_and_says_why(qtbot, wizard):
    d = wizard.data_page
    assert not d.balance_chart.isHidden()  # digits: a preview and its chart
    d.set_source("folder:broken")
    qtbot.waitUntil(lambda: bool(d.preview_error))
    assert d.balance_chart.isHidden() and d.balance_caption.isHidden() and d.samples_stack.isHidden()
    assert d.rows_label.text().startswith("Could not open the data: Dataset 'folder:broken' has zero rows")
    assert d.rows_label.property("tone") == "error"
    d.set_source("builtin:digits")
    qtbot.waitUntil(lambda: d.preview is not None)
    assert not d.balance_chart.isHidden() and d.rows_label.property("tone") == ""


def test_an_invalid_name_is_said_under_the_name_and_the_hint_says_it_cannot_be_used(qtbot, wizard):
    n = wizard.name_page
    assert n.file_label.text().startswith("Saved as <b>shift-study.study.toml</b>")
    n.name_edit.setText("my study")
    qtbot.waitUntil(lambda: "cannot be used" in n.file_label.text())
    text = n.file_label.text()
    assert text.startswith("This name cannot be used. The study name is \"my study\"") and "Saved as" not in text
    assert n.file_label.property("tone") == "error" and n.page_note.text() == ""
    assert n.file_label.y() > n.name_edit.y()  # right under the field
    n.name_edit.setText("my-study")
    qtbot.waitUntil(lambda: n.file_label.text().startswith("Saved as <b>my-study.study.toml</b>"))
    assert n.file_label.property("tone") == "muted"


def test_no_models_is_a_neutral_hint_until_the_person_acts(qtbot, wizard):
    w = wizard
    go_to(w, qtbot, w.models_page)
    m = w.models_page
    assert "Add at least one model" in m.models_note.text()
    assert m.models_note.property("tone") == "muted"  # nothing done yet: not an error
    w.next()  # trying to go on: refused, and now it reads as an error
    assert w.currentPage() is m
    assert m.models_note.property("tone") == "error"


def test_no_models_turns_into_an_error_once_the_page_was_touched(qtbot, wizard):
    m = wizard.models_page
    m.check_builtin("builtin:digits-cnn")
    m.check_builtin("builtin:digits-cnn", False)
    qtbot.waitUntil(lambda: m.models_note.property("tone") == "error")
    assert "Add at least one model" in m.models_note.text()


def test_messages_appearing_do_not_move_the_page(qtbot, wizard):
    """Notes keep their room, empty or not: nothing below a message moves when it appears or goes."""
    w = wizard
    n = w.name_page
    before = n.title_edit.geometry()
    n.name_edit.setText("my study")
    qtbot.waitUntil(lambda: "cannot be used" in n.file_label.text())
    qtbot.wait(20)
    assert n.title_edit.geometry() == before
    n.name_edit.setText("robustness")
    qtbot.waitUntil(lambda: "already exists" in n.file_label.text())
    qtbot.wait(20)
    assert n.title_edit.geometry() == before
    w.models_page.check_builtin("builtin:digits-cnn")
    n.name_edit.setText("ok-name")
    go_to(w, qtbot, w.models_page)
    m = w.models_page
    below = m.remove_button.geometry()
    m.remove_all()
    qtbot.waitUntil(lambda: "Add at least one model" in m.models_note.text())
    qtbot.wait(20)
    assert m.remove_button.geometry() == below
    m.check_builtin("builtin:digits-cnn")
    status_below = m.hf_button.geometry()
    m.add_status.say("Could not add hf:a/b: Model 'hf:a/b' is not in the local Hugging Face cache and the hub "
                     "cannot be reached; connect once to download it, or use a local folder.", "error")
    qtbot.wait(20)
    assert m.hf_button.geometry() == status_below and m.remove_button.geometry() == below
    go_to(w, qtbot, w.conditions_page)
    c = w.conditions_page
    c.label_box.setChecked(True)
    c.alpha_edit.setText("1")
    qtbot.waitUntil(lambda: w.is_valid())
    qtbot.wait(20)
    rows = [c.imbalance_edit.geometry(), c.group_box.geometry(), c.add_alpha_button.geometry()]
    c.tweak_edit.setText("1.5")
    qtbot.waitUntil(lambda: bool(c.tweak_note.text()))
    qtbot.wait(20)
    assert [c.imbalance_edit.geometry(), c.group_box.geometry(), c.add_alpha_button.geometry()] == rows
    c.tweak_edit.setText("")
    go_to(w, qtbot, w.seeds_page)
    s = w.seeds_page
    below = s.bootstrap.geometry()
    s.seeds_edit.setText("0, 0")
    qtbot.waitUntil(lambda: bool(s.seeds_note.text()))
    qtbot.wait(20)
    assert s.bootstrap.geometry() == below


def test_the_app_can_hand_a_dropped_model_to_the_wizard(qtbot, wizard, tmp_path):
    """app.main_window drops a model file onto a new wizard with ``wizard.add_local_model``."""
    model = tmp_path / "net.safetensors"
    model.write_bytes(b"\0" * 16)
    wizard.add_local_model(str(model))
    qtbot.waitUntil(lambda: len(wizard.models_page.model_rows()) == 1)
    assert wizard.models_page.model_rows()[0].source == "file:net.safetensors"


def test_the_review_file_is_highlighted_in_the_themes_colours_and_follows_a_switch(qtbot, wizard, themed):
    from views.study_page import SYNTAX

    def header_colour() -> str:
        doc = wizard.review_page.toml_view.document()
        block = doc.findBlock(doc.toPlainText().index("[study]"))
        ranges = block.layout().formats()
        return ranges[0].format.foreground().color().name()

    themed("light")
    wizard.review_page.highlighter.rehighlight()
    assert header_colour() == SYNTAX["light"].table.lower()
    themed("dark")
    qtbot.waitUntil(lambda: header_colour() == SYNTAX["dark"].table.lower())
