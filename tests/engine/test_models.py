"""Built-in models, Juxta model files, and safe loading (pickles refused, nothing executed)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from engine.data.base import Dataset
from engine.data.loaders import load_data
from engine.core.errors import DataError, ModelError, SourceError, UnsafeModelError
from engine.models.builtin import build
from engine.models.loaders import describe_file, load_model_file
from engine.models.recipes import DEFAULT_RECIPES, Recipe, parse_builtin
from engine.models.train import builtin_info, save_juxta_model, train_builtin
from engine.core.sources import parse_source


@pytest.mark.parametrize("arch", ["mlp", "cnn", "vit"])
def test_builtin_image_architectures_give_class_logits(arch):
    m = build(arch, (1, 8, 8), 10, torch.zeros(1), torch.ones(1))
    assert m(torch.rand(4, 1, 8, 8)).shape == (4, 10)


def test_bow_text_model():
    m = build("bow", (), 3, torch.zeros(1), torch.ones(1))
    assert m(["hello there", "bye"]).shape == (2, 3)


def test_parse_builtin():
    assert parse_builtin("digits-cnn") == ("digits", "cnn")
    assert parse_builtin("mlp") == (None, "mlp")
    with pytest.raises(SourceError, match="Unknown built-in model 'digits-resnet'"):
        parse_builtin("digits-resnet")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("m")
    data = load_data("builtin:digits", root)
    train, val = data.subset(np.arange(0, 1500)), data.subset(np.arange(1500, 1797))
    recipe = Recipe("cnn", epochs=2, lr=3e-3, batch_size=64, weight_decay=1e-4)
    module, curves = train_builtin(recipe, train, val, seed=0, device="cpu")
    info = builtin_info("builtin:digits-cnn", "cnn", module, train)
    path = root / "cnn.safetensors"
    save_juxta_model(module, info, recipe, path)
    return root, path, module, val, curves


def test_training_learns_and_records_curves(trained):
    _, _, _, _, curves = trained
    series = {s for _, s, _ in curves}
    assert series == {"train_loss", "val_accuracy"}
    acc = [v for _, s, v in curves if s == "val_accuracy"]
    assert acc[-1] > 0.6  # two epochs of a CNN on digits is far above chance (0.1)


def test_training_is_reproducible_for_a_seed(tmp_path):
    data = load_data("builtin:digits", tmp_path).subset(np.arange(300))
    recipe = Recipe("mlp", epochs=1, lr=1e-3, batch_size=32, weight_decay=0.0)
    a, _ = train_builtin(recipe, data, None, seed=5, device="cpu")
    b, _ = train_builtin(recipe, data, None, seed=5, device="cpu")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_juxta_file_round_trip(trained):
    root, path, module, val, _ = trained
    clf = load_model_file(parse_source(f"file:{path.name}"), root)
    x = torch.as_tensor(val.x[:16])
    assert torch.allclose(clf.logits(x), module(x), atol=1e-6)
    assert clf.info.architecture == "cnn" and clf.info.class_names == [str(i) for i in range(10)]
    info = describe_file(path, "file:cnn.safetensors")
    assert info.architecture == "cnn" and info.input_shape == (1, 8, 8) and info.n_params > 1000


def test_pickle_file_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for name in ("model.pkl", "model.pt", "model.bin"):
        (tmp_path / name).write_bytes(pickle.dumps({"weights": Evil()}))
        with pytest.raises(UnsafeModelError, match="refuse|refused"):
            load_model_file(parse_source(f"file:{name}"), tmp_path)
    assert not marker.exists()


def test_plain_torch_weights_need_an_architecture(tmp_path):
    torch.save({"w": torch.zeros(2)}, tmp_path / "w.pt")
    with pytest.raises(ModelError, match="no architecture"):
        load_model_file(parse_source("file:w.pt"), tmp_path)


def test_corrupt_safetensors(trained, tmp_path):
    _, path, *_ = trained
    (tmp_path / "bad.safetensors").write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ModelError, match="corrupt|not a valid safetensors"):
        load_model_file(parse_source("file:bad.safetensors"), tmp_path)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="not a valid safetensors"):
        load_model_file(parse_source("file:junk.safetensors"), tmp_path)


def test_safetensors_without_juxta_metadata(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ModelError, match="no Juxta architecture metadata"):
        load_model_file(parse_source("file:plain.safetensors"), tmp_path)


def test_shape_and_label_mismatch_are_explained(trained):
    root, path, *_ = trained
    clf = load_model_file(parse_source(f"file:{path.name}"), root)
    big = Dataset("folder:photos", "image", np.zeros((2, 3, 32, 32), np.float32), np.array([0, 1]), ["0", "1"])
    with pytest.raises(ModelError, match=r"expects inputs of shape \(1, 8, 8\) but dataset folder:photos gives \(3, 32, 32\)"):
        clf.check_fits(big, "cnn")
    many = Dataset("csv:x", "image", np.zeros((2, 1, 8, 8), np.float32), np.array([0, 11]), [str(i) for i in range(12)])
    with pytest.raises(DataError, match="12 classes but model 'cnn' knows only 10"):
        clf.check_fits(many, "cnn")
    table = Dataset("csv:t", "tabular", np.zeros((2, 4), np.float32), np.array([0, 1]), ["0", "1"])
    with pytest.raises(ModelError, match="takes image inputs but dataset csv:t holds tabular data"):
        clf.check_fits(table, "cnn")


def test_default_recipes_cover_every_architecture():
    from engine.models.recipes import ARCHITECTURES

    assert set(DEFAULT_RECIPES) == set(ARCHITECTURES)


def test_torch_pickle_protocol_warning_stays_off_the_console(tmp_path, recwarn):
    (tmp_path / "p4.pt").write_bytes(b"\x80\x04K\x01.")  # a protocol-4 pickle torch did not write
    with pytest.raises(ModelError):
        load_model_file(parse_source("file:p4.pt"), tmp_path)
    assert not [w for w in recwarn if "pickle protocol" in str(w.message)]


def test_classes_are_matched_by_name_never_silently_by_position():
    from engine.models.base import label_mapping

    digits = [str(i) for i in range(10)]
    mapping, how = label_mapping(["cat", "dog", "eel"], ["dog", "cat"], "m", "folder:x")
    assert how == "name" and mapping.tolist() == [1, 0]
    assert label_mapping(digits, ["3", "7"], "m", "csv:t")[0].tolist() == [3, 7]
    mapping, how = label_mapping(["LABEL_0", "LABEL_1"], ["cat", "dog"], "m", "folder:x")
    assert how == "index" and mapping.tolist() == [0, 1]
    assert label_mapping(["negative", "positive"], ["0", "1"], "m", "csv:t")[1] == "index"
    with pytest.raises(DataError) as info:
        label_mapping(digits, ["cat", "dog"], "digits", "folder:pets")
    msg = str(info.value)
    assert "dataset folder:pets (cat, dog)" in msg and "model 'digits' (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)" in msg
    with pytest.raises(DataError, match=r"\(1, 2\) are not the classes"):
        label_mapping(["0", "1"], ["1", "2"], "m", "csv:t")


def write_pets(folder, names=("cat", "dog"), side=8):
    from PIL import Image

    for k, name in enumerate(names):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((side, side), 40 * (i + k), np.uint8)).save(folder / name / f"{i}.png")


def test_a_digits_model_on_cat_and_dog_folders_fails_its_cells_with_both_class_lists(trained, tmp_path):
    from engine.core.cells import CellContext, execute_cell
    from engine.kinds import parse_study_text
    from engine.kinds.shift.plan import plan_study
    from engine.kinds.shift.work import eval_cell

    _, path, *_ = trained
    (tmp_path / "cnn.safetensors").write_bytes(path.read_bytes())
    write_pets(tmp_path / "pets")
    study = parse_study_text('schema_version = 1\n[study]\nname = "p"\n[[models]]\nid = "digits"\nsource = "file:cnn.safetensors"\n'
                             '[data]\nsource = "folder:pets"\nsplit = "all"\ngrayscale = true\n[metrics]\nbootstrap = 0\n')
    (cell,) = plan_study(study, tmp_path).cells
    result = execute_cell(cell, CellContext(root=tmp_path), eval_cell)
    assert result.status == "failed" and "(cat, dog) are not the classes of model 'digits' (0, 1, 2" in result.error
