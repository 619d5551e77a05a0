"""Building blocks of Juxta's PDFs (reportlab): page geometry and palette, embedded fonts,
paragraph styles, flowables that keep figures whole, the numbered page template, table builders.

Every string passes through ``esc`` (or ``plain``) before it reaches reportlab's paragraph markup.
"""

from __future__ import annotations

import io
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as _canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, Paragraph, Table, TableStyle

from engine.report.schema import Table as ModelTable

PAGE_W, PAGE_H = A4
MARGIN_X = 20 * mm
MARGIN_TOP = 20 * mm
MARGIN_BOTTOM = 20 * mm
CONTENT_W = PAGE_W - 2 * MARGIN_X
MAX_FIG_H = 94 * mm

INK = colors.HexColor("#1F2328")
MUTED = colors.HexColor("#5B6470")
FAINT = colors.HexColor("#8A93A0")
LINE = colors.HexColor("#DFE3E8")
SOFT = colors.HexColor("#F5F7F9")
ZEBRA = colors.HexColor("#FAFBFC")
ACCENT = colors.HexColor("#0072B2")
ACCENT_INK = colors.HexColor("#005A8C")
ACCENT_SOFT = colors.HexColor("#EAF3FA")
ACCENT_DARK = colors.HexColor("#0B4F7C")
ORANGE = colors.HexColor("#E69F00")
ORANGE_SOFT = colors.HexColor("#FFF6E0")
ORANGE_INK = colors.HexColor("#A15C00")


# ---------------------------------------------------------------------------------------------
# fonts


def _font_dirs() -> list[Path]:
    here = Path(__file__).resolve().parents[1] / "assets" / "fonts"
    dirs = [here, Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
            Path("/usr/share/fonts/TTF"), Path("/usr/local/share/fonts"), Path.home() / ".fonts",
            Path.home() / "Library/Fonts", Path("/Library/Fonts")]
    if sys.platform == "win32":
        dirs.append(Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts")
    return dirs


_SANS_SETS = [
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf"),
    ("segoeui.ttf", "segoeuib.ttf", "segoeuii.ttf", "segoeuiz.ttf"),
    ("Arial.ttf", "Arial Bold.ttf", "Arial Italic.ttf", "Arial Bold Italic.ttf"),
]
_MONO_FILES = ("DejaVuSansMono.ttf", "consola.ttf", "Courier New.ttf")


@lru_cache(maxsize=1)
def fonts() -> dict[str, Any]:
    """Register the report fonts once: a Unicode sans family and a monospace font. Falls back to
    reportlab's bundled Bitstream Vera (and Courier) where no better font is installed."""
    found = None
    for names in _SANS_SETS:
        for d in _font_dirs():
            paths = [d / n for n in names]
            if all(p.is_file() for p in paths):
                found = paths
                break
        if found:
            break
    if found is None:
        import reportlab

        base = Path(reportlab.__file__).parent / "fonts"
        found = [base / "Vera.ttf", base / "VeraBd.ttf", base / "VeraIt.ttf", base / "VeraBI.ttf"]
    names = ["JuxtaSans", "JuxtaSans-Bold", "JuxtaSans-Italic", "JuxtaSans-BoldItalic"]
    for name, path in zip(names, found):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(path)))
    pdfmetrics.registerFontFamily("JuxtaSans", normal=names[0], bold=names[1], italic=names[2], boldItalic=names[3])
    mono = "Courier"
    for n in _MONO_FILES:
        for d in _font_dirs():
            if (d / n).is_file():
                if "JuxtaMono" not in pdfmetrics.getRegisteredFontNames():
                    pdfmetrics.registerFont(TTFont("JuxtaMono", str(d / n)))
                mono = "JuxtaMono"
                break
        if mono != "Courier":
            break
    face = pdfmetrics.getFont("JuxtaSans").face
    mono_chars = set(pdfmetrics.getFont(mono).face.charToGlyph) if mono == "JuxtaMono" else None
    return {"sans": "JuxtaSans", "bold": "JuxtaSans-Bold", "italic": "JuxtaSans-Italic", "mono": mono,
            "chars": set(face.charToGlyph), "mono_chars": mono_chars}


