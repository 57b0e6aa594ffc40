"""The embedded model decodes concurrent samples together (reasoners.llm.batching), on SmolLM2."""

from __future__ import annotations

import asyncio

import pytest

from reasoners.llm.local import load_local
from reasoners.llm.options import SamplingOptions

MESSAGES = [{"role": "user", "content": "Name three fruits, then count them."}]


@pytest.fixture(scope="module")
def model():
    return load_local("smollm2")


def sample(model, options_list):
    async def go():
        return await asyncio.gather(*(model.complete(MESSAGES, o) for o in options_list))

    return asyncio.run(go())


def test_n_samples_decode_in_one_batch_from_one_prompt_evaluation(model):
    scheduler = model.scheduler()
    decodes, prompts = scheduler.decodes, scheduler.prompt_evaluations
    outs = sample(model, [SamplingOptions(max_tokens=24, temperature=0.9, seed=7 + i) for i in range(4)])
    longest = max(o.completion_tokens for o in outs)
    assert sum(o.completion_tokens for o in outs) > longest  # more than one sample produced text
    # one decode per step for all four (plus the prompt's), not one per sample per step
    assert scheduler.decodes - decodes <= longest + 4 < sum(o.completion_tokens for o in outs)
    assert scheduler.prompt_evaluations - prompts == 1  # the shared prompt was evaluated once


def test_greedy_output_is_the_same_with_and_without_batching(model):
    [alone] = sample(model, [SamplingOptions(max_tokens=40, temperature=0.0)])
    with_others = sample(model, [SamplingOptions(max_tokens=40, temperature=0.0)]
                         + [SamplingOptions(max_tokens=40, temperature=1.0, seed=s) for s in (1, 2, 3)])
    with model._lock:  # llama-cpp-python's own generation, one sequence, no batch
        model._llama.reset()
        reference = model._llama.create_completion(prompt=model._tokenize(model._format(MESSAGES)), max_tokens=40,
                                                   temperature=0.0)
    assert alone.text == with_others[0].text == reference["choices"][0]["text"]


def test_seeds_give_distinct_samples_and_the_same_seed_the_same_sample(model):
    first = sample(model, [SamplingOptions(max_tokens=32, temperature=1.0, seed=s) for s in (11, 12, 13, 14)])
    assert len({o.text for o in first}) >= 3
    # alone, a seed draws the same sample every time (in a batch the cache's layout can shift the
    # logits in their last bits, enough to change a draw from a flat distribution: not bit-exact)
    [once] = sample(model, [SamplingOptions(max_tokens=32, temperature=1.0, seed=11)])
    [twice] = sample(model, [SamplingOptions(max_tokens=32, temperature=1.0, seed=11)])
    assert once.text == twice.text


def test_logprobs_and_stop_strings_per_sample(model):
    with_lp, plain, stopped = sample(model, [
        SamplingOptions(max_tokens=16, temperature=0.0, logprobs=True, top_logprobs=3),
        SamplingOptions(max_tokens=16, temperature=0.0),
        SamplingOptions(max_tokens=40, temperature=0.0, stop=["\n"]),
    ])
    assert plain.logprobs is None and len(with_lp.logprobs) == with_lp.completion_tokens
    assert all(t.logprob <= 0 and len(t.top) == 3 and t.top[0] >= t.logprob - 1e-6 for t in with_lp.logprobs)
    assert "".join(t.token for t in with_lp.logprobs) == with_lp.text
    assert "\n" not in stopped.text and stopped.finish_reason == "stop"


def test_a_sample_nobody_waits_for_leaves_the_batch(model):
    counting = [{"role": "user", "content": "Count from 1 to 400, separated by commas."}]
    scheduler = model.scheduler(greedy=True)

    async def go():
        task = asyncio.ensure_future(model.complete(counting, SamplingOptions(max_tokens=1500, temperature=0.0)))
        await asyncio.sleep(1.0)
        assert not task.done()  # still decoding (greedy: the same long count every time)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.3)  # the next step drops it
        before = scheduler.decodes
        await asyncio.sleep(0.5)
        return before, scheduler.decodes

    before, after = asyncio.run(go())
    assert after == before  # no more decoding for a sample no one waits for
    [whole] = sample(model, [SamplingOptions(max_tokens=1500, temperature=0.0)])  # the batch still serves
    assert whole.text
