"""Files shipped inside installed packages (model weights, benchmark data), found without importing them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .errors import ConfigError


def package_file(package: str, relative: str, install: str) -> Path:
    """``relative`` inside the installed ``package``; a ConfigError naming ``install`` if absent."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"package {package!r} is not installed; run: {install}")
    for location in spec.submodule_search_locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    raise ConfigError(f"{relative} not found in the installed package {package!r}; reinstall it: {install}")


def fewshot_file(name: str) -> Path:
    """A few-shot examples file the library ships (``reasoners/data/fewshot``, see its README)."""
    path = Path(__file__).resolve().parents[1] / "data" / "fewshot" / name
    if not path.is_file():
        raise ConfigError(f"the few-shot file {name} is missing from this install of reasoners; reinstall it")
    return path
