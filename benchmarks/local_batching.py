"""Self-consistency on the embedded model: 8 samples decoded together against one sample, in one run.

    python benchmarks/local_batching.py [smollm2 qwen2.5-coder-1.5b]   # results/local_batching.json

For each model and each of three GSM8K questions, in one process, with caching off:

- ``unbatched_one``: one sample the way the library drew it before batching, llama-cpp-python's
  own completion on one sequence (the baseline tokens/s for a single sample);
- ``one``: one sample through the library (``ChainOfThought``, temperature 0.7), which now decodes
  in the model's batch;
- ``sc8``: ``SelfConsistency(n=8)`` over the same chain of thought: eight samples in flight at
  once, decoded together, the prompt evaluated once.

Every call has the same ``max_tokens``. Reported per model: wall seconds and completion tokens of
each, tokens/s, and the ratios ``sc8 / one`` (wall) and ``one / unbatched_one`` (tokens/s).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from reasoners import LLM, ChainOfThought, SelfConsistency  # noqa: E402
from reasoners.llm.local import load_local  # noqa: E402

ROOT = Path(__file__).resolve().parent
QUESTIONS = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
    "Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. Her parents "
    "decided to give her $15 for that purpose, and her grandparents twice as much as her parents. How much more money "
    "does Betty need to buy the wallet?",
]


def measure(name: str, max_tokens: int) -> dict:
    llm = LLM(f"local/{name}", max_tokens=max_tokens)
    model = load_local(name)
    cot = ChainOfThought(temperature=0.7, max_tokens=max_tokens)
    cot.run("What is 2 + 2?", llm=llm)  # load the model and the batch before timing
    rows = {"unbatched_one": [0.0, 0], "one": [0.0, 0], "sc8": [0.0, 0]}
    for q in QUESTIONS:
        prompt = model._tokenize(model._format(cot.messages(_problem(q))))
        with model._lock:
            model._llama.reset()
            t0 = time.perf_counter()
            out = model._llama.create_completion(prompt=prompt, max_tokens=max_tokens, temperature=0.7, seed=0)
            rows["unbatched_one"][0] += time.perf_counter() - t0
        rows["unbatched_one"][1] += out["usage"]["completion_tokens"]  # type: ignore[index]
        for key, strategy in (("one", cot), ("sc8", SelfConsistency(base=cot, n=8))):
            t0 = time.perf_counter()
            result = strategy.run(q, llm=llm, seed=1)
            rows[key][0] += time.perf_counter() - t0
            rows[key][1] += result.usage.completion_tokens
    table = {k: {"seconds": round(s, 2), "completion_tokens": t, "tokens_per_s": round(t / s, 1)}
             for k, (s, t) in rows.items()}
    table["sc8_over_one_wall"] = round(rows["sc8"][0] / rows["one"][0], 2)
    table["one_over_unbatched_tokens_per_s"] = round(table["one"]["tokens_per_s"]
                                                     / table["unbatched_one"]["tokens_per_s"], 2)
    table["prompt_evaluations"] = model.scheduler().prompt_evaluations
    return table


def _problem(question: str):  # the chain's prompt for a question, as the strategy builds it
    from reasoners.core.problem import Problem

    return Problem(question, kind="number")


def main() -> None:
    names = sys.argv[1:] or ["smollm2", "qwen2.5-coder-1.5b"]
    out: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                 "command": "python benchmarks/local_batching.py " + " ".join(names), "questions": len(QUESTIONS)}
    for name in names:
        out[name] = measure(name, max_tokens=128 if name == "smollm2" else 192)
        print(name, json.dumps(out[name]), flush=True)
    (ROOT / "results" / "local_batching.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
