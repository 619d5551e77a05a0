"""Report text in words: sources, data and conditions described in plain language, and the glossary."""

from __future__ import annotations

from engine.metrics import METRICS
from engine.report import findings as F
from engine.report.findings import ConditionInfo
from engine.report.schema import Arm, StudySection
from engine.conditions.catalog import CORRUPTION_DESCRIPTIONS


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


def _data_words(spec) -> str:
    if spec is None:
        return ""
    d = spec.data
    return source_words(d.source, "data")


def _conditions_summary(results, infos: dict[str, ConditionInfo]) -> list[str]:
    acc = results.accuracy
    out = []
    if "clean" in set(acc.condition):
        out.append("the clean test set")
    graded = acc[acc.severity.notna()]
    if not graded.empty:
        fams = list(dict.fromkeys(graded.family))
        sevs = sorted({int(s) for s in graded.severity})
        kinds = {infos[c].kind for c in graded.condition if c in infos}
        what = "image corruptions" if kinds <= {"corruption"} else "graded shifts"
        sev = f"severity {sevs[0]}" if len(sevs) == 1 else f"severities {F.ranges(sevs)}"
        out.append(f"{len(fams)} {what} ({', '.join(F.family_words(f) for f in fams)}) at {sev}")
    others = [c for c in dict.fromkeys(acc.condition) if c != "clean" and acc[acc.condition == c].severity.isna().all()]
    for c in others:
        out.append(F.condition_words(F.info_for(c, infos)))
    return out


def _in_words(spec, results, compared: list[Arm], infos, seeds: list[int], n_examples: int | None,
              n_resamples: int, level: float) -> str:
    arms = [a.id for a in compared if a.id in set(results.arms)] or list(results.arms)
    n = len(arms)
    parts = [f"This study compares {n} model{'s' if n != 1 else ''} ({_join(arms)})"]
    if spec is not None:
        d = spec.data
        split = {"all": "all the data", "test": "the held-out test split", "validation": "the validation split",
                 "train": "the training split"}.get(d.split, d.split)
        parts.append(f" on {split} of {_data_phrase(d.source)}")
    if n_examples:
        parts.append(f" ({n_examples:,} examples)")
    conds = _conditions_summary(results, infos)
    shifted = [c for c in conds if c != "the clean test set"]
    if shifted:
        parts.append(f", clean and under {_join(shifted)}")
    text = "".join(parts) + "."
    ns = len(seeds)
    text += (f" Each model was trained and evaluated with {ns} seed{'s' if ns != 1 else ''} ({_join([str(s) for s in seeds])})"
             f"; every number is the mean over seeds and" if ns > 1 else
             f" Each model was evaluated with seed {seeds[0] if seeds else 0}; every number")
    text += (f" comes with a {100 * level:g}% bootstrap interval over test examples ({n_resamples:,} resamples), and "
             "differences between models are tested on the same examples (paired bootstrap and McNemar's test).")
    return text


def _data_phrase(source: str) -> str:
    from engine.core.sources import parse_source

    try:
        src = parse_source(source, kind="data")
    except Exception:
        return source
    if src.scheme == "builtin":
        return {"digits": "scikit-learn's handwritten digits", "wine": "scikit-learn's wine data",
                "breast-cancer": "scikit-learn's breast-cancer data"}.get(src.value, src.value)
    return source_words(source, "data")


def _join(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------------------------------------
# glossary


LABEL_SHIFT_WORDS = {
    "dirichlet": ("Label shift (Dirichlet)", "The test set is resampled so that the class proportions follow a random draw "
                  "from a Dirichlet distribution; a smaller \u03b1 gives a more lopsided mix of classes. The inputs themselves "
                  "are unchanged, so only how often each class occurs differs from training."),
    "tweak_one": ("Label shift (tweak-one)", "The test set is resampled so that one class makes up a fixed share \u03c1 of "
                  "the examples and the other classes share the rest equally; the inputs are unchanged."),
    "imbalance": ("Class imbalance", "The test set is resampled so that class frequencies fall off steadily, the most "
                  "common class being the stated ratio times as frequent as the rarest."),
    "group_shift": ("Group shift", "The test set is resampled so that one group (for example a site or a device) makes up "
                    "the stated share of the examples, to see how a model fares when the population changes."),
    "field": ("Field data", "A second dataset with the same classes but collected differently, evaluated as it is."),
}

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
    ("Severity", "Corruptions come in five strengths, from 1 (mild) to 5 (strong); severity 0 in the charts is the clean "
     "test set."),
    ("Relative drop", "The share of its clean accuracy a model loses under a shift: (clean \u2212 shifted) / clean. A "
     "negative value means the model did slightly better than on clean data."),
    ("Effective robustness", "How far a model's accuracy under corruption lies above (or below) what its clean accuracy "
     "predicts, where the prediction is a straight line fitted through all models on probit scales (Miller et al., "
     "2021, \u201caccuracy on the line\u201d). Positive values mean more robust than expected."),
    ("Seed spread", "The standard deviation of a result over training seeds: how much retraining the same model changes "
     "the number. The interval, by contrast, reflects the finite test set."),
]


def glossary(sections: list[StudySection]) -> list[tuple[str, str]]:
    """Every corruption, shift and metric used by the included studies, and the statistical terms."""
    terms: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(term: str, text: str) -> None:
        if term not in seen:
            seen.add(term)
            terms.append((term, text))

    shifts: list[tuple[str, str]] = []
    metrics: list[tuple[str, str]] = []
    for s in sections:
        res = s.results
        if res is None:
            continue
        for fam in res.corruption_families:
            text = CORRUPTION_DESCRIPTIONS.get(fam) or _graded_description(fam)
            label = F.family_words(fam)
            shifts.append((label[0].upper() + label[1:], f"{text} (In study files: {fam}.)" if text else f"In study files: {fam}."))
        fams = set(res.accuracy.family)
        for key, (term, text) in LABEL_SHIFT_WORDS.items():
            if key in fams or (key == "group_shift" and any(str(f).startswith("group") for f in fams)) or \
                    (key == "field" and any(str(c).startswith("field/") for c in res.conditions)):
                shifts.append((term, text))
        for m in s.metrics:
            d = METRICS.get(m)
            if d is not None:
                metrics.append((d.label, d.description))
    for t in shifts:
        add(*t)
    for t in metrics:
        add(*t)
    for term, text in STAT_TERMS:
        add(term, text)
    return terms


def _graded_description(family: str) -> str:
    try:
        from engine.conditions.tabular import TABULAR_SHIFTS

        if family in TABULAR_SHIFTS:
            return TABULAR_SHIFTS[family].description
        from engine.conditions.text import TEXT_SHIFTS

        if family in TEXT_SHIFTS:
            return TEXT_SHIFTS[family].description
    except Exception:
        pass
    return ""

