"""The study page: summary, 'show as study file', live validation, Save / Run rules, keyboard."""

from __future__ import annotations



from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.core.errors import StudyFileError  # noqa: E402
from engine.kinds import parse_study_text  # noqa: E402
from views.providers import StudyProviders  # noqa: E402
from views.study_page import StudyPage, problem_line  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "projects" / "digits-demo" / "robustness.study.toml"
TEXT = DEMO.read_text(encoding="utf-8")


def real_validate(text: str) -> list[str]:
    try:
        parse_study_text(text, "robustness.study.toml")
    except StudyFileError as exc:
        return list(exc.problems)
    return []


def _unused(*_args):
    raise AssertionError("the study page only validates")


@pytest.fixture
def page(qtbot, tmp_path):
    calls = []

    def validate(text):
        calls.append(text)
        return real_validate(text)

    providers = StudyProviders(_unused, _unused, _unused, _unused, _unused, validate, lambda: str(tmp_path))
    p = StudyPage(providers)
    p.validate_calls = calls
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    p.set_study("robustness", TEXT)
    return p


def edit(page, old: str, new: str) -> None:
    assert old in page.text()
    page.editor.setPlainText(page.text().replace(old, new))


def test_summary_of_a_valid_saved_study(page):
    assert not page.is_dirty() and page.is_valid()
    assert page.run_button.isEnabled() and not page.save_button.isEnabled()
    assert not page.text_mode() and page.stack.currentWidget() is page.summary
    html = page.summary.toPlainText()
    assert "Which digits model survives noisy scans?" in html
    for model in ("mlp", "cnn", "vit", "builtin:digits-cnn"):
        assert model in html
    assert "builtin:digits" in html and "Gaussian noise" in html and "Dirichlet α 1, 0.3" in html
    assert "0, 1, 2" in html and "Macro F1" in html
    assert "576 evaluation cells" in html and "9 training runs" in html
    assert "Valid" in page.status_label.text() and "64 conditions" in page.status_label.text()


def test_toggle_shows_the_study_file(page, qtbot):
    qtbot.mouseClick(page.text_toggle, Qt.MouseButton.LeftButton)
    assert page.text_mode() and page.editor.isVisible() and page.text() == TEXT
    assert page.editor.font().styleHint() == page.editor.font().StyleHint.Monospace or page.editor.font().fixedPitch()
    qtbot.mouseClick(page.text_toggle, Qt.MouseButton.LeftButton)
    assert not page.text_mode() and page.summary.isVisible()


def test_invalid_edit_shows_the_line_and_disables_save_and_run(page, qtbot):
    page.set_text_mode(True)
    edit(page, "severities = [1, 2, 3, 4, 5]", "severities = [1, 2, 6]")
    assert not page.save_button.isEnabled() and not page.run_button.isEnabled()  # still checking
    qtbot.waitUntil(lambda: page.problems_list.count() == 1, timeout=2000)
    line = page.text().splitlines().index("severities = [1, 2, 6]") + 1
    item = page.problems_list.item(0).text()
    assert f"Line {line}:" in item and "severity 6 is outside 1–5" in item
    assert page.editor.marked_lines() == {line}
    assert f"line {line}" in page.status_label.text()
    assert page.is_dirty() and not page.is_valid()
    assert not page.save_button.isEnabled() and not page.run_button.isEnabled()
    page.problems_list.setCurrentRow(0)
    page._on_problem_activated(page.problems_list.item(0))
    assert page.editor.textCursor().blockNumber() + 1 == line
    assert "cannot run yet" in page.summary.toPlainText()


def test_broken_toml_is_reported_with_its_line(page, qtbot):
    page.set_text_mode(True)
    edit(page, 'split = "test"', "split = ")
    qtbot.waitUntil(lambda: page.problems_list.count() >= 1, timeout=2000)
    assert "not valid TOML" in page.problems_list.item(0).text()
    assert problem_line(page.problems()[0]) == page.text().splitlines().index("split = ") + 1
    assert not page.save_button.isEnabled() and not page.run_button.isEnabled()


