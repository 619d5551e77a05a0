"""Reading mergekit YAML into a plan and writing the YAML that reproduces a plan."""

from __future__ import annotations

import yaml

from engine.kinds.merge import conventions, plan_from_yaml, plan_to_yaml
from engine.kinds.merge.params import Conditional

CONFIG = """merge_method: ties
base_model: org/base
models:
  - model: org/a
    parameters:
      weight: [1.0, 0.5, 0.1]
      density: [{filter: self_attn, value: 0.5}, {filter: mlp, value: [0.2, 0.8]}, {value: 0.7}]
  - model: org/b
    parameters: {weight: 0.3}
parameters: {normalize: false, lambda: 1.2}
dtype: bfloat16
out_dtype: float16
"""


def test_read_models_gradients_filters_and_dtypes():
    plan = plan_from_yaml(CONFIG, seed=9)
    assert plan.method == "ties" and plan.base_model == "org/base" and plan.seed == 9
    assert [m.model for m in plan.models] == ["org/a", "org/b"]
    assert plan.models[0].parameters["weight"] == (1.0, 0.5, 0.1)
    density = plan.models[0].parameters["density"]
    assert density[0] == Conditional(0.5, "self_attn") and density[1] == Conditional((0.2, 0.8), "mlp")
    assert density[2] == Conditional(0.7, None)
    assert plan.parameters == {"normalize": False, "lambda": 1.2}
    assert (plan.dtype, plan.out_dtype) == ("bfloat16", "float16")
    assert plan.model_names() == ["org/base", "org/a", "org/b"]


def test_written_yaml_reads_back_to_the_same_plan():
    plan = plan_from_yaml(CONFIG)
    text = plan_to_yaml(plan)
    assert not text.startswith("#")  # mergekit reproduces it: no caveat
    again = plan_from_yaml(text)
    assert again.to_dict() == plan.to_dict()
    assert yaml.safe_load(text)["models"][0]["parameters"]["density"][2] == {"value": 0.7}


def test_slices_read_and_write():
    text = """merge_method: passthrough
slices:
  - sources: [{model: a, layer_range: [0, 4]}]
  - sources: [{model: b, layer_range: [2, 6], parameters: {scale: 0.5}}]
"""
    plan = plan_from_yaml(text)
    assert [s.sources[0].layer_range for s in plan.slices] == [(0, 4), (2, 6)]
    assert plan.slices[1].sources[0].parameters == {"scale": 0.5}
    assert plan_from_yaml(plan_to_yaml(plan)).to_dict() == plan.to_dict()


def test_yaml_says_when_mergekit_cannot_reproduce_the_merge():
    paper = plan_from_yaml(CONFIG, conventions=conventions("paper"))
    assert plan_to_yaml(paper).startswith("# Juxta used conventions mergekit does not have (trim scope: over the whole")
    pcb = plan_from_yaml("merge_method: pcb\nbase_model: x\nmodels: [{model: a}, {model: b}]\n")
    assert "mergekit has no 'pcb' method" in plan_to_yaml(pcb)
    dare = plan_from_yaml("merge_method: dare_ties\nbase_model: x\nmodels: [{model: a}]\n", seed=4)
    assert "--random-seed 4" in plan_to_yaml(dare)
