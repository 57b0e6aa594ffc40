"""`running_server` never leaves a server behind, even when the process that started it is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow  # starts processes (servers, sandboxes, Ray, a browser): not in `make unit`

PARENT = """
import sys, time
from reasoners.testing import running_server

with running_server([sys.executable, "-m", "reasoners.testing.stub_server", "--port", "{port}"]) as url:
    print(url, flush=True)
    time.sleep(600)
"""


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/models", timeout=1)
        return True
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_server_stops_when_its_parent_is_killed(sig):
    # neither signal runs the `finally` that stops the server: Linux's parent-death signal does
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    url = parent.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:") and answers(url)
    parent.send_signal(sig)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while answers(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not answers(url)