def test_valid_edit_enables_save_and_run_waits_for_the_save(page, qtbot):
    page.set_text_mode(True)
    edit(page, 'title = "Which digits model survives noisy scans?"', 'title = "A new title"')
    qtbot.waitUntil(lambda: page.save_button.isEnabled(), timeout=2000)
    assert not page.run_button.isEnabled() and page.is_dirty()
    assert not page.revert_button.isHidden() and not page.edit_button.isEnabled()
    assert page.problems_list.count() == 0 and page.editor.marked_lines() == set()
    with qtbot.waitSignal(page.saveRequested) as saved:
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert 'title = "A new title"' in saved.args[0]
    page.set_study("robustness", saved.args[0])  # what the app does after writing the file
    assert not page.is_dirty()
    assert page.run_button.isEnabled() and not page.save_button.isEnabled()
    with qtbot.waitSignal(page.runRequested):
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)


def test_validation_is_debounced(page, qtbot):
    page.set_text_mode(True)
    before = len(page.validate_calls)
    for i in range(5):
        edit(page, "bootstrap = 1000" if i == 0 else f"bootstrap = {i - 1}00", f"bootstrap = {i}00")
    assert len(page.validate_calls) == before
    qtbot.waitUntil(lambda: len(page.validate_calls) == before + 1, timeout=2000)
    qtbot.wait(StudyPage.DEBOUNCE_MS + 50)
    assert len(page.validate_calls) == before + 1


def test_discard_and_mark_saved(page, qtbot):
    edit(page, "bootstrap = 1000", "bootstrap = 200")
    qtbot.waitUntil(lambda: page.save_button.isEnabled(), timeout=2000)
    page.discard_changes()
    assert page.text() == TEXT and not page.is_dirty() and page.run_button.isEnabled()
    edit(page, "bootstrap = 1000", "bootstrap = 200")
    qtbot.waitUntil(lambda: page.save_button.isEnabled(), timeout=2000)
    page.mark_saved()
    assert not page.is_dirty() and page.run_button.isEnabled() and not page.save_button.isEnabled()


def test_edit_button_requests_the_wizard(page, qtbot):
    with qtbot.waitSignal(page.editRequested):
        qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)


def test_invalid_saved_study_cannot_run(qtbot, page):
    page.set_study("robustness", TEXT.replace('source = "builtin:digits-vit"', 'source = "nope"'))
    assert not page.run_button.isEnabled() and not page.save_button.isEnabled()
    assert "problem" in page.status_label.text()


def test_keyboard_reaches_the_controls(page, qtbot):
    page.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page)
    page.edit_button.setFocus()
    seen = []
    for _ in range(8):
        seen.append(QApplication.focusWidget())
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert {page.edit_button, page.text_toggle, page.run_button, page.summary} <= set(seen)
    page.text_toggle.setFocus()
    qtbot.keyClick(page.text_toggle, Qt.Key.Key_Space)  # the toggle works from the keyboard
    assert page.text_mode()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is page.editor)
    qtbot.keyClick(page.editor, Qt.Key.Key_Tab)  # Tab leaves the editor instead of typing a tab
    assert QApplication.focusWidget() is not page.editor and "\t" not in page.text()
    for widget in (page.editor, page.summary, page.problems_list, page.text_toggle, page.run_button):
        assert widget.accessibleName()


# -- issue 8, item 5: one rule for every Save --------------------------------------------------


def test_can_save_only_a_valid_changed_text(page, qtbot):
    """Ctrl+S saved an invalid study while Save was disabled: every Save path asks can_save()."""
    assert not page.can_save()  # valid but unchanged
    saved = []
    page.saveRequested.connect(saved.append)
    edit(page, "severities = [1, 2, 3, 4, 5]", "severities = [1, 2, 6]")
    # asked at once, before the pause that checks the text: the text is checked now, and refused
    assert not page.can_save() and not page.request_save()
    assert page.problems() and not page.save_button.isEnabled()
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)  # a disabled button does nothing either
    page._on_save()  # and the page's own save path refuses too
    assert saved == []
    edit(page, "severities = [1, 2, 6]", "severities = [1, 2, 5]")
    assert page.can_save() and page.request_save()  # valid and changed: checked at once, saved
    assert len(saved) == 1 and "severities = [1, 2, 5]" in saved[0]


