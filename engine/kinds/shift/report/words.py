"""A shift study in words: what was compared, the conditions, and the glossary terms of its shifts."""

from __future__ import annotations

from engine.conditions.catalog import CORRUPTION_DESCRIPTIONS
from engine.conditions.tabular import TABULAR_SHIFTS
from engine.conditions.text import TEXT_SHIFTS
from engine.kinds.shift.report.findings import ConditionInfo, condition_words, family_words, info_for
from engine.report.findings import ranges
from engine.report.schema import Arm
from engine.report.words import data_phrase, join, source_words


def data_words(spec) -> str:
    """The evaluated dataset in plain words ('' when the study file could not be read)."""
    if spec is None:
        return ""
    d = spec.data
    return source_words(d.source, "data")


def conditions_summary(results, infos: dict[str, ConditionInfo]) -> list[str]:
    """One phrase per group of conditions: 'the clean test set', '2 image corruptions (…) at severities 1–5', …"""
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
        sev = f"severity {sevs[0]}" if len(sevs) == 1 else f"severities {ranges(sevs)}"
        out.append(f"{len(fams)} {what} ({', '.join(family_words(f) for f in fams)}) at {sev}")
    others = [c for c in dict.fromkeys(acc.condition) if c != "clean" and acc[acc.condition == c].severity.isna().all()]
    for c in others:
        out.append(condition_words(info_for(c, infos)))
    return out


def in_words(spec, results, compared: list[Arm], infos, seeds: list[int], n_examples: int | None,
             n_resamples: int, level: float) -> str:
    """What the study compared and how, in a few sentences, from its file and results."""
    arms = [a.id for a in compared if a.id in set(results.arms)] or list(results.arms)
    n = len(arms)
    parts = [f"This study compares {n} model{'s' if n != 1 else ''} ({join(arms)})"]
    if spec is not None:
        d = spec.data
        split = {"all": "all the data", "test": "the held-out test split", "validation": "the validation split",
                 "train": "the training split"}.get(d.split, d.split)
        parts.append(f" on {split} of {data_phrase(d.source)}")
    if n_examples:
        parts.append(f" ({n_examples:,} examples)")
    conds = conditions_summary(results, infos)
    shifted = [c for c in conds if c != "the clean test set"]
    if shifted:
        parts.append(f", clean and under {join(shifted)}")
    text = "".join(parts) + "."
    ns = len(seeds)
    text += (f" Each model was trained and evaluated with {ns} seed{'s' if ns != 1 else ''} ({join([str(s) for s in seeds])})"
             f"; every number is the mean over seeds and" if ns > 1 else
             f" Each model was evaluated with seed {seeds[0] if seeds else 0}; every number")
    text += (f" comes with a {100 * level:g}% bootstrap interval over test examples ({n_resamples:,} resamples), and "
             "differences between models are tested on the same examples (paired bootstrap and McNemar's test).")
    return text


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

SHIFT_TERMS = [
    ("Severity", "Corruptions come in five strengths, from 1 (mild) to 5 (strong); severity 0 in the charts is the clean "
     "test set."),
    ("Relative drop", "The share of its clean accuracy a model loses under a shift: (clean \u2212 shifted) / clean. A "
     "negative value means the model did slightly better than on clean data."),
    ("Effective robustness", "How far a model's accuracy under corruption lies above (or below) what its clean accuracy "
     "predicts, where the prediction is a straight line fitted through all models on probit scales (Miller et al., "
     "2021, \u201caccuracy on the line\u201d). Positive values mean more robust than expected."),
]


def glossary_terms(results) -> list[tuple[str, str]]:
    """The shifts a study's results hold, in words (corruptions and graded shifts, label and group shifts,
    field data), then the shift-specific terms."""
    out: list[tuple[str, str]] = []
    for fam in results.corruption_families:
        text = CORRUPTION_DESCRIPTIONS.get(fam) or graded_description(fam)
        label = family_words(fam)
        out.append((label[0].upper() + label[1:], f"{text} (In study files: {fam}.)" if text else f"In study files: {fam}."))
    fams = set(results.accuracy.family)
    for key, (term, text) in LABEL_SHIFT_WORDS.items():
        if key in fams or (key == "group_shift" and any(str(f).startswith("group") for f in fams)) or \
                (key == "field" and any(str(c).startswith("field/") for c in results.conditions)):
            out.append((term, text))
    return out + SHIFT_TERMS


def graded_description(family: str) -> str:
    """The one-sentence description of a table or text shift ('' for other families)."""
    if family in TABULAR_SHIFTS:
        return TABULAR_SHIFTS[family].description
    if family in TEXT_SHIFTS:
        return TEXT_SHIFTS[family].description
    return ""
