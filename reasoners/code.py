"""Code problems: the program to run for an answer, its public tests, and running tests in the sandbox.

A code :class:`Problem` carries hidden ``tests`` (assert statements that score it)
and may carry ``metadata["public_tests"]`` (the ones a strategy may look at, such
as MBPP's first test); otherwise the public tests are the ``>>>`` examples in a
HumanEval-style docstring. Model-written code only ever runs in the
:class:`~reasoners.sandbox.Sandbox`.
"""

from __future__ import annotations

import re

from .problem import Problem
from .sandbox import Sandbox, SandboxResult

__all__ = ["code_program", "public_tests", "public_tests_from_docstring", "run_tests", "run_unit_tests"]


def code_program(problem: Problem, code: str) -> str:
    """The program to test for a code answer.

    ``metadata["entry_point"]`` means the question is the function's head (HumanEval):
    an answer that does not define it completes the question. ``metadata["setup"]``
    (MBPP's ``test_setup_code``) goes first.
    """
    entry = problem.metadata.get("entry_point")
    program = code if not entry or f"def {entry}" in code else problem.question + code
    setup = problem.metadata.get("setup") or ""
    return f"{setup}\n{program}" if setup.strip() else program


def public_tests_from_docstring(prompt: str, entry_point: str) -> list[str]:
    """Asserts from ``>>> entry(args)`` examples and their expected output lines in a docstring."""
    tests = []
    lines = prompt.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*>>>\s*(.+)$", line)
        if not m or entry_point not in m.group(1):
            continue
        expected = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if expected and not expected.startswith(">>>") and not expected.startswith('"""'):
            tests.append(f"assert ({m.group(1).strip()}) == ({expected})")
    return tests


def public_tests(problem: Problem) -> list[str]:
    """The tests a strategy may see: ``metadata["public_tests"]``, else the docstring examples."""
    given = problem.metadata.get("public_tests")
    if given:
        return list(given)
    entry = problem.metadata.get("entry_point", "")
    return public_tests_from_docstring(problem.question, entry) if entry else []


async def run_tests(problem: Problem, code: str, tests: list[str], sandbox: Sandbox | None = None) -> SandboxResult:
    """``code`` (as :func:`code_program` assembles it) and ``tests`` run in the sandbox."""
    sandbox = sandbox or Sandbox(timeout=float(problem.metadata.get("timeout", 10.0)))
    return await sandbox.arun(code_program(problem, code), tests)


async def run_unit_tests(problem: Problem, answer: str | None) -> bool:
    """True when ``answer`` passes the problem's hidden tests (the benchmark score)."""
    if not answer:
        return False
    return (await run_tests(problem, answer, problem.tests)).passed
