"""Scorers for best-of-N and re-ranking stages (see :mod:`reasoners.strategies.scorers`).

They live beside the strategies that use them, below :mod:`reasoners.strategies.best_of_n`;
this module keeps their import path.
"""

from __future__ import annotations

from .strategies.scorers import *  # noqa: F403  (the public names, as __all__ there lists them)
from .strategies.scorers import JUDGE_RUBRIC, TRLM_TEMPLATE, __all__, register_scorer  # noqa: F401
