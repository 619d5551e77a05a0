"""Projects as a person meets them: the first start, recent projects, a new project typed by name,
and report notes that outlive the window (issue 8 items 20 and 22)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtTest import QTest

from tests.conftest import needs_x_server
from tests.gui.driver import click_tab, modal, pump, wait_until

pytestmark = needs_x_server()


def test_recent_projects_open_with_one_click(window, gui_project):
    window.open_project(gui_project)
    window.start_page.set_recent([str(gui_project)])
    window.stack.setCurrentWidget(window.start_page)
    window.project = None
    recent = window.start_page.recent
    assert not window.start_page.recent_hint.isHidden() and "Click" in window.start_page.recent_hint.text()
    rect = recent.visualItemRect(recent.item(0))
    QTest.mouseClick(recent.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.x() + 20, rect.center().y()))
    pump(200)
    assert window.project is not None and window.project.root == gui_project.resolve()
    assert window.stack.currentWidget() is window.tabs


def test_new_project_takes_a_typed_folder_name(window, tmp_path):
    window.new_project()
    dialog = modal()
    assert dialog is not None and dialog.windowTitle() == "New project"
    dialog.folder_edit.setText(str(tmp_path / "work"))
    dialog.name_edit.setText("bad/name")
    assert not dialog.create_button.isEnabled() and "cannot contain" in dialog.problem_label.text()
    dialog.name_edit.setText("churn-study")
    assert dialog.create_button.isEnabled() and "churn-study" in dialog.path_label.text()
    dialog.create_button.click()
    pump(300)
    target = tmp_path / "work" / "churn-study"
    assert target.is_dir(), "the typed folder was not created"
    assert window.project is not None and window.project.root == target.resolve()
    wizard = modal()
    assert wizard is not None, "a new project goes on to the new-study wizard"
    wizard.reject()


def test_first_start_opens_a_copy_of_the_demo_in_the_users_folder(qtbot, tmp_path, monkeypatch):
    import app.gui as gui
    from app.settings import Settings

    shipped_files = sorted(p.name for p in gui.SHIPPED_DEMO.iterdir())
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    monkeypatch.setattr("app.settings.QSettings", lambda *_a: QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    assert Settings().recent_projects() == []
    _app, w = gui.create_window()
    qtbot.addWidget(w)
    copy = tmp_path / "Juxta" / "digits-demo"
    assert w.project is not None and w.project.root == copy.resolve()
    shipped = sorted(p.name for p in gui.SHIPPED_DEMO.glob("*.study.toml"))
    assert sorted(p.name for p in copy.glob("*.study.toml")) == shipped
    assert sorted(p.name for p in gui.SHIPPED_DEMO.iterdir()) == shipped_files  # the shipped folder is untouched


def test_report_notes_outlive_the_window(qtbot, tmp_path, gui_project):
    from app.main_window import MainWindow
    from app.settings import Settings

    def make():
        w = MainWindow(Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)))
        qtbot.addWidget(w)
        w.show()
        w.open_project(gui_project)
        click_tab(w, "Report")
        wait_until(lambda: w.report_page.model() is not None, 120, "the report model")
        return w

    first = make()
    first.report_page.introduction.setPlainText("Why we compared these models.")
    first.report_page.title.setText("Noise review")
    first.report_page.author.setText("QA board")
    first.close()
    assert (gui_project / "reports" / "notes.json").exists()
    second = make()
    notes = second.report_page.notes()
    assert notes["title"] == "Noise review" and notes["author"] == "QA board"
    assert notes["introduction"] == "Why we compared these models."
    second.close()


def test_opening_another_project_with_a_study_of_the_same_name_shows_that_project(window, gui_project, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(gui_project, other)
    text = (other / "fresh.study.toml").read_text().replace("[study]\n", '[study]\ntitle = "The other project"\n', 1)
    (other / "fresh.study.toml").write_text(text)
    assert window.open_project(gui_project) and window.current_study == "fresh"
    assert window.open_project(other)
    assert window.current_study == "fresh" and window.project.root == other.resolve()
    assert "The other project" in window.study_page.text(), "the study page still shows the first project's file"
