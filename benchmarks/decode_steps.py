"""What one batched decoding step costs on the embedded model: 1, 2, 4 and 8 sequences per
``llama_decode``, in the batching context the library samples with (the ceiling for batching).

    python benchmarks/decode_steps.py [smollm2 qwen2.5-coder-1.5b]   # results/decode_steps.json

A GSM8K prompt is evaluated once into eight sequences; then, for each width k, 24 steps each decode
one token for each of k sequences (their logits computed, as sampling needs), and the sequences'
new cache cells are dropped before the next width. Self-consistency over 8 samples can take no less
than ``ms_per_step[8] / ms_per_step[1]`` times one sample's time (more: it waits for its longest
sample), so that ratio says whether "8 samples in at most 3x one" is reachable on this machine.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from reasoners.llm.local import load_local  # noqa: E402

PROMPT = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
          "How many clips did Natalia sell altogether in April and May?")
STEPS = 24


def measure(name: str) -> dict:
    model = load_local(name)
    s = model.scheduler()  # its worker thread waits on an empty queue: the context is ours meanwhile
    tokens = model._tokenize(model._format([{"role": "user", "content": PROMPT}]))
    for i, t in enumerate(tokens):
        s._add(i, t, i, list(range(8)), False)
    s._decode(len(tokens))
    pos = len(tokens)
    ms: dict[int, float] = {}
    for k in (1, 2, 4, 8, 1):  # 1 again last: the first width also warms the context up
        t0 = time.perf_counter()
        for step in range(STEPS):
            for i in range(k):
                s._add(i, 100 + step, pos + step, [i], True)
            s._decode(k)
        ms[k] = round((time.perf_counter() - t0) / STEPS * 1000, 1)
        for i in range(8):
            s.lc.llama_memory_seq_rm(s.memory, i, pos, -1)
    return {"ms_per_step": ms, "tokens_per_s": {k: round(k / v * 1000, 1) for k, v in ms.items()},
            "step_over_one": {k: round(v / ms[1], 2) for k, v in ms.items()}}


def main() -> None:
    names = sys.argv[1:] or ["smollm2", "qwen2.5-coder-1.5b"]
    import llama_cpp

    out: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                 "llama_cpp": llama_cpp.__version__, "cpu_features": llama_cpp.llama_print_system_info().decode(),
                 "command": "python benchmarks/decode_steps.py " + " ".join(names)}
    for name in names:
        out[name] = measure(name)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
