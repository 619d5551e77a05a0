"""The PDF format of a report, built with reportlab from the report model.

Selectable text (TrueType fonts, subset-embedded), "Page N of M" in every footer, a title page, a
table of contents with PDF bookmarks, figures kept together with their titles, captions and comments
(never split across pages), tables whose header row repeats on every page. Every string from the
model is escaped before it reaches reportlab's paragraph markup, so a study called
``<script>alert(1)</script>`` prints as exactly that text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak, Flowable, KeepTogether, ListFlowable, ListItem, NextPageTemplate, PageBreak, Paragraph, Preformatted,
    Spacer, Table, TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from engine.report.schema import ChartRef, ReportModel, StudySection
from views.pdf_kit import (
    ACCENT,
    ACCENT_SOFT,
    CONTENT_W,
    LINE,
    MAX_FIG_H,
    ORANGE,
    ORANGE_SOFT,
    CoverBand,
    Group,
    PngFigure,
    ReportDoc,
    boxed,
    chip,
    data_table,
    esc,
    fonts,
    heading,
    kv_table,
    numbered_canvas,
    paragraph,
    plain,
    simple_table,
    styles,
)
from views.report_parts import arm_colours, body_tables, fmt_duration, glance, scorecard


class FigureSource(Protocol):
    """Where the PDF's charts come from (``views.report_render.ReportRenderer``, which calls this module)."""

    def figure(self, section: StudySection, chart: ChartRef) -> Any: ...


