"""Every ```python example in the README and docs/ runs (against the embedded model where it says so)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _examples():
    for page in PAGES:
        for i, block in enumerate(re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)):
            if block.lstrip().startswith("# not run"):
                continue
            yield pytest.param(block, id=f"{page.relative_to(ROOT)}#{i}")


def test_every_strategy_has_a_doc_page():
    from reasoners.strategies import REGISTRY

    readme = (ROOT / "README.md").read_text()
    for name in REGISTRY:
        page = ROOT / "docs" / "strategies" / f"{name}.md"
        assert page.is_file(), f"missing docs page for strategy {name!r}"
        assert f"docs/strategies/{name}.md" in readme, f"README does not link {page.name}"


@pytest.mark.parametrize("code", list(_examples()))
def test_doc_example_runs(code):
    exec(compile(code, "<doc example>", "exec"), {"__name__": "__doc_example__"})
