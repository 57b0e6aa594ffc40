"""The sandbox's behaviour: per-test results, limits, what tests can see. Attacks: test_sandbox_hostile.py."""

from __future__ import annotations

import os
import signal

import pytest

from reasoners import ConfigError
from reasoners.sandbox import Sandbox

pytestmark = pytest.mark.slow  # starts processes (servers, sandboxes, Ray, a browser): not in `make unit`

SB = Sandbox(timeout=3, memory_mb=256, output_limit=10_000)
ROOT = os.geteuid() == 0


def test_passing_and_failing_tests_are_reported_per_test():
    ok = SB.run("def f(x):\n    return x + 1", ["assert f(1) == 2", "assert f(2) == 3"])
    assert ok.passed and ok.reason == "ok" and ok.passed_count == 2
    bad = SB.run("def f(x):\n    return x", ["assert f(1) == 2", "assert f(2) == 2", "f(None) + 1"])
    assert not bad.passed and bad.reason == "failed"
    assert [(t.passed, t.kind) for t in bad.tests] == [(False, "assertion"), (True, ""), (False, "error")]
    assert "TypeError" in bad.tests[2].error


def test_infinite_loop_times_out():
    r = SB.run("while True:\n    pass")
    assert r.reason == "timeout" and not r.passed and r.seconds < 6


def test_cpu_limit_ends_a_busy_process_before_the_wall_clock():
    r = Sandbox(timeout=10, cpu_seconds=1).run("while True:\n    pass")
    assert r.reason == "cpu" and r.seconds < 5


def test_huge_allocation_hits_the_memory_limit():
    r = SB.run("x = bytearray(4 * 1024 ** 3)", ["assert True"])
    assert r.reason == "memory" and not r.passed


def test_no_secrets_in_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak-0123456789")
    r = SB.run(
        "import os\nenv = dict(os.environ)",
        ["assert 'OPENAI_API_KEY' not in env", "assert not any('sk-' in v for v in env.values())"],
    )
    assert r.passed, r.tests


def test_output_is_capped():
    r = SB.run("while True:\n    print('x' * 10000)")
    assert r.reason == "output_limit" and len(r.stdout) <= 10_000


def test_runs_in_a_fresh_temp_dir_that_is_removed():
    program = ("import os\nhere = os.getcwd()\nprint(here)\nopen('scratch.txt', 'w').write('ok')\n"
               "def scratch():\n    return os.path.exists('scratch.txt')")
    r = SB.run(program, ["assert scratch()"])
    assert r.passed
    workdir = r.stdout.strip()
    assert "reasoners-sandbox-" in workdir and not os.path.exists(workdir)


def test_tests_see_the_programs_functions_and_plain_data_only():
    program = "import math\nLIMIT = {'a': [1, 2.5, (3, 'x')]}\ndef area(r):\n    return math.pi * r * r\n" \
              "def grow(xs):\n    xs.append(len(xs))\nclass Box:\n    pass"
    r = SB.run(program, ["assert LIMIT == {'a': [1, 2.5, (3, 'x')]}",
                         "assert math.isclose(area(1), 3.14159, rel_tol=1e-4)",  # the program's stdlib import
                         "xs = [0]\ngrow(xs)\nassert xs == [0, 1]",           # a changed argument comes back
                         "Box()"])                                              # an object cannot cross
    assert [t.passed for t in r.tests] == [True, True, True, False]
    assert "plain data" in r.tests[3].error


def test_program_errors_and_crashes_are_told_apart():
    syntax = SB.run("def f(:", ["assert True"])
    assert syntax.reason == "failed" and "SyntaxError" in syntax.program_error
    crash = SB.run("import os\nos._exit(1)", ["assert True"])
    assert crash.reason == "crash" and crash.tests[0].kind == "not run"


def test_bad_configuration():
    with pytest.raises(ConfigError):
        Sandbox(timeout=0)
    with pytest.raises(ConfigError):
        SB.run(None)  # type: ignore[arg-type]


def test_parent_signal_handlers_are_untouched():
    before = signal.getsignal(signal.SIGINT)
    SB.run("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)")
    assert signal.getsignal(signal.SIGINT) is before
