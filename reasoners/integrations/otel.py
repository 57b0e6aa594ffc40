"""A run's trace as OpenTelemetry spans, with the GenAI semantic conventions.

:func:`export_trace` turns a finished trace (``result.trace``, a ``--trace`` file, a server's
``/v1/traces/{id}``) into one OpenTelemetry trace: a span for the run, one per strategy span,
one per model call, with their real start and end times. Model calls carry the GenAI
attributes (``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.request.temperature``, ``gen_ai.request.max_tokens``, ``gen_ai.response.finish_reasons``,
``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``); ours go under ``reasoners.``
(the spec, budget and spend, answers, votes, scores, cache hits, retries, exhausted and
degraded flags, reasoning tokens). Prompt and completion text go out only when asked
(``capture_content=True`` or ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``, the
conventions' switch), as ``gen_ai.input.messages`` / ``gen_ai.output.messages``. Secrets never:
traces hold none, and every string is redacted once more on the way out.

The tracer provider is the application's (``opentelemetry.trace.set_tracer_provider``), or the
one :func:`configured_provider` makes from the standard variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``). Needs the ``otel`` extra (``opentelemetry-sdk``, the OTLP exporter).
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..core.errors import ConfigError
from ..core.trace import redact

__all__ = ["export_trace", "configured_provider", "capture_content_default", "provider_name"]

_PROVIDERS = {"local": "llama_cpp", "openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini",
              "vertex_ai": "gcp.vertex_ai", "bedrock": "aws.bedrock", "azure": "azure.ai.openai",
              "groq": "groq", "mistral": "mistral_ai", "deepseek": "deepseek", "fake": "reasoners.fake"}


def provider_name(model: str) -> str:
    """``gen_ai.provider.name`` for a model string (``openai/gpt-4o`` -> ``openai``)."""
    head = model.split("/", 1)[0] if "/" in model else model
    return _PROVIDERS.get(head, head)


def capture_content_default() -> bool:
    return os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").lower() in ("1", "true", "yes")


def configured_provider(service_name: str | None = None) -> Any:
    """A tracer provider exporting over OTLP/HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the SDK's
    default, ``http://localhost:4318``), named ``OTEL_SERVICE_NAME`` (else ``reasoners``)."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as e:
        raise ConfigError('OpenTelemetry export needs its extra: pip install "reasoners-toolkit[otel]"') from e
    name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "reasoners"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _scalar(value: Any) -> Any:
    """An attribute value OpenTelemetry takes: a scalar, a list of one scalar type, or JSON text."""
    if isinstance(value, (bool, int, float, str)):
        return redact(value) if isinstance(value, str) else value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return [redact(v) for v in value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                           for v in value):
        return [float(v) for v in value]
    return redact(json.dumps(value, default=str))


