"""Benchmark grids on Ray: each (problem, strategy, budget) cell is a Ray task; the driver alone
writes the journal.

A cell's task gets a :class:`ModelSpec` (model string, server URL, options: plain data, never a
client or a key) and builds its own :class:`~reasoners.llm.LLM`; provider keys come from the
worker's environment (pass them with Ray's ``runtime_env={"env_vars": {...}}``). Ray retries a
cell whose worker died (``max_retries``); the driver journals each cell once, as its result
arrives, so a retried cell never makes a duplicate row and resume works as with the local executor.

Caches: sqlite must not be shared over NFS, so every worker process writes its own file in
``cache_dir`` (``worker-<pid>.sqlite``), into which the run's cache is merged first so that
reruns replay. After the run the driver merges them into the run's cache
(``reasoners cache merge`` does the same by hand, for a cache directory on other machines).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.errors import AuthError, ConfigError
from ..core.problem import Problem
from ..llm.cache import Cache
from ..llm.client import LLM
from ..strategies import Strategy

__all__ = ["ModelSpec", "RayExecutor", "INSTALL"]

INSTALL = 'pip install "reasoners-toolkit[ray]"'


@dataclass(frozen=True)
class ModelSpec:
    """How a worker builds the client: plain, picklable data with no credentials."""

    model: str
    api_base: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    timeout: float = 120.0
    concurrency: int = 8
    cache_dir: str | None = None
    seed_cache: str | None = None
    run: str = ""  # one run's clients are built afresh, so each starts from the run's cache
    backend: Any = None  # a scripted fake model, shipped as it is (a test's FakeLLM)

    @classmethod
    def of(cls, llm: LLM, *, cache_dir: str | None, seed_cache: str | None) -> ModelSpec:
        from ..testing.fakes import FakeModel

        backend = getattr(llm.transport, "backend", None) if llm.model.startswith("fake/") else None
        if llm.model.startswith(("fake/", "langchain/")) and not isinstance(backend, FakeModel):
            raise ConfigError(f"{llm.model} lives in this process only; a Ray worker cannot build it")
        return cls(llm.model, llm.api_base, llm.options.temperature, llm.options.max_tokens, llm.timeout,
                   llm.concurrency, cache_dir, seed_cache, secrets.token_hex(8), backend)

    def __hash__(self) -> int:
        return hash((self.model, self.api_base, self.run))

    def build(self) -> LLM:
        cache = None
        if self.cache_dir is not None:
            own = Path(self.cache_dir) / f"worker-{os.getpid()}.sqlite"
            own.parent.mkdir(parents=True, exist_ok=True)
            cache = Cache(own)
            if self.seed_cache and Path(self.seed_cache).exists():
                cache.merge(self.seed_cache)  # what earlier runs computed (all workers' merged) replays here
        return LLM(self.model, api_base=self.api_base, temperature=self.temperature, max_tokens=self.max_tokens,
                   timeout=self.timeout, concurrency=self.concurrency, cache=cache, transport=self.backend)


_clients: dict[ModelSpec, LLM] = {}
_loop: asyncio.AbstractEventLoop | None = None  # one per worker process: its HTTP connections are reused


def _cell(spec: ModelSpec, task: Any, label: str, strategy: Strategy, budget: int | None, problem: Problem,
          seed: int) -> dict[str, Any]:
    """The Ray task: one cell's journal row, or ``{"fatal": ...}`` for an error every cell would share."""
    global _loop
    from .run import run_cell

    llm = _clients.get(spec)
    if llm is None:
        _clients.clear()  # a new run: the clients of earlier ones are done with
        llm = _clients[spec] = spec.build()
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    try:
        return {"row": _loop.run_until_complete(run_cell(task, llm, label, strategy, budget, problem, seed))}
    except (AuthError, ConfigError) as e:
        return {"fatal": type(e).__name__, "message": str(e)}


@dataclass
class RayExecutor:
    """Run the cells as Ray tasks on ``address`` (None: a local Ray started here; ``"auto"``; or
    ``"ray://host:port"``), each asking for ``num_cpus`` and ``num_gpus``, retried ``max_retries``
    times when its worker dies. ``cache_dir`` holds the workers' cache files (default: the run's
    folder)."""

    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_retries: int = 3
    cache_dir: str | None = None
    init_options: dict[str, Any] | None = None

    async def run(self, config: Any, todo: list[tuple[str, Strategy, int | None, Problem]],
                  record: Callable[[dict[str, Any]], None]) -> None:
        try:
            import ray
        except ImportError as e:
            raise ConfigError(f"the Ray executor needs Ray: {INSTALL}") from e
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     **(self.init_options or {}))
        # Workers cache only when the run does (its client has a cache), each in a file of its own.
        run_cache = Path(config.llm.cache.path) if config.llm.cache is not None else None
        cache_dir = (self.cache_dir or str(Path(config.out) / "worker-caches")) if run_cache else None
        spec = ModelSpec.of(config.llm, cache_dir=cache_dir, seed_cache=str(run_cache) if run_cache else None)
        remote = ray.remote(max_retries=self.max_retries, num_cpus=self.num_cpus, num_gpus=self.num_gpus)(_cell)
        task_ref = ray.put(config.task)
        pending = [remote.remote(spec, task_ref, label, strategy, budget, problem, config.seed)
                   for label, strategy, budget, problem in todo]
        fatal: dict[str, Any] | None = None
        try:
            while pending:
                ready, pending = await asyncio.to_thread(ray.wait, pending, num_returns=1)
                for ref in ready:
                    out = ray.get(ref)
                    if "fatal" in out:
                        fatal = fatal or out
                    else:
                        record(out["row"])
                if fatal is not None:
                    for ref in pending:  # every cell would fail alike: start no more
                        ray.cancel(ref)
                    break
        finally:
            if run_cache is not None and cache_dir is not None:
                self._merge(run_cache, Path(cache_dir))
        if fatal is not None:
            kind = AuthError if fatal["fatal"] == "AuthError" else ConfigError
            raise kind(fatal["message"])

    @staticmethod
    def _merge(run_cache: Path, cache_dir: Path) -> None:
        parts = sorted(cache_dir.glob("worker-*.sqlite")) if cache_dir.is_dir() else []
        if parts:
            Cache(run_cache).merge(*parts)

    def config(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "init_options"}
