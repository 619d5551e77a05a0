"""The fine-tuning kind's new-study wizard (``study_wizard.FinetuneWizard``) and its own pages: the base model,
the target (the shared data page for ``[target]``, with a domain and split shares), shifts and forgetting, and
methods with their budgets and the shared training settings."""
