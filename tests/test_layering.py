"""The layering rules (engine: no Qt; views: no torch; the study-kind seam: projects and report assembly above
kinds above the core, kinds independent) and lazy heavy imports, checked for real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    proc = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 7 kept, 0 broken" in proc.stdout


def test_engine_api_and_cli_do_not_import_torch_or_qt():
    code = (
        "import sys, engine, engine.kinds, engine.kinds.shift.results, engine.core.queries, engine.report.model, app.cli;"
        "bad = [m for m in ('torch', 'PySide6', 'pyqtgraph', 'transformers') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_engine_and_its_kind_registry_import_without_pandas():
    """The app starts with ``engine`` and ``engine.kinds`` imported; results and reports load pandas when
    first asked for (a kind imports its results and report modules lazily)."""
    code = ("import sys, engine, engine.kinds, engine.core.queries;"
            "print(','.join(m for m in ('pandas', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_views_module_and_describing_a_study_load_no_torch():
    """Views import engine.kinds (describe, validate); the engine must keep torch inside the functions that
    compute, so a window that only shows and describes studies never pays for it."""
    code = (
        "import sys, pkgutil, importlib, views;"
        "names = [m.name for m in pkgutil.walk_packages(views.__path__, 'views.')];"
        "[importlib.import_module(n) for n in names];"
        "from engine.kinds import KINDS;"
        "from views.providers import describe_study_text;"
        "ds = [describe_study_text(k.example_study('x')) for k in KINDS.values()];"
        "assert all(d is not None for d in ds), ds;"
        "print(len(names), ','.join(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr
    count, loaded = out.stdout.split()[0], out.stdout.strip().partition(" ")[2]
    assert int(count) > 30 and loaded == ""
