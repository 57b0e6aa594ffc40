"""Build the bundled two-fact QA set, ``reasoners/data/multihop/qasc_twohop.json``, from BIG-bench.

QASC (Khot et al. 2020) questions are written from a fact composed of two others.
BIG-bench's natural-instructions subtasks ship both halves: subtask038 maps
(Fact 1, Fact 2) to the composed fact, subtask041 maps a composed fact to a
question and its answer. Joining them on the composed fact gives questions whose
answer needs both facts. We keep an item when its answer is short (<= 4 words),
every answer word occurs in the two facts, and neither fact alone holds both the
answer and half of the question's words; one item per Fact 1, in file order, the
first ``--questions``. The passages are the two facts of every kept item plus both
facts of the next ``--distractor-items`` joined items (same domain, so they compete
in retrieval).

    pip download --no-deps --no-binary :all: bigbench==1.0.0 -d /tmp/bb
    python benchmarks/build_multihop.py /tmp/bb/bigbench-1.0.0.tar.gz
"""

from __future__ import annotations

import argparse
import json
import re
import tarfile
from pathlib import Path

TASKS = "bigbench-1.0.0/bigbench/benchmark_tasks/natural_instructions"
COMBINE = f"{TASKS}/subtask038_qasc_combined_fact/task.json"
ANSWER = f"{TASKS}/subtask041_qasc_answer_generation/task.json"
OUT = Path(__file__).resolve().parents[1] / "reasoners" / "data" / "multihop" / "qasc_twohop.json"
STOP = set(
    "a an the of to in on is are was were be by for with and or that this it its as at from what which who how "
    "can do does did into than then they their there these those may might will would should could not no".split()
)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().rstrip("."))


def _words(text: str) -> list[str]:
    return [w[:5] for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOP]  # crude stemming


def _examples(archive: tarfile.TarFile, member: str) -> list[dict]:
    f = archive.extractfile(member)
    assert f is not None, member
    return json.load(f)["examples"]


def joined_items(archive_path: Path) -> list[dict]:
    with tarfile.open(archive_path) as archive:
        combine, answer = _examples(archive, COMBINE), _examples(archive, ANSWER)
    facts: dict[str, tuple[str, str]] = {}
    for ex in combine:
        m = re.match(r"Fact 1: (.*?)\s*\nFact 2: (.*)$", ex["input"], re.S)
        if m:
            facts.setdefault(_norm(ex["target"][0]), (m.group(1).strip(), m.group(2).strip()))
    items = []
    for ex in answer:
        fact, _, question = ex["input"].partition("\nQuestion:")
        pair = facts.get(_norm(fact.replace("Fact:", "")))
        if pair:
            items.append({"question": question.strip(), "answer": ex["target"][0].strip().rstrip("."),
                          "facts": list(pair)})
    return items


def needs_both(item: dict) -> bool:
    answer, question = _words(item["answer"]), set(_words(item["question"]))
    f1, f2 = item["facts"]
    if not answer or not question or len(item["answer"].split()) > 4:
        return False
    if not all(w in _words(f1 + " " + f2) for w in answer):
        return False

    def alone(fact: str) -> bool:
        words = _words(fact)
        return all(w in words for w in answer) and len(question & set(words)) / len(question) >= 0.5

    return not (alone(f1) or alone(f2))


def build(archive_path: Path, questions: int, distractor_items: int) -> dict:
    items = joined_items(archive_path)
    kept, seen, last = [], set(), 0
    for i, item in enumerate(items):
        if len(kept) == questions:
            break
        if needs_both(item) and item["facts"][0] not in seen:
            seen.add(item["facts"][0])
            kept.append(item)
            last = i
    passages: dict[str, str] = {}  # text -> id

    def pid(text: str) -> str:
        return passages.setdefault(text, f"p{len(passages)}")

    out_questions = [
        {"id": f"qasc-{n}", "question": it["question"], "answer": it["answer"],
         "supporting": [pid(it["facts"][0]), pid(it["facts"][1])]}
        for n, it in enumerate(kept)
    ]
    for it in items[last + 1 : last + 1 + distractor_items]:
        for fact in it["facts"]:
            pid(fact)
    return {
        "name": "qasc_twohop",
        "source": "QASC (Khot et al. 2020, CC BY 4.0) via BIG-bench 1.0.0 natural_instructions subtasks 038 and 041 "
                  "(Apache 2.0); built by benchmarks/build_multihop.py",
        "passages": [{"id": i, "text": t} for t, i in passages.items()],
        "questions": out_questions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archive", type=Path, help="bigbench-1.0.0.tar.gz (the source package)")
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--distractor-items", type=int, default=120)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = build(args.archive, args.questions, args.distractor_items)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(data['questions'])} questions, {len(data['passages'])} passages -> {args.out}")


if __name__ == "__main__":
    main()
