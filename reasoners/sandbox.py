"""Run model-written code and its tests in a separate, limited process. Never in ours.

Each run gets a fresh temporary directory (removed afterwards) and a new Python
process (``python -I``: no user site, no ``PYTHON*`` variables) with:

- a minimal environment: no inherited variables, so no API keys or tokens;
- wall-time and CPU-time limits; an address-space limit (memory);
- a cap on stdout/stderr (the process is killed past it) and on file sizes;
- its own process group, killed as a whole on timeout or when the run ends;
- when started as root: an unprivileged user (``nobody``), so it cannot write
  outside its directory, signal our process, or fork without limit
  (``RLIMIT_NPROC`` binds only non-root users), and a new network namespace
  with no interfaces up, so no network.

Results come back per test (passed, failed with an assertion, or errored),
with capped output, timing, and the reason a run ended badly: ``timeout``,
``cpu``, ``memory``, ``crash``, ``output_limit``. Without root the user switch and
the network namespace are skipped (said in ``SandboxResult.isolation``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._sync import run_sync
from .errors import ConfigError

__all__ = ["Sandbox", "SandboxResult", "TestOutcome"]

NOBODY = 65534
CLONE_NEWNET = 0x40000000

_RUNNER = r'''
import json, os, sys, traceback
report_fd = int(sys.argv[1])
nonce = sys.argv[2]
out = os.fdopen(report_fd, "w", buffering=1)
def report(**kw):
    kw["nonce"] = nonce
    out.write(json.dumps(kw) + "\n")
with open("program.py", encoding="utf-8") as f:
    program = f.read()
with open("tests.json", encoding="utf-8") as f:
    tests = json.load(f)
namespace = {"__name__": "__main__"}
def kind(e):
    return "assertion" if isinstance(e, AssertionError) else "memory" if isinstance(e, MemoryError) else "error"
try:
    exec(compile(program, "program.py", "exec"), namespace)
except BaseException as e:
    report(stage="program", ok=False, kind=kind(e), error="".join(traceback.format_exception_only(type(e), e))[-2000:])
    raise SystemExit(0)
report(stage="program", ok=True)
for i, test in enumerate(tests):
    try:
        exec(compile(test, "test_%d" % i, "exec"), namespace)
        report(stage="test", index=i, ok=True)
    except BaseException as e:
        report(stage="test", index=i, ok=False, kind=kind(e),
               error="".join(traceback.format_exception_only(type(e), e))[-2000:])
'''


@dataclass
class TestOutcome:
    __test__ = False  # not a pytest class

    index: int
    passed: bool
    kind: str = ""  # "assertion", "error", "memory", "not run"
    error: str = ""


@dataclass
class SandboxResult:
    """What a sandboxed run did. ``passed`` means the program loaded and every test passed."""

    passed: bool
    tests: list[TestOutcome] = field(default_factory=list)
    reason: str = "ok"  # ok, failed, timeout, cpu, memory, crash, output_limit
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    returncode: int | None = None
    program_error: str = ""
    isolation: list[str] = field(default_factory=list)

    @property
    def passed_count(self) -> int:
        return sum(1 for t in self.tests if t.passed)


def _world_executable(path: str) -> bool:
    """True when a user with no special rights can run ``path`` (every directory on the way is o+x)."""
    real = Path(os.path.realpath(path))
    try:
        if not real.stat().st_mode & 0o001:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in real.parents)
    except OSError:
        return False


def _interpreter() -> str:
    """Our own Python, unless we are root and ``nobody`` could not run it (e.g. under /root)."""
    if os.geteuid() != 0 or _world_executable(sys.executable):
        return sys.executable
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate) and _world_executable(candidate):
            return candidate
    raise ConfigError(
        f"the sandbox drops to user 'nobody', who cannot run {sys.executable}; pass Sandbox(python=...) "
        "with an interpreter outside private directories"
    )


def _unshare_network() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.unshare(CLONE_NEWNET) == 0)
    except (OSError, AttributeError):
        return False


class Sandbox:
    """Limits for running untrusted Python; reusable and safe to share between runs.

    >>> Sandbox(timeout=5).run("def f(x): return x + 1", ["assert f(1) == 2"]).passed  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        cpu_seconds: int | None = None,
        memory_mb: int = 512,
        output_limit: int = 64_000,
        file_size_mb: int = 16,
        max_processes: int = 32,
        python: str | None = None,
    ) -> None:
        if timeout <= 0 or memory_mb < 64 or output_limit < 1:
            raise ConfigError("Sandbox needs timeout > 0, memory_mb >= 64 and output_limit >= 1")
        self.timeout = timeout
        self.cpu_seconds = cpu_seconds or max(1, int(timeout) + 1)
        self.memory_mb = memory_mb
        self.output_limit = output_limit
        self.file_size_mb = file_size_mb
        self.max_processes = max_processes
        self.python = python or _interpreter()

    def config(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "python"}

    def _isolation(self) -> list[str]:
        steps = ["process", "env", "tmpdir", "rlimits", "pgroup"]
        if os.geteuid() == 0:
            steps += ["user", "netns"]
        return steps

    def _preexec(self, workdir: str) -> Any:
        is_root = os.geteuid() == 0
        limits = [
            (resource.RLIMIT_AS, self.memory_mb * 1024 * 1024),
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_FSIZE, self.file_size_mb * 1024 * 1024),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NPROC, self.max_processes),
        ]

        def setup() -> None:  # runs in the child, between fork and exec
            os.setsid()
            if is_root:
                _unshare_network()
            for which, value in limits:
                with contextlib.suppress(ValueError, OSError):
                    resource.setrlimit(which, (value, value))
            if is_root:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)

        return setup

    async def arun(self, program: str, tests: list[str] | tuple[str, ...] = ()) -> SandboxResult:
        """Run ``program``, then each test (Python statements such as asserts) in its namespace."""
        if not isinstance(program, str):
            raise ConfigError("Sandbox program must be a string of Python code")
        workdir = tempfile.mkdtemp(prefix="reasoners-sandbox-")
        nonce = secrets.token_hex(16)
        try:
            Path(workdir, "program.py").write_text(program, encoding="utf-8")
            Path(workdir, "tests.json").write_text(json.dumps(list(tests)), encoding="utf-8")
            Path(workdir, "runner.py").write_text(_RUNNER, encoding="utf-8")
            if os.geteuid() == 0:
                os.chown(workdir, NOBODY, NOBODY)
                for name in os.listdir(workdir):
                    os.chown(os.path.join(workdir, name), NOBODY, NOBODY)
            return await self._execute(workdir, nonce, len(tests))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def run(self, program: str, tests: list[str] | tuple[str, ...] = ()) -> SandboxResult:
        """Sync twin of :meth:`arun`."""
        return run_sync(self.arun(program, tests), async_name="arun")

    async def _execute(self, workdir: str, nonce: str, n_tests: int) -> SandboxResult:
        read_fd, write_fd = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1"}
        t0 = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            self.python, "-I", "runner.py", str(write_fd), nonce,
            cwd=workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            pass_fds=(write_fd,), preexec_fn=self._preexec(workdir),
        )  # fmt: skip
        os.close(write_fd)
        reports_task = asyncio.ensure_future(asyncio.to_thread(_read_all, read_fd))
        captured = {"stdout": bytearray(), "stderr": bytearray()}
        over_limit = asyncio.Event()

        async def pump(stream: asyncio.StreamReader, name: str) -> None:
            # Keep draining past the cap (dropping the excess): asyncio only reports the
            # process gone once its pipes reach EOF.
            while chunk := await stream.read(65536):
                room = self.output_limit - len(captured["stdout"]) - len(captured["stderr"])
                captured[name].extend(chunk[: max(0, room)])
                if len(chunk) > room:
                    over_limit.set()

        assert proc.stdout is not None and proc.stderr is not None
        pumps = asyncio.gather(pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr"))
        waiter = asyncio.ensure_future(proc.wait())
        limit_hit = asyncio.ensure_future(over_limit.wait())
        done, _ = await asyncio.wait({waiter, limit_hit}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        reason = "ok"
        if waiter not in done:
            reason = "output_limit" if limit_hit in done else "timeout"
        _kill_group(proc.pid)
        returncode = await proc.wait()
        _kill_group(proc.pid)  # anything forked while the first signal was on its way
        limit_hit.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pumps, timeout=2)
        reports = await reports_task
        seconds = time.perf_counter() - t0
        return _interpret(
            reports, nonce, n_tests, reason, returncode, seconds,
            captured["stdout"].decode("utf-8", "replace"), captured["stderr"].decode("utf-8", "replace"),
            self._isolation(),
        )  # fmt: skip


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read_all(fd: int) -> str:
    chunks = []
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(65536):
            chunks.append(chunk)
            if sum(len(c) for c in chunks) > 4_000_000:
                break
    return b"".join(chunks).decode("utf-8", "replace")


def _interpret(
    raw: str,
    nonce: str,
    n_tests: int,
    reason: str,
    returncode: int | None,
    seconds: float,
    stdout: str,
    stderr: str,
    isolation: list[str],
) -> SandboxResult:
    reports = []
    for line in raw.splitlines():
        with contextlib.suppress(ValueError):
            item = json.loads(line)
            if isinstance(item, dict) and item.get("nonce") == nonce:
                reports.append(item)
    program = next((r for r in reports if r.get("stage") == "program"), None)
    by_index = {r["index"]: r for r in reports if r.get("stage") == "test"}
    tests = []
    for i in range(n_tests):
        r = by_index.get(i)
        if r is None:
            tests.append(TestOutcome(i, False, "not run", ""))
        else:
            tests.append(TestOutcome(i, bool(r["ok"]), r.get("kind", ""), r.get("error", "")))
    if reason == "ok":
        if returncode == -signal.SIGXCPU or (returncode == -signal.SIGKILL and not program):
            reason = "cpu"
        elif any(t.kind == "memory" for t in tests) or (program and program.get("kind") == "memory"):
            reason = "memory"
        elif "MemoryError" in stderr:
            reason = "memory"
        elif program is not None and not program.get("ok"):
            reason = "failed"  # the program itself raised (syntax error, exception, exit)
        elif program is None or returncode not in (0, None) or len(by_index) < n_tests:
            reason = "crash"
        elif not all(t.passed for t in tests):
            reason = "failed"
    passed = reason == "ok"
    return SandboxResult(
        passed=passed,
        tests=tests,
        reason=reason,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        returncode=returncode,
        program_error=(program or {}).get("error", "") if program and not program.get("ok") else "",
        isolation=isolation,
    )
