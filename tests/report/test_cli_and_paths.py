"""`juxta report` and the output-path rules."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from app.report import resolve_output, write_report
from engine.core.errors import JuxtaError

ROOT = Path(__file__).resolve().parents[2]


def juxta(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env=env)


def test_cli_writes_each_format(report_project):
    html = juxta("report", str(report_project), "--study", "mini", "--format", "html", "--out", "reports/cli.html",
                 "--title", "CLI report", "--author", "QA")
    assert html.returncode == 0, html.stdout + html.stderr
    out = report_project / "reports" / "cli.html"
    assert out.is_file() and "CLI report" in out.read_text(encoding="utf-8")
    pdf = juxta("report", str(report_project), "--study", "mini", "--format", "pdf")
    assert pdf.returncode == 0, pdf.stderr
    assert list((report_project / "reports").glob("*-report.pdf"))
    folder = juxta("report", str(report_project), "--study", "mini", "--format", "folder", "--out", "reports/cli-folder")
    assert folder.returncode == 0, folder.stderr
    assert (report_project / "reports" / "cli-folder" / "index.html").is_file()
    again = juxta("report", str(report_project), "--study", "mini", "--format", "html", "--out", "reports/cli.html")
    assert again.returncode == 2 and "already exists" in again.stderr
    over = juxta("report", str(report_project), "--study", "mini", "--format", "html", "--out", "reports/cli.html", "--overwrite")
    assert over.returncode == 0


def test_cli_refuses_to_leave_the_project(report_project):
    out = juxta("report", str(report_project), "--format", "html", "--out", "../escape.html")
    assert out.returncode == 2 and "outside the project" in out.stderr
    assert not (report_project.parent / "escape.html").exists()
    unknown = juxta("report", str(report_project), "--study", "nope", "--format", "pdf")
    assert unknown.returncode == 2 and "nope" in unknown.stderr and "Traceback" not in unknown.stderr


def test_path_rules(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    now = datetime(2026, 1, 2, 3, 4, 5)
    assert resolve_output(root, "folder", None, now=now) == root.resolve() / "reports" / "20260102-030405-report"
    assert resolve_output(root, "pdf", None, now=now).name == "20260102-030405-report.pdf"
    assert resolve_output(root, "html", "out/x", now=now) == root.resolve() / "out" / "x.html"
    assert resolve_output(root, "pdf", "out/", now=now) == root.resolve() / "out" / "report.pdf"
    with pytest.raises(JuxtaError, match="outside the project"):
        resolve_output(root, "html", "../x.html")
    outside = tmp_path / "elsewhere" / "r.pdf"
    assert resolve_output(root, "pdf", str(outside)) == outside  # an absolute path is the user's choice
    (root / "busy").mkdir()
    (root / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(JuxtaError, match="not empty"):
        resolve_output(root, "folder", "busy")
    with pytest.raises(JuxtaError, match="project folder itself"):
        resolve_output(root, "folder", str(root))
    with pytest.raises(JuxtaError, match="Unknown report format"):
        resolve_output(root, "docx", None)


def test_rewriting_a_report_folder_replaces_only_its_files(report_project):
    out = report_project / "reports" / "again"
    first = write_report(report_project, "folder", "reports/again", studies=["mini"])
    (out / "my-notes.txt").write_text("keep me")
    second = write_report(report_project, "folder", "reports/again", studies=["mini"], options={"charts": {"mini": ["drop"]}})
    assert (out / "my-notes.txt").read_text() == "keep me"
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert pngs == ["mini-drop.png"] and len(second) < len(first)
