"""Each format written from a real study and checked: HTML parses and its references resolve, the
folder's manifest is right, the PDF has its pages, page numbers and key findings; user text is escaped."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from tests.report.conftest import XSS

pypdf = pytest.importorskip("pypdf")


class Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.imgs: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self.csp = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a.get("content", "")
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        for k, v in a.items():
            assert not k.startswith("on"), f"event handler attribute {k}"

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Collect:
    p = Collect()
    p.feed(html)
    p.close()
    return p


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


@pytest.fixture(scope="module")
def renderer(mini_model):
    from views.report_render import ReportRenderer, ensure_qapp

    ensure_qapp()
    opts = {"comments": {"mini": {"drop": "Contrast is where the models differ."}}}
    from engine.report.options import apply_options

    return ReportRenderer(apply_options(mini_model, {**mini_model.options, **opts}))


def test_folder(renderer, tmp_path):
    out = tmp_path / "folder"
    written = renderer.write_folder(out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert {"index.html", "results.csv", "manifest.json"} <= set(files)
    figs = [f for f in files if f.startswith("figures/")]
    n_charts = len(renderer.model.studies[0].included_charts)
    assert len([f for f in figs if f.endswith(".png")]) == n_charts and len([f for f in figs if f.endswith(".svg")]) == n_charts
    # manifest: every other file, with its size and sha256
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "juxta-report"
    listed = {e["path"]: e for e in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    for rel, e in listed.items():
        data = (out / rel).read_bytes()
        assert e["bytes"] == len(data) and e["sha256"] == hashlib.sha256(data).hexdigest()
    assert set(written) == {out / f for f in files}
    # index.html parses; every image and local link resolves
    html = (out / "index.html").read_text(encoding="utf-8")
    p = parse(html)
    assert "script" not in p.tags
    assert p.imgs and all((out / src).is_file() for src in p.imgs)
    for href in p.links:
        if href.startswith("#"):
            assert href[1:] in p.ids, href
        else:
            assert not re.match(r"^[a-z]+:", href), href  # nothing remote
            assert (out / href).is_file(), href
    # SVGs are real SVG
    svg = next(f for f in figs if f.endswith(".svg"))
    assert b"<svg" in (out / svg).read_bytes()[:2000]
    # results.csv
    csv = pd.read_csv(out / "results.csv")
    assert list(csv.columns) == ["study", "arm", "condition", "family", "severity", "metric", "value", "ci_low", "ci_high",
                                 "seed_sd", "n_seeds", "n"]
    assert set(csv.study) == {"mini"} and {"clean", "gaussian_noise/5"} <= set(csv.condition)
    # the comment is under its chart
    assert "Contrast is where the models differ." in norm(" ".join(p.text))


def test_single_html_is_self_contained(renderer, tmp_path):
    out = tmp_path / "r.html"
    renderer.write_html(out)
    html = out.read_text(encoding="utf-8")
    p = parse(html)
    assert "script" not in p.tags and "link" not in p.tags
    assert p.imgs and all(src.startswith("data:image/png;base64,") for src in p.imgs)
    assert all(h.startswith("#") and h[1:] in p.ids for h in p.links)
    assert p.csp.startswith("default-src 'none'") and "script-src" not in p.csp
    text = norm(" ".join(p.text))
    for f in renderer.model.key_findings:
        assert norm(f.text) in text
    for term in ("Key findings", "Methods glossary", "Reproducibility appendix", "mini.study.toml"):
        assert term in text


def pdf_text(path: Path) -> tuple[int, str, list[str]]:
    reader = pypdf.PdfReader(str(path))
    pages = [pg.extract_text() or "" for pg in reader.pages]
    return len(reader.pages), norm(" ".join(pages)), pages


def test_pdf(renderer, tmp_path):
    out = tmp_path / "r.pdf"
    renderer.write_pdf(out)
    assert out.read_bytes()[:5] == b"%PDF-"
    n, text, pages = pdf_text(out)
    assert n >= 3
    assert "Page 1 of" in pages[0] and f"Page {n} of {n}" in norm(pages[-1])
    first = renderer.model.key_findings[0].text
    assert norm(first) in text
    for term in ("Key findings", "Contents", "Methods glossary", "Reproducibility appendix", "Contrast is where the models differ."):
        assert term in text
    reader = pypdf.PdfReader(str(out))
    assert len(reader.outline) >= 3  # bookmarks for the main sections


def test_user_text_is_escaped(report_project, tmp_path):
    from engine import open_project
    from engine.report.model import build_report
    from views.report_render import ReportRenderer, ensure_qapp

    ensure_qapp()
    model = build_report(open_project(report_project), studies=["xss"], options={
        "author": XSS, "introduction": f"Intro {XSS}", "comments": {"xss": {"drop": f"note {XSS}"}}})
    assert model.title == XSS
    r = ReportRenderer(model)
    html = r.html("single")
    p = parse(html)
    assert "script" not in p.tags
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert XSS in " ".join(p.text)  # shown as text
    assert f"A {XSS} test &amp; more".replace("<", "&lt;").replace(">", "&gt;") in html
    out = tmp_path / "xss.pdf"
    r.write_pdf(out)
    _n, text, _pages = pdf_text(out)
    assert XSS in text and f"note {XSS}" in text and f"A {XSS} test & more" in text
    folder = tmp_path / "xss-folder"
    r.write_folder(folder)
    assert "<script>" not in (folder / "index.html").read_text(encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["title"] == XSS  # JSON keeps the text; it is data, not markup


def test_a_chart_that_fails_does_not_sink_the_report(mini_model, tmp_path):
    from views.report_render import ReportRenderer, ensure_qapp

    ensure_qapp()

    def broken(section, chart):
        raise RuntimeError("no chart")

    r = ReportRenderer(mini_model, chart_factory=broken)
    html = r.html("single")
    assert "This chart could not be drawn." in html
    r.write_pdf(tmp_path / "x.pdf")
    assert (tmp_path / "x.pdf").stat().st_size > 0


def test_two_studies_in_one_report(report_project, tmp_path):
    from engine import open_project
    from engine.report.model import build_report
    from views.report_render import ReportRenderer, ensure_qapp

    ensure_qapp()
    model = build_report(open_project(report_project))
    assert [s.name for s in model.included_studies] == ["mini", "xss"]
    assert {f.study for f in model.key_findings} == {"mini", "xss"}
    for section in model.included_studies:  # the box summarises: each study's first findings, the rest in its section
        mine = [f for f in model.key_findings if f.study == section.name]
        assert mine == section.findings[:3] and len(section.findings) >= len(mine)
    assert model.title == "proj: comparative study report"
    r = ReportRenderer(model)
    p = parse(r.html("single"))
    assert {"study-mini", "study-xss", "scorecard-mini", "scorecard-xss"} <= p.ids
    r.write_pdf(tmp_path / "two.pdf")
    n, text, _ = pdf_text(tmp_path / "two.pdf")
    assert n >= 6 and "Scorecard: Which small digits model copes with noise?" in text


def test_a_box_taller_than_a_page_breaks_between_its_parts(tmp_path):
    """Forty key findings over seven studies made one shaded box 1,545 points tall: reportlab refused the whole
    PDF (LayoutError). A box is one table row per flowable, so it breaks between them."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    from views.pdf_kit import boxed

    body = getSampleStyleSheet()["BodyText"]
    parts = [Paragraph(f"Finding {i}: " + "a sentence with numbers and an interval, " * 6, body) for i in range(80)]
    doc = SimpleDocTemplate(str(tmp_path / "tall.pdf"))
    doc.build([boxed(parts, HexColor("#EEF4FA"), HexColor("#005A8C"))])
    assert doc.page >= 3 and (tmp_path / "tall.pdf").stat().st_size > 0
