"""Shift studies beyond the demo: tables with groups, text, a field domain, Hugging Face models,
and models that do not fit their data (failed cells with a message, the rest complete)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from engine import open_project
from engine.kinds.shift.results import metric_table
from engine.core.store import Store

HEAD = 'schema_version = 1\n[study]\nname = "{name}"\nseeds = [0]\n'


def run(root, name, body):
    (root / f"{name}.study.toml").write_text(HEAD.format(name=name) + body)
    project = open_project(root)
    return project, project.run(name, backend="sequential")


def test_tabular_study_with_groups_and_worst_group(project_dir):
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    site = np.where(rng.random(n) < 0.25, "rural", "urban")
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "d": x[:, 3], "label": y, "site": site}).to_csv(project_dir / "t.csv", index=False)
    body = """
[[models]]
id = "mlp"
source = "builtin:mlp"
train = { epochs = 10 }
[data]
source = "csv:t.csv"
group_column = "site"
[shift]
tabular = ["feature_noise", "missing_features", "scale_drift"]
severities = [1, 5]
group_shift = { shares = [0.8], groups = ["rural"] }
[metrics]
names = ["accuracy", "worst_group_accuracy", "ece"]
bootstrap = 50
"""
    project, summary = run(project_dir, "tab", body)
    assert summary.status == "done", summary.errors
    with project.store(read_only=True) as s:
        t = metric_table(s, "tab", "accuracy").set_index("condition")
        assert t.loc["clean", "value"] > 0.85
        assert t.loc["feature_noise/5", "value"] < t.loc["clean", "value"]
        m = s.query("SELECT DISTINCT metric FROM metrics").metric.tolist()
        assert "worst_group_accuracy" in m and "group_accuracy:rural" in m and "group_accuracy:urban" in m
        counts = s.query("SELECT n FROM metrics JOIN cells USING (cell_key) WHERE condition = 'group/rural=0.8' AND metric LIKE 'group_accuracy:%' ORDER BY metric")
        assert counts.n.iloc[0] > counts.n.iloc[1]  # rural now the majority
        preds = s.query("SELECT DISTINCT \"group\" FROM predictions")
        assert set(preds.group) == {"rural", "urban"}


def test_text_study(project_dir):
    rng = np.random.default_rng(1)
    pos, neg = ["good", "great", "fine", "lovely"], ["bad", "awful", "poor", "dull"]
    rows = []
    for i in range(300):
        label = i % 2
        words = rng.choice(pos if label else neg, 3).tolist() + rng.choice(["the", "film", "was", "plot"], 3).tolist()
        rng.shuffle(words)
        rows.append({"review": " ".join(words), "label": "pos" if label else "neg"})
    pd.DataFrame(rows).to_csv(project_dir / "reviews.csv", index=False)
    body = """
[[models]]
id = "bow"
source = "builtin:bow"
train = { epochs = 8 }
[data]
source = "csv:reviews.csv"
text_column = "review"
[shift]
text = ["char_typos", "word_drop"]
severities = [5]
[metrics]
bootstrap = 50
"""
    project, summary = run(project_dir, "txt", body)
    assert summary.status == "done", summary.errors
    with project.store(read_only=True) as s:
        t = metric_table(s, "txt").set_index("condition")
        assert t.loc["clean", "value"] > 0.9
        assert t.loc["char_typos/5", "value"] <= t.loc["clean", "value"]


def test_field_domain_from_an_image_folder(project_dir):
    from sklearn.datasets import load_digits

    d = load_digits()
    for i in range(60):
        folder = project_dir / "field" / str(d.target[i])
        folder.mkdir(parents=True, exist_ok=True)
        img = (255 - d.images[i] * 15).astype(np.uint8)  # inverted ink: a real domain change
        Image.fromarray(img).save(folder / f"{i}.png")
    body = """
[[models]]
id = "mlp"
source = "builtin:digits-mlp"
train = { epochs = 5 }
[data]
source = "builtin:digits"
[[shift.field]]
id = "scans"
source = "folder:field"
grayscale = true
[metrics]
bootstrap = 50
"""
    project, summary = run(project_dir, "fld", body)
    assert summary.status == "done", summary.errors
    with project.store(read_only=True) as s:
        t = metric_table(s, "fld").set_index("condition")
        assert t.loc["field/scans", "n"] == 60
        assert t.loc["field/scans", "value"] < t.loc["clean", "value"]


def test_field_with_unknown_classes_is_refused(project_dir):
    (project_dir / "field" / "zebra").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(project_dir / "field" / "zebra" / "z.png")
    body = '[[models]]\nid = "m"\nsource = "builtin:digits-mlp"\n[data]\nsource = "builtin:digits"\n[[shift.field]]\nid = "z"\nsource = "folder:field"\ngrayscale = true\n'
    (project_dir / "z.study.toml").write_text(HEAD.format(name="z") + body)
    from engine.core.errors import StudyFileError

    with pytest.raises(StudyFileError, match="classes zebra .* are not classes of builtin:digits"):
        open_project(project_dir).plan("z")


def _tiny_vit(folder, labels):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.ViTConfig(image_size=16, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                    intermediate_size=37, num_labels=len(labels),
                                    id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    transformers.ViTForImageClassification(config).save_pretrained(folder, safe_serialization=True)
    transformers.ViTImageProcessor(size={"height": 16, "width": 16}).save_pretrained(folder)


def test_hf_models_in_a_study_and_misfits_fail_alone(project_dir):
    _tiny_vit(project_dir / "vit10", [str(i) for i in range(10)])
    _tiny_vit(project_dir / "vit3", ["cat", "dog", "cow"])
    body = """
[[models]]
id = "hfvit"
source = "hf:./vit10"
[[models]]
id = "three-classes"
source = "file:vit3"
[[models]]
id = "mlp"
source = "builtin:digits-mlp"
train = { epochs = 2 }
[data]
source = "builtin:digits"
max_examples = 60
[shift]
corruptions = ["contrast"]
severities = [3]
[metrics]
bootstrap = 20
"""
    project, summary = run(project_dir, "hf", body)
    assert summary.status == "failed"
    with project.store(read_only=True) as s:
        cells = s.query("SELECT arm, status, error FROM cells WHERE type = 'eval'")
        by_arm = cells.groupby("arm").status.agg(set).to_dict()
        assert by_arm == {"hfvit": {"done"}, "mlp": {"done"}, "three-classes": {"failed"}}
        err = cells[cells.arm == "three-classes"].error.iloc[0]
        assert "10 classes but model 'three-classes' knows only 3" in err


def test_model_with_the_wrong_input_shape_fails_with_a_message(project_dir):
    from engine.models.base import ModelInfo
    from engine.models.builtin import build
    from engine.models.train import save_juxta_model
    import torch

    module = build("cnn", (3, 16, 16), 10, torch.zeros(3), torch.ones(3))
    info = ModelInfo("file:big.safetensors", "cnn", 1, [str(i) for i in range(10)], "image", (3, 16, 16))
    save_juxta_model(module, info, None, project_dir / "big.safetensors")
    body = '[[models]]\nid = "big"\nsource = "file:big.safetensors"\n[data]\nsource = "builtin:digits"\nmax_examples = 30\n[metrics]\nbootstrap = 0\n'
    project, summary = run(project_dir, "shape", body)
    assert summary.failed == 1
    assert "expects inputs of shape (3, 16, 16) but dataset builtin:digits gives (1, 8, 8)" in summary.errors[0][1]
