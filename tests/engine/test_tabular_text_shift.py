"""Tabular and text shifts: determinism, batch independence, severity ordering and errors."""

from __future__ import annotations

import numpy as np
import pytest

from engine.conditions.tabular import TABULAR_SHIFTS, ShiftDef, hash_normal, hash_uniform, perturb_table
from engine.conditions.text import QWERTY_NEIGHBOURS, TEXT_SHIFTS, perturb_text

N, F = 2000, 12


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    std = rng.uniform(0.5, 3.0, F)
    mean = rng.normal(0, 5, F)
    x = (mean + std * rng.normal(size=(N, F))).astype(np.float32)
    index = np.arange(N, dtype=np.int64) * 7 + 1000  # dataset indices, not positions
    return x, index, mean, std


WORDS = (
    "the model was trained on clean data and evaluated under shift while reviewers asked for "
    "calibration curves seeds and group counts before any claim about robustness"
).split()


@pytest.fixture(scope="module")
def texts():
    rng = np.random.default_rng(1)
    out = [" ".join(rng.choice(WORDS, size=rng.integers(1, 25))) for _ in range(300)]
    out += ["", "   ", "one", "Two words", "  leading and trailing  ", "line\nbreaks\tand  tabs", "Ünïcödé wörds ok"]
    return out


# --------------------------------------------------------------------------------------------------
# registries


@pytest.mark.parametrize("registry", [TABULAR_SHIFTS, TEXT_SHIFTS])
def test_registry_entries_are_complete(registry):
    for name, d in registry.items():
        assert isinstance(d, ShiftDef) and d.name == name
        assert len(d.values) == 5 and list(d.values) == sorted(d.values)
        assert d.description.endswith(".") and d.description.count(". ") == 0
        assert d.parameter and callable(d.fn)
    assert set(TABULAR_SHIFTS) == {"feature_noise", "missing_features", "scale_drift"}
    assert set(TEXT_SHIFTS) == {"char_typos", "word_drop"}


def test_hash_randomness_is_roughly_uniform_and_normal():
    u = hash_uniform(3, 9, np.arange(20_000), np.arange(5))
    assert 0 < u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    z = hash_normal(3, 9, np.arange(20_000), np.arange(5))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.03  # columns independent
    assert not np.array_equal(hash_uniform(3, 9, np.arange(10), np.arange(2)), hash_uniform(4, 9, np.arange(10), np.arange(2)))


# --------------------------------------------------------------------------------------------------
# tabular


@pytest.mark.parametrize("name", sorted(TABULAR_SHIFTS))
def test_tabular_deterministic_and_seed_dependent(table, name):
    x, index, mean, std = table
    a = perturb_table(x, name, 3, 5, index, mean, std)
    b = perturb_table(x, name, 3, 5, index, mean, std)
    c = perturb_table(x, name, 3, 6, index, mean, std)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", sorted(TABULAR_SHIFTS))
def test_tabular_independent_of_batch_composition(table, name):
    x, index, mean, std = table
    whole = perturb_table(x, name, 4, 1, index, mean, std)
    for i in (0, 17, 999, N - 1):
        one = perturb_table(x[i : i + 1], name, 4, 1, index[i : i + 1], mean, std)
        assert np.array_equal(one[0], whole[i])
    perm = np.random.default_rng(2).permutation(N)[:500]
    assert np.array_equal(perturb_table(x[perm], name, 4, 1, index[perm], mean, std), whole[perm])


@pytest.mark.parametrize("name", sorted(TABULAR_SHIFTS))
def test_tabular_severity_increases_mean_absolute_change(table, name):
    x, index, mean, std = table
    change = [np.abs(perturb_table(x, name, s, 0, index, mean, std) - x).mean() for s in range(1, 6)]
    assert all(a < b for a, b in zip(change, change[1:])), change


def test_tabular_input_not_modified(table):
    x, index, mean, std = table
    before = x.copy()
    for name in TABULAR_SHIFTS:
        perturb_table(x, name, 5, 0, index, mean, std)
    assert np.array_equal(x, before)


