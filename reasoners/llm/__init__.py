"""The common LLM client: transport (litellm), retries, cache, usage, capabilities, scoring."""

from .cache import Cache
from .client import LLM
from .providers import InProcessModel, RawCompletion
from .retry import RetryPolicy
from .types import UNSET, Capabilities, Completion, Score, TokenLogprob

__all__ = [
    "LLM",
    "Cache",
    "RetryPolicy",
    "Capabilities",
    "Completion",
    "Score",
    "TokenLogprob",
    "InProcessModel",
    "RawCompletion",
    "UNSET",
]
