"""Scorers for best-of-N and re-ranking stages (see :mod:`reasoners.strategies.scorers`).

They live beside the strategies that use them, below :mod:`reasoners.strategies.best_of_n`;
this module keeps their import path.
"""

from __future__ import annotations

from .strategies.scorers import (
    JUDGE_RUBRIC,
    SCORERS,
    TRLM_TEMPLATE,
    LLMJudge,
    MeanLogprob,
    PublicTests,
    PuzzleChecker,
    Scorer,
    TRLMScorer,
    Verifier,
    parse_judge_score,
    register_scorer,
)

__all__ = [
    "Scorer",
    "Verifier",
    "PuzzleChecker",
    "PublicTests",
    "LLMJudge",
    "MeanLogprob",
    "TRLMScorer",
    "parse_judge_score",
    "SCORERS",
    "register_scorer",
    "JUDGE_RUBRIC",
    "TRLM_TEMPLATE",
]
