"""Stages and pipelines: ``generator | stage | stage`` under one budget and one trace.

A :class:`Stage` maps a Result (its candidates) to a new Result: re-rank,
verify, revise. ``strategy | stage`` makes a :class:`Pipeline`, itself a
strategy, so pipelines nest and run like any other. Both live in
:mod:`reasoners.strategies.base`, beside :class:`Strategy`, so that the two
never import each other; this module keeps their import path.
"""

from __future__ import annotations

from .strategies.base import Pipeline, Stage

__all__ = ["Stage", "Pipeline"]
