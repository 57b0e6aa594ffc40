"""reasoners: inference-time reasoning strategies on one LLM client, one budget and one trace.

>>> from reasoners import LLM, Budget, ChainOfThought
>>> result = ChainOfThought().run("What is 17 + 25?", llm=LLM("local/smollm2"),
...                               budget=Budget(tokens=2000))          # doctest: +SKIP

Importing this package does not import litellm (which takes seconds); the
client imports it on first use.
"""

from .answers import extract_answer, normalize, vote
from .budget import Budget
from .errors import (
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
from .llm import LLM, Cache, Capabilities, Completion, RetryPolicy, Score
from .problem import Candidate, Problem, Result
from .embedders import Embedder, LiteLLMEmbedder, TfidfEmbedder
from .pipeline import Pipeline, Stage
from .scorers import LLMJudge, MeanLogprob, PublicTests, PuzzleChecker, Scorer, TRLMScorer, Verifier
from .strategies import (
    FOBAR,
    AutoCoT,
    CodeChain,
    BacktrackSearch,
    LinearBacktrack,
    ProbTree,
    RetrieveThenAnswer,
    BestOfN,
    ChainOfThought,
    Context,
    Demo,
    SelfConsistency,
    Strategy,
    TRLMRerank,
    solve_batch,
)
from .trace import Trace
from .usage import Usage

__version__ = "0.1.0"

__all__ = [
    "LLM",
    "Cache",
    "Capabilities",
    "Completion",
    "RetryPolicy",
    "Score",
    "Budget",
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
