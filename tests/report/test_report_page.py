"""The Report page: contents ticks, comments, live preview and export signals."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.report.conftest import XSS
from views.report_page import ReportPage


def chart_item(page, chart_id):
    top = page.tree.topLevelItem(0)
    charts = top.child(0)
    for i in range(charts.childCount()):
        if charts.child(i).data(0, Qt.ItemDataRole.UserRole)[2] == chart_id:
            return charts.child(i)
    raise KeyError(chart_id)


def test_page_options_preview_and_export(qtbot, mini_model):
    page = ReportPage()
    qtbot.addWidget(page)
    page.set_model(mini_model)
    assert all(b.isEnabled() for b in page.buttons.values())
    opts = page.options()
    assert opts["studies"] == ["mini"] and "drop" in opts["charts"]["mini"] and "best" in opts["tables"]["mini"]
    html = page.preview.toHtml()
    assert "Key findings" in html and "Relative drop from clean accuracy" in html
    assert page.preview.images  # figures drawn for the preview

    item = chart_item(page, "drop")
    item.setCheckState(0, Qt.CheckState.Unchecked)
    assert "drop" not in page.options()["charts"]["mini"]
    page.refresh_preview()
    assert "Relative drop from clean accuracy" not in page.preview.toPlainText()
    item.setCheckState(0, Qt.CheckState.Checked)

    page.tree.setCurrentItem(item)
    assert page.comment.isEnabled()
    page.comment.setPlainText(f"Look here {XSS}")
    page.title.setText("Board review")
    page.refresh_preview()
    text = page.preview.toPlainText()
    assert f"Look here {XSS}" in text and "Board review" in text
    assert page.options()["comments"] == {"mini": {"drop": f"Look here {XSS}"}}
    assert page.model().studies[0].chart("drop").comment == f"Look here {XSS}"

    with qtbot.waitSignal(page.exportRequested) as sig:
        page.buttons["pdf"].click()
    fmt, options = sig.args
    assert fmt == "pdf" and options["title"] == "Board review"


def test_page_without_model(qtbot):
    page = ReportPage()
    qtbot.addWidget(page)
    page.set_model(None)
    assert not any(b.isEnabled() for b in page.buttons.values())
    assert page.model() is None


# -- helpers ---------------------------------------------------------------------------------------

import json  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QModelIndex  # noqa: E402
from PySide6.QtGui import QColor, QPalette, QTextCursor  # noqa: E402
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem  # noqa: E402

from views.theme import COLOURS, contrast_ratio  # noqa: E402


@pytest.fixture
def themed(qapp):
    """Apply a theme by name the way the app does; the light theme is put back afterwards."""
    from app import theme

    yield lambda name: theme.apply(qapp, name)
    theme.apply(qapp, "light")


def switch(qtbot, page, themed, name: str) -> None:
    """Apply a theme and wait until the page has redrawn its preview in it (the redraw follows the
    switch from the event loop)."""
    from views.theme import current_name

    if current_name() == name:
        themed(name)
        return
    with qtbot.waitSignal(page.previewUpdated, timeout=20000):
        themed(name)


@pytest.fixture
def shown(qtbot, mini_model):
    page = ReportPage()
    qtbot.addWidget(page)
    page.resize(1280, 720)
    page.show()
    qtbot.waitExposed(page)
    page.set_model(mini_model)
    return page


def document_problems(browser, minimum: float = 4.5) -> list[str]:
    """Every text fragment of a rich-text view whose colour reads below ``minimum`` on what is
    behind it in the document: its own background, its block's, its table cell's or its frame's,
    else the view's base colour."""
    doc = browser.document()
    base = browser.viewport().palette().color(QPalette.ColorRole.Base)
    default = browser.palette().color(QPalette.ColorRole.Text)
    out = []
    block = doc.begin()
    while block.isValid():
        cursor = QTextCursor(block)
        behind = base
        frame = cursor.currentFrame()
        if frame is not None and frame.frameFormat().background().style() != Qt.BrushStyle.NoBrush:
            behind = frame.frameFormat().background().color()
        table = cursor.currentTable()
        if table is not None:
            cell = table.cellAt(cursor)
            if cell.isValid() and cell.format().background().style() != Qt.BrushStyle.NoBrush:
                behind = cell.format().background().color()
        if block.blockFormat().background().style() != Qt.BrushStyle.NoBrush:
            behind = block.blockFormat().background().color()
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            fmt = frag.charFormat()
            text = frag.text().strip().replace("\ufffc", "")
            if text:
                fg = fmt.foreground().color() if fmt.foreground().style() != Qt.BrushStyle.NoBrush else default
                bg = fmt.background().color() if fmt.background().style() != Qt.BrushStyle.NoBrush else behind
                ratio = contrast_ratio(fg, bg)
                if ratio < minimum:
                    out.append(f"“{text[:40]}”: {fg.name()} on {bg.name()} is {ratio:.2f}:1")
            it += 1
        block = block.next()
    return out


