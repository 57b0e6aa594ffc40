"""Strategies, one module per family. Each registers its name for the CLI."""

from .base import REGISTRY, Context, Strategy, register
from .cot import ChainOfThought, Demo

__all__ = ["Strategy", "Context", "REGISTRY", "register", "ChainOfThought", "Demo"]
