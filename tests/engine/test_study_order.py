"""Studies that start from other studies' models (``artifact:<study>/<arm>``): those run first, from the
command line and the engine alike; before they have, the study validates and says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import open_project
from engine.core.errors import JuxtaError
from engine.kinds import get_kind
from engine.project import StudiesFirst


def tuned_study(name: str = "tuned") -> str:
    """The fine-tuning kind's example, reduced to full fine-tuning: it makes ``artifact:<name>/full``."""
    text = get_kind("finetune").example_study(name)
    text = re.sub(r'\[\[methods\]\]\nmethod = "(linear_probe|lora|wise_ft)"\n(rank = \[2\]\n|from = "full"\nalphas = .*\n)?',
                  "", text)
    assert text.count("[[methods]]") == 1 and 'method = "full"' in text
    return text


def shift_on(name: str, model: str) -> str:
    """The shift kind's example with its models replaced by one model, ``model``."""
    text = get_kind("shift").example_study(name)
    head, _, rest = text.partition("[[models]]")
    return head + f'[[models]]\nid = "tuned"\nsource = "{model}"\n\n[data]' + rest.split("[data]", 1)[1]


@pytest.fixture
def project(tmp_path: Path):
    (tmp_path / "tuned.study.toml").write_text(tuned_study())
    (tmp_path / "after.study.toml").write_text(shift_on("after", "artifact:tuned/full"))
    (tmp_path / "alone.study.toml").write_text(get_kind("shift").example_study("alone"))
    return open_project(tmp_path)


def test_a_study_names_the_project_studies_whose_models_it_uses(project):
    assert project.uses("after") == ["tuned"]
    assert project.uses("tuned") == [] and project.uses("alone") == []


def test_the_studies_it_needs_come_first_and_only_while_their_models_are_missing(project):
    assert project.run_order(["after"]) == ["tuned", "after"]
    assert project.run_order(["after", "tuned", "alone"]) == ["tuned", "after", "alone"]
    assert project.run_order(["after"], missing_only=False) == ["tuned", "after"]


def test_before_its_models_exist_it_validates_and_says_what_runs_first_but_cannot_plan(project):
    plan = project.validate("after")
    assert plan.cells == [] and "planned once tuned has run" in plan.summary
    with pytest.raises(StudiesFirst) as exc:
        project.plan("after")
    assert "starts from models that study 'tuned' makes" in str(exc.value) and "run it first" in str(exc.value)


def test_a_broken_study_it_needs_fails_its_validation(project):
    path = project.study_path("tuned")
    path.write_text(path.read_text().replace('method = "full"', 'method = "fulll"'))
    with pytest.raises(JuxtaError) as exc:
        project.validate("after")
    assert "tuned.study.toml" in str(exc.value)


def test_studies_that_need_each_other_are_refused_with_the_circle(project):
    path = project.study_path("tuned")
    path.write_text(path.read_text().replace('source = "builtin:digits-mlp"', 'source = "artifact:after/tuned"'))
    with pytest.raises(JuxtaError, match="in a circle \\(after → tuned → after\\)"):
        project.run_order(["after"])


def test_once_run_the_study_plans_from_the_made_model_and_a_changed_maker_runs_again_first(project):
    for name in project.run_order(["after"]):
        assert project.run(name, backend="sequential").status == "done"
    assert project.run_order(["after"]) == ["after"]
    assert len(project.validate("after").cells) > 0
    assert project.run("after", backend="sequential").status == "up-to-date"
    with project.store(read_only=True) as store:
        old_model = store.artifact_index()["tuned/full"]
    # the maker's file changes: it runs first again, and the study then starts from its new model, not the old
    path = project.study_path("tuned")
    path.write_text(path.read_text().replace("epochs = 2", "epochs = 1"))
    assert project.run_order(["after"]) == ["tuned", "after"]
    for name in project.run_order(["after"]):
        assert project.run(name, backend="sequential").status == "done"
    with project.store(read_only=True) as store:
        assert store.artifact_index()["tuned/full"] != old_model
        paths = store.con.execute("SELECT count(DISTINCT path) FROM artifacts WHERE name LIKE 'tuned/full%'").fetchone()[0]
    assert paths == 2  # the old model is still stored, but no longer what 'artifact:tuned/full' means
