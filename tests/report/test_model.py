"""The report model, built from a small real study."""

from __future__ import annotations

import re

import pytest

from engine import open_project
from engine.core.errors import JuxtaError
from engine.report.model import build_report
from engine.report.options import apply_options
from engine.report.paired import PairedPredictions
from engine.kinds.shift.results import compare_arms


def test_title_page_sections_and_tables(mini_model):
    m = mini_model
    assert m.title == "Which small digits model copes with noise?"
    assert m.author == "Model review board" and m.introduction.startswith("Why we ran this.")
    assert m.project == "proj" and m.date
    [s] = m.included_studies
    assert s.name == "mini" and s.question == m.title
    assert {a.id for a in s.compared} == {"mlp", "cnn"}
    assert all(a.source.startswith("builtin:digits-") and a.words for a in s.compared)
    assert "compares 2 models" in s.description_in_words and "2 seeds" in s.description_in_words
    assert s.seeds == [0, 1] and s.n_examples and s.status["failed"] == 0
    assert [t.table_id for t in s.included_tables] == ["accuracy", "best", "robustness", "metrics_clean"]
    acc = s.table("accuracy")
    assert acc.columns == ["Condition", "cnn", "mlp"]
    assert acc.rows[0][0].text == "clean" and re.fullmatch(r"\d+\.\d–\d+\.\d", acc.rows[0][1].sub.replace("−", "-"))
    best = s.table("best")
    assert [r[0].text for r in best.rows][:3] == ["clean", "Gaussian noise · 5", "reduced contrast · 5"]
    for row in best.rows:
        verdict = row[-1].text
        assert verdict in ("well beyond noise", "beyond noise", "borderline", "tied within noise")
        assert (verdict == "tied within noise") == (row[1].sub == "tied within noise")
    assert not s.table("accuracy_full").included


def test_charts_default_and_captions(mini_model):
    s = mini_model.studies[0]
    ids = [c.chart_id for c in s.charts]
    assert {"severity:gaussian_noise", "severity:contrast", "drop", "on_the_line", "reliability:clean"} <= set(ids)
    assert all(c.included for c in s.charts if c.chart_id.startswith(("severity:", "drop", "on_the_line", "reliability:clean")))
    assert all(c.title for c in s.charts)


def test_findings_come_from_paired_statistics(mini_model, report_project):
    m = mini_model
    kinds = [f.kind for f in m.key_findings]
    assert kinds[0] == "clean_best" and "hardest_shift" in kinds and "largest_drop" in kinds
    clean = m.key_findings[0]
    ev = clean.evidence
    # the numbers quoted are the paired comparison's numbers (in a fixed pair order)
    with open_project(report_project).store(read_only=True) as store:
        ref = PairedPredictions(store, "mini").compare(ev["best"], ev["runner_up"], "clean", n_resamples=m.studies[0].n_resamples)
        loose = compare_arms(store, "mini", ev["best"], ev["runner_up"], "clean")
    assert ev["diff"] == pytest.approx(ref.diff) and ev["diff_low"] == pytest.approx(ref.low)
    assert (ev["n_pairs"], ev["only_a_right"], ev["only_b_right"]) == (loose.n, loose.b, loose.c)
    if ev["within_noise"]:
        assert "within noise" in clean.text and "more than" not in clean.text
    else:
        assert "beyond noise" in clean.text or "borderline" in clean.text
    for f in m.key_findings:
        assert "95%\u00a0CI" in f.text or f.kind == "effective_robustness"


def test_deterministic(report_project, mini_model):
    again = build_report(open_project(report_project), studies=["mini"])
    assert [f.text for f in again.key_findings] == [f.text for f in mini_model.key_findings]


def test_glossary_and_appendix(mini_model, report_project):
    m = mini_model
    terms = [t for t, _ in m.glossary]
    for t in ("Gaussian noise", "Reduced contrast", "Label shift (Dirichlet)", "Accuracy", "ECE", "Within noise / beyond noise",
              "Effective robustness"):
        assert t in terms, t
    a = m.appendix
    assert a.study_files[0]["filename"] == "mini.study.toml"
    assert a.study_files[0]["text"] == (report_project / "mini.study.toml").read_text(encoding="utf-8")
    assert re.fullmatch(r"[0-9a-f]{64}", a.study_files[0]["sha256"])
    assert {(r["arm"], r["seed"]) for r in a.models} == {("mlp", 0), ("mlp", 1), ("cnn", 0), ("cnn", 1)}
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["sha256"]) and r["identity"] for r in a.models)
    assert a.data and re.fullmatch(r"[0-9a-f]{64}", a.data[0]["fingerprint"])
    assert "numpy" in a.packages and "juxta" in a.report_packages and a.devices == ["cpu"]
    assert a.seeds == {"mini": [0, 1]} and a.runs and a.runs[0]["duration_s"] > 0
    assert {c["type"] for c in a.compute} == {"train", "eval"}


def test_results_frame(mini_model):
    f = mini_model.results_frame()
    assert list(f.columns) == ["study", "arm", "condition", "family", "severity", "metric", "value", "ci_low", "ci_high",
                               "seed_sd", "n_seeds", "n"]
    assert set(f.metric) == {"accuracy", "macro_f1", "nll", "ece", "brier"}
    assert ((f.ci_low <= f.value + 1e-12) & (f.value <= f.ci_high + 1e-12)).all()


def test_options_choose_content_and_comments(mini_model):
    m = apply_options(mini_model, {
        "title": "  Quarterly robustness\x00 review ", "charts": {"mini": ["drop"]}, "tables": {"mini": ["best", "accuracy_full"]},
        "comments": {"mini": {"drop": "Contrast hurts the CNN most."}},
    })
    s = m.studies[0]
    assert m.title == "Quarterly robustness review"
    assert [c.chart_id for c in s.included_charts] == ["drop"] and s.chart("drop").comment == "Contrast hurts the CNN most."
    assert [t.table_id for t in s.included_tables] == ["best", "accuracy_full"]
    assert mini_model.studies[0].chart("drop").comment == ""  # the original model is untouched
    flat = apply_options(mini_model, {"comments": {"mini/drop": "flat key"}})
    assert flat.studies[0].chart("drop").comment == "flat key"
    none = apply_options(mini_model, {"studies": []})
    assert none.included_studies == [] and none.key_findings == []
    with pytest.raises(JuxtaError, match="unknown study"):
        apply_options(mini_model, {"studies": ["nope"]})
    with pytest.raises(JuxtaError, match="Unknown report option"):
        apply_options(mini_model, {"colour": "red"})


def test_errors_are_plain_sentences(report_project, tmp_path):
    with pytest.raises(JuxtaError, match="has no results in proj yet"):
        build_report(open_project(report_project), studies=["nope"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(JuxtaError, match="no results yet"):
        build_report(open_project(empty))
