"""ProbTree on the fake: tree parsing, the confidence choice at leaves and inner nodes, references."""

from __future__ import annotations

import json

import pytest

from reasoners import Capabilities, CapabilityError, ProbTree
from reasoners.strategies.probtree import UNSCORED, parse_tree
from reasoners.testing import FakeLLM, FakeResponse, FakeRetriever
from retrievers import Document

Q = "Who is the spouse of the director of Titanic?"
TREE = json.dumps({Q: ["Who directed Titanic?", "Who is the spouse of <1>?"]})


def test_parse_well_formed_tree():
    graph, note = parse_tree(Q, TREE)
    assert note == "parsed"
    assert [graph.nodes[n]["question"] for n in ("0", "0.1", "0.2")] == [Q, "Who directed Titanic?",
                                                                          "Who is the spouse of <1>?"]
    assert list(graph.successors("0")) == ["0.1", "0.2"]


def test_parse_repairs_and_falls_back():
    sloppy = "Sure! {'%s': ['Who directed Titanic?', 'Who is the spouse of <1>?',],}" % Q
    graph, note = parse_tree(Q, sloppy)
    assert graph.number_of_nodes() == 3 and note == "parsed"
    graph, note = parse_tree(Q, "I think the answer is Suzy Amis.")
    assert graph.number_of_nodes() == 1 and note.startswith("fallback")
    graph, note = parse_tree(Q, '{"x": "not a list"}')
    assert graph.number_of_nodes() == 1 and "fallback" in note


def test_depth_and_breadth_limits():
    deep = json.dumps({Q: ["a?", "b?", "c?"], "a?": ["a1?", "a2?"], "a1?": ["a1x?"]})
    graph, _ = parse_tree(Q, deep, max_depth=2, max_children=2)
    assert sorted(graph.nodes) == ["0", "0.1", "0.1.1", "0.1.2", "0.2"]


def model(confidences: dict[str, float], answers: dict[str, str]):
    """Replies by prompt kind; each kind's tokens carry the given logprob."""

    def reply(req):
        p = req.prompt
        if p.startswith("Decompose"):
            return TREE
        kind = "open" if "passages below" in p else "aggregate" if "sub-questions" in p else "closed"
        question = p.rsplit("Question: ", 1)[1]
        key = f"{kind}:{question}"
        return FakeResponse(f"Reasoning here. So the answer is: {answers.get(key, 'Unknown')}.",
                            token_logprob=confidences.get(key, -1.0))

    return reply


DOCS = [Document("d1", "Titanic was directed by James Cameron.", "Titanic"),
        Document("d2", "James Cameron is married to Suzy Amis.", "James Cameron")]


def test_most_confident_source_wins_and_references_are_substituted():
    answers = {
        "closed:Who directed Titanic?": "Steven Spielberg",
        "open:Who directed Titanic?": "James Cameron",
        "closed:Who is the spouse of James Cameron?": "Linda Hamilton",
        "open:Who is the spouse of James Cameron?": "Suzy Amis",
        f"closed:{Q}": "Kate Winslet",
        f"open:{Q}": "Unknown",
        f"aggregate:{Q}": "Suzy Amis",
    }
    confidences = {
        "closed:Who directed Titanic?": -2.0, "open:Who directed Titanic?": -0.1,   # leaf: open-book wins
        "closed:Who is the spouse of James Cameron?": -1.5, "open:Who is the spouse of James Cameron?": -0.2,
        f"closed:{Q}": -0.9, f"aggregate:{Q}": -0.05,                            # inner: aggregation wins
    }
    llm = FakeLLM(model(confidences, answers))
    result = ProbTree(k=2).run(Q, llm=llm, retriever=FakeRetriever(DOCS), kind="text")
    tree = {n["id"]: n for n in result.metadata["tree"]}
    assert tree["0.1"]["answer"] == "James Cameron"
    assert tree["0.2"]["question_asked"] == "Who is the spouse of James Cameron?"  # <1> substituted
    assert tree["0.2"]["answer"] == "Suzy Amis"
    assert {c["source"] for c in tree["0"]["candidates"]} == {"closed_book", "open_book", "child_aggregation"}
    assert result.answer == "Suzy Amis" and result.candidates[0].source == "child_aggregation"
    unknown = next(c for c in tree["0"]["candidates"] if c["source"] == "open_book")
    assert unknown["answer"] is None and unknown["score"] == UNSCORED  # "Unknown" ranks lowest
    # aggregation score is the average of its own, the decomposition's and the children's confidences
    agg = next(c for c in tree["0"]["candidates"] if c["source"] == "child_aggregation")
    expected = (-0.05 + tree["0"]["decomposition_confidence"] + -0.1 + -0.2) / 4
    assert agg["score"] == pytest.approx(expected)


