"""Stakeholder reports: a report model built from the results database (no Qt here).

``engine.report.model.build_report(project, studies, options)`` reads a project's results and returns a
:class:`~engine.report.schema.ReportModel`: title page data, each study's section (built by its kind:
findings backed by intervals and paired comparisons, tables, chart references), a glossary and a
reproducibility appendix; ``engine.report.options.apply_options`` chooses what goes in.
``views.report_render`` draws the charts and writes the folder, HTML and PDF formats from it.

Layers: ``schema``, ``findings``, ``words``, ``paired`` and ``options`` are the vocabulary kinds and
views use (they import no kind); ``model`` and ``appendix`` assemble a report from the kinds (above
``engine.kinds``). This package's ``__init__`` imports nothing, so importing the vocabulary never
pulls in the kinds.
"""
