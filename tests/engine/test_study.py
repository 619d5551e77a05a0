"""Study files: valid ones parse; each kind of mistake gets one plain sentence with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.errors import SourceError, StudyFileError
from engine.core.sources import parse_source
from engine.kinds import get_kind, load_study, parse_study_text

ROOT = Path(__file__).resolve().parents[2]
GOOD = """schema_version = 1
[study]
name = "s"
seeds = [0, 1]
[[models]]
id = "cnn"
source = "builtin:digits-cnn"
[data]
source = "builtin:digits"
[shift]
corruptions = ["gaussian_noise"]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(StudyFileError) as info:
        parse_study_text(text, "x.study.toml")
    assert str(info.value).startswith("x.study.toml:")
    return info.value.problems


def test_demo_study_is_valid():
    study = load_study(ROOT / "projects/digits-demo/robustness.study.toml")
    assert study.study.kind == "shift"
    assert len(study.models) >= 3 and len(study.study.seeds) == 3
    assert len(study.shift.corruptions) >= 10 and study.shift.severities == [1, 2, 3, 4, 5]
    assert study.shift.label_shift is not None


def test_defaults_fill_in():
    s = parse_study_text(GOOD)
    assert s.metrics.bootstrap == 1000 and "accuracy" in s.metrics.names
    assert s.execution.backend == "loky" and s.data.split == "test"


def test_malformed_toml():
    (p,) = problems("schema_version = 1\n[study\nname='x'")
    assert "not valid TOML" in p and "line 2" in p


def test_unknown_key_names_line_table_and_choices():
    (p,) = problems(GOOD.replace('seeds = [0, 1]', 'seeds = [0, 1]\ncolour = "red"'))
    assert p.startswith("line 5:") and "unknown key 'colour' in [study]" in p and "seeds" in p


def test_wrong_type():
    (p,) = problems(GOOD.replace("seeds = [0, 1]", 'seeds = ["a"]'))
    assert p.startswith("line 4: study.seeds[0]:") and "A seed must be a whole number" in p


def test_unknown_corruption_lists_valid_ones():
    (p,) = problems(GOOD.replace('"gaussian_noise"', '"gausian_noise"'))
    assert "unknown corruption 'gausian_noise'" in p and "gaussian_noise" in p and "line 11" in p


@pytest.mark.parametrize("sev", [0, 6])
def test_severity_outside_range(sev):
    (p,) = problems(GOOD + f"severities = [1, {sev}]\n")
    assert f"severity {sev} is outside 1–5" in p


def test_unknown_source_scheme():
    (p,) = problems(GOOD.replace("builtin:digits-cnn", "ftp:somewhere"))
    assert "Unknown model source scheme 'ftp'" in p and "builtin, file, hf, artifact" in p and "line 7" in p


def test_missing_required_and_version():
    ps = problems(GOOD.replace("schema_version = 1", "schema_version = 9").replace('[data]\nsource = "builtin:digits"\n', ""))
    assert any("schema_version 9 is not supported" in p for p in ps)
    assert any(p.key == ("data",) and p.message == "The [data] table is required but missing" for p in ps)


def test_range_errors_speak_the_field_words_and_carry_the_key_as_data():
    text = GOOD + "label_shift = { tweak_one = [0.5, 1.5] }\n[metrics]\nbootstrap = -3\nlevel = 1.2\n"
    by_key = {p.key: p for p in problems(text)}
    tweak = by_key[("shift", "label_shift", "tweak_one", 1)]
    assert tweak.message == "A tweak-one share must be more than 0 and less than 1 (got 1.5)"
    assert tweak.line == 12 and tweak == f"line 12: shift.label_shift.tweak_one[1]: {tweak.message}."
    assert by_key[("metrics", "bootstrap")].message == "The number of bootstrap resamples must be from 0 to 100,000 (got -3)"
    assert by_key[("metrics", "level")].message == "The confidence level must be more than 0.5 and less than 1 (got 1.2)"
    assert not any(word in p for p in by_key.values() for word in ("lt ", "gt ", "expected a value"))


def test_unknown_key_and_literal_problems_carry_keys():
    text = GOOD.replace('source = "builtin:digits"', 'source = "builtin:digits"\nsplit = "tests"\nshade = 1')
    by_key = {p.key: p for p in problems(text)}
    assert by_key[("data", "split")].message.startswith('The evaluated split is "tests"; choose')
    shade = by_key[("data", "shade")]
    assert shade.line == 11 and shade.message.startswith("unknown key 'shade' in [data]")


def test_toml_syntax_error_has_its_line_as_data():
    (p,) = problems("schema_version = 1\n[study\nname='x'")
    assert p.line == 2 and p.key == () and "not valid TOML" in p.message


def test_problems_survive_rewrapping_and_pickling():
    import pickle

    (p,) = problems(GOOD.replace("seeds = [0, 1]", "seeds = [0, 1.5]"))
    again = StudyFileError("other.study.toml", StudyFileError("x", [p]).problems).problems[0]
    assert again.key == ("study", "seeds", 1) and again.line == 4
    copy = pickle.loads(pickle.dumps(again))
    assert copy == again and copy.key == again.key and copy.message == again.message
    plain = StudyFileError("f", ["just text"]).problems[0]
    assert plain == "just text" and plain.key == () and plain.line is None


def test_duplicate_model_ids():
    (p,) = problems(GOOD.replace("[data]", '[[models]]\nid = "cnn"\nsource = "builtin:digits-mlp"\n[data]'))
    assert "model id 'cnn' is used twice" in p


