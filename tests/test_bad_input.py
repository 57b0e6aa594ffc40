"""Bad input, as a careless user gives it: one clear line naming what was wrong, never a traceback.

Each row: the command line, the exit code, and a substring the single error line must contain.
Every case fails before any model call.
"""

from __future__ import annotations

import pytest

from reasoners import (
    FOBAR,
    LLM,
    AutoCoT,
    BacktrackSearch,
    BestOfN,
    Budget,
    ChainOfThought,
    CodeChain,
    ConfigError,
    Problem,
    ProbTree,
    SelfConsistency,
)
from reasoners.cli import main

CLI_CASES = [
    # spec values of the wrong type
    (["run", "q?", "--pipeline", "sc(n=2.5)"], 2, "n takes a whole number; got 2.5"),
    (["run", "q?", "--pipeline", "cot(temperature=hot)"], 2, "temperature takes a number; got 'hot'"),
    (["run", "q?", "--pipeline", "bon(ties=random)"], 2, "ties takes one of 'first', 'vote'"),
    (["run", "q?", "--pipeline", "probtree(confidence=maybe)"], 2, "confidence takes one of"),
    (["run", "q?", "--pipeline", "sc(early_stop=3)"], 2, "early_stop takes true or false"),
    (["run", "q?", "--pipeline", "sc(n=0)"], 2, "n must be >= 1"),
    (["run", "q?", "--pipeline", "sc(m=3)"], 2, "sc has no parameter 'm'"),
    (["run", "q?", "--pipeline", "sc(n=3"], 2, "expected ',' or ')'"),
    (["run", "q?", "--pipeline", "sc(n=3) | cot"], 2, "unknown stage 'cot'"),
    (["run", "q?", "--pipeline", "telepathy"], 2, "unknown strategy 'telepathy'"),
    (["run", "q?", "--pipeline", ""], 2, "--pipeline is empty"),
    (["run", "q?", "--pipeline", "   "], 2, "--pipeline is empty"),
    (["run", "q?", "--strategy", "telepathy"], 2, "unknown strategy 'telepathy'"),
    # demos files, read and checked at once
    (["run", "q?", "--pipeline", "fobar(demos=/no/such/demos.json)"], 2, "cannot read demos from /no/such/demos.json"),
    (["run", "q?", "--pipeline", "cot(demos=README.md)"], 2, "not JSON"),
    # models and endpoints
    (["run", "q?", "--model", "nosuchprovider/x", "--no-cache"], 2, "unknown model"),
    (["run", "q?", "--model", "local/nope", "--no-cache"], 2, "unknown local model 'nope'"),
    (["run", "q?", "--model", "openai/x", "--api-base", "notaurl", "--no-cache"], 2, "api_base must be an http(s) URL"),
    (["run", "q?", "--model", "openai/x", "--api-base", "ftp://host/v1", "--no-cache"], 2, "api_base must be"),
    # budgets and options
    (["run", "q?", "--budget-tokens", "-5", "--no-cache"], 2, "tokens"),
    (["run", "q?", "--budget-cost", "-1", "--no-cache"], 2, "cost"),
    (["run", "q?", "--max-tokens", "0", "--no-cache"], 2, "max_tokens must be >= 1"),
    (["run", "q?", "--temperature", "-1", "--no-cache"], 2, "temperature must be >= 0"),
    (["run", "   ", "--no-cache"], 2, "question must be a non-empty string"),
    (["run", "q\udcff\udcfe?", "--no-cache"], 2, "not valid UTF-8"),
    (["run", "q?", "--kind", "choice", "--no-cache"], 2, "needs its choices"),
    (["run", "q?", "--trace", "/no/such/dir/t.json", "--no-cache"], 2, "cannot write trace file"),
    # bench
    (["bench", "--task", "nosuchtask", "--out", "{tmp}/o"], 2, "unknown task"),
    (["bench", "--task", "gsm8k", "--strategies", "cot,magic", "--out", "{tmp}/o"], 2, "unknown strategy 'magic'"),
    (["bench", "--task", "gsm8k", "--strategies", "sc:zero", "--out", "{tmp}/o"], 2, "N >= 1"),
    (["bench", "--task", "gsm8k", "--strategies", "", "--out", "{tmp}/o"], 2, "no strategies given"),
    (["bench", "--task", "gsm8k", "--budgets", "10,abc", "--out", "{tmp}/o"], 2, "--budgets takes whole numbers"),
    (["bench", "--task", "gsm8k", "--concurrency", "0", "--out", "{tmp}/o"], 2, "--concurrency must be >= 1"),
    (["bench", "--task", "gsm8k", "--out", "{tmp}/a-file"], 2, "is a file"),
]