def test_can_save_changes_are_signalled(page, qtbot):
    seen = []
    page.canSaveChanged.connect(seen.append)
    edit(page, "bootstrap = 1000", "bootstrap = 200")
    qtbot.waitUntil(lambda: seen == [True], timeout=2000)
    edit(page, "bootstrap = 200", "bootstrap = -1")
    qtbot.waitUntil(lambda: bool(page.problems()), timeout=2000)
    assert seen == [True, False] and not page.can_save()
    page.discard_changes()
    assert seen == [True, False] and not page.can_save()


# -- issue 8, item 3: readable in both themes ---------------------------------------------------


@pytest.fixture
def themed(qapp):
    """Apply a theme by name the way the app does; the light theme is put back afterwards."""
    from app import theme

    yield lambda name: theme.apply(qapp, name)
    theme.apply(qapp, "light")


def _contrast(page, qtbot, label: str) -> list[str]:
    from tests.views.contrast import low_contrast

    qtbot.wait(30)
    return [f"{label}: {p}" for p in low_contrast(page)]


def test_every_text_reads_at_aa_contrast_in_both_themes(page, qtbot, themed):
    """The summary card was white with near-white text on the dark theme; the editor kept light
    syntax colours; the status line and problems were a fixed red."""
    problems: list[str] = []
    for name in ("light", "dark", "light"):  # built in light, then switched: nothing may keep old colours
        themed(name)
        page.set_text_mode(False)
        problems += _contrast(page, qtbot, f"{name}, summary")
        page.set_text_mode(True)
        edit(page, "severities = [1, 2, 3, 4, 5]", "severities = [1, 2, 6]")
        page.validate_now()
        assert page.editor.marked_lines()
        problems += _contrast(page, qtbot, f"{name}, study file with a problem")
        page.discard_changes()
        problems += _contrast(page, qtbot, f"{name}, study file")
    assert not problems, "\n".join(problems)


def test_summary_card_follows_the_theme(page, qtbot, themed):
    from views.theme import COLOURS
    from tests.views.contrast import background_of

    for name in ("dark", "light"):
        themed(name)
        c = COLOURS[name]
        qtbot.waitUntil(lambda: c.muted.upper() in page.summary.toHtml().upper())  # rebuilt after the switch
        assert background_of(page.summary).name().upper() == c.surface.upper()
        html = page.summary.toHtml().upper()
        assert c.muted.upper() in html  # rebuilt with this theme's colours
        other = COLOURS["light" if name == "dark" else "dark"]
        assert other.muted.upper() not in html


def test_syntax_colours_read_on_the_editor_in_both_themes():
    from views.study_page import SYNTAX
    from views.theme import COLOURS, contrast_ratio

    for name, sc in SYNTAX.items():
        assert sc.background == COLOURS[name].surface  # the editor's own background (palette Base)
        for role in ("table", "key", "string", "number", "comment", "problem"):
            for ground in ("background", "problem_fill"):
                ratio = contrast_ratio(getattr(sc, role), getattr(sc, ground))
                assert ratio >= 4.5, f"{name}: {role} on {ground} is {ratio:.2f}:1"
        assert contrast_ratio(sc.line_number, sc.gutter) >= 4.5 and contrast_ratio(sc.problem, sc.gutter) >= 4.5


def test_editor_rehighlights_on_a_theme_change(page, qtbot, themed):
    from tests.views.contrast import document_colours
    from views.study_page import SYNTAX

    page.set_text_mode(True)
    for name in ("dark", "light"):
        themed(name)
        sc = SYNTAX[name]
        qtbot.waitUntil(lambda: page.editor.highlighter.colours == sc)  # re-highlighted after the switch
        used = set(document_colours(page.editor))
        expected = {sc.table, sc.key, sc.string, sc.number, sc.comment}
        assert used == {c.lower() for c in expected}, name
        assert page.editor.highlighter.colours == sc


def test_the_page_writes_no_colour_of_its_own():
    """Colours come from views.theme only (no hex literal, per-widget style sheet or wizard constant)."""
    import re

    source = (Path(__file__).resolve().parents[2] / "views" / "study_page.py").read_text(encoding="utf-8")
    pattern = re.compile(r"#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?(?:[0-9A-Fa-f]{2})?\b|setStyleSheet|\b(GREEN|MUTED|RED)\b")
    found = [f"{i}: {line.strip()}" for i, line in enumerate(source.splitlines(), 1) if pattern.search(line)]
    assert not found, "\n".join(found)
