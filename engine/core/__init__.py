"""Kind-neutral machinery every study kind stands on: errors, sources, the study file's header,
cells and plans, execution, the results database and its queries. Imports no kind, report or project."""
