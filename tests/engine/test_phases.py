"""The coordinator knows no kind: phases come from cell dependencies, work functions from a mapping by
cell type, dependencies' saved models reach a cell as inputs, and a failed dependency stops its
dependents without running them."""

from __future__ import annotations

import json

import pytest

from engine.core.cells import Cell, CellContext, Plan
from engine.core.errors import JuxtaError
from engine.core.execute import RunEvent, run_plan
from engine.core.header import ExecutionSpec, StudyFile, StudyMeta
from engine.core.store import CellResult, Store


def make(cell: Cell, ctx: CellContext) -> CellResult:
    """Saves a 'model' file, as a training cell does."""
    (ctx.root / f"{cell.arm}.bin").write_bytes(b"weights")
    return CellResult(cell.key, "done", artifacts=[{"kind": "model", "name": f"t/{cell.arm}", "path": f"{cell.arm}.bin",
                                                    "bytes": 7, "sha256": "0" * 64}])


def use(cell: Cell, ctx: CellContext) -> CellResult:
    """Records what it was given."""
    return CellResult(cell.key, "done", info={"artifacts": cell.inputs["artifacts"]})


def boom(cell: Cell, ctx: CellContext) -> CellResult:
    raise JuxtaError("the data ran out")


WORK = {"t.make": make, "t.use": use, "t.boom": boom}


def cell(key: str, cell_type: str, *deps: str) -> Cell:
    return Cell(key, "t", cell_type, key, "c", 0, {"k": key}, depends_on=deps)


def plan(*cells: Cell) -> Plan:
    study = StudyFile(schema_version=1, study=StudyMeta(name="t"), execution=ExecutionSpec(backend="sequential"))
    return Plan(study, list(cells))


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "juxta.duckdb") as s:
        yield s


def infos(store: Store) -> dict[str, tuple[str, dict, str | None]]:
    rows = store.con.execute("SELECT cell_key, status, info, error FROM cells").fetchall()
    return {k: (status, json.loads(info), error) for k, status, info, error in rows}


def test_cells_run_after_what_they_depend_on_and_receive_its_saved_model(tmp_path, store):
    # listed dependents first: the order of the plan must not matter
    p = plan(cell("c", "t.use", "b", "a"), cell("b", "t.use", "a"), cell("a", "t.make"), cell("d", "t.use"))
    events: list[RunEvent] = []
    summary = run_plan(p, tmp_path, store, WORK, on_event=events.append)
    assert summary.status == "done" and summary.done == 4
    started = [e.cell.key for e in events if e.kind == "cell_started"]
    assert started.index("a") < started.index("b") < started.index("c")
    got = infos(store)
    assert got["b"][1] == {"artifacts": {"a": "a.bin"}}
    assert got["c"][1] == {"artifacts": {"a": "a.bin"}}  # b saved no model: nothing to pass on
    assert got["d"][1] == {"artifacts": {}}


def test_a_failed_dependency_stops_its_dependents_without_running_them(tmp_path, store):
    p = plan(cell("x", "t.boom"), cell("y", "t.use", "x"), cell("z", "t.use", "y"), cell("w", "t.use", "elsewhere"))
    summary = run_plan(p, tmp_path, store, WORK)
    assert summary.status == "failed" and summary.failed == 4 and summary.done == 0
    got = infos(store)
    assert got["x"][2] == "the data ran out"
    assert got["y"][2] == "Not run because x · c · seed 0 failed: the data ran out"
    assert got["z"][2].startswith("Not run because y · c · seed 0 failed: Not run because x")
    assert got["w"][2] == "Not run because cell elsewhere has not run"
    assert all(info == {} for _, info, _ in got.values())  # none of the blocked cells ran


def test_a_dependency_finished_in_an_earlier_run_counts_and_its_model_is_passed(tmp_path, store):
    run_plan(plan(cell("a", "t.make")), tmp_path, store, WORK)
    summary = run_plan(plan(cell("a", "t.make"), cell("b", "t.use", "a")), tmp_path, store, WORK)
    assert summary.skipped == 1 and summary.done == 1
    assert infos(store)["b"][1] == {"artifacts": {"a": "a.bin"}}


def test_a_cell_type_without_a_work_function_and_a_dependency_cycle_are_refused(tmp_path, store):
    with pytest.raises(ValueError, match="no work function for cell type"):
        run_plan(plan(cell("a", "t.other")), tmp_path, store, WORK)
    with pytest.raises(ValueError, match="cycle"):
        run_plan(plan(cell("a", "t.use", "b"), cell("b", "t.use", "a")), tmp_path, store, WORK)
    assert store.con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0  # refused before a run began


def test_a_run_that_stopped_softly_is_not_hard_stopped_after_the_grace_period(tmp_path, store, monkeypatch):
    """The hard stop kills loky's shared workers: fired after its run had ended, it killed the next
    run's workers (test_cancel_from_another_thread_stops_loky_workers failed on the resumed run)."""
    import time

    from engine.core import execute
    from engine.core.execute import RunControl

    study = StudyFile(schema_version=1, study=StudyMeta(name="t"), execution=ExecutionSpec(backend="loky", workers=1))
    control = RunControl(grace_s=0.5)

    def on_event(e: RunEvent) -> None:
        if e.kind == "cell_finished":
            control.cancel()

    summary = run_plan(Plan(study, [cell(k, "t.use") for k in "abcdef"]), tmp_path, store, WORK, on_event=on_event,
                       control=control)
    assert control.cancelled and summary.status in ("done", "cancelled")  # cancelled while it ran, ended softly
    killed = []
    monkeypatch.setattr(execute, "kill_loky_workers", lambda: killed.append(True))
    time.sleep(1.0)  # past the grace period
    assert killed == []
