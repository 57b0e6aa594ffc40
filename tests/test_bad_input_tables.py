"""Bad input at scale (issue 37): command lines and server requests a careless or hostile user sends.

Every case: a non-zero exit (or a 4xx), one line naming what was wrong (asserted), no traceback,
nothing silently accepted, and no model call."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

import httpx
import pytest

from reasoners.cli import main
from reasoners.testing import serving as serving_upstream
from reasoners.testing.stub_server import Reply, StubServer


def _bad_numbers(flag: str, values: list[str], message: str, head: list[str]) -> list[tuple[list[str], str]]:
    return [([*head, flag, v], message) for v in values]


RUN = ["run", "q?", "--no-cache"]
BENCH = ["bench", "--task", "gsm8k", "--out", "{tmp}/o", "--limit", "1"]

CLI = [
    # run: budgets and sampling
    *_bad_numbers("--budget-tokens", ["0", "-5"], "--budget-tokens must be >= 1", RUN),
    *_bad_numbers("--budget-calls", ["0", "-1"], "--budget-calls must be >= 1", RUN),
    *_bad_numbers("--budget-cost", ["0", "-1", "inf", "nan"], "--budget-cost must be a number above 0", RUN),
    *_bad_numbers("--budget-seconds", ["0", "-2", "nan", "inf"], "--budget-seconds must be a number above 0", RUN),
    *_bad_numbers("--temperature", ["nan", "inf", "-0.5"], "temperature must be >= 0", RUN),
    *_bad_numbers("--max-tokens", ["0", "-3"], "max_tokens must be >= 1", RUN),
    ([*RUN, "--trace", "/"], "cannot write trace file /"),
    ([*RUN, "--trace", "{tmp}/a-file/t.json"], "cannot write trace file"),
    ([*RUN, "--trace", "/proc/version"], "cannot write trace file"),
    # run: specs
    ([*RUN, "--pipeline", 'cot(system="x\\q")'], "bad string"),
    ([*RUN, "--pipeline", 'cot(system="\\ud800")'], "surrogates not allowed"),
    ([*RUN, "--pipeline", "sc(base=" * 40 + "cot" + ")" * 40], "nests more than 16 deep"),
    ([*RUN, "--pipeline", "bon(scorer=trlm(llm=openai/gpt-4o))"], "llm takes a LLM object"),
    ([*RUN, "--pipeline", 'bon(scorer=judge(llm="openai/gpt-4o"))'], "llm takes a LLM object"),
    ([*RUN, "--pipeline", "sc.fast"], "sc has no preset 'fast'"),
    ([*RUN, "--pipeline", "sc(n=)"], "expected a value"),
    ([*RUN, "--pipeline", "sc(n=1,n=2)"], "parameter 'n' given twice"),
    ([*RUN, "--pipeline", "sc(n=1))"], "unexpected ')'"),
    ([*RUN, "--pipeline", "sc | trlm(x=1)"], "trlm has no parameter 'x'"),
    ([*RUN, "--pipeline", "sc(vote=weighted_sum)"], "vote takes one of"),
    ([*RUN, "--pipeline", "autocot(pool={tmp}/empty.txt)"], "has no questions"),
    ([*RUN, "--pipeline", "autocot(pool=/no/such/pool.txt)"], "cannot read the Auto-CoT pool"),
    ([*RUN, "--pipeline", "fobar(alpha=3)"], "alpha must be in [0, 1]"),
    ([*RUN, "--pipeline", "probtree(k=0)"], "k must be >= 1"),
    ([*RUN, "--pipeline", "codechain(n=0)"], "n must be >= 1"),
    ([*RUN, "--pipeline", "sc(n=-1)"], "n must be >= 1"),
    ([*RUN, "--pipeline", "sc(temperature=-1)"], "temperature"),
    ([*RUN, "--pipeline", "cot(max_tokens=0)"], "max_tokens must be >= 1"),
    ([*RUN, "--pipeline", "bon(scorer=magic)"], "unknown scorer 'magic'"),
    ([*RUN, "--pipeline", "sc(base=magic)"], "unknown strategy 'magic'"),
    ([*RUN, "--pipeline", "| trlm"], "expected a strategy name"),
    ([*RUN, "--pipeline", "sc |"], "expected a stage name"),
    ([*RUN, "--pipeline", "sc(n=3"], "expected ',' or ')'"),
    ([*RUN, "--pipeline", 'cot(demos="{tmp}/a-file")'], "demos"),
    # run: models
    ([*RUN, "--model", "openai/x", "--api-base", "http://"], "api_base must be an http(s) URL"),
    ([*RUN, "--model", "local/../../etc/passwd"], "local model"),
    # bench: budgets, sampling, limits
    *_bad_numbers("--budgets", [",", " , ", "0", "-5", "10,0"], "--budgets takes token budgets >= 1", BENCH),
    *_bad_numbers("--budgets", ["a", "1.5", "10;20"], "--budgets takes whole numbers", BENCH),
    *_bad_numbers("--temperature", ["nan", "inf", "-1"], "temperature must be >= 0", BENCH),
    *_bad_numbers("--max-tokens", ["0", "-1"], "max_tokens must be >= 1", BENCH),
    *_bad_numbers("--budget-tokens-per-problem", ["0", "-9"], "--budget-tokens-per-problem must be >= 1", BENCH),
    *_bad_numbers("--concurrency", ["0", "-2"], "--concurrency must be >= 1", BENCH),
    (["bench", "--task", "gsm8k", "--out", "{tmp}/o", "--limit", "0"], "limit must be >= 1"),
    # bench: tasks and data
    (["bench", "--task", "countdown(bogus=1)", "--out", "{tmp}/o", "--limit", "1"], "bogus"),
    (["bench", "--task", "gsm8k(", "--out", "{tmp}/o"], "task"),
    (["bench", "--task", "gsm8k", "--data", "/no/such.jsonl", "--out", "{tmp}/o"], "data file not found"),
    (["bench", "--task", "gsm8k", "--data", "{tmp}/binary.jsonl", "--out", "{tmp}/o"], "cannot read"),
    (["bench", "--task", "gsm8k", "--data", "{tmp}/empty.jsonl", "--out", "{tmp}/o"], "has no gsm8k problems"),
    (["bench", "--task", "gsm8k", "--data", "{tmp}/lists.jsonl", "--out", "{tmp}/o"], "needs 'question' and 'answer'"),
    (["bench", "--task", "gsm8k", "--data", "{tmp}/numbers.jsonl", "--out", "{tmp}/o"], "is not gsm8k data"),
    (["bench", "--task", "gsm8k", "--data", "{tmp}/fake.jsonl.gz", "--out", "{tmp}/o"], "cannot read"),
    (["bench", "--task", "gsm8k", "--data", "{tmp}/nojson.jsonl", "--out", "{tmp}/o"], "not JSON"),
    (["bench", "--task", "gsm8k", "--data", "{tmp}", "--out", "{tmp}/o"], "data file not found"),
    (["bench", "--task", "gsm8k", "--data", "{tmp}/nohash.jsonl", "--out", "{tmp}/o"], "without a '#### N' line"),
    (["bench", "--task", "game24", "--data", "{tmp}/nojson.jsonl", "--out", "{tmp}/o"], "needs a 'Puzzles' column"),
    (["bench", "--task", "game24", "--data", "{tmp}/empty.jsonl", "--out", "{tmp}/o"], "has no game24 problems"),
    (["bench", "--task", "mbpp", "--data", "{tmp}/lists.jsonl", "--out", "{tmp}/o"], "is not mbpp data"),
    (["bench", "--task", "humaneval", "--data", "{tmp}/lists.jsonl", "--out", "{tmp}/o"], "is not humaneval data"),
    # bench: output folder and allocation
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "/proc/x"], "cannot make the --out folder /proc/x"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/a-file"], "is a file"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/o", "--allocate", "adaptive"],
     "--allocate and --total-budget-tokens go together"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/o", "--total-budget-tokens", "100"],
     "--allocate and --total-budget-tokens go together"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/o", "--allocate", "adaptive",
      "--total-budget-tokens", "0", "--strategies", "sc"], "--total-budget-tokens must be >= 1"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/o", "--allocate", "adaptive",
      "--total-budget-tokens", "100", "--strategies", "cot"], "is not (use sc, sc:N, deepconf)"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/o", "--allocate", "adaptive",
      "--total-budget-tokens", "100", "--strategies", "sc", "--budgets", "10"], "replaces --budgets"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/o", "--strategies", "sc:0"], "N >= 1"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/o", "--strategies", "cot,,sc"], "an empty strategy"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/o", "--strategies", "cot,"], "an empty strategy"),
    # bench: a resume with other settings
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/run", "--model", "openai/other"],
     "holds a run with --model"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/run", "--model", "openai/x", "--seed", "9"],
     "holds a run with --seed 0"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/run", "--model", "openai/x", "--max-tokens", "9"],
     "holds a run with --max-tokens 640"),
    (["bench", "--task", "gsm8k", "--limit", "2", "--out", "{tmp}/run", "--model", "openai/x"],
     "holds a run with --limit 1"),
    (["bench", "--task", "gsm8k", "--limit", "1", "--out", "{tmp}/run", "--model", "openai/x",
      "--temperature", "0.5"], "holds a run with --temperature 0.0"),
    # analyze
    (["analyze", "--trace", "{tmp}"], "is a folder"),
    (["analyze", "--trace", "/no/such/trace.json"], "no such trace file"),
    (["analyze", "--trace", "{tmp}/nojson.jsonl"], "is not a trace"),
    (["analyze", "--trace", "{tmp}/lists.jsonl"], "is not a trace"),
    (["analyze", "--trace", "{tmp}/binary.jsonl"], "is not a trace"),
    (["analyze", "--trace", "{tmp}/deep.json"], "is not a trace"),
    (["analyze"], "give a bench folder or --trace FILE"),
    (["analyze", "{tmp}", "--trace", "{tmp}/t.json"], "give a bench folder or --trace FILE"),
    (["analyze", "/no/such/folder"], "no such bench folder"),
    (["analyze", "{tmp}/empty-folder"], "holds no results.jsonl"),
    # cache merge
    (["cache", "merge", "{tmp}/target.sqlite", "/no/such.sqlite"], "no such cache file"),
    (["cache", "merge", "{tmp}", "{tmp}/nojson.jsonl"], "is a folder"),
    (["cache", "merge", "{tmp}/target.sqlite", "{tmp}/nojson.jsonl"], "is not a reasoners cache"),
    (["cache", "merge", "{tmp}/target.sqlite", "{tmp}/binary.jsonl"], "is not a reasoners cache"),
    (["cache", "merge", "{tmp}/target.sqlite", "{tmp}/empty-folder"], "no such cache file"),
    (["cache", "merge", "/proc/x/target.sqlite", "{tmp}/binary.jsonl"], "cannot"),
    # serve (refused before the port is taken)
    *_bad_numbers("--port", ["-1", "0", "99999"], "--port must be between 1 and 65535", ["serve", "--model", "openai/x",
                                                                                         "--api-base",
                                                                                         "http://127.0.0.1:9/v1"]),
    *_bad_numbers("--upstream-timeout", ["-1", "0", "nan", "inf"], "--upstream-timeout must be a number of seconds",
                  ["serve"]),
    *_bad_numbers("--body-seconds", ["0", "-1", "nan"], "--body-seconds must be a number of seconds", ["serve"]),
    *_bad_numbers("--concurrency", ["0", "-1"], "--concurrency must be a whole number >= 1", ["serve"]),
    *_bad_numbers("--max-queue", ["-1"], "--max-queue must be a whole number >= 0", ["serve"]),
    *_bad_numbers("--max-budget-tokens", ["0"], "--max-budget-tokens must be a whole number >= 1", ["serve"]),
    *_bad_numbers("--max-sandboxes", ["0", "-4"], "--max-sandboxes must be a whole number >= 1", ["serve"]),
    (["serve", "--api-key", " "], "an --api-key is empty"),
    (["serve", "--api-key", "ключ-ключ-ключ"], "printable ASCII"),
    (["serve", "--model", "openai/x", "--model", "openai/x"], "give each --model once"),
    (["serve", "--strategy", "telepathy"], "unknown strategy 'telepathy'"),
    (["serve", "--model", "openai/x", "--api-base", "notaurl"], "api_base must be an http(s) URL"),
]


def _files(tmp) -> None:
    (tmp / "a-file").write_text("not a folder")
    (tmp / "empty.txt").write_text("\n\n")
    (tmp / "empty.jsonl").write_text("")
    (tmp / "binary.jsonl").write_bytes(bytes(range(256)) * 4)
    (tmp / "lists.jsonl").write_text("[1, 2]\n[3]\n")
    (tmp / "numbers.jsonl").write_text("1\n2\n")
    (tmp / "nojson.jsonl").write_text("question,answer\nwhat,4\n")
    (tmp / "nohash.jsonl").write_text(json.dumps({"question": "q?", "answer": "no marker"}) + "\n")
    (tmp / "fake.jsonl.gz").write_bytes(b"this is not gzip at all")
    (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp / "empty-folder").mkdir()
    run = tmp / "run"  # a bench folder of another run, to resume with other settings
    run.mkdir()
    (run / "results.jsonl").write_text(json.dumps({"strategy": "cot", "budget": None, "problem_id": "x",
                                                   "correct": True}) + "\n")
    (run / "run.json").write_text(json.dumps({"task": "gsm8k", "model": "openai/x", "limit": 1, "data": None,
                                              "seed": 0, "llm": {"api_base": None, "temperature": 0.0,
                                                                 "max_tokens": 640}}))


@pytest.mark.parametrize("argv,message", CLI, ids=[" ".join(c[0])[:70] for c in CLI])
def test_every_bad_command_line_gets_one_line_and_a_non_zero_exit(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("REASONERS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000")
    _files(tmp_path)
    got = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    out, err = capsys.readouterr()
    first = err.strip().splitlines()[0] if err.strip() else ""
    assert got != 0 and first.startswith("reasoners: error:") and message in first, err
    assert "Traceback" not in err and "internal error" not in err
    spec_error = re.search(r"at position \d+:$", first) is not None  # a spec error points under the spec
    assert len(err.strip().splitlines()) == (3 if spec_error else 1), err


def test_the_tables_are_large():
    from tests.test_bad_input import CLI_CASES

    assert len(CLI) + len(CLI_CASES) >= 120
    assert len(REQUESTS) >= 100


@pytest.mark.slow
def test_a_bench_where_every_problem_failed_exits_non_zero(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000")
    data = tmp_path / "g.jsonl"
    data.write_text("".join(json.dumps({"question": f"q{i}?", "answer": "#### 4"}) + "\n" for i in range(2)))
    got = main(["bench", "--task", "gsm8k", "--data", str(data), "--out", str(tmp_path / "o"), "--model",
                "openai/x", "--api-base", "http://127.0.0.1:9/v1", "--strategies", "cot"])
    err = capsys.readouterr().err
    assert got == 1 and "all 2 runs failed" in err and "Traceback" not in err


def test_a_journal_line_is_whole_or_absent(tmp_path):
    from reasoners.bench.journal import read_journal

    journal = tmp_path / "journal.jsonl"
    row = {"strategy": "cot", "budget": None, "problem_id": "a", "correct": True}
    journal.write_text(json.dumps(row))  # a whole row, its newline missing
    assert len(read_journal(journal, repair=True)) == 1
    with journal.open("a") as f:
        f.write(json.dumps({**row, "problem_id": "b"}) + "\n")
    assert {r["problem_id"] for r in read_journal(journal)} == {"a", "b"}  # not glued together


# -- the server ---------------------------------------------------------------------------------------

UPSTREAM = "openai/stub"
OK_MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]


def _req(**fields):
    return {"model": "openai/stub", "messages": OK_MESSAGES, **fields}


REQUESTS: list[tuple[object, int, str]] = [
    # bodies that are not a request
    (b"", 400, "not valid JSON"), (b"{", 400, "not valid JSON"), (b"[]", 400, "must be a JSON object"),
    (b"null", 400, "must be a JSON object"), (b"42", 400, "must be a JSON object"), (b'"x"', 400, "JSON object"),
    (b"\xff\xfe", 400, "not valid JSON"), (b"[" * 100_000 + b"]" * 100_000, 400, "nests too deeply"),
    (b'{"model": "openai/stub", "messages": [' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"]}", 400, ""),
    (b"x" * 1_100_000, 400, "this server takes at most"),
    # model
    ({"messages": OK_MESSAGES}, 400, "model must be a non-empty string"), (_req(model=""), 400, "model"),
    (_req(model=5), 400, "model"), (_req(model="openai/nope"), 404, "is not served here"),
    (_req(model="nope@openai/stub"), 400, "unknown strategy 'nope'"),
    (_req(model="sc(n=2)@openai/stub", reasoners={"strategy": "cot"}), 400, "give the strategy once"),
    # messages
    (_req(messages=None), 400, "messages must be"), (_req(messages=[]), 400, "messages must be"),
    (_req(messages="hi"), 400, "messages must be"), (_req(messages=[1]), 400, "must be an object"),
    (_req(messages=[{"role": "tool", "content": "x"}]), 400, "role must be"),
    (_req(messages=[{"role": "user"}]), 400, "content must be"),
    (_req(messages=[{"role": "user", "content": 5}]), 400, "content must be"),
    (_req(messages=[{"role": "user", "content": [{"type": "image_url"}]}]), 400, "only text parts"),
    (_req(messages=[{"role": "user", "content": [5]}]), 400, "only text parts"),
    (_req(messages=[{"role": "user", "content": "q", "tool_calls": []}]), 400, "not supported"),
    (_req(messages=[{"role": "assistant", "content": "a"}]), 400, "the last message must be the user's"),
    (_req(messages=[{"role": "user", "content": "   "}]), 400, "the last user message is empty"),
    (_req(messages=[{"role": "user", "content": "q\ud800"}]), 400, "lone surrogate"),
    (_req(messages=[{"role": "system", "content": "s\udfff"}, *OK_MESSAGES]), 400, "lone surrogate"),
    # unsupported fields
    *[(_req(**{name: value}), 400, f"{name} is not supported") for name, value in [
        ("tools", []), ("functions", []), ("tool_choice", "auto"), ("logit_bias", {}), ("response_format", {}),
        ("presence_penalty", 0.5), ("frequency_penalty", 0.5), ("audio", {}), ("modalities", ["text"]),
        ("prediction", {}), ("service_level", "x"), ("top_logprobs", 2), ("logprobs", True), ("parallel_tool_calls", 1),
    ]],
    # sampling values
    *[(_req(temperature=v), 400, "temperature") for v in (-1, 3, "hot", True, [1])],
    *[(_req(max_tokens=v), 400, "max_tokens") for v in (0, -1, 1.5, "10", True)],
    (_req(max_tokens=5, max_completion_tokens=5), 400, "not both"),
    *[(_req(top_p=v), 400, "top_p") for v in (0, 2, "x", -0.1)],
    *[(_req(stop=v), 400, "stop must be") for v in ([1], [""], {}, ["a", "b", "c", "d", "e"], 5)],
    *[(_req(seed=v), 400, "seed") for v in ("x", 1.5, [1])],
    *[(_req(n=v), 400, "n must be 1") for v in (2, 0, "2", True)],
    (_req(stream="yes"), 400, "stream must be true or false"),
    (_req(stream=True, stream_options={"x": 1}), 400, "stream_options"),
    (_req(stream=True, stream_options=[1]), 400, "stream_options"),
    (_req(reasoning_effort="extreme"), 400, "reasoning_effort must be"),
    (_req(metadata="x"), 400, "metadata must be an object"), (_req(user=5), 400, "metadata must be an object"),
    # the reasoners object
    (_req(reasoners=5), 400, "reasoners must be an object"), (_req(reasoners=[]), 400, "reasoners must be an object"),
    (_req(reasoners={"x": 1}), 400, "reasoners.x is not a field"),
    (_req(reasoners={"kind": "poem"}), 400, "reasoners.kind must be one of"),
    (_req(reasoners={"strategy": ""}), 400, "reasoners.strategy must be a spec string"),
    (_req(reasoners={"strategy": 5}), 400, "reasoners.strategy must be a spec string"),
    (_req(reasoners={"thinking_tokens": -1}), 400, "thinking_tokens"),
    (_req(reasoners={"thinking_tokens": "x"}), 400, "thinking_tokens"),
    (_req(reasoners={"budget": 5}), 400, "reasoners.core.budget must be an object"),
    (_req(reasoners={"budget": {"minutes": 1}}), 400, "is not a limit"),
    *[(_req(reasoners={"budget": {"tokens": v}}), 400, "reasoners.core.budget.tokens") for v in (0, -1, 1.5, "x", 10**9)],
    *[(_req(reasoners={"budget": {"seconds": v}}), 400, "reasoners.core.budget.seconds") for v in (0, -1, "x")],
    *[(_req(reasoners={"budget": {"calls": v}}), 400, "reasoners.core.budget.calls") for v in (0, 1.5)],
    *[(_req(reasoners={"strategy": spec}), 400, "bad strategy spec") for spec in [
        "telepathy", "sc(n=0)", "sc(n=", 'cot(system="x\\q")', "sc(base=" * 30 + "cot" + ")" * 30,
        "bon(scorer=trlm(llm=openai/gpt-4o))", "autocot(pool=/etc/passwd)", "cot(demos=/etc/passwd)",
        "sc | magic", "sc.fast", "sc(n=1,n=1)", "probtree(k=0)", "fobar(alpha=9)", 'cot(system="\\ud800")',
    ]],
    (_req(reasoners={"strategy": "x" * 3000}), 400, "over 2000 characters"),
    (_req(reasoners={"strategy": "codechain(n=2)", "kind": "code"}), 403, "runs model-written code"),
    (_req(reasoners={"strategy": "bon(n=2,scorer=tests)", "kind": "code"}), 403, "runs model-written code"),
    (_req(reasoners={"strategy": "autocot(pool=[\"q1?\", \"q2?\"])"}), 400, ""),
]


def serving(stub: StubServer, *args: str) -> Any:
    return serving_upstream(stub.url, *args, model=UPSTREAM)


@pytest.fixture(scope="module")
def server():
    with StubServer(default=Reply.ok("The answer is 4.")) as stub, serving(stub) as url:
        yield url, stub


@pytest.mark.slow
@pytest.mark.parametrize("body,status,message", REQUESTS, ids=[f"{i}" for i in range(len(REQUESTS))])
def test_every_bad_request_gets_a_4xx_with_one_line(server, body, status, message):
    url, stub = server
    before = len(stub.requests)
    if isinstance(body, bytes):
        reply = httpx.post(f"{url}/chat/completions", content=body, headers={"Content-Type": "application/json"},
                           timeout=30)
    else:
        reply = httpx.post(f"{url}/chat/completions", content=json.dumps(body), timeout=30,
                           headers={"Content-Type": "application/json"})
    assert reply.status_code == status, reply.text[:300]
    error = reply.json()["error"]
    assert message in error["message"] and "\n" not in error["message"], error
    assert len(stub.requests) == before  # refused before any upstream call


@pytest.mark.slow
def test_a_non_ascii_authorization_header_is_a_401_not_a_500():
    with StubServer() as stub, serving(stub, "--api-key", "key-one-12345") as url:
        raw = httpx.post(f"{url}/chat/completions", json=_req(), headers={"Authorization": "Bearer ключ".encode()})
        assert raw.status_code == 401 and raw.json()["error"]["code"] == "invalid_api_key"


def test_gzip_and_binary_helpers_are_what_they_claim(tmp_path):
    _files(tmp_path)
    with pytest.raises(OSError):
        gzip.open(tmp_path / "fake.jsonl.gz").read()