def test_feature_noise_scale(table):
    x, index, mean, std = table
    out = perturb_table(x, "feature_noise", 5, 0, index, mean, std)  # s = 1.0
    ratio = (out - x).std(axis=0) / std
    assert np.all(np.abs(ratio - 1.0) < 0.1)


def test_missing_features_fraction_and_fill(table):
    x, index, mean, std = table
    out = perturb_table(x, "missing_features", 5, 0, index, mean, std)  # p = 0.5
    filled = out != x
    assert abs(filled.mean() - 0.5) < 0.02
    cols = np.nonzero(filled)[1]
    assert np.array_equal(out[filled], mean.astype(np.float32)[cols])
    lower = perturb_table(x, "missing_features", 2, 0, index, mean, std) != x
    assert not np.any(lower & ~filled), "severities are nested"


def test_scale_drift_is_one_factor_per_column(table):
    x, index, mean, std = table
    out = perturb_table(x, "scale_drift", 5, 3, index, mean, std)
    factors = out / x
    assert np.allclose(factors, factors[0], rtol=1e-5)
    log_f = np.log(np.concatenate([perturb_table(np.ones((1, 500), np.float32), "scale_drift", 5, s, np.zeros(1, np.int64), np.zeros(500), np.ones(500))[0] for s in range(4)]))
    assert abs(log_f.std() - 0.5) < 0.05 and abs(log_f.mean()) < 0.05


def test_tabular_handles_large_tables_quickly():
    x = np.zeros((100_000, 10), np.float32)
    out = perturb_table(x, "feature_noise", 1, 0, np.arange(100_000), np.zeros(10), np.ones(10))
    assert out.shape == x.shape and np.isfinite(out).all()


# --------------------------------------------------------------------------------------------------
# text


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@pytest.mark.parametrize("name", sorted(TEXT_SHIFTS))
def test_text_deterministic_and_independent_of_batch(texts, name):
    index = np.arange(len(texts)) + 50
    whole = perturb_text(texts, name, 4, 9, index)
    assert whole == perturb_text(texts, name, 4, 9, index)
    assert whole != perturb_text(texts, name, 4, 10, index)
    for i in (0, 5, 100, len(texts) - 1):
        assert perturb_text([texts[i]], name, 4, 9, index[i : i + 1]) == [whole[i]]
    perm = np.random.default_rng(0).permutation(len(texts))
    assert perturb_text([texts[i] for i in perm], name, 4, 9, index[perm]) == [whole[i] for i in perm]
    assert perturb_text(np.array(texts), name, 4, 9, index) == whole  # array of str accepted


@pytest.mark.parametrize("name", sorted(TEXT_SHIFTS))
def test_text_severity_increases_mean_change(texts, name):
    index = np.arange(len(texts))
    sample = texts[:120]
    change = []
    for s in range(1, 6):
        out = perturb_text(sample, name, s, 0, index[:120])
        change.append(np.mean([levenshtein(a, b) / max(len(a), 1) for a, b in zip(sample, out)]))
    assert all(a < b for a, b in zip(change, change[1:])), change


def test_word_drop_never_empties_a_non_empty_text():
    short = ["a", "b c", "x y z", "  pad  ", "one\ntwo"]
    for seed in range(200):
        out = perturb_text(short, "word_drop", 5, seed, np.arange(5))
        assert all(o.split() for o in out)
        assert all(set(o.split()) <= set(t.split()) for o, t in zip(out, short))
    assert perturb_text(["", "   "], "word_drop", 5, 0, np.arange(2)) == ["", "   "]


def test_word_drop_rate_and_whitespace(texts):
    out = perturb_text(texts[:300], "word_drop", 5, 1, np.arange(300))  # p = 0.5
    before = sum(len(t.split()) for t in texts[:300])
    after = sum(len(t.split()) for t in out)
    assert 0.45 < 1 - after / before < 0.58  # a little under p for 1-word texts kept whole
    assert perturb_text(["  keep  me  "], "word_drop", 1, 0, np.array([3])) in (["  keep  me  "], ["  keep  "], ["  me  "])


