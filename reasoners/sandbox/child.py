"""The code that runs inside the sandbox's two child processes.

:mod:`reasoners.sandbox` reads this file's source once, when it is imported, and
passes it to ``python -I -c``: no file on disk is executed, so no sandboxed run can
rewrite the harness of a later one. Nothing here is imported by the library.

Two roles, two processes, and the model's code is only ever in the first:

- ``solution``: reads the program from stdin, isolates itself (see :func:`isolate`),
  waits until the parent has checked that isolation from outside (it closes stdin),
  loads the program, then answers calls: ``call name(args)`` runs a function of the
  program and sends back its result as plain data (and its list, dict and set
  arguments, which it may have changed), never an object.
- ``tests``: never loads the program. It runs the tests, in which every function
  of the program is a proxy that calls across the pipe, and every plain value of the
  program is a copy. An assertion is evaluated here, on data, so an object whose
  ``__eq__`` always says yes cannot cross, and nothing the program does can write a
  verdict: verdict lines are signed with a key the parent sent this process before
  the program started, and the program's process holds no channel to the parent.
"""

from __future__ import annotations

import builtins
import ctypes
import hashlib
import hmac
import importlib
import json
import os
import resource
import signal
import sys
import traceback
from typing import Any

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE, MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 18, 1 << 21
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 28, 38
SECBITS_LOCKED_DOWN = 0x2F  # noroot, no-setuid-fixup and keep-caps, each locked
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
MAX_LINE = 16 * 1024 * 1024
MAX_DEPTH = 64

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)  # noqa: E731
    _check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _prctl(option: int, value: int) -> int:
    return int(libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0))


# -- isolation (solution role) ------------------------------------------------------------


def _drop_to(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def _enter_user_namespace() -> None:
    outer_uid, outer_gid = os.getuid(), os.getgid()
    _prctl(PR_SET_DUMPABLE, 1)  # a uid change cleared it, and with it our right to write our own maps
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS),
           "unshare")
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {outer_uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"0 {outer_gid} 1")
    except OSError as e:  # inside a user namespace we cannot leave: run nothing
        sys.stderr.write(f"sandbox: cannot map the user namespace: {e}\n")
        os._exit(4)


def _paths_to_keep() -> list[str]:
    """Directories of the interpreter and its import path that a private tmpfs would hide."""
    found = set()
    for path in (sys.base_prefix, sys.prefix, *sys.path):
        real = os.path.realpath(path) if path else ""
        if os.path.isdir(real) and any(real == d or real.startswith(d + "/") for d in PRIVATE_DIRS):
            found.add(real)
    return sorted(p for p in found if not any(p != q and p.startswith(q + "/") for q in found))


def _mount_flags(options: str) -> int:
    names = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
             "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}
    return sum(flag for name, flag in names.items() if name in options.split(","))


def _private_filesystem(workname: str, owner: int | None, hide: list[str] = []) -> list[str]:  # noqa: B006
    """Fresh tmpfs over every shared writable directory, a fresh /proc, everything else read-only."""
    done = []
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    kept = _paths_to_keep()
    held = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in kept}
    for d in PRIVATE_DIRS:
        if os.path.isdir(d) and not os.path.islink(d):
            _mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for path, fd in held.items():  # the interpreter's own files under a hidden directory: put back, read-only
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    done.append("private-tmp")
    skip = ("/proc", "/sys", "/dev", *PRIVATE_DIRS)
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split() for line in f]
    for fields in mounts:
        target, options = fields[4], fields[5]
        private = any(target == s or target.startswith(s + "/") for s in skip)
        if (private and target not in held) or "ro" in options.split(","):
            continue
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _mount_flags(options))
    done.append("read-only-fs")
    # The installed packages hold task data (HumanEval's reference solutions) and nothing the program
    # may import (it runs with -S): an empty read-only tmpfs hides each of them.
    import sysconfig

    sites = {sysconfig.get_paths(vars=v)[k] for k in ("purelib", "platlib")
             for v in ({}, {"base": sys.base_prefix, "platbase": sys.base_prefix})} | set(hide)
    for site in sorted(sites):
        if os.path.isdir(site):
            _mount("tmpfs", site, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0555")
    done.append("no-site-packages")
    os.makedirs(f"/tmp/{workname}", mode=0o700)
    if owner is not None:
        os.chown(f"/tmp/{workname}", owner, owner)
    os.chdir(f"/tmp/{workname}")
    return done


def _drop_capabilities() -> None:
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap) != 0:
            break
    _check(_prctl(PR_SET_SECUREBITS, SECBITS_LOCKED_DOWN), "securebits")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    data = (Data * 2)()
    _check(libc.capset(ctypes.byref(Header(0x20080522, 0)), data), "capset")


