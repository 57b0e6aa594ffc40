"""OpenTelemetry export against a real collector: Arize Phoenix, started by this test on 127.0.0.1,
read back through Phoenix's own client. The run is a real one, on the embedded SmolLM2."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from reasoners import Budget, SelfConsistency

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory):
    binary = os.environ.get("REASONERS_PHOENIX") or str(ROOT / ".phoenix" / "bin" / "phoenix")
    port, grpc = _free_port(), _free_port()
    env = {**os.environ, "PHOENIX_WORKING_DIR": str(tmp_path_factory.mktemp("phoenix")), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(grpc), "PHOENIX_TELEMETRY_ENABLED": "false"}
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(240):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("Phoenix did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def _spans(url: str, project: str, want: int) -> list[dict]:
    from phoenix.client import Client

    client = Client(base_url=url)
    for _ in range(40):
        try:
            spans = client.spans.get_spans(project_identifier=project, limit=1000)
        except Exception:  # the project appears with its first span
            spans = []
        if len(spans) >= want:
            return spans
        time.sleep(0.5)
    return spans


def test_a_real_run_arrives_in_phoenix_as_one_trace_with_genai_attributes(phoenix, local_llm, monkeypatch, capsys):
    key = "sk-phoenix-test-0123456789abcdefgh"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", phoenix)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "reasoners-ci")
    monkeypatch.setenv("PHOENIX_PROJECT_NAME", "reasoners-ci")
    from reasoners.integrations.otel import configured_provider, export_trace

    result = SelfConsistency(n=2).run("What is 2 + 3?", llm=local_llm, budget=Budget(tokens=2000))
    provider = configured_provider()
    summary = result.to_dict()
    summary.pop("trace")
    export_trace(result.trace, tracer_provider=provider, result=summary)
    provider.force_flush()
    provider.shutdown()
    spans = _spans(phoenix, "default", 5)
    names = [s["name"] for s in spans]
    assert names.count("chat local/smollm2") == 2 and "run sc" in names
    assert len({s["context"]["trace_id"] for s in spans}) == 1  # one trace for the run
    by_id = {s["context"]["span_id"]: s for s in spans}
    for call in (s for s in spans if s["name"].startswith("chat ")):
        a = call["attributes"]
        assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "llama_cpp"
        assert a["gen_ai.request.model"] == "local/smollm2" and a["gen_ai.usage.output_tokens"] > 0
        assert by_id[call["parent_id"]]["name"] == "strategy cot"
    root = next(s for s in spans if s["parent_id"] is None)
    assert root["attributes"]["reasoners.answer"] == (result.answer or "")
    assert key not in str(spans)
