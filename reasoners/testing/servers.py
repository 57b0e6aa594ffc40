"""Server processes for tests and benchmarks: start a real or stub OpenAI-compatible server on
127.0.0.1, wait until it answers, and stop it (and everything it started) afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence

__all__ = ["running_server", "serving", "wait_ready", "llama_server_argv"]


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None = None, seconds: float = 120.0) -> None:
    """Wait until the OpenAI-compatible server at ``url`` answers ``GET /models`` (200, or 401 when it
    wants a key); fail if ``proc`` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as r:
                if r.status == 200:
                    return
        except urllib.error.HTTPError as e:
            if e.code == 401:  # it answers, and wants a key
                return
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} not ready after {seconds}s")


@contextlib.contextmanager
def running_server(
    argv: Sequence[str], *, seconds: float = 120.0, quiet: bool = True, port: int | None = None
) -> Iterator[str]:
    """Start a server process on 127.0.0.1, yield its ``/v1`` URL, stop it (and its group) after.

    On Linux the server also gets SIGTERM if this process dies without cleaning up (killed,
    or a SIGTERM with no handler), so no server outlives the test or benchmark that started it.

    ``argv`` may use ``{port}``: ``running_server([sys.executable, "-m", "reasoners.testing.stub_server",
    "--port", "{port}"])``. The port is a free one unless given; give one when a cache
    must replay across runs (cache keys include the server's URL).
    """
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(
        [a.format(port=port) for a in argv], stdout=out, stderr=out, start_new_session=True, preexec_fn=_die_with_parent
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_ready(url, proc, seconds)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _die_with_parent() -> None:
    """In the child, before exec: have Linux send it SIGTERM when its parent dies (PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def llama_server_argv(model: str | os.PathLike[str], alias: str = "smollm2", n_ctx: int = 4096) -> list[str]:
    """The command for llama-cpp-python's OpenAI-compatible server on a GGUF file (for :func:`running_server`)."""
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
            "--port", "{port}", "--n_ctx", str(n_ctx), "--model_alias", alias]


@contextlib.contextmanager
def serving(api_base: str, *args: str, model: str = "openai/stub", seconds: float = 60.0) -> Iterator[str]:
    """``reasoners serve`` in front of the OpenAI-compatible ``api_base`` (a stub server, say), as a
    process on a free port; yields its ``/v1`` URL. ``args`` are more ``serve`` flags."""
    argv = [sys.executable, "-m", "reasoners.cli", "serve", "--model", model, "--api-base", api_base,
            "--port", "{port}", *args]
    with running_server(argv, seconds=seconds) as url:
        yield url