def test_char_typos_rate_at_severity_5(texts):
    sample = [t for t in texts if len(t) > 40][:100]
    out = perturb_text(sample, "char_typos", 5, 2, np.arange(len(sample)))  # p = 0.2
    letters = sum(sum(c.isalpha() for c in t) for t in sample)
    edits = sum(levenshtein(a, b) for a, b in zip(sample, out))
    assert 0.12 < edits / letters < 0.35, edits / letters


def test_char_typos_leave_texts_without_letters_and_use_keyboard_neighbours():
    assert perturb_text(["123 456 !!", ""], "char_typos", 5, 0, np.arange(2)) == ["123 456 !!", ""]
    assert all(c not in n and n for c, n in QWERTY_NEIGHBOURS.items())
    assert all(c in QWERTY_NEIGHBOURS[n] for c, near in QWERTY_NEIGHBOURS.items() for n in near)  # symmetric
    assert set(QWERTY_NEIGHBOURS["g"]) == set("ftyhbv")
    out = perturb_text(["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] * 20, "char_typos", 5, 0, np.arange(20))
    assert set("".join(out)) <= set("a" + QWERTY_NEIGHBOURS["a"])


# --------------------------------------------------------------------------------------------------
# errors


X1 = np.zeros((3, 2), np.float32)
I1 = np.arange(3)
M1, S1 = np.zeros(2), np.ones(2)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: perturb_table(X1, "blur", 1, 0, I1, M1, S1), "feature_noise, missing_features, scale_drift"),
        (lambda: perturb_table(X1, "feature_noise", 0, 0, I1, M1, S1), "severity"),
        (lambda: perturb_table(X1, "feature_noise", 6, 0, I1, M1, S1), "1 to 5"),
        (lambda: perturb_table(X1, "feature_noise", 2.0, 0, I1, M1, S1), "severity"),
        (lambda: perturb_table(X1, "feature_noise", True, 0, I1, M1, S1), "severity"),
        (lambda: perturb_table(X1, "feature_noise", 1, -1, I1, M1, S1), "seed"),
        (lambda: perturb_table(X1[0], "feature_noise", 1, 0, I1, M1, S1), "2-D"),
        (lambda: perturb_table(X1, "feature_noise", 1, 0, I1[:2], M1, S1), "index"),
        (lambda: perturb_table(X1, "feature_noise", 1, 0, -I1 - 1, M1, S1), "negative"),
        (lambda: perturb_table(X1, "feature_noise", 1, 0, I1 + 0.5, M1, S1), "integer"),
        (lambda: perturb_table(X1, "feature_noise", 1, 0, I1, np.zeros(3), S1), "feature_mean"),
        (lambda: perturb_table(X1, "feature_noise", 1, 0, I1, M1, -S1), "feature_std"),
        (lambda: perturb_table(X1, "feature_noise", 1, 0, I1, M1, np.array([1, np.nan])), "feature_std"),
        (lambda: perturb_text(["a"], "shuffle", 1, 0, np.arange(1)), "char_typos, word_drop"),
        (lambda: perturb_text(["a"], "word_drop", 7, 0, np.arange(1)), "severity"),
        (lambda: perturb_text("abc", "word_drop", 1, 0, np.arange(3)), "list of strings"),
        (lambda: perturb_text(["a", 3], "word_drop", 1, 0, np.arange(2)), "item 1"),
        (lambda: perturb_text(["a", "b"], "word_drop", 1, 0, np.arange(3)), "index"),
        (lambda: perturb_text(["a"], "word_drop", 1, -2, np.arange(1)), "seed"),
    ],
)
def test_bad_arguments_raise_value_error_with_a_useful_message(call, words):
    with pytest.raises(ValueError, match=words):
        call()
