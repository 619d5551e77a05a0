"""Hugging Face model and dataset sources, tested offline on tiny models and datasets built here.

Nothing here touches the network: hub ids are served from a hand-made cache folder (``cache_dir``)
or must fail with a plain "not in the local cache" sentence.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")
PIL_Image = pytest.importorskip("PIL.Image")

from engine.data.base import DataOptions  # noqa: E402
from engine.data.hf import load_hf_dataset  # noqa: E402
from engine.core.errors import DataError, ModelError, SourceError, UnsafeModelError  # noqa: E402
from engine.models.hf import describe_hf_model, load_hf_model  # noqa: E402
from engine.core.sources import parse_source  # noqa: E402

VIT_LABELS = ["cat", "dog", "eel"]
BERT_LABELS = ["negative", "positive"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "movie", "was", "good", "bad",
         "very", "not", "!", ".", "it", "is", "##s"]
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


# --------------------------------------------------------------------------------------------
# builders (plain functions: no shared conftest)


def make_tiny_vit(folder: Path, *, weights: str = "safetensors") -> "transformers.ViTForImageClassification":
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=16, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=37, num_labels=3,
        id2label={i: n for i, n in enumerate(VIT_LABELS)}, label2id={n: i for i, n in enumerate(VIT_LABELS)},
    )
    model = transformers.ViTForImageClassification(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    if weights == "safetensors":
        model.save_pretrained(folder, safe_serialization=True)
    else:  # config + a plain pytorch_model.bin of tensors
        config.save_pretrained(folder)
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    transformers.ViTImageProcessor(size={"height": 16, "width": 16}).save_pretrained(folder)
    return model


def make_bert_tokenizer(folder: Path):
    vocab = {tok: i for i, tok in enumerate(VOCAB)}
    if int(transformers.__version__.split(".")[0]) >= 5:
        tok = transformers.BertTokenizerFast(vocab=vocab)
    else:  # pragma: no cover - transformers 4 takes a vocab file
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
        tok = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    return tok


def make_tiny_bert(folder: Path):
    torch.manual_seed(1)
    tok = make_bert_tokenizer(folder)
    config = transformers.BertConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64, num_labels=2,
        id2label={0: BERT_LABELS[0], 1: BERT_LABELS[1]}, label2id={n: i for i, n in enumerate(BERT_LABELS)},
    )
    model = transformers.BertForSequenceClassification(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return model, tok


def make_hub_cache(cache: Path, repo_id: str, files_from: Path, commit: str = FAKE_COMMIT) -> Path:
    """Lay out ``models--org--name/{refs/main, snapshots/<commit>/...}`` as huggingface_hub does."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    snap = repo / "snapshots" / commit
    shutil.copytree(files_from, snap)
    return snap


