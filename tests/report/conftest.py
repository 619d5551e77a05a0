"""A small real study, run once per test session, that every report test reads."""

from __future__ import annotations



from pathlib import Path

import pytest

from tests.conftest import write_study

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def report_project(tmp_path_factory) -> Path:
    """Project with study 'mini' (mlp, cnn; clean, 2 corruptions × 2 severities, label shift; 2 seeds) and
    study 'xss' (the same cells, titled <script>alert(1)</script>)."""
    from engine import open_project

    root = tmp_path_factory.mktemp("report") / "proj"
    root.mkdir()
    path = write_study(root, "mini", seeds=(0, 1), corruptions=("gaussian_noise", "contrast"), severities=(1, 5))
    text = path.read_text(encoding="utf-8").replace(
        "[study]\n", '[study]\ntitle = "Which small digits model copes with noise?"\n', 1)
    path.write_text(text, encoding="utf-8")
    xss = text.replace('name = "mini"', 'name = "xss"').replace(
        'title = "Which small digits model copes with noise?"', f'title = "{XSS}"\ndescription = "A {XSS} test & more"')
    (root / "xss.study.toml").write_text(xss, encoding="utf-8")
    project = open_project(root)
    summary = project.run("mini")
    assert summary.failed == 0, summary.errors
    project.run("xss")  # same cells: nothing new is computed
    return root


@pytest.fixture(scope="session")
def mini_model(report_project):
    from engine import open_project
    from engine.report.model import build_report

    return build_report(open_project(report_project), studies=["mini"],
                        options={"author": "Model review board", "introduction": "Why we ran this.\n\nSecond paragraph."})
