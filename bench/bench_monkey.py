"""The monkey figure of issue 8: seeded random walks through the real window, each in its own process
on a real X server. Target: 20 seeds × 300 actions, 0 crashes and 0 failures.

A crash is a process killed by a signal (a segfault or an abort; Python's fault handler prints where)
or one that ran past its time limit; a failure is the monkey's own verdict (exit 1: an uncaught
exception, a Qt warning about a deleted object, a chart under 150 px, or a window that would not
close). Every seed runs over a copy of one small project (two tiny shift studies, one run beforehand, and a
run fine-tuning study).

    DISPLAY=:99 python bench/bench_monkey.py [--seeds 20] [--actions 300] [--first-seed 1]
                                             [--project DIR] [--timeout 900] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def outcome(code: int | None) -> str:
    """'ok', 'failure' or 'crash (…)' from a child's exit status (None: it ran out of time)."""
    if code is None:
        return "crash (hung: killed after the time limit)"
    if code == 0:
        return "ok"
    if code == 1:
        return "failure"
    if code < 0:
        return f"crash ({signal.Signals(-code).name})"
    if code > 128:
        return f"crash ({signal.Signals(code - 128).name})" if code - 128 in signal.valid_signals() else f"crash (exit {code})"
    return f"crash (exit {code})"


def run_seed(seed: int, actions: int, project: Path, timeout: float, keep: Path, platform: str) -> dict:
    out = keep / f"seed-{seed}.json"
    log = keep / f"seed-{seed}.log"
    env = {**os.environ, "QT_QPA_PLATFORM": platform}
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as sink:
        child = subprocess.Popen([sys.executable, "-m", "tests.gui.monkey", "--seed", str(seed), "--actions",
                                  str(actions), "--project", str(project), "--json", str(out)],
                                 cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            code: int | None = child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            code = None
    report = json.loads(out.read_text()) if out.exists() else {}
    return {"seed": seed, "exit": code, "outcome": outcome(code), "actions_done": report.get("actions_done", "?"),
            "wall_s": round(time.monotonic() - started, 1), "message_boxes": len(report.get("message_boxes", [])),
            "log": str(log)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--actions", type=int, default=300)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--project", type=Path, help="a project to copy (default: a small one built first)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per seed before it counts as hung")
    parser.add_argument("--keep", type=Path, help="folder for each seed's output and JSON report (default: temporary)")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        parser.error("no X server: set DISPLAY (e.g. start `Xvfb :99 &` and use DISPLAY=:99)")
    platform = os.environ.get("QT_QPA_PLATFORM", "xcb")  # the walks need a real X server unless told
    with tempfile.TemporaryDirectory(prefix="bench-monkey-") as scratch:
        keep = args.keep or Path(scratch)
        keep.mkdir(parents=True, exist_ok=True)
        project = args.project
        if project is None:
            from tests.gui.monkey import make_small_project

            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # building the project needs no window
            print("building the project (three tiny studies, two run)…", flush=True)
            project = make_small_project(Path(scratch) / "project")
        rows = []
        print(f"{'seed':>5} {'exit':>5} {'actions':>8} {'wall s':>8} {'boxes':>6}  outcome", flush=True)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            row = run_seed(seed, args.actions, project, args.timeout, keep, platform)
            rows.append(row)
            exit_text = "-" if row["exit"] is None else str(row["exit"])
            print(f"{seed:>5} {exit_text:>5} {row['actions_done']:>8} {row['wall_s']:>8} {row['message_boxes']:>6}  "
                  f"{row['outcome']}", flush=True)
            if row["outcome"] != "ok":  # what the monkey or the fault handler said, kept with the figure
                lines = Path(row["log"]).read_text(encoding="utf-8", errors="replace").splitlines()
                print("\n".join(f"      | {line}" for line in lines[-60:] if not line.startswith("Extension modules")))
        crashes = sum(r["outcome"].startswith("crash") for r in rows)
        failures = sum(r["outcome"] == "failure" for r in rows)
        print(f"{args.seeds} seeds × {args.actions} actions: {crashes} crashes, {failures} failures")
    return 0 if not (crashes or failures) else 1


if __name__ == "__main__":
    sys.exit(main())
