"""The engine-backed providers the GUI's wizard and study page call."""

from __future__ import annotations

import numpy as np
import pytest

from app.providers import make_providers
from engine.models.describe import describe_model
from tests.conftest import write_study


@pytest.fixture
def providers(project_dir):
    return make_providers(lambda: str(project_dir))


def test_builtin_lists(providers):
    models = {m.source for m in providers.builtin_models()}
    assert {"builtin:digits-cnn", "builtin:digits-mlp", "builtin:digits-vit", "builtin:mlp", "builtin:bow"} <= models
    assert {d.source for d in providers.builtin_datasets()} == {"builtin:digits", "builtin:wine", "builtin:breast-cancer"}


def test_describe_builtin_and_refusals(providers, project_dir):
    info = providers.describe_model("builtin:digits-cnn")
    assert info["architecture"] == "cnn" and info["n_params"] > 10_000 and len(info["class_names"]) == 10
    (project_dir / "m.pkl").write_bytes(b"x")
    from engine.core.errors import UnsafeModelError

    with pytest.raises(UnsafeModelError):
        describe_model("file:m.pkl", project_dir)


def test_preview_and_gallery(providers):
    p = providers.preview_dataset("builtin:digits", {})
    assert p.modality == "image" and p.n_rows == 1797 and sum(p.class_counts) == 1797 and len(p.samples) == 12
    img, label = p.samples[0]
    assert img.dtype == np.uint8 and img.shape == (8, 8) and label in p.class_names
    g = providers.corruption_gallery("builtin:digits", {}, ["gaussian_noise", "rotate"], [1, 3, 5])
    assert set(g) == {"gaussian_noise", "rotate"} and all(len(v) == 4 for v in g.values())
    assert not np.array_equal(g["rotate"][0], g["rotate"][3])  # severity 5 changes the image
    t = providers.preview_dataset("builtin:wine", {})
    assert t.modality == "tabular" and isinstance(t.samples[0][0], dict)


def test_validate(providers, project_dir):
    text = write_study(project_dir).read_text()
    assert providers.validate(text) == []
    problems = providers.validate(text.replace("builtin:digits-cnn", "file:missing.safetensors"))
    assert len(problems) == 1 and "missing.safetensors" in problems[0]
