"""The contract every registered study kind keeps (as scikit-learn runs every estimator through one
shared check suite): its example study validates, plans, runs, resumes, stores, loads results,
builds its report section, and describes itself with the plan's own counts.

A new kind is added to ``engine.kinds.KINDS`` and passes this file unchanged.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine import open_project
from engine.core.cells import Plan
from engine.core.execute import RunSummary
from engine.core.header import StudyFile
from engine.kinds import KINDS, StudyKind, get_kind, parse_study_text


@dataclass
class Ran:
    kind: StudyKind
    root: Path
    name: str
    plan: Plan
    first: RunSummary
    second: RunSummary


@pytest.fixture(scope="module", params=sorted(KINDS))
def ran(request, tmp_path_factory) -> Ran:
    """The kind's example study, validated and run twice (sequentially) in a fresh project."""
    kind = KINDS[request.param]
    root = tmp_path_factory.mktemp(f"contract-{kind.name}")
    name = f"{kind.name}-example"
    (root / f"{name}.study.toml").write_text(kind.example_study(name), encoding="utf-8")
    project = open_project(root)
    plan = project.validate(name)
    first = project.run(name, backend="sequential")
    second = project.run(name, backend="sequential")
    return Ran(kind, root, name, plan, first, second)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_the_kind_is_registered_under_its_name_with_a_spec_work_and_versions(name):
    kind = KINDS[name]
    assert get_kind(name) is kind and kind.name == name and kind.title and kind.question.endswith("?")
    assert issubclass(kind.spec, StudyFile) and kind.spec.KIND == name
    assert kind.work and set(kind.work) == set(kind.versions)
    assert all(isinstance(v, int) and v >= 1 for v in kind.versions.values())
    for fn in kind.work.values():  # workers receive work functions by reference
        assert pickle.loads(pickle.dumps(fn)) is fn


@pytest.mark.parametrize("name", sorted(KINDS))
def test_the_example_study_validates_as_its_kind(name):
    kind = KINDS[name]
    study = parse_study_text(kind.example_study("x1"), "x1.study.toml")
    assert isinstance(study, kind.spec) and study.kind == name and study.name == "x1"
    assert kind.field_words(("study", "seeds", 0)) == "a seed"


def test_the_plan_uses_the_kinds_cell_types_and_unique_keys(ran):
    cells = ran.plan.cells
    assert cells and ran.plan.summary
    assert {c.type for c in cells} <= set(ran.kind.work)
    assert len({c.key for c in cells}) == len(cells)
    keys = {c.key for c in cells}
    assert all(d in keys for c in cells for d in c.depends_on)
    assert all(isinstance(ran.kind.condition_label(c.condition), str) for c in cells)


def test_describe_counts_equal_the_plans(ran):
    d = ran.kind.describe(ran.plan.study)
    assert not d.approximate and d.cells_sentence and d.rows
    assert d.counts["cells"] == len(ran.plan.cells)
    for cell_type in ran.kind.work:
        assert d.counts[cell_type] == len(ran.plan.of_type(cell_type)), cell_type


def test_it_runs_and_a_second_run_is_up_to_date(ran):
    assert ran.first.status == "done", ran.first.errors
    assert ran.first.done == len(ran.plan.cells) and ran.first.failed == 0
    assert ran.second.status == "up-to-date" and ran.second.skipped == len(ran.plan.cells)


def test_every_planned_cell_is_stored_with_its_type_and_axes(ran):
    with open_project(ran.root).store(read_only=True) as store:
        rows = store.query("SELECT sc.cell_key, sc.type, sc.axes, c.status FROM study_cells sc "
                           "JOIN cells c USING (cell_key) WHERE sc.study = ?", [ran.name])
        kind = store.query("SELECT kind FROM studies WHERE study = ?", [ran.name]).kind.tolist()
    assert kind == [ran.kind.name]
    assert sorted(rows.cell_key) == sorted(c.key for c in ran.plan.cells)
    assert set(rows.status) == {"done"}
    assert dict(zip(rows.cell_key, rows.type)) == {c.key: c.type for c in ran.plan.cells}


