"""Validation checks each model against the data without running it (issue 8 items 27 and 29).

Every case here validated as "✓ valid" before, and then every one of its cells failed.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import open_project
from engine.core.errors import StudyFileError
from engine.models.base import ModelInfo
from engine.models.builtin import build
from engine.models.train import save_juxta_model

DIGITS = [str(i) for i in range(10)]


def study(models: list[tuple[str, str]], data: str = "builtin:digits", extra: str = "") -> str:
    entries = "".join(f'[[models]]\nid = "{mid}"\nsource = "{src}"\n' for mid, src in models)
    return (f'schema_version = 1\n[study]\nname = "s"\n{entries}[data]\nsource = "{data}"\nsplit = "all"\n{extra}'
            "[metrics]\nbootstrap = 0\n")


def validate(root: Path, text: str):
    (root / "s.study.toml").write_text(text)
    return open_project(root).validate("s")


def problems(root: Path, text: str) -> dict:
    with pytest.raises(StudyFileError) as info:
        validate(root, text)
    assert str(info.value).startswith(str(root / "s.study.toml"))
    return {p.key: p for p in info.value.problems}


def juxta_file(path: Path, arch: str = "cnn", shape=(1, 8, 8), classes=DIGITS) -> Path:
    """An untrained Juxta model file (validation reads its header only)."""
    channels = shape[0] if len(shape) == 3 else shape[0] if shape else 1
    module = build(arch, shape, len(classes), torch.zeros(channels), torch.ones(channels))
    modality = "text" if arch == "bow" else "image" if len(shape) == 3 else "tabular"
    save_juxta_model(module, ModelInfo("test", arch, 0, list(classes), modality, shape or None), None, path)
    return path


def image_folder(folder: Path, classes, side: int = 8) -> None:
    from PIL import Image

    for k, name in enumerate(classes):
        (folder / name).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((side, side), 20 * (i + k) % 256, np.uint8)).save(folder / name / f"{i}.png")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    juxta_file(tmp_path / "digits.safetensors")
    return tmp_path


def test_models_that_fit_validate(root):
    plan = validate(root, study([("file", "file:digits.safetensors"), ("builtin", "builtin:digits-cnn"), ("own", "builtin:mlp")]))
    assert len(plan.eval_cells) == 3


def test_pickle_bearing_pt_is_refused_at_validation(root):
    marker = root / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"w": torch.zeros(2), "obj": Payload()}, root / "evil.pt")
    torch.save({"w": torch.zeros(2)}, root / "plain.pt")
    (root / "raw.pkl").write_bytes(pickle.dumps({"x": Payload()}))
    found = problems(root, study([("evil", "file:evil.pt"), ("plain", "file:plain.pt"), ("raw", "file:raw.pkl")]))
    assert "model 'evil' (file:evil.pt)" in found[("models", 0, "source")] and "pickled Python objects" in found[("models", 0, "source")]
    assert "no architecture" in found[("models", 1, "source")]
    assert "Python pickle" in found[("models", 2, "source")]
    assert found[("models", 0, "source")].line == 6
    assert not marker.exists()


def test_large_pytorch_files_are_refused_without_reading_them(root, monkeypatch):
    import engine.models.hf_files as hf_files
    import engine.models.loaders as loaders

    torch.save({"w": torch.zeros(64)}, root / "big.pt")
    monkeypatch.setattr(loaders, "TORCH_PROBE_BYTES", 16)
    monkeypatch.setattr(hf_files, "torch_load_weights_only", lambda path: pytest.fail("read a large PyTorch file"))
    (p,) = problems(root, study([("big", "file:big.pt")])).values()
    assert "is a PyTorch file" in p and "Juxta does not load PyTorch files" in p


def test_damaged_safetensors_are_refused_at_validation(root):
    good = (root / "digits.safetensors").read_bytes()
    (root / "truncated.safetensors").write_bytes(good[: len(good) // 2])
    (root / "random.safetensors").write_bytes(np.random.default_rng(0).bytes(4096))
    (root / "huge.safetensors").write_bytes(struct.pack("<Q", 2**40) + b"{}")
    found = problems(root, study([("t", "file:truncated.safetensors"), ("r", "file:random.safetensors"), ("h", "file:huge.safetensors")]))
    assert len(found) == 3
    for p in found.values():
        assert "is not a valid safetensors file" in p and "truncated or corrupt" in p


def test_safetensors_shapes_must_match_the_declared_architecture(root):
    from safetensors.torch import load_file, save_file

    path = root / "digits.safetensors"
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    state = load_file(str(path))
    state["head.weight"] = torch.zeros(7, 64)
    save_file(state, str(root / "reshaped.safetensors"), metadata=meta)
    save_file({"w": torch.zeros(3)}, str(root / "foreign.safetensors"))
    found = problems(root, study([("reshaped", "file:reshaped.safetensors"), ("foreign", "file:foreign.safetensors")]))
    assert "does not match the 'cnn' architecture it declares: tensor 'head.weight' has shape [7, 64], not [10, 64]" in found[("models", 0, "source")]
    assert "no Juxta architecture metadata" in found[("models", 1, "source")]


def test_hf_folder_without_config_and_uncached_hub_id_offline(root, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (root / "models" / "noconfig").mkdir(parents=True)
    (root / "models" / "noconfig" / "model.safetensors").write_bytes((root / "digits.safetensors").read_bytes())
    found = problems(root, study([("folder", "file:models/noconfig"), ("hub", "hf:someone/not-cached-model")]))
    assert "has no config.json" in found[("models", 0, "source")]
    hub = found[("models", 1, "source")]
    assert "model 'hub' (hf:someone/not-cached-model)" in hub and "not in the local Hugging Face cache" in hub


def test_image_model_on_a_table_and_builtin_architecture_on_the_wrong_data(root):
    (root / "t.csv").write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    found = problems(root, study([("cnn", "builtin:digits-cnn"), ("file", "file:digits.safetensors"), ("own", "builtin:cnn"),
                                  ("ok", "builtin:mlp")], data="csv:t.csv"))
    assert set(found) == {("models", i, "source") for i in range(3)}
    assert "Model 'cnn' takes image inputs but dataset csv:t.csv holds tabular data" in found[("models", 0, "source")]
    assert "Model 'file' takes image inputs" in found[("models", 1, "source")]
    assert "built-in 'cnn' architecture takes image data, but csv:t.csv holds tabular data; use 'mlp'" in found[("models", 2, "source")]


def test_image_size_and_class_count_must_fit_the_model(root):
    image_folder(root / "big", ["0", "1"], side=16)
    (p,) = problems(root, study([("file", "file:digits.safetensors")], data="folder:big",
                                extra="grayscale = true\n")).values()
    assert "expects inputs of shape (1, 8, 8) but dataset folder:big gives (1, 16, 16)" in p
    image_folder(root / "twelve", [str(i) for i in range(12)])
    (p,) = problems(root, study([("cnn", "builtin:digits-cnn")], data="folder:twelve", extra="grayscale = true\n")).values()
    assert "has 12 classes but model 'cnn' knows only 10" in p


def test_class_names_that_differ_stop_validation_with_both_lists(root):
    image_folder(root / "pets", ["cat", "dog"])
    (p,) = problems(root, study([("digits", "file:digits.safetensors")], data="folder:pets", extra="grayscale = true\n")).values()
    assert p.key == ("models", 0, "source")
    assert "dataset folder:pets (cat, dog) are not the classes of model 'digits' (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)" in p
    juxta_file(root / "pets.safetensors", classes=["dog", "cat", "eel"])
    assert validate(root, study([("pets", "file:pets.safetensors")], data="folder:pets", extra="grayscale = true\n"))


def test_field_datasets_are_checked_too(root):
    image_folder(root / "phone", ["3", "7"], side=16)
    extra = '[shift]\n[[shift.field]]\nid = "phone"\nsource = "folder:phone"\ngrayscale = true\n'
    (p,) = problems(root, study([("file", "file:digits.safetensors")], extra=extra)).values()
    assert "dataset folder:phone gives (1, 16, 16)" in p
