"""Run model-written code and its tests in limited processes. Never in ours.

The verdict cannot be forged by the code under test, because that code never
runs where the verdict is made. A run has two processes:

- the **solution** process loads the program and answers calls to its
  functions, sending back plain data only;
- the **tests** process never loads the program: it runs the tests, in which the
  program's functions are proxies and its plain values copies (its stdlib
  imports are imported afresh), so an assertion is evaluated on data, here.

The tests process gets a random key from us on its stdin before the program
exists anywhere, and signs every report line with it; lines without the right
signature are dropped. The program's process holds no pipe to us but its own
stdout and stderr. The harness code itself is passed with ``python -I -c`` from
our memory: no file that a run could rewrite is ever executed.

The solution process isolates itself before it runs the program, and runs it
only once we have checked that isolation from outside (see
:mod:`reasoners.sandbox.child`): new PID, mount, network, IPC and UTS
namespaces, directly as root or inside a user namespace otherwise; a private
tmpfs over /tmp, /var/tmp, /dev/shm and /run/lock, everything else read-only; a
user of its own per run as root; no capabilities. Its PID 1 is trusted code, and
when it ends the kernel kills every process in the namespace, so a descendant
that calls ``setsid()`` dies with the run. Both processes have a minimal
environment (no API keys), wall-time, CPU, memory, file-size and process limits,
and capped output; no pipe is read past the deadline.

``SandboxResult.isolation`` lists only what was verified to be in force: the
namespaces by comparing their inodes with ours from outside, the user by the
process's uid. Where the system allows no namespace (an unprivileged user
without user namespaces, as in some containers), it says ``no-pidns:...`` and
claims none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.sync import run_sync

__all__ = ["Sandbox", "SandboxResult", "TestOutcome", "survivors", "set_max_concurrent_runs"]

CHILD_CODE = (Path(__file__).with_name("child.py")).read_text(encoding="utf-8") + "\nmain()\n"
"""The child processes' code, read once at import and passed with ``-c``: no file of it is executed."""

RUN_UIDS = (200_000, 260_000)  # as root, each run gets its own user (and its tests another) from here


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
    reason: str = "ok"  # ok, failed, timeout, cpu, memory, crash, output_limit, unverified
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    returncode: int | None = None
    program_error: str = ""
    isolation: list[str] = field(default_factory=list)
    run_id: str = ""  # on every process of the run's command line: an audit can look for survivors

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
        namespaces: bool = True,
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
        self.namespaces = namespaces

    def config(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "python"}

    def _preexec(self, uid: int | None) -> Any:
        limits = [
            (resource.RLIMIT_AS, self.memory_mb * 1024 * 1024),
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_FSIZE, self.file_size_mb * 1024 * 1024),
            (resource.RLIMIT_CORE, 0),
        ]

        def setup() -> None:  # runs in the child, between fork and exec
            os.setsid()
            for which, value in limits:
                # CPU: SIGXCPU at the limit (a signal that names the cause), SIGKILL a second later
                hard = value + 1 if which == resource.RLIMIT_CPU else value
                with contextlib.suppress(ValueError, OSError):
                    resource.setrlimit(which, (value, hard))
            if uid is not None:  # the tests process, as root: a user of its own
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)

        return setup

    async def arun(
        self, program: str, tests: list[str] | tuple[str, ...] = (), *, setup: str = "",
        entry_points: list[str] | tuple[str, ...] | None = None, helpers: str = "",
    ) -> SandboxResult:
        """Run ``program``, then each test (Python statements such as asserts) against it.

        The tests run in a separate process that never loads ``program``, in a namespace of
        their own with the real builtins. They see of the program only ``entry_points`` (the
        names the task says the tests call; by default the names the tests use without
        defining them, builtins never among them): its functions as proxies, its plain
        values as copies. ``helpers`` and ``setup`` are trusted task code run there before
        the tests, over the program's names: a prompt's own helper functions (HumanEval's
        ``poly``), MBPP's ``test_setup_code``. So a program cannot pass by redefining what
        the tests use.
        """
        if not isinstance(program, str):
            raise ConfigError("Sandbox program must be a string of Python code")
        if not all(isinstance(t, str) for t in tests):
            raise ConfigError("Sandbox tests must be strings of Python code")
        if entry_points is not None and not all(isinstance(e, str) and e.isidentifier() for e in entry_points):
            raise ConfigError("Sandbox entry_points must be Python names")
        async with _run_slot():
            return await _Run(self, program, list(tests), setup, entry_points, helpers).execute()

    def run(self, program: str, tests: list[str] | tuple[str, ...] = (), *, setup: str = "",
            entry_points: list[str] | tuple[str, ...] | None = None, helpers: str = "") -> SandboxResult:
        """Sync twin of :meth:`arun`."""
        return run_sync(self.arun(program, tests, setup=setup, entry_points=entry_points, helpers=helpers),
                        async_name="arun")