def export_trace(trace: dict[str, Any], *, tracer_provider: Any = None, capture_content: bool | None = None,
                 result: dict[str, Any] | None = None) -> None:
    """Send ``trace`` as spans through ``tracer_provider`` (the global one when None). ``result``
    (``Result.to_dict()``) adds the answer, votes and candidates to the run's span."""
    try:
        from opentelemetry import trace as otel
        from opentelemetry.trace import Status, StatusCode
    except ImportError as e:
        raise ConfigError('OpenTelemetry export needs its extra: pip install "reasoners-toolkit[otel]"') from e
    if not isinstance(trace, dict) or "kind" not in trace:
        raise ConfigError("not a trace: give result.trace or a --trace file's contents")
    content = capture_content_default() if capture_content is None else capture_content
    tracer = (tracer_provider or otel.get_tracer_provider()).get_tracer("reasoners")
    model = str(trace.get("attrs", {}).get("model") or trace.get("model") or "")

    def emit(node: dict[str, Any], parent: Any) -> None:
        kind, name = node.get("kind", ""), str(node.get("name", ""))
        start = float(node.get("start") or 0.0)
        end = start + float(node.get("seconds") or 0.0)
        attrs: dict[str, Any] = {}
        node_attrs = node.get("attrs") or {}
        usage = node.get("usage") or {}
        if kind in ("llm", "score"):
            request = node_attrs.get("request") or {}
            call_model = name or model
            span_name = f"{'chat' if kind == 'llm' else 'score'} {call_model}"
            attrs.update({
                "gen_ai.operation.name": "chat" if kind == "llm" else "score",
                "gen_ai.provider.name": provider_name(call_model),
                "gen_ai.request.model": call_model,
                "gen_ai.usage.input_tokens": int(usage.get("prompt_tokens", 0)),
                "gen_ai.usage.output_tokens": int(usage.get("completion_tokens", 0)),
                "reasoners.cached": bool(node_attrs.get("cached")),
                "reasoners.retries": int(node_attrs.get("retries", 0) or 0),
            })
            if usage.get("reasoning_tokens"):
                attrs["reasoners.core.usage.reasoning_tokens"] = int(usage["reasoning_tokens"])
            for key, attr in (("temperature", "gen_ai.request.temperature"), ("max_tokens", "gen_ai.request.max_tokens"),
                              ("top_p", "gen_ai.request.top_p"), ("seed", "gen_ai.request.seed")):
                if request.get(key) is not None:
                    attrs[attr] = request[key]
            responses = node_attrs.get("response") or []
            reasons = [str(r.get("finish_reason")) for r in responses if isinstance(r, dict) and r.get("finish_reason")]
            if reasons:
                attrs["gen_ai.response.finish_reasons"] = reasons
            if content:
                if request.get("messages") is not None:
                    attrs["gen_ai.input.messages"] = request["messages"]
                if responses:
                    attrs["gen_ai.output.messages"] = [
                        {"role": "assistant", "parts": [{"type": "text", "content": r.get("text", "")}]
                         + ([{"type": "reasoning", "content": r["reasoning"]}] if r.get("reasoning") else []),
                         "finish_reason": r.get("finish_reason")} for r in responses if isinstance(r, dict)]
        else:
            span_name = f"{kind} {name}".strip()
            attrs["reasoners.span.kind"] = kind
            if kind == "strategy":
                attrs["reasoners.strategy"] = name
            for key, value in node_attrs.items():
                if key in ("config", "tree", "plan", "history") or isinstance(value, (bool, int, float, str)):
                    attrs[f"reasoners.{key}"] = value
        if usage and kind not in ("llm", "score"):
            attrs["reasoners.core.usage.total_tokens"] = int(usage.get("total_tokens", 0))
            attrs["reasoners.core.usage.calls"] = int(usage.get("calls", 0))
        if parent is None:
            attrs["reasoners.run"] = name
            for key in ("model", "seed"):
                if trace.get(key) is not None or (trace.get("attrs") or {}).get(key) is not None:
                    attrs[f"reasoners.{key}"] = trace.get(key, (trace.get("attrs") or {}).get(key))
            if result is not None:
                attrs.update(_result_attrs(result))
        context = otel.set_span_in_context(parent) if parent is not None else None
        span = tracer.start_span(span_name, context=context, start_time=_ns(start),
                                 kind=otel.SpanKind.CLIENT if kind in ("llm", "score") else otel.SpanKind.INTERNAL,
                                 attributes={k: _scalar(v) for k, v in attrs.items() if v is not None})
        if node.get("error"):
            span.set_status(Status(StatusCode.ERROR, redact(str(node["error"]))[:500]))
            span.set_attribute("error.type", str(node["error"]).split(":", 1)[0][:100])
        for child in node.get("children") or []:
            emit(child, span)
        span.end(end_time=max(_ns(end), _ns(start)))

    emit(trace, None)


def _result_attrs(result: dict[str, Any]) -> dict[str, Any]:
    meta = result.get("metadata") or {}
    usage = result.get("usage") or {}
    out: dict[str, Any] = {
        "reasoners.answer": result.get("answer") if result.get("answer") is not None else "",
        "reasoners.confidence": float(result.get("confidence") or 0.0),
        "reasoners.exhausted": bool(result.get("exhausted")),
        "reasoners.degraded": bool(result.get("degraded")),
        "reasoners.core.usage.total_tokens": int(usage.get("total_tokens", 0)),
        "reasoners.core.usage.calls": int(usage.get("calls", 0)),
        "reasoners.candidates.answers": [str(c.get("answer")) for c in result.get("candidates") or []],
    }
    if meta.get("tallies"):
        out["reasoners.votes"] = meta["tallies"]
    scores = [c.get("score") for c in result.get("candidates") or [] if c.get("score") is not None]
    if scores:
        out["reasoners.candidates.scores"] = scores
    return out
