"""The import layers of docs/architecture.md, checked on the source: no import points up a layer, and
the modules import each other without a cycle (module level and inside functions; not under
``TYPE_CHECKING``)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]

# Top to bottom. A module may import only from its own layer or below.
LAYERS: list[set[str]] = [
    {"cli", "server"},
    {"spec", "integrations", "bench"},
    {"strategies"},
    {"llm", "sandbox", "domains", "answers", "embedding", "testing"},
    {"retrievers"},
    {"core"},
]
RANK = {name: len(LAYERS) - i for i, layer in enumerate(LAYERS) for name in layer}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "retrievers":
        return "retrievers"
    if parts[0] != "reasoners" or len(parts) < 2:
        return None
    return parts[1]


def imports(path: Path) -> list[tuple[str, int]]:
    """(module imported, line) for every import in the file, resolved to an absolute name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):  # code under `if TYPE_CHECKING:` never runs
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, node.lineno))
    return out


def sources() -> list[Path]:
    return sorted([*(ROOT / "reasoners").rglob("*.py"), *(ROOT / "retrievers").rglob("*.py")])


def test_every_module_has_a_layer():
    missing = {layer_of(module_name(p)) for p in sources()} - set(RANK) - {None}
    assert not missing, f"modules with no layer in docs/architecture.md: {sorted(missing)}"


def test_no_import_points_up_a_layer():
    wrong = []
    for path in sources():
        here = module_name(path)
        source = layer_of(here)
        if source is None:  # the package facades: reasoners/__init__.py re-exports every layer
            continue
        for target, line in imports(path):
            to = layer_of(target)
            if to is None or to == source:
                continue
            if RANK[to] > RANK[source]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({source}) imports {target} ({to})")
            if source == "retrievers" and to not in LAYERS[-1]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: retrievers may import only the ground floor")
    assert not wrong, "imports that point up:\n" + "\n".join(wrong)


def test_no_import_cycle():
    modules = {module_name(p): p for p in sources()}
    graph = nx.DiGraph()
    for name, path in modules.items():
        for target, _ in imports(path):
            if target in modules and target != name:
                graph.add_edge(name, target)
            elif target.rpartition(".")[0] in modules:  # `from pkg import submodule_or_name`
                graph.add_edge(name, target.rpartition(".")[0])
    facades = {"reasoners"}
    cycles = [c for c in nx.simple_cycles(graph) if not facades & set(c)]
    assert not cycles, f"import cycles: {cycles[:5]}"
