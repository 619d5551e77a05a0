"""The application end to end (offscreen): open a project, run, watch progress, see results;
cancel and resume; a broken model file fails only its own cells."""

from __future__ import annotations



from pathlib import Path

import pytest
import tomlkit
from PySide6.QtCore import QSettings

from app.main_window import MainWindow
from app.settings import Settings
from engine.core.store import Store
from tests.conftest import write_study
from tests.engine.test_execution import assert_consistent

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def window(qtbot, tmp_path):
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    yield w
    if w.bridge.running:
        w.bridge.cancel()
        w.bridge.wait(60)


def reduced_demo(root: Path, backend: str = "loky") -> Path:
    doc = tomlkit.parse((ROOT / "projects/digits-demo/robustness.study.toml").read_text())
    doc["study"]["seeds"] = [0]
    doc["shift"]["corruptions"] = ["gaussian_noise", "contrast"]
    doc["shift"]["severities"] = [1, 3, 5]
    doc["metrics"]["bootstrap"] = 100
    doc["execution"] = {"backend": backend, "workers": 2}
    for m in doc["models"]:
        m["train"] = {"epochs": 2}
    root.mkdir(parents=True, exist_ok=True)
    (root / "robustness.study.toml").write_text(tomlkit.dumps(doc))
    return root


def run_and_wait(qtbot, window, timeout=240_000):
    with qtbot.waitSignal(window.bridge.finished, timeout=timeout):
        window.act_run.trigger()


def test_open_run_progress_and_results(qtbot, window, tmp_path):
    project = reduced_demo(tmp_path / "demo")
    assert window.open_project(project)
    assert window.current_study == "robustness"
    assert window.act_run.isEnabled() and not window.act_cancel.isEnabled()
    run_and_wait(qtbot, window)
    qtbot.waitUntil(lambda: window.results_page.results is not None, timeout=60_000)
    page = window.run_page
    total = len(page.model.rows)
    assert total == 3 + 3 * (1 + 2 * 3 + 3)  # 3 training cells, 3 models × 10 conditions
    assert page.progress.value() == page.progress.maximum() == total
    assert {r.status for r in page.model.rows} == {"done"}
    assert all(r.device == "cpu" and r.duration is not None for r in page.model.rows)
    assert "Finished" in page.title.text()
    results = window.results_page.results
    assert results is not None and set(results.arms) == {"cnn", "mlp", "vit"}
    assert "complete" in window.tree.topLevelItem(0).child(0).text(1)
    window.grab().save(str(tmp_path / "after-run.png"))


def test_cancel_keeps_database_consistent_and_resume_completes(qtbot, window, tmp_path):
    project = reduced_demo(tmp_path / "demo", backend="sequential")
    window.open_project(project)
    cancelled = []

    def on_events(events):
        if not cancelled and any(e.kind == "cell_finished" and e.done >= 4 for e in events):
            cancelled.append(True)
            window.cancel_run()

    window.bridge.events.connect(on_events)
    run_and_wait(qtbot, window)
    assert window.run_page.resume_button.isEnabled()
    assert "Cancelled" in window.run_page.title.text()
    with Store(project / "juxta.duckdb") as store:
        assert_consistent(store, "robustness")
        done_before = store.query("SELECT count(*) AS n FROM cells WHERE status = 'done'").n[0]
    assert 4 <= done_before < 33
    window.bridge.events.disconnect(on_events)
    with qtbot.waitSignal(window.bridge.finished, timeout=240_000) as sig:
        window.run_page.resume_button.click()
    summary = sig.args[0]
    assert summary.status == "done" and summary.skipped == done_before


def test_broken_model_file_fails_its_cells_only(qtbot, window, project_dir):
    (project_dir / "broken.safetensors").write_bytes(b"\x00not a model")
    path = write_study(project_dir)
    path.write_text(path.read_text().replace("[data]", '[[models]]\nid = "broken"\nsource = "file:broken.safetensors"\n[data]'))
    window.open_project(project_dir)
    run_and_wait(qtbot, window)
    rows = window.run_page.model.rows
    failed = [r for r in rows if r.status == "failed"]
    assert failed and all(r.model == "broken" for r in failed)
    assert all("not a valid safetensors file" in r.message for r in failed)
    assert all(r.status == "done" for r in rows if r.model != "broken")
    assert "✗ broken" in window.run_page.log.toPlainText()


