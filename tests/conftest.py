"""Shared fixtures: tiny projects written to a temporary folder, nothing downloaded."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # GUI tests need no display
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
