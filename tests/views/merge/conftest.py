"""The merge kind's example study, run once through the engine for the view tests that draw real results."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import open_project
from engine.kinds import get_kind

STUDY = "merge-example"


@pytest.fixture(scope="session")
def merge_root(tmp_path_factory) -> Path:
    """A project holding the merge kind's example study, run (sequentially) to the end."""
    root = tmp_path_factory.mktemp("merge-views")
    (root / f"{STUDY}.study.toml").write_text(get_kind("merge").example_study(STUDY), encoding="utf-8")
    summary = open_project(root).run(STUDY, backend="sequential")
    assert summary.status == "done", summary.errors
    return root


@pytest.fixture(scope="session")
def merge_results(merge_root):
    """The example's ``MergeResults`` as the app reads them (``Project.results``)."""
    return open_project(merge_root).results(STUDY)


@pytest.fixture
def themed(qapp):
    """Apply a theme by name the way the app does; the light theme is put back afterwards."""
    from app import theme

    yield lambda name: theme.apply(qapp, name)
    theme.apply(qapp, "light")