@pytest.mark.slow
@pytest.mark.parametrize("argv,code,message", CLI_CASES, ids=[" ".join(c[0])[:60] for c in CLI_CASES])
def test_cli_bad_input_gets_one_clear_line(argv, code, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("REASONERS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "a-file").write_text("not a folder")
    got = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    out, err = capsys.readouterr()
    assert got == code
    first = err.strip().splitlines()[0] if err.strip() else ""
    assert first.startswith("reasoners: error:") and message in first, err
    assert "Traceback" not in err and out == ""
    # spec errors add a pointer under the spec; every other error is one line
    assert len(err.strip().splitlines()) == (3 if "position" in first else 1), err


def test_empty_api_key_in_the_environment_is_named(capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert main(["run", "q?", "--model", "openai/gpt-4o-mini", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY is set but empty" in err and len(err.strip().splitlines()) == 1


LIBRARY_CASES = [
    (lambda: SelfConsistency(n=0), "n must be >= 1"),
    (lambda: SelfConsistency(vote="plurality"), "vote must be"),
    (lambda: SelfConsistency(wave=0), "wave must be >= 1"),
    (lambda: BestOfN(n=0), "n must be >= 1"),
    (lambda: BestOfN(ties="random"), "ties must be"),
    (lambda: BestOfN(scorer=lambda c: 1), "scorer must be"),
    (lambda: ChainOfThought(max_tokens=0), "max_tokens must be >= 1"),
    (lambda: ChainOfThought(demos="/no/such/file.json"), "cannot read demos"),
    (lambda: ChainOfThought(demos=["not a demo"]), "demos must be Demo objects"),
    (lambda: FOBAR(alpha=2.0), "alpha must be in [0, 1]"),
    (lambda: FOBAR(chains=0), "FOBAR chains must be >= 1; got 0"),
    (lambda: FOBAR(demos="/no/such/file.json"), "cannot read demos"),
    (lambda: ProbTree(k=0), "ProbTree k must be >= 1"),
    (lambda: ProbTree(confidence="guess"), "confidence must be"),
    (lambda: CodeChain(n=0), "CodeChain n must be >= 1"),
    (lambda: BacktrackSearch(proposals=0), "proposals must be >= 1"),
    (lambda: BacktrackSearch(order="random"), "order must be"),
    (lambda: AutoCoT(), "needs a pool"),
    (lambda: AutoCoT(["q"], k=0), "k must be >= 1"),
    (lambda: AutoCoT.load("/no/such/file.json"), "cannot read demos"),
    (lambda: LLM(""), "non-empty string"),
    (lambda: LLM("openai/x", concurrency=0), "concurrency must be >= 1"),
    (lambda: LLM("openai/x", api_base="localhost:8080"), "api_base must be an http(s) URL"),
    (lambda: LLM("openai/x", api_key=""), "api_key is empty"),
    (lambda: LLM("openai/x", n=3), "does not take"),
    (lambda: Budget(tokens=-1), "non-negative"),
    (lambda: Problem(""), "non-empty string"),
    (lambda: Problem("q?", kind="poem"), "kind must be one of"),
    (lambda: Problem("q?", kind="choice"), "needs its choices"),
    (lambda: Problem("bad \udcff bytes"), "not valid UTF-8"),
]


@pytest.mark.parametrize("make,message", LIBRARY_CASES, ids=[m for _, m in LIBRARY_CASES])
def test_library_constructors_name_what_was_wrong(make, message):
    with pytest.raises(ConfigError) as e:
        make()
    assert message in str(e.value)
    assert "\n" not in str(e.value)
