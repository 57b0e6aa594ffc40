"""Real-model fixtures: the embedded SmolLM2 and a llama.cpp OpenAI-compatible server on 127.0.0.1.

The server is the one ``.ci/run`` started (``REASONERS_TEST_SERVER`` holds its
URL) or, when that is unset, one this fixture starts on a free port and stops
after the session.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from reasoners import LLM
from reasoners.llm.local import smollm2_path

START_TOKEN = "<|im_start|>"  # SmolLM2 adds no BOS; the server needs it to align echoed logprobs


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.integration)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen | None, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"llama.cpp server at {url} not ready after {seconds}s")


@pytest.fixture(scope="session")
def server_url():
    url = os.environ.get("REASONERS_TEST_SERVER")
    if url:
        _wait_ready(url, None)
        yield url
        return
    port = _free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(smollm2_path()),
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "4096", "--model_alias", "smollm2",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def local_llm() -> LLM:
    return LLM("local/smollm2")


@pytest.fixture(scope="session")
def server_llm(server_url) -> LLM:
    return LLM("openai/smollm2", api_base=server_url, api_key="none", score_prefix=START_TOKEN)


@pytest.fixture(params=["embedded", "server"])
def real_llm(request) -> LLM:
    return request.getfixturevalue("local_llm" if request.param == "embedded" else "server_llm")
