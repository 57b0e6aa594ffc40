"""Test helpers shipped with the library, for our tests and for users testing their own pipelines.

- :mod:`~reasoners.testing.fakes`: a scripted :class:`FakeLLM` and a :class:`FakeRetriever`;
- :mod:`~reasoners.testing.servers`: :func:`running_server` to run a real or stub
  OpenAI-compatible server for a test or benchmark;
- :mod:`~reasoners.testing.stub_server`: that stub, scripted with faults.
"""

from __future__ import annotations

from .fakes import FakeLLM, FakeModel, FakeRequest, FakeResponse, FakeRetriever
from .servers import llama_server_argv, running_server, serving, wait_ready

__all__ = ["FakeLLM", "FakeModel", "FakeRequest", "FakeResponse", "FakeRetriever",
           "running_server", "serving", "wait_ready", "llama_server_argv"]
