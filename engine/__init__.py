"""Juxta's engine: studies, cells, execution and results. No Qt here; torch is imported lazily.

Public API::

    from engine import open_project, RunControl
    project = open_project("projects/digits-demo")
    plan = project.validate("robustness")        # read, plan into cells, check models against data
    summary = project.run("robustness", on_event=print, control=RunControl())
    results = project.results("robustness")      # the study kind's results (shift: ShiftResults)

Layout: ``engine.core`` (kind-neutral machinery), ``engine.kinds`` (the registered study kinds),
``engine.conditions``/``data``/``models``/``metrics``/``stats`` (shared libraries), ``engine.report``
(reports), ``engine.project`` (above all of them). docs/architecture.md explains where things go.
"""

from engine.core.errors import JuxtaError, StudyFileError
from engine.core.execute import RunControl, RunEvent, RunSummary
from engine.project import Project, open_project

__version__ = "0.1.0"
__all__ = ["JuxtaError", "StudyFileError", "RunControl", "RunEvent", "RunSummary", "Project", "open_project", "__version__"]
