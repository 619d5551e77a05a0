"""Learning-curve points reach whoever watches a run as they are measured (``CellContext.curve`` ->
a ``cell_curve`` RunEvent), in process and from worker processes; progress events are unchanged."""

from __future__ import annotations

import pytest

from engine.core.cells import Cell, CellContext, Plan
from engine.core.execute import RunEvent, run_plan
from engine.core.header import ExecutionSpec, StudyFile, StudyMeta
from engine.core.store import CellResult, Store


def learn(cell: Cell, ctx: CellContext) -> CellResult:
    """Three epochs of a pretend training run, each point sent live and returned whole."""
    rows = []
    for epoch in (1, 2, 3):
        loss = 1.0 / epoch
        ctx.curve(epoch, "train_loss", loss)
        ctx.progress(epoch / 3, f"epoch {epoch}")
        rows.append((epoch, "train_loss", loss))
    return CellResult(cell.key, "done", curves=rows)


def _plan(backend: str) -> Plan:
    study = StudyFile(schema_version=1, study=StudyMeta(name="t"), execution=ExecutionSpec(backend=backend, workers=1))
    return Plan(study, [Cell("k1", "t", "t.learn", "a", "c", 0, {"k": 1}), Cell("k2", "t", "t.learn", "b", "c", 0, {"k": 2})])


@pytest.mark.parametrize("backend", ["sequential", "loky"])
def test_curve_points_arrive_as_events_in_order_and_the_database_keeps_the_whole_curves(tmp_path, backend):
    events: list[RunEvent] = []
    with Store(tmp_path / "juxta.duckdb") as store:
        summary = run_plan(_plan(backend), tmp_path, store, {"t.learn": learn}, on_event=events.append)
        stored = store.query("SELECT cell_key, step, value FROM curves ORDER BY cell_key, step")
    assert summary.status == "done"
    for key in ("k1", "k2"):
        points = [e.curve for e in events if e.kind == "cell_curve" and e.cell is not None and e.cell.key == key]
        assert points == [(1, "train_loss", 1.0), (2, "train_loss", 0.5), (3, "train_loss", 1 / 3)]
        if backend == "sequential":  # in process: each point is delivered before the cell is written
            finished = next(i for i, e in enumerate(events) if e.kind == "cell_finished" and e.cell.key == key)
            last_point = max(i for i, e in enumerate(events) if e.kind == "cell_curve" and e.cell.key == key)
            assert last_point < finished
    assert stored.step.tolist() == [1, 2, 3, 1, 2, 3]
    assert all(e.curve is None for e in events if e.kind != "cell_curve")


def test_a_context_without_a_watcher_or_with_a_broken_one_keeps_the_cell_running():
    ctx = CellContext()
    ctx.curve(1, "train_loss", 0.5)  # nobody watches: nothing happens

    def broken(*args):
        raise BrokenPipeError("the queue is gone")

    ctx = CellContext(curve_fn=broken)
    ctx.curve(1, "train_loss", 0.5)
    assert ctx.curve_fn is None  # dropped after the first failure, as progress does
