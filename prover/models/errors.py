"""Errors of the model layer. Both reach the user as one line (they are `UserError`s: the CLI exits 2)."""

from __future__ import annotations

from prover.errors import UserError


class ModelLoadError(UserError):
    """A model or tokenizer could not be loaded: missing weights (offline), missing extra, out of memory,
    a load that took longer than ``load_timeout``, a bad path or config."""


class GenerationError(UserError):
    """A backend failed while generating: an HTTP server that is down, answers an error or does not answer
    in time; out of memory during generation."""
