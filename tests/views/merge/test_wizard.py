"""The merge kind's new-study wizard: round trips, the experts and methods pages, knob tooltips and previews,
validation by the engine, contrast."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import QApplication, QWizard

from engine import open_project
from engine.core.errors import StudyFileError
from engine.kinds import get_kind, parse_study_text
from engine.kinds.merge.methods import METHODS
from engine.kinds.merge.study.plan import check_configurations
from tests.views.contrast import low_contrast
from views.kinds import VIEW_KINDS
from views.kinds.merge.wizard import knobs as KN
from views.kinds.merge.wizard.merge_wizard import MergeWizard
from views.kinds.merge.wizard.preview import KnobPreview, kept_mask, toy_task_vectors
from views.providers import DatasetPreview, ModelChoice, StudyProviders

ROOT = Path(__file__).resolve().parents[3]


def validate(text: str) -> list:
    """The engine's verdict on a study file: its schema, and each method entry's knobs against the registry."""
    try:
        study = parse_study_text(text, "study.toml")
    except StudyFileError as exc:
        return list(exc.problems)
    return check_configurations(study, text)


class Fake:
    """The engine behind StudyProviders, minus reading real data."""

    def __init__(self, root: Path):
        self.root = root

    def providers(self) -> StudyProviders:
        models = [ModelChoice("builtin:digits-mlp", "MLP (digits)", "Two hidden layers.", 17_226),
                  ModelChoice("builtin:digits-cnn", "CNN (digits)", "Three conv layers.", 56_714)]
        datasets = [ModelChoice("builtin:digits", "Digits", "8×8 digits."), ModelChoice("builtin:wine", "Wine", "A table.")]

        def preview(source, options):
            if source == "builtin:wine":
                return DatasetPreview(source, "tabular", 178, ["a", "b", "c"], [59, 71, 48], [({"ash": 2.4}, "a")])
            return DatasetPreview(source, "image", 1797, [str(i) for i in range(10)], [180] * 10,
                                  [(np.zeros((8, 8), np.uint8), "0")])

        return StudyProviders(lambda: models, lambda: datasets, lambda s: {"architecture": "Net", "n_params": 10},
                              preview, lambda *a: {}, validate, lambda: str(self.root))


@pytest.fixture
def fake(tmp_path):
    return Fake(tmp_path)


def ready(qtbot, w: MergeWizard) -> MergeWizard:
    qtbot.addWidget(w)
    qtbot.waitUntil(w.methods_page.knobs_ready, timeout=60_000)  # the registry (and torch) load off the GUI thread
    qtbot.waitUntil(lambda: w.data_page.preview is not None)
    w.revalidate()
    return w


@pytest.fixture
def wizard(qtbot, fake):
    w = MergeWizard(fake.providers(), existing_names=["merge-study"])
    w.show()
    return ready(qtbot, w)


def go_to(w, qtbot, page):
    while w.currentPage() is not page:
        before = w.currentPage()
        w.next()
        assert w.currentPage() is not before, f"Next refused on {before.plain_title}: {before.problems()}"
    qtbot.wait(10)


DEMO_LIKE = '''# The four experts of the fine-tuning demo, merged.
schema_version = 1

[study]
name = "merge"
kind = "merge"
title = "Which merge keeps most of the four digits experts?"
seeds = [0, 1]

[base]
source = "artifact:expert-rotated/base"

[data]
source = "builtin:digits"
split = "test"

[[experts]]
id = "rotated"
source = "artifact:expert-rotated/full"
condition = "rotate/5"

[[experts]]
id = "noisy"
source = "artifact:expert-noisy/full"
condition = "gaussian_noise/5"
data = { source = "builtin:digits", max_examples = 500 }

[merge]
conventions = "paper"
tuning = "test"
heads = ["head"]

[[merge.methods]]
method = "ties"
density = [0.1, 0.2]
lambda = [0.5, 1.0]

[[merge.methods]]
method = "ties"
id = "ties-mergekit"
conventions = "mergekit"
density = 0.2

[[merge.methods]]
method = "dare_ties"
density = [0.2, 0.5]
lambda = 1

[[merge.methods]]
method = "adamerging"
fit_on = "validation"
steps = 20
layer_wise = false

[metrics]
names = ["accuracy", "ece"]
bootstrap = 200
level = 0.9

[execution]
backend = "sequential"
device = "cpu"
'''


def merge_study_texts() -> list[tuple[str, str]]:
    """The kind's example study, the demo-like file above, and every merge study in the repository's projects."""
    texts = [("example", get_kind("merge").example_study("merge-example")), ("demo-like", DEMO_LIKE)]
    for path in sorted((ROOT / "projects").rglob("*.study.toml")):
        text = path.read_text(encoding="utf-8")
        if re.search(r'^kind\s*=\s*"merge"', text, re.M):
            texts.append((path.name, text))
    return texts


@pytest.mark.parametrize("name,text", merge_study_texts(), ids=[n for n, _ in merge_study_texts()])
def test_from_toml_round_trips_merge_studies_exactly(qtbot, fake, name, text):
    w = ready(qtbot, MergeWizard.from_toml(text, fake.providers()))
    assert w.study_toml() == text  # comments, layout and types kept when nothing changed
    assert w.is_valid(), w.problems()
    again = MergeWizard.from_toml(w.study_toml(), fake.providers())
    qtbot.addWidget(again)
    assert parse_study_text(again.study_toml()).model_dump() == parse_study_text(text).model_dump()


def test_the_demo_like_study_fills_every_page(qtbot, fake):
    w = ready(qtbot, MergeWizard.from_toml(DEMO_LIKE, fake.providers()))
    assert w.base_page.source() == "artifact:expert-rotated/base"
    assert [r.id for r in w.experts_page.rows] == ["rotated", "noisy"]
    assert w.experts_page.rows[1].extra == {"data": {"source": "builtin:digits", "max_examples": 500}}
    mp = w.methods_page
    assert [r.name for r in mp.checked_rows()] == ["ties", "ties-mergekit", "dare_ties", "adamerging"]
    assert mp.tuning_value() == "test" and mp.conventions_value() == "paper"
    assert "optimistic" in mp.tuning_note.text()
    assert mp.tuning_note.property("tone") == "warn"
    # an edit changes only what it touches
    mp.select("ties", "ties-mergekit")
    assert "conventions" not in mp.edits and "This entry: conventions mergekit." in mp.entry_about.text()
    mp.set_values("density", "0.3")
    study = parse_study_text(w.study_toml())
    entry = [e for e in study.merge.methods if e.name == "ties-mergekit"][0]
    assert entry.parameters == {"density": 0.3} and entry.conventions == "mergekit"
    assert study.merge.heads == ["head"] and study.experts[1].data.max_examples == 500
    assert w.study_toml().startswith("# The four experts of the fine-tuning demo, merged.")


def test_the_kinds_wizard_factory_opens_new_and_existing_studies(qtbot, fake):
    factory = VIEW_KINDS["merge"].wizard
    new = factory(fake.providers(), None, ["a"], None, None)
    qtbot.addWidget(new)
    assert isinstance(new, MergeWizard) and new.study_name() == "merge-study"
    text = get_kind("merge").example_study("x")
    edit = factory(fake.providers(), None, ["x"], text, None)
    qtbot.addWidget(edit)
    assert edit.study_toml() == text and edit.original_name == "x"


def test_from_toml_rejects_text_that_is_not_toml(fake):
    with pytest.raises(StudyFileError):
        MergeWizard.from_toml("[study\nname = ", fake.providers())


def test_a_new_study_built_page_by_page_is_valid_and_the_engine_plans_it(qtbot, wizard, tmp_path):
    w = wizard
    assert not w.is_valid()
    assert any("expert" in p.lower() for p in w.problems())  # a new study has no expert yet
    go_to(w, qtbot, w.base_page)
    w.base_page.set_source("builtin:digits-mlp")
    go_to(w, qtbot, w.data_page)
    w.data_page.max_examples.setValue(120)
    w.next()
    ep = w.experts_page
    assert w.currentPage() is ep
    ep.add_button.click()
    ep.shift_combo.setCurrentIndex(ep.shift_combo.findData("rotate"))
    ep.severity.setValue(2)
    ep.epochs.setValue(1)
    ep.add_button.click()
    ep.id_edit.setText("inverted")
    ep.id_edit.textEdited.emit("inverted")
    ep.shift_combo.setCurrentIndex(ep.shift_combo.findData("invert"))
    assert [r.id for r in ep.rows] == ["expert", "inverted"]
    go_to(w, qtbot, w.methods_page)
    mp = w.methods_page
    mp.select("ties")
    mp.set_values("density", "0.2, 0.5")
    mp.set_values("lambda", "1")
    go_to(w, qtbot, w.review_page)
    assert w.is_valid(), w.problems()
    study = parse_study_text(w.study_toml())
    assert [(e.id, e.condition, e.tune.epochs) for e in study.experts] == [("expert", "rotate/2", 1), ("inverted", "invert/3", 3)]
    ties = [e for e in study.merge.methods if e.method == "ties"][0]
    assert ties.parameters == {"density": [0.2, 0.5], "lambda": 1.0}  # λ is a float knob: "1" is written 1.0
    assert type(ties.parameters["lambda"]) is float
    assert [e.method for e in study.merge.methods] == ["linear", "task_arithmetic", "ties"]
    assert w.study_name() == "merge-study-2"  # "merge-study" is taken in this project
    (tmp_path / "merge-study-2.study.toml").write_text(w.study_toml(), encoding="utf-8")
    plan = open_project(tmp_path).validate("merge-study-2")  # the engine plans it: data read, every knob within its bounds
    assert plan.cells and "Valid" in w.review_page.status.text()


def test_typed_values_that_cannot_be_a_knob_are_said_under_the_method_and_block_save(qtbot, wizard):
    w = wizard
    w.experts_page.add_expert("artifact:expert-rotated/full", "rotate/5")
    mp = w.methods_page
    mp.select("ties")
    mp.set_values("density", "0.1, lots")
    w.revalidate()
    assert not w.is_valid()
    assert any("'lots' is not a number" in p for p in w.problems())
    assert "'lots' is not a number" in mp.entry_note.text()
    mp.set_values("density", "0.1, 1.5")  # a number out of bounds: the engine's registry says so
    w.revalidate()
    assert any("density" in p for p in w.problems()), w.problems()
    mp.set_values("density", "0.1, 0.5")
    w.revalidate()
    assert w.is_valid(), w.problems()


def test_every_knob_tooltip_says_what_it_does_its_range_and_default(qtbot, wizard):
    mp = wizard.methods_page
    mp.select("ties")
    density = mp.edits["density"].toolTip()
    field = METHODS["ties"].model_params.model_fields["density"]
    assert field.description[:30].lower() in density.lower()
    assert "from 0 (excluded) to 1" in density and "Default: 1.0" in density and "Several values" in density
    assert mp.edits["density"].placeholderText() == "default 1.0"
    for name in ("ties", "task_arithmetic", "adamerging", "slerp", "consensus"):
        mp.select(name)
        for key, edit in mp.edits.items():
            assert len(edit.toolTip()) > 40, (name, key)
    mp.select("adamerging")
    assert "transductive" in mp.entry_about.text()


def focus(widget) -> None:
    """What a click or Tab into a field sends (without a window manager, setFocus may not)."""
    QApplication.sendEvent(widget, QFocusEvent(QEvent.Type.FocusIn, Qt.FocusReason.TabFocusReason))


def test_the_preview_draws_what_density_and_lambda_do(qtbot, wizard):
    mp = wizard.methods_page
    mp.select("ties")
    mp.set_values("density", "0.1, 0.5")
    focus(mp.edits["density"])
    assert mp.preview.key == "density"
    assert mp.preview.isVisibleTo(mp) and mp.preview.values == [0.1, 0.5]
    assert mp.preview.words() == "density 0.1: 9 of 72 entries kept; density 0.5: 36 of 72 entries kept"
    focus(mp.edits["lambda"])
    assert mp.preview.key == "lambda"
    assert mp.preview.values == [0.3, 0.5, 1.0] and "×0.5" in mp.preview.words()
    mp.select("slerp")  # no knob with a preview: none shown
    assert not mp.preview.isVisibleTo(mp)
    grab = mp.grab()
    assert not grab.isNull()


def test_the_preview_keeps_the_largest_entries_or_a_seeded_random_share():
    v = toy_task_vectors()
    mask = kept_mask(v, 0.25, random=False)
    assert mask.sum(axis=1).tolist() == [6, 6, 6]
    for r in range(3):  # every kept entry is at least as large as every dropped one
        assert np.abs(v[r][mask[r]]).min() >= np.abs(v[r][~mask[r]]).max()
    random = kept_mask(v, 0.25, random=True)
    assert (random == kept_mask(v, 0.25, random=True)).all() and 0 < random.sum() < v.size
    preview = KnobPreview.__new__(KnobPreview)  # words() needs no window
    preview.method, preview.key, preview.values, preview.vectors = "dare_ties", "density", [0.25], v
    assert preview.words() == f"density 0.25: {int(random.sum())} of 72 entries kept"


def test_values_text_round_trips_types():
    for value in (0.1, [0.1, 0.2, 0.5], 1.0, [1, 2], True, "x", [0.5, 1.0]):
        kind = None
        text = KN.values_text(value)
        values, error = KN.parse_values(text, kind)
        assert error is None and KN.as_setting(values) == value
        assert [type(x) for x in values] == [type(x) for x in (value if isinstance(value, list) else [value])]
    assert KN.parse_values("1", "float") == ([1.0], None)
    assert KN.parse_values("2.5", "int")[1] == "'2.5' is not a whole number"
    assert KN.parse_values("yes", "bool")[1] == "'yes' is not true or false"
    assert KN.parse_values("inf", "float")[1] == "'inf' is not a finite number"


def test_another_entry_of_a_method_gets_its_own_id_and_both_are_written(qtbot, wizard):
    w = wizard
    w.experts_page.add_expert("artifact:expert-rotated/full", "rotate/5")
    mp = w.methods_page
    mp.select("ties")
    mp.another_button.click()
    row = mp.current
    assert row.name == "ties-2"
    mp.set_values("density", "0.3")
    mp.conventions.setCurrentIndex(mp.conventions.findData("paper"))
    study = parse_study_text(w.study_toml())
    names = [e.name for e in study.merge.methods]
    assert names.count("ties") == 1 and "ties-2" in names and study.merge.conventions == "paper"
    w.revalidate()
    assert w.is_valid(), w.problems()


def test_unticking_every_method_is_a_problem_on_the_methods_page(qtbot, wizard):
    w = wizard
    w.experts_page.add_expert("artifact:expert-rotated/full", "rotate/5")
    for m in ("linear", "task_arithmetic", "ties"):
        w.methods_page.check_method(m, False)
    w.revalidate()
    assert "Methods: Tick at least one merge method to compare." in w.problems()
    w.methods_page.check_method("dare_ties")
    w.revalidate()
    assert w.is_valid(), w.problems()
    entry = parse_study_text(w.study_toml()).merge.methods[0]
    assert entry.method == "dare_ties" and entry.parameters == KN.SUGGESTED_GRIDS["dare_ties"]


def test_table_data_offers_table_shifts_as_tasks(qtbot, wizard):
    w = wizard
    w.data_page.set_source("builtin:wine")
    qtbot.waitUntil(lambda: w.data_page.modality() == "tabular")
    ep = w.experts_page
    names = [ep.shift_combo.itemData(i) for i in range(ep.shift_combo.count())]
    assert "rotate" not in names and "feature_noise" in names


def test_a_dropped_model_becomes_an_expert(qtbot, fake, tmp_path):
    model = tmp_path / "my-expert.safetensors"
    model.write_bytes(b"\0")
    w = VIEW_KINDS["merge"].wizard(fake.providers(), None, [], None, str(model))
    qtbot.addWidget(w)
    assert [(r.id, r.source) for r in w.experts_page.rows] == [("my-expert", "file:my-expert.safetensors")]


@pytest.fixture
def themed(qapp):
    from app import theme

    yield lambda name: theme.apply(qapp, name)
    theme.apply(qapp, "light")


def test_every_text_on_every_page_reads_at_aa_contrast_in_both_themes(qtbot, fake, themed):
    w = ready(qtbot, MergeWizard.from_toml(DEMO_LIKE, fake.providers()))
    w.show()
    w.methods_page.select("ties")
    problems = []
    for name in ("light", "dark", "light"):
        themed(name)
        w.restart()
        for _ in range(len(w.pageIds())):
            qtbot.wait(30)
            problems += [f"{name} · {w.currentPage().plain_title}: {p}" for p in low_contrast(w)]
            w.next()
    assert not problems, "\n".join(problems)


def test_save_is_offered_only_for_a_valid_study(qtbot, fake):
    w = ready(qtbot, MergeWizard.from_toml(get_kind("merge").example_study("m"), fake.providers()))
    w.show()
    w.restart()
    while w.currentPage() is not w.review_page:
        w.next()
    assert w.button(QWizard.WizardButton.CustomButton1).isEnabled()
    w.experts_page.set_experts([])
    w.revalidate()
    assert not w.button(QWizard.WizardButton.CustomButton1).isEnabled()
