"""Strategy.astream (typed progress events, cancellation) and runs that carry a conversation."""

from __future__ import annotations

import asyncio

from reasoners import ChainOfThought, SelfConsistency
from reasoners.strategies.base import join_conversation
from reasoners.strategies.events import CallFinished, CallStarted, Finished, SampleAnswered, TextDelta, Votes
from reasoners.testing import FakeLLM, FakeResponse


async def collect(stream) -> list:
    return [event async for event in stream]


def test_self_consistency_reports_each_sample_and_the_running_vote():
    llm = FakeLLM(["The answer is 4.", "The answer is 4.", "The answer is 5."])
    events = asyncio.run(collect(SelfConsistency(n=3).astream("2+2?", llm=llm)))
    assert sum(isinstance(e, CallStarted) for e in events) == 3
    assert sum(isinstance(e, CallFinished) for e in events) == 3
    assert sorted(e.index for e in events if isinstance(e, SampleAnswered)) == [0, 1, 2]
    votes = [e for e in events if isinstance(e, Votes)]
    assert [v.samples for v in votes] == [1, 2, 3] and votes[-1].counts == {"4": 2, "5": 1}
    assert isinstance(events[-1], Finished) and events[-1].result.answer == "4"
    assert events[-1].result.usage.calls == 3


def test_chain_of_thought_streams_its_text_and_ends_with_the_same_answer():
    llm = FakeLLM(["So 2 and 2 make 4. The answer is 4."])
    events = asyncio.run(collect(ChainOfThought().astream("2+2?", llm=llm)))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    result = events[-1].result
    assert "".join(deltas) == result.candidates[0].text and result.answer == "4"
    assert not any(isinstance(e, TextDelta) for e in asyncio.run(collect(SelfConsistency(n=2).astream(
        "2+2?", llm=FakeLLM(["The answer is 4."])))))  # many samples: no one text to stream


def test_closing_the_stream_cancels_the_run_and_its_calls():
    llm = FakeLLM([FakeResponse("The answer is 4.", delay=5.0)])

    async def go() -> None:
        stream = SelfConsistency(n=4).astream("2+2?", llm=llm)
        first = await stream.__anext__()
        assert isinstance(first, CallStarted)
        await stream.aclose()
        await asyncio.sleep(0)
        assert llm.fake.in_flight == 0  # every model call was cancelled, none left sleeping

    asyncio.run(asyncio.wait_for(go(), timeout=3))


def test_the_conversation_goes_before_every_generation_with_one_system_message():
    llm = FakeLLM(["The answer is 4."])
    conversation = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello."}]
    result = asyncio.run(ChainOfThought(system="Think.").arun("2+2?", llm=llm, conversation=conversation,
                                                              sampling={"max_tokens": 7, "temperature": 0.2}))
    [req] = llm.requests
    assert [m["role"] for m in req.messages] == ["system", "user", "assistant", "user"]
    assert req.messages[0]["content"] == "Be terse.\n\nThink." and req.messages[1]["content"] == "Hi"
    assert "2+2?" in req.messages[-1]["content"]
    assert (req.max_tokens, req.temperature) == (7, 0.2) and result.answer == "4"


def test_join_conversation_without_system_messages_keeps_the_order():
    joined = join_conversation([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
                               [{"role": "user", "content": "c"}])
    assert [m["content"] for m in joined] == ["a", "b", "c"]
