"""Report text in words, whatever the kind: sources in plain language, lists, the statistical terms,
and the glossary assembled from the studies in a report."""

from __future__ import annotations

from engine.metrics import METRICS
from engine.report.schema import StudySection


def source_words(source: str, kind: str = "model", data_source: str | None = None) -> str:
    """A source string in plain words, e.g. 'builtin:digits-cnn' -> 'Small convolutional network … trained by Juxta on digits'."""
    from engine.core.sources import parse_source

    try:
        src = parse_source(source, kind=kind)
    except Exception:
        return source
    if kind == "model":
        if src.scheme == "builtin":
            from engine.models.recipes import ARCHITECTURES, parse_builtin

            try:
                data, arch = parse_builtin(src.value)
            except Exception:
                return f"built-in model {src.value}"
            what = ARCHITECTURES[arch][1].rstrip(".")
            on = data or (parse_source(data_source, kind="data").value if data_source else "the study's data")
            return f"{what}; trained by Juxta on {on}."
        if src.scheme == "file":
            return f"Weights loaded from the file {src.value}."
        if src.scheme == "hf":
            rev = f" (revision {src.revision})" if src.revision else ""
            return f"Hugging Face model {src.value}{rev}."
        if src.scheme == "artifact":
            return f"The model produced by {src.value} in this project."
        return str(src)
    if src.scheme == "builtin":
        from engine.data.loaders import BUILTIN_DATASETS

        return BUILTIN_DATASETS.get(src.value, f"built-in dataset {src.value}")
    words = {"folder": "image folder", "csv": "CSV file", "parquet": "Parquet file", "hf": "Hugging Face dataset"}
    return f"{words.get(src.scheme, src.scheme)} {src.value}"


def data_phrase(source: str) -> str:
    from engine.core.sources import parse_source

    try:
        src = parse_source(source, kind="data")
    except Exception:
        return source
    if src.scheme == "builtin":
        return {"digits": "scikit-learn's handwritten digits", "wine": "scikit-learn's wine data",
                "breast-cancer": "scikit-learn's breast-cancer data"}.get(src.value, src.value)
    return source_words(source, "data")


def join(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------------------------------------
# glossary


STAT_TERMS = [
    ("95% interval (CI)", "The range of values compatible with the test data: repeating the evaluation on new test sets of "
     "the same size would put the true value inside such an interval 95% of the time. Juxta computes it by resampling "
     "the test examples (the bootstrap)."),
    ("Within noise / beyond noise", "A difference between two models is within noise when its 95% interval contains zero: "
     "the test set cannot tell the models apart. Beyond noise means the interval excludes zero; well beyond noise means, "
     "in addition, p < 0.001."),
    ("Paired comparison", "Both models are scored on exactly the same test examples and the difference is resampled example "
     "by example (paired bootstrap), which removes the noise of which examples happen to be easy or hard."),
    ("McNemar's test", "A test that looks only at the examples on which exactly one of the two models is right; a small "
     "p-value means such a lopsided split is unlikely if the models were equally accurate."),
    ("p-value", "How surprising the observed difference would be if the two models were in fact equally accurate; the "
     "report quotes the more cautious of the paired-bootstrap and McNemar p-values."),
    ("Seed spread", "The standard deviation of a result over training seeds: how much retraining the same model changes "
     "the number. The interval, by contrast, reflects the finite test set."),
]


def glossary(sections: list[StudySection]) -> list[tuple[str, str]]:
    """The terms of the included studies' kinds (their corruptions, shifts, methods), every metric they
    computed, and the statistical terms, each once."""
    terms: list[tuple[str, str]] = []
    seen: set[str] = set()
    kind_terms = [t for s in sections for t in s.glossary]
    metric_terms = [(METRICS[m].label, METRICS[m].description) for s in sections for m in s.metrics if m in METRICS]
    for term, text in [*kind_terms, *metric_terms, *STAT_TERMS]:
        if term not in seen:
            seen.add(term)
            terms.append((term, text))
    return terms
