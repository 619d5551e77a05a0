"""Findings wording from constructed numbers: a clear difference, a tie, rounding, caveats."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from engine.kinds.shift.report import findings as SF
from engine.report import findings as F
from engine.stats import LineFit, PairedComparison

CLEAR = PairedComparison(diff=0.192, low=0.168, high=0.215, p_value=2 / 1001, mcnemar_p=1e-9, n=1077, b=230, c=23,
                         within_noise=False)
MODERATE = PairedComparison(diff=0.031, low=0.004, high=0.058, p_value=0.022, mcnemar_p=0.019, n=1077, b=60, c=27,
                            within_noise=False)
TIE = PairedComparison(diff=-0.004, low=-0.019, high=0.011, p_value=0.61, mcnemar_p=0.7, n=1077, b=20, c=24,
                       within_noise=True)


def acc_table(rows):
    return pd.DataFrame(rows, columns=["arm", "condition", "family", "severity", "value", "ci_low", "ci_high"]).assign(
        seed_sd=0.0, n_seeds=1, n=359)


def test_clear_difference_is_beyond_noise():
    row = SimpleNamespace(value=0.613, ci_low=0.58, ci_high=0.64)
    text, v = F.comparison_sentence("Under Gaussian noise at severity 5", "cnn", row, "mlp", CLEAR, verb="keeps")
    assert v.label == "well beyond noise"
    assert text == ("Under Gaussian noise at severity 5, cnn keeps 61% accuracy (95%\u00a0CI 58–64), 19.2 points more than mlp; "
                    "the difference is well beyond noise (paired bootstrap and McNemar, p\u00a0<\u00a00.001).")
    assert "within noise" not in text


def test_moderate_difference_quotes_the_cautious_p():
    v = F.verdict(MODERATE)
    assert v.label == "beyond noise" and v.p == 0.022
    assert "beyond noise (paired bootstrap and McNemar, p\u00a0=\u00a00.02)" in v.phrase


def test_tie_is_within_noise_and_never_a_win():
    row = SimpleNamespace(value=0.97, ci_low=0.955, ci_high=0.982)
    text, v = F.comparison_sentence("On the clean test set", "cnn", row, "mlp", TIE)
    assert v.label == "within noise"
    assert "tied within noise (difference −0.4 points, 95%\u00a0CI −1.9 to +1.1)" in text
    assert "more than" not in text and "beyond" not in text


def test_borderline_when_the_tests_disagree():
    odd = PairedComparison(0.02, 0.001, 0.04, 0.04, 0.07, 500, 30, 20, False)
    assert F.verdict(odd).label == "borderline"


def test_rounding_follows_the_interval():
    assert F.pct_ci(0.613, 0.58, 0.64) == "61% (95%\u00a0CI 58–64)"
    assert F.pct_ci(0.9916, 0.983, 0.998) == "99.2% (95%\u00a0CI 98.3–99.8)"
    assert F.points(-0.0041, 1, sign=True) == "−0.4"
    assert F.p_text(0.0004) == "p\u00a0<\u00a00.001" and F.p_text(0.0046) == "p\u00a0=\u00a00.005" and F.p_text(0.0123) == "p\u00a0=\u00a00.01" and F.p_text(0.2) == "p\u00a0=\u00a00.20"


def test_condition_words():
    info = SF.ConditionInfo("dirichlet/0.3", "dirichlet", "label_shift", None, {"method": "dirichlet", "alpha": 0.3})
    assert SF.condition_words(info) == "label shift (Dirichlet α = 0.3)"
    assert SF.condition_words(SF.ConditionInfo("gaussian_noise/5", "gaussian_noise", "corruption", 5)) == "Gaussian noise at severity 5"
    assert SF.condition_words(SF.ConditionInfo("clean", "clean", "clean")) == "the clean test set"


def study_table():
    return acc_table([
        ("a", "clean", "clean", None, 0.99, 0.98, 1.0), ("b", "clean", "clean", None, 0.97, 0.95, 0.98),
        ("c", "clean", "clean", None, 0.96, 0.94, 0.98),
        ("a", "fog/5", "fog", 5, 0.40, 0.36, 0.44), ("b", "fog/5", "fog", 5, 0.62, 0.58, 0.66),
        ("c", "fog/5", "fog", 5, 0.30, 0.26, 0.34),
        ("a", "fog/1", "fog", 1, 0.95, 0.93, 0.97), ("b", "fog/1", "fog", 1, 0.96, 0.94, 0.98),
        ("c", "fog/1", "fog", 1, 0.90, 0.88, 0.92),
    ])


def test_hardest_shift_with_a_clear_and_a_tied_runner_up():
    acc = study_table()
    calls = []

    def clear(a, b, cond):
        calls.append((a, b, cond))
        return CLEAR

    f = SF.hardest_shift("s", acc, {}, clear, 1000, 0.95)
    assert calls == [("b", "a", "fog/5")]
    assert f.text.startswith("Under fog at severity 5, the hardest condition in this study, b keeps 62% accuracy")
    assert "beyond noise" in f.text and "c falls to 30%" in f.text
    tied = SF.hardest_shift("s", acc, {}, lambda *a: TIE, 1000, 0.95)
    assert "b (62%, 95%\u00a0CI 58–66) and a are tied within noise" in tied.text and "more than" not in tied.text


def test_largest_drop_and_dedup():
    acc = study_table()
    clean = acc[acc.condition == "clean"].set_index("arm").value
    drop = acc[acc.condition != "clean"].assign(clean=lambda d: d.arm.map(clean))
    drop["drop"] = (drop.clean - drop.value) / drop.clean
    f = SF.largest_drop("s", acc, drop, {}, 0.95)
    assert f.evidence["arm"] == "c" and f.evidence["condition"] == "fog/5"
    assert "relative drop of 69%" in f.text and "averaged over severities 1 and 5 of fog it loses 37%" in f.text
    all_f = SF.shift_findings("s", acc, drop, None, {}, lambda *a: CLEAR)
    hardest = next(x for x in all_f if x.kind == "hardest_shift")
    assert "c falls to" not in hardest.text  # said once, by the largest-drop finding


def test_no_loss_is_said_plainly():
    acc = acc_table([("a", "clean", "clean", None, 0.9, 0.88, 0.92), ("a", "x/1", "x", 1, 0.91, 0.89, 0.93)])
    drop = acc[acc.condition != "clean"].assign(clean=0.9)
    drop["drop"] = (drop.clean - drop.value) / drop.clean
    f = SF.largest_drop("s", acc, drop, {}, 0.95)
    assert f.text == "No shifted condition lowers any model's accuracy below its clean accuracy."


def test_effective_robustness_caveats():
    per_arm = pd.DataFrame({"arm": ["a", "b"], "id_acc": [0.99, 0.97], "shifted_acc": [0.8, 0.9],
                            "effective_robustness": [-0.02, 0.05]})
    points = per_arm.assign(seed=0)
    rob = SimpleNamespace(fit=LineFit(1.0, 0.0, 0.2, 2), per_arm=per_arm, points=points)
    f = SF.effective_robustness_leader("s", rob)
    assert f.text.startswith("b has the highest effective robustness: +5.0 points")
    assert "only 2 models" in f.text and "R² 0.20" in f.text
    assert SF.effective_robustness_leader("s", SimpleNamespace(fit=None, per_arm=per_arm, points=points)) is None


def test_label_shift_finding():
    acc = acc_table([("a", "clean", "clean", None, 0.95, 0.93, 0.97), ("a", "dirichlet/1", "dirichlet", None, 0.94, 0.91, 0.97)])
    infos = {"dirichlet/1": SF.ConditionInfo("dirichlet/1", "dirichlet", "label_shift", None, {"method": "dirichlet", "alpha": 1.0})}
    f = SF.label_shift_change("s", acc, infos, 0.95)
    assert "no model's accuracy moves more than 1.0 point from" in f.text
    assert "the clean value lies inside that interval" in f.text
    assert np.isclose(f.evidence["change"], -0.01)