def test_invalid_project_folder_shows_a_message(qtbot, window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(window, "show_message", lambda text, error=False: shown.append(text))
    assert not window.open_project(tmp_path / "nope")
    assert shown and "does not exist" in shown[0]


def test_learning_curves_reach_the_page_of_the_running_study_while_it_trains(qtbot, window, tmp_path, monkeypatch):
    """cell_curve run events become LivePoints on the controller's curvePoints signal, and the window hands them
    to the results page on screen when that page draws curves (``add_live_points``)."""
    from PySide6.QtWidgets import QWidget

    import app.main_window
    from engine.kinds import get_kind
    from views.kinds import VIEW_KINDS, KindViews, LivePoint

    drawn: list[LivePoint] = []

    class CurvePage(QWidget):  # a kind's page that draws curves, reduced to what the window calls
        results = None

        def begin_study(self, study): ...
        def set_results(self, results, extra=None, note=""): ...
        def empty_text(self): return "nothing yet"
        def set_export_folder(self, folder): ...
        def export_table_dialog(self): ...
        def set_theme(self, theme): ...

        def add_live_points(self, points):
            drawn.extend(points)

    views = {**VIEW_KINDS, "finetune": KindViews(results_page=lambda theme: CurvePage(), charts=dict)}
    monkeypatch.setattr(app.main_window, "VIEW_KINDS", views)
    project = tmp_path / "ft"
    project.mkdir()
    (project / "tiny.study.toml").write_text(get_kind("finetune").example_study("tiny"))
    assert window.open_project(project) and window.current_study == "tiny"
    window.results_page  # the page of the study on screen exists (built when Results is first shown)
    received: list = []
    window.runs.curvePoints.connect(lambda study, points: received.append((study, points)))
    run_and_wait(qtbot, window)
    points = [p for _, batch in received for p in batch]
    assert received and {s for s, _ in received} == {"tiny"}
    assert {p.series for p in points} >= {"train_loss", "val_loss"} and all(isinstance(p.value, float) for p in points)
    assert {p.seed for p in points} <= {0, 1, 2} and all(p.arm and p.cell_key for p in points)
    assert drawn == points  # the study was on screen: every point reached its page, in order


def test_run_on_a_study_that_starts_from_another_studys_models_runs_that_one_first(qtbot, window, tmp_path):
    from tests.engine.test_study_order import shift_on, tuned_study

    (tmp_path / "tuned.study.toml").write_text(tuned_study())
    (tmp_path / "after.study.toml").write_text(shift_on("after", "artifact:tuned/full"))
    assert window.open_project(tmp_path)
    window.select_study("after")
    started: list[str] = []
    window.runs.started.connect(started.append)
    window.act_run.trigger()
    qtbot.waitUntil(lambda: started == ["tuned", "after"] and not window.runs.running, timeout=240_000)
    assert "“after” starts from models that tuned makes: running it first." in window.run_page.log.toPlainText()
    assert "Finished" in window.run_page.title.text()
    with Store(tmp_path / "juxta.duckdb") as store:
        runs = store.query("SELECT study, status FROM cells").groupby("study").status.agg(set).to_dict()
    assert runs == {"tuned": {"done"}, "after": {"done"}}


def test_cancelling_the_study_run_first_runs_nothing_after_it(qtbot, window, tmp_path):
    from tests.engine.test_study_order import shift_on, tuned_study

    (tmp_path / "tuned.study.toml").write_text(tuned_study())
    (tmp_path / "after.study.toml").write_text(shift_on("after", "artifact:tuned/full"))
    assert window.open_project(tmp_path)
    window.select_study("after")
    started: list[str] = []
    window.runs.started.connect(started.append)
    with qtbot.waitSignal(window.runs.ended, timeout=240_000) as ended:
        window.act_run.trigger()
        qtbot.waitUntil(lambda: window.runs.info is not None and window.runs.info.total > 0, timeout=60_000)
        window.cancel_run()
    assert ended.args[0] == "tuned" and ended.args[1].status == "cancelled"
    qtbot.wait(500)
    assert started == ["tuned"] and not window.runs.running  # "after" was never started
