"""The OpenAI-compatible server: any strategy per request, under a per-request budget.

One :class:`Server` holds what lives as long as the process: one client per
served model, the admission limits, the kept traces, the metrics registry and
the strategies already parsed and prepared. :func:`create_app` puts it behind
FastAPI. Each request: authenticate -> admit (or 429) -> check the body (or 400)
-> choose strategy, model and budget -> run (streaming its events, or not),
cancelled if the client goes away -> an OpenAI-shaped answer with the run's
usage and a ``reasoners`` object.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.budget import Budget
from ..core.errors import (
    AuthError,
    BudgetExhausted,
    CapabilityError,
    ConfigError,
    LLMError,
    ReasonersError,
    RequestTimeout,
    SpecError,
)
from ..core.problem import Candidate, Result
from ..core.usage import Usage
from ..llm.cache import Cache
from ..llm.client import LLM
from ..llm.convert import configured_secrets, redact
from ..llm.local import DEFAULT_MODEL
from ..llm.options import sampling_args
from ..sandbox import set_max_concurrent_runs
from ..spec import parse_spec
from ..strategies.base import REGISTRY, Strategy
from ..strategies.events import (
    CallFinished,
    Event,
    Finished,
    ReasoningText,
    SampleAnswered,
    TextDelta,
    Votes,
)
from ..strategies.inspect import runs_code
from .metrics import Metrics
from .request import BadRequest, ChatRequest, split_model

__all__ = ["ServerConfig", "Server", "Run", "upstream_usage"]

log = logging.getLogger(__name__)



@dataclass
class ServerConfig:
    """How ``reasoners serve`` runs. ``models[0]`` is the default upstream; requests may name only
    these. ``max_budget_tokens`` is the budget of a request that names none, and the most one may
    ask for. At most ``concurrency`` runs at once and ``max_queue`` waiting; beyond, 429."""

    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    api_base: str | None = None
    strategy: str = "cot"
    api_keys: list[str] = field(default_factory=list)
    max_budget_tokens: int = 32_000
    concurrency: int = 4
    max_queue: int = 64
    cache: str | None = None
    upstream_timeout: float = 120.0
    upstream_concurrency: int = 64  # upstream calls in flight per model, over all runs
    traces_kept: int = 256
    max_body_bytes: int = 1_000_000
    body_seconds: float = 10.0  # a request's body must arrive within this, before it is admitted
    share_cache: bool = False  # API keys share cached calls (else each key has its own)
    allow_code: bool = False  # strategies that run model-written code (codechain, tests scorer) may be requested
    max_sandboxes: int = 2  # sandboxed code runs at once, over all requests
    prepare_budget_tokens: int | None = None  # what preparing the default strategy may spend (default: max budget)
    otel: bool = False  # send every run's trace as OpenTelemetry spans (OTEL_EXPORTER_OTLP_ENDPOINT, ...)

    def __post_init__(self) -> None:
        if not self.models or len(set(self.models)) != len(self.models):
            raise ConfigError("give each --model once, and at least one")
        for name, value, low in (("--max-budget-tokens", self.max_budget_tokens, 1),
                                 ("--concurrency", self.concurrency, 1), ("--max-queue", self.max_queue, 0),
                                 ("--upstream-concurrency", self.upstream_concurrency, 1),
                                 ("traces kept", self.traces_kept, 1)):
            if not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be a whole number >= {low}; got {value!r}")
        if any(not k.strip() for k in self.api_keys):
            raise ConfigError("an --api-key is empty")
        if any(not k.isascii() or any(c.isspace() for c in k.strip()) for k in self.api_keys):
            raise ConfigError("an --api-key must be printable ASCII without spaces")
        for name, number in (("--upstream-timeout", self.upstream_timeout), ("--body-seconds", self.body_seconds)):
            if not isinstance(number, (int, float)) or not math.isfinite(number) or number <= 0:
                raise ConfigError(f"{name} must be a number of seconds above 0; got {number!r}")
        if not isinstance(self.max_sandboxes, int) or self.max_sandboxes < 1:
            raise ConfigError(f"--max-sandboxes must be a whole number >= 1; got {self.max_sandboxes!r}")


class _Slot:
    """A request's place in the admission count, released exactly once (or when dropped)."""

    def __init__(self, server: Server) -> None:
        server.admitted += 1
        server.metrics.in_flight.inc()
        self.release = weakref.finalize(self, server._leave)