def test_closed_book_wins_when_retrieval_is_noise():
    answers = {"closed:Who directed Titanic?": "James Cameron", "open:Who directed Titanic?": "Titanic"}
    confidences = {"closed:Who directed Titanic?": -0.1, "open:Who directed Titanic?": -3.0}
    llm = FakeLLM(model(confidences, answers))
    result = ProbTree(k=1, max_depth=1).run(Q, llm=llm, retriever=FakeRetriever(DOCS), kind="text")
    assert {n["id"]: n for n in result.metadata["tree"]}["0.1"]["answer"] == "James Cameron"


def test_refuses_without_logprobs_unless_voting():
    caps = Capabilities(n=False, logprobs=False, prompt_logprobs=False, seed=True)
    llm = FakeLLM(model({}, {f"closed:{Q}": "Suzy Amis"}), capabilities=caps)
    with pytest.raises(CapabilityError, match="vote"):
        ProbTree().run(Q, llm=llm)
    assert llm.requests == []
    result = ProbTree(confidence="vote", votes=2, max_depth=0).run(Q, llm=llm, kind="text")
    assert result.answer == "Suzy Amis" and result.candidates[0].score == 0.0  # log of a unanimous vote share
    assert result.confidence == 1.0


def _decomposition(text: str):
    """A decomposition reply whose every token carries logprob -0.3, and answers at -1.0."""

    def reply(req):
        if req.prompt.startswith("Decompose"):
            return FakeResponse(text, token_logprob=-0.3)
        question = req.prompt.rsplit("Question: ", 1)[1]
        return FakeResponse(f"Reasoning here. So the answer is: {question[:5]}.", token_logprob=-1.0)

    return reply


@pytest.mark.parametrize("root_key", [
    "Who is the spouse of the man who directed Titanic?",       # the model paraphrased the root
    '  Who is the spouse of the director of "Titanic"?  ',      # whitespace and escaped quotes
])
def test_decomposition_confidence_is_the_roots_own_list(root_key):
    text = json.dumps({root_key: ["Who directed Titanic?", "Who is the spouse of <1>?"]})
    graph, _ = parse_tree(Q, text)
    assert graph.nodes["0"]["key"] == root_key.strip()
    result = ProbTree(max_depth=1).run(Q, llm=FakeLLM(_decomposition(text)), kind="text")
    root = {n["id"]: n for n in result.metadata["tree"]}["0"]
    # the fake's logprob for the list's tokens, not 0.0 (the best possible) from a missed lookup
    assert root["decomposition_confidence"] == pytest.approx(-0.3)
    agg = next(c for c in root["candidates"] if c["source"] == "child_aggregation")
    assert agg["score"] == pytest.approx((-1.0 + -0.3 + -1.0 + -1.0) / 4)


def test_list_without_confidence_is_left_out_of_the_average():
    text = json.dumps({Q: ["Who directed Titanic?", "Who is the spouse of <1>?"]})

    def reply(req):
        if req.prompt.startswith("Decompose"):
            return FakeResponse(text, logprobs=[])  # the backend sent no logprobs for this reply
        return FakeResponse("Reasoning here. So the answer is: X.", token_logprob=-1.0)

    result = ProbTree(max_depth=1).run(Q, llm=FakeLLM(reply), kind="text")
    root = {n["id"]: n for n in result.metadata["tree"]}["0"]
    assert root["decomposition_confidence"] is None
    agg = next(c for c in root["candidates"] if c["source"] == "child_aggregation")
    assert agg["score"] == pytest.approx(-1.0)  # mean of its own and the two children's, nothing else


def test_a_decomposition_of_another_question_falls_back_to_one_node():
    from reasoners.strategies.probtree import parse_tree

    # a small model may decompose a few-shot example of the prompt instead of the question
    graph, note = parse_tree("Damming a river results in what?",
                             '{"What organ pumps blood through the body?": ["What is the heart?"]}')
    assert graph.number_of_nodes() == 1 and "of another question" in note
    graph, note = parse_tree("Who is the spouse of the director of Titanic?",
                             '{"Who is the spouse of Titanic\'s director?": ["Who directed Titanic?", "Who is <1>?"]}')
    assert graph.number_of_nodes() == 3 and note.startswith("parsed; root taken from key")
