"""Render a report model: charts drawn by the app's own chart definitions (offscreen), then written
as a folder, a single self-contained HTML file or a PDF.

* Charts come from the study's kind (``views.kinds.VIEW_KINDS[kind].charts()``: the same classes its
  Results page shows), exported with ``views.charts``' ``export_png`` / ``export_svg``, so a report shows
  exactly what the app draws.
* HTML comes from the Jinja2 template ``assets/report/report.html.j2`` with autoescape on: every
  string from the model (study titles, arm names, comments, the study file) is escaped. The HTML
  has no scripts and carries a Content-Security-Policy that forbids them.
* The PDF is built with reportlab by ``views.report_pdf`` (selectable text, page numbers, figures
  kept with their captions).

Everything is written inside the output path given; nothing else is touched. ``ReportRenderer``
caches rendered figures, so writing several formats from one model draws each chart once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any, Callable

from markupsafe import Markup, escape

from engine.report.schema import ChartRef, ReportModel, StudySection
from views.report_parts import arm_colours, body_tables, fmt_duration, glance, scorecard

if TYPE_CHECKING:
    from views.theme import Colours

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "report"
FORMATS = ("folder", "html", "pdf")
DEFAULT_CHART_SIZE = (720, 450)
PNG_SCALE = 2.0  # PNG pixels per logical chart pixel (about 220 dpi across an A4 text column)
HTML_CSP_SINGLE = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
HTML_CSP_FOLDER = ("default-src 'none'; img-src 'self' data: file: *; style-src 'unsafe-inline'; base-uri 'none'; "
                   "form-action 'none'")


def ensure_qapp():
    """The QApplication charts need; created offscreen when there is no display."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        if not os.environ.get("QT_QPA_PLATFORM") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
                and os.name == "posix" and not _is_macos():
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        app = QApplication([])
    return app


def _is_macos() -> bool:
    import sys

    return sys.platform == "darwin"


# ---------------------------------------------------------------------------------------------
# figures


@dataclass
class Figure:
    key: str  # "study/chart_id"
    slug: str  # file-name-safe
    png: bytes | None
    svg: bytes | None
    width: int  # logical size (CSS pixels / points at 100%)
    height: int
    description: str  # the chart definition's own one-sentence description
    error: str = ""


