"""Execution: plan → skip finished → workers → one transaction per cell; cancel, kill, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from engine import RunControl, open_project
from engine.core.store import Store
from tests.conftest import write_study


def assert_consistent(store: Store, study: str) -> None:
    """Every finished cell is whole: eval cells have metrics and one prediction per example."""
    rows = store.query(
        """SELECT c.cell_key, c.type, c.info,
                  (SELECT count(*) FROM metrics m WHERE m.cell_key = c.cell_key) AS n_metrics,
                  (SELECT count(*) FROM predictions p WHERE p.cell_id = c.cell_id) AS n_preds,
                  (SELECT count(*) FROM artifacts a WHERE a.cell_key = c.cell_key) AS n_art
           FROM cells c JOIN study_cells sc USING (cell_key) WHERE sc.study = ? AND c.status = 'done'""",
        [study],
    )
    for r in rows.itertuples():
        if r.type == "eval":
            assert r.n_metrics >= 5 and r.n_preds == json.loads(r.info)["examples"], r
        else:
            assert r.n_art == 1
    assert store.query("SELECT count(*) AS n FROM cells WHERE status NOT IN ('done', 'failed')").n[0] == 0


def test_sequential_run_writes_everything_and_rerun_skips(project_dir):
    write_study(project_dir)
    project = open_project(project_dir)
    plan = project.plan("mini")
    assert len(plan.train_cells) == 2 and len(plan.eval_cells) == 2 * (1 + 2 + 1)
    events = []
    summary = project.run("mini", on_event=events.append)
    assert summary.status == "done" and summary.done == len(plan.cells) and summary.failed == 0
    kinds = [e.kind for e in events]
    assert kinds[0] == "planned" and kinds[-1] == "finished" and "cell_progress" in kinds
    finished = [e for e in events if e.kind == "cell_finished"]
    assert [e.done for e in finished] == list(range(1, len(plan.cells) + 1))
    with project.store(read_only=True) as store:
        assert_consistent(store, "mini")
        dev = store.query("SELECT DISTINCT device FROM cells").device.tolist()
        assert dev == ["cpu"]
        run = store.query("SELECT * FROM runs")
        assert run.status[0] == "done" and "torch" in json.loads(run.versions[0])
    again = project.run("mini")
    assert again.status == "up-to-date" and again.skipped == len(plan.cells)


def test_changed_study_computes_only_new_cells(project_dir):
    write_study(project_dir, severities=(1,))
    project = open_project(project_dir)
    first = project.run("mini")
    write_study(project_dir, severities=(1, 3))
    second = project.run("mini")
    assert second.skipped == first.done and second.done == 2  # one new severity × two models


def test_failing_cell_is_recorded_and_others_finish(project_dir):
    (project_dir / "broken.safetensors").write_bytes(b"not a model at all")
    write_study(project_dir, extra="")
    text = (project_dir / "mini.study.toml").read_text()
    text = text.replace("[data]", '[[models]]\nid = "broken"\nsource = "file:broken.safetensors"\n[data]')
    (project_dir / "mini.study.toml").write_text(text)
    summary = open_project(project_dir).run("mini")
    assert summary.status == "failed" and summary.failed == 4 and summary.done == 2 + 8
    assert all("broken.safetensors" in err and "not a valid safetensors" in err for _, err in summary.errors)
    with Store(project_dir / "juxta.duckdb", read_only=True) as store:
        assert_consistent(store, "mini")
        failed = store.query("SELECT arm, error FROM cells WHERE status = 'failed'")
        assert set(failed.arm) == {"broken"}


def test_loky_backend_streams_progress_from_workers(project_dir):
    write_study(project_dir, backend="loky")
    events = []
    summary = open_project(project_dir).run("mini", on_event=events.append)
    assert summary.status == "done"
    assert any(e.kind == "cell_started" for e in events)
    assert any(e.kind == "cell_progress" and 0 < e.fraction <= 1 for e in events)
    with Store(project_dir / "juxta.duckdb", read_only=True) as store:
        assert_consistent(store, "mini")


def test_results_identical_across_backends(tmp_path):
    values = {}
    for backend in ("sequential", "loky"):
        root = tmp_path / backend
        root.mkdir()
        write_study(root, backend=backend)
        open_project(root).run("mini")
        with Store(root / "juxta.duckdb", read_only=True) as s:
            values[backend] = s.query(
                "SELECT arm, condition, metric, round(value, 6) AS v FROM metrics JOIN cells USING (cell_key) ORDER BY 1, 2, 3"
            )
    a, b = values["sequential"], values["loky"]
    assert a[["arm", "condition", "metric"]].equals(b[["arm", "condition", "metric"]])
    # training uses one thread everywhere, so models are identical; evaluation may differ in the last bits
    assert (a.v - b.v).abs().max() < 1e-4


def test_dask_backend_on_a_local_cluster(project_dir):
    pytest.importorskip("distributed")
    write_study(project_dir, backend="dask")
    summary = open_project(project_dir).run("mini")
    assert summary.status == "done" and summary.failed == 0
    with Store(project_dir / "juxta.duckdb", read_only=True) as store:
        assert_consistent(store, "mini")


def test_cancel_leaves_whole_cells_and_resume_completes(project_dir):
    write_study(project_dir, severities=(1, 2, 3, 4, 5), backend="sequential")
    project = open_project(project_dir)
    control = RunControl(grace_s=5)

    started = []

    def on_event(e):
        if e.kind == "cell_started":
            started.append(e.cell.key)
            if len(started) == 6:
                control.cancel()

    summary = project.run("mini", on_event=on_event, control=control)
    assert summary.status == "cancelled" and 4 <= summary.done < summary.planned and summary.cancelled > 0
    with project.store(read_only=True) as store:
        assert_consistent(store, "mini")
        assert store.query("SELECT status FROM runs").status.tolist() == ["cancelled"]
    resumed = project.run("mini")
    assert resumed.status == "done" and resumed.skipped == summary.done and resumed.done == summary.cancelled


def test_cancel_from_another_thread_stops_loky_workers(project_dir):
    write_study(project_dir, severities=(1, 2, 3, 4, 5), seeds=(0, 1), backend="loky")
    project = open_project(project_dir)
    control = RunControl(grace_s=3)
    seen = threading.Event()

    def on_event(e):
        if e.kind == "cell_finished":
            seen.set()

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("s", project.run("mini", on_event=on_event, control=control)))
    t.start()
    assert seen.wait(120)
    control.cancel()
    t.join(60)
    assert not t.is_alive()
    s = result["s"]
    assert s.status == "cancelled" and s.done + s.failed < s.planned
    with project.store(read_only=True) as store:
        assert_consistent(store, "mini")
    assert project.run("mini").status == "done"


def test_killed_run_leaves_a_consistent_database_and_resumes(project_dir):
    write_study(project_dir, severities=(1, 2, 3, 4, 5), seeds=(0, 1, 2), backend="sequential",
                corruptions=("gaussian_noise", "contrast", "rotate", "fog"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run", str(project_dir), "--quiet"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    artifacts = project_dir / "artifacts" / "models"
    while time.time() < deadline and len(list(artifacts.glob("*.safetensors"))) < 2:
        time.sleep(0.2)
    time.sleep(1.0)  # let a few more cells land, then kill mid-run
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    with Store(project_dir / "juxta.duckdb", read_only=True) as store:
        assert_consistent(store, "mini")
        done = store.query("SELECT count(*) AS n FROM cells WHERE status = 'done'").n[0]
        killed = store.query("SELECT status, done FROM runs")
    assert 2 <= done < 6 + 2 * 3 * 22  # killed part-way
    assert killed.status.tolist() == ["interrupted"] and killed.done[0] == done  # not 'running' forever
    summary = open_project(project_dir).run("mini")
    assert summary.status == "done" and summary.skipped == done
    with Store(project_dir / "juxta.duckdb", read_only=True) as store:
        assert sorted(store.query("SELECT status FROM runs").status) == ["done", "interrupted"]


def test_a_seed_beyond_32_bits_runs_end_to_end(project_dir):
    from engine.kinds.shift.results import load_shift_results

    seed = 3_000_000_000
    write_study(project_dir, seeds=(seed,), severities=(1,))
    project = open_project(project_dir)
    summary = project.run("mini")
    assert summary.status == "done" and summary.failed == 0, summary.errors
    with project.store(read_only=True) as store:
        assert_consistent(store, "mini")
        assert set(store.query("SELECT DISTINCT seed FROM cells").seed) == {seed}
        assert set(store.query("SELECT DISTINCT seed FROM study_cells").seed) == {seed}
        assert not load_shift_results(store, "mini").accuracy.empty
    assert project.run("mini").status == "up-to-date"


def test_evaluations_take_every_model_in_turn_and_the_estimate_waits_for_data(project_dir):
    write_study(project_dir, seeds=(0, 1), severities=(1,))
    events = []
    summary = open_project(project_dir).run("mini", on_event=events.append)
    assert summary.status == "done"
    started = [e.cell for e in events if e.kind == "cell_started" and e.cell.type == "eval"]
    order = [(c.seed, c.condition, c.arm) for c in started]
    assert [arm for _, _, arm in order[:4]] == ["mlp", "cnn", "mlp", "cnn"]  # not all of one model first
    assert order == sorted(order, key=lambda o: (o[0], [c for _, c, _ in order].index(o[1]), o[2] != "mlp"))
    finished = [e for e in events if e.kind == "cell_finished"]
    first_eval = next(i for i, e in enumerate(finished) if e.cell.type == "eval")
    assert all(e.eta_s is None for e in finished[:first_eval])  # "estimating…": no evaluation timed yet
    assert all(e.eta_s is not None and e.eta_s >= 0 for e in finished[first_eval:])
    assert events[-1].kind == "finished" and events[-1].eta_s == 0.0


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_the_hard_stop_kills_busy_loky_workers_at_once():
    from joblib import Parallel, delayed, parallel_config

    from engine.core.execute import kill_loky_workers
    from engine.core.lifeline import exit_with

    outcome = {}

    def run() -> None:  # the coordinator, with the same executor options as a run
        try:
            with parallel_config(backend="loky", n_jobs=2, initializer=exit_with, initargs=(os.getpid(),)):
                outcome["result"] = list(Parallel(return_as="generator_unordered")(delayed(_sleep)(30) for _ in range(2)))
        except Exception as exc:  # noqa: BLE001 - the killed workers surface here, as in a cancelled run
            outcome["error"] = type(exc).__name__

    t = threading.Thread(target=run)
    t.start()
    time.sleep(5)  # both workers busy
    t0 = time.monotonic()
    kill_loky_workers()
    t.join(20)
    assert not t.is_alive() and time.monotonic() - t0 < 10  # not after the 30 s tasks
    assert "result" not in outcome
