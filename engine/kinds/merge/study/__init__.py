"""The merge study kind's modules: ``spec`` (the study file), ``plan`` (cells), ``work`` (the work
functions), ``models`` (loading models and their heads in a cell), ``evaluate`` (a task's inputs and
scoring), ``sweep`` (in-memory merges, cached per worker), ``results`` (``MergeResults``),
``report/`` (the report section), ``summary`` (``juxta results``), ``describe`` (for views),
``checks`` (validate-time checks), ``export`` (a study's merge as files)."""