def _no_capabilities() -> bool:
    with open("/proc/self/status") as f:
        return any(line.startswith("CapEff:") and int(line.split()[1], 16) == 0 for line in f)


def _relay(child: int) -> None:
    """Wait for ``child`` and end as it ended (a signal is raised on ourselves)."""
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    if code >= 128 or code < 0:
        sig = -code if code < 0 else code - 128
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(code)


def isolate(cfg: dict[str, Any], status: Any) -> None:
    """Put this process, and the program it will run, behind every barrier the system allows.

    Tried in order: as root, new mount, network, PID, IPC and UTS namespaces directly; else
    (a non-root user, or root without CAP_SYS_ADMIN, after dropping to the run's own user)
    the same inside a new user namespace. In both, this process forks a PID 1 that mounts a
    private filesystem, drops every privilege and forks the worker that runs the program;
    when PID 1 ends the kernel kills everything in the namespace, so no descendant escapes.
    What was done is written to ``status`` before the program is read.
    """
    uid = cfg.get("uid")
    steps: list[str] = []
    mode = "none"
    if not cfg.get("namespaces", True):
        steps.append("namespaces turned off")
        if uid is not None:
            _drop_to(uid)
        status.write(json.dumps({"mode": mode, "steps": steps, "pid1": None}) + "\n")
        return
    if os.geteuid() == 0:
        try:
            _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
            mode = "privileged"
        except (OSError, AttributeError) as e:  # AttributeError: no unshare in this libc (not Linux)
            steps.append(f"no privileged namespaces ({getattr(e, 'strerror', e)})")
    if mode == "none":
        if uid is not None:
            _drop_to(uid)
        try:
            _enter_user_namespace()
            mode = "userns"
        except (OSError, AttributeError) as e:
            steps.append(f"no user namespace ({e})")
    if mode == "none":
        status.write(json.dumps({"mode": mode, "steps": steps, "pid1": None}) + "\n")
        return
    pid1 = os.fork()
    if pid1:
        status.write(json.dumps({"mode": mode, "pid1": pid1}) + "\n")
        status.close()
        _close_from(3)
        _relay(pid1)
    # PID 1 of the new namespace: trusted, it never runs the program.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    try:
        steps += _private_filesystem(cfg["workname"], uid if mode == "privileged" else None, cfg.get("hide") or [])
    except OSError as e:
        steps.append(f"filesystem not private ({e})")
    if mode == "privileged" and uid is not None:
        _drop_to(uid)
    else:
        _drop_capabilities()
    _check(_prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    if _no_capabilities():
        steps.append("no-capabilities")
    status.write(json.dumps({"mode": mode, "steps": steps, "inner": True}) + "\n")
    status.flush()
    worker = os.fork()
    if worker:
        _reap(worker)
    # the worker: returns to run the program


def _close_from(low: int) -> None:
    for fd in range(low, 1024):
        try:
            os.close(fd)
        except OSError:
            pass


def _reap(worker: int) -> None:
    """PID 1: reap orphans until the worker ends, then end as it did (signals as 128 + n)."""
    _close_from(3)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == worker:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


# -- plain data across the pipe -------------------------------------------------------------


class NotData(TypeError):
    """A value that is not plain data and so cannot leave the sandbox."""


def encode(value: Any, depth: int = 0) -> Any:
    """``value`` as tagged JSON: None, bool, int, float, complex, str, bytes, and lists, tuples,
    sets, frozensets and dicts of those. Iterators and ranges travel as lists."""
    if depth > MAX_DEPTH:
        raise NotData("nested too deeply to leave the sandbox")
    if value is None or isinstance(value, (bool, str)):
        return ["v", value]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, complex):
        return ["complex", repr(value.real), repr(value.imag)]
    if isinstance(value, (bytes, bytearray)):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, (list, tuple, set, frozenset)):
        tag = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset"}.get(type(value), "list")
        return [tag, [encode(v, depth + 1) for v in value]]
    if isinstance(value, dict):
        return ["dict", [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]]
    if isinstance(value, range) or hasattr(value, "__next__") or type(value).__name__.startswith("dict_"):
        return ["list", [encode(v, depth + 1) for v in list(value)]]
    if hasattr(value, "__index__"):  # integer scalars of other libraries (numpy)
        return ["int", str(value.__index__())]
    raise NotData(f"a {type(value).__name__} is not plain data; the sandbox returns only plain data")


