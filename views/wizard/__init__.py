"""The parts of the new-study wizard; ``views.study_wizard`` assembles them and is the public entry point.

``widgets`` (colours, fonts, small shared widgets), ``formatting`` and ``schema`` (text and schema
helpers), ``toml_build`` (writing the study TOML), ``page_base`` and one ``page_*`` module per step.
"""
