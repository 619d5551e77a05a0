"""The merge study file: its method catalog matches the registry, grids expand as written, and bad
input gets one sentence naming the field."""

from __future__ import annotations

import pytest

from engine.core.errors import StudyFileError
from engine.kinds import KINDS, parse_study_text
from engine.kinds.merge.catalog import METHOD_DESCRIPTIONS, METHOD_KINDS, METHOD_TITLES, RANDOM_METHODS
from engine.kinds.merge.study.plan import config_arm, configurations

HEAD = """schema_version = 1
[study]
name = "m"
kind = "merge"
seeds = [0, 1]
[base]
source = "builtin:digits-mlp"
[data]
source = "builtin:digits"
[[experts]]
id = "rot"
condition = "rotate/2"
tune = {{ epochs = 1 }}
[[experts]]
id = "noisy"
condition = "gaussian_noise/3"
tune = {{ epochs = 1 }}
[merge]
{merge}
"""


def study(merge: str = 'methods = [{ method = "ties", density = [0.1, 0.2], lambda = [0.5, 1.0] }]', **subs):
    return parse_study_text(HEAD.format(merge=merge, **subs), "m.study.toml")


def problems(text: str) -> list[str]:
    with pytest.raises(StudyFileError) as info:
        parse_study_text(text, "m.study.toml")
    return [str(p) for p in info.value.problems]


def test_the_catalog_is_the_registry():
    from engine.kinds.merge.methods import METHODS

    assert METHOD_KINDS == {k: m.kind for k, m in METHODS.items()}
    assert METHOD_TITLES == {k: m.title for k, m in METHODS.items()}
    assert METHOD_DESCRIPTIONS == {k: m.description for k, m in METHODS.items()}
    assert RANDOM_METHODS == {k for k, m in METHODS.items() if m.random}


def test_a_grid_is_every_combination_in_the_order_written():
    s = study()
    entry = s.merge.methods[0]
    assert entry.grid() == [{"density": 0.1, "lambda": 0.5}, {"density": 0.1, "lambda": 1.0},
                            {"density": 0.2, "lambda": 0.5}, {"density": 0.2, "lambda": 1.0}]
    assert [c.arm for c in configurations(s)] == ["ties[density=0.1,lambda=0.5]", "ties[density=0.1,lambda=1]",
                                                  "ties[density=0.2,lambda=0.5]", "ties[density=0.2,lambda=1]"]
    assert config_arm(entry, entry.grid()[0]) == "ties[density=0.1,lambda=0.5]"


def test_random_methods_run_once_per_seed_deterministic_ones_once():
    s = study('methods = [{ method = "dare_ties", density = 0.5 }, { method = "linear" }]')
    configs = configurations(s)
    assert [(c.arm, c.seed) for c in configs] == [("dare_ties", 0), ("dare_ties", 1), ("linear", 0)]
    d = KINDS["merge"].describe(s)
    assert d.counts["configurations"] == 3 and d.counts["merge.eval"] == 2 * (1 + 2 + 3)


def test_adamerging_fits_on_the_test_inputs_unless_told_otherwise():
    s = study('methods = [{ method = "adamerging" }, { method = "adamerging", id = "ada-val", fit_on = "validation" }]')
    assert [c.fit_on for c in configurations(s)] == ["test", "validation"]
    rows = dict(KINDS["merge"].describe(s).rows)
    assert "transductive" in rows["Method adamerging"] and "transductive" not in rows["Method ada-val (adamerging)"]


@pytest.mark.parametrize("merge, expected", [
    ('methods = [{ method = "tiez" }]', "unknown merge method 'tiez'"),
    ('methods = [{ method = "lines" }]', "post-processes another merge"),
    ('methods = [{ method = "ties", density = [] }]', "'density' is an empty list"),
    ('methods = [{ method = "ties", density = [0.1, 0.1] }]', "'density' lists a value twice"),
    ('methods = [{ method = "ties" }, { method = "ties" }]', "both called 'ties'; give one of them an id"),
    ('methods = [{ method = "ties", fit_on = "test" }]', "fit_on applies to methods that learn from inputs"),
    ('methods = []', "at least 1"),
])
def test_bad_method_entries_are_named(merge, expected):
    found = problems(HEAD.format(merge=merge))
    assert any(expected in p for p in found), found


def test_an_expert_needs_a_source_or_tune_and_a_known_condition():
    text = HEAD.format(merge='methods = [{ method = "linear" }]')
    assert any("needs either a source" in p for p in problems(text.replace('tune = { epochs = 1 }\n[[experts]]\nid = "noisy"',
                                                                           '[[experts]]\nid = "noisy"', 1)))
    assert any("'spin/2' is not a task condition" in p for p in problems(text.replace("rotate/2", "spin/2")))
    assert any("severity in 'rotate/9'" in p for p in problems(text.replace("rotate/2", "rotate/9")))


def test_reporting_on_the_split_coefficients_are_chosen_on_is_refused():
    text = HEAD.format(merge='methods = [{ method = "linear" }]').replace('source = "builtin:digits"\n',
                                                                          'source = "builtin:digits"\nsplit = "validation"\n')
    assert any("cannot be reported on it" in p for p in problems(text))
    assert parse_study_text(text.replace("[merge]\n", '[merge]\ntuning = "test"\n'), "m.study.toml").merge.tuning == "test"
