"""Dataset sources and splits: built-in, image folders, CSV/Parquet; bad data is refused clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from engine.data.base import DataOptions, stratified_split
from engine.data.loaders import load_data
from engine.core.errors import DataError, SourceError


def test_builtin_digits_are_8x8_images_in_unit_range(tmp_path):
    d = load_data("builtin:digits", tmp_path)
    assert d.modality == "image" and d.x.shape == (1797, 1, 8, 8) and d.x.dtype == np.float32
    assert 0.0 <= d.x.min() and d.x.max() <= 1.0 and d.class_names == [str(i) for i in range(10)]


@pytest.mark.parametrize("name,rows,features,classes", [("wine", 178, 13, 3), ("breast-cancer", 569, 30, 2)])
def test_builtin_tables(tmp_path, name, rows, features, classes):
    d = load_data(f"builtin:{name}", tmp_path)
    assert d.modality == "tabular" and d.x.shape == (rows, features) and d.num_classes == classes
    assert d.feature_names and len(d.feature_names) == features


def test_unknown_builtin(tmp_path):
    with pytest.raises(SourceError, match="Unknown built-in dataset 'mnist'"):
        load_data("builtin:mnist", tmp_path)


def test_stratified_split_is_seeded_disjoint_and_complete():
    y = np.repeat(np.arange(5), 40)
    a = stratified_split(y, {"train": 0.7, "validation": 0.1, "test": 0.2}, seed=3)
    b = stratified_split(y, {"train": 0.7, "validation": 0.1, "test": 0.2}, seed=3)
    c = stratified_split(y, {"train": 0.7, "validation": 0.1, "test": 0.2}, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])
    allrows = np.concatenate(list(a.values()))
    assert len(allrows) == len(y) == len(set(allrows.tolist()))
    assert np.bincount(y[a["test"]]).tolist() == [8] * 5  # every class, in proportion


def _image_folder(root, classes=("cat", "dog"), per_class=3, size=(12, 12)):
    for k, cls in enumerate(classes):
        (root / "imgs" / cls).mkdir(parents=True)
        for i in range(per_class):
            arr = np.full((*size, 3), 40 * (k + 1) + i, dtype=np.uint8)
            Image.fromarray(arr).save(root / "imgs" / cls / f"{i}.png")


def test_image_folder(tmp_path):
    _image_folder(tmp_path)
    d = load_data("folder:imgs", tmp_path)
    assert d.x.shape == (6, 3, 12, 12) and d.class_names == ["cat", "dog"] and d.y.tolist() == [0, 0, 0, 1, 1, 1]
    g = load_data("folder:imgs", tmp_path, DataOptions(grayscale=True, image_size=8))
    assert g.x.shape == (6, 1, 8, 8)


def test_image_folder_mixed_sizes_and_empty(tmp_path):
    _image_folder(tmp_path)
    Image.fromarray(np.zeros((5, 7, 3), np.uint8)).save(tmp_path / "imgs" / "cat" / "odd.png")
    with pytest.raises(DataError, match="mixes image sizes.*image_size"):
        load_data("folder:imgs", tmp_path)
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="zero rows"):
        load_data("folder:empty", tmp_path)


def test_csv_tabular_with_groups(tmp_path):
    pd.DataFrame({"x1": [1.0, 2, 3, 4], "x2": [0.5, 0.1, 0.2, 0.3], "label": ["b", "a", "b", "a"], "site": ["n", "s", "n", "s"]}).to_csv(tmp_path / "t.csv", index=False)
    d = load_data("csv:t.csv", tmp_path, DataOptions(group_column="site"))
    assert d.modality == "tabular" and d.x.shape == (4, 2) and d.class_names == ["a", "b"]
    assert d.y.tolist() == [1, 0, 1, 0] and d.groups.tolist() == ["n", "s", "n", "s"]


def test_parquet_text(tmp_path):
    pd.DataFrame({"text": ["good film", "bad plot", "fine"], "label": [1, 0, 1]}).to_parquet(tmp_path / "t.parquet")
    d = load_data("parquet:t.parquet", tmp_path, DataOptions(text_column="text"))
    assert d.modality == "text" and d.x[1] == "bad plot" and d.class_names == ["0", "1"]


def test_csv_zero_rows(tmp_path):
    (tmp_path / "e.csv").write_text("x,label\n")
    with pytest.raises(DataError, match="zero rows"):
        load_data("csv:e.csv", tmp_path)


def test_csv_nan_feature_names_column_and_row(tmp_path):
    (tmp_path / "n.csv").write_text("age,height,label\n1,2,0\n3,,1\n")
    with pytest.raises(DataError) as info:
        load_data("csv:n.csv", tmp_path)
    msg = str(info.value)
    assert "csv:n.csv" in msg and "'height'" in msg and "row 1" in msg


def test_csv_missing_label_column_lists_columns(tmp_path):
    (tmp_path / "m.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="no label column 'label'; its columns are a, b"):
        load_data("csv:m.csv", tmp_path)


def test_csv_text_without_text_column_suggests_it(tmp_path):
    (tmp_path / "t.csv").write_text("review,label\ngood,1\nbad,0\n")
    with pytest.raises(DataError, match="set text_column = 'review'"):
        load_data("csv:t.csv", tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        load_data("csv:nope.csv", tmp_path)


def test_fingerprint_tracks_content(tmp_path):
    d = load_data("builtin:digits", tmp_path)
    a = d.subset(np.arange(10)).fingerprint()
    assert a == d.subset(np.arange(10)).fingerprint()
    assert a != d.subset(np.arange(1, 11)).fingerprint()


@pytest.mark.parametrize("side", [9, 12])  # over Pillow's limit (a warning), and over twice it (an error)
def test_image_over_the_decompression_bomb_limit_is_a_plain_data_error(tmp_path, monkeypatch, side):
    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "imgs" / cls / "small.png")
    Image.fromarray(np.zeros((side, side), np.uint8)).save(tmp_path / "imgs" / "b" / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64)
    with pytest.raises(DataError) as info:
        load_data("folder:imgs", tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "imgs" / "b" / "huge.png") in msg and f"is too large ({side * side:,} pixels)" in msg
    assert "up to 64 pixels" in msg


def test_builtin_digits_equal_scikit_learns_and_load_without_importing_it():
    """A re-run with nothing to compute reads the digits to fingerprint them: importing scikit-learn for that
    cost seconds, so they are read from the file scikit-learn ships, giving its exact arrays."""
    import subprocess
    import sys

    from sklearn.datasets import load_digits


    data, bunch = load_data("builtin:digits", Path(".")), load_digits()
    assert np.array_equal(data.x[:, 0], (bunch.images / 16.0).astype(np.float32))
    assert np.array_equal(data.y, bunch.target) and data.class_names == [str(c) for c in range(10)]
    code = ("import sys; from pathlib import Path; from engine.data.loaders import load_data;"
            "d = load_data('builtin:digits', Path('.')); print(d.x.shape, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "(1797, 1, 8, 8) False"