class Server:
    """What the process keeps between requests (see the module notes)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.cache = Cache(config.cache) if config.cache else None
        self.llms = {m: self._client(m, "") for m in config.models}
        self.tenant_llms: dict[tuple[str, str], LLM] = {}
        self.default_strategy = parse_spec(config.strategy)  # the operator's own spec: files allowed
        self.metrics = Metrics()
        self.traces: OrderedDict[str, tuple[str, Result]] = OrderedDict()  # id -> (tenant, the run's result)
        self.prepared: dict[str, Strategy] = {}  # model -> the default strategy, prepared at start-up
        self.admitted = 0
        self._running: asyncio.Semaphore | None = None
        self._secrets = configured_secrets(config.api_keys)
        set_max_concurrent_runs(config.max_sandboxes)
        self.otel_provider: Any = None
        if config.otel:
            from ..integrations.otel import configured_provider

            self.otel_provider = configured_provider()

    def _client(self, model: str, tenant: str) -> LLM:
        return LLM(model, api_base=self.config.api_base, cache=self.cache, timeout=self.config.upstream_timeout,
                   concurrency=self.config.upstream_concurrency, cache_scope=tenant)

    def llm_for(self, model: str, tenant: str) -> LLM:
        """The client a tenant's runs use: its own cache scope unless the operator shares the cache
        (so no key learns from ``cache_hits`` what another asked), and its own prompt-count margin."""
        if not tenant or self.config.share_cache:
            return self.llms[model]
        key = (model, tenant)
        if key not in self.tenant_llms:
            self.tenant_llms[key] = self._client(model, tenant)
        return self.tenant_llms[key]

    def tenant(self, header: str | None) -> str:
        """Who made a request: a digest of its API key ("" on a server without keys)."""
        if not self.config.api_keys:
            return ""
        token = (header or "").partition(" ")[2].strip()
        return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]

    async def prepare_default(self) -> None:
        """Prepare the default strategy for every served model, once, at start-up, under the
        operator's budget: no request prepares, rebuilds or evicts it, and its cost is in /metrics."""
        limit = self.config.prepare_budget_tokens or self.config.max_budget_tokens
        for model, llm in self.llms.items():
            ready, spent = await self.default_strategy.aprepared(llm=llm, budget=Budget(tokens=limit))
            self.prepared[model] = ready
            self.metrics.prepared(model, spent.usage)

    # -- admission ---------------------------------------------------------------------------

    def admit(self) -> _Slot:
        if self.admitted >= self.config.concurrency + self.config.max_queue:
            self.metrics.rejected()
            raise BadRequest(f"the server is at capacity ({self.config.concurrency} running, "
                             f"{self.config.max_queue} waiting); retry shortly", status=429, code="rate_limit_exceeded")
        return _Slot(self)

    def _leave(self) -> None:
        self.admitted -= 1
        self.metrics.in_flight.dec()

    def running(self) -> asyncio.Semaphore:
        if self._running is None:
            self._running = asyncio.Semaphore(self.config.concurrency)
        return self._running

    def authorized(self, header: str | None) -> bool:
        if not self.config.api_keys:
            return True
        scheme, _, token = (header or "").partition(" ")
        given = token.strip().encode("utf-8", "surrogateescape")  # bytes: any header compares, none raises
        return scheme.lower() == "bearer" and any(secrets.compare_digest(given, k.encode())
                                                  for k in self.config.api_keys)

    # -- choosing what to run ----------------------------------------------------------------

    def choose(self, req: ChatRequest) -> tuple[Strategy, str, str, LLM]:
        """The strategy (parsed and prepared on first use), its spec, the model name and its client."""
        spec, model = split_model(req.model)
        if spec is not None and req.strategy is not None:
            raise BadRequest("give the strategy once: in reasoners.strategy or as '<spec>@<model>'", param="model")
        spec = spec or req.strategy
        if model not in self.llms:
            head = model.split("(", 1)[0].strip()
            if spec is None and head in REGISTRY:  # a strategy listed by /v1/models, on the default model
                spec, model = model, self.config.models[0]
            else:
                raise BadRequest(f"model {model!r} is not served here (served: {', '.join(self.llms)})",
                                 param="model", status=404, code="model_not_found")
        if spec is None:
            return self.default_strategy, self.config.strategy, model, self.llms[model]
        if len(spec) > 2000:
            raise BadRequest("the strategy spec is over 2000 characters", param="reasoners.strategy")
        try:
            strategy = parse_spec(spec, files=False)
        except SpecError as e:
            where = str(e).splitlines()[0].rstrip(":")
            raise BadRequest(f"bad strategy spec {spec!r}: {where}", param="reasoners.strategy") from e
        if runs_code(strategy) and not self.config.allow_code:
            raise BadRequest(f"{spec!r} runs model-written code, which this server does not allow "
                             "(the operator may start it with --allow-code)", param="reasoners.strategy",
                             status=403, code="code_not_allowed")
        return strategy, spec, model, self.llms[model]

    async def ready(self, strategy: Strategy, spec: str, model: str, llm: LLM) -> Strategy:
        """``strategy`` ready to run: the default one as prepared at start-up; a requested one only
        if it needs no preparing (a request may not build AutoCoT's demos: that is the operator's
        to do once, with ``--strategy``)."""
        if strategy is self.default_strategy and model in self.prepared:
            return self.prepared[model]
        try:
            ready, _ = await strategy.aprepared(llm=llm, budget=Budget(tokens=0, calls=0))
        except BudgetExhausted:
            raise BadRequest(f"{spec!r} needs preparing (building demos) first; the operator can serve it "
                             "prepared with --strategy", param="reasoners.strategy") from None
        return ready

    def budget(self, req: ChatRequest) -> Budget:
        limit = self.config.max_budget_tokens
        tokens = req.budget.get("tokens", limit)
        if tokens > limit:
            raise BadRequest(f"reasoners.core.budget.tokens {int(tokens)} is above this server's limit of {limit}",
                             param="reasoners.core.budget.tokens")
        calls = req.budget.get("calls")
        return Budget(tokens=int(tokens), calls=int(calls) if calls is not None else None,
                      cost=req.budget.get("cost"), seconds=req.budget.get("seconds"))

    def keep_trace(self, result: Result, tenant: str) -> str:
        """Keep a run's result under a new trace id; its JSON is made only if someone reads it."""
        trace_id = "trace-" + secrets.token_urlsafe(18)
        self.traces[trace_id] = (tenant, result)
        while len(self.traces) > self.config.traces_kept:
            self.traces.popitem(last=False)
        return trace_id

    def trace_of(self, trace_id: str, tenant: str) -> dict[str, Any] | None:
        """A kept trace, to the key that made it only."""
        kept = self.traces.get(trace_id)
        if kept is None or not secrets.compare_digest(kept[0], tenant):
            return None
        summary = kept[1].to_dict()
        summary.pop("trace", None)
        return {**(kept[1].trace or {}), "version": 1, "result": summary}

    def error_message(self, e: BaseException) -> str:
        return redact(str(e).splitlines()[0] if str(e) else type(e).__name__, self._secrets)


