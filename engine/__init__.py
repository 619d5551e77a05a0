"""Juxta's engine: studies, cells, execution and results. No Qt here; torch is imported lazily.

Public API::

    from engine import open_project
    project = open_project("projects/digits-demo")
    plan = project.plan("robustness")            # validate + expand into cells
    summary = project.run("robustness", on_event=print, control=RunControl())
    table = results.accuracy_table(project, "robustness")
"""

from engine.core.errors import JuxtaError, StudyFileError
from engine.execute import RunControl, RunEvent, RunSummary
from engine.project import Project, open_project

__version__ = "0.1.0"
__all__ = ["JuxtaError", "StudyFileError", "RunControl", "RunEvent", "RunSummary", "Project", "open_project", "__version__"]
