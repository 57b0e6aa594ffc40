"""reasoners: inference-time reasoning strategies on one LLM client, one budget and one trace.

>>> from reasoners import LLM, Budget, ChainOfThought
>>> result = ChainOfThought().run("What is 17 + 25?", llm=LLM("local/smollm2"),
...                               budget=Budget(tokens=2000))          # doctest: +SKIP

Importing this package does not import litellm (which takes seconds); the
client imports it on first use. The names below are loaded on first access (PEP 562),
so ``import reasoners.core.errors`` (as ``retrievers`` does) loads nothing else.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .answers import extract_answer, normalize, vote
    from .core.budget import Budget, Meter
    from .core.errors import (
        APIConnectionError,
        AuthError,
        BudgetExhausted,
        CapabilityError,
        ConfigError,
        ContextWindowError,
        LLMError,
        MalformedResponseError,
        ProviderError,
        RateLimitError,
        ReasonersError,
        RequestTimeout,
        ServerError,
        SyncInAsyncError,
        TransientError,
    )
    from .core.problem import Candidate, Problem, Result
    from .core.trace import Trace
    from .core.usage import Usage
    from .embedding.embedders import Embedder, LiteLLMEmbedder, TfidfEmbedder
    from .llm import LLM, Cache, Capabilities, Completion, RetryPolicy, Score
    from .strategies import (
        FOBAR,
        AutoCoT,
        BacktrackSearch,
        BestOfN,
        ChainOfThought,
        CodeChain,
        Context,
        DeepConf,
        Demo,
        LinearBacktrack,
        ProbTree,
        RetrieveThenAnswer,
        SelfConsistency,
        Strategy,
        TRLMRerank,
        solve_batch,
    )
    from .strategies.base import Pipeline, Stage
    from .strategies.scorers import (
        LLMJudge,
        MeanLogprob,
        PublicTests,
        PuzzleChecker,
        Scorer,
        TRLMScorer,
        Verifier,
    )

_WHERE = {
    "extract_answer": ".answers",
    "normalize": ".answers",
    "vote": ".answers",
    "Budget": ".core.budget",
    "Meter": ".core.budget",
    "APIConnectionError": ".core.errors",
    "AuthError": ".core.errors",
    "BudgetExhausted": ".core.errors",
    "CapabilityError": ".core.errors",
    "ConfigError": ".core.errors",
    "ContextWindowError": ".core.errors",
    "LLMError": ".core.errors",
    "MalformedResponseError": ".core.errors",
    "ProviderError": ".core.errors",
    "RateLimitError": ".core.errors",
    "ReasonersError": ".core.errors",
    "RequestTimeout": ".core.errors",
    "ServerError": ".core.errors",
    "SyncInAsyncError": ".core.errors",
    "TransientError": ".core.errors",
    "LLM": ".llm",
    "Cache": ".llm",
    "Capabilities": ".llm",
    "Completion": ".llm",
    "RetryPolicy": ".llm",
    "Score": ".llm",
    "Candidate": ".core.problem",
    "Problem": ".core.problem",
    "Result": ".core.problem",
    "Embedder": ".embedding.embedders",
    "LiteLLMEmbedder": ".embedding.embedders",
    "TfidfEmbedder": ".embedding.embedders",
    "Pipeline": ".strategies.base",
    "Stage": ".strategies.base",
    "LLMJudge": ".strategies.scorers",
    "MeanLogprob": ".strategies.scorers",
    "PublicTests": ".strategies.scorers",
    "PuzzleChecker": ".strategies.scorers",
    "Scorer": ".strategies.scorers",
    "TRLMScorer": ".strategies.scorers",
    "Verifier": ".strategies.scorers",
    "FOBAR": ".strategies",
    "AutoCoT": ".strategies",
    "CodeChain": ".strategies",
    "DeepConf": ".strategies",
    "BacktrackSearch": ".strategies",
    "LinearBacktrack": ".strategies",
    "ProbTree": ".strategies",
    "RetrieveThenAnswer": ".strategies",
    "BestOfN": ".strategies",
    "ChainOfThought": ".strategies",
    "Context": ".strategies",
    "Demo": ".strategies",
    "SelfConsistency": ".strategies",
    "Strategy": ".strategies",
    "TRLMRerank": ".strategies",
    "solve_batch": ".strategies",
    "Trace": ".core.trace",
    "Usage": ".core.usage",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'reasoners' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__version__ = "0.1.0"

__all__ = [
    "LLM",
    "Cache",
    "Capabilities",
    "Completion",
    "RetryPolicy",
    "Score",
    "Budget",
    "Meter",
    "Usage",
    "Trace",
    "Problem",
    "Candidate",
    "Result",
    "Strategy",
    "Context",
    "solve_batch",
    "ChainOfThought",
    "Demo",
    "SelfConsistency",
    "BestOfN",
    "AutoCoT",
    "FOBAR",
    "CodeChain",
    "DeepConf",
    "ProbTree",
    "RetrieveThenAnswer",
    "BacktrackSearch",
    "LinearBacktrack",
    "TRLMRerank",
    "Pipeline",
    "Stage",
    "Scorer",
    "Verifier",
    "PuzzleChecker",
    "PublicTests",
    "LLMJudge",
    "MeanLogprob",
    "TRLMScorer",
    "Embedder",
    "TfidfEmbedder",
    "LiteLLMEmbedder",
    "extract_answer",
    "normalize",
    "vote",
    "ReasonersError",
    "ConfigError",
    "CapabilityError",
    "BudgetExhausted",
    "SyncInAsyncError",
    "LLMError",
    "TransientError",
    "RateLimitError",
    "RequestTimeout",
    "APIConnectionError",
    "ServerError",
    "MalformedResponseError",
    "AuthError",
    "ContextWindowError",
    "ProviderError",
]
