"""The server's Prometheus metrics, in a registry of its own (no global state)."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from ..strategies.events import CallFinished, Event

__all__ = ["Metrics"]


class Metrics:
    """Requests, upstream calls, tokens, errors and latency (``GET /metrics``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # the server's own CPU seconds, memory and open files (process_*)
        self.requests = Counter("reasoners_requests", "Chat completion requests answered, by HTTP status",
                                ["status"], registry=r)
        self.latency = Histogram("reasoners_request_seconds", "Seconds from request to answer", registry=r,
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
        self.calls = Counter("reasoners_upstream_calls", "Model calls made by runs, by model, kind and cache hit",
                             ["model", "kind", "cached"], registry=r)
        self.tokens = Counter("reasoners_upstream_tokens", "Tokens of upstream calls (cache hits excluded)",
                              ["kind"], registry=r)
        self.errors = Counter("reasoners_errors", "Requests that failed, by error class", ["type"], registry=r)
        self.in_flight = Gauge("reasoners_requests_in_flight", "Requests admitted (running or waiting)",
                               registry=r)
        self.prepare_tokens = Gauge("reasoners_prepare_tokens", "Tokens spent preparing the default strategy "
                                    "at start-up (AutoCoT's demos), by model", ["model"], registry=r)
        self.prepare_calls = Gauge("reasoners_prepare_calls", "Model calls spent preparing the default strategy "
                                   "at start-up, by model", ["model"], registry=r)

    def prepared(self, model: str, usage: Any) -> None:
        self.prepare_tokens.labels(model).set(usage.total_tokens)
        self.prepare_calls.labels(model).set(usage.calls)

    def event(self, event: Event, model: str) -> None:
        if isinstance(event, CallFinished):
            self.calls.labels(model, event.kind, str(event.cached).lower()).inc()
            if not event.cached:
                self.tokens.labels("prompt").inc(event.usage.prompt_tokens)
                self.tokens.labels("completion").inc(event.usage.completion_tokens)

    def finished(self, status: int, usage: dict[str, Any]) -> None:
        self.requests.labels(str(status)).inc()

    def failed(self, status: int, error: BaseException) -> None:
        self.requests.labels(str(status)).inc()
        self.errors.labels(type(error).__name__).inc()

    def rejected(self) -> None:
        self.requests.labels("429").inc()
        self.errors.labels("AtCapacity").inc()

    def disconnected(self) -> None:
        self.errors.labels("ClientDisconnected").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
