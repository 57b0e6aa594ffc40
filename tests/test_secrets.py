"""Secrets stay out of errors, tracebacks, traces, logs, the cache and the CLI's stderr,
even when a server echoes the Authorization header back in its error body."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback

import pytest

from reasoners import LLM, AuthError, Budget, Cache, ChainOfThought, RetryPolicy
from reasoners.llm.convert import redact
from reasoners.testing.stub_server import Reply, StubServer

pytestmark = pytest.mark.slow  # starts processes (servers, sandboxes, Ray, a browser): not in `make unit`

SECRET = "sk-test-0123456789abcdefSECRETSECRET"


def test_redact_replaces_keys_and_bearer_tokens():
    text = f"bad key {SECRET}; header Authorization: Bearer abcdefgh12345678; other: Bearer {SECRET}"
    clean = redact(text, [SECRET])
    assert SECRET not in clean and "abcdefgh12345678" not in clean
    assert clean.count("[REDACTED]") == 3


def test_an_echoing_server_leaks_the_key_nowhere(tmp_path, caplog):
    cache_path = tmp_path / "c.sqlite"
    with StubServer(default=Reply.auth_echo(401)) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key=SECRET, retry=RetryPolicy(attempts=1),
                  cache=Cache(cache_path))
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(AuthError) as e:
                llm.generate("hi")
            from reasoners.core.trace import Trace

            trace = Trace("cot")
            with trace.activate(), pytest.raises(AuthError):
                ChainOfThought().run("q?", llm=llm, budget=Budget(tokens=500))
        assert srv.requests  # the server was asked, and answered with the key in its body
    assert "invalid credentials" in str(e.value)  # the message is kept, the key is not
    assert SECRET not in str(e.value)
    assert SECRET not in "".join(traceback.format_exception(e.value))  # nor in the chained originals
    assert SECRET not in caplog.text
    assert SECRET not in str(trace.to_dict())
    assert not cache_path.exists() or SECRET.encode() not in cache_path.read_bytes()


def test_the_cli_prints_no_key_from_the_environment():
    with StubServer(default=Reply.auth_echo(401)) as srv:
        env = {**os.environ, "OPENAI_API_KEY": SECRET, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        out = subprocess.run(
            [sys.executable, "-m", "reasoners.cli", "run", "q?", "--model", "openai/stub", "--api-base", srv.url,
             "--no-cache"], capture_output=True, text=True, env=env, timeout=120,
        )
    assert out.returncode == 2 and "invalid credentials" in out.stderr
    assert SECRET not in out.stderr and SECRET not in out.stdout
    assert len(out.stderr.strip().splitlines()) == 1
