"""Real-model fixtures: the embedded SmolLM2 and a llama.cpp OpenAI-compatible server on 127.0.0.1.

The server is the one ``.ci/run`` started (``REASONERS_TEST_SERVER`` holds its
URL) or, when that is unset, one this fixture starts on a free port and stops
after the session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reasoners import LLM
from reasoners.llm.local import smollm2_path
from reasoners.testing import llama_server_argv, running_server, wait_ready

START_TOKEN = "<|im_start|>"  # SmolLM2 adds no BOS; the server needs it to align echoed logprobs


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    # A conftest hook sees the whole session's items: mark only this folder's.
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def server_url():
    url = os.environ.get("REASONERS_TEST_SERVER")
    if url:
        wait_ready(url)
        yield url
        return
    with running_server(llama_server_argv(smollm2_path())) as url:
        yield url


@pytest.fixture(scope="session")
def local_llm() -> LLM:
    return LLM("local/smollm2")


@pytest.fixture(scope="session")
def server_llm(server_url) -> LLM:
    return LLM("openai/smollm2", api_base=server_url, api_key="none", score_prefix=START_TOKEN)


@pytest.fixture(params=["embedded", "server"])
def real_llm(request) -> LLM:
    return request.getfixturevalue("local_llm" if request.param == "embedded" else "server_llm")