def preview_images(page) -> list[tuple[str, float, float]]:
    """(name, width, height) of every image in the preview, as the HTML lays it out (logical pixels)."""
    out = []
    block = page.preview.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isImageFormat():
                img = fmt.toImageFormat()
                out.append((img.name(), img.width(), img.height()))
            it += 1
        block = block.next()
    return out


# -- issue 8, item 3: readable in both themes ---------------------------------------------------------


def test_preview_and_controls_read_at_aa_contrast_in_both_themes(qtbot, shown, themed):
    """Dark theme: the "Charts" heading was invisible and the comment box white on cream."""
    from tests.views.contrast import low_contrast

    page = shown
    page.tree.setCurrentItem(chart_item(page, "drop"))
    page.comment.setPlainText("Worth checking before deploying on faded scans.")
    page.refresh_preview()
    problems = []
    for name in ("light", "dark", "light"):  # built in light, then switched: nothing may keep old colours
        switch(qtbot, page, themed, name)
        qtbot.wait(30)
        assert "Worth checking" in page.preview.toPlainText()
        problems += [f"{name}: {p}" for p in low_contrast(page)]
        problems += [f"{name}, preview: {p}" for p in document_problems(page.preview)]
    assert not problems, "\n".join(problems)


def test_preview_css_and_charts_follow_the_theme(qtbot, shown, themed):
    page = shown
    page.tree.setCurrentItem(chart_item(page, "drop"))
    page.comment.setPlainText("A comment in its box.")
    for name in ("dark", "light"):
        switch(qtbot, page, themed, name)
        c = COLOURS[name]
        html = page.preview.toHtml().lower()
        assert c.note_fill.lower() in html and c.accent.lower() in html  # comment box, headings and links
        other = COLOURS["light" if name == "dark" else "dark"]
        assert other.note_fill.lower() not in html
        image = next(iter(page.preview.images.values()))
        assert image.pixelColor(2, 2).name().lower() == c.surface.lower()  # charts redrawn in this theme


def test_preview_redraws_when_shown_after_a_theme_change_while_hidden(qtbot, shown, themed):
    page = shown
    page.hide()
    themed("dark")
    qtbot.waitUntil(lambda: not page.preview.images)  # the light figures are dropped, nothing drawn while hidden
    qtbot.wait(50)
    assert not page.preview.images
    with qtbot.waitSignal(page.previewUpdated, timeout=20000):
        page.show()
    image = next(iter(page.preview.images.values()))
    assert image.pixelColor(2, 2).name().lower() == COLOURS["dark"].surface.lower()


