"""The Report page: contents ticks, comments, live preview (theme, legibility), export signals, kept notes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QTextCursor
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from tests.report.conftest import XSS
from views.report_page import ReportPage
from views.theme import COLOURS, contrast_ratio


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
    assert (fig.width, fig.height) == chart_size(chart, "shift")
    from PySide6.QtGui import QImage

    image = QImage.fromData(fig.png)
    assert image.width() == int(fig.width * PNG_SCALE)
    assert image.pixelColor(2, 2).name().lower() == COLOURS["light"].surface.lower()
    assert "#1f2328" in r.html("single").lower()  # report.css, not the theme


# -- issue 8, item 22: title, author, introduction and comments kept in the project ---------------------


def test_page_reports_note_edits_and_shows_saved_notes(qtbot, mini_model):
    page = ReportPage()
    qtbot.addWidget(page)
    page.set_model(mini_model)
    seen = []
    page.notesChanged.connect(seen.append)
    page.title.setText("Board review")
    assert seen[-1]["title"] == "Board review"
    page.tree.setCurrentItem(chart_item(page, "drop"))
    page.comment.setPlainText("Look at the drop")
    assert seen[-1]["comments"] == {"mini": {"drop": "Look at the drop"}}
    n = len(seen)
    chart_item(page, "drop").setCheckState(0, Qt.CheckState.Unchecked)  # a tick is not a note
    assert len(seen) == n

    saved = {"title": "Saved title", "author": "Saved author", "introduction": "Saved intro",
             "comments": {"mini": {"drop": "Saved comment"}}}
    page.set_notes(saved)
    assert len(seen) == n  # showing saved notes is not an edit
    assert page.notes() == saved
    assert page.comment.toPlainText() == "Saved comment"  # the selected chart's comment is shown
    page.set_notes({})
    assert page.notes() == {"title": "", "author": "", "introduction": "", "comments": {}}


def _keeper(page, root, messages):
    from app.report import ReportNotesKeeper

    keeper = ReportNotesKeeper(page, messages.append)
    keeper.open(root)
    return keeper


def test_notes_survive_closing_the_app(qtbot, tmp_path, mini_model):
    """Title, author, introduction and chart comments were lost when the app closed."""
    from app.report import ReportNotesKeeper, notes_path

    root = tmp_path / "proj"
    root.mkdir()
    page = ReportPage()
    qtbot.addWidget(page)
    messages: list[str] = []
    keeper = _keeper(page, root, messages)  # held: the page's signal reaches it while it lives
    page.set_model(mini_model)
    assert not notes_path(root).exists()  # nothing typed, no file
    page.title.setText("Board review")
    page.author.setText("Model review board")
    page.introduction.setPlainText("Why we ran this.")
    page.tree.setCurrentItem(chart_item(page, "drop"))
    page.comment.setPlainText("Look at the drop")
    assert not notes_path(root).exists()  # debounced: not yet written
    qtbot.waitUntil(lambda: notes_path(root).exists(), timeout=ReportNotesKeeper.DEBOUNCE_MS + 3000)
    assert messages == []

    # "the app closes": a new page and keeper read them back when the project's report opens
    later = ReportPage()
    qtbot.addWidget(later)
    _keeper(later, root, messages)
    later.set_model(mini_model)
    assert later.notes() == {"title": "Board review", "author": "Model review board",
                             "introduction": "Why we ran this.", "comments": {"mini": {"drop": "Look at the drop"}}}
    text = later.preview.toPlainText()
    assert "Board review" in text and "Look at the drop" in text and "Model review board" in text
    assert messages == []


def test_notes_are_written_once_after_a_burst_of_typing_and_flushed_on_close(qtbot, tmp_path, monkeypatch):
    import app.report as R

    writes = []
    real = R.write_notes
    monkeypatch.setattr(R, "write_notes", lambda root, notes: writes.append(notes) or real(root, notes))
    page = ReportPage()
    qtbot.addWidget(page)
    keeper = _keeper(page, tmp_path, [])
    for word in ("B", "Bo", "Boa", "Board"):
        page.title.setText(word)
    qtbot.wait(R.ReportNotesKeeper.DEBOUNCE_MS + 300)
    assert [w["title"] for w in writes] == ["Board"]
    page.author.setText("Me")
    keeper.flush()  # the app is closing: no waiting for the pause
    assert [w["author"] for w in writes] == ["", "Me"]
    assert R.read_notes(tmp_path)["author"] == "Me"


def test_switching_projects_saves_the_old_notes_and_shows_the_new(qtbot, tmp_path):
    from app.report import read_notes, write_notes

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write_notes(b, {"title": "B's report"})
    page = ReportPage()
    qtbot.addWidget(page)
    keeper = _keeper(page, a, [])
    page.title.setText("A's report")
    keeper.open(b)  # before the pause ends
    assert read_notes(a)["title"] == "A's report" and page.title.text() == "B's report"
    keeper.open(None)
    assert page.notes()["title"] == ""


@pytest.mark.parametrize("content, what", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "expected an object"),
    ('{"title": 3}', "'title' should be text"),
    ('{"comments": {"mini": "x"}}', "'comments' should map"),
    ('{"version": 99}', "'version' is 99"),
    (b"\xff\xfe\x00garbage", "cannot be read"),
])
def test_a_malformed_notes_file_is_ignored_with_a_message_and_never_overwritten_unseen(qtbot, tmp_path, content, what):
    from app.report import notes_path, read_notes

    path = notes_path(tmp_path)
    path.parent.mkdir()
    raw = content if isinstance(content, bytes) else content.encode("utf-8")
    path.write_bytes(raw)
    page = ReportPage()
    qtbot.addWidget(page)
    messages: list[str] = []
    keeper = _keeper(page, tmp_path, messages)
    assert len(messages) == 1 and what in messages[0] and str(path) in messages[0]
    assert page.notes()["title"] == ""
    keeper.flush()
    assert path.read_bytes() == raw  # reading it changed nothing
    page.title.setText("New title")
    keeper.flush()
    kept = list(path.parent.glob("notes-kept-*.json"))
    assert len(kept) == 1 and kept[0].read_bytes() == raw  # the unreadable file is set aside, byte for byte
    assert read_notes(tmp_path)["title"] == "New title"
    assert kept[0].name in messages[-1]


def test_notes_changed_on_disk_meanwhile_are_kept_not_overwritten(qtbot, tmp_path):
    from app.report import notes_path, read_notes, write_notes

    write_notes(tmp_path, {"title": "read at open"})
    page = ReportPage()
    qtbot.addWidget(page)
    messages: list[str] = []
    keeper = _keeper(page, tmp_path, messages)
    write_notes(tmp_path, {"title": "another Juxta wrote this"})
    page.author.setText("Me")
    keeper.flush()
    kept = list(notes_path(tmp_path).parent.glob("notes-kept-*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["title"] == "another Juxta wrote this"
    assert read_notes(tmp_path) == {"title": "read at open", "author": "Me", "introduction": "", "comments": {}}
    assert "kept as" in messages[-1]
    page.author.setText("Me again")  # what it wrote itself is replaced without ceremony
    keeper.flush()
    assert len(list(notes_path(tmp_path).parent.glob("notes-kept-*.json"))) == 1


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_project_that_cannot_be_written_gets_a_message_not_a_crash(qtbot, tmp_path):
    from app.report import notes_path

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports").chmod(0o500)
    try:
        page = ReportPage()
        qtbot.addWidget(page)
        messages: list[str] = []
        keeper = _keeper(page, tmp_path, messages)
        page.title.setText("T")
        keeper.flush()
        assert messages and "Could not save the report notes" in messages[-1] and not notes_path(tmp_path).exists()
    finally:
        (tmp_path / "reports").chmod(0o700)


def test_write_failure_is_reported(qtbot, tmp_path, monkeypatch):
    """The same without needing a read-only folder (the tests may run as root)."""
    import app.report as R

    def refuse(root, notes):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(R, "write_notes", refuse)
    page = ReportPage()
    qtbot.addWidget(page)
    messages: list[str] = []
    keeper = _keeper(page, tmp_path, messages)
    page.title.setText("T")
    keeper.flush()
    assert messages == [f"Could not save the report notes to {R.notes_path(tmp_path)}: Permission denied."]
