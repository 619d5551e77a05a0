"""Sources that read outside the project folder are allowed, and said so by validate and the report appendix."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import EXIT_OK, main
from engine import open_project
from engine.core.header import outside_project_sources
from engine.kinds import get_kind, parse_study_text

STUDY = """schema_version = 1
[study]
name = "{name}"
[[models]]
id = "mlp"
source = "builtin:mlp"
train = {{ epochs = 1 }}
[data]
source = "{data}"
split = "all"
[metrics]
bootstrap = 0
[execution]
backend = "sequential"
"""
TABLE = "a,b,label\n" + "".join(f"{i},{(i * 7) % 5},{'cat' if i % 2 else 'dog'}\n" for i in range(40))


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A project folder next to a CSV file it reads through '../'."""
    (tmp_path / "outside.csv").write_text(TABLE)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "inside.csv").write_text(TABLE)
    (root / "far.study.toml").write_text(STUDY.format(name="far", data="csv:../outside.csv"))
    (root / "near.study.toml").write_text(STUDY.format(name="near", data="csv:inside.csv"))
    return root


def outside(study, root):
    return outside_project_sources(get_kind(study.kind).sources(study), root)


def test_engine_lists_sources_outside_the_project(shared):
    far = parse_study_text((shared / "far.study.toml").read_text())
    ((key, value, path),) = outside(far, shared)
    assert key == ("data", "source") and value == "csv:../outside.csv" and path == (shared.parent / "outside.csv").resolve()
    near = parse_study_text((shared / "near.study.toml").read_text())
    assert outside(near, shared) == []
    absolute_inside = near.model_copy(update={"data": near.data.model_copy(update={"source": f"csv:{shared / 'inside.csv'}"})})
    assert outside(absolute_inside, shared) == []
    (shared / "link.csv").symlink_to(shared.parent / "outside.csv")
    linked = near.model_copy(update={"data": near.data.model_copy(update={"source": "csv:link.csv"})})
    assert [k for k, _, _ in outside(linked, shared)] == [("data", "source")]


def test_validate_warns_and_the_report_appendix_says_so(shared, capsys):
    assert main(["validate", str(shared / "far.study.toml")]) == EXIT_OK
    out = " ".join(capsys.readouterr().out.split())
    assert "warning: data.source: 'csv:../outside.csv' reads outside the project" in out
    assert main(["validate", str(shared / "near.study.toml")]) == EXIT_OK
    assert "reads outside" not in capsys.readouterr().out

    from engine.report.model import build_report

    project = open_project(shared)
    for name in ("far", "near"):
        assert project.run(name).failed == 0
    appendix = build_report(project).appendix
    rows = {r["study"]: r for r in appendix.data}
    assert rows["far"]["outside_project"] and rows["far"]["source"] == "csv:../outside.csv (reads outside the project)"
    assert not rows["near"]["outside_project"] and rows["near"]["source"] == "csv:inside.csv"
    assert all(not m["outside_project"] for m in appendix.models)