def test_results_load(ran):
    results = open_project(ran.root).results(ran.name)
    assert results is not None
    with open_project(ran.root).store(read_only=True) as store:
        assert type(ran.kind.load_results(store, ran.name)) is type(results)


def test_results_load_as_the_kind_they_were_run_as_even_after_the_file_broke(ran, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ran.root, copy)
    (copy / f"{ran.name}.study.toml").write_text("this is no longer TOML [", encoding="utf-8")
    assert type(open_project(copy).results(ran.name)) is type(open_project(ran.root).results(ran.name))


def test_the_report_section_builds(ran):
    from engine.report.model import build_report

    report = build_report(open_project(ran.root), studies=[ran.name])
    (section,) = report.studies
    assert section.name == ran.name and section.kind == ran.kind.name
    assert section.findings and section.tables and section.charts
    assert section.status["planned"] == section.status["done"] == len(ran.plan.cells)
    assert report.glossary and report.appendix.study_files[0]["name"] == ran.name


# ---------------------------------------------------------------------------------------------------
# Added by the views step: what the command line and the app ask of a kind (StudyKind.results_summary,
# StudyKind.cell_label), and the kind's views (views.kinds.VIEW_KINDS): its results page shows the results
# of the run above, and its report charts build (pytest-qt's application; tests/gui drives real windows).


def test_juxta_results_summarises_the_results(ran):
    from engine.kinds.base import ResultsSummary

    with open_project(ran.root).store(read_only=True) as store:
        summary = ran.kind.results_summary(store, ran.name, {})
    assert isinstance(summary, ResultsSummary) and summary.tables
    for table in summary.tables:
        assert table.title and table.columns and table.rows
        assert all(len(row) == len(table.columns) for row in table.rows)
        assert len(table.align) in (0, len(table.columns))


def test_every_cell_has_a_label_for_the_run_page(ran):
    labels = [ran.kind.cell_label(c) for c in ran.plan.cells]
    assert all(isinstance(label, str) and label for label in labels)


def test_the_kind_has_views(ran):
    from views.kinds import VIEW_KINDS, KindViews

    assert isinstance(VIEW_KINDS.get(ran.kind.name), KindViews), f"views.kinds.VIEW_KINDS has no '{ran.kind.name}'"


def test_its_results_page_shows_the_results(ran, qapp):
    from views.kinds import VIEW_KINDS

    views = VIEW_KINDS[ran.kind.name]
    project = open_project(ran.root)
    results = project.results(ran.name)
    page = views.results_page("light")
    try:
        page.set_export_folder(lambda: str(ran.root))
        page.begin_study(ran.name)
        page.set_results(results, views.extra(project, ran.name) if views.extra else None, note="")
        assert page.results is not None, page.empty_text()  # the finished run is shown, not the empty state
        page.set_theme("dark")
        page.set_results(None)
        assert page.results is None and page.empty_text()
    finally:
        page.deleteLater()


def test_its_report_charts_build(ran, qapp):
    from engine.report.model import build_report
    from views.kinds import chart_class
    from views.report_render import ReportRenderer

    (section,) = build_report(open_project(ran.root), studies=[ran.name]).studies
    for ref in section.charts:
        cls = chart_class(section.kind, ref.kind)
        width, height = cls.report_size(ref)
        assert width > 0 and height > 0
    figures = ReportRenderer(build_report(open_project(ran.root), studies=[ran.name]), svg=False).figures()
    assert figures and all(fig.png and not fig.error for _, _, fig in figures), [fig.error for _, _, fig in figures]


def test_its_report_is_written_in_every_format(ran, qapp, tmp_path):
    """The section is drawn by both writers (HTML, PDF, folder): each asks the kind's results for its own
    things (arm colours, tables, counts), which building the section alone does not exercise."""
    import shutil

    from app.report import write_reports

    copy = tmp_path / "copy"
    shutil.copytree(ran.root, copy)
    written = write_reports(copy, {"html": None, "pdf": None, "folder": None}, studies=[ran.name])
    html = next(p for p in written["html"] if p.suffix == ".html").read_text(encoding="utf-8")
    assert ran.name in html and "<img" in html
    pdf = next(p for p in written["pdf"] if p.suffix == ".pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    assert any(p.suffix == ".png" for p in written["folder"])
