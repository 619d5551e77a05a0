"""One database connection per file per process: readers and the writer never trip over each other."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from engine import open_project
from engine.core.errors import JuxtaError
from engine.core.store import CONNECTIONS, CellResult, Store
from tests.conftest import write_study
from tests.engine.test_store import _cell

HOLD_READ_ONLY = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
sys.stdin.read()
"""


def _other_process_opens(path, read_only: bool = False) -> subprocess.CompletedProcess:
    code = f"import duckdb; duckdb.connect({str(path)!r}, read_only={read_only}).execute('SELECT count(*) FROM cells').fetchall()"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_reader_open_while_a_writer_writes_in_another_thread_never_raises(tmp_path):
    path = tmp_path / "juxta.duckdb"
    Store(path).close()
    reader = Store(path, read_only=True)  # the Results page's loader, still open
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            with Store(path) as writer:  # the run's coordinator thread
                writer.write_cell(_cell(f"k{i}"), "r", CellResult(f"k{i}", "done"))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert reader.query("SELECT count(*) AS n FROM cells").n[0] == 3
    with Store(path, read_only=True) as again, Store(path) as writer:  # then more opens, both modes
        writer.write_cell(_cell("k9"), "r", CellResult("k9", "done"))
        assert again.query("SELECT count(*) AS n FROM cells").n[0] == 4
    reader.close()
    reader.close()  # closing twice is harmless
    assert not CONNECTIONS.holds(path)


def test_a_reader_thread_sees_finished_cells_during_a_run(project_dir):
    write_study(project_dir, severities=(1,))
    project = open_project(project_dir)
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def on_event(e) -> None:
        if e.kind != "cell_finished":
            return

        def read() -> None:
            try:
                with project.store(read_only=True) as store:
                    n = store.query("SELECT count(*) AS n FROM cells WHERE status = 'done'").n[0]
                seen.append((e.done, int(n)))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        t = threading.Thread(target=read)
        t.start()
        t.join(30)

    summary = project.run("mini", on_event=on_event)
    assert summary.status == "done" and errors == []
    assert seen and all(n >= done for done, n in seen)  # every announced cell is already readable
    assert seen[0][1] < summary.done  # and the reader saw a partial database: live results


def test_after_the_last_store_closes_another_process_can_open_the_file(tmp_path):
    path = tmp_path / "juxta.duckdb"
    first, second = Store(path), Store(path, read_only=True)
    assert _other_process_opens(path).returncode != 0  # held while any Store is open
    first.close()
    assert _other_process_opens(path, read_only=True).returncode != 0
    second.close()
    done = _other_process_opens(path)
    assert done.returncode == 0, done.stderr


def test_while_another_process_reads_this_one_reads_too_and_a_writer_is_told_plainly(tmp_path, monkeypatch):
    path = tmp_path / "juxta.duckdb"
    with Store(path) as s:
        s.write_cell(_cell("k1"), "r", CellResult("k1", "done"))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_READ_ONLY, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        monkeypatch.setattr(CONNECTIONS, "writer_wait_s", 0.5)
        with Store(path, read_only=True) as reader:
            assert reader.query("SELECT count(*) AS n FROM cells").n[0] == 1
            with pytest.raises(JuxtaError, match="in use by another Juxta process"):
                Store(path)
        with pytest.raises(JuxtaError, match="in use by another Juxta process"):
            Store(path)
    finally:
        holder.stdin.close()
        holder.wait(30)


def test_a_writer_waits_for_this_process_s_read_only_readers_then_writes(tmp_path):
    path = tmp_path / "juxta.duckdb"
    Store(path).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_READ_ONLY, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    reader = Store(path, read_only=True)  # read-only: the other process reads too
    holder.stdin.close()
    holder.wait(30)
    closer = threading.Timer(0.5, reader.close)
    closer.start()
    t0 = time.monotonic()
    with Store(path) as writer:  # waits for the reader, then reopens read-write
        writer.write_cell(_cell("k1"), "r", CellResult("k1", "done"))
    assert time.monotonic() - t0 >= 0.4
    closer.join()
