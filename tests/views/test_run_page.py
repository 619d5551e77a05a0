"""The Run page and the start page, driven by plain events (no engine, no run)."""

from __future__ import annotations



from types import SimpleNamespace

from PySide6.QtCore import Qt

from views.project_tree import ProjectTree, TreeEntry, TreeStudy
from views.run_page import CellRow, RunPage, fmt_clock
from views.start_page import StartPage


def event(kind, key=None, **kw):
    cell = SimpleNamespace(key=key, label=lambda: f"cell {key}") if key else None
    base = dict(total=3, done=0, failed=0, skipped=0, fraction=0.0, note="", status="", error=None, device="cpu",
                duration_s=0.0, elapsed_s=1.0, eta_s=2.0)
    base.update(kw)
    return SimpleNamespace(kind=kind, cell=cell, **base)


def test_fmt_clock():
    assert fmt_clock(None) == "--:--" and fmt_clock(65) == "01:05" and fmt_clock(3725) == "1:02:05"


def test_progress_table_log_and_buttons(qtbot):
    page = RunPage()
    qtbot.addWidget(page)
    rows = [CellRow(k, "cnn", f"cond{k}", 0) for k in "abc"]
    page.begin("robustness", rows, skipped=5)
    assert page.cancel_button.isEnabled() and not page.resume_button.isEnabled()
    assert "5 already computed, 3 to run" in page.log.toPlainText()
    page.apply_events([event("cell_started", "a"), event("cell_progress", "a", fraction=0.5)])
    assert page.model.rows[0].status == "running"
    assert "50%" in page.model.data(page.model.index(0, 3))
    page.apply_events([event("cell_finished", "a", status="done", done=1, duration_s=0.25),
                       event("cell_finished", "b", status="failed", done=1, failed=1, error="Model file x is corrupt.")])
    assert page.progress.value() == 2
    assert page.model.rows[1].message == "Model file x is corrupt." and "✗ cnn · condb · seed 0: Model file x is corrupt." in page.log.toPlainText()  # the row's labels (the kind's words)
    assert "elapsed" in page.timing.text() and "left" in page.timing.text()
    page.finish("cancelled", 1, 1, 1)
    assert page.resume_button.isEnabled() and not page.cancel_button.isEnabled()
    assert page.model.rows[2].status == "cancelled" and "Cancelled" in page.title.text()
    page.filter.setText("failed")
    assert page.proxy.rowCount() == 1
    with qtbot.waitSignal(page.resumeRequested, timeout=1000):
        qtbot.mouseClick(page.resume_button, Qt.LeftButton)


def test_start_page_recent_and_signals(qtbot, tmp_path):
    page = StartPage()
    qtbot.addWidget(page)
    page.set_recent([])
    assert page.recent.isHidden() and not page.empty_recent.isHidden()
    page.set_recent([str(tmp_path)])
    assert page.recent.count() == 1
    with qtbot.waitSignal(page.openRecent, timeout=1000) as sig:
        page.recent.itemActivated.emit(page.recent.item(0))
    assert sig.args == [str(tmp_path)]
    with qtbot.waitSignal(page.openDemo, timeout=1000):
        qtbot.mouseClick(page.demo_button, Qt.LeftButton)


def test_project_tree_lists_studies_models_datasets(qtbot):
    tree = ProjectTree()
    qtbot.addWidget(tree)
    models = [TreeEntry("model", "builtin:digits-cnn", [("robustness", "cnn"), ("other", "cnn")]),
              TreeEntry("model", "builtin:digits-mlp", [("robustness", "mlp")]),
              TreeEntry("model", "builtin:mlp", [("other", "mlp")])]  # another model also called "mlp"
    tree.set_project([TreeStudy("robustness", "t", "complete", "All 9 cells are computed."),
                      TreeStudy("other", "", "invalid", "This study file cannot run as it is:\n• line 3: …")],
                     models, [TreeEntry("dataset", "builtin:digits", [("robustness", "data")])])
    studies, model_top, data = (tree.topLevelItem(i) for i in range(3))
    assert studies.childCount() == 2 and model_top.childCount() == 3 and data.childCount() == 1
    assert studies.child(0).text(1) == "complete"
    assert studies.child(1).text(1) == "invalid" and "line 3" in studies.child(1).toolTip(1)  # never clipped text
    # the two models called "mlp" are told apart by their source, shown beside the name
    mlps = [model_top.child(i) for i in range(3) if model_top.child(i).text(0) == "mlp"]
    assert sorted(m.text(1) for m in mlps) == ["builtin:digits-mlp", "builtin:mlp"]
    assert "robustness (cnn); other (cnn)" in model_top.child(0).toolTip(0)
    with qtbot.waitSignal(tree.studySelected, timeout=1000) as sig:
        tree.select_study("other")
    assert sig.args == ["other"]
    with qtbot.waitSignal(tree.entrySelected, timeout=1000) as sig:
        tree.setCurrentItem(model_top.child(2))
    assert sig.args == ["model", "builtin:mlp"]


def test_study_and_model_names_stay_whole_in_a_narrow_panel_and_sources_give_way(qtbot):
    """At the panel's default width the demo read "exper…" four times, its long sources shown whole instead."""
    tree = ProjectTree()
    qtbot.addWidget(tree)
    names = ["expert-inverted", "expert-rotated", "robustness"]
    tree.set_project([TreeStudy(n, "", "complete", "") for n in names],
                     [TreeEntry("model", "artifact:expert-inverted/full", [("merge", "inverted")])], [])
    tree.resize(270, 400)
    tree.show()
    qtbot.waitExposed(tree)
    metrics = tree.fontMetrics()
    widest = max(metrics.horizontalAdvance(n) for n in names) + tree.indentation()
    assert tree.columnWidth(0) >= widest
    assert tree.columnWidth(0) + tree.columnWidth(1) <= tree.viewport().width() + 1  # the source column is elided


def test_the_table_follows_running_cells_unless_told_not_to(qtbot):
    page = RunPage()
    qtbot.addWidget(page)
    page.resize(900, 400)
    page.show()
    rows = [CellRow(f"k{i}", "cnn", f"cond{i}", 0) for i in range(300)]
    page.begin("robustness", rows, skipped=0)
    page.apply_events([event("cell_started", "k250", total=300)])
    qtbot.wait(50)
    visible = page.table.rowAt(0), page.table.rowAt(page.table.viewport().height() - 1)
    assert visible[0] <= 250 <= visible[1], f"row 250 is not in view (rows {visible} are)"
    page.follow.setChecked(False)
    page.table.scrollToTop()
    page.apply_events([event("cell_started", "k280", total=300)])
    qtbot.wait(50)
    assert page.table.rowAt(0) == 0, "the table moved although following was turned off"


def test_remaining_time_says_estimating_until_the_engine_has_timings(qtbot):
    page = RunPage()
    qtbot.addWidget(page)
    page.begin("robustness", [CellRow(k, "cnn", "c", 0) for k in "ab"], skipped=0)
    page.apply_events([event("cell_started", "a", eta_s=None)])
    assert page.remaining_text() == "estimating time left…"
    page.apply_events([event("cell_finished", "a", status="done", done=1, eta_s=90.0)])
    assert page.remaining_text() in ("~01:30 left", "~01:29 left")