_MAX_RUNS: int | None = None
_RUN_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def set_max_concurrent_runs(limit: int | None) -> None:
    """At most ``limit`` sandboxed runs at once in this process (None: no limit). Processes are the
    process's resource, so this is process-wide: a server sets it once (``--max-sandboxes``)."""
    global _MAX_RUNS
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"the sandbox run limit must be a whole number >= 1; got {limit!r}")
    _MAX_RUNS = limit
    _RUN_SLOTS.clear()


@contextlib.asynccontextmanager
async def _run_slot() -> Any:
    if _MAX_RUNS is None:
        yield
        return
    loop = asyncio.get_running_loop()
    slots = _RUN_SLOTS.get(loop)
    if slots is None:
        slots = _RUN_SLOTS[loop] = asyncio.Semaphore(_MAX_RUNS)
    async with slots:
        yield


def _run_uid() -> int:
    """A user id of its own for one run, as root (not held by any process now)."""
    taken = {_uid_of(pid) for pid in _pids()}
    while True:
        uid = RUN_UIDS[0] + 2 * secrets.randbelow((RUN_UIDS[1] - RUN_UIDS[0]) // 2)
        if uid not in taken and uid + 1 not in taken:
            return uid


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _status_field(pid: int, name: str) -> int | None:
    """The first number of the ``name:`` line of ``/proc/<pid>/status``, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _uid_of(pid: int) -> int | None:
    return _status_field(pid, "Uid")


def survivors(run_id: str) -> list[int]:
    """Processes of the run ``run_id`` still alive (zombies aside): empty once a run has ended."""
    alive = []
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if run_id.encode() in cmdline and state != "Z":
            alive.append(pid)
    return alive


def _session_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[3])
    except (OSError, ValueError, IndexError):
        return None


def _namespace(pid: int | str, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def _package_dirs() -> list[str]:
    """Our installed-package directories (they hold task data, such as HumanEval's reference
    solutions), for the run to hide behind an empty mount: the sandbox's interpreter may be
    another one, with other package directories of its own."""
    import site
    import sysconfig

    found = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")} | set(site.getsitepackages())
    found |= {p for p in sys.path if os.path.basename(p.rstrip("/")) in ("site-packages", "dist-packages")}
    return sorted(os.path.realpath(p) for p in found if p and os.path.isdir(p))


def _seccomp_mode(pid: int) -> int | None:
    """The process's seccomp mode as the kernel shows it (2: a filter is installed)."""
    return _status_field(pid, "Seccomp")


def _memory_private(pid: int) -> bool:
    """True when no process of another user, nor of the run's, can read ``pid``'s memory (and so the
    key): it runs as a user of its own, or it is not dumpable (its /proc files then belong to root,
    and /proc/<pid>/mem and ptrace need a capability the run does not have)."""
    try:
        owner = os.stat(f"/proc/{pid}/mem").st_uid
    except OSError:
        return False
    return owner == 0 and (_uid_of(pid) or 0) != 0 or (os.geteuid() == 0 and _uid_of(pid) not in (None, 0))


def _user_processes() -> int:
    uid = os.getuid()
    return sum(1 for pid in _pids() if _uid_of(pid) == uid)


class _Run:
    """One sandboxed run: the tests process, the solution process, and the parent's reading of both."""

    def __init__(self, sandbox: Sandbox, program: str, tests: list[str], setup: str,
                 entry_points: list[str] | tuple[str, ...] | None = None, helpers: str = "") -> None:
        self.sb, self.program, self.tests, self.setup = sandbox, program, tests, setup
        self.entry_points = list(entry_points) if entry_points is not None else None
        self.helpers = helpers
        self.root = os.geteuid() == 0
        self.uid = _run_uid() if self.root else None
        self.key = secrets.token_bytes(32)
        self.workname = f"reasoners-sandbox-{secrets.token_hex(8)}"
        self.deadline = time.monotonic() + sandbox.timeout
        self.pid1: int | None = None

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    async def execute(self) -> SandboxResult:
        workdir = tempfile.mkdtemp(prefix=self.workname + "-")  # the cwd only where no namespace hides /tmp
        if self.uid is not None:
            os.chown(workdir, self.uid, self.uid)
        fds: list[int] = []
        procs: list[asyncio.subprocess.Process] = []
        try:
            return await self._execute(workdir, fds, procs)
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._kill_all(procs)
            shutil.rmtree(workdir, ignore_errors=True)

    async def _execute(self, workdir: str, fds: list[int], procs: list[asyncio.subprocess.Process]) -> SandboxResult:
        to_solution, from_tests = os.pipe()  # (read, write): tests -> solution
        to_tests, from_solution = os.pipe()  # solution -> tests
        report_r, report_w = os.pipe()  # tests -> parent: the signed verdict
        status_r, status_w = os.pipe()  # solution -> parent: what isolation it set up
        fds += [to_solution, from_tests, to_tests, from_solution, report_r, report_w, status_r, status_w]
        env = {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1"}
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()

        # 1. The tests process takes its key before the program exists anywhere.
        cfg: dict[str, Any] = {"report": report_w, "rpc_in": to_tests, "rpc_out": from_tests}
        # -S: no site-packages and no .pth file runs in either process (-I alone still reads .pth)
        tests_proc = await asyncio.create_subprocess_exec(
            self.sb.python, "-I", "-S", "-c", CHILD_CODE, "tests", json.dumps(cfg), cwd=workdir, env=env,
            # nothing reads its stderr: a pipe left unread could fill and stall it
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            pass_fds=(report_w, to_tests, from_tests),
            preexec_fn=self.sb._preexec(self.uid + 1 if self.uid is not None else None),
        )  # fmt: skip
        procs.append(tests_proc)
        _close(fds, report_w, to_tests, from_tests)
        assert tests_proc.stdin is not None
        tests_proc.stdin.write(json.dumps({"key": self.key.hex(), "tests": self.tests, "setup": self.setup,
                                           "entry_points": self.entry_points, "helpers": self.helpers}).encode())
        await tests_proc.stdin.drain()
        tests_proc.stdin.close()
        reports: list[dict[str, Any]] = []
        report_reader = asyncio.ensure_future(self._read_reports(report_r, fds, reports))
        ready = await self._until(lambda: any(r.get("stage") == "ready" for r in reports), report_reader)
        if not ready:
            return self._result("crash", reports, None, t0, b"", b"", ["tests process did not start"])
        key_safe = _memory_private(tests_proc.pid)

        # 2. The solution process: the program, isolated, answering the tests' calls.
        limit = self.sb.max_processes + (0 if self.root else _user_processes())
        program = self.program.encode("utf-8")
        cfg = {"status": status_w, "rpc_in": to_solution, "rpc_out": from_solution, "uid": self.uid,
               "workname": self.workname, "max_processes": limit, "namespaces": self.sb.namespaces,
               "size": len(program), "sha256": hashlib.sha256(program).hexdigest(), "hide": _package_dirs()}
        solution = await asyncio.create_subprocess_exec(
            self.sb.python, "-I", "-S", "-u", "-c", CHILD_CODE, "solution", json.dumps(cfg), cwd=workdir, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            pass_fds=(status_w, to_solution, from_solution), preexec_fn=self.sb._preexec(None),
        )  # fmt: skip
        procs.append(solution)
        _close(fds, status_w, to_solution, from_solution)
        assert solution.stdin is not None and solution.stdout is not None and solution.stderr is not None
        solution.stdin.write(program)
        with contextlib.suppress(ConnectionError):
            await solution.stdin.drain()
        status = await loop.run_in_executor(None, _read_bounded, status_r, self.left())
        _close(fds, status_r)
        # Checked while the process waits on its stdin, before the program runs: a program that
        # ends at once would otherwise be gone (reaped) before its uid and namespaces are read.
        isolation = self._verify(status, solution.pid)
        if key_safe:
            isolation.append("key-private")
        isolation.append(f"memory:{self.sb.memory_mb}MBx{self.sb.max_processes}")
        solution.stdin.close()

        captured = {"stdout": bytearray(), "stderr": bytearray()}
        over_limit = asyncio.Event()

        async def pump(stream: asyncio.StreamReader, name: str) -> None:
            while chunk := await stream.read(65536):
                room = self.sb.output_limit - len(captured["stdout"]) - len(captured["stderr"])
                captured[name].extend(chunk[: max(0, room)])
                if len(chunk) > room:
                    over_limit.set()

        pumps = asyncio.gather(pump(solution.stdout, "stdout"), pump(solution.stderr, "stderr"))
        finished = asyncio.ensure_future(tests_proc.wait())
        limit_hit = asyncio.ensure_future(over_limit.wait())
        done, _ = await asyncio.wait({finished, limit_hit}, timeout=self.left(), return_when=asyncio.FIRST_COMPLETED)
        reason = "ok" if finished in done else "output_limit" if limit_hit in done else "timeout"
        limit_hit.cancel()
        if finished in done:  # its last report lines may still be on their way to us
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(report_reader), timeout=2)
        gone = any(r.get("stage") == "gone" for r in reports)
        returncode = None
        if gone:  # the program's process ended by itself: how, says why
            with contextlib.suppress(asyncio.TimeoutError):
                returncode = await asyncio.wait_for(solution.wait(), timeout=max(0.5, min(2.0, self.left())))
        self._kill_all(procs)
        if returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                returncode = await asyncio.wait_for(solution.wait(), timeout=2)
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(pumps, timeout=1)  # an escaped descendant may hold the pipes: do not wait on it
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(report_reader, timeout=1)
        return self._result(reason, reports, returncode, t0, captured["stdout"], captured["stderr"], isolation,
                            gone=gone)

    async def _until(self, condition: Any, reader: asyncio.Future[None]) -> bool:
        while not condition():
            if reader.done() or self.left() == 0:
                return condition()
            await asyncio.sleep(0.005)
        return True

    async def _read_reports(self, fd: int, fds: list[int], out: list[dict[str, Any]]) -> None:
        """Verified report lines of the tests process: a line without the right signature is dropped."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=4_000_000)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                    os.fdopen(fd, "rb", buffering=0))
        fds.remove(fd)
        try:
            while line := await reader.readline():
                text, _, signature = line.decode("utf-8", "replace").rstrip("\n").rpartition("\t")
                expected = hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()
                if hmac.compare_digest(signature, expected):
                    with contextlib.suppress(ValueError):
                        out.append(json.loads(text))
        finally:
            transport.close()

    def _verify(self, status: str, pid: int) -> list[str]:
        """The isolation in force, as checked from outside where it can be: namespaces by their
        inodes, the user by the process's uid; the rest as the trusted start-up code reported it."""
        lines = []
        for line in status.splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
        outer: dict[str, Any] = next((x for x in lines if "pid1" in x), {})
        inner: dict[str, Any] = next((x for x in lines if x.get("inner")), {})
        self.pid1 = outer.get("pid1") if isinstance(outer.get("pid1"), int) else None
        target = self.pid1 or pid
        steps = ["process", "env", "rlimits", "pgroup", "separate-tests", "signed-verdict"]
        if self.uid is not None and _uid_of(target) == self.uid:
            steps.append("user")
        for kind, name in (("net", "netns"), ("pid", "pidns"), ("mnt", "mountns"), ("user", "userns"),
                           ("ipc", "ipcns")):
            mine, theirs = _namespace("self", kind), _namespace(target, kind)
            if mine is not None and theirs is not None and mine != theirs:
                steps.append(name)
        if "mountns" in steps:
            steps += [s for s in ("private-tmp", "read-only-fs", "no-site-packages") if s in inner.get("steps", [])]
        if "read-only-fs" in steps or "user" in steps:  # it cannot write our files (a .pth, a cache)
            steps.append("no-shared-files")
        if "no-capabilities" in inner.get("steps", []) or "user" in steps:
            steps.append("no-capabilities")
        if any(x.get("seccomp") == "no-unix-sockets" for x in lines) and _seccomp_mode(target) == 2:
            steps.append("no-unix-sockets")  # reported from inside, and the filter seen from outside
        if "pidns" not in steps and self.pid1 is None:
            steps.append("no-pidns:" + ";".join(str(s) for s in outer.get("steps", []) or [outer.get("mode", "")]))
        return steps

    def _kill_all(self, procs: list[asyncio.subprocess.Process]) -> None:
        for proc in procs:
            _kill_group(proc.pid)
        if self.pid1 is not None:  # its end ends its PID namespace, and everything in it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid1, signal.SIGKILL)
        if self.uid is not None:  # no namespace: every process of the run's own users
            for pid in _pids():
                if _uid_of(pid) in (self.uid, self.uid + 1):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
        elif procs and self.pid1 is None:  # no user of its own: every process of its sessions
            sessions = {p.pid for p in procs}
            for pid in _pids():
                if _session_of(pid) in sessions:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
        if procs and self.pid1 is None:  # and, without a PID namespace, anything still carrying the run's id
            for _ in range(20):  # a fork bomb forks while it is being killed
                alive = survivors(self.workname)
                if not alive:
                    break
                for pid in alive:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)

    def _result(self, reason: str, reports: list[dict[str, Any]], returncode: int | None, t0: float,
                stdout: bytes | bytearray, stderr: bytes | bytearray, isolation: list[str],
                gone: bool = False) -> SandboxResult:
        return _interpret(
            reports, len(self.tests), reason, returncode if gone else None, time.perf_counter() - t0,
            bytes(stdout).decode("utf-8", "replace"), bytes(stderr).decode("utf-8", "replace"), isolation,
            solution_returncode=returncode, run_id=self.workname,
        )


