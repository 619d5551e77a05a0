"""The details pane's facts about a model of the project (app.project_status.entry_details)."""

from __future__ import annotations

from engine import open_project


def test_a_base_models_trained_weights_are_listed_once(tmp_path):
    """A fine-tuning study's built-in base is saved by its training cell and published again as the study's
    'base' arm under the same name: the details pane listed each of its weights twice."""
    from app.project_status import entry_details, summarise
    from tests.engine.test_study_order import tuned_study

    (tmp_path / "tuned.study.toml").write_text(tuned_study())
    project = open_project(tmp_path)
    assert project.run("tuned", backend="sequential").status == "done"
    entry = next(m for m in summarise(project).models if m.source == "builtin:digits-mlp")
    _title, rows, note = entry_details(project, entry)
    weights = dict(rows)["Trained weights"].splitlines()
    assert note == "" and weights and len(weights) == len(set(weights))
