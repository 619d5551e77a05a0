"""Shared fixtures: tiny projects written to a temporary folder, nothing downloaded."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

# Qt tests run on a real X server when one can be had (pytest-xvfb starts a virtual one), so they see
# what a person sees: window-manager-free but real xcb windows, events and painting. Without one
# they run offscreen and the tests that need real windows say why they are skipped.
X_SERVER_MISSING = ""


@pytest.hookimpl(trylast=True)  # after pytest-xvfb has started its X server
def pytest_configure(config):
    global X_SERVER_MISSING
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        X_SERVER_MISSING = "QT_QPA_PLATFORM=offscreen was set: no real X server for these tests"
        return
    from app.system_check import missing_libraries, packages_for

    missing = missing_libraries()
    if not os.environ.get("DISPLAY"):
        X_SERVER_MISSING = "no X server: install xvfb (apt-get install -y xvfb) to run the GUI flow tests"
    elif missing:
        X_SERVER_MISSING = f"Qt's X11 plugin lacks system packages: {' '.join(packages_for(missing))}"
    os.environ["QT_QPA_PLATFORM"] = "offscreen" if X_SERVER_MISSING else "xcb"


def needs_x_server():
    """Skip marker for tests that must drive real windows (read at test time, after configure)."""
    return pytest.mark.skipif(bool(X_SERVER_MISSING), reason=X_SERVER_MISSING or "x server present")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MINI_STUDY = """
schema_version = 1
[study]
name = "{name}"
seeds = {seeds}
[[models]]
id = "mlp"
source = "builtin:digits-mlp"
train = {{ epochs = 3 }}
[[models]]
id = "cnn"
source = "builtin:digits-cnn"
train = {{ epochs = 2 }}
[data]
source = "builtin:digits"
max_examples = 120
[shift]
corruptions = {corruptions}
severities = {severities}
label_shift = {{ dirichlet_alpha = [0.5] }}
[metrics]
bootstrap = 100
[execution]
backend = "{backend}"
workers = 2
"""


def write_study(root: Path, name: str = "mini", *, seeds=(0,), corruptions=("gaussian_noise",),
                severities=(1, 5), backend: str = "sequential", extra: str = "") -> Path:
    text = MINI_STUDY.format(
        name=name, seeds=list(seeds), corruptions=list(corruptions), severities=list(severities), backend=backend
    ).replace("'", '"')
    path = root / f"{name}.study.toml"
    path.write_text(textwrap.dedent(text) + extra, encoding="utf-8")
    return path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    return root
