"""Observability (issue 41): a run's trace as OpenTelemetry spans with the GenAI conventions (the
SDK's in-memory exporter), and as one self-contained HTML page (``reasoners trace view``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoners import SelfConsistency
from reasoners.cli import main
from reasoners.integrations.otel import export_trace
from reasoners.integrations.viewer import page_for, trace_page
from reasoners.testing import FakeLLM

pytestmark = pytest.mark.slow  # starts processes (servers, sandboxes, Ray, a browser): not in `make unit`

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-observed-0123456789abcdefghijkl"


@pytest.fixture
def spans():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _run():
    llm = FakeLLM(["<think>3 + 4 is 7</think>The answer is 7.", "The answer is 8."])
    return SelfConsistency(n=3).run(f"What is 3 + 4? (my key is {KEY})", llm=llm)


def test_a_run_becomes_one_span_tree_with_the_genai_attributes(spans):
    provider, exporter = spans
    result = _run()
    summary = result.to_dict()
    summary.pop("trace")
    export_trace(result.trace, tracer_provider=provider, result=summary)
    got = exporter.get_finished_spans()
    assert len({s.context.trace_id for s in got}) == 1  # one trace per run
    root = next(s for s in got if s.parent is None)
    by_id = {s.context.span_id: s for s in got}
    calls = [s for s in got if s.name.startswith("chat ")]
    assert len(calls) == 3 and root.attributes["reasoners.answer"] == result.answer
    for call in calls:
        a = call.attributes
        assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "fake/fake"
        assert a["gen_ai.provider.name"] == "reasoners.fake" and a["gen_ai.request.temperature"] == 0.7
        assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
        assert a["gen_ai.response.finish_reasons"] == ("stop",)
        assert "gen_ai.input.messages" not in a  # content only when asked
        parent = by_id[call.parent.span_id]
        assert parent.attributes["reasoners.span.kind"] == "strategy"  # under the strategy span that made it
        assert call.start_time <= call.end_time
    assert root.attributes["reasoners.core.usage.calls"] == 3
    assert dict(json.loads(root.attributes["reasoners.votes"])) == result.metadata["tallies"]
    for s in got:
        assert KEY not in json.dumps({k: str(v) for k, v in s.attributes.items()})


def test_content_goes_out_only_when_asked_and_never_a_key(spans, monkeypatch):
    provider, exporter = spans
    result = _run()
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    export_trace(result.trace, tracer_provider=provider)
    call = next(s for s in exporter.get_finished_spans() if s.name.startswith("chat "))
    messages = json.loads(call.attributes["gen_ai.input.messages"])
    output = json.loads(call.attributes["gen_ai.output.messages"])
    assert "What is 3 + 4?" in messages[-1]["content"] and KEY not in messages[-1]["content"]
    assert output[0]["parts"][0]["content"] in ("The answer is 7.", "The answer is 8.")


def test_a_trace_file_becomes_a_page_with_its_calls_and_answer(tmp_path, capsys):
    trace = tmp_path / "run.json"  # as `reasoners run --trace` writes it
    result = _run()
    summary = result.to_dict()
    summary.pop("trace")
    trace.write_text(json.dumps({**result.trace, "version": 1, "result": summary}))
    assert main(["trace", "view", str(trace)]) == 0
    page = (tmp_path / "run.html").read_text()
    assert "<script src" not in page and "http://" not in page and "https://" not in page  # nothing fetched
    assert f"<b id='answer'>{result.answer}</b>" in page and "3 model calls" in page
    assert KEY not in page and "id='candidates'" in page and "<svg id=\"spend\"" in page


@pytest.mark.parametrize("content,message", [
    ('{"kind": "run", "name": "sc", "chil', "not JSON, or cut short"),
    ('{"kind": "run", "name": "sc", "version": 99}', "version 99"),
    ('[1, 2, 3]', "is not a reasoners trace"),
    ('{"kind": "llm"}', "is not a reasoners trace"),
    ("", "not JSON"),
])
def test_a_bad_trace_file_gets_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "t.json"
    path.write_text(content)
    assert main(["trace", "view", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reasoners: error:") and message in err and len(err.splitlines()) == 1


def test_every_committed_bench_folder_and_trace_has_a_page(tmp_path):
    folders = [p for p in (ROOT / "benchmarks" / "results").iterdir() if (p / "results.jsonl").is_file()]
    assert folders
    for folder in folders:
        page = page_for(folder)
        assert "<select id='problem'>" in page and "class='problem'" in page
    traces = [p for p in (ROOT / "benchmarks" / "results").rglob("*.json")
              if p.name.startswith("trace") and "kind" in p.read_text()[:200]]
    for path in traces:
        assert "id='tree'" in page_for(path)


def test_a_huge_trace_renders_small_and_lazily():
    calls = [{"kind": "llm", "name": "fake/x", "start": 1000.0 + i, "seconds": 0.5,
              "attrs": {"response": [{"text": f"answer {i}", "finish_reason": "stop"}], "cached": False},
              "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10, "calls": 1}}
             for i in range(10_000)]
    trace = {"kind": "run", "name": "sc", "start": 1000.0, "seconds": 0.0,
             "children": [{"kind": "strategy", "name": "sc", "start": 1000.0, "seconds": 1.0, "children": calls}]}
    page = trace_page(trace)
    assert "10000 model calls" in page and len(page) < 4_000_000


# -- the page in a real browser (Chromium from Debian's packages, driven by selenium) -----------------

@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def test_the_page_in_a_browser_shows_what_the_trace_holds(browser, tmp_path):
    from selenium.webdriver.common.by import By

    result = _run()
    summary = result.to_dict()
    summary.pop("trace")
    path = tmp_path / "run.json"
    path.write_text(json.dumps({**result.trace, "version": 1, "result": summary}))
    assert main(["trace", "view", str(path)]) == 0
    browser.get((tmp_path / "run.html").as_uri())
    assert browser.find_element(By.ID, "answer").text == result.answer
    rows = browser.find_elements(By.CSS_SELECTOR, "#tree .row")
    assert len(rows) == 1  # only the root, until opened
    for _ in range(4):  # open every node drawn so far, level by level
        for row in browser.find_elements(By.CSS_SELECTOR, "#tree .row"):
            if row.text.startswith("\u25b8"):
                row.click()
    calls = browser.find_elements(By.CSS_SELECTOR, "#tree .row[data-kind='llm']")
    assert len(calls) == 3
    for call in calls:  # a call opens to its reply (and thinking)
        call.click()
    shown = sum(int(r.text.split(", ")[1].split()[0]) for r in calls)
    assert shown == result.usage.total_tokens  # the tokens the page shows are the trace's
    texts = browser.execute_script("return [...document.querySelectorAll('#tree pre.response')].map(p => p.textContent)")
    assert any("The answer is" in t for t in texts) and any("[thinking] 3 + 4 is 7" in t for t in texts), texts
    answers = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#candidates td.answer")]
    assert sorted(answers) == sorted(str(c.answer) for c in result.candidates)
    browser.save_screenshot(str(tmp_path / "shot.png"))
    assert (tmp_path / "shot.png").stat().st_size > 1000


def test_a_huge_trace_opens_in_a_browser_in_under_three_seconds(browser, tmp_path):
    import time

    from selenium.webdriver.common.by import By

    calls = [{"kind": "llm", "name": "fake/x", "start": 1000.0 + i, "seconds": 0.5,
              "attrs": {"response": [{"text": f"answer {i}", "finish_reason": "stop"}]},
              "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10, "calls": 1}}
             for i in range(10_000)]
    trace = {"kind": "run", "name": "sc", "start": 1000.0, "seconds": 0.0,
             "children": [{"kind": "strategy", "name": "sc", "start": 1000.0, "seconds": 1.0, "children": calls}]}
    (tmp_path / "big.html").write_text(trace_page(trace))
    t0 = time.perf_counter()
    browser.get((tmp_path / "big.html").as_uri())
    root = browser.find_element(By.CSS_SELECTOR, "#tree .row")  # the page is open and drawn
    took = time.perf_counter() - t0
    assert took < 3.0 and "sc" in root.text
    root.click()
    browser.find_element(By.CSS_SELECTOR, "#tree .node .node .row").click()  # the strategy: 10,000 calls
    opened = browser.execute_script("return document.querySelectorAll('#tree .row[data-kind=llm]').length")
    assert opened == 10_000


def test_bench_otel_sends_each_run(tmp_path, monkeypatch):
    """`reasoners bench --otel` sends one trace per run through the configured provider."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    import reasoners.integrations.otel as otel

    monkeypatch.setattr(otel, "configured_provider", lambda service_name=None: provider)
    import asyncio

    from reasoners.bench import BenchConfig, parse_strategies, run_bench
    from reasoners.bench.tasks import load_task
    from reasoners.cli.common import send_trace as _send

    data = tmp_path / "g.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {i} + 1?", "answer": f"#### {i + 1}"}) + "\n"
                            for i in range(3)))
    task = load_task("gsm8k", path=data)
    llm = FakeLLM(["The answer is 2."])
    config = BenchConfig(task, parse_strategies("cot,sc:2"), llm, tmp_path / "o", [None],
                         export=lambda result: _send(result, provider))
    asyncio.run(run_bench(config))
    roots = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert len(roots) == 6 and len({s.context.trace_id for s in roots}) == 6  # one trace per run
