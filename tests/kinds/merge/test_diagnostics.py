"""Task-vector similarity, sign conflicts per layer and per-layer update norms, by hand."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from engine.kinds.merge import sign_conflicts, task_vector_similarity, update_norms
from engine.kinds.merge.model_files import ModelFiles

BASE = {"layers.0.w": torch.zeros(4), "layers.1.w": torch.ones(2), "ids": torch.tensor([3])}
E1 = {"layers.0.w": torch.tensor([1.0, 1.0, 0.0, 0.0]), "layers.1.w": torch.tensor([2.0, 1.0]), "ids": torch.tensor([3])}
E2 = {"layers.0.w": torch.tensor([1.0, -1.0, 1.0, 0.0]), "layers.1.w": torch.tensor([0.0, 1.0]), "ids": torch.tensor([3])}


def test_cosine_similarity_of_task_vectors():
    sim = task_vector_similarity(BASE, [E1, E2])
    # τ1 = (1,1,0,0, 1,0), τ2 = (1,-1,1,0, -1,0): dot −1, norms √3 and 2
    assert sim[0, 1] == pytest.approx(-1 / (3 ** 0.5 * 2))
    assert sim[0, 0] == pytest.approx(1.0) and sim[1, 0] == sim[0, 1]


def test_sign_conflicts_per_layer():
    rows = {r.layer: r for r in sign_conflicts(BASE, [E1, E2])}
    assert (rows["layers.0"].conflict_rate, rows["layers.0"].shared, rows["layers.0"].total) == (0.5, 2, 4)
    assert (rows["layers.1"].conflict_rate, rows["layers.1"].shared) == (1.0, 1)  # +1 against −1
    trimmed = {r.layer: r for r in sign_conflicts(BASE, [E1, E2], density=0.25)}
    assert trimmed["layers.0"].shared == 1 and trimmed["layers.0"].conflict_rate == 0.0


def test_update_norms_per_layer_and_expert_from_files(tmp_path):
    for name, state in (("base", BASE), ("e1", E1), ("e2", E2)):
        save_file(state, str(tmp_path / f"{name}.safetensors"))
    files = [ModelFiles(tmp_path / f"{n}.safetensors") for n in ("base", "e1", "e2")]
    rows = {(r.layer, r.expert): r for r in update_norms(files[0], files[1:])}
    assert rows[("layers.0", 0)].norm == pytest.approx(2 ** 0.5) and rows[("layers.0", 0)].relative == 0.0
    assert rows[("layers.1", 1)].norm == pytest.approx(1.0)
    assert rows[("layers.1", 1)].relative == pytest.approx(1 / 2 ** 0.5)
