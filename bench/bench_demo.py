"""The whole demo project cold (models trained included) and re-run with nothing changed.

Targets (issues 9 and 10, on a 2-core CPU): shift + fine-tuning cold ≤ 240 s; the whole demo (shift,
fine-tuning, merging) cold ≤ 300 s; re-run with nothing changed ≤ 5 s. Baseline measured in the same run:
starting the CLI and printing its help (`juxta --help`), the fixed cost every command pays, so a slow or
busy machine shows up in the ratios. Each part is timed on its own, in the order `juxta run` takes them
(a study runs after the studies whose models it starts from). Works on a temporary copy, so the real
demo's results are left alone.

    python bench/bench_demo.py [--parts robustness adapt ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "projects" / "digits-demo"
# (label, studies, whether it belongs to "shift + fine-tuning")
PARTS = [
    ("shift (robustness)", ["robustness"], True),
    ("fine-tuning (adapt)", ["adapt"], True),
    ("four experts", ["expert-rotated", "expert-noisy", "expert-inverted", "expert-blurred"], False),
    ("merging (merge)", ["merge"], False),
]


def timed(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "app.cli", *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="*", help="study names to time (default: every part of the demo)")
    args = parser.parse_args()
    present = {p.name.removesuffix(".study.toml") for p in DEMO.glob("*.study.toml")}
    parts = [(label, [s for s in studies if s in present], core) for label, studies, core in PARTS]
    parts = [(label, studies, core) for label, studies, core in parts
             if studies and (not args.parts or set(studies) & set(args.parts))]
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "digits-demo"
        project.mkdir()
        for study in DEMO.glob("*.study.toml"):
            shutil.copy(study, project)
        base = min(timed("--help") for _ in range(3))
        cold = [(label, timed("run", str(project), *studies, "--quiet"), core) for label, studies, core in parts]
        names = [s for _, studies, _ in parts for s in studies]
        warm = min(timed("run", str(project), *names, "--quiet") for _ in range(3))
    print(f"baseline `juxta --help`        {base:7.2f} s")
    for label, seconds, _ in cold:
        print(f"cold {label:<26}{seconds:7.2f} s   ({seconds / base:5.0f}x CLI start-up)")
    core = sum(s for _, s, c in cold if c)
    total = sum(s for _, s, _ in cold)
    print(f"cold shift + fine-tuning        {core:7.2f} s   (target <= 240 s: {'met' if core <= 240 else 'MISSED'})")
    if len(cold) == len(PARTS):
        print(f"cold whole demo                 {total:7.2f} s   (target <= 300 s: {'met' if total <= 300 else 'MISSED'})")
    print(f"re-run, nothing changed         {warm:7.2f} s   (target <= 5 s: {'met' if warm <= 5 else 'MISSED'}; "
          f"{warm / base:.1f}x CLI start-up, {warm / total:.3f}x the cold run)")


if __name__ == "__main__":
    main()