class _Payload:
    """Pickles as a call to ``open(marker, 'w')``: creating the file proves code ran on load."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        import builtins

        return (builtins.open, (self.marker, "w"))


def images_uint8(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def as_batch(arr: np.ndarray) -> "torch.Tensor":
    """(N, H, W, C) uint8 -> (N, C, H, W) float in [0, 1], as a Dataset holds images."""
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float() / 255.0


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def vit_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("vit_project")
    model = make_tiny_vit(root / "models" / "vit")
    return root, model


@pytest.fixture(scope="module")
def bert_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("bert_project")
    model, tok = make_tiny_bert(root / "models" / "bert")
    return root, model, tok


@pytest.fixture
def offline_env(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


# --------------------------------------------------------------------------------------------
# models: local folders


def test_vit_loads_from_relative_absolute_and_file_sources(vit_project):
    root, model = vit_project
    folder = root / "models" / "vit"
    for text in ("hf:./models/vit", f"hf:{folder}", "file:models/vit"):
        clf = load_hf_model(parse_source(text), root)
        assert clf.info.source == text
        assert clf.info.modality == "image"
        assert clf.info.class_names == VIT_LABELS
        assert clf.info.architecture == "ViTForImageClassification"
        assert clf.info.n_params == sum(p.numel() for p in model.parameters())
        assert clf.info.input_shape is None
        assert clf.info.extra["task"] == "image-classification"
        assert clf.info.extra["revision"] is None
        assert Path(clf.info.extra["path"]).resolve() == folder.resolve()
        assert clf.info.extra["weights"] == "safetensors"
        assert "missing_keys" not in clf.info.extra


def test_vit_logits_equal_transformers_on_processed_inputs(vit_project):
    root, model = vit_project
    clf = load_hf_model(parse_source("hf:./models/vit"), root).eval()
    arr = images_uint8(4)
    processor = transformers.AutoImageProcessor.from_pretrained(root / "models" / "vit")
    pixel_values = processor(images=[PIL_Image.fromarray(a) for a in arr], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        want = model(pixel_values=pixel_values).logits
        got = clf.logits(as_batch(arr))
    assert got.shape == (4, 3)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_vit_takes_grayscale_8x8_and_resizes_in_torch(vit_project):
    root, model = vit_project
    clf = load_hf_model(parse_source("hf:./models/vit"), root).eval()
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        got = clf.logits(x)
        rgb = torch.nn.functional.interpolate(x.repeat(1, 3, 1, 1), size=(16, 16), mode="bilinear",
                                              align_corners=False, antialias=True)
        want = model(pixel_values=(rgb - 0.5) / 0.5).logits
    assert got.shape == (2, 3)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_describe_reads_config_and_headers_without_loading_weights(vit_project, bert_project, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("describe_hf_model must not load weights")

    monkeypatch.setattr(transformers.PreTrainedModel, "from_pretrained", classmethod(refuse))
    monkeypatch.setattr(torch, "load", refuse)
    root, model = vit_project
    info = describe_hf_model(parse_source("hf:./models/vit"), root)
    assert info.class_names == VIT_LABELS
    assert info.modality == "image"
    assert info.architecture == "ViTForImageClassification"
    assert info.n_params == sum(p.numel() for p in model.parameters())

    broot, bmodel, _ = bert_project
    binfo = describe_hf_model(parse_source("hf:./models/bert"), broot)
    assert binfo.class_names == BERT_LABELS
    assert binfo.modality == "text"
    assert binfo.n_params == sum(p.numel() for p in bmodel.parameters())


def test_bert_logits_equal_transformers_on_tokenised_inputs(bert_project):
    root, model, tok = bert_project
    clf = load_hf_model(parse_source("hf:./models/bert"), root).eval()
    assert clf.info.modality == "text"
    assert clf.info.class_names == BERT_LABELS
    assert clf.info.architecture == "BertForSequenceClassification"
    assert clf.info.extra["max_length"] == 64
    texts = ["the movie was very good !", "it is not a cat .", "bad"]
    enc = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        want = model(**enc).logits
        got = clf.logits(texts)
    assert got.shape == (3, 2)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    long_text = " ".join(["good"] * 500)  # truncated to the model's 64 positions
    with torch.no_grad():
        assert clf.logits([long_text]).shape == (1, 2)


def test_missing_folder_and_folder_without_config_are_source_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        load_hf_model(parse_source("hf:./nowhere"), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="config.json"):
        describe_hf_model(parse_source("hf:./empty"), tmp_path)


def test_non_classifier_is_refused(tmp_path):
    folder = tmp_path / "mlm"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"], "model_type": "bert"}))
    with pytest.raises(ModelError, match="BertForMaskedLM"):
        load_hf_model(parse_source("hf:./mlm"), tmp_path)


# --------------------------------------------------------------------------------------------
# models: hub cache, offline


def test_hub_id_loads_offline_from_cache(vit_project, tmp_path, offline_env):
    root, model = vit_project
    cache = tmp_path / "hub"
    make_hub_cache(cache, "org/tiny-vit", root / "models" / "vit")
    clf = load_hf_model(parse_source("hf:org/tiny-vit"), tmp_path, cache_dir=cache)
    assert clf.info.extra["revision"] == FAKE_COMMIT
    assert clf.info.class_names == VIT_LABELS
    x = as_batch(images_uint8(2))
    with torch.no_grad():
        torch.testing.assert_close(clf.logits(x), load_hf_model(parse_source("hf:./models/vit"), root).logits(x))
    pinned = load_hf_model(parse_source(f"hf:org/tiny-vit@{FAKE_COMMIT}"), tmp_path, cache_dir=cache)
    assert pinned.info.source == f"hf:org/tiny-vit@{FAKE_COMMIT}"
    info = describe_hf_model(parse_source("hf:org/tiny-vit"), tmp_path, cache_dir=cache)
    assert info.n_params == clf.info.n_params and info.extra["revision"] == FAKE_COMMIT


def test_hub_id_not_cached_gives_plain_source_error(tmp_path, offline_env):
    with pytest.raises(SourceError) as err:
        load_hf_model(parse_source("hf:org/not-there"), tmp_path, cache_dir=tmp_path / "hub")
    msg = str(err.value)
    assert "hf:org/not-there" in msg and "not in the local Hugging Face cache" in msg and "local folder" in msg
    with pytest.raises(SourceError, match="not in the local Hugging Face cache"):
        describe_hf_model(parse_source("hf:org/not-there@main"), tmp_path, cache_dir=tmp_path / "hub")


def test_unreachable_hub_falls_back_to_cache(vit_project, tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    real = huggingface_hub.snapshot_download
    calls = []

    def flaky(repo_id, *, local_files_only=False, **kw):
        calls.append(local_files_only)
        if not local_files_only:
            raise ConnectionError("network is down")
        return real(repo_id, local_files_only=True, **kw)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", flaky)
    root, _ = vit_project
    cache = tmp_path / "hub"
    make_hub_cache(cache, "org/tiny-vit", root / "models" / "vit")
    clf = load_hf_model(parse_source("hf:org/tiny-vit"), tmp_path, cache_dir=cache)
    assert clf.info.extra["revision"] == FAKE_COMMIT
    assert calls[:2] == [False, True]
    with pytest.raises(SourceError, match="not in the local Hugging Face cache"):
        load_hf_model(parse_source("hf:org/other"), tmp_path, cache_dir=cache)


# --------------------------------------------------------------------------------------------
# models: safety


def test_plain_pytorch_bin_loads_with_weights_only(vit_project, tmp_path):
    root, model = vit_project
    make_tiny_vit(tmp_path / "binvit", weights="bin")
    assert not list((tmp_path / "binvit").glob("*.safetensors"))
    clf = load_hf_model(parse_source("hf:./binvit"), tmp_path)
    assert clf.info.extra["weights"].startswith("pytorch_model.bin")
    assert "missing_keys" not in clf.info.extra
    x = as_batch(images_uint8(2))
    with torch.no_grad():
        torch.testing.assert_close(clf.logits(x), model(pixel_values=(x - 0.5) / 0.5).logits)


@pytest.mark.parametrize("fmt", ["torch-zip", "raw-pickle"])
def test_pickled_object_in_pytorch_bin_is_refused_and_never_runs(tmp_path, fmt):
    control = tmp_path / "control-ran"
    pickle.loads(pickle.dumps(_Payload(control)))
    assert control.exists(), "the payload must be live for this test to mean anything"

    folder = tmp_path / "evil"
    model = make_tiny_vit(folder, weights="bin")
    marker = tmp_path / "payload-ran"
    state = dict(model.state_dict())
    state["classifier.bias"] = _Payload(marker)
    bin_path = folder / "pytorch_model.bin"
    if fmt == "torch-zip":
        torch.save(state, bin_path)
    else:
        with open(bin_path, "wb") as fh:
            pickle.dump(state, fh, protocol=2)
    with pytest.raises(UnsafeModelError) as err:
        load_hf_model(parse_source("hf:./evil"), tmp_path)
    assert "pytorch_model.bin" in str(err.value)
    assert isinstance(err.value, ModelError)
    assert not marker.exists()


def test_remote_code_config_is_refused_without_trust(vit_project, tmp_path):
    root, _ = vit_project
    folder = tmp_path / "custom"
    shutil.copytree(root / "models" / "vit", folder)
    marker = tmp_path / "remote-code-ran"
    (folder / "modeling_custom.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {
        "AutoConfig": "modeling_custom.CustomConfig",
        "AutoModelForImageClassification": "modeling_custom.CustomForImageClassification",
    }
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="trust remote code"):
        load_hf_model(parse_source("hf:./custom"), tmp_path)
    assert not marker.exists()
    info = describe_hf_model(parse_source("hf:./custom"), tmp_path)
    assert info.extra.get("needs_remote_code") is True
    assert not marker.exists()


def test_custom_tokenizer_code_is_refused_without_trust(bert_project, tmp_path):
    root, _, _ = bert_project
    folder = tmp_path / "customtok"
    shutil.copytree(root / "models" / "bert", folder)
    tok_cfg = json.loads((folder / "tokenizer_config.json").read_text())
    tok_cfg["auto_map"] = {"AutoTokenizer": ["tokenization_custom.CustomTokenizer", None]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    with pytest.raises(ModelError, match="AutoTokenizer.*trust remote code"):
        load_hf_model(parse_source("hf:./customtok"), tmp_path)


# --------------------------------------------------------------------------------------------
# models: what validation finds without loading (issue 8 item 27)


def test_inspection_finds_what_loading_would_refuse(vit_project, tmp_path, offline_env):
    from engine.models.hf import inspect_hf_model

    root, _ = vit_project
    info = inspect_hf_model(parse_source("hf:./models/vit"), root)
    assert info.class_names == VIT_LABELS and info.modality == "image"
    broken = tmp_path / "broken"
    shutil.copytree(root / "models" / "vit", broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelError, match="not a valid safetensors file"):
        inspect_hf_model(parse_source("hf:./broken"), tmp_path)
    noweights = tmp_path / "noweights"
    shutil.copytree(root / "models" / "vit", noweights, ignore=shutil.ignore_patterns("*.safetensors"))
    with pytest.raises(ModelError, match="has no weights"):
        inspect_hf_model(parse_source("hf:./noweights"), tmp_path)
    custom = tmp_path / "custom"
    shutil.copytree(root / "models" / "vit", custom)
    cfg = json.loads((custom / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForImageClassification": "modeling_custom.Custom"}
    (custom / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="trust remote code"):
        inspect_hf_model(parse_source("hf:./custom"), tmp_path)
    assert inspect_hf_model(parse_source("hf:./custom"), tmp_path, trust_remote_code=True).class_names == VIT_LABELS


def test_inspection_of_a_hub_id_cached_without_weights_offline(vit_project, tmp_path, offline_env):
    from engine.models.hf import inspect_hf_model

    root, _ = vit_project
    cache = tmp_path / "hub"
    snap = make_hub_cache(cache, "org/tiny-vit", root / "models" / "vit")
    assert inspect_hf_model(parse_source("hf:org/tiny-vit"), tmp_path, cache_dir=cache).class_names == VIT_LABELS
    (snap / "model.safetensors").unlink()
    with pytest.raises(SourceError, match="not its weights in the local Hugging Face cache"):
        inspect_hf_model(parse_source("hf:org/tiny-vit"), tmp_path, cache_dir=cache)


def test_pickled_object_in_a_small_pytorch_bin_is_found_by_inspection(vit_project, tmp_path):
    from engine.models.hf import inspect_hf_model

    root, model = vit_project
    folder = tmp_path / "binvit"
    shutil.copytree(root / "models" / "vit", folder, ignore=shutil.ignore_patterns("*.safetensors"))
    marker = tmp_path / "ran"
    torch.save({**model.state_dict(), "extra": _Payload(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(UnsafeModelError):
        inspect_hf_model(parse_source("hf:./binvit"), tmp_path)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------
# datasets


def _image_ds(images, labels, names=("a", "b", "c")):
    feats = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(names))})
    return datasets.Dataset.from_dict({"image": images, "label": labels}, features=feats)


def test_image_dataset_saved_to_disk(tmp_path):
    arr = images_uint8(6, size=8, seed=5)
    _image_ds([PIL_Image.fromarray(a) for a in arr], [0, 1, 2, 0, 1, 2]).save_to_disk(str(tmp_path / "imgs"))
    ds = load_hf_dataset(parse_source("hf:./imgs", kind="data"), tmp_path, DataOptions())
    assert ds.modality == "image"
    assert ds.class_names == ["a", "b", "c"]
    assert ds.x.shape == (6, 3, 8, 8) and ds.x.dtype == np.float32
    np.testing.assert_allclose(ds.x, arr.transpose(0, 3, 1, 2) / 255.0, atol=1e-6)
    assert ds.y.tolist() == [0, 1, 2, 0, 1, 2]
    assert ds.meta["hf_splits"] == {"train": [0, 6]}
    assert ds.meta["path"] == str(tmp_path / "imgs") and ds.meta.get("fingerprint")
    gray = load_hf_dataset(parse_source("hf:./imgs", kind="data"), tmp_path, DataOptions(grayscale=True))
    assert gray.x.shape == (6, 1, 8, 8)


def test_hub_image_over_the_decompression_bomb_limit_is_a_plain_data_error(tmp_path, monkeypatch):
    arr = images_uint8(3, size=8, seed=1)
    _image_ds([PIL_Image.fromarray(a) for a in arr], [0, 1, 2]).save_to_disk(str(tmp_path / "imgs"))
    monkeypatch.setattr(PIL_Image, "MAX_IMAGE_PIXELS", 16)
    with pytest.raises(DataError, match=r"an image in column 'image' of split 'train' is too large \(64 pixels\)"):
        load_hf_dataset(parse_source("hf:./imgs", kind="data"), tmp_path, DataOptions())


def test_grayscale_images_mixed_sizes_and_resizing(tmp_path):
    rng = np.random.default_rng(0)
    small = [PIL_Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)) for _ in range(3)]
    _image_ds(small, [0, 1, 1]).save_to_disk(str(tmp_path / "gray"))
    ds = load_hf_dataset(parse_source("hf:./gray", kind="data"), tmp_path, DataOptions())
    assert ds.x.shape == (3, 1, 8, 8)

    mixed = small + [PIL_Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))]
    _image_ds(mixed, [0, 1, 2, 2]).save_to_disk(str(tmp_path / "mixed"))
    with pytest.raises(DataError, match="image_size"):
        load_hf_dataset(parse_source("hf:./mixed", kind="data"), tmp_path, DataOptions())
    ds = load_hf_dataset(parse_source("hf:./mixed", kind="data"), tmp_path, DataOptions(image_size=8))
    assert ds.x.shape == (4, 3, 8, 8)  # some RGB: all RGB
    assert np.allclose(ds.x[0, 0], ds.x[0, 1]) and np.allclose(ds.x[0, 0], ds.x[0, 2])


def test_dataset_dict_concatenates_splits_and_selects_one(tmp_path):
    arr = images_uint8(5, size=4, seed=1)
    imgs = [PIL_Image.fromarray(a) for a in arr]
    dd = datasets.DatasetDict({"train": _image_ds(imgs[:3], [0, 1, 2]), "test": _image_ds(imgs[3:], [2, -1])})
    dd.save_to_disk(str(tmp_path / "dd"))
    src = parse_source("hf:./dd", kind="data")
    ds = load_hf_dataset(src, tmp_path, DataOptions())
    assert len(ds) == 4  # the unlabelled test row is dropped
    assert ds.meta["hf_splits"] == {"train": [0, 3], "test": [3, 4]}
    assert ds.meta["dropped_unlabelled"] == 1
    assert ds.index.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(ds.x[3], arr[3].transpose(2, 0, 1) / 255.0, atol=1e-6)
    test = load_hf_dataset(src, tmp_path, DataOptions(hf_split="test"))
    assert len(test) == 1 and test.meta["split"] == "test" and test.meta["hf_splits"] == {"test": [0, 1]}
    with pytest.raises(DataError, match="train, test"):
        load_hf_dataset(src, tmp_path, DataOptions(hf_split="validation"))


def test_text_dataset_with_groups(tmp_path):
    data = {
        "text": ["good movie", "bad movie", "fine", "awful", "great"],
        "label": ["pos", "neg", "pos", "neg", "pos"],
        "site": ["a", "a", "b", "b", "c"],
        "stars": [5, 1, 4, 1, 5],
    }
    datasets.Dataset.from_dict(data).save_to_disk(str(tmp_path / "reviews"))
    ds = load_hf_dataset(parse_source("hf:./reviews", kind="data"), tmp_path, DataOptions(group_column="site"))
    assert ds.modality == "text"
    assert ds.x == data["text"]
    assert ds.class_names == ["neg", "pos"]
    assert ds.y.tolist() == [1, 0, 1, 0, 1]
    assert ds.groups.tolist() == ["a", "a", "b", "b", "c"] and ds.groups.dtype.kind == "U"
    tab = load_hf_dataset(parse_source("hf:./reviews", kind="data"), tmp_path,
                          DataOptions(feature_columns=("stars",)))
    assert tab.modality == "text"  # 'text' column wins unless told otherwise
    with pytest.raises(DataError, match="site"):
        load_hf_dataset(parse_source("hf:./reviews", kind="data"), tmp_path, DataOptions(group_column="region"))


def test_parquet_folder_is_tabular(tmp_path):
    pd = pytest.importorskip("pandas")
    folder = tmp_path / "table"
    folder.mkdir()
    frame = pd.DataFrame({"f1": [0.5, 1.5, 2.5, 3.5], "f2": [1, 2, 3, 4], "label": [0, 2, 1, 2],
                          "grp": ["x", "y", "x", "y"], "note": ["p", "q", "r", "s"]})
    frame.to_parquet(folder / "part-0.parquet", index=False)
    ds = load_hf_dataset(parse_source("hf:./table", kind="data"), tmp_path,
                         DataOptions(group_column="grp"), cache_dir=tmp_path / "dcache")
    assert ds.modality == "tabular"
    assert ds.feature_names == ["f1", "f2"]
    assert ds.x.dtype == np.float32 and ds.x.shape == (4, 2)
    np.testing.assert_allclose(ds.x, frame[["f1", "f2"]].to_numpy(np.float32))
    assert ds.class_names == ["0", "1", "2"] and ds.y.tolist() == [0, 2, 1, 2]
    assert ds.groups.tolist() == ["x", "y", "x", "y"]


def test_missing_label_column_names_the_columns(tmp_path):
    datasets.Dataset.from_dict({"x": [1.0, 2.0], "target": [0, 1]}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(DataError) as err:
        load_hf_dataset(parse_source("hf:./d", kind="data"), tmp_path, DataOptions())
    msg = str(err.value)
    assert "hf:./d" in msg and "'label'" in msg and "x, target" in msg


def test_zero_rows_is_a_data_error(tmp_path):
    feats = datasets.Features({"x": datasets.Value("float32"), "label": datasets.ClassLabel(names=["a", "b"])})
    datasets.Dataset.from_dict({"x": [], "label": []}, features=feats).save_to_disk(str(tmp_path / "empty"))
    with pytest.raises(DataError, match="zero rows"):
        load_hf_dataset(parse_source("hf:./empty", kind="data"), tmp_path, DataOptions())


def test_dataset_hub_id_not_cached_offline(tmp_path, offline_env):
    with pytest.raises(SourceError) as err:
        load_hf_dataset(parse_source("hf:org/not-cached", kind="data"), tmp_path, DataOptions(),
                        cache_dir=tmp_path / "dcache")
    assert "not in the local Hugging Face cache" in str(err.value) and "hf:org/not-cached" in str(err.value)


def test_dataset_unreachable_hub_goes_straight_to_the_cache(tmp_path, monkeypatch):
    import datasets.config as dconfig
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(dconfig, "HF_HUB_OFFLINE", False)

    def no_network(self, *args, **kwargs):
        raise ConnectionError("network is down")

    real = datasets.load_dataset
    seen = []

    def spy(*args, **kwargs):
        seen.append(dconfig.HF_HUB_OFFLINE)
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", no_network)
    monkeypatch.setattr(datasets, "load_dataset", spy)
    with pytest.raises(SourceError, match="not in the local Hugging Face cache"):
        load_hf_dataset(parse_source("hf:org/not-cached", kind="data"), tmp_path, DataOptions(),
                        cache_dir=tmp_path / "dcache")
    assert seen == [True]  # datasets ran in offline mode: no retries against an unreachable hub
    assert dconfig.HF_HUB_OFFLINE is False  # and the switch was put back


def test_missing_local_dataset_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        load_hf_dataset(parse_source("hf:./nope", kind="data"), tmp_path, DataOptions())