_SUBSTITUTES = {"\u03b1": "alpha", "\u03c1": "rho", "\u2192": "->", "\u0394": "delta", "\u2713": "v", "\u2191": "(up)",
                "\u2193": "(down)", "\u25cf": "", "\u2212": "-", "\u2011": "-", "\u00b2": "2"}


def plain(text: Any, mono: bool = False) -> str:
    """Text the chosen font can draw: characters it lacks become readable substitutes."""
    s = "" if text is None else str(text)
    f = fonts()
    chars = f["mono_chars"] if mono else f["chars"]
    if mono and chars is None:  # Courier: Latin-1 only
        return "".join(ch if ord(ch) < 256 or ch == "\n" else _SUBSTITUTES.get(ch, "?") for ch in s)
    return "".join(ch if ord(ch) in chars or ch in "\n\t" else _SUBSTITUTES.get(ch, "?") for ch in s)


def esc(text: Any) -> str:
    """Escape text for reportlab's paragraph markup (user text never becomes markup)."""
    return _xml_escape(plain(text), {'"': "&quot;"})


# ---------------------------------------------------------------------------------------------
# styles


@lru_cache(maxsize=1)
def styles() -> dict[str, ParagraphStyle]:
    f = fonts()
    base = ParagraphStyle("body", fontName=f["sans"], fontSize=9.4, leading=13.6, textColor=INK, spaceAfter=5)
    s = {
        "body": base,
        "lead": ParagraphStyle("lead", parent=base, fontSize=10.4, leading=15, spaceAfter=6),
        "small": ParagraphStyle("small", parent=base, fontSize=8.2, leading=11.2, textColor=MUTED),
        "caption": ParagraphStyle("caption", parent=base, fontSize=8, leading=11, textColor=MUTED, spaceBefore=3, spaceAfter=0),
        "kicker": ParagraphStyle("kicker", parent=base, fontName=f["bold"], fontSize=7.6, leading=10, textColor=ACCENT_INK,
                                 spaceAfter=2, keepWithNext=1),
        "H1": ParagraphStyle("H1", parent=base, fontName=f["bold"], fontSize=19, leading=23, spaceBefore=0, spaceAfter=10,
                             textColor=INK, keepWithNext=1),
        "H2": ParagraphStyle("H2", parent=base, fontName=f["bold"], fontSize=12.4, leading=16, spaceBefore=14, spaceAfter=6,
                             textColor=INK, keepWithNext=1),
        "H3": ParagraphStyle("H3", parent=base, fontName=f["bold"], fontSize=9.8, leading=13, spaceBefore=4, spaceAfter=3),
        "fig_title": ParagraphStyle("fig_title", parent=base, fontName=f["bold"], fontSize=9.6, leading=13, spaceAfter=4),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10.2, spaceAfter=0),
        "cell_r": ParagraphStyle("cell_r", parent=base, fontSize=8, leading=10.2, spaceAfter=0, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=base, fontName=f["bold"], fontSize=7.2, leading=9, textColor=MUTED, spaceAfter=0),
        "head_r": ParagraphStyle("head_r", parent=base, fontName=f["bold"], fontSize=7.2, leading=9, textColor=MUTED,
                                 spaceAfter=0, alignment=TA_RIGHT),
        "finding": ParagraphStyle("finding", parent=base, fontSize=9.8, leading=14.2, spaceAfter=3),
        "findings_h": ParagraphStyle("findings_h", parent=base, fontName=f["bold"], fontSize=14, leading=18, textColor=ACCENT_INK,
                                     spaceAfter=6),
        "mono": ParagraphStyle("mono", parent=base, fontName=f["mono"], fontSize=6.9, leading=9, textColor=INK, spaceAfter=0),
        "pre": ParagraphStyle("pre", parent=base, fontName=f["mono"], fontSize=7.2, leading=9.6, textColor=INK,
                              backColor=SOFT, borderPadding=(6, 8, 6, 8), spaceBefore=6, spaceAfter=12, leftIndent=8,
                              rightIndent=8),
        "cover_brand": ParagraphStyle("cover_brand", parent=base, fontName=f["bold"], fontSize=8, leading=11,
                                      textColor=colors.white),
        "cover_title": ParagraphStyle("cover_title", parent=base, fontName=f["bold"], fontSize=27, leading=32,
                                      textColor=colors.white, spaceAfter=6),
        "cover_sub": ParagraphStyle("cover_sub", parent=base, fontSize=12, leading=16, textColor=colors.HexColor("#E3F0FA")),
        "cover_meta_k": ParagraphStyle("cover_meta_k", parent=base, fontName=f["bold"], fontSize=7, leading=9,
                                       textColor=colors.HexColor("#CFE5F5")),
        "cover_meta_v": ParagraphStyle("cover_meta_v", parent=base, fontName=f["bold"], fontSize=10, leading=13,
                                       textColor=colors.white),
        "glance_v": ParagraphStyle("glance_v", parent=base, fontName=f["bold"], fontSize=17, leading=20, textColor=ACCENT_INK,
                                   spaceAfter=0),
        "glance_k": ParagraphStyle("glance_k", parent=base, fontSize=7.8, leading=10, textColor=MUTED, spaceAfter=0),
        "toc0": ParagraphStyle("toc0", parent=base, fontName=f["bold"], fontSize=10, leading=15, leftIndent=0),
        "toc1": ParagraphStyle("toc1", parent=base, fontSize=9, leading=13, leftIndent=14, textColor=MUTED),
        "gl_term": ParagraphStyle("gl_term", parent=base, fontName=f["bold"], fontSize=8.8, leading=12, spaceAfter=0),
        "gl_text": ParagraphStyle("gl_text", parent=base, fontSize=8.8, leading=12, spaceAfter=0, textColor=colors.HexColor("#333A42")),
        "comment_k": ParagraphStyle("comment_k", parent=base, fontName=f["bold"], fontSize=6.8, leading=9, textColor=ORANGE_INK,
                                    spaceAfter=1),
        "comment": ParagraphStyle("comment", parent=base, fontSize=8.8, leading=12.4, spaceAfter=2),
    }
    return s