def upstream_usage(trace: dict[str, Any] | None) -> Usage:
    """What the upstream served: every model call of the run's trace that was not a cache hit."""
    total = Usage()

    def walk(node: dict[str, Any]) -> None:
        nonlocal total
        if node.get("kind") in ("llm", "score") and not (node.get("attrs") or {}).get("cached"):
            total = total + Usage.from_dict(node.get("usage") or {})
        for child in node.get("children") or []:
            walk(child)

    if trace:
        walk(trace)
    return total


def _chosen(result: Result) -> Candidate | None:
    """The candidate that gave the chosen answer."""
    return next((c for c in result.candidates if c.answer == result.answer and c.text), None)


def _message(result: Result) -> dict[str, Any]:
    """The answer as an assistant message: the chosen candidate's final text (else the answer
    itself), and its thinking as ``reasoning_content``, as reasoning-model APIs send it."""
    chosen = _chosen(result)
    message: dict[str, Any] = {"role": "assistant", "content": chosen.text if chosen else result.answer or ""}
    if chosen is not None and chosen.reasoning:
        message["reasoning_content"] = chosen.reasoning
    return message


def _summary(result: Result, spec: str, trace_id: str) -> dict[str, Any]:
    u = result.usage
    tallies = result.metadata.get("tallies") or {}
    return {
        "strategy": spec,
        "answer": result.answer,
        "confidence": result.confidence,
        "exhausted": result.exhausted,
        "degraded": result.degraded,
        "abstained": result.abstained,
        "failed_samples": result.metadata.get("failed_samples", []),
        "calls": u.calls,
        "cost": u.cost,
        "cache_hits": u.cache_hits,
        "votes": tallies,
        "candidates": [{"answer": c.answer, "score": c.score, "votes": tallies.get(c.answer) if c.answer else None,
                        "source": c.source} for c in result.candidates],
        "trace_id": trace_id,
    }


