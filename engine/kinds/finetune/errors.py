"""Errors of a training run a user can act on (each one plain sentence)."""

from __future__ import annotations

from engine.core.errors import JuxtaError


class TrainingError(JuxtaError):
    """Training could not finish: the loss diverged, or the device ran out of memory."""
