"""A fine-tuning study's report: written as HTML and PDF with the kind's charts, its table chips in the charts'
colours (the regression: the report's arm colours sorted the study's ArmInfo objects and raised TypeError)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import open_project
from engine.kinds import get_kind
from engine.report.model import build_report
from views.kinds.finetune.charts import arm_palette
from views.report_parts import arm_colours
from views.report_render import ReportRenderer

STUDY = "ft-report"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft-report") / "proj"
    root.mkdir()
    (root / f"{STUDY}.study.toml").write_text(get_kind("finetune").example_study(STUDY), encoding="utf-8")
    assert open_project(root).run(STUDY, backend="sequential").failed == 0
    return open_project(root)


def test_the_report_chips_have_the_charts_colours(project):
    (section,) = build_report(project, studies=[STUDY]).studies
    colours = arm_colours(section)
    pal = arm_palette(section.results)
    assert colours and all(colours[a.id] == pal.color(a.id) for a in section.results.arms)


def test_html_and_pdf_reports_of_a_fine_tuning_study(qapp, project, tmp_path):
    renderer = ReportRenderer(build_report(project, studies=[STUDY]), svg=False)
    html = renderer.html()
    assert "Negative flips" in html and html.count("<img") >= 5
    pal = arm_palette(renderer.model.studies[0].results)
    chips = set(re.findall(r'class="chip" style="background:(#[0-9A-Fa-f]{6})"', html))
    assert pal.color("lora") in chips and pal.color("full") in chips
    (pdf,) = renderer.write_pdf(tmp_path / "report.pdf")
    assert Path(pdf).read_bytes()[:5] == b"%PDF-"