def test_unticked_boxes_stand_out_in_both_themes(qtbot, shown, themed):
    """Dark theme: unticked boxes in the contents tree could not be seen."""
    page = shown
    item = chart_item(page, "drop")
    item.setCheckState(0, Qt.CheckState.Unchecked)
    for name in ("light", "dark"):
        switch(qtbot, page, themed, name)
        tree = page.tree
        index = tree.indexFromItem(item)
        opt = QStyleOptionViewItem()
        tree.itemDelegate().initStyleOption(opt, index)
        opt.rect = tree.visualRect(index)
        opt.widget = tree
        box = tree.style().subElementRect(QStyle.SubElement.SE_ItemViewItemCheckIndicator, opt, tree)
        image = tree.viewport().grab(box.adjusted(-2, -2, 2, 2)).toImage()
        ground = QColor(tree.palette().color(QPalette.ColorRole.Base))
        best = max(contrast_ratio(image.pixelColor(x, y), ground)
                   for x in range(image.width()) for y in range(image.height()))
        assert best >= 3.0, f"{name}: the unticked box's outline reaches only {best:.2f}:1 on the tree"  # WCAG 1.4.11


def test_no_colour_is_written_into_the_page_or_the_preview_css():
    import re

    root = Path(__file__).resolve().parents[2]
    hexes = re.compile(r"#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?\b|setStyleSheet|setProperty\(\"muted\"")
    source = (root / "views" / "report_page.py").read_text(encoding="utf-8")
    found = [f"report_page.py:{i}: {line.strip()}" for i, line in enumerate(source.splitlines(), 1) if hexes.search(line)]
    css = (root / "assets" / "report" / "preview.css").read_text(encoding="utf-8")
    found += [f"preview.css:{i}: {line.strip()}" for i, line in enumerate(css.splitlines(), 1)
              if re.search(r"#[0-9A-Fa-f]{3,6}\b|rgba?\(|\b(white|black)\b", line)]
    assert not found, "\n".join(found)


# -- issue 8, item 8: the preview as legible as the PDF -------------------------------------------------


def test_scorecard_values_and_intervals_do_not_run_together(shown, mini_model):
    """The preview read "99.298.3–99.8" and "reduced contrast · 510.1%"."""
    text = shown.preview.toPlainText()
    card = mini_model.studies[0].table("robustness")
    subs = [cell for row in card.rows for cell in row if cell.sub]
    assert subs
    for cell in subs:
        value, sub = cell.text.replace("\xa0", " "), cell.sub.replace("\xa0", " ")  # Qt's plain text has no NBSP
        assert f"{value}{sub}" not in text
        assert f"{value}\n{sub}" in text  # the interval on its own line under the value, as in the PDF


@pytest.mark.parametrize("dpr", [1.0, 2.0])
def test_preview_figures_are_drawn_at_the_screens_pixel_ratio(qtbot, mini_model, monkeypatch, dpr):
    """Figures were drawn at 720 px and shrunk to 600 in the preview: jagged, "clean" read "clear"."""
    page = ReportPage()
    qtbot.addWidget(page)
    monkeypatch.setattr(page.preview, "devicePixelRatioF", lambda: dpr)
    page.set_model(mini_model)
    laid_out = preview_images(page)
    assert laid_out and len(laid_out) == len(page.preview.images)
    for name, width, height in laid_out:
        image = page.preview.images[name.split(":", 1)[1]]
        assert image.devicePixelRatio() == dpr
        # one image pixel per device pixel: never scaled down (nor up) on the way to the screen
        assert image.width() == round(width * dpr) and abs(image.height() - height * dpr) <= dpr
        assert width <= 600


def test_exported_figures_keep_their_size_and_light_palette(mini_model, themed):
    """The preview's theme and pixel ratio never reach the exported files."""
    from views.report_render import PNG_SCALE, ReportRenderer, chart_size

    themed("dark")
    r = ReportRenderer(mini_model, svg=False)
    section = mini_model.studies[0]
    chart = section.included_charts[0]
    fig = r.figure(section, chart)
    assert (fig.width, fig.height) == chart_size(chart)
    from PySide6.QtGui import QImage

    image = QImage.fromData(fig.png)
    assert image.width() == int(fig.width * PNG_SCALE)
    assert image.pixelColor(2, 2).name().lower() == COLOURS["light"].surface.lower()
    assert "#1f2328" in r.html("single").lower()  # report.css, not the theme
