"""Shared fixtures. Unit tests use the scripted FakeLLM; tests under integration/ use real models."""

from __future__ import annotations

import os

import pytest

# Keep litellm offline and every test's cache private.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _private_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("REASONERS_CACHE_DIR", str(tmp_path / "cache"))
