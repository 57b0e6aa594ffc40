"""The common LLM client (budget, cache, retries, usage, trace) over one transport per model."""

from .cache import Cache
from .client import LLM
from .inprocess import InProcessModel, RawCompletion
from .options import SamplingOptions
from .retry import RetryPolicy
from .transport import Choice, Reply, Transport
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
    "SamplingOptions",
    "Transport",
    "Reply",
    "Choice",
    "UNSET",
]
