"""Strategies, one module per family. Each registers its name for the CLI."""

from .autocot import AutoCoT
from .base import REGISTRY, Context, Strategy, register
from .batch import solve_batch
from .best_of_n import BestOfN, TRLMRerank
from .codechain import CodeChain
from .cot import ChainOfThought, Demo
from .deepconf import DeepConf
from .fobar import FOBAR
from .probtree import ProbTree
from .rag import RetrieveThenAnswer
from .sampling import SelfConsistency
from .search import BacktrackSearch, LinearBacktrack

__all__ = [
    "Strategy",
    "Context",
    "REGISTRY",
    "register",
    "ChainOfThought",
    "Demo",
    "SelfConsistency",
    "DeepConf",
    "BestOfN",
    "TRLMRerank",
    "AutoCoT",
    "FOBAR",
    "CodeChain",
    "ProbTree",
    "RetrieveThenAnswer",
    "BacktrackSearch",
    "LinearBacktrack",
    "solve_batch",
]
