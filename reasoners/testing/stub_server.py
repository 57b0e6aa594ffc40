"""A tiny OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It answers ``/v1/chat/completions`` and ``/v1/models`` from a script of
behaviours (status codes, Retry-After, malformed bodies, hangs, latency, dropped
connections, an error that echoes the request's Authorization header), so retry,
transport and redaction behaviour can be tested against real HTTP without a
model. ``fault_rate`` mixes random faults into the default replies.

>>> with StubServer(script=[Reply.status(429, retry_after=0.1), Reply.ok("hi")]) as srv:  # doctest: +SKIP
...     LLM("openai/stub", api_base=srv.url, api_key="x").generate("hello")
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["StubServer", "Reply", "THINKING_FORMATS"]

THINKING_FORMATS = ("inline", "reasoning_content", "reasoning", "harmony", "hidden", "total_only", "anthropic")
"""How reasoning models' providers send thinking, as the stub imitates them: inline ``<think>`` tags
(DeepSeek-R1 and its distills, QwQ), a ``reasoning_content`` field (DeepSeek's API, vLLM, llama.cpp),
a ``reasoning`` field (OpenRouter, Ollama), gpt-oss's harmony channels in the text, hidden thinking
billed as ``reasoning_tokens`` (OpenAI's o-series), thinking counted only in ``total_tokens``, and
Anthropic's thinking blocks (``/v1/messages``, for litellm's ``anthropic/`` provider)."""


def _pieces(text: str) -> list[str]:
    """``text`` in stream-sized pieces (a word each, spaces kept) that join back to it exactly."""
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)] if text else []


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default 5 drops SYNs under a burst of connects (1 s retransmits)
    daemon_threads = True


@dataclass
class Reply:
    """One scripted behaviour of the server."""

    status: int = 200
    text: str = "The answer is 42."
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # raw body, overrides the completion JSON
    delay: float = 0.0
    reset: bool = False  # drop the connection without answering
    echo_auth: bool = False  # put the request's Authorization header into the error body
    word_delay: float = 0.0  # when streaming: seconds between words
    reasoning_tokens: int = 0  # reported in usage.completion_tokens_details, as reasoning models do
    reasoning: str = ""  # a reasoning model's thinking, sent as ``thinking`` says
    thinking: str | None = None  # one of THINKING_FORMATS: how a reasoning model's provider sends it
    finish_reason: str = "stop"  # "length": the reply was cut off (inside its thinking, when text is "")
    logprobs: list[float] | None = None  # one per word of text: sent when asked (logprobs=true), whole and streamed

    @classmethod
    def thinker(cls, reasoning: str, text: str, thinking: str = "inline", **kw: Any) -> Reply:
        """A reasoning model's reply: ``reasoning`` then the final ``text``, sent the way ``thinking``
        names (see :data:`THINKING_FORMATS`)."""
        return cls(text=text, reasoning=reasoning, thinking=thinking, **kw)

    def parts(self) -> tuple[dict[str, str], list[dict[str, str]], dict[str, Any]]:
        """The message as sent, its stream deltas in order, and its usage, in this reply's format."""
        words = len(self.text.split())
        thought = len(self.reasoning.split())
        usage: dict[str, Any] = {"prompt_tokens": 10, "completion_tokens": words + thought,
                                 "total_tokens": 10 + words + thought}
        if self.reasoning_tokens:
            usage["completion_tokens"] = words
            usage["total_tokens"] = 10 + words
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        fmt = self.thinking
        if fmt is None or fmt == "inline":
            content = f"<think>\n{self.reasoning}\n</think>\n\n{self.text}" if fmt else self.text
            if fmt and not self.text and self.finish_reason == "length":
                content = f"<think>\n{self.reasoning}"  # cut off inside the thinking
            return {"content": content}, [{"content": w} for w in _pieces(content)], usage
        if fmt in ("reasoning_content", "reasoning"):
            deltas = [{fmt: w} for w in _pieces(self.reasoning)] + [{"content": w} for w in _pieces(self.text)]
            return {"content": self.text, fmt: self.reasoning}, deltas, usage
        if fmt == "harmony":
            content = f"<|channel|>analysis<|message|>{self.reasoning}<|end|>"
            if self.text:
                content += f"<|start|>assistant<|channel|>final<|message|>{self.text}<|return|>"
            return {"content": content}, [{"content": w} for w in _pieces(content)], usage
        if fmt == "hidden":  # o-series: the thinking is billed, never shown
            hidden = self.reasoning_tokens or thought
            usage = {"prompt_tokens": 10, "completion_tokens": words + hidden, "total_tokens": 10 + words + hidden,
                     "completion_tokens_details": {"reasoning_tokens": hidden}}
            return {"content": self.text}, [{"content": w} for w in _pieces(self.text)], usage
        if fmt == "total_only":  # the thinking counted only in total_tokens
            usage = {"prompt_tokens": 10, "completion_tokens": words, "total_tokens": 10 + words + thought}
            return {"content": self.text}, [{"content": w} for w in _pieces(self.text)], usage
        raise ValueError(f"unknown thinking format {fmt!r}; known: {', '.join(THINKING_FORMATS)}")

    @classmethod
    def ok(cls, text: str = "The answer is 42.", delay: float = 0.0) -> Reply:
        return cls(text=text, delay=delay)

    @classmethod
    def error(cls, status: int, *, retry_after: float | str | None = None, message: str = "error") -> Reply:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = json.dumps({"error": {"message": message, "type": "error", "code": status}})
        return cls(status=status, headers=headers, body=body)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(body='{"id": "x", "choices": [ {"message": ')

    @classmethod
    def hang(cls, seconds: float) -> Reply:
        return cls(delay=seconds)

    @classmethod
    def connection_reset(cls) -> Reply:
        return cls(reset=True)

    @classmethod
    def auth_echo(cls, status: int = 401) -> Reply:
        """An error whose message quotes the caller's Authorization header, as careless servers do."""
        return cls(status=status, echo_auth=True)


def _logprobs(text: str, values: list[float], body: dict[str, Any]) -> list[dict[str, Any]]:
    """OpenAI's ``logprobs.content`` for ``text``, a token a word (as the stream sends them), each with
    ``top_logprobs`` as many as asked: the word's own, then alternatives sharing the rest of the
    probability evenly (so a likely word has a peaked distribution, an unlikely one a flat one)."""
    k = int(body.get("top_logprobs") or 0)
    out = []
    for word, value in zip(_pieces(text), values):
        rest = max(1e-9, 1 - math.exp(value)) / max(1, k - 1)
        top = [{"token": word, "logprob": value}] + [{"token": f"alt{j}", "logprob": math.log(rest)}
                                                     for j in range(1, k)]
        out.append({"token": word, "logprob": value, "bytes": None, "top_logprobs": top[:k]})
    return out


def _anthropic(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    """``reply`` as Anthropic's Messages API answers: a thinking block, then the text block."""
    content: list[dict[str, Any]] = []
    if reply.reasoning:
        content.append({"type": "thinking", "thinking": reply.reasoning, "signature": "stub-signature"})
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    thought, words = len(reply.reasoning.split()), len(reply.text.split())
    return {"id": "msg_stub", "type": "message", "role": "assistant", "model": body.get("model", "stub"),
            "content": content, "stop_reason": "max_tokens" if reply.finish_reason == "length" else "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": thought + words}}


class StubServer:
    """Serve ``script`` in order, then ``default`` forever. ``requests`` records every JSON body received.

    ``respond`` answers each request as a function of its JSON body instead of ``default``.
    ``supports_n=False`` answers one choice whatever ``n`` asks, as some servers do.
    A request with ``stream: true`` is answered as server-sent events, a word a chunk
    (``word_delay`` apart), with a usage chunk when ``stream_options.include_usage``.
    A :meth:`Reply.thinker` reply imitates a reasoning model's provider, whole and streamed
    (see :data:`THINKING_FORMATS`); ``/v1/messages`` answers in Anthropic's format.
    ``fault_rate`` turns that share of the default replies (seeded by ``seed``) into a fault
    drawn evenly from: 429 with Retry-After 0, 500, a malformed body, a hang of
    ``hang_seconds`` and a dropped connection. ``faults`` counts the ones served.
    """

    def __init__(
        self,
        script: list[Reply] | None = None,
        *,
        default: Reply | None = None,
        latency: float = 0.0,
        supports_n: bool = True,
        fault_rate: float = 0.0,
        seed: int = 0,
        hang_seconds: float = 5.0,
        respond: Callable[[dict[str, Any]], Reply] | None = None,
    ):
        self.script = list(script or [])
        self.respond = respond
        self.supports_n = supports_n
        self.fault_rate = fault_rate
        self.hang_seconds = hang_seconds
        self.faults = 0
        self.streamed = 0  # streams sent to the end
        self._rng = random.Random(seed)
        self.default = default or Reply.ok(delay=latency)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self.script:
                return self.script.pop(0)
            if self.respond is not None:  # a function of the request, not of arrival order
                return self.respond(body)
            if self.fault_rate and self._rng.random() < self.fault_rate:
                self.faults += 1
                return self._rng.choice([
                    Reply.error(429, retry_after=0), Reply.error(500), Reply.malformed(),
                    Reply.hang(self.hang_seconds), Reply.connection_reset(),
                ])
            return self.default

    def start(self, port: int = 0) -> StubServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else keep-alive replies stall ~40 ms on delayed ACKs

            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):  # a client that hung up (a cut stream)
                    pass

            def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
                _, deltas, usage = reply.parts()
                base = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()),
                        "model": body.get("model", "stub")}
                events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                 "finish_reason": None}]}]
                entries = _logprobs(reply.text, reply.logprobs, body) if body.get("logprobs") and reply.logprobs \
                    is not None and (reply.thinking is None) else None
                events += [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None,
                                                 **({"logprobs": {"content": [entries[k]]}}
                                                    if entries is not None and k < len(entries) else {})}]}
                           for k, d in enumerate(deltas)]
                events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    events.append({**base, "choices": [], "usage": usage})
                words = deltas
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for i, event in enumerate([*events, None]):
                        if reply.word_delay and 0 < i < len(words) + 1:
                            time.sleep(reply.word_delay)
                        data = ("data: [DONE]" if event is None else "data: " + json.dumps(event)) + "\n\n"
                        raw = data.encode("utf-8")
                        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    with stub._lock:
                        stub.streamed += 1
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def do_GET(self) -> None:
                self._send(200, json.dumps({"object": "list", "data": [{"id": "stub", "object": "model"}]}))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                reply = stub._next(body)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.reset:
                    self.close_connection = True
                    self.connection.close()
                    return
                if reply.echo_auth:
                    message = f"invalid credentials: {self.headers.get('Authorization', '')}"
                    self._send(reply.status, json.dumps({"error": {"message": message, "type": "auth"}}))
                    return
                if reply.body is not None:
                    self._send(reply.status, reply.body, reply.headers)
                    return
                if body.get("stream"):
                    self._stream(reply, body)
                    return
                if self.path.rstrip("/").endswith("/messages"):  # Anthropic's API, for litellm's provider
                    self._send(reply.status, json.dumps(_anthropic(reply, body)), reply.headers)
                    return
                n = int(body.get("n") or 1) if stub.supports_n else 1
                msg, _, usage = reply.parts()
                payload = {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "stub"),
                    "choices": [
                        {"index": i, "message": {"role": "assistant", **msg}, "finish_reason": reply.finish_reason,
                         **({"logprobs": {"content": _logprobs(reply.text, reply.logprobs, body)}}
                            if body.get("logprobs") and reply.logprobs is not None else {})}
                        for i in range(n)
                    ],
                    "usage": {k: v * n if k in ("completion_tokens",) else v for k, v in usage.items()},
                }
                payload["usage"]["total_tokens"] = usage["total_tokens"] + (n - 1) * usage["completion_tokens"]
                self._send(reply.status, json.dumps(payload), reply.headers)

        self._server = _Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m reasoners.stub_server --port 8000 --latency 0.2``: serve until interrupted."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    p.add_argument("--text", default="Hello there!")
    p.add_argument("--no-n", action="store_true", help="answer one choice whatever n asks")
    p.add_argument("--fault-rate", type=float, default=0.0,
                   help="share of replies that are faults (429, 500, malformed, hang, dropped connection)")
    p.add_argument("--hang-seconds", type=float, default=5.0, help="how long a hang fault lasts")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    srv = StubServer(default=Reply.ok(args.text, delay=args.latency), supports_n=not args.no_n,
                     fault_rate=args.fault_rate, hang_seconds=args.hang_seconds, seed=args.seed)
    srv.start(port=args.port)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
