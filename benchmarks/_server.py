"""Run the stub OpenAI-compatible server in its own process, so it does not share the client's GIL."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from reasoners.testing import running_server


@contextlib.contextmanager
def stub_process(*args: str) -> Iterator[str]:
    with running_server([sys.executable, "-m", "reasoners.testing.stub_server", "--port", "{port}", *args]) as url:
        yield url