# ---------------------------------------------------------------------------------------------
# flowables and canvas


class PngFigure(Flowable):
    """A PNG drawn at a fixed size (the same image object on every build pass)."""

    def __init__(self, png: bytes, width: float, height: float):
        super().__init__()
        self.reader = ImageReader(io.BytesIO(png))
        self.width, self.height = width, height
        self.hAlign = "CENTER"

    def wrap(self, availWidth, availHeight):
        return self.width, self.height

    def draw(self):
        self.canv.drawImage(self.reader, 0, 0, self.width, self.height, mask="auto")


class CoverBand(Flowable):
    """The title-page band, first flowable of the cover frame (which starts ``pad_top`` below the page
    top): a gradient drawn edge to edge behind the title, subtitle and metadata."""

    def __init__(self, content: list[Flowable], palette: list[str], pad_top: float = 22 * mm, pad_bottom: float = 11 * mm):
        super().__init__()
        self.content, self.palette = content, palette
        self.pad_top, self.pad_bottom = pad_top, pad_bottom
        self._sizes: list[tuple[float, float]] = []

    def wrap(self, availWidth, availHeight):
        self._sizes = [f.wrap(availWidth, availHeight) for f in self.content]
        h = sum(sh + f.getSpaceBefore() + f.getSpaceAfter() for f, (_w, sh) in zip(self.content, self._sizes))
        self.width, self.height = availWidth, h + self.pad_bottom
        return self.width, self.height

    def draw(self):
        c = self.canv
        top = self.height + self.pad_top
        c.saveState()
        path = c.beginPath()
        path.rect(-MARGIN_X, 0, PAGE_W, top + 2)
        c.clipPath(path, stroke=0, fill=0)
        c.linearGradient(-MARGIN_X, 0, PAGE_W - MARGIN_X, top, (ACCENT_DARK, ACCENT, colors.HexColor("#2A8FC9")),
                         positions=(0, 0.62, 1), extend=True)
        c.restoreState()
        c.saveState()  # the palette's colour dots, as in the app's legends
        x = 0.0
        y = self.height + self.pad_top * 0.45
        for col in self.palette:
            c.setFillColor(colors.HexColor(col))
            c.setStrokeColor(colors.white)
            c.setLineWidth(1.1)
            c.circle(x + 4, y, 3.4, stroke=1, fill=1)
            x += 11
        c.restoreState()
        y = self.height
        for fl, (_w, h) in zip(self.content, self._sizes):
            y -= fl.getSpaceBefore() + h
            fl.drawOn(c, 0, y)
            y -= fl.getSpaceAfter()