def decode(item: Any, depth: int = 0) -> Any:
    """The value of :func:`encode`'s output; anything else raises :class:`NotData`."""
    if depth > MAX_DEPTH or not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise NotData("malformed data from the sandbox")
    tag = item[0]
    if tag == "v" and len(item) == 2 and (item[1] is None or isinstance(item[1], (bool, str))):
        return item[1]
    if tag == "int":
        return int(item[1])
    if tag == "float":
        return float(item[1])
    if tag == "complex":
        return complex(float(item[1]), float(item[2]))
    if tag == "bytes":
        return bytes.fromhex(item[1])
    if tag in ("list", "tuple", "set", "frozenset") and isinstance(item[1], list):
        values = [decode(v, depth + 1) for v in item[1]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](values)
    if tag == "dict" and isinstance(item[1], list):
        return {decode(k, depth + 1): decode(v, depth + 1) for k, v in item[1]}
    raise NotData(f"malformed data from the sandbox ({tag!r})")


class Channel:
    """Newline-delimited JSON over a pair of pipe fds."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.reader = os.fdopen(read_fd, "rb")
        self.writer = os.fdopen(write_fd, "wb")

    def send(self, message: Any) -> None:
        self.writer.write(json.dumps(message).encode() + b"\n")
        self.writer.flush()

    def receive(self) -> Any:
        line = self.reader.readline(MAX_LINE)
        if not line:
            raise EOFError("the solution process ended")
        return json.loads(line)


# -- solution role --------------------------------------------------------------------------


def _kind(e: BaseException) -> str:
    return "assertion" if isinstance(e, AssertionError) else "memory" if isinstance(e, MemoryError) else "error"


def _short_error(e: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(e), e))[-2000:]


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


# (audit arch, socket, socketpair) per machine: the syscall numbers differ
_SOCKET_CALLS = {"x86_64": (0xC000003E, 41, 53), "aarch64": (0xC00000B7, 198, 199)}


def _no_unix_sockets() -> bool:
    """A seccomp filter that refuses ``socket``/``socketpair`` of family AF_UNIX (EPERM), inherited by
    every process of the run: a network namespace does not stop ``connect()`` to a socket file on a
    shared filesystem, this does. False where it cannot be installed (then it is not claimed)."""
    import platform

    calls = _SOCKET_CALLS.get(platform.machine())
    if calls is None:
        return False
    arch, sock, pair = calls
    ld_abs, jeq, ret = 0x20, 0x15, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    program = [
        (ld_abs, 0, 0, 4),   # 0: the audit arch
        (jeq, 0, 6, arch),   # 1: another arch: allow (8)
        (ld_abs, 0, 0, 0),   # 2: the syscall number
        (jeq, 1, 0, sock),   # 3: socket -> 5
        (jeq, 0, 3, pair),   # 4: socketpair -> 5, else allow (8)
        (ld_abs, 0, 0, 16),  # 5: its first argument (the family)
        (jeq, 0, 1, 1),      # 6: AF_UNIX -> 7, else allow (8)
        (ret, 0, 0, deny),   # 7
        (ret, 0, 0, allow),  # 8
    ]
    filters = (_SockFilter * len(program))(*(_SockFilter(*f) for f in program))
    prog = _SockFprog(len(program), filters)
    if _prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        return False
    if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        return False
    import socket

    try:
        socket.socket(socket.AF_UNIX).close()
    except OSError:
        return True
    return False


def solution(cfg: dict[str, Any]) -> None:
    program = sys.stdin.buffer.read(cfg["size"]).decode("utf-8")
    if hashlib.sha256(program.encode("utf-8")).hexdigest() != cfg["sha256"]:
        os._exit(3)  # not the program the parent sent
    status = os.fdopen(cfg["status"], "w")
    if _no_unix_sockets():
        status.write(json.dumps({"seccomp": "no-unix-sockets"}) + "\n")
    isolate(cfg, status)
    status.close()
    if sys.stdin.buffer.read():  # the parent closes stdin once it has verified the isolation from outside
        os._exit(3)  # more than the program: not the parent's protocol
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    channel = Channel(cfg["rpc_in"], cfg["rpc_out"])
    limit = cfg.get("max_processes")
    if limit:
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        exec(compile(program, "program.py", "exec"), namespace)
    except BaseException as e:
        channel.send({"loaded": False, "kind": _kind(e), "error": _short_error(e)})
        os._exit(0)
    channel.send({"loaded": True})
    while True:
        try:
            request = channel.receive()
        except (EOFError, ValueError):
            os._exit(0)
        channel.send(_answer(request, namespace))


def _manifest(namespace: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        if type(value).__name__ == "module":
            out[name] = ["module", getattr(value, "__name__", "")]
        elif callable(value):
            out[name] = ["function"]
        else:
            try:
                out[name] = ["data", encode(value)]
            except (NotData, RecursionError):
                out[name] = ["other", type(value).__name__]
    return out


def _answer(request: Any, namespace: dict[str, Any]) -> Any:
    try:
        if request.get("op") == "manifest":
            return {"manifest": _manifest(namespace)}
        fn = namespace[request["name"]]
        args = [decode(a) for a in request["args"]]
        kwargs = {k: decode(v) for k, v in request["kwargs"].items()}
        result = fn(*args, **kwargs)
        return {"ok": encode(result), "args": [encode(a) for a in args]}
    except BaseException as e:  # the program's exception, sent back to be raised in the test
        return {"raise": [type(e).__name__, str(e)[:2000], _kind(e)]}


# -- tests role -----------------------------------------------------------------------------


class SolutionGone(Exception):
    """The solution process ended (crashed, was killed, ran out of CPU) during a test."""


class NotOfTheProgram:
    """A name the program defines that tests cannot use across the boundary (an object, a class)."""

    def __init__(self, name: str, kind: str) -> None:
        self._what = f"{name!r} is a {kind} of the program; tests can use only its functions and plain data"

    def __getattr__(self, item: str) -> Any:
        raise TypeError(self._what)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(self._what)


class ProgramError(RuntimeError):
    """An exception of the program whose kind could steer the tests' control flow (StopIteration
    ends the ``map`` or loop that called it), delivered wrapped so that it is only ever an error."""


_CONTROL_FLOW = ("StopIteration", "StopAsyncIteration", "GeneratorExit", "KeyboardInterrupt", "SystemExit")


def _remote_error(name: str, message: str) -> BaseException:
    if name in _CONTROL_FLOW:
        return ProgramError(f"the program raised {name}: {message}")
    kind = getattr(builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except Exception:
            pass
    return RuntimeError(f"{name}: {message}")


def _update_in_place(original: Any, changed: Any) -> None:
    """Reflect a list, dict or set argument the function changed (tests may check it)."""
    if isinstance(original, list) and isinstance(changed, list) and original != changed:
        original[:] = changed
    elif isinstance(original, dict) and isinstance(changed, dict) and original != changed:
        original.clear()
        original.update(changed)
    elif isinstance(original, set) and isinstance(changed, set) and original != changed:
        original.clear()
        original.update(changed)


class Proxy:
    """A function of the program, called in the solution process; only plain data goes either way."""

    def __init__(self, name: str, channel: Channel) -> None:
        self.__name__ = name
        self._channel = channel

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._channel.send({"op": "call", "name": self.__name__, "args": [encode(a) for a in args],
                            "kwargs": {k: encode(v) for k, v in kwargs.items()}})
        try:
            reply = self._channel.receive()
        except (EOFError, ValueError) as e:
            raise SolutionGone(str(e)) from None
        if not isinstance(reply, dict):
            raise NotData("malformed reply from the sandbox")
        if "raise" in reply:
            name, message, kind = reply["raise"]
            error = _remote_error(str(name), str(message))
            if kind == "memory" and not isinstance(error, MemoryError):
                error = MemoryError(str(message))
            raise error
        changed = reply.get("args") or []
        for original, item in zip(args, changed):
            _update_in_place(original, decode(item))
        return decode(reply["ok"])

    def __repr__(self) -> str:
        return f"<function {self.__name__} (sandboxed)>"


def free_names(sources: list[str]) -> set[str]:
    """The names ``sources`` read but never bind, builtins aside: what they need from the program."""
    import ast

    loaded: set[str] = set()
    bound: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bound.add(node.name)
    return loaded - bound - set(dir(builtins))


def _namespace(manifest: dict[str, Any], channel: Channel, wanted: set[str]) -> dict[str, Any]:
    """The tests' own namespace: the real builtins, and of the program only the ``wanted`` names
    (the task's entry points): its functions as proxies, its plain values as copies, a stdlib
    module it imported as the real module. Nothing else the program defines is visible, so it
    cannot replace ``range``, ``sorted`` or a helper the tests take from the task."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    for name in sorted(wanted):
        entry = manifest.get(name)
        if not isinstance(entry, list) or not entry:
            continue
        kind = entry[0]
        if kind == "function":
            namespace[name] = Proxy(name, channel)
        elif kind == "data":
            namespace[name] = decode(entry[1])
        elif kind == "module" and entry[1] in sys.stdlib_module_names:
            namespace[name] = importlib.import_module(entry[1])
        else:
            namespace[name] = NotOfTheProgram(name, "module" if kind == "module" else str(entry[-1]))
    return namespace


def tests(cfg: dict[str, Any]) -> None:
    # Before the key is read: no other process of this user may read this one's memory
    # (/proc/<pid>/mem, ptrace) once it holds the key. The parent checks it from outside.
    _prctl(PR_SET_DUMPABLE, 0)
    given = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    key = bytes.fromhex(given["key"])
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    report_file = os.fdopen(cfg["report"], "w", buffering=1)

    def report(**fields: Any) -> None:
        line = json.dumps(fields)
        report_file.write(line + "\t" + hmac.new(key, line.encode(), hashlib.sha256).hexdigest() + "\n")

    report(stage="ready")
    channel = Channel(cfg["rpc_in"], cfg["rpc_out"])
    try:
        loaded = channel.receive()
    except (EOFError, ValueError):
        report(stage="gone", index=-1)
        return
    if not isinstance(loaded, dict) or not loaded.get("loaded"):
        report(stage="program", ok=False, kind=str((loaded or {}).get("kind", "error")),
               error=str((loaded or {}).get("error", ""))[-2000:])
        return
    report(stage="program", ok=True)
    trusted = [given.get("helpers") or "", given.get("setup") or ""]
    entry_points = given.get("entry_points")
    wanted = set(entry_points) if entry_points is not None else free_names([*given["tests"], *trusted])
    try:
        channel.send({"op": "manifest"})
        manifest = channel.receive()["manifest"]
        namespace = _namespace(manifest, channel, wanted)
        for source, name in zip(trusted, ("helpers", "setup")):  # the task's own code, over the program's
            if source:
                exec(compile(source, name, "exec"), namespace)
    except (EOFError, ValueError, KeyError, TypeError, NotData):
        report(stage="gone", index=0)
        return
    for i, test in enumerate(given["tests"]):
        try:
            exec(compile(test, f"test_{i}", "exec"), namespace)
            report(stage="test", index=i, ok=True)
        except SolutionGone:
            report(stage="gone", index=i)
            return
        except BaseException as e:
            report(stage="test", index=i, ok=False, kind=_kind(e), error=_short_error(e))


def main() -> None:
    role, cfg = sys.argv[1], json.loads(sys.argv[2])
    if role == "solution":
        solution(cfg)
    else:
        tests(cfg)
