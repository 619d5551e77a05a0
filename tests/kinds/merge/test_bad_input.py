"""Every bad input of issue 10 gets one clear message naming what is wrong, and nothing is written."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from engine.kinds.merge import MergeError, merge_state_dicts, merge_to_folder, plan_from_yaml
from engine.kinds.merge.plan import MergePlan, ModelInput


def test_shape_mismatch_names_the_tensor(tiny_states):
    base, experts = tiny_states
    bad = dict(experts[0], **{"layers.1.proj.weight": torch.zeros(5, 3)})
    with pytest.raises(MergeError, match=r"Shape mismatch at tensor 'layers\.1\.proj\.weight': .*5×4.*5×3"):
        merge_state_dicts("ties", base, [bad, experts[1]])


def test_missing_tensor_names_model_and_tensor(tiny_states):
    base, experts = tiny_states
    missing = {k: v for k, v in experts[1].items() if k != "norm.weight"}
    with pytest.raises(MergeError, match=r"Model 'expert 2' has no tensor 'norm\.weight'"):
        merge_state_dicts("linear", None, [experts[0], missing])


def test_extra_tensor_means_another_architecture(tiny_states):
    base, experts = tiny_states
    extra = dict(experts[0], **{"layers.2.proj.weight": torch.zeros(5, 4)})
    with pytest.raises(MergeError, match=r"has tensors that 'base' lacks \('layers\.2\.proj\.weight'\)"):
        merge_state_dicts("ties", base, [extra])


def test_slerp_needs_exactly_two_models(tiny_states):
    base, experts = tiny_states
    with pytest.raises(MergeError, match="slerp merges exactly two models, the base and one other; this merge has 3"):
        merge_state_dicts("slerp", base, experts[:2])


@pytest.mark.parametrize("density", [0.0, -0.1, 1.5])
def test_density_outside_zero_one(tiny_states, density):
    base, experts = tiny_states
    with pytest.raises(MergeError, match=r"ties: density must be in \(0, 1\] \(share of .*\); got "
                                         + str(density).replace(".", r"\.") + " for expert 1"):
        merge_state_dicts("ties", base, experts[:1], model_parameters=[{"density": density}])


def test_a_tensor_too_small_to_trim_keeps_one_entry_and_says_so():
    base = {"logit_scale": torch.tensor([2.0]), "w": torch.zeros(10)}
    experts = [{"logit_scale": torch.tensor([2.5]), "w": torch.arange(10.0)}]
    out = merge_state_dicts("ties", base, experts, parameters={"density": 0.2})
    assert out.state_dict["logit_scale"].tolist() == [2.5]  # mergekit stops here ("not gonna zero out the whole tensor")
    assert any("logit_scale: too small to trim" in n for n in out.report.notes)
    assert int((out.state_dict["w"] != 0).sum()) == 2


def test_integer_buffers_stay_integers_and_float_int_mixes_are_refused(tiny_states):
    base, experts = tiny_states
    out = merge_state_dicts("ties", base, experts)
    assert out.state_dict["bn.num_batches_tracked"].dtype == torch.int64
    assert int(out.state_dict["bn.num_batches_tracked"]) == 7
    assert out.report.copied == 1
    bad = dict(experts[0], **{"bn.num_batches_tracked": torch.tensor(7.0)})
    with pytest.raises(MergeError, match=r"Tensor 'bn\.num_batches_tracked' is floating point in some models and not in others"):
        merge_state_dicts("ties", base, [bad])


def test_vocab_size_mismatch_is_an_error_unless_submatrix_is_asked(tiny_states):
    base, experts = tiny_states
    bigger = dict(experts[0], **{"embed_tokens.weight": torch.randn(8, 4)})
    with pytest.raises(MergeError, match=r"Vocabulary sizes differ at 'embed_tokens\.weight' \(base 6×4, expert 1 8×4\)"):
        merge_state_dicts("task_arithmetic", base, [bigger])
    out = merge_state_dicts("task_arithmetic", base, [bigger], embeddings="submatrix")
    expected = bigger["embed_tokens.weight"][:6]
    assert torch.allclose(out.state_dict["embed_tokens.weight"], expected, atol=1e-6)
    assert any("common 6×4 submatrix" in n for n in out.report.notes)


def test_heads_are_not_merged_each_model_keeps_its_own(tiny_states):
    base, experts = tiny_states
    b = dict(base, **{"classifier.weight": torch.zeros(2, 4)})
    e1 = dict(experts[0], **{"classifier.weight": torch.ones(3, 4)})
    e2 = dict(experts[1], **{"classifier.weight": torch.full((5, 4), 2.0)})
    out = merge_state_dicts("ties", b, [e1, e2])
    assert torch.equal(out.state_dict["classifier.weight"], e1["classifier.weight"])
    assert [torch.equal(h["classifier.weight"], e["classifier.weight"]) for h, e in zip(out.heads, (e1, e2))] == [True, True]
    assert out.report.heads == 1 and any("heads are not merged" in n for n in out.report.notes)
    declared = merge_state_dicts("ties", base, [experts[0], experts[1]], heads=["norm."])
    assert torch.equal(declared.state_dict["norm.weight"], experts[0]["norm.weight"])
    assert torch.equal(declared.heads[1]["norm.weight"], experts[1]["norm.weight"])


def test_unknown_parameter_and_misplaced_global_parameter(tiny_states):
    base, experts = tiny_states
    with pytest.raises(MergeError, match="ties has no parameter 'densty'; its parameters are: normalize, rescale, lambda"):
        merge_state_dicts("ties", base, experts[:1], parameters={"densty": 0.5})
    with pytest.raises(MergeError, match="'normalize' is a global parameter of ties"):
        merge_state_dicts("ties", base, experts[:1], model_parameters=[{"normalize": True}])


def test_unknown_method_and_method_needing_a_base(tiny_states):
    base, experts = tiny_states
    with pytest.raises(MergeError, match="Unknown merge method 'tie'; the methods are: linear, task_arithmetic, ties"):
        merge_state_dicts("tie", base, experts)
    with pytest.raises(MergeError, match="ties needs a base model"):
        merge_state_dicts("ties", None, experts)
    with pytest.raises(MergeError, match="fisher needs input data"):
        merge_state_dicts("fisher", None, experts)


def test_yaml_unknown_keys_and_methods():
    with pytest.raises(MergeError, match="unknown key 'merge_methd'"):
        plan_from_yaml("merge_methd: ties\nmodels: [{model: a}]\n")
    with pytest.raises(MergeError, match="unknown merge_method 'tiess'; the methods are: linear"):
        plan_from_yaml("merge_method: tiess\nmodels: [{model: a}]\n")
    with pytest.raises(MergeError, match=r"models\[0\]: unknown key 'weight'"):
        plan_from_yaml("merge_method: ties\nmodels: [{model: a, weight: 1}]\n")
    with pytest.raises(MergeError, match="multi-module configs"):
        plan_from_yaml("merge_method: ties\nmodules: {}\n")
    with pytest.raises(MergeError, match="not valid YAML at line 3"):
        plan_from_yaml("merge_method: ties\nmodels: [\n")
    with pytest.raises(MergeError, match="tokenizer_source 'union' is not supported"):
        plan_from_yaml("merge_method: ties\ntokenizer_source: union\nmodels: [{model: a}]\n")


def _folder(path, arch, tensors):
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"model_type": arch, "architectures": [arch.title() + "Model"]}))
    save_file(tensors, str(path / "model.safetensors"))
    return path


def test_different_architectures_nothing_written(tmp_path):
    t = {"w": torch.ones(2)}
    a = _folder(tmp_path / "a", "llama", t)
    b = _folder(tmp_path / "b", "gpt2", t)
    plan = MergePlan(method="linear", models=[ModelInput(str(a)), ModelInput(str(b))])
    with pytest.raises(MergeError, match=r"different architectures \(.*a: llama \(LlamaModel\); .*b: gpt2 \(Gpt2Model\)\)"):
        merge_to_folder(plan, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_missing_model_and_existing_output(tmp_path):
    a = _folder(tmp_path / "a", "llama", {"w": torch.ones(2)})
    plan = MergePlan(method="linear", models=[ModelInput(str(a)), ModelInput(str(tmp_path / "nope"))])
    with pytest.raises(MergeError, match=r"Model '.*nope' not found"):
        merge_to_folder(plan, tmp_path / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    ok = MergePlan(method="linear", models=[ModelInput(str(a)), ModelInput(str(a))])
    with pytest.raises(MergeError, match="already exists and is not empty"):
        merge_to_folder(ok, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