def _close(fds: list[int], *which: int) -> None:
    for fd in which:
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(ValueError):
            fds.remove(fd)


def _read_bounded(fd: int, seconds: float) -> str:
    """What the pipe ``fd`` brings until EOF or ``seconds``, whichever is first."""
    import select

    end = time.monotonic() + seconds
    chunks: list[bytes] = []
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk or sum(map(len, chunks)) > 65536:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _interpret(
    reports: list[dict[str, Any]],
    n_tests: int,
    reason: str,
    returncode: int | None,
    seconds: float,
    stdout: str,
    stderr: str,
    isolation: list[str],
    *,
    solution_returncode: int | None = None,
    run_id: str = "",
) -> SandboxResult:
    """The result from the tests process's verified reports; ``returncode`` is the solution process's
    exit when it ended by itself during the run (None when it was still answering)."""
    program = next((r for r in reports if r.get("stage") == "program"), None)
    by_index = {r["index"]: r for r in reports if r.get("stage") == "test" and isinstance(r.get("index"), int)}
    tests = []
    for i in range(n_tests):
        r = by_index.get(i)
        if r is None:
            tests.append(TestOutcome(i, False, "not run", ""))
        else:
            tests.append(TestOutcome(i, bool(r.get("ok")), str(r.get("kind", "")), str(r.get("error", ""))))
    if reason == "ok":
        if returncode in (-signal.SIGXCPU, 128 + signal.SIGXCPU) or (returncode == -signal.SIGKILL and not program):
            reason = "cpu"
        elif any(t.kind == "memory" for t in tests) or (program and program.get("kind") == "memory"):
            reason = "memory"
        elif "MemoryError" in stderr:
            reason = "memory"
        elif program is not None and not program.get("ok"):
            reason = "failed"  # the program itself raised (syntax error, exception, exit)
        elif program is None or returncode is not None or len(by_index) < n_tests:
            reason = "crash"
        elif not all(t.passed for t in tests):
            reason = "failed"
        elif "key-private" not in isolation:  # the program could have read the key and signed a pass
            reason = "unverified"
    return SandboxResult(
        passed=reason == "ok",
        tests=tests,
        reason=reason,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        returncode=solution_returncode,
        program_error=str(program.get("error", "")) if program and not program.get("ok") else "",
        isolation=isolation,
        run_id=run_id,
    )
