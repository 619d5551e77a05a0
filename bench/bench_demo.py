"""The demo project cold (models trained included) and re-run with nothing changed.

Targets: cold ≤ 180 s on a 2-core CPU; re-run ≤ 5 s. Baseline measured in the same run: starting
the CLI and printing its help (`juxta --help`), the fixed cost every command pays. Works on a
temporary copy, so the real demo's results are left alone.

    python bench/bench_demo.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "app.cli", *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "digits-demo"
        project.mkdir()
        for study in (ROOT / "projects" / "digits-demo").glob("*.study.toml"):
            shutil.copy(study, project)
        base = min(timed("--help") for _ in range(3))
        cold = timed("run", str(project), "--quiet")
        warm = min(timed("run", str(project), "--quiet") for _ in range(3))
    print(f"baseline `juxta --help`     {base:7.2f} s")
    print(f"cold demo run               {cold:7.2f} s   (target <= 180 s: {'met' if cold <= 180 else 'MISSED'})")
    print(f"re-run, nothing changed     {warm:7.2f} s   (target <= 5 s: {'met' if warm <= 5 else 'MISSED'})")
    print(f"demo: cold = {cold / base:.0f}x CLI start-up; re-run = {warm / base:.1f}x CLI start-up, {warm / cold:.3f}x the cold run")


if __name__ == "__main__":
    main()
