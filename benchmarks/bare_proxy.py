"""The floor for a pass-through server: FastAPI and uvicorn (as `reasoners serve` runs them) that post
each chat request to the upstream with one pooled aiohttp session and return its JSON, nothing else
(no strategy, budget, trace or metrics). ``server_load.py --pass-through`` measures it beside ours.

    python benchmarks/bare_proxy.py --port 8010 --upstream http://127.0.0.1:8001/v1
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import aiohttp
import uvicorn
from fastapi import FastAPI, Request


def app_for(upstream: str) -> FastAPI:
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})
    sessions: dict[int, aiohttp.ClientSession] = {}

    @app.get("/v1/models")
    async def models() -> Any:
        return {"object": "list", "data": [{"id": "stub", "object": "model"}]}

    @app.get("/cpu")
    async def cpu() -> Any:  # this process's CPU seconds so far, for server_load.py
        return time.process_time()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = {**json.loads(await request.body()), "model": "stub"}
        session = sessions.get(0) or sessions.setdefault(0, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)))
        async with session.post(f"{upstream}/chat/completions", data=json.dumps(body),
                                headers={"Content-Type": "application/json"}) as r:
            return json.loads(await r.read())

    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    args = p.parse_args()
    uvicorn.run(app_for(args.upstream), host="127.0.0.1", port=args.port, log_level="warning", loop="asyncio")


if __name__ == "__main__":
    main()
