"""Every page of the real window, in each theme, after theme switches: every visible label, text view
and table item reads at WCAG AA (4.5:1) on what is really behind it (tests/views/contrast.py)."""

from __future__ import annotations

import pytest

from tests.conftest import needs_x_server
from tests.gui.driver import choose, click_tab, click_tree, pump, wait_until
from tests.views.contrast import low_contrast

pytestmark = needs_x_server()


def _check(widget, where: str) -> None:
    pump(150)  # theme callbacks run from the event loop after a switch
    problems = low_contrast(widget)
    assert not problems, f"{where}:\n" + "\n".join(problems)


@pytest.mark.parametrize("theme", ["Dark", "Light"])
def test_every_page_reads_in_both_themes(window, gui_project, theme):
    # start page, then a switch away and back (the compare headline went unreadable after switches)
    choose(window, "View/Theme/Dark" if theme == "Light" else "View/Theme/Light")
    choose(window, f"View/Theme/{theme}")
    _check(window.start_page, f"{theme}: start page")
    assert window.open_project(gui_project)
    click_tree(window, "study", "mini")
    _check(window.study_page, f"{theme}: study summary")
    window.study_page.set_text_mode(True)
    _check(window.study_page, f"{theme}: study file")
    window.study_page.set_text_mode(False)
    click_tree(window, "model", "builtin:digits-cnn")
    wait_until(lambda: any(k == "Parameters" for k, _ in window.details.rows), 60, "model details")
    _check(window.dock, f"{theme}: project tree and details")
    click_tab(window, "Results")
    wait_until(lambda: window.results_page.results is not None, what="results")
    window.results_page.compare_now()
    wait_until(lambda: "noise" in window.results_page.compare_text, 30, "the comparison")
    other = "Light" if theme == "Dark" else "Dark"
    choose(window, f"View/Theme/{other}")
    choose(window, f"View/Theme/{theme}")
    _check(window.results_page, f"{theme}: results (after switching theme)")
    scroll = window.results_page.scroll_area.verticalScrollBar()  # the rest of the page
    scroll.setValue(scroll.maximum())
    _check(window.results_page, f"{theme}: results, scrolled down")
    click_tab(window, "Report")
    wait_until(lambda: window.report_page.model() is not None, 120, "the report model")
    _check(window.report_page, f"{theme}: report preview")
    click_tab(window, "Run")
    _check(window.run_page, f"{theme}: run page")
