"""Shift conditions: image corruptions, resampling shifts, tabular and text perturbations."""
