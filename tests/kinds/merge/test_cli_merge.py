"""``juxta merge CONFIG.yml OUT_DIR`` end to end on tiny Llama-shaped models built here: the folder
loads in transformers, every tensor equals mergekit's formula, the tokenizer comes from the base."""

from __future__ import annotations

import json

import pytest
import torch

from app.cli import main
from engine.kinds.merge.params import depth_positions
from tests.kinds.merge.conftest import build_llama
from tests.kinds.merge.test_conventions import mergekit_ties


@pytest.fixture(scope="module")
def llamas(tmp_path_factory):
    root = tmp_path_factory.mktemp("llamas")
    base = build_llama(root / "base", seed=0)
    experts = [build_llama(root / f"e{i}", seed=i + 1, base=base) for i in range(2)]
    return root, base, experts


def _load(folder):
    from transformers import LlamaForCausalLM

    return {k: v.detach() for k, v in LlamaForCausalLM.from_pretrained(folder).state_dict().items()}


def test_ties_yaml_to_a_loadable_hf_folder_equal_to_mergekit(llamas, tmp_path, capsys):
    root, base, experts = llamas
    cfg = tmp_path / "ties.yml"
    cfg.write_text(f"""merge_method: ties
base_model: {root / 'base'}
models:
  - model: {root / 'e0'}
    parameters: {{weight: 1.0, density: [1.0, 0.5, 0.2]}}
  - model: {root / 'e1'}
    parameters: {{weight: 0.5, density: 0.5}}
parameters: {{lambda: 0.9}}
dtype: float32
""")
    out = tmp_path / "merged"
    assert main(["merge", str(cfg), str(out)]) == 0
    assert "ties: 30 tensors merged" in capsys.readouterr().out
    merged = _load(out)
    depth = depth_positions(list(base))
    for name, b in base.items():
        t = depth[name]
        d0 = 1.0 + (0.5 - 1.0) * (2 * t) if t <= 0.5 else 0.5 + (0.2 - 0.5) * (2 * t - 1)
        expected = mergekit_ties(b, [experts[0][name], experts[1][name]], [1.0, 0.5], [d0, 0.5], lam=0.9)
        assert torch.allclose(merged[name], expected, atol=1e-6, rtol=0), name
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(out)("w3 w5")["input_ids"] == [5, 7]
    record = json.loads((out / "juxta_merge.json").read_text())
    assert record["conventions"]["preset"] == "mergekit" and record["merged"] == 30
    assert (out / "mergekit_config.yml").read_text() == cfg.read_text()
    assert "ties" in (out / "README.md").read_text()


def test_out_dtype_sharding_and_seeded_dare(llamas, tmp_path):
    root, base, experts = llamas
    cfg = tmp_path / "dare.yml"
    cfg.write_text(f"""merge_method: dare_ties
base_model: {root / 'base'}
models:
  - model: {root / 'e0'}
    parameters: {{weight: 1.0, density: 0.5}}
  - model: {root / 'e1'}
    parameters: {{weight: 1.0, density: 0.5}}
out_dtype: bfloat16
""")
    args = ["merge", str(cfg), "--quiet", "--out-shard-size", "4K"]
    assert main([*args[:2], str(tmp_path / "a"), *args[2:], "--random-seed", "3"]) == 0
    assert main([*args[:2], str(tmp_path / "b"), *args[2:], "--random-seed", "3"]) == 0
    assert main([*args[:2], str(tmp_path / "c"), *args[2:], "--random-seed", "4"]) == 0
    shards = sorted(p.name for p in (tmp_path / "a").glob("model-*.safetensors"))
    assert len(shards) > 3 and (tmp_path / "a" / "model.safetensors.index.json").is_file()
    a, b, c = _load(tmp_path / "a"), _load(tmp_path / "b"), _load(tmp_path / "c")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "bfloat16"
    from safetensors import safe_open

    with safe_open(str(tmp_path / "a" / shards[0]), "pt") as f:
        assert f.get_tensor(next(iter(f.keys()))).dtype == torch.bfloat16
    name = "model.layers.1.mlp.up_proj.weight"
    assert torch.equal(a[name], b[name]) and not torch.equal(a[name], c[name])


def test_passthrough_slices_stack_layers(llamas, tmp_path):
    root, base, experts = llamas
    cfg = tmp_path / "frank.yml"
    cfg.write_text(f"""merge_method: passthrough
slices:
  - sources: [{{model: {root / 'e0'}, layer_range: [0, 2]}}]
  - sources: [{{model: {root / 'e1'}, layer_range: [1, 3]}}]
dtype: float32
""")
    out = tmp_path / "frank"
    assert main(["merge", str(cfg), str(out), "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 4
    merged = _load(out)
    suffix = "self_attn.q_proj.weight"
    for out_layer, (src, layer) in enumerate([(0, 0), (0, 1), (1, 1), (1, 2)]):
        assert torch.equal(merged[f"model.layers.{out_layer}.{suffix}"], experts[src][f"model.layers.{layer}.{suffix}"])
    assert torch.equal(merged["model.embed_tokens.weight"], experts[0]["model.embed_tokens.weight"])
    assert torch.equal(merged["lm_head.weight"], experts[1]["lm_head.weight"])


def test_cli_bad_input_is_one_message(llamas, tmp_path, capsys):
    root, _, _ = llamas
    cfg = tmp_path / "bad.yml"
    cfg.write_text(f"merge_method: slerp\nbase_model: {root / 'base'}\nmodels:\n  - model: {root / 'e0'}\n"
                   f"  - model: {root / 'e1'}\nparameters: {{t: 0.5}}\n")
    assert main(["merge", str(cfg), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "slerp merges exactly two models" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
