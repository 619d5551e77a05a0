"""The merge kind's new-study wizard (``merge_wizard.MergeWizard``): the shared pages of ``views.wizard`` plus
the base, experts (``page_models``) and methods (``page_methods``, with ``knobs`` and ``preview``) pages."""