def slugify(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip(".-")
    return s or "figure"


def chart_size(chart: ChartRef, kind: str) -> tuple[int, int]:
    """Logical size of a chart of a ``kind`` study in a report (the app's layout at this size, scaled for
    print); the chart class says (``ReportChart.report_size``)."""
    from views.kinds import chart_class

    try:
        return chart_class(kind, chart.kind).report_size(chart)
    except KeyError:  # a chart this Juxta cannot draw: its figure says so at the usual size
        return DEFAULT_CHART_SIZE


ChartFactory = Callable[[StudySection, ChartRef], Any]


def draw_chart(section: StudySection, chart: ChartRef, theme: str = "light"):
    """The chart widget for ``chart`` of ``section``, by the section's kind (``views.kinds``), built hidden."""
    from views.kinds import chart_class

    return chart_class(section.kind, chart.kind).for_report(section.results, chart, theme)


class ReportRenderer:
    """Draws a model's charts once and writes any of the three formats.

    The exported files use the defaults (light charts laid out at :func:`chart_size`, PNGs at
    :data:`PNG_SCALE`). The app's preview passes ``theme`` (charts in the app's theme),
    ``max_width`` (charts laid out no wider than the preview column, so their text keeps its size
    instead of being shrunk with the image) and ``png_scale`` = the screen's device pixel ratio."""

    def __init__(self, model: ReportModel, *, png_scale: float = PNG_SCALE, svg: bool = True,
                 chart_factory: ChartFactory | None = None, theme: str = "light", max_width: int | None = None):
        self.model = model
        self.png_scale = png_scale
        self.want_svg = svg
        self.max_width = max_width
        self._factory = chart_factory or partial(draw_chart, theme=theme)
        self._figures: dict[str, Figure] = {}

    # -- figures -------------------------------------------------------------------------------

    def figure(self, section: StudySection, chart: ChartRef) -> Figure:
        key = f"{section.name}/{chart.chart_id}"
        if key not in self._figures:
            self._figures[key] = self._render(section, chart, key)
        return self._figures[key]

    def figures(self) -> list[tuple[StudySection, ChartRef, Figure]]:
        """Every included chart of every included study, in report order."""
        return [(s, c, self.figure(s, c)) for s in self.model.included_studies for c in s.included_charts]

    def _render(self, section: StudySection, chart: ChartRef, key: str) -> Figure:
        w, h = chart_size(chart, section.kind)
        if self.max_width and w > self.max_width:
            w, h = self.max_width, round(h * self.max_width / w)
        slug = slugify(f"{section.name}-{chart.chart_id.replace(':', '-')}")
        try:
            ensure_qapp()
            from views import charts as C

            widget = self._factory(section, chart)
            description = str(getattr(widget, "description", "") or "")
            with tempfile.TemporaryDirectory(prefix="juxta-fig-") as tmp:
                png_path = Path(tmp) / "f.png"
                C.export_png(widget, png_path, width=int(w * self.png_scale), size=(w, h))
                png = png_path.read_bytes()
                svg = None
                if self.want_svg:
                    svg_path = Path(tmp) / "f.svg"
                    C.export_svg(widget, svg_path, size=(w, h))
                    svg = svg_path.read_bytes()
            _dispose(widget)
            return Figure(key, slug, png, svg, w, h, description)
        except Exception as exc:  # a chart that cannot be drawn must not sink the whole report
            return Figure(key, slug, None, None, w, h, "", error=f"{type(exc).__name__}: {exc}")

    # -- HTML ----------------------------------------------------------------------------------

    def html(self, mode: str = "single", figure_src: Callable[[Figure], str] | None = None,
             max_figure_width: int | None = None, colours: "Colours | None" = None) -> str:
        """The report as HTML. ``mode``: 'single' (figures as data URIs), 'folder' (figures/…),
        'preview' (``figure_src`` decides, e.g. Qt resource names; styled by :func:`preview_css`
        in ``colours``, default the light theme)."""
        from jinja2 import Environment, FileSystemLoader, StrictUndefined

        env = Environment(loader=FileSystemLoader(str(ASSETS)), autoescape=True, undefined=StrictUndefined,
                          trim_blocks=False, lstrip_blocks=False)
        env.filters["paragraphs"] = _paragraphs
        model = self.model
        studies = model.included_studies
        numbers = {}
        for s in studies:
            for c in s.included_charts:
                numbers[f"{s.name}/{c.chart_id}"] = len(numbers) + 1

        def src_for(fig: Figure) -> str:
            if fig.png is None:
                return ""
            if figure_src is not None:
                return figure_src(fig)
            if mode == "folder":
                return f"figures/{fig.slug}.png"
            return "data:image/png;base64," + base64.b64encode(fig.png).decode("ascii")

        def figure(section: StudySection, chart: ChartRef) -> dict[str, Any]:
            fig = self.figure(section, chart)
            w, h = fig.width, fig.height
            if max_figure_width and w > max_figure_width:
                w, h = max_figure_width, round(h * max_figure_width / w)
            return {
                "src": src_for(fig), "slug": fig.slug, "width": w, "height": h,
                "description": fig.description, "number": numbers.get(fig.key, 0),
                "svg_href": f"figures/{fig.slug}.svg" if mode == "folder" and fig.svg is not None else "",
            }

        chips = {s.name: (set(arm_colours(s)), _chip_maker(s)) for s in studies}

        def chip(arm: str, study: str | None = None) -> Markup:
            """The arm's colour chip (of ``study``'s arms when given, else of any study's); nothing for a non-arm."""
            for name, (arms, make) in chips.items():
                if arm in arms and study in (None, name):
                    return make(arm)
            return Markup("")

        css = preview_css(colours) if mode == "preview" else (ASSETS / "report.css").read_text(encoding="utf-8")
        template = env.get_template("report.html.j2")
        level = studies[0].level if studies else 0.95
        html = template.render(
            m=model, a=model.appendix, studies=studies, figure=figure, chip=chip,
            css=Markup(css), csp={"single": HTML_CSP_SINGLE, "folder": HTML_CSP_FOLDER}.get(mode, ""),
            version=model.appendix.report_juxta_version, palette=_palette_colours(),
            glance=glance(model), level_text=f"{100 * level:g}%", duration=fmt_duration, extra_footer="",
            scorecard=scorecard, body_tables=body_tables,
        )
        if mode == "preview":
            html = _qt_rich_text(html)
        return html

    # -- writers -------------------------------------------------------------------------------

    def write_html(self, out: str | Path) -> list[Path]:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.html("single"), encoding="utf-8")
        return [out]

    def write_pdf(self, out: str | Path) -> list[Path]:
        from views.report_pdf import build_pdf

        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        build_pdf(self.model, self, out)
        return [out]

    def write_folder(self, out: str | Path) -> list[Path]:
        """index.html, figures/*.png|svg, results.csv and manifest.json (size and SHA-256 of every
        other file) inside ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []

        def put(rel: str, data: bytes) -> None:
            target = (out / rel).resolve()
            if not target.is_relative_to(out.resolve()):
                raise ValueError(f"refusing to write {rel} outside {out}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written.append(out / rel)

        for _s, _c, fig in self.figures():
            if fig.png is not None:
                put(f"figures/{fig.slug}.png", fig.png)
            if fig.svg is not None:
                put(f"figures/{fig.slug}.svg", fig.svg)
        put("index.html", self.html("folder").encode("utf-8"))
        put("results.csv", results_csv(self.model).encode("utf-8"))
        manifest = {
            "generator": f"Juxta {self.model.appendix.report_juxta_version}",
            "kind": "juxta-report",
            "created": datetime.now().astimezone().isoformat(timespec="seconds"),
            "title": self.model.title,
            "files": [_file_entry(out, p) for p in sorted(written, key=lambda p: p.relative_to(out).as_posix())],
            "note": "Every file of this report except manifest.json itself, with its size in bytes and SHA-256.",
            "report": self.model.to_dict(),
        }
        put("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        return written

    def write(self, fmt: str, out: str | Path) -> list[Path]:
        if fmt == "folder":
            return self.write_folder(out)
        if fmt == "html":
            return self.write_html(out)
        if fmt == "pdf":
            return self.write_pdf(out)
        raise ValueError(f"Unknown report format {fmt!r}; use one of {', '.join(FORMATS)}.")


# ---------------------------------------------------------------------------------------------
# helpers


_QT_BLOCKS = re.compile(r"<(/?)(figure|figcaption|aside|section|nav|header|footer)\b")
_QT_CELL_SUB = '<span class="ci">'


def preview_css(colours: "Colours | None" = None) -> str:
    """The preview's style sheet (``assets/report/preview.css``) in a theme's colours (default light)."""
    from views.theme import COLOURS

    template = Template((ASSETS / "preview.css").read_text(encoding="utf-8"))
    return template.substitute(asdict(colours or COLOURS["light"]))


def _qt_rich_text(html: str) -> str:
    """Qt's rich text treats HTML5 sectioning elements as inline; use <div>/<p> instead. A table
    cell's interval (``.ci``, a block in report.css) gets its own line, as in the PDF, instead of
    running into the value. Only the template's own tags match: user text is escaped, so it cannot
    contain a literal '<figure' or '<span class="ci">'."""
    html = html.replace(_QT_CELL_SUB, "<br>" + _QT_CELL_SUB)
    return _QT_BLOCKS.sub(lambda m: f"<{m.group(1)}{'p' if m.group(2) == 'figcaption' else 'div'}", html)


def _dispose(widget) -> None:
    """Free an offscreen chart now (no event loop runs while a report is written from the CLI)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    from views.chart_base import release_menus

    release_menus(widget)
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(widget, QEvent.Type.DeferredDelete)