def _usage_json(u: Usage) -> dict[str, Any]:
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens, "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens}}


def status_of(e: BaseException) -> tuple[int, str]:
    """The HTTP status and error type for a run that raised ``e``."""
    if isinstance(e, BadRequest):
        return e.status, e.code
    if isinstance(e, (CapabilityError, ConfigError, SpecError)):
        return 400, "invalid_request"
    if isinstance(e, RequestTimeout):
        return 504, "upstream_timeout"
    if isinstance(e, (AuthError, LLMError)):
        return 502, "upstream_error"
    return 500, "internal_error"


def error_body(message: str, code: str, param: str | None = None) -> dict[str, Any]:
    kind = "invalid_request_error" if code in ("invalid_request", "unsupported_parameter", "model_not_found") \
        else code
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class Run:
    """One request's run: its events as they come, then its answer."""

    def __init__(self, server: Server, req: ChatRequest, tenant: str = "") -> None:
        self.server, self.req, self.tenant = server, req, tenant
        self.strategy, self.spec, self.model, _ = server.choose(req)
        self.llm = server.llm_for(self.model, tenant)
        self.budget = server.budget(req)
        self.id = "chatcmpl-" + secrets.token_hex(12)
        self.created = int(time.time())

    async def events(self, gone: Callable[[], Awaitable[Any]]) -> AsyncIterator[Event]:
        """The run's events; stops (cancelling the run and its calls) once the client has gone:
        ``gone()`` returns when it has (the ASGI server tells; nothing polls)."""
        async with self.server.running():
            ready = await self.server.ready(self.strategy, self.spec, self.model, self.llm)
            stream = ready.astream(self.req.question, llm=self.llm, budget=self.budget, kind=self.req.kind,  # type: ignore[arg-type]
                                   conversation=self.req.conversation, sampling=sampling_args(self.req.sampling),
                                   seed=self.req.seed, text=self.req.stream)
            left = asyncio.ensure_future(gone())
            nxt: asyncio.Future[Event] | None = None
            try:
                while True:
                    nxt = asyncio.ensure_future(stream.__anext__())
                    await asyncio.wait({nxt, left}, return_when=asyncio.FIRST_COMPLETED)
                    if not nxt.done():
                        self.server.metrics.disconnected()
                        return
                    try:
                        event = nxt.result()
                    except StopAsyncIteration:
                        return
                    nxt = None
                    self.server.metrics.event(event, self.model)
                    yield event
            finally:
                left.cancel()
                if nxt is not None and not nxt.done():
                    nxt.cancel()  # cancels the run and its upstream calls (see Strategy.astream)
                    await asyncio.gather(nxt, return_exceptions=True)
                await stream.aclose()

    def answer(self, result: Result) -> dict[str, Any]:
        trace_id = self.server.keep_trace(result, self.tenant)
        if self.server.otel_provider is not None:
            from ..integrations.otel import export_trace

            summary = result.to_dict()
            summary.pop("trace", None)
            export_trace(result.trace or {}, tracer_provider=self.server.otel_provider, result=summary)
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.req.model,
            "choices": [{"index": 0, "message": _message(result),
                         "finish_reason": "length" if result.exhausted and not result.answer else "stop"}],
            "usage": _usage_json(upstream_usage(result.trace)),
            "reasoners": _summary(result, self.spec, trace_id),
        }

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.req.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return "data: " + json.dumps(body) + "\n\n"

    async def sse(self, gone: Callable[[], Awaitable[Any]]) -> AsyncIterator[str]:
        """The run as server-sent events in OpenAI's chunk format, ending with ``data: [DONE]``."""
        yield self.chunk({"role": "assistant", "content": ""})
        streamed, thought, calls, tokens = False, False, 0, 0
        try:
            async for event in self.events(gone):
                if isinstance(event, TextDelta):
                    streamed = True
                    yield self.chunk({"content": event.text})
                elif isinstance(event, ReasoningText):
                    thought = True
                    yield self.chunk({"reasoning_content": event.text})
                elif isinstance(event, CallFinished):
                    calls, tokens = calls + 1, tokens + event.usage.total_tokens
                    yield self.chunk({}, reasoners={"event": "call", "calls": calls, "tokens": tokens})
                elif isinstance(event, SampleAnswered):
                    yield self.chunk({}, reasoners={"event": "sample", "index": event.index, "answer": event.answer,
                                                    "failed": event.failed})
                elif isinstance(event, Votes):
                    yield self.chunk({}, reasoners={"event": "votes", "counts": event.counts,
                                                    "samples": event.samples})
                elif isinstance(event, Finished):
                    body = self.answer(event.result)
                    message = body["choices"][0]["message"]
                    if not thought and message.get("reasoning_content"):  # thinking goes before the content
                        yield self.chunk({"reasoning_content": message["reasoning_content"]})
                    if not streamed:
                        yield self.chunk({"content": message["content"]})
                    yield self.chunk({}, body["choices"][0]["finish_reason"], reasoners=body["reasoners"])
                    if self.req.include_usage:
                        yield "data: " + json.dumps({"id": self.id, "object": "chat.completion.chunk",
                                                     "created": self.created, "model": self.req.model,
                                                     "choices": [], "usage": body["usage"]}) + "\n\n"
                    self.server.metrics.finished(200, body["usage"])
        except (ReasonersError, BadRequest) as e:
            status, code = status_of(e)
            self.server.metrics.failed(status, e)
            yield "data: " + json.dumps(error_body(self.server.error_message(e), code)) + "\n\n"
        except Exception as e:  # a bug of ours: one line to the client, the rest to the log
            log.exception("streamed request failed")
            self.server.metrics.failed(500, e)
            yield "data: " + json.dumps(error_body(f"internal error: {type(e).__name__}", "internal_error")) + "\n\n"
        yield "data: [DONE]\n\n"