def test_missing_file(tmp_path):
    s = parse_study_text(GOOD.replace("builtin:digits-cnn", "file:models/nope.safetensors"))
    with pytest.raises(StudyFileError) as info:
        get_kind("shift").check_files(s, tmp_path, "x.study.toml")
    assert "models[0].source" in str(info.value) and "nope.safetensors" in str(info.value) and "does not exist" in str(info.value)


def test_corruptions_refused_on_table_files(tmp_path):
    (tmp_path / "t.csv").write_text("a,label\n1,0\n")
    s = parse_study_text(GOOD.replace("builtin:digits\"", "csv:t.csv\""))
    with pytest.raises(StudyFileError, match="image corruptions need image data"):
        get_kind("shift").check_files(s, tmp_path)


def test_load_study_missing_and_binary(tmp_path):
    with pytest.raises(StudyFileError, match="file not found"):
        load_study(tmp_path / "none.study.toml")
    bad = tmp_path / "b.study.toml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StudyFileError, match="not UTF-8"):
        load_study(bad)


@pytest.mark.parametrize(
    "text,scheme,value,rev",
    [
        ("builtin:digits-cnn", "builtin", "digits-cnn", None),
        ("hf:google/vit-base-patch16-224@main", "hf", "google/vit-base-patch16-224", "main"),
        ("hf:./models/local@odd", "hf", "./models/local@odd", None),
        ("file:models/x.safetensors", "file", "models/x.safetensors", None),
        ("artifact:finetuning/rot", "artifact", "finetuning/rot", None),
    ],
)
def test_source_grammar(text, scheme, value, rev):
    src = parse_source(text)
    assert (src.scheme, src.value, src.revision) == (scheme, value, rev)
    assert str(src) == text


@pytest.mark.parametrize("text", ["nocolon", "s3:bucket/x", "builtin:", "hf:org/name@"])
def test_source_grammar_errors(text):
    with pytest.raises(SourceError):
        parse_source(text)


def test_data_schemes_differ_from_model_schemes():
    assert parse_source("csv:t.csv", kind="data").scheme == "csv"
    with pytest.raises(SourceError, match="Unknown model source scheme 'csv'"):
        parse_source("csv:t.csv", kind="model")


@pytest.mark.parametrize("seed", [-1, 2**63, 10**30])
def test_seeds_outside_the_stored_range_are_refused_in_plain_words(seed):
    (p,) = problems(GOOD.replace("seeds = [0, 1]", f"seeds = [0, {seed}]"))
    assert p.key == ("study", "seeds", 1) and p.line == 4
    assert p.message == f"A seed must be from 0 to 9,223,372,036,854,775,807 (got {seed:,})"


def test_large_seeds_inside_the_range_validate():
    s = parse_study_text(GOOD.replace("seeds = [0, 1]", f"seeds = [3000000000, {2**63 - 1}]"))
    assert s.study.seeds == [3000000000, 2**63 - 1]
    (p,) = problems(GOOD.replace('source = "builtin:digits"', 'source = "builtin:digits"\nsplit_seed = -2'))
    assert p.key == ("data", "split_seed") and p.message == "The split seed must be from 0 to 9,223,372,036,854,775,807 (got -2)"


@pytest.mark.parametrize(
    "line,key,message",
    [
        ('trust_remote_code = "yes"', ("models", 0, "trust_remote_code"), 'The trust_remote_code setting must be true or false, without quotes (got "yes")'),
        ("trust_remote_code = 1", ("models", 0, "trust_remote_code"), "The trust_remote_code setting must be true or false, without quotes (got 1)"),
        ('train = { epochs = "3" }', ("models", 0, "train", "epochs"), 'The number of training epochs must be a whole number (got "3")'),
        ("train = { epochs = 3.0 }", ("models", 0, "train", "epochs"), "The number of training epochs must be a whole number (got 3.0)"),
    ],
)
def test_values_must_have_their_toml_type(line, key, message):
    (p,) = problems(GOOD.replace('source = "builtin:digits-cnn"', f'source = "builtin:digits-cnn"\n{line}'))
    assert p.key == key and p.message == message


def test_integers_still_count_as_numbers_and_true_is_true():
    s = parse_study_text(GOOD.replace('source = "builtin:digits-cnn"', 'source = "builtin:digits-cnn"\ntrust_remote_code = true\n'
                                      'train = { lr = 1, epochs = 2 }'))
    assert s.models[0].trust_remote_code is True and s.models[0].train.lr == 1.0


ONE_CLASS = """schema_version = 1
[study]
name = "one"
[[models]]
id = "mlp"
source = "builtin:mlp"
[data]
source = "csv:one.csv"
split = "all"
"""


def test_one_class_data_validates_with_a_warning(tmp_path):
    from engine.kinds.shift.plan import plan_study

    (tmp_path / "one.csv").write_text("a,b,label\n1,2,cat\n3,4,cat\n5,6,cat\n")
    plan = plan_study(parse_study_text(ONE_CLASS), tmp_path)
    (warning,) = plan.warnings
    assert warning.key == ("data", "split") and "only one class ('cat')" in warning and "accuracy is meaningless" in warning
    (tmp_path / "two.csv").write_text("a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n")
    assert plan_study(parse_study_text(ONE_CLASS.replace("one.csv", "two.csv")), tmp_path).warnings == []


def test_an_unknown_study_kind_names_the_known_ones_at_its_line():
    (p,) = problems(GOOD.replace('name = "s"', 'name = "s"\nkind = "distill"'))
    assert p.key == ("study", "kind") and p.line == 4
    assert p.message == "unknown study kind 'distill'; expected one of shift, finetune, merge"


def test_a_kind_that_is_not_text_is_a_type_problem_of_that_field():
    (p,) = problems(GOOD.replace('name = "s"', 'name = "s"\nkind = 3'))
    assert p.key == ("study", "kind") and p.message == "The study kind must be text in quotes (got 3)"
