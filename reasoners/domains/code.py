"""Code problems: the program to run for an answer, its public tests, and running tests in the sandbox.

A code :class:`Problem` carries hidden ``tests`` (assert statements that score it)
and may carry ``metadata["public_tests"]`` (the ones a strategy may look at, such
as MBPP's first test); otherwise the public tests are the ``>>>`` examples in a
HumanEval-style docstring. Model-written code only ever runs in the
:class:`~reasoners.sandbox.Sandbox`.
"""

from __future__ import annotations

import ast
import re

from ..core.problem import Problem
from ..sandbox import Sandbox, SandboxResult

__all__ = ["code_program", "prompt_helpers", "test_entry_points", "public_tests", "public_tests_from_docstring", "run_tests",
           "run_unit_tests"]


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


def prompt_helpers(problem: Problem) -> str:
    """The prompt's own code besides the entry point (HumanEval/32's ``poly``, /38's
    ``encode_cyclic``, their imports): trusted task code the tests run with, so an answer that
    redefines them changes nothing the tests use. Empty when the prompt has none or does not parse."""
    entry = problem.metadata.get("entry_point")
    if not entry:
        return ""
    for source in (problem.question, problem.question.rstrip() + "\n    pass\n"):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        parts = [ast.get_source_segment(source, node) or "" for node in tree.body
                 if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == entry)]
        return "\n\n".join(p for p in parts if p.strip())
    return ""


def test_entry_points(tests: list[str]) -> list[str]:
    """The functions a task's tests call (MBPP's ``assert f(...) == ...``): the called names that
    are not builtins, or, where every one is (MBPP 126 names its function ``sum``), the outermost
    call of the first test. The tests see these of the program, nothing else."""
    import builtins

    called: list[str] = []
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        called += [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    own = [name for name in dict.fromkeys(called) if not hasattr(builtins, name)]
    return own or called[:1]


async def run_tests(problem: Problem, code: str, tests: list[str], sandbox: Sandbox | None = None) -> SandboxResult:
    """``code`` (as :func:`code_program` assembles it) and ``tests`` run in the sandbox. The tests
    see of the program only the task's entry points (``metadata["entry_point"]``, else
    ``metadata["entry_points"]``, else the names the tests use without defining them), and take the
    prompt's helpers from the prompt, never from the program."""
    sandbox = sandbox or Sandbox(timeout=float(problem.metadata.get("timeout", 10.0)))
    entry = problem.metadata.get("entry_point")
    entry_points = [str(entry)] if entry else problem.metadata.get("entry_points")
    return await sandbox.arun(code_program(problem, code), tests, entry_points=entry_points,
                              helpers=prompt_helpers(problem))


async def run_unit_tests(problem: Problem, answer: str | None) -> bool:
    """True when ``answer`` passes the problem's hidden tests (the benchmark score)."""
    if not answer:
        return False
    return (await run_tests(problem, answer, problem.tests)).passed
