"""What the HTML and PDF report writers share: arm colours, which tables go where, title-page counts
and durations in words (so neither writer imports the other)."""

from __future__ import annotations

from engine.report.schema import ReportModel, StudySection


def arm_colours(section: StudySection) -> dict[str, str]:
    from views.charts import ArmPalette

    # a kind's results may list arm names, or arm records with an ``id`` (fine-tuning's ArmInfo); a kind whose
    # results have no arms (merging: rows of tasks and methods) is coloured by the arms its section compares
    listed = getattr(section.results, "arms", None)
    arms = [getattr(a, "id", a) for a in listed] if listed is not None else [a.id for a in section.compared]
    pal = ArmPalette(arms, "light")
    return {a: pal.color(a) for a in arms}


def scorecard(section: StudySection):
    """The study's scorecard table (shown right after the key findings), if it is included."""
    t = section.table("robustness")
    return t if t is not None and t.included else None


def body_tables(section: StudySection) -> list:
    """The tables shown in the study's own section (the scorecard sits with the key findings)."""
    return [t for t in section.included_tables if t.table_id != "robustness"]


def glance(model: ReportModel) -> list[tuple[str, str]]:
    """A few counts for the title page."""
    studies = model.included_studies
    if not studies:
        return []
    arms = sum(len(s.compared) for s in studies)
    # a kind whose results have no ``conditions`` (fine-tuning) counts the evaluation sets its section lists
    conds = sum(len(getattr(s.results, "conditions", s.conditions_summary)) for s in studies if s.results is not None)
    seeds = max((len(s.seeds) for s in studies), default=0)
    done = sum(s.status.get("done", 0) for s in studies)
    out = [(str(arms), "models compared" if arms != 1 else "model"), (str(conds), "test conditions"),
           (str(seeds), "seeds per model" if seeds != 1 else "seed per model"), (f"{done:,}", "cells computed")]
    if len(studies) > 1:
        out.insert(0, (str(len(studies)), "studies"))
    return out


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "—"
    if s != s:
        return "—"
    if s < 1:
        return f"{1000 * s:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {sec:02d} s"