def _file_entry(root: Path, path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"path": path.relative_to(root).as_posix(), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _paragraphs(text: str) -> Markup:
    """User text as escaped paragraphs (blank lines split paragraphs, single newlines become <br>)."""
    parts = [p.strip() for p in re.split(r"\n\s*\n", str(text or "")) if p.strip()]
    return Markup("".join(f"<p>{Markup('<br>').join(escape(line) for line in p.splitlines())}</p>" for p in parts))


def _palette_colours() -> list[str]:
    from views.charts import OKABE_ITO

    return OKABE_ITO[:6]


def _chip_maker(section: StudySection) -> Callable[[str], Markup]:
    colours = arm_colours(section)

    def chip(arm: str) -> Markup:
        c = colours.get(arm)
        if not c or not re.fullmatch(r"#[0-9A-Fa-f]{6}", c):
            return Markup("")
        return Markup(f'<span class="chip" style="background:{c}"></span>')

    return chip


def results_csv(model: ReportModel) -> str:
    frame = model.results_frame()
    return frame.to_csv(index=False, lineterminator="\n")


def clear_folder_report(folder: Path) -> None:
    """Remove the files a previous Juxta report folder lists in its manifest (and nothing else)."""
    manifest = folder / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    root = folder.resolve()
    for entry in data.get("files", []):
        p = (folder / str(entry.get("path", ""))).resolve()
        if p.is_relative_to(root) and p.is_file():
            p.unlink()
    manifest.unlink(missing_ok=True)
    figs = folder / "figures"
    if figs.is_dir() and not any(figs.iterdir()):
        shutil.rmtree(figs)
