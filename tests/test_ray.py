"""The Ray executor: a local Ray started here runs a 20-problem sweep against the stub server; its
journal equals the local executor's, a resumed run makes no calls, and a killed worker loses no row."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import ray

from reasoners import LLM, Cache, Problem
from reasoners.bench import BenchConfig, parse_strategies, read_journal, run_bench
from reasoners.bench.distributed import RayExecutor
from reasoners.bench.tasks import Task
from reasoners.testing.stub_server import Reply, StubServer

pytestmark = pytest.mark.slow  # starts processes (servers, sandboxes, Ray, a browser): not in `make unit`


@pytest.fixture(scope="module")
def local_ray():
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def task(n: int = 20) -> Task:
    problems = [Problem(f"What is {i} plus 1?", gold=str(i + 1), id=f"p{i}") for i in range(n)]
    return Task("toy", problems, lambda p, a: a == p.gold)


def answer(body: dict, delay: float = 0.0) -> Reply:
    """Right for even numbers, off by one for odd ones: a function of the request alone."""
    n = int(body["messages"][-1]["content"].split("What is ")[1].split()[0])
    return Reply.ok(f"The answer is {n + 1 if n % 2 == 0 else n}.", delay=delay)


def sweep(url: str, out, executor=None) -> list[dict]:
    llm = LLM("openai/stub", api_base=url, max_tokens=32, cache=Cache(out / "cache.sqlite"))
    config = BenchConfig(task(), parse_strategies("cot,sc:2"), llm, out, [None], executor=executor)
    return asyncio.run(run_bench(config))


def comparable(rows: list[dict]) -> list[dict]:
    return sorted(({k: v for k, v in r.items() if k != "seconds"} for r in rows),
                  key=lambda r: (r["strategy"], str(r["budget"]), r["problem_id"]))


def test_ray_and_local_executors_write_the_same_journal_and_resume_replays(local_ray, tmp_path):
    with StubServer(respond=answer) as srv:
        local = sweep(srv.url, tmp_path / "local")
        calls = len(srv.requests)
        on_ray = sweep(srv.url, tmp_path / "ray", RayExecutor())
        assert len(srv.requests) == 2 * calls  # the same calls, made by the workers
        assert comparable(on_ray) == comparable(local) and len(on_ray) == 20 * 2
        journal = tmp_path / "ray" / "results.jsonl"
        assert len(read_journal(journal)) == 40
        # resume after losing half the rows: the workers replay from the merged cache, no call is made
        journal.write_text("".join(json.dumps(r) + "\n" for r in read_journal(journal)[:20]))
        before = len(srv.requests)
        again = sweep(srv.url, tmp_path / "ray", RayExecutor())
        assert len(srv.requests) == before
        replayed = [r for r in again if r["usage"]["cache_hits"]]
        assert len(replayed) == 20 and {k: v for k, v in comparable(again)[0].items() if k != "usage"} == {
            k: v for k, v in comparable(local)[0].items() if k != "usage"}


def test_a_killed_worker_is_retried_and_every_row_is_journaled_once(local_ray, tmp_path):
    killed: list[int] = []

    def kill_a_worker() -> None:
        for _ in range(100):  # wait until a worker is running a cell, then kill it
            out = subprocess.run(["pgrep", "-f", "ray::_cell"], capture_output=True, text=True).stdout.split()
            if out:
                time.sleep(0.5)
                os.kill(int(out[0]), signal.SIGKILL)
                killed.append(int(out[0]))
                return
            time.sleep(0.1)

    with StubServer(respond=lambda body: answer(body, delay=0.3)) as srv:
        killer = threading.Thread(target=kill_a_worker)
        killer.start()
        rows = sweep(srv.url, tmp_path, RayExecutor(max_retries=3))
        killer.join()
    assert killed, "no Ray worker was seen running a cell"
    keys = [(r["strategy"], r["budget"], r["problem_id"]) for r in read_journal(tmp_path / "results.jsonl")]
    assert len(keys) == len(set(keys)) == 40 and len(rows) == 40
    assert not any(r.get("error") for r in rows)


def test_on_the_fake_too_both_executors_write_the_same_rows(local_ray, tmp_path):
    from reasoners.testing import FakeLLM

    def script(req):
        return answer({"messages": req.messages}).text

    def rows(out, executor):
        config = BenchConfig(task(8), parse_strategies("cot,sc:3"), FakeLLM(script), out, [None, 300],
                             executor=executor)
        return asyncio.run(run_bench(config))

    assert comparable(rows(tmp_path / "local", None)) == comparable(rows(tmp_path / "ray", RayExecutor()))


def test_a_client_that_lives_in_this_process_is_refused_in_one_line(local_ray, tmp_path):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from reasoners import ConfigError
    from reasoners.integrations.langchain import langchain_llm

    llm = langchain_llm(FakeListChatModel(responses=["The answer is 1."]))
    config = BenchConfig(task(2), parse_strategies("cot"), llm, tmp_path, [None], executor=RayExecutor())
    with pytest.raises(ConfigError, match="lives in this process only"):
        asyncio.run(run_bench(config))


def test_cache_merge_command(tmp_path, capsys):
    from reasoners.cli import main

    a, b = Cache(tmp_path / "a.sqlite"), Cache(tmp_path / "b.sqlite")
    a.put("k1", {"v": 1})
    b.put("k1", {"v": 1})
    b.put("k2", {"v": 2})
    a.close(), b.close()
    assert main(["cache", "merge", str(tmp_path / "out.sqlite"), str(tmp_path / "a.sqlite"),
                 str(tmp_path / "b.sqlite")]) == 0
    assert "2 new entries" in capsys.readouterr().out and len(Cache(tmp_path / "out.sqlite")) == 2
    assert main(["cache", "merge", str(tmp_path / "out.sqlite"), str(tmp_path / "nope.sqlite")]) == 2