def numbered_canvas(title: str, project: str):
    f = fonts()
    footer_left = plain(f"{title} \u00b7 {project}" if project else title)
    if len(footer_left) > 90:
        footer_left = footer_left[:89] + "\u2026"

    class NumberedCanvas(_canvas.Canvas):
        """Defers page drawing to the end so each footer can say 'Page N of M'."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            n = self._pageNumber
            self.saveState()
            self.setStrokeColor(LINE)
            self.setLineWidth(0.6)
            y = MARGIN_BOTTOM - 8 * mm
            self.line(MARGIN_X, y + 10, PAGE_W - MARGIN_X, y + 10)
            self.setFont(f["sans"], 7.6)
            self.setFillColor(FAINT)
            self.drawString(MARGIN_X, y, footer_left)
            self.setFillColor(MUTED)
            self.drawRightString(PAGE_W - MARGIN_X, y, f"Page {n} of {total}")
            self.restoreState()

    return NumberedCanvas


class ReportDoc(BaseDocTemplate):
    """Adds TOC entries and PDF bookmarks for H1/H2 headings."""

    def __init__(self, filename, **kw):
        super().__init__(filename, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
                         bottomMargin=MARGIN_BOTTOM, **kw)
        body = Frame(MARGIN_X, MARGIN_BOTTOM, CONTENT_W, PAGE_H - MARGIN_TOP - MARGIN_BOTTOM, id="body",
                     leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        cover = Frame(MARGIN_X, MARGIN_BOTTOM, CONTENT_W, PAGE_H - MARGIN_BOTTOM - 22 * mm, id="cover",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        self.addPageTemplates([PageTemplate("cover", [cover]), PageTemplate("body", [body])])
        self._heading_no = 0

    def beforeDocument(self):
        self._heading_no = 0  # the same bookmark keys on every pass, so the contents settle

    def afterFlowable(self, flowable):
        if not isinstance(flowable, Paragraph):
            return
        level = {"H1": 0, "H2": 1}.get(flowable.style.name)
        if level is None or getattr(flowable, "_no_toc", False):
            return
        text = flowable.getPlainText()
        self._heading_no += 1
        key = f"h{self._heading_no}"
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(text, key, level=level, closed=level > 0)
        self.notify("TOCEntry", (level, _xml_escape(text), self.page, key))


# ---------------------------------------------------------------------------------------------
# building blocks


def paragraph(text: str, style: str) -> Paragraph:
    return Paragraph(esc(text), styles()[style])


def heading(text: str, level: int) -> Paragraph:
    return Paragraph(esc(text), styles()["H1" if level == 0 else "H2"])


def boxed(flowables: list[Flowable], background, bar, pad: float = 9) -> Table:
    """A shaded box with a bar on its left; one table row per flowable, so a box taller than a page (forty
    key findings over seven studies) breaks between its flowables instead of failing the whole PDF."""
    t = Table([[f] for f in flowables], colWidths=[CONTENT_W])
    t.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), background),
        ("LINEBEFORE", (0, 0), (0, -1), 3, bar),
        ("LEFTPADDING", (0, 0), (-1, -1), pad + 3), ("RIGHTPADDING", (0, 0), (-1, -1), pad),
        ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ("TOPPADDING", (0, 0), (-1, 0), pad), ("BOTTOMPADDING", (0, -1), (-1, -1), pad),
    ]))
    return t


def chip(colour: str | None) -> str:
    if not colour or ord("\u25cf") not in fonts()["chars"]:
        return ""
    return f'<font color="{colour}">\u25cf</font>&nbsp;'


def _cell_para(cell, align: str, colours: dict[str, str]) -> Paragraph:
    st = styles()["cell_r" if align == "r" else "cell"]
    text = esc(cell.text)
    if cell.bold:
        text = f"<b>{text}</b>"
    if cell.muted:
        text = f'<font color="#8A93A0">{text}</font>'
    if cell.arm:
        text = chip(colours.get(cell.arm)) + text
    if cell.sub:
        text += f'<br/><font size="6.6" color="#8A93A0">{esc(cell.sub)}</font>'
    return Paragraph(text, st)


def _col_widths(table: ModelTable) -> list[float]:
    n = len(table.columns)
    if table.table_id == "best":
        w = [0.2, 0.16, 0.15, 0.13, 0.16, 0.2]
    elif table.table_id in ("accuracy", "accuracy_full"):
        first = 0.28 if n <= 5 else 0.22
        w = [first] + [(1 - first) / (n - 1)] * (n - 1)
    elif table.table_id == "robustness":
        w = [0.13, 0.15, 0.16, 0.25, 0.18, 0.13]
    else:
        first = 0.16
        w = [first] + [(1 - first) / max(n - 1, 1)] * (n - 1)
    return [CONTENT_W * x for x in w[:n]]


def data_table(table: ModelTable, colours: dict[str, str]) -> Table:
    s = styles()
    head = []
    for i, col in enumerate(table.columns):
        align = table.align[i] if i < len(table.align) else "l"
        txt = chip(colours.get(col)) + esc(col) if col in colours else esc(col)
        head.append(Paragraph(txt, s["head_r" if align == "r" else "head"]))
    rows = [head]
    for r in table.rows:
        rows.append([_cell_para(c, table.align[i] if i < len(table.align) else "l", colours) for i, c in enumerate(r)])
    t = Table(rows, colWidths=_col_widths(table), repeatRows=1, hAlign="LEFT")
    t.setStyle(_ruled_style(len(rows), top=3.2, bottom=3.6))
    return t


def _ruled_style(n_rows: int, top: float, bottom: float) -> TableStyle:
    """A header rule, hairlines between rows, zebra stripes: the look of every results table."""
    style = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 1.1, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, LINE),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), top), ("BOTTOMPADDING", (0, 0), (-1, -1), bottom),
    ]
    style += [("BACKGROUND", (0, i), (-1, i), ZEBRA) for i in range(2, n_rows, 2)]
    return TableStyle(style)


def kv_table(pairs: list[tuple[str, str]], widths=(0.34, 0.66), mono_values: bool = False) -> Table:
    s = styles()
    rows = [[Paragraph(esc(k), s["cell"]), Paragraph(esc(v), s["mono"] if mono_values else s["cell"])] for k, v in pairs]
    t = Table(rows, colWidths=[CONTENT_W * widths[0], CONTENT_W * widths[1]], hAlign="LEFT", repeatRows=0)
    t.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE),
        ("TEXTCOLOR", (0, 0), (0, -1), MUTED),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 2.6), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return t


def simple_table(header: list[str], rows: list[list[Any]], widths: list[float], mono_cols: set[int] = frozenset(),
                  right_cols: set[int] = frozenset()) -> Table:
    s = styles()
    data = [[Paragraph(esc(h), s["head_r" if i in right_cols else "head"]) for i, h in enumerate(header)]]
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            if isinstance(v, Flowable):
                cells.append(v)
            elif i in mono_cols:
                cells.append(Paragraph(esc(v), s["mono"]))
            else:
                cells.append(Paragraph(esc(v), s["cell_r" if i in right_cols else "cell"]))
        data.append(cells)
    t = Table(data, colWidths=[CONTENT_W * w for w in widths], repeatRows=1, hAlign="LEFT")
    t.setStyle(_ruled_style(len(data), top=2.6, bottom=3.2))
    return t


# ---------------------------------------------------------------------------------------------
# flowables for the document


class Group(Flowable):
    """A list of flowables that may split across pages (used for long tables)."""

    def __init__(self, flowables: list[Flowable]):
        super().__init__()
        self.flowables = flowables

    def wrap(self, availWidth, availHeight):
        self._sizes = [f.wrap(availWidth, availHeight) for f in self.flowables]
        self.width = availWidth
        self.height = sum(h + f.getSpaceBefore() + f.getSpaceAfter() for f, (_w, h) in zip(self.flowables, self._sizes))
        return self.width, self.height

    def split(self, availWidth, availHeight):
        return list(self.flowables)

    def draw(self):
        y = self.height
        for f, (_w, h) in zip(self.flowables, self._sizes):
            y -= f.getSpaceBefore() + h
            f.drawOn(self.canv, 0, y)
            y -= f.getSpaceAfter()