def build_pdf(model: ReportModel, renderer: FigureSource, out: Path) -> Path:
    s = styles()
    f = fonts()
    studies = model.included_studies
    story: list[Flowable] = []

    # -- title page --------------------------------------------------------------------------
    band: list[Flowable] = [Paragraph("JUXTA REPORT \u00b7 COMPARATIVE MODEL STUDY", s["cover_brand"]), Spacer(1, 10),
                            Paragraph(esc(model.title), s["cover_title"])]
    questions = [st.question for st in studies if st.question and st.question != model.title]
    if questions:
        band.append(Paragraph(esc(" \u00b7 ".join(questions)), s["cover_sub"]))
    meta = []
    if model.author:
        meta.append(("AUTHOR", model.author))
    meta += [("DATE", model.date), ("PROJECT", model.project),
             ("STUDIES" if len(studies) > 1 else "STUDY", ", ".join(st.name for st in studies))]
    cells = [[Paragraph(esc(k), s["cover_meta_k"]), Paragraph(esc(v), s["cover_meta_v"])] for k, v in meta]
    weights = [max(8, min(len(plain(v)), 40)) for _k, v in meta]
    mt = Table([[c for c in cells]], colWidths=[CONTENT_W * w / sum(weights) for w in weights], hAlign="LEFT")
    mt.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                            ("TOPPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    band += [Spacer(1, 16), mt]
    from views.charts import OKABE_ITO

    story.append(CoverBand(band, OKABE_ITO[:6]))
    story.append(Spacer(1, 16))
    g = glance(model)
    if g:
        gcells = [[Paragraph(esc(v), s["glance_v"]), Paragraph(esc(k), s["glance_k"])] for v, k in g]
        gt = Table([gcells], colWidths=[CONTENT_W / len(gcells)] * len(gcells), hAlign="LEFT")
        gt.setStyle(TableStyle([
            ("LINEBEFORE", (1, 0), (-1, -1), 0.6, LINE), ("LEFTPADDING", (0, 0), (-1, -1), 10),
            ("LEFTPADDING", (0, 0), (0, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        story += [gt, Spacer(1, 14)]
    if model.introduction:
        p = Paragraph("Introduction", s["H2"])
        p._no_toc = True
        story.append(p)
        for para in [x.strip() for x in model.introduction.split("\n\n") if x.strip()]:
            story.append(Paragraph(esc(para).replace("\n", "<br/>"), s["lead"]))
        story.append(Spacer(1, 6))
    contents = Paragraph("Contents", s["H2"])
    contents._no_toc = True
    toc = TableOfContents(dotsMinLevel=0)
    toc.levelStyles = [s["toc0"], s["toc1"]]
    story += [contents, toc]
    story.append(NextPageTemplate("body"))
    story.append(PageBreak())

    # -- key findings ------------------------------------------------------------------------
    story.append(heading("Key findings", 0))
    items = []  # one numbered list per finding: the box may break between them
    for number, fd in enumerate(model.key_findings, start=1):
        tag = f'<font color="#005A8C"><b>{esc(fd.study)}</b></font> \u00b7 ' if len(studies) > 1 else ""
        items.append(ListFlowable([ListItem(Paragraph(tag + esc(fd.text), s["finding"]), leftIndent=16, value=number)],
                                  bulletType="1", start=number, bulletFontName=f["bold"], bulletColor=ACCENT,
                                  bulletFontSize=9.8, leftIndent=16, bulletDedent=16))
    if items:
        story.append(boxed(items, ACCENT_SOFT, ACCENT, pad=11))
    else:
        story.append(paragraph("The studies in this report have no results to summarise yet.", "body"))
    level = studies[0].level if studies else 0.95
    lv = f"{100 * level:g}%"
    for st in studies:
        card = scorecard(st)
        if card is None:
            continue
        title = "Scorecard" + (f": {st.title}" if len(studies) > 1 else "")
        hp = Paragraph(esc(title), s["H2"])
        hp._no_toc = True
        story.append(KeepTogether([hp, data_table(card, arm_colours(st)), Paragraph(esc(card.caption), s["caption"])]))
    story.append(Spacer(1, 6))
    how = [
        f"Every accuracy comes with its {lv} interval: the range compatible with the test data. Narrow intervals mean "
        "the test set pins the number down.",
        "Two models are compared on the same test examples (paired bootstrap and McNemar's test). A difference whose "
        "interval contains zero is reported as within noise: the data cannot tell those models apart.",
        "Each model keeps one colour and marker shape in every chart and table (a colour-blind-safe palette).",
        "The methods glossary explains each corruption, shift and metric; the appendix lists everything needed to "
        "reproduce the numbers.",
    ]
    hp = Paragraph("How to read this report", s["H2"])
    hp._no_toc = True
    story.append(hp)
    story.append(ListFlowable([ListItem(Paragraph(esc(t), s["body"]), leftIndent=12) for t in how], bulletType="bullet",
                              start="\u2022", bulletColor=ACCENT, leftIndent=12))

    # -- studies -----------------------------------------------------------------------------
    fig_no = 0
    for st in studies:
        colours = arm_colours(st)
        story.append(PageBreak())
        story.append(Paragraph(esc(f"STUDY \u00b7 {st.name} \u00b7 {st.kind}".upper() if st.name.isascii() else
                                   f"Study \u00b7 {st.name} \u00b7 {st.kind}"), s["kicker"]))
        story.append(heading(st.title, 0))
        story.append(heading("What was compared and why", 1))
        if st.description:
            story.append(paragraph(st.description, "lead"))
        story.append(paragraph(st.description_in_words, "body"))
        arm_rows = []
        for a in st.compared:
            name = Paragraph(chip(colours.get(a.id)) + f"<b>{esc(a.id)}</b>", s["cell"])
            arm_rows.append([name, Paragraph(esc(a.source), s["mono"]), a.words, f"{a.n_params:,}" if a.n_params else "\u2014"])
        story.append(Spacer(1, 4))
        story.append(simple_table(["Model", "Source", "What it is", "Parameters"], arm_rows, [0.13, 0.22, 0.5, 0.15],
                                   right_cols={3}))
        if st.data_words:
            story.append(Spacer(1, 4))
            story.append(paragraph(f"Data: {st.data_words}", "small"))
        for n in st.notes:
            story.append(Spacer(1, 4))
            story.append(boxed([paragraph(n, "small")], ORANGE_SOFT, ORANGE, pad=6))
        if len(studies) > 1 and st.findings:
            story.append(Spacer(1, 8))
            fl = [Paragraph("Findings for this study", s["H3"])] + [Paragraph("\u2022 " + esc(x.text), s["body"]) for x in st.findings]
            story.append(boxed(fl, ACCENT_SOFT, ACCENT, pad=8))

        if st.included_charts:
            story.append(CondPageBreak(90 * mm))
            pending: list[Flowable] = [heading("Charts", 1)]  # kept with the first figure
            for c in st.included_charts:
                fig = renderer.figure(st, c)
                fig_no += 1
                block: list[Flowable] = [Paragraph(f'<font color="#005A8C">Figure {fig_no}</font>&nbsp;&nbsp;{esc(c.title)}',
                                                   s["fig_title"])]
                if fig.png is not None:
                    w = CONTENT_W
                    h = w * fig.height / fig.width
                    if h > MAX_FIG_H:
                        h = MAX_FIG_H
                        w = h * fig.width / fig.height
                    block.append(PngFigure(fig.png, w, h))
                else:
                    block.append(paragraph("This chart could not be drawn.", "small"))
                cap = " ".join(x for x in (fig.description, c.caption) if x)
                if cap:
                    block.append(Paragraph(esc(cap), s["caption"]))
                if c.comment:
                    paras = [Paragraph("COMMENT", s["comment_k"])] + [
                        Paragraph(esc(x).replace("\n", "<br/>"), s["comment"]) for x in c.comment.split("\n\n") if x.strip()]
                    block += [Spacer(1, 5), boxed(paras, ORANGE_SOFT, ORANGE, pad=6)]
                block.append(Spacer(1, 14))
                story.append(KeepTogether(pending + block))
                pending = []

        tables = body_tables(st)
        if tables:
            story.append(CondPageBreak(70 * mm))
            pending = [heading("Tables", 1)]  # kept with the first table
            for t in tables:
                block = pending + [Paragraph(esc(t.title), s["H3"]), data_table(t, colours),
                                   Paragraph(esc(t.caption), s["caption"]), Spacer(1, 14)]
                pending = []
                # short tables stay whole; long ones split between rows and repeat their header
                story.append(KeepTogether(block) if len(t.rows) <= 22 else Group(block))

    # -- glossary ----------------------------------------------------------------------------
    story.append(CondPageBreak(150 * mm))
    story.append(Spacer(1, 10))
    story.append(heading("Methods glossary", 0))
    story.append(paragraph("Each corruption, shift, metric and statistical term used in this report, in plain words.", "body"))
    story.append(Spacer(1, 4))
    gl_rows = [[Paragraph(esc(term), s["gl_term"]), Paragraph(esc(text), s["gl_text"])] for term, text in model.glossary]
    gtab = Table(gl_rows, colWidths=[CONTENT_W * 0.28, CONTENT_W * 0.72], hAlign="LEFT")
    gtab.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 10),
                              ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    story.append(gtab)

    # -- appendix ----------------------------------------------------------------------------
    a = model.appendix
    story.append(CondPageBreak(150 * mm))
    story.append(Spacer(1, 10))
    story.append(heading("Reproducibility appendix", 0))
    story.append(paragraph("Everything needed to reproduce or audit these numbers: the study files as they were run, the identity "
                    "and hash of every model and dataset, the software, devices, seeds and run times.", "body"))
    story.append(heading("Software and devices", 1))
    story.append(kv_table([
        ("Juxta (studies run with)", a.juxta_version), ("Juxta (report written with)", a.report_juxta_version),
        ("Devices", ", ".join(a.devices) or "\u2014"),
        ("Seeds", "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in a.seeds.items())),
        ("Report generated", a.generated),
    ]))
    story.append(Spacer(1, 8))
    pk = sorted(set(a.packages) | set(a.report_packages), key=str.lower)
    story.append(simple_table(["Package", "Used by the runs", "Wrote this report"],
                               [[k, a.packages.get(k, "\u2014"), a.report_packages.get(k, "\u2014")] for k in pk],
                               [0.34, 0.33, 0.33]))
    story.append(heading("Runs and compute time", 1))
    story.append(simple_table(
        ["Study", "Run", "Started", "Duration", "Status", "Backend", "Computed / reused / failed"],
        [[r["study"], r["run_id"], r["started"], fmt_duration(r["duration_s"]), r["status"],
          f"{r['backend']}" + (f" \u00d7 {r['workers']}" if r.get("workers") else "") + (f" ({r['devices']})" if r.get("devices") else ""),
          f"{r['computed']} / {r['skipped']} / {r['failed']}"] for r in a.runs],
        [0.13, 0.13, 0.2, 0.1, 0.09, 0.17, 0.18], mono_cols={1}, right_cols={3, 6}))
    story.append(Spacer(1, 8))
    story.append(simple_table(["Study", "Cell type", "Cells", "Total compute", "Mean per cell"],
                               [[c["study"], c["type"], str(c["cells"]), fmt_duration(c["total_s"]), fmt_duration(c["mean_s"])]
                                for c in a.compute], [0.24, 0.19, 0.15, 0.21, 0.21], right_cols={2, 3, 4}))
    story.append(heading("Models", 1))
    mrows = []
    for r in a.models:
        ident = esc(r.get("identity") or "\u2014")
        if r.get("sha256"):
            ident += f'<br/><font color="#5B6470">sha256 {esc(r["sha256"])}</font>'
        mrows.append([r["study"], r["arm"], str(r["seed"]), Paragraph(esc(r.get("source", "")), s["mono"]),
                      Paragraph(ident, s["mono"])])
    story.append(simple_table(["Study", "Model", "Seed", "Source", "Identity \u00b7 weights (SHA-256)"], mrows,
                               [0.12, 0.08, 0.06, 0.18, 0.56], right_cols={2}))
    story.append(heading("Datasets", 1))
    story.append(simple_table(
        ["Study", "Source", "Split", "Fingerprint (SHA-256 of the evaluated examples)"],
        [[d["study"], Paragraph(esc(d["source"]), s["mono"]),
          f"{d['split']}" + (f" (split seed {d['split_seed']})" if d.get("split_seed") is not None else ""),
          d.get("fingerprint") or "\u2014"] for d in a.data],
        [0.12, 0.18, 0.2, 0.5], mono_cols={3}))
    story.append(heading("Study files", 1))
    for sf in a.study_files:
        line = f"{sf['filename']} \u00b7 SHA-256 {sf['sha256']}"
        story.append(paragraph(line, "small"))
        if sf.get("changed_on_disk"):
            story.append(paragraph("The file on disk has changed since this run; this is the version that was run.", "small"))
        story.append(Preformatted(plain(sf["text"], mono=True).rstrip("\n"), s["pre"], maxLineLength=110, newLineChars=""))

    doc = ReportDoc(str(out), title=plain(model.title), author=plain(model.author or "Juxta"),
                    subject=plain(f"Juxta report \u00b7 {model.project}"), creator=f"Juxta {a.report_juxta_version}")
    from reportlab import rl_config

    a85 = rl_config.useA85
    rl_config.useA85 = 0  # binary image streams: smaller files, and no slow pure-Python ASCII85 pass
    try:
        doc.multiBuild(story, canvasmaker=numbered_canvas(model.title, model.project), maxPasses=6)
    finally:
        rl_config.useA85 = a85
    return out
