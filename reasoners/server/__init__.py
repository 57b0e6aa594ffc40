"""``reasoners serve``: an OpenAI-compatible server that runs any strategy per request.

Endpoints: ``POST /v1/chat/completions`` (streaming or not), ``GET /v1/models``,
``GET /v1/traces/{id}``, ``GET /health``, ``GET /metrics``. See ``docs/server.md``.
Needs the ``server`` extra: ``pip install "reasoners-toolkit[server]"``.
"""

# (no `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time)
import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from ..core.errors import ConfigError, ReasonersError
from ..llm.local import DEFAULT_MODEL
from ..strategies.base import REGISTRY
from ..strategies.events import Finished
from .app import Run, Server, ServerConfig, error_body, status_of
from .request import BadRequest, parse_chat

__all__ = ["ServerConfig", "Server", "create_app", "serve", "DEFAULT_MODEL"]

log = logging.getLogger(__name__)


def create_app(config: ServerConfig) -> Any:
    """The FastAPI application for ``config``."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import (
            HTMLResponse,
            JSONResponse,
            Response,
            StreamingResponse,
        )
        from starlette.exceptions import HTTPException
    except ImportError as e:
        raise ConfigError('the server needs its extra: pip install "reasoners-toolkit[server]"') from e

    server = Server(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        await server.prepare_default()  # once, before the first request, under the operator's budget
        yield

    # FastAPI's own OpenTelemetry HTTP spans off: a run's trace is what the server exports (--otel), and
    # FastAPI would otherwise look the global providers up in os.environ on every request
    app = FastAPI(title="reasoners", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.server = server

    def fail(status: int, message: str, code: str, param: str | None = None, **headers: str) -> Any:
        return JSONResponse(error_body(message, code, param), status_code=status, headers=headers or None)

    def refused(e: BadRequest) -> Any:
        server.metrics.failed(e.status, e)
        extra = {"Retry-After": "1"} if e.status == 429 else {}
        return fail(e.status, e.message, e.code, e.param, **extra)

    def unauthorized() -> Any:
        return fail(401, "missing or wrong API key: send Authorization: Bearer <key>", "invalid_api_key",
                    **{"WWW-Authenticate": "Bearer"})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        return fail(exc.status_code, str(exc.detail), "not_found" if exc.status_code == 404 else "invalid_request")

    @app.get("/health")
    async def health() -> Any:
        return {"status": "ok", "models": list(server.llms), "admitted": server.admitted}

    @app.get("/metrics")
    async def metrics() -> Any:
        return Response(server.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models(request: Request) -> Any:
        if not server.authorized(request.headers.get("authorization")):
            return unauthorized()
        now = int(time.time())
        data = [{"id": m, "object": "model", "created": now, "owned_by": "upstream"} for m in server.llms]
        data += [{"id": name, "object": "model", "created": now, "owned_by": "reasoners"} for name in sorted(REGISTRY)]
        return {"object": "list", "data": data}

    @app.get("/v1/traces/{trace_id}/view")
    async def trace_view(trace_id: str, request: Request) -> Any:
        if not server.authorized(request.headers.get("authorization")):
            return unauthorized()
        kept = server.trace_of(trace_id, server.tenant(request.headers.get("authorization")))
        if kept is None:
            return fail(404, f"no trace {trace_id[:64]!r} is kept for this key", "not_found")
        from ..integrations.viewer import trace_page

        return HTMLResponse(trace_page(kept, title=f"reasoners trace {trace_id[:24]}"))

    @app.get("/v1/traces/{trace_id}")
    async def trace(trace_id: str, request: Request) -> Any:
        if not server.authorized(request.headers.get("authorization")):
            return unauthorized()
        kept = server.trace_of(trace_id, server.tenant(request.headers.get("authorization")))
        if kept is None:  # also another key's: a key reads only the traces of its own requests
            return fail(404, f"no trace {trace_id[:64]!r} is kept for this key (only the last "
                        f"{config.traces_kept} are kept)", "not_found")
        return kept

    async def read_json(request: Request) -> Any:
        limit = config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BadRequest(f"the body is {declared} bytes; this server takes at most {limit}")
        raw = bytearray()
        async for part in request.stream():
            raw += part
            if len(raw) > limit:
                raise BadRequest(f"the body is over {limit} bytes, the most this server takes")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"the body is not valid JSON: {e}") from e
        except RecursionError:
            raise BadRequest("the body's JSON nests too deeply") from None

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        if not server.authorized(request.headers.get("authorization")):
            return unauthorized()
        started = time.perf_counter()
        try:  # the whole body first, under a deadline: a client that stalls mid-body holds no slot
            body = await asyncio.wait_for(read_json(request), timeout=config.body_seconds)
        except asyncio.TimeoutError:
            return refused(BadRequest(f"the request body did not arrive within {config.body_seconds:g} s",
                                      status=408, code="request_timeout"))
        except BadRequest as e:
            return refused(e)
        try:
            slot = server.admit()
        except BadRequest as e:
            return refused(e)
        try:
            run = Run(server, parse_chat(body), server.tenant(request.headers.get("authorization")))
        except BadRequest as e:
            slot.release()
            return refused(e)
        except RecursionError:
            slot.release()
            return refused(BadRequest("the request nests too deeply"))

        async def gone() -> None:
            """Returns once the client has gone: the ASGI server's next message after the body says so."""
            while (await request.receive())["type"] != "http.disconnect":
                pass

        def done() -> None:
            slot.release()
            server.metrics.latency.observe(time.perf_counter() - started)

        if run.req.stream:
            async def body() -> Any:
                try:
                    async for part in run.sse(gone):
                        yield part
                finally:
                    done()

            return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        try:
            result = None
            async for event in run.events(gone):
                if isinstance(event, Finished):
                    result = event.result
            if result is None:  # the client went away; nobody reads this
                return Response(status_code=499)
            answer = run.answer(result)
            server.metrics.finished(200, answer["usage"])
            return answer
        except (ReasonersError, BadRequest) as e:
            status, code = status_of(e)
            server.metrics.failed(status, e)
            return fail(status, server.error_message(e), code)
        except Exception as e:  # a bug of ours: say so in one line, log the rest
            log.exception("request failed")
            server.metrics.failed(500, e)
            return fail(500, f"internal error: {type(e).__name__}", "internal_error")
        finally:
            done()

    return app


def serve(config: ServerConfig, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the server until interrupted. Models are loaded and keys checked first, so a bad
    model, spec or key fails here, before the port is taken."""
    import gc
    import sys

    import uvicorn

    app = create_app(config)
    for llm in app.state.server.llms.values():
        llm.capabilities  # noqa: B018  (loads local models, checks upstream keys)
    # what start-up made lives as long as the process: out of the collector's sight, a full
    # collection (which many requests in flight trigger often) scans only what requests made
    gc.collect()
    gc.freeze()
    print(f"reasoners: serving {', '.join(config.models)} on http://{host}:{port}/v1", file=sys.stderr, flush=True)
    # asyncio's own loop, even where uvloop is installed: the sandbox starts its processes with
    # options (inherited descriptors, a new session) that uvloop's subprocess support refuses
    uvicorn.run(app, host=host, port=port, log_level="warning", loop="asyncio")
